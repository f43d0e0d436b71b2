"""What every send is checked against before anything goes upstream, the same for every
provider: its fields against the provider's target model, its media against the provider's
`Capabilities`. A provider's own rules are its `check` (`providers.base.ChecksRequests`)."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

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
from gateway.pipeline.fields import COMMON_FIELDS
from gateway.pipeline.intake import SendOrder, Upload
from gateway.pipeline.sniff import (
    category,
    infer_media_type,
    normalize,
    read_head,
    resolve_type,
    type_from_url,
)
from gateway.pipeline.spool import in_place
from providers import Capabilities, MediaFile, MediaRequest, MediaType
from providers.errors import TargetError

MAX_FILENAME = 255


def check_fields(order: SendOrder, target_model: type[BaseModel], caps: Capabilities) -> BaseModel:
    """Every field problem at once, and the provider's target model, validated."""
    fields = order.fields
    name = fields.provider
    given = {key: value for key, value in fields if value is not None}
    problems = [
        field_error(key, f"{key} is not used by {name}; leave it out")
        for key in sorted(given.keys() - COMMON_FIELDS - target_model.model_fields.keys())
    ]
    target: BaseModel | None = None
    try:
        target = target_model.model_validate(
            {k: v for k, v in given.items() if k in target_model.model_fields}
        )
    except ValidationError as exc:
        problems += [_required_by(p, name) for p in validation_errors(exc.errors())]
    if bool(order.files) == (fields.url is not None):
        problems.append(field_error("file", "send exactly one of file (one or more) and url"))
    if fields.caption and not caps.captions:
        problems.append(field_error("caption", f"caption is not used by {name}; leave it out"))
    if fields.file_type is not None and fields.url is None:
        problems.append(field_error("file_type", "file_type is only for url sends"))
    problems += [
        field_error("file", f"{upload.filename!r} is empty (0 bytes)")
        for upload in order.files
        if upload.size == 0
    ]
    if problems:
        raise invalid(problems)
    assert target is not None
    return target


def files_request(
    order: SendOrder,
    uploads: Sequence[Upload],
    caps: Capabilities,
    target: BaseModel,
    *,
    max_upload_bytes: int,
) -> MediaRequest:
    """The request for `uploads`, each file's type checked against its bytes, its declared
    type, its name and what the provider accepts."""
    fields = order.fields
    wanted = fields.media_type
    check_count(fields.provider, wanted, len(uploads), caps)
    total = sum(u.size for u in uploads)
    if total > max_upload_bytes:
        raise PayloadTooLargeError(
            f"The media is {total} bytes; the gateway's limit is {max_upload_bytes}."
        )
    for upload in uploads:
        if caps.max_file_bytes is not None and upload.size > caps.max_file_bytes:
            raise PayloadTooLargeError(
                f"{upload.filename!r} is {upload.size} bytes; {fields.provider} takes at most "
                f"{caps.max_file_bytes}."
            )
    mimes = [
        resolve_type(
            u.live.head if u.live is not None else read_head(u.stream),
            filename=u.filename,
            declared=u.content_type,
            wanted=wanted,
        )
        for u in uploads
    ]
    media_type = _media_type(wanted, infer_media_type(mimes), mimes)
    for upload, mime in zip(uploads, mimes, strict=True):
        check_accepted(fields.provider, caps, media_type, mime, upload.filename)
    if len(uploads) > 1 and media_type is not MediaType.ALBUM:
        raise _invalid(
            "file",
            f"several files make an album, of images only; send one {media_type.value} per request",
        )
    files = [
        MediaFile(
            filename=shorten_filename(u.filename),
            content_type=m,
            size=u.size,
            stream=in_place(u.stream),
            sha256=u.sha256 or "",
            live=u.live,
        )
        for u, m in zip(uploads, mimes, strict=True)
    ]
    return MediaRequest(media_type=media_type, target=target, files=files, caption=fields.caption)


def url_request(order: SendOrder, url: str, caps: Capabilities, target: BaseModel) -> MediaRequest:
    """The request for a URL the provider takes itself, its type from `file_type` or the
    URL's path."""
    fields = order.fields
    check_count(fields.provider, fields.media_type, 1, caps)
    mime = normalize(fields.file_type) or type_from_url(urlsplit(url).path)
    if not mime:
        raise _invalid("file_type", "the URL's type cannot be inferred; give file_type")
    media_type = _media_type(fields.media_type, category(mime), [mime])
    check_accepted(fields.provider, caps, media_type, mime, url)
    return MediaRequest(
        media_type=media_type, target=target, url=url, content_type=mime, caption=fields.caption
    )


def check_count(provider: str, wanted: MediaType | None, count: int, caps: Capabilities) -> None:
    album = wanted is MediaType.ALBUM or count > 1
    if not album:
        return
    if caps.album_sizes is None:
        raise _invalid("file", f"{provider} takes one file per send; albums are not supported")
    low, high = caps.album_sizes
    if not low <= count <= high:
        raise _invalid("file", f"an album takes {low} to {high} images, not {count}")


def check_accepted(
    provider: str, caps: Capabilities, media_type: MediaType, mime: str, name: str
) -> None:
    if not caps.accepts(media_type, mime):
        accepted = ", ".join(sorted(caps.formats.get(media_type, frozenset()))) or "nothing"
        raise UnsupportedMediaError(
            f"{provider} does not accept {mime} as {media_type.value} ({name!r}); "
            f"it accepts {accepted}."
        )


def refusal(exc: TargetError) -> GatewayError:
    """A provider's own refusal (its `check`, or its `send` before any call) as the answer:
    422 naming the field, or the 413 or 415 it asked for."""
    if exc.status == 413:
        return PayloadTooLargeError(exc.message)
    if exc.status == 415:
        return UnsupportedMediaError(exc.message)
    return _invalid(exc.field, exc.message)


def _media_type(wanted: MediaType | None, inferred: MediaType, mimes: list[str]) -> MediaType:
    if wanted is None or wanted is inferred:
        return inferred
    raise _invalid(
        "media_type", f"media_type {wanted.value} does not match the media ({', '.join(mimes)})"
    )


def shorten_filename(name: str, limit: int = MAX_FILENAME) -> str:
    """`name` cut to `limit` characters, keeping its extension: the provider decides the
    type from it too, so the extension that was checked is the one that is sent."""
    if len(name) <= limit:
        return name
    stem, ext = posixpath.splitext(name)
    if len(ext) >= limit // 2:
        return name[:limit]
    return stem[: limit - len(ext)] + ext


def _required_by(problem: dict[str, Any], provider: str) -> dict[str, Any]:
    if problem["type"] == "missing":
        return {**problem, "message": f"{problem['field']} is required by {provider}"}
    return problem


def _invalid(field_name: str, message: str) -> InvalidRequestError:
    return invalid([field_error(field_name, message)])
