"""A large file sent upstream while it still arrives from the caller: the one place that
decides when that happens, feeds it, and says what a streamed send that failed comes to.

When the provider takes it (`Capabilities.streams_uploads`) and the request has no
Idempotency-Key, the first file part of at least `STREAM_FROM` bytes becomes `live`: the
order is made of the parts before it, and the upload starts with the file's first bytes.
Store-and-forward would hold a 100 MB file for as long as it takes to arrive.

Every byte is spooled as well, so a resend (a 308, a refreshed token) reads the spool. The
first pass ends only once the request was read whole and is what its first parts announced:
the file is the last part, of exactly the size the body's length implies. Anything else
makes the pass raise before its last byte, so the upload never completes upstream; then
`LiveUpload.settle` tells the service what the failed send comes to: a `Fallback` (read the
request whole and send it store-and-forward, with the answer that gives), or the error to
answer (the provider's own, or the caller's broken body).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from enum import StrEnum

from gateway.errors import GatewayError
from gateway.pipeline.form import SPOOL_RUN, FilePart, FormReader
from gateway.pipeline.sniff import SNIFF_BYTES
from gateway.pipeline.spool import Shielded
from providers.errors import ProviderError, ProviderTimeoutError

STREAM_FROM = 8 << 20


class NotStreamableError(Exception):
    """The request turned out other than its first parts announced (a part after the file,
    or a file of another length than the body's length implies)."""


class Fallback(StrEnum):
    """Why a streamed send is read whole and sent again, store-and-forward."""

    NOT_AS_ANNOUNCED = "upload not as announced by the parts before it: sent whole"
    TOO_SLOW = "upload arrived slower than the upload call's timeout: sent whole"


class Streamer:
    """Watches a form's file parts (`gateway.pipeline.form.FileTap`) and makes the first
    large one `live` when `stream_files` allows it for the provider named before it."""

    def __init__(self, *, declared: int | None, stream_files: Callable[[str | None], bool]):
        self._declared = declared
        self._stream_files = stream_files
        self._candidate: FilePart | None = None
        self.reader: FormReader | None = None  # set once the reader exists
        self.live: LiveUpload | None = None

    def file_started(self, part: FilePart, index: int, provider: str | None) -> None:
        if index == 1 and self._declared is not None and self._stream_files(provider):
            self._candidate = part

    def file_data(self, part: FilePart, data: memoryview, offset: int) -> None:
        if part is self._candidate:
            self._candidate = None
            assert self._declared is not None
            assert self.reader is not None
            # If this file is the last part, as senders put it, it ends where the body's
            # length less the closing delimiter says; checked when the body has been read.
            size = self._declared - offset - len(self.reader.closing_delimiter)
            if size >= STREAM_FROM:
                self.live = LiveUpload(self.reader, part, size)
        if self.live is not None and part is self.live.part:
            self.live.take(data)

    def part_started(self) -> None:
        if self.live is not None and self.live.part.ended:
            self.live.extra = True

    async def first_parts(self) -> LiveUpload | None:
        """Read the body until a file goes live (with enough of it to sniff) or it ends."""
        reader = self.reader
        assert reader is not None
        while self.live is None and await reader.pump():
            pass
        if self.live is not None:
            await self.live.fill_head()
        return self.live


class LiveUpload:
    """The first file part of a request while it arrives (`providers.media.LiveBody`)."""

    def __init__(self, reader: FormReader, part: FilePart, size: int) -> None:
        self.size = size
        self.part = part
        self.extra = False  # a part came after it
        self._reader = reader
        self._failure: BaseException | None = None  # what broke a pass
        # A pump was waiting for the caller's next bytes when whoever waited was cut short.
        self._stalled = False
        self._out: list[memoryview] = []  # read, not yet given to the first pass
        self._out_size = 0
        self._taken = 0
        self._overflow = False
        self._passes = 0
        self._buffering = True  # until the first pass is over: what it has yet to give
        self._checked = False
        self._step = Shielded(self._reader.pump)
        self._broken: Exception | None = None

    @property
    def head(self) -> bytes:
        """The first bytes, for sniffing (before the first pass)."""
        return b"".join(self._out)[:SNIFF_BYTES]

    @property
    def ended(self) -> bool:
        """Whether the file part's closing boundary was read."""
        return self.part.ended

    @property
    def read_whole(self) -> bool:
        """Whether the request was read to its end (and found as announced or not)."""
        return self._checked or self._reader.done

    @property
    def broke_off(self) -> bool:
        """Whether a pass failed on the caller's side (its body, not the provider)."""
        return self._failure is not None

    def take(self, data: memoryview) -> None:
        room = self.size - self._taken
        if len(data) > room:
            self._overflow = True
            data = data[:room]
        self._taken += len(data)
        if self._buffering:
            self._out.append(data)  # a view of a chunk received (bytes: never changed)
            self._out_size += len(data)

    async def fill_head(self) -> None:
        while self._out_size < min(SNIFF_BYTES, self.size) and not self.ended:
            if not await self._pump():
                break

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        """Its `size` bytes: the first time as they arrive, later times from the spool."""
        self._passes += 1
        try:
            if self._passes == 1:
                async for chunk in self._first_pass():
                    yield chunk
                return
            await self._complete()
            await self.part.rewind()
            while chunk := await self.part.read(SPOOL_RUN):
                yield chunk
        except Exception as exc:  # not a cancellation: an abandoned pass can be resumed
            if self._failure is None:
                self._failure = exc
            raise

    async def settle(self, error: GatewayError | ProviderError) -> Fallback:
        """What a send of this upload that failed with `error` comes to: the `Fallback` by
        which the request, read whole now, is sent store-and-forward; otherwise raises the
        error to answer (`error` itself, or the caller's body that broke off)."""
        if isinstance(error, GatewayError):  # refused on the parts before the file
            if await self.read_rest():
                raise error  # they were the whole request: the refusal stands
            return Fallback.NOT_AS_ANNOUNCED
        if isinstance(self._failure, NotStreamableError):
            await self.read_rest()
            return Fallback.NOT_AS_ANNOUNCED
        if self._failure is not None:
            raise self._failure from None  # the caller's body broke off: nothing to send
        if isinstance(error, ProviderTimeoutError) and self._stalled:
            # The caller's bytes came slower than the upload's time allows: the provider
            # never saw the upload end.
            await self.read_rest()
            return Fallback.TOO_SLOW
        raise error  # the provider's own answer to the upload as announced

    async def read_rest(self) -> bool:
        """Read the rest of the request; whether it is the one its first parts announced."""
        try:
            await self._complete()
        except NotStreamableError:
            return False
        return True

    async def _pump(self) -> bool:
        """The next chunk, read and spooled to its end even when whoever waits for it is
        cancelled (Shielded). A failed one breaks every later pump."""
        if self._broken is not None:
            raise self._broken
        try:
            self._stalled = True
            more = await self._step()
            self._stalled = False
            return more
        except Exception as exc:
            self._broken = exc
            raise

    async def _first_pass(self) -> AsyncIterator[bytes | memoryview]:
        try:
            while True:
                if self._out:
                    out, self._out, self._out_size = self._out, [], 0
                    for chunk in out:
                        yield chunk
                if self.ended or self._reader.done:
                    break
                await self._pump()
        finally:
            self._stop_buffering()
        await self._complete()

    def _stop_buffering(self) -> None:
        # Whatever reads the rest now (a resend, or the order read whole) reads the spool:
        # bytes kept for the first pass would hold the rest of the file in memory.
        self._buffering = False
        self._out, self._out_size = [], 0

    async def _complete(self) -> None:
        """Read the rest of the request; raises NotStreamableError if it is not the send
        announced."""
        if not self._checked:
            self._stop_buffering()
            while await self._pump():
                pass
            self._checked = True
        if self.extra or self._overflow or not self.ended or self._taken != self.size:
            raise NotStreamableError
