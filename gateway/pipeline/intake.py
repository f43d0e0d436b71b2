"""Reads a send request (multipart or JSON) into validated fields and spooled files."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import dataclasses
import hashlib
import json
import logging
import posixpath
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import python_multipart as multipart
from fastapi import Request
from pydantic import BaseModel, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser, MultipartPart
from starlette.requests import ClientDisconnect
from starlette.types import Receive

from gateway.errors import (
    GatewayError,
    InvalidRequestError,
    PayloadTooLargeError,
    SpoolUnavailableError,
    UnsupportedMediaError,
    field_error,
    invalid,
    validation_errors,
)
from gateway.pipeline.fields import CommonFields, SendModels
from gateway.pipeline.sniff import SNIFF_BYTES, normalize

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

log = logging.getLogger("gateway.intake")

MAX_JSON_BYTES = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FILES = 100
MAX_FIELDS = 32
# File bytes are handed to the spool in runs of this size: once a part is past the in-memory
# spool, every write is a hop to a worker thread (so a slow disk never stalls the loop), and
# one hop per MiB costs far less than one per socket read of 64 KiB.
SPOOL_RUN = 1 << 20
# A file part at least this large may go upstream while it arrives (see FormReader), when
# the provider takes that and the request has no Idempotency-Key: store-and-forward would
# hold a 100 MB file for as long as it takes to arrive before the first byte goes out.
STREAM_FROM = 8 << 20

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Upload:
    """One uploaded file part, spooled by the multipart parser (memory, then disk)."""

    filename: str
    content_type: str | None
    size: int
    stream: BinaryIO
    # Of the bytes, computed while they were spooled when something reads it (the
    # idempotency fingerprint, a provider that remembers media by content); None otherwise.
    sha256: str | None = None
    live: LiveUpload | None = None  # the bytes are still arriving (then `size` is announced)

    def digest(self) -> str:
        """The SHA-256 of the bytes: the one computed while spooling, or read now."""
        if self.sha256 is not None:
            return self.sha256
        digest = hashlib.sha256()
        self.stream.seek(0)
        while chunk := self.stream.read(SPOOL_RUN):
            digest.update(chunk)
        self.stream.seek(0)
        return digest.hexdigest()


@dataclass(frozen=True)
class SendOrder:
    """A parsed send: fields checked for shape, files not yet checked for type."""

    fields: CommonFields  # an instance of SendModels.fields (or .json)
    files: list[Upload] = field(default_factory=list)

    @property
    def live(self) -> LiveUpload | None:
        return next((u.live for u in self.files if u.live is not None), None)


@contextlib.asynccontextmanager
async def read_order(
    request: Request,
    models: SendModels,
    *,
    hash_files: Callable[[str | None], bool] = lambda provider: True,
    stream_files: Callable[[str | None], bool] = lambda provider: False,
) -> AsyncIterator[SendOrder]:
    """The order, whose spooled files are closed when the block ends.

    Given the provider named before a file part (None if not yet named), `hash_files` says
    whether its files' SHA-256 will be read (they are hashed as they are spooled only then),
    and `stream_files` whether a large file may be handed on while it arrives: the order
    then comes as soon as that file's first bytes are read, with the file `live`."""
    content_type = normalize(request.headers.get("content-type"))
    if content_type == "application/json":
        yield SendOrder(_parse(models.json, await _json_body(request)))
        return
    if content_type != "multipart/form-data":
        raise UnsupportedMediaError(
            "Send multipart/form-data (files or a url) or application/json (a url)."
        )
    declared = request.headers.get("content-length")
    reader = FormReader(
        request.headers,
        request.receive,
        models,
        hash_files=hash_files,
        stream_files=stream_files,
        declared=int(declared) if declared and declared.isdigit() else None,
    )
    try:
        with body_errors():
            reader.start()
            while reader.live is None and await reader.pump():
                pass
            if reader.live is not None:
                await reader.live.fill_head()
        try:
            order = reader.order()
        except GatewayError:
            if reader.live is None:
                raise
            # The parts before the file do not make an order: perhaps the rest does.
            order, _ = await reader.live.whole()
        yield order
    finally:
        reader.close()


