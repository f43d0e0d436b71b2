"""The send itself: checked against its provider, then sent behind the provider's circuit
breaker and outbound rate limit."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from gateway.errors import (
    GatewayError,
    QuotaExceededError,
    StoreUnavailableError,
    field_error,
    invalid,
)
from gateway.pipeline.by_url import fetched_request
from gateway.pipeline.checks import check_fields, files_request, refusal, url_request
from gateway.pipeline.clients import ANONYMOUS, EVERYONE, Client
from gateway.pipeline.downloading import LiveDownload
from gateway.pipeline.fetch import Fetcher
from gateway.pipeline.fields import non_null
from gateway.pipeline.intake import SendOrder
from gateway.pipeline.streaming import STREAM_FROM, LiveUpload
from gateway.state.guards import BreakerPolicy, Guards, MemoryGuards
from gateway.telemetry import UNGUARDED
from providers import Capabilities, Delivery, MediaRequest, MediaType, Provider, ProviderSpec
from providers.base import (
    AnnouncesDelivery,
    ChecksRequests,
    DescribesItself,
    RemembersMedia,
    ResolvesTargets,
    StreamsUploads,
)
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

# What the gateway does with a send that delivered (it has a message id): record its message
# (gateway.delivery.messages). Given the send, its client, the client's key scope, and the
# resolved target; it must never fail the send, which was made.
OnDelivered = Callable[["Sent", Client, str, BaseModel], Awaitable[None]]


@dataclass(frozen=True)
class Served:
    """One provider this gateway serves: its spec (with the operator's rate limit, if any,
    in place of the vendor's), its adapter, and whether it runs live or on its sandbox."""

    spec: ProviderSpec
    adapter: Provider
    mode: Literal["live", "sandbox"]


@dataclass(frozen=True)
class Sent:
    """A successful send: which media type went out and what the provider answered."""

    provider: str
    media_type: MediaType
    delivery: Delivery
    sandbox: bool


@dataclass(frozen=True)
class _Abilities:
    """What one adapter can do beyond `Provider`, asked once (an isinstance against a
    runtime-checkable Protocol costs 10 µs: too much for every send)."""

    resolve: Callable[[BaseModel], BaseModel] | None
    check: Callable[[MediaRequest], None] | None
    describe: Callable[[], Mapping[str, Any]] | None
    remembers_media: bool
    streams_uploads: bool
    announces_delivery: bool

    @classmethod
    def of(cls, adapter: Provider) -> _Abilities:
        return cls(
            resolve=adapter.resolve if isinstance(adapter, ResolvesTargets) else None,
            check=adapter.check if isinstance(adapter, ChecksRequests) else None,
            describe=adapter.describe if isinstance(adapter, DescribesItself) else None,
            remembers_media=isinstance(adapter, RemembersMedia) and adapter.remembers_media,
            streams_uploads=isinstance(adapter, StreamsUploads) and adapter.streams_uploads,
            announces_delivery=isinstance(adapter, AnnouncesDelivery)
            and adapter.announces_delivery,
        )


class MediaService:
    """Validates a send order against its provider, fetches URLs it must, and sends."""

    def __init__(
        self,
        served: Mapping[str, Served],
        fetcher: Fetcher,
        *,
        max_upload_bytes: int,
        deadline_s: float | None = None,
        guards: Guards | None = None,
        breaker: BreakerPolicy | None = None,
        on_delivered: OnDelivered | None = None,
    ) -> None:
        self.served = dict(served)
        self._on_delivered = on_delivered
        self._fetcher = fetcher
        self._max_upload_bytes = max_upload_bytes
        self._deadline_s = deadline_s
        self.guards = guards or MemoryGuards()
        self._breaker = breaker or BreakerPolicy(failures=5, open_s=30.0, trial_s=60.0)
        self._abilities = {name: _Abilities.of(s.adapter) for name, s in served.items()}

    async def send(
        self,
        order: SendOrder,
        *,
        client: Client = EVERYONE,
        scope: str = ANONYMOUS,
        reuse_media_id: str | None = None,
        before_delivery: BeforeDelivery | None = None,
    ) -> Sent:
        """Check the order against its provider, fetch what must be fetched, and send.
        `client`: who sends, whose scope and quota apply and whose remembered media ids
        are used; `scope`: its key's (whose the send's message is); `reuse_media_id`: what
        an earlier attempt of this same send obtained; `before_delivery`: awaited just
        before the call that delivers may leave.

        An order with a live file (still arriving) is checked on the parts before it and
        sent as it comes; what a failure of that comes to is `LiveUpload.settle`'s to say
        (the request sent whole, store-and-forward, or the error answered)."""
        live = order.live
        who = (client, scope)
        if live is None:
            return await self._send(order, who, reuse_media_id, before_delivery)
        try:
            sent = await self._send(order, who, reuse_media_id, before_delivery)
        except (GatewayError, ProviderError) as exc:
            fallback = await live.settle(exc)  # or raises what to answer
        else:
            log.info("upload streamed as it arrived", extra={"bytes": live.size})
            return sent
        log.info(fallback.value)
        return await self._send(await order.whole(), who, reuse_media_id, before_delivery)

    def streams_uploads(self, name: str | None) -> bool:
        """Whether a large file for the provider `name` may be sent while it arrives."""
        abilities = self._abilities.get(name) if name is not None else None
        return abilities is not None and abilities.streams_uploads

    def reads_digests(self, name: str | None) -> bool:
        """Whether the provider `name` reads each file's SHA-256 (true when not known)."""
        abilities = self._abilities.get(name) if name is not None else None
        return abilities is None or abilities.remembers_media

    async def _send(
        self,
        order: SendOrder,
        who: tuple[Client, str],
        reuse_media_id: str | None,
        before_delivery: BeforeDelivery | None,
    ) -> Sent:
        client, scope = who
        name = order.fields.provider
        served = self.served.get(name)
        if served is None:
            names = ", ".join(sorted(self.served)) or "none"
            raise invalid([field_error("provider", f"unknown provider; configured: {names}")])
        caps = served.adapter.capabilities
        target = self._resolved(name, check_fields(order, served.spec.target, caps))
        client.check(name, target)  # its scope, after the ids were checked for their form
        with request_deadline(self._deadline_s):
            async with self._media(order, caps, target, name) as request:
                if (check := self._abilities[name].check) is not None:
                    try:
                        check(request)
                    except TargetError as exc:
                        raise refusal(exc) from None
                request = dataclasses.replace(
                    request,
                    owner=client.name,
                    reuse_media_id=reuse_media_id,
                    before_delivery=before_delivery,
                )
                await self._take_quota(client)
                arriving = order.live or _downloading(request)
                delivery = await self._guarded(name, served, request, arriving)
        sent = Sent(name, request.media_type, delivery, served.mode == "sandbox")
        if delivery.message_id is not None and self._on_delivered is not None:
            try:
                await self._on_delivered(sent, client, scope, target)
            except Exception:
                log.exception("a delivered send's message could not be recorded")
        return sent

    @contextlib.asynccontextmanager
    async def _media(
        self, order: SendOrder, caps: Capabilities, target: BaseModel, name: str
    ) -> AsyncIterator[MediaRequest]:
        url, limit = order.fields.url, self._max_upload_bytes
        if order.files:
            yield files_request(order, order.files, caps, target, max_upload_bytes=limit)
            return
        assert url is not None
        if caps.url_passthrough:
            yield url_request(order, url, caps, target)
            return
        async with fetched_request(
            order,
            url,
            caps,
            target,
            fetcher=self._fetcher,
            max_upload_bytes=limit,
            stream_from=STREAM_FROM if self.streams_uploads(name) else None,
        ) as request:
            yield request

    async def capabilities(self) -> dict[str, dict[str, Any]]:
        """Each provider's capability map, from the declarations sends are checked against."""
        return {name: await self._described(name) for name in self.served}

    async def _described(self, name: str) -> dict[str, Any]:
        served, describe = self.served[name], self._abilities[name].describe
        spec, caps = served.spec, served.adapter.capabilities
        target = spec.target.model_json_schema()
        required = set(target.get("required", []))
        most = min(self._max_upload_bytes, caps.max_file_bytes or self._max_upload_bytes)
        return {
            "mode": served.mode,
            "inputs": ["file", "url"],
            "url": "passed_on" if caps.url_passthrough else "downloaded",
            "media_types": {
                media_type.value: {"mime_types": sorted(mimes), "max_bytes": most}
                for media_type, mimes in caps.formats.items()
            },
            "album_sizes": caps.album_sizes,
            "captions": caps.captions,
            "target_fields": {
                field: {**_plain(schema), "required": field in required}
                for field, schema in target.get("properties", {}).items()
            },
            "breaker": await self.breaker_state(name),
            "rate_limit": None
            if spec.rate_limit is None
            else {
                "calls": spec.rate_limit[0],
                "per_seconds": spec.rate_limit[1],
                "calls_per_send": spec.calls_per_send,
                "per": "partition" if spec.partition else "provider",
            },
            **(describe() if describe is not None else {}),
        }

    def partition_of(self, name: str, target: BaseModel | None = None) -> str:
        """The breaker and rate-limit key of a send; without a target, that of a send with
        the target's defaults (for Gupshup, the default app)."""
        spec = self.served[name].spec
        if spec.partition is None:
            return name
        if target is None:
            # Its defaults, unvalidated, as the provider resolves them.
            target = self._resolved(name, spec.target.model_construct())
        return f"{name}:{spec.partition(target)}"

    def default_target(self, name: str) -> BaseModel:
        """The target of a send that names none of the target's fields, its defaults applied
        (for Gupshup, the default app)."""
        return self._resolved(name, self.served[name].spec.target.model_construct())

    def _resolved(self, name: str, target: BaseModel) -> BaseModel:
        """The target as the provider will serve it: its defaults applied."""
        resolve = self._abilities[name].resolve
        return resolve(target) if resolve is not None else target

    async def breaker_state(self, name: str) -> str:
        try:
            return await self.guards.state(self.partition_of(name))
        except StoreUnavailableError:
            return "unknown"

    async def _guarded(
        self,
        name: str,
        served: Served,
        request: MediaRequest,
        live: LiveUpload | LiveDownload | None,
    ) -> Delivery:
        """The send, behind its partition's circuit breaker and outbound rate limit; a
        failure of the `live` file (the caller's upload, or a download) is not counted
        against the provider."""
        key = self.partition_of(name, request.target)
        try:
            await self._admit(name, key, served.spec)
        except StoreUnavailableError:
            # Shared state is down: sends without an Idempotency-Key go on, unguarded.
            log.warning("breaker and rate limit skipped: shared state unreachable")
            UNGUARDED.labels("limits").inc()
        if not self._abilities[name].announces_delivery:
            # It does not say which of its calls delivers: any of them may.
            await request.delivering(request.reuse_media_id)
        try:
            delivery = await served.adapter.send(request)
        except TargetError as exc:
            raise refusal(exc) from None
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

    async def _take_quota(self, client: Client) -> None:
        """Refuse (429) a send over the client's own quota, shared by the replicas."""
        if client.sends_per_minute is None:
            return
        try:
            wait = await self.guards.take(
                f"quota:{client.name}", (client.sends_per_minute, 60.0), 1
            )
        except StoreUnavailableError:
            log.warning("client quota skipped: shared state unreachable")
            UNGUARDED.labels("quota").inc()
            return
        if wait:
            seconds = max(1, math.ceil(wait))
            raise QuotaExceededError(
                f"This client's quota of {client.sends_per_minute} sends a minute is used up; "
                f"retry in {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )

    async def _admit(self, name: str, key: str, spec: ProviderSpec) -> None:
        """Refuse a send the breaker or the outbound rate limit does not let through."""
        wait = await self.guards.allow(key, self._breaker)
        if wait:
            raise ProviderUnavailableError(
                f"{name} failed {self._breaker.failures} times in a row; the gateway "
                f"stops calling it for {self._breaker.open_s:g} s (circuit open)",
                provider=name,
                stage=None,
                retry_after=math.ceil(wait),
                request_sent=False,
            )
        if spec.rate_limit is None:
            return
        wait = await self.guards.take(key, spec.rate_limit, spec.calls_per_send)
        if wait:
            calls, period = spec.rate_limit
            raise RateLimitedError(
                f"over {name}'s outbound limit of {calls} calls per {period:g} s",
                provider=name,
                stage=None,
                retry_after=max(1, math.ceil(wait)),
                request_sent=False,
            )

    async def _record(self, key: str, *, ok: bool) -> None:
        try:
            await self.guards.record(key, ok, self._breaker)
        except StoreUnavailableError:
            log.warning("breaker not updated: shared state unreachable")


def _downloading(request: MediaRequest) -> LiveDownload | None:
    """The download still arriving that the request sends, if any."""
    return next((f.live for f in request.files if isinstance(f.live, LiveDownload)), None)


def _plain(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's JSON Schema as plain X, without pydantic's title and default."""
    return {k: v for k, v in non_null(schema).items() if k not in ("title", "default")}
