"""Reads a send request (multipart or JSON) into validated fields and spooled files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import posixpath
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from gateway.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    SpoolUnavailableError,
    UnsupportedMediaError,
    field_error,
    invalid,
    validation_errors,
)
from gateway.pipeline.fields import CommonFields, SendModels
from gateway.pipeline.sniff import normalize

log = logging.getLogger("gateway.intake")

MAX_JSON_BYTES = 64 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_FILES = 100
MAX_FIELDS = 32
# File bytes are handed to the spool in runs of this size: once a part is past the in-memory
# spool, every write is a hop to a worker thread (so a slow disk never stalls the loop), and
# one hop per MiB costs far less than one per socket read of 64 KiB.
SPOOL_RUN = 1 << 20

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


@contextlib.asynccontextmanager
async def read_order(
    request: Request,
    models: SendModels,
    *,
    hash_files: Callable[[str | None], bool] = lambda provider: True,
) -> AsyncIterator[SendOrder]:
    """The order, whose spooled files are closed when the block ends. `hash_files` says,
    given the provider named before a file part (None if not yet named), whether its
    files' SHA-256 will be read; they are hashed as they are spooled only then."""
    content_type = normalize(request.headers.get("content-type"))
    if content_type == "application/json":
        yield SendOrder(_parse(models.json, await _json_body(request)))
        return
    if content_type != "multipart/form-data":
        raise UnsupportedMediaError(
            "Send multipart/form-data (files or a url) or application/json (a url)."
        )
    parser = HashingMultiPartParser(
        request.headers,
        request.stream(),
        max_files=MAX_FILES,
        max_fields=MAX_FIELDS,
        max_part_size=MAX_FIELD_BYTES,
        hash_files=hash_files,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequestError(f"The multipart body is malformed: {exc.message}") from None
    except OSError as exc:  # a file part past the in-memory spool with nowhere to go
        log.error("an upload could not be spooled", exc_info=exc)
        raise SpoolUnavailableError(
            "This replica cannot spool uploads (its temporary directory is not writable); "
            "send again, another replica takes it."
        ) from None
    try:
        yield _order_from_form(form.multi_items(), models, parser.digests)
    finally:
        await form.close()


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

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        upload = self._current_part.file
        self._digest = None
        if upload is not None:
            provider = next((v for k, v in self.items if k == "provider"), None)
            if self._hash_files(provider if isinstance(provider, str) else None):
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
        # parse() writes what is queued here after each chunk of the request body.
        if self._run:
            self._file_parts_to_write.append((self._current_part, self._run))  # type: ignore[arg-type]
            self._run = bytearray()


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
                problems.append(field_error("file", "file must be a file; send a link in url"))
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
