"""The send itself: everything checked against the provider before anything goes upstream."""

from __future__ import annotations

import contextlib
import dataclasses
import posixpath
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from gateway.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaError,
    field_error,
    invalid,
    validation_errors,
)
from gateway.pipeline.fetch import Fetcher
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
from providers import Capabilities, Delivery, MediaFile, MediaRequest, MediaType, Provider
from providers.errors import TargetError
from providers.http import request_deadline

MAX_FILENAME = 255


@dataclass(frozen=True)
class Sent:
    """A successful send: which media type went out and what the provider answered."""

    provider: str
    media_type: MediaType
    delivery: Delivery
    sandbox: bool


class MediaService:
    """Validates a send order against its provider, fetches URLs it must, and sends."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        targets: Mapping[str, type[BaseModel]],
        fetcher: Fetcher,
        *,
        max_upload_bytes: int,
        deadline_s: float | None = None,
        sandboxed: Collection[str] = (),
    ) -> None:
        self._providers = providers
        self._targets = targets
        self._fetcher = fetcher
        self._max_upload_bytes = max_upload_bytes
        self._deadline_s = deadline_s
        self._sandboxed = frozenset(sandboxed)

    async def send(self, order: SendOrder, *, reuse_media_id: str | None = None) -> Sent:
        """Check the order against its provider, fetch what must be fetched, and send.
        `reuse_media_id`: what an earlier attempt of this same send obtained."""
        fields = order.fields
        provider = self._providers.get(fields.provider)
        if provider is None:
            names = ", ".join(sorted(self._providers)) or "none"
            raise _invalid("provider", f"unknown provider; configured: {names}")
        caps = provider.capabilities
        target = self._check_fields(order, caps)
        with request_deadline(self._deadline_s):
            async with self._media(order, caps, target) as request:
                if reuse_media_id is not None:
                    request = dataclasses.replace(request, reuse_media_id=reuse_media_id)
                try:
                    delivery = await provider.send(request)
                except TargetError as exc:
                    raise _invalid(exc.field, exc.message) from None
        return Sent(
            fields.provider, request.media_type, delivery, fields.provider in self._sandboxed
        )

    def _check_fields(self, order: SendOrder, caps: Capabilities) -> BaseModel:
        """Every field problem at once, and the provider's target model, validated."""
        fields = order.fields
        name = fields.provider
        target_model = self._targets[name]
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
        for upload in order.files:
            if upload.size == 0:
                problems.append(field_error("file", f"{upload.filename!r} is empty (0 bytes)"))
        if problems:
            raise invalid(problems)
        assert target is not None
        return target

    @contextlib.asynccontextmanager
    async def _media(
        self, order: SendOrder, caps: Capabilities, target: BaseModel
    ) -> AsyncIterator[MediaRequest]:
        fields = order.fields
        if order.files:
            yield self._files_request(order, order.files, caps, target)
            return
        assert fields.url is not None
        if caps.url_passthrough:
            yield self._url_request(order, fields.url, caps, target)
            return
        limit = min(self._max_upload_bytes, caps.max_file_bytes or self._max_upload_bytes)
        download = await self._fetcher.fetch(fields.url, limit=limit)
        with download.file:
            upload = Upload(
                filename=download.filename,
                content_type=fields.file_type or download.content_type,
                size=download.size,
                stream=download.file,  # type: ignore[arg-type]
            )
            yield self._files_request(order, [upload], caps, target)

    def _files_request(
        self, order: SendOrder, uploads: list[Upload], caps: Capabilities, target: BaseModel
    ) -> MediaRequest:
        fields = order.fields
        wanted = fields.media_type
        self._check_count(fields.provider, wanted, len(uploads), caps)
        total = sum(u.size for u in uploads)
        if total > self._max_upload_bytes:
            raise PayloadTooLargeError(
                f"The media is {total} bytes; the gateway's limit is {self._max_upload_bytes}."
            )
        for upload in uploads:
            if caps.max_file_bytes is not None and upload.size > caps.max_file_bytes:
                raise PayloadTooLargeError(
                    f"{upload.filename!r} is {upload.size} bytes; {fields.provider} takes at most "
                    f"{caps.max_file_bytes}."
                )
        mimes = [
            resolve_type(
                read_head(u.stream), filename=u.filename, declared=u.content_type, wanted=wanted
            )
            for u in uploads
        ]
        media_type = self._media_type(wanted, infer_media_type(mimes), mimes)
        for upload, mime in zip(uploads, mimes, strict=True):
            self._check_accepted(fields.provider, caps, media_type, mime, upload.filename)
        files = [
            MediaFile(
                filename=shorten_filename(u.filename), content_type=m, size=u.size, stream=u.stream
            )
            for u, m in zip(uploads, mimes, strict=True)
        ]
        return MediaRequest(
            media_type=media_type, target=target, files=files, caption=fields.caption
        )

    def _url_request(
        self, order: SendOrder, url: str, caps: Capabilities, target: BaseModel
    ) -> MediaRequest:
        fields = order.fields
        self._check_count(fields.provider, fields.media_type, 1, caps)
        mime = normalize(fields.file_type) or type_from_url(urlsplit(url).path)
        if not mime:
            raise _invalid("file_type", "the URL's type cannot be inferred; give file_type")
        media_type = self._media_type(fields.media_type, category(mime), [mime])
        self._check_accepted(fields.provider, caps, media_type, mime, url)
        return MediaRequest(
            media_type=media_type,
            target=target,
            url=url,
            content_type=mime,
            caption=fields.caption,
        )

    @staticmethod
    def _check_count(
        provider: str, wanted: MediaType | None, count: int, caps: Capabilities
    ) -> None:
        album = wanted is MediaType.ALBUM or count > 1
        if not album:
            return
        if caps.album_sizes is None:
            raise _invalid("file", f"{provider} takes one file per send; albums are not supported")
        low, high = caps.album_sizes
        if not low <= count <= high:
            raise _invalid("file", f"an album takes {low} to {high} images, not {count}")

    @staticmethod
    def _media_type(wanted: MediaType | None, inferred: MediaType, mimes: list[str]) -> MediaType:
        if wanted is None or wanted is inferred:
            return inferred
        raise _invalid(
            "media_type", f"media_type {wanted.value} does not match the media ({', '.join(mimes)})"
        )

    @staticmethod
    def _check_accepted(
        provider: str, caps: Capabilities, media_type: MediaType, mime: str, name: str
    ) -> None:
        if not caps.accepts(media_type, mime):
            accepted = ", ".join(sorted(caps.formats.get(media_type, frozenset()))) or "nothing"
            raise UnsupportedMediaError(
                f"{provider} does not accept {mime} as {media_type.value} ({name!r}); "
                f"it accepts {accepted}."
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
