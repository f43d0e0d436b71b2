"""Reads a send request (multipart or JSON) into validated fields and spooled files."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from gateway.errors import (
    GatewayError,
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaError,
    field_error,
    invalid,
    validation_errors,
)
from gateway.pipeline.downloading import LiveDownload
from gateway.pipeline.fields import CommonFields, SendModels
from gateway.pipeline.form import SPOOL_RUN, FilePart, FormReader
from gateway.pipeline.sniff import normalize
from gateway.pipeline.streaming import LiveUpload, Streamer

MAX_JSON_BYTES = 64 * 1024

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Upload:
    """One uploaded file part, spooled (memory, then disk)."""

    filename: str
    content_type: str | None
    size: int
    stream: BinaryIO
    # Of the bytes, computed while they were spooled when something reads it (the
    # idempotency fingerprint, a provider that remembers media by content); None otherwise.
    sha256: str | None = None
    # The bytes are still arriving (then `size` is announced): the caller's, or a download.
    live: LiveUpload | LiveDownload | None = None

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


async def _no_rest() -> SendOrder:
    raise AssertionError("an order without a live file is whole")


@dataclass(frozen=True)
class SendOrder:
    """A parsed send: fields checked for shape, files not yet checked for type."""

    fields: CommonFields  # an instance of SendModels.fields (or .json)
    files: list[Upload] = field(default_factory=list)
    # With a live file: the rest of the request, read, and the order it makes.
    rest: Callable[[], Awaitable[SendOrder]] = field(default=_no_rest, repr=False)

    @property
    def live(self) -> LiveUpload | None:
        return next((u.live for u in self.files if isinstance(u.live, LiveUpload)), None)

    async def whole(self) -> SendOrder:
        """The order as sent, the request read to its end (for a live order, once
        `LiveUpload.settle` said to send it whole)."""
        return self if self.live is None else await self.rest()


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
    then comes as soon as that file's first bytes are read, with the file `live`
    (`gateway.pipeline.streaming`)."""
    content_type = normalize(request.headers.get("content-type"))
    if content_type == "application/json":
        yield SendOrder(_parse(models.json, await _json_body(request)))
        return
    if content_type != "multipart/form-data":
        raise UnsupportedMediaError(
            "Send multipart/form-data (files or a url) or application/json (a url)."
        )
    declared = request.headers.get("content-length")
    streamer = Streamer(
        declared=int(declared) if declared and declared.isdigit() else None,
        stream_files=stream_files,
    )
    reader = FormReader(
        request.headers["content-type"], request.receive, hash_files=hash_files, tap=streamer
    )
    streamer.reader = reader
    try:
        live = await streamer.first_parts()

        async def rest() -> SendOrder:
            if live is not None:
                await live.read_rest()
            return _order_from_form(reader, models, None)

        try:
            order = _order_from_form(reader, models, live, rest)
        except GatewayError as exc:
            if live is None:
                raise
            await live.settle(exc)  # the parts before the file do not make an order
            order = await rest()
        yield order
    finally:
        reader.close()


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
    reader: FormReader,
    models: SendModels,
    live: LiveUpload | None,
    rest: Callable[[], Awaitable[SendOrder]] = _no_rest,
) -> SendOrder:
    """The order read so far: whole, or up to the `live` file (announced at its size)."""
    items = list(reader.items)
    if live is not None and not live.ended:
        items.append((live.part.field_name, live.part))
    values: dict[str, str] = {}
    files: list[Upload] = []
    problems: list[dict[str, Any]] = []
    for key, value in items:
        if isinstance(value, FilePart):
            if key != "file":
                problems.append(field_error(key, "only the file field takes files"))
            elif value.filename or value.size or value is _part_of(live):
                # Browsers send an empty, nameless part for a file input left empty.
                files.append(_upload(value, live))
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
    return SendOrder(_parse(models.fields, values), files, rest)


def _part_of(live: LiveUpload | None) -> FilePart | None:
    return live.part if live is not None else None


def _upload(part: FilePart, live: LiveUpload | None) -> Upload:
    upload = Upload(
        filename=_basename(part.filename or "upload"),
        content_type=part.content_type,
        size=part.size,
        stream=part.file,  # type: ignore[arg-type]
        sha256=part.sha256.hexdigest() if part.sha256 is not None else None,
    )
    if live is not None and part is live.part:
        return dataclasses.replace(upload, size=live.size, sha256=None, live=live)
    return upload


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(validation_errors(exc.errors())) from None


def _basename(filename: str) -> str:
    # Some browsers send a Windows path; the provider only needs the name. It is kept whole
    # here, so the extension check sees it as sent; it is shortened only on the way out.
    return posixpath.basename(filename.replace("\\", "/")) or "upload"
