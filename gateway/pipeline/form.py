"""A multipart/form-data body read a chunk at a time, on python-multipart's public parser.

Fields are kept as text (each at most `MAX_FIELD_BYTES`); each file part is spooled, in
memory up to `SPOOL_IN_MEMORY` and then on disk, in runs of `SPOOL_RUN` written off the
event loop once it is on disk, and hashed as it arrives when something will read its hash.
A `FileTap` sees every file part as it arrives: that is how a large file is handed on while
it is still coming (`gateway.pipeline.streaming`).
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Protocol

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect

from gateway.errors import InvalidRequestError, SpoolUnavailableError
from gateway.pipeline.spool import IN_MEMORY, RUN, Chunk, Digest, Spool, SpoolWriter

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks
    from starlette.types import Receive

log = logging.getLogger("gateway.intake")

MAX_FILES = 100
MAX_FIELDS = 32
MAX_FIELD_BYTES = 64 * 1024
# A file part past this many bytes goes to disk, and its bytes go there in runs of
# SPOOL_RUN (`gateway.pipeline.spool`).
SPOOL_IN_MEMORY = IN_MEMORY
SPOOL_RUN = RUN


class MalformedFormError(Exception):
    """The body is not the multipart form it says it is; the message says how."""


@contextlib.contextmanager
def body_errors() -> Iterator[None]:
    """A broken multipart body or a spool with nowhere to go, as the problem to answer."""
    try:
        yield
    except MalformedFormError as exc:
        raise InvalidRequestError(f"The multipart body is malformed: {exc}") from None
    except OSError as exc:  # a file part past the in-memory spool with nowhere to go
        log.error("an upload could not be spooled", exc_info=exc)
        raise SpoolUnavailableError(
            "This replica cannot spool uploads (its temporary directory is not writable); "
            "send again, another replica takes it."
        ) from None


class FilePart:
    """One file part of the form, spooled as it arrives."""

    def __init__(self, field_name: str, filename: str, content_type: str | None) -> None:
        self.field_name = field_name
        self.filename = filename
        self.content_type = content_type
        # Closed by the reader that made it (`FormReader.close`).
        self.file = Spool(in_memory=SPOOL_IN_MEMORY)
        self._writer = SpoolWriter(self.file)
        self.sha256: Digest | None = None  # set when the bytes are hashed
        self.ended = False  # its closing boundary was read

    @property
    def size(self) -> int:
        """Bytes handed to the spool so far."""
        return self._writer.size

    @property
    def on_disk(self) -> bool:
        return self._writer.on_disk

    async def write(self, chunks: list[Chunk]) -> None:
        """Append to the spool (`SpoolWriter`: behind, in a thread once on disk), hashing
        the bytes in the same thread if they are hashed."""
        await self._writer.write(chunks, self.sha256)

    async def flush(self) -> None:
        await self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    async def rewind(self) -> None:
        await self._writer.rewind()

    async def read(self, size: int) -> bytes:
        return await self._writer.read(size)


class FileTap(Protocol):
    """What watches the file parts while they arrive."""

    def file_started(self, part: FilePart, index: int, provider: str | None) -> None:
        """Part `part`'s headers were read; it is file number `index` (from 1), and the
        provider field, if a part before it gave one, is `provider`."""

    def file_data(self, part: FilePart, data: memoryview, offset: int) -> None:
        """Bytes of `part`, starting at `offset` in the body."""

    def part_started(self) -> None:
        """Another part begins."""


class FormReader:
    """Parses a multipart body as it is received (`pump`), a chunk at a time."""

    def __init__(
        self,
        content_type: str,
        receive: Receive,
        *,
        hash_files: Callable[[str | None], bool],
        tap: FileTap | None = None,
    ) -> None:
        self._receive = receive
        self._hash_files = hash_files
        self._tap = tap
        self.items: list[tuple[str, str | FilePart]] = []
        self.fed = 0  # bytes of the body fed to the parser before the current chunk
        self.done = False
        self.closing_delimiter = b""  # what curl and browsers end the body with
        self._files: list[FilePart] = []
        self._fields = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._name = ""
        self._text: bytearray | None = None  # the field being read, or None in a file part
        self._part: FilePart | None = None
        # File bytes not yet handed to the spool: views of the chunks received (bytes, which
        # never change), so they are copied once, into the spool.
        self._run: list[Chunk] = []
        self._run_size = 0
        self._pending: list[tuple[FilePart, list[Chunk] | None]] = []  # writes; None: rewind
        with body_errors():
            self._parser = self._start(content_type)

    @property
    def current_file(self) -> FilePart | None:
        """The file part being read, if the parser is inside one."""
        return self._part

    def named_provider(self) -> str | None:
        """The provider field, if a part read so far gave it."""
        return next((v for k, v in self.items if k == "provider" and isinstance(v, str)), None)

    async def pump(self) -> bool:
        """Read and parse the next chunk of the body; False once it was read whole. Safe to
        cancel between chunks: nothing read is lost, nothing is written twice."""
        with body_errors():
            return await self._pump()

    async def _pump(self) -> bool:
        if self.done:
            return False
        message = await self._receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        try:
            if chunk:
                self._parser.write(chunk)
                self.fed += len(chunk)
            if not message.get("more_body", False):
                self._parser.finalize()
                self.done = True
        except FormParserError as exc:
            raise MalformedFormError("Invalid multipart data.") from exc
        while self._pending:
            part, data = self._pending[0]
            if data is None:
                await part.rewind()
            else:
                await part.write(data)
            self._pending.pop(0)
        if self.done:  # read whole: every byte in its spool, every hash final
            for part in self._files:
                await part.flush()
        return not self.done

    def close(self) -> None:
        for part in self._files:
            part.close()

    def _start(self, content_type: str) -> python_multipart.MultipartParser:
        _, params = parse_options_header(content_type)
        charset = params.get(b"charset", b"utf-8")
        try:
            self._charset = codecs.lookup(charset.decode("latin-1")).name
        except LookupError:
            self._charset = "latin-1"
        boundary = params.get(b"boundary")
        if not boundary:
            raise MalformedFormError("Missing boundary in multipart.")
        self.closing_delimiter = b"\r\n--" + boundary + b"--\r\n"
        callbacks: MultipartCallbacks = {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
        }
        try:
            return python_multipart.MultipartParser(boundary, callbacks)
        except FormParserError as exc:  # a boundary over python-multipart's 256 characters
            raise MalformedFormError(f"Invalid multipart boundary: {exc}") from None

    def _decode(self, raw: bytes | bytearray) -> str:
        try:
            return raw.decode(self._charset)
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def _on_part_begin(self) -> None:
        self._headers = []
        self._text = None
        self._part = None
        if self._tap is not None:
            self._tap.part_started()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers.append((bytes(self._header_name).lower(), bytes(self._header_value)))
        self._header_name, self._header_value = bytearray(), bytearray()

    def _on_headers_finished(self) -> None:
        headers = dict(self._headers)
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise MalformedFormError(
                'The Content-Disposition header field "name" must be provided.'
            )
        self._name = self._decode(options[b"name"])
        if b"filename" not in options:
            self._fields += 1
            if self._fields > MAX_FIELDS:
                raise MalformedFormError(
                    f"Too many fields. Maximum number of fields is {MAX_FIELDS}."
                )
            self._text = bytearray()
            return
        if len(self._files) >= MAX_FILES:
            raise MalformedFormError(f"Too many files. Maximum number of files is {MAX_FILES}.")
        declared = headers.get(b"content-type")
        part = FilePart(
            self._name,
            self._decode(options[b"filename"]),
            self._decode(declared) if declared is not None else None,
        )
        self._files.append(part)
        self._part = part
        provider = self.named_provider()
        if self._hash_files(provider):
            part.sha256 = hashlib.sha256()
        if self._tap is not None:
            self._tap.file_started(part, len(self._files), provider)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part is None:
            assert self._text is not None
            if len(self._text) + end - start > MAX_FIELD_BYTES:
                raise MalformedFormError(
                    f"Part exceeded maximum size of {MAX_FIELD_BYTES // 1024}KB."
                )
            self._text += data[start:end]
            return
        chunk = memoryview(data if isinstance(data, bytes) else bytes(data))[start:end]
        self._run.append(chunk)
        self._run_size += len(chunk)
        if self._run_size >= SPOOL_RUN:
            self._spool_run(part)
        if self._tap is not None:
            self._tap.file_data(part, chunk, self.fed + start)

    def _on_part_end(self) -> None:
        part = self._part
        if part is None:
            assert self._text is not None
            self.items.append((self._name, self._decode(self._text)))
        else:
            self._spool_run(part)
            self._pending.append((part, None))
            part.ended = True
            self.items.append((self._name, part))
        self._part = None

    def _spool_run(self, part: FilePart) -> None:
        # Written to the spool after the chunk being parsed (`pump`).
        if self._run:
            self._pending.append((part, self._run))
            self._run, self._run_size = [], 0
