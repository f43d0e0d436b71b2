"""The send itself: everything checked against the provider before anything goes upstream."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import math
import posixpath
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from gateway.errors import (
    GatewayError,
    InvalidRequestError,
    PayloadTooLargeError,
    StoreUnavailableError,
    UnsupportedMediaError,
    field_error,
    invalid,
    validation_errors,
)
from gateway.pipeline.fetch import Fetcher
from gateway.pipeline.fields import COMMON_FIELDS, non_null
from gateway.pipeline.intake import SendOrder, Upload
from gateway.pipeline.sniff import (
    category,
    infer_media_type,
    normalize,
    read_head,
    resolve_type,
    type_from_url,
)
from gateway.pipeline.streaming import LiveUpload
from gateway.state.guards import BreakerPolicy, Guards, MemoryGuards
from gateway.telemetry import timed
from providers import Capabilities, Delivery, MediaFile, MediaRequest, MediaType, Provider
from providers.base import ResolvesTargets
from providers.deadline import request_deadline
from providers.errors import (
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    TargetError,
    TransientProviderError,
)
from providers.media import BeforeDelivery

log = logging.getLogger("gateway.service")

MAX_FILENAME = 255


@dataclass(frozen=True)
class OutboundLimit:
    """How a provider's sends are limited: the rate (calls, per seconds) or none, what one
    send costs, and what part of the provider a limit and a breaker apply to."""

    rate: tuple[int, float] | None
    cost: int = 1
    partition: Callable[[Any], str] | None = None


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
        guards: Guards | None = None,
        breaker: BreakerPolicy | None = None,
        limits: Mapping[str, OutboundLimit] | None = None,
    ) -> None:
        self._providers = providers
        self._targets = targets
        self._fetcher = fetcher
        self._max_upload_bytes = max_upload_bytes
        self._deadline_s = deadline_s
        self._sandboxed = frozenset(sandboxed)
        self._guards = guards or MemoryGuards()
        self._breaker = breaker or BreakerPolicy(failures=5, open_s=30.0, trial_s=60.0)
        self._limits = limits or {}
        # Decided once: a runtime-checkable Protocol's isinstance costs 10 µs a send.
        self._resolvers: dict[str, Callable[[BaseModel], BaseModel]] = {
            name: provider.resolve
            for name, provider in providers.items()
            if isinstance(provider, ResolvesTargets)
        }

    async def send(
        self,
        order: SendOrder,
        *,
        reuse_media_id: str | None = None,
        before_delivery: BeforeDelivery | None = None,
    ) -> Sent:
        """Check the order against its provider, fetch what must be fetched, and send.
        `reuse_media_id`: what an earlier attempt of this same send obtained;
        `before_delivery`: awaited just before the call that delivers may leave.

        An order with a live file (still arriving) is checked on the parts before it and
        sent as it comes. When the request turns out not to be the send its first parts
        announced (a field after the file, another file, another length), the streamed upload
        is never completed at the provider, and the request is read to its end, checked and
        sent whole: the answer is the one store-and-forward gives. So it is when the checks
        of the first parts refuse it (a field they lack may come after the file)."""
        live = order.live
        if live is None:
            return await self._send(order, reuse_media_id, before_delivery)
        try:
            sent = await self._send(order, reuse_media_id, before_delivery)
        except (GatewayError, ProviderError) as exc:
            fallback = await live.settle(exc)  # or raises what to answer
        else:
            log.info("upload streamed as it arrived", extra={"bytes": live.size})
            return sent
        log.info(fallback.value)
        return await self._send(await order.whole(), reuse_media_id, before_delivery)

    def streams_uploads(self, name: str | None) -> bool:
        """Whether a large file for the provider `name` may be sent while it arrives."""
        caps = self._capabilities_of(name)
        return caps is not None and caps.streams_uploads

    def reads_digests(self, name: str | None) -> bool:
        """Whether the provider `name` reads each file's SHA-256 (true when not known)."""
        caps = self._capabilities_of(name)
        return caps is None or caps.file_digests

    def _capabilities_of(self, name: str | None) -> Capabilities | None:
        provider = self._providers.get(name) if name is not None else None
        return provider.capabilities if provider is not None else None

    async def _send(
        self,
        order: SendOrder,
        reuse_media_id: str | None,
        before_delivery: BeforeDelivery | None = None,
    ) -> Sent:
        fields = order.fields
        provider = self._providers.get(fields.provider)
        if provider is None:
            names = ", ".join(sorted(self._providers)) or "none"
            raise _invalid("provider", f"unknown provider; configured: {names}")
        caps = provider.capabilities
        target = self._resolved(fields.provider, self._check_fields(order, caps))
        with request_deadline(self._deadline_s):
            async with self._media(order, caps, target) as request:
                if reuse_media_id is not None or before_delivery is not None:
                    request = dataclasses.replace(
                        request, reuse_media_id=reuse_media_id, before_delivery=before_delivery
                    )
                delivery = await self._guarded(fields.provider, provider, request, order.live)
        return Sent(
            fields.provider, request.media_type, delivery, fields.provider in self._sandboxed
        )

    async def capabilities(self) -> dict[str, dict[str, Any]]:
        """Each provider's capability map, from the declarations sends are checked against."""
        described: dict[str, dict[str, Any]] = {}
        for name, provider in self._providers.items():
            caps = provider.capabilities
            target = self._targets[name].model_json_schema()
            required = set(target.get("required", []))
            limit = self._limits.get(name)
            rate = limit.rate if limit is not None else None
            most = min(self._max_upload_bytes, caps.max_file_bytes or self._max_upload_bytes)
            described[name] = {
                "mode": "sandbox" if name in self._sandboxed else "live",
                "inputs": ["file", "url"],
                "url": "passed_on" if caps.url_passthrough else "downloaded",
                "media_types": {
                    media_type.value: {"mime_types": sorted(mimes), "max_bytes": most}
                    for media_type, mimes in caps.formats.items()
                },
                "album_sizes": caps.album_sizes,
                "captions": caps.captions,
                "caption_media_types": sorted(m.value for m in caps.caption_media_types)
                if caps.caption_media_types is not None
                else None,
                "caption_requires": caps.caption_requires,
                "target_fields": {
                    field: {**_plain(schema), "required": field in required}
                    for field, schema in target.get("properties", {}).items()
                },
                "delivery": caps.delivery_field,
                "delivery_max_bytes": {m.value: n for m, n in caps.delivery_max_bytes.items()},
                "delivery_formats": {m.value: sorted(f) for m, f in caps.delivery_formats.items()},
                "breaker": await self.breaker_state(name),
                "rate_limit": None
                if rate is None or limit is None
                else {
                    "calls": rate[0],
                    "per_seconds": rate[1],
                    "calls_per_send": limit.cost,
                    "per": "partition" if limit.partition else "provider",
                },
            }
        return described

    def partition_of(self, name: str, target: BaseModel | None = None) -> str:
        """The breaker and rate-limit key of a send; without a target, that of a send with
        the target's defaults (for Gupshup, the default app)."""
        limit = self._limits.get(name)
        if limit is None or limit.partition is None:
            return name
        if target is None:
            # Its defaults, unvalidated, as the provider resolves them.
            target = self._resolved(name, self._targets[name].model_construct())
        return f"{name}:{limit.partition(target)}"

    def _resolved(self, name: str, target: BaseModel) -> BaseModel:
        """The target as the provider will serve it: its defaults applied."""
        resolve = self._resolvers.get(name)
        return resolve(target) if resolve is not None else target

    async def breaker_state(self, name: str) -> str:
        try:
            return await self._guards.state(self.partition_of(name))
        except StoreUnavailableError:
            return "unknown"

    async def _guarded(
        self, name: str, provider: Provider, request: MediaRequest, live: LiveUpload | None
    ) -> Delivery:
        """The send, behind its partition's circuit breaker and outbound rate limit; a
        failure of the caller's `live` upload is not counted against the provider."""
        key = self.partition_of(name, request.target)
        limit = self._limits.get(name)
        try:
            wait = await self._guards.allow(key, self._breaker)
            if wait:
                raise ProviderUnavailableError(
                    f"{name} failed {self._breaker.failures} times in a row; the gateway "
                    f"stops calling it for {self._breaker.open_s:g} s (circuit open)",
                    provider=name,
                    stage=None,
                    retry_after=math.ceil(wait),
                )
            if limit is not None and limit.rate is not None:
                calls, period = limit.rate
                wait = await self._guards.take(key, limit.cost, calls, period)
                if wait:
                    raise RateLimitedError(
                        f"over {name}'s outbound limit of {calls} calls per {period:g} s",
                        provider=name,
                        stage=None,
                        retry_after=max(1, math.ceil(wait)),
                    )
        except StoreUnavailableError:
            # Shared state is down: sends without an Idempotency-Key go on, unguarded.
            log.warning("breaker and rate limit skipped: shared state unreachable")
        if not provider.capabilities.announces_delivery:
            # It does not say which of its calls delivers: any of them may.
            await request.delivering(request.reuse_media_id)
        try:
            delivery = await provider.send(request)
        except TargetError as exc:
            raise _invalid(exc.field, exc.message) from None
        except ProviderError as exc:
            if live is not None and live.broke_off:
                raise  # the caller's upload failed, not the provider
            failed = isinstance(exc, TransientProviderError) and not isinstance(
                exc, RateLimitedError
            )
            await self._record(key, ok=not failed)
            raise
        await self._record(key, ok=True)
        return delivery

    async def _record(self, key: str, *, ok: bool) -> None:
        try:
            await self._guards.record(key, ok, self._breaker)
        except StoreUnavailableError:
            log.warning("breaker not updated: shared state unreachable")

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
        elif (
            fields.caption
            and caps.caption_requires
            and target is not None
            and getattr(target, caps.caption_requires, None) is None
        ):
            problems.append(
                field_error(
                    "caption",
                    f"{name} takes a caption only with {caps.caption_requires} "
                    "(a delivery); a media upload alone takes none",
                )
            )
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
        with timed("fetch"):
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
                u.live.head if u.live is not None else read_head(u.stream),
                filename=u.filename,
                declared=u.content_type,
                wanted=wanted,
            )
            for u in uploads
        ]
        media_type = self._media_type(wanted, infer_media_type(mimes), mimes)
        for upload, mime in zip(uploads, mimes, strict=True):
            self._check_accepted(fields.provider, caps, media_type, mime, upload.filename)
        if len(uploads) > 1 and media_type is not MediaType.ALBUM:
            raise _invalid(
                "file",
                f"several files make an album, of images only; send one {media_type.value} "
                "per request",
            )
        self._check_delivery(order, caps, target, media_type, uploads, mimes)
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
        self._check_delivery(order, caps, target, media_type, [], [mime])
        return MediaRequest(
            media_type=media_type,
            target=target,
            url=url,
            content_type=mime,
            caption=fields.caption,
        )

    @staticmethod
    def _check_delivery(
        order: SendOrder,
        caps: Capabilities,
        target: BaseModel,
        media_type: MediaType,
        uploads: list[Upload],
        mimes: list[str],
    ) -> None:
        """What a delivery to a person adds: which media types take a caption, which
        formats and what size each media type may have (before anything is uploaded)."""
        name = order.fields.provider
        captionable = caps.caption_media_types
        if order.fields.caption and captionable is not None and media_type not in captionable:
            raise _invalid("caption", f"{name} does not caption {media_type.value}")
        delivering = caps.delivery_field and getattr(target, caps.delivery_field, None)
        formats = caps.delivery_formats.get(media_type) if delivering else None
        for mime in mimes:
            if formats is not None and mime not in formats:
                raise UnsupportedMediaError(
                    f"{name} delivers {media_type.value} as {', '.join(sorted(formats))}, "
                    f"not {mime}; without {caps.delivery_field} it only uploads it."
                )
        most = caps.delivery_max_bytes.get(media_type) if delivering else None
        for upload in uploads:
            if most is not None and upload.size > most:
                raise PayloadTooLargeError(
                    f"{upload.filename!r} is {_megabytes(upload.size)}; {name} delivers "
                    f"{media_type.value} of at most {_megabytes(most)} ({most} bytes)."
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


def _megabytes(size: int) -> str:
    """A size as WhatsApp states its limits: 5 MB for 5 MiB."""
    return f"{size / (1 << 20):.3g} MB"


def shorten_filename(name: str, limit: int = MAX_FILENAME) -> str:
    """`name` cut to `limit` characters, keeping its extension: the provider decides the
    type from it too, so the extension that was checked is the one that is sent."""
    if len(name) <= limit:
        return name
    stem, ext = posixpath.splitext(name)
    if len(ext) >= limit // 2:
        return name[:limit]
    return stem[: limit - len(ext)] + ext


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's JSON Schema as plain X, without pydantic's title and default."""
    return {k: v for k, v in non_null(schema).items() if k not in ("title", "default")}


def _required_by(problem: dict[str, Any], provider: str) -> dict[str, Any]:
    if problem["type"] == "missing":
        return {**problem, "message": f"{problem['field']} is required by {provider}"}
    return problem


def _invalid(field_name: str, message: str) -> InvalidRequestError:
    return invalid([field_error(field_name, message)])


class _InPlace(io.BufferedIOBase):
    """A spooled file, read where it lies. httpx learns a file's length from `fileno()` when
    there is one, and asking a SpooledTemporaryFile for it moves the bytes from memory to a
    new file on disk: one file created, written and removed per send (bench/README.md). With
    no `fileno()`, httpx measures by seeking."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self._file = file

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._file.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


def in_place(file: BinaryIO) -> BinaryIO:
    return cast(BinaryIO, _InPlace(file))
