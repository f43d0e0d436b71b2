"""Reads a send request (multipart or JSON) into validated fields and spooled files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import posixpath
from collections.abc import AsyncIterator
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

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Upload:
    """One uploaded file part, spooled by the multipart parser (memory, then disk)."""

    filename: str
    content_type: str | None
    size: int
    stream: BinaryIO
    sha256: str = ""  # of the bytes, computed while they were spooled (empty for downloads)


@dataclass(frozen=True)
class SendOrder:
    """A parsed send: fields checked for shape, files not yet checked for type."""

    fields: CommonFields  # an instance of SendModels.fields (or .json)
    files: list[Upload] = field(default_factory=list)


@contextlib.asynccontextmanager
async def read_order(request: Request, models: SendModels) -> AsyncIterator[SendOrder]:
    """The order, whose spooled files are closed when the block ends."""
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
    """Starlette's multipart parser, which also hashes each file part as it is spooled, so
    the idempotency fingerprint never reads an upload a second time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.digests: dict[int, hashlib._Hash] = {}  # id(UploadFile) -> SHA-256 so far

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        super().on_part_data(data, start, end)
        upload = self._current_part.file
        if upload is not None:
            digest = self.digests.get(id(upload))
            if digest is None:
                digest = self.digests[id(upload)] = hashlib.sha256()
            digest.update(memoryview(data)[start:end])


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
                        sha256=(digests.get(id(value)) or hashlib.sha256()).hexdigest(),
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
