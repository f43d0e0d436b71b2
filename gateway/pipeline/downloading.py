"""A downloaded file sent on while it still arrives: the by-URL twin of
`gateway.pipeline.streaming` (the caller's own upload).

When the provider takes a file as it arrives (`Capabilities.streams_uploads`) and the URL's
server declares a length of at least `STREAM_FROM` bytes, the download is not read whole
before the upload starts: its first bytes are read (to sniff its type), and the rest is
handed to the upload as it comes, so the two overlap instead of adding up. Every byte is
spooled as well, so a resend (a 308, a refreshed token) reads the spool.

The first pass ends only once the download ended with exactly the declared length; a
download that broke off, ran late or came out another length makes the pass raise before
its last byte, so the upload never completes upstream, and `failure` is the error to answer
(the fetch's own, `url_fetch_failed`), not the provider's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from gateway.errors import UrlFetchFailedError
from gateway.pipeline.sniff import SNIFF_BYTES
from gateway.pipeline.spool import IN_MEMORY, RUN, Chunk, Shielded, Spool, SpoolWriter


class LiveDownload:
    """A download of `size` declared bytes, read as the upload asks for them
    (`providers.media.LiveBody`)."""

    def __init__(
        self,
        body: AsyncIterator[bytes],
        size: int,
        *,
        deadline: float,
        mapped: Callable[[BaseException], Exception | None],
    ) -> None:
        self.size = size
        self.spool = Spool(in_memory=IN_MEMORY)
        self._writer = SpoolWriter(self.spool)
        self._body = body
        self._deadline = deadline  # loop time by which the download must have ended
        self._mapped = mapped  # the fetch's error for a failure of the download
        self._read = 0
        self._ended = False
        self._run: list[Chunk] = []
        self._run_size = 0
        self._out: list[bytes] = []  # read, not yet given to the first pass
        self._out_size = 0
        self._buffering = True
        self._passes = 0
        self._step = Shielded(self._next)
        self.failure: Exception | None = None  # why the download failed, as answered

    @property
    def head(self) -> bytes:
        """The first bytes, for sniffing (before the first pass)."""
        return b"".join(self._out)[:SNIFF_BYTES]

    @property
    def broke_off(self) -> bool:
        """Whether the download failed (not the provider)."""
        return self.failure is not None

    async def fill_head(self) -> None:
        while self._out_size < min(SNIFF_BYTES, self.size) and await self._pump():
            pass

    async def chunks(self) -> AsyncIterator[bytes | memoryview]:
        """Its `size` bytes: the first time as they arrive, later times from the spool."""
        self._passes += 1
        if self._passes == 1:
            try:
                while True:
                    out, self._out, self._out_size = self._out, [], 0
                    for chunk in out:
                        yield chunk
                    if not await self._pump():
                        break
            finally:
                self._buffering = False
                self._out, self._out_size = [], 0
            return
        await self.complete()
        await self._writer.rewind()
        while chunk := await self._writer.read(RUN):
            yield chunk

    async def complete(self) -> None:
        """The rest of the download, read into the spool."""
        self._buffering = False
        self._out, self._out_size = [], 0
        while await self._pump():
            pass

    async def aclose(self) -> None:
        await self._step.cancel()
        self._writer.close()  # once a write still in its thread ended

    async def _pump(self) -> bool:
        """Read the next chunk; False once the download ended. The read goes on to its end
        even when whoever waits for it is cancelled (Shielded)."""
        if self.failure is not None:
            raise self.failure
        if self._ended:
            return False
        return await self._step()

    async def _next(self) -> bool:
        try:
            async with asyncio.timeout_at(self._deadline):
                chunk = await anext(self._body, None)
                if chunk is None:
                    if self._read != self.size:
                        raise UrlFetchFailedError(
                            f"The URL's file was {self._read} bytes, not the {self.size} "
                            "its server declared."
                        )
                    self._ended = True
                elif self._read + len(chunk) > self.size:
                    raise UrlFetchFailedError(
                        f"The URL's file is longer than the {self.size} bytes its server declared."
                    )
                else:
                    self._read += len(chunk)
                    self._run.append(chunk)
                    self._run_size += len(chunk)
                    if self._buffering:
                        self._out.append(chunk)
                        self._out_size += len(chunk)
                if self._run and (self._ended or self._run_size >= RUN):
                    run, self._run, self._run_size = self._run, [], 0
                    await self._writer.write(run)
        except Exception as exc:
            mapped = self._mapped(exc)
            self.failure = mapped if mapped is not None else exc
            raise self.failure from None
        return not self._ended