@contextlib.contextmanager
def body_errors() -> Iterator[None]:
    """A broken multipart body or a spool with nowhere to go, as the problem to answer."""
    try:
        yield
    except MultiPartException as exc:
        raise InvalidRequestError(f"The multipart body is malformed: {exc.message}") from None
    except OSError as exc:  # a file part past the in-memory spool with nowhere to go
        log.error("an upload could not be spooled", exc_info=exc)
        raise SpoolUnavailableError(
            "This replica cannot spool uploads (its temporary directory is not writable); "
            "send again, another replica takes it."
        ) from None


class HashingMultiPartParser(MultiPartParser):
    """Starlette's multipart parser, which hands file bytes to the spool in runs of
    `SPOOL_RUN` and hashes each file part as it is spooled when the hash will be read, so
    the idempotency fingerprint never reads an upload a second time."""

    def __init__(self, *args: Any, hash_files: Callable[[str | None], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.digests: dict[int, hashlib._Hash] = {}  # id(UploadFile) -> SHA-256 so far
        self._hash_files = hash_files
        self._digest: hashlib._Hash | None = None
        self._run = bytearray()

    def named_provider(self) -> str | None:
        """The provider field, if a part before this one gave it."""
        provider = next((v for k, v in self.items if k == "provider"), None)
        return provider if isinstance(provider, str) else None

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        upload = self._current_part.file
        self._digest = None
        if upload is not None and self._hash_files(self.named_provider()):
            self._digest = self.digests[id(upload)] = hashlib.sha256()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is None:
            super().on_part_data(data, start, end)
            return
        chunk = memoryview(data)[start:end]
        if self._digest is not None:
            self._digest.update(chunk)
        self._run += chunk
        if len(self._run) >= SPOOL_RUN:
            self._spool_run()

    def on_part_end(self) -> None:
        if self._current_part.file is not None:
            self._spool_run()
        super().on_part_end()

    def _spool_run(self) -> None:
        # What is queued here is written to the spool after each chunk of the body.
        if self._run:
            self._file_parts_to_write.append((self._current_part, self._run))  # type: ignore[arg-type]
            self._run = bytearray()


class NotStreamableError(Exception):
    """The request turned out other than its first parts announced (a part after the file,
    or a file of another length than the body's length implies): it is read whole and sent
    the way every request is."""


class FormReader(HashingMultiPartParser):
    """Reads a multipart body a chunk at a time (`pump`), so that the first large file part
    can be handed on while it arrives (`live`) when `stream_files` allows it."""

    def __init__(
        self,
        headers: Any,
        receive: Receive,
        models: SendModels,
        *,
        hash_files: Callable[[str | None], bool],
        stream_files: Callable[[str | None], bool],
        declared: int | None,
    ) -> None:
        super().__init__(
            headers,
            _no_stream(),
            max_files=MAX_FILES,
            max_fields=MAX_FIELDS,
            max_part_size=MAX_FIELD_BYTES,
            hash_files=hash_files,
        )
        self._receive = receive
        self._models = models
        self._stream_files = stream_files
        self._declared = declared
        self._parser: multipart.MultipartParser | None = None
        self._delimiter = b""
        self._fed = 0  # bytes of the body fed to the parser before the current chunk
        self._files = 0
        self._candidate: MultipartPart | None = None
        self.live: LiveUpload | None = None
        self.done = False

    def start(self) -> None:
        _, params = parse_options_header(self.headers["Content-Type"])
        charset = params.get(b"charset", "utf-8")
        if isinstance(charset, bytes):
            charset = charset.decode("latin-1")
        try:
            self._charset = codecs.lookup(charset).name
        except LookupError:
            self._charset = "latin-1"
        boundary = params.get(b"boundary")
        if not boundary:
            raise MultiPartException("Missing boundary in multipart.")
        self._delimiter = b"\r\n--" + boundary + b"--\r\n"  # what curl and browsers end with
        callbacks: MultipartCallbacks = {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }
        try:
            self._parser = multipart.MultipartParser(boundary, callbacks)
        except FormParserError as exc:  # a boundary over python-multipart's 256 characters
            raise MultiPartException(f"Invalid multipart boundary: {exc}") from None

    async def pump(self) -> bool:
        """Read and parse the next chunk of the body; False once it was read whole. Safe to
        cancel between chunks: nothing read is lost, nothing is written twice."""
        assert self._parser is not None
        if self.done:
            return False
        message = await self._receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        try:
            if chunk:
                self._parser.write(chunk)
                self._fed += len(chunk)
            if not message.get("more_body", False):
                self._parser.finalize()
                self.done = True
        except FormParserError as exc:
            raise MultiPartException("Invalid multipart data.") from exc
        while self._file_parts_to_write:
            part, data = self._file_parts_to_write.pop(0)
            assert part.file is not None
            await part.file.write(data)
        while self._file_parts_to_finish:
            part = self._file_parts_to_finish.pop(0)
            assert part.file is not None
            await part.file.seek(0)
        return not self.done

    def on_part_begin(self) -> None:
        if self.live is not None and self.live.ended:
            self.live.extra = True
        super().on_part_begin()

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is None:
            return
        self._files += 1
        if (
            self._files == 1
            and self._declared is not None
            and self._stream_files(self.named_provider())
        ):
            self._candidate = self._current_part

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        super().on_part_data(data, start, end)
        part = self._current_part
        if part is self._candidate:
            self._candidate = None
            assert self._declared is not None
            assert part.file is not None
            # If this file is the last part, as senders put it, it ends where the body's
            # length less the closing delimiter says; checked when the body has been read.
            size = self._declared - (self._fed + start) - len(self._delimiter)
            if size >= STREAM_FROM:
                self.live = LiveUpload(self, part.file, size)
        if self.live is not None and part.file is self.live.upload:
            self.live.take(memoryview(data)[start:end])

    def on_part_end(self) -> None:
        if self.live is not None and self._current_part.file is self.live.upload:
            self.live.ended = True
        super().on_part_end()

    def order(self) -> SendOrder:
        """The order read so far: whole, or up to the live file."""
        files = list(self.items)
        if self.live is not None and not self.live.ended:
            files.append((self._current_part.field_name, self.live.upload))
        order = _order_from_form(files, self._models, self.digests)
        if self.live is None:
            return order
        live = self.live
        uploads = [
            dataclasses.replace(u, size=live.size, live=live) if u.stream is live.upload.file else u
            for u in order.files
        ]
        return SendOrder(order.fields, uploads)

    def close(self) -> None:
        for file in self._files_to_close_on_error:
            file.close()


async def _no_stream() -> AsyncGenerator[bytes, None]:
    return
    yield b""  # an async generator that yields nothing: FormReader reads with receive()


class LiveUpload:
    """The first file part of a request while it arrives (`providers.base.LiveBody`).

    Every byte is also spooled as it comes, so a resend reads the spool. The first pass
    yields the bytes as they are parsed, at most `size` of them, and ends only once the
    whole request was read and matches what was announced: the file is the last part and
    has exactly `size` bytes. Anything else raises, and is kept in `failure`."""

    def __init__(self, reader: FormReader, upload: UploadFile, size: int) -> None:
        self.size = size
        self.upload = upload
        self.ended = False  # the file part's closing boundary was read
        self.extra = False  # a part came after it
        self.failure: BaseException | None = None
        # A pump was waiting for the caller's next bytes when whoever waited was cut short.
        self.stalled = False
        self._reader = reader
        self._out = bytearray()  # read, not yet given to the first pass
        self._taken = 0
        self._overflow = False
        self._passes = 0
        self._buffering = True  # until the first pass is over: what it has yet to give
        self._checked = False
        self._pumping: asyncio.Future[bool] | None = None
        self._broken: Exception | None = None

    @property
    def head(self) -> bytes:
        """The first bytes, for sniffing (before the first pass)."""
        return bytes(self._out[:SNIFF_BYTES])

    def take(self, data: memoryview) -> None:
        room = self.size - self._taken
        if len(data) > room:
            self._overflow = True
            data = data[:room]
        self._taken += len(data)
        if self._buffering:
            self._out += data

    async def fill_head(self) -> None:
        while len(self._out) < min(SNIFF_BYTES, self.size) and not self.ended:
            if not await self._pump():
                break

    async def _pump(self) -> bool:
        """The next chunk, read and spooled to its end even when whoever waits for it is
        cancelled (an upload call cut short, an early answer): a chunk given up half-way
        would leave a hole in the spool a resend reads. The next pump waits for it."""
        if self._broken is not None:
            raise self._broken
        if self._pumping is None:
            self._pumping = asyncio.ensure_future(self._pump_once())
            self._pumping.add_done_callback(_retrieved)
        pumping = self._pumping
        try:
            self.stalled = True
            more = await asyncio.shield(pumping)
            self.stalled = False
            return more
        except Exception as exc:
            self._broken = exc
            raise
        finally:
            if pumping.done():
                self._pumping = None

    async def _pump_once(self) -> bool:
        with body_errors():
            return await self._reader.pump()

    async def chunks(self) -> AsyncIterator[bytes]:
        self._passes += 1
        try:
            if self._passes == 1:
                async for chunk in self._first_pass():
                    yield chunk
                return
            await self.complete()
            await self.upload.seek(0)
            while chunk := await self.upload.read(SPOOL_RUN):
                yield chunk
        except Exception as exc:  # not a cancellation: an abandoned pass can be resumed
            if self.failure is None:
                self.failure = exc
            raise

    async def _first_pass(self) -> AsyncIterator[bytes]:
        try:
            while True:
                if self._out:
                    chunk, self._out = bytes(self._out), bytearray()
                    yield chunk
                if self.ended or self._reader.done:
                    break
                await self._pump()
        finally:
            self._stop_buffering()
        await self.complete()

    def _stop_buffering(self) -> None:
        # Whatever reads the rest now (a resend, or the order read whole) reads the spool:
        # bytes kept for the first pass would hold the rest of the file in memory.
        self._buffering = False
        self._out = bytearray()

    async def complete(self) -> None:
        """Read the rest of the request; raises NotStreamableError if it is not the send
        announced (then `whole()` is the order as sent)."""
        if not self._checked:
            self._stop_buffering()
            while await self._pump():
                pass
            self._checked = True
        if self.extra or self._overflow or not self.ended or self._taken != self.size:
            raise NotStreamableError

    async def whole(self) -> tuple[SendOrder, bool]:
        """The order as sent, once the request is read whole, and whether it is the one its
        first parts announced."""
        try:
            await self.complete()
            announced = True
        except NotStreamableError:
            announced = False
        self._reader.live = None
        return self._reader.order(), announced


def _retrieved(pumping: asyncio.Future[bool]) -> None:
    # A pump whose waiter was cancelled may fail with nobody left to ask: not an error
    # for asyncio to report; the next pump raises it.
    if not pumping.cancelled():
        pumping.exception()


async def _json_body(request: Request) -> Any:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise PayloadTooLargeError(f"A JSON body may be at most {MAX_JSON_BYTES} bytes.")
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidRequestError("The body is not valid JSON.") from None
    except RecursionError:
        raise InvalidRequestError("The JSON body is nested too deeply.") from None
    if isinstance(data, dict) and "file" in data:
        raise invalid(
            [
                field_error(
                    "file",
                    "files cannot be sent in a JSON body: send them as multipart/form-data "
                    "(curl -F file=@photo.png), or send a url",
                )
            ]
        )
    return data


def _order_from_form(
    items: list[tuple[str, str | UploadFile]],
    models: SendModels,
    digests: dict[int, hashlib._Hash],
) -> SendOrder:
    values: dict[str, str] = {}
    files: list[Upload] = []
    problems: list[dict[str, Any]] = []
    for key, value in items:
        if isinstance(value, UploadFile):
            if key != "file":
                problems.append(field_error(key, "only the file field takes files"))
            elif value.filename or value.size:
                # Browsers send an empty, nameless part for a file input left empty.
                files.append(
                    Upload(
                        filename=_basename(value.filename or "upload"),
                        content_type=value.content_type,
                        size=value.size or 0,
                        stream=value.file,
                        sha256=digest.hexdigest()
                        if (digest := digests.get(id(value))) is not None
                        else None,
                    )
                )
        elif key == "file":
            if value:
                problems.append(
                    field_error(
                        "file",
                        "file must be a file, not text: with curl, put @ before the path "
                        "(-F file=@photo.png); send a link in url",
                    )
                )
        elif key in values:
            problems.append(field_error(key, "the field is given more than once"))
        elif value != "":
            values[key] = value
    if problems:
        raise invalid(problems)
    return SendOrder(_parse(models.fields, values), files)


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(validation_errors(exc.errors())) from None


def _basename(filename: str) -> str:
    # Some browsers send a Windows path; the provider only needs the name. It is kept whole
    # here, so the extension check sees it as sent; it is shortened only on the way out.
    return posixpath.basename(filename.replace("\\", "/")) or "upload"
