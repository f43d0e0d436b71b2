"""The HTTP endpoints: thin handlers that parse, call one service, and return a schema."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from gateway import tracing
from gateway.errors import ShuttingDownError
from gateway.pipeline.clients import Caller
from gateway.pipeline.idempotent import HEADER, check_key
from gateway.pipeline.intake import SendOrder, read_order
from gateway.pipeline.service import MediaService
from gateway.pipeline.spool import spool_writable
from gateway.telemetry import BREAKER_OPEN, READY, current_trace, exposition, redis_up
from gateway.web.answers import JSON, as_response, success_body
from gateway.web.auth import ApiKey, MaybeApiKey
from gateway.web.middleware import ARRIVED
from gateway.web.openapi import ERROR_RESPONSES, READYZ_RESPONSES
from gateway.web.openapi_messages import EVENTS_EXTRA, EVENTS_RESPONSES, MESSAGE_RESPONSES
from gateway.web.problems import problem_body, problem_response
from gateway.web.runtime import Runtime
from gateway.web.schemas import (
    EventsStored,
    Health,
    MessageResponse,
    ProviderMap,
    ProvidersMap,
    Readiness,
    SendMediaResponse,
)


# `async def`: FastAPI would run a plain `def` dependency in a worker thread, per request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@contextlib.asynccontextmanager
async def open_order(request: Request) -> AsyncIterator[SendOrder]:
    """The send's order, read from the body; its spooled files are closed when the block
    ends. A block in the handler, not a generator dependency: FastAPI's machinery for
    those (an exit stack per request) cost more than the rest of the routing."""
    started = time.perf_counter()
    service: MediaService = request.app.state.runtime.service
    # Files are hashed as they arrive only when the hash is read: by the idempotency
    # fingerprint, or by a provider that remembers media by content.
    # A large file goes upstream while it arrives, with an Idempotency-Key too (its
    # fingerprint is bound once the file ended: gateway.pipeline.idempotent).
    keyed = HEADER in request.headers
    hash_files = (lambda provider: True) if keyed else service.reads_digests
    async with read_order(
        request,
        request.app.state.send_models,
        hash_files=hash_files,
        stream_files=service.streams_uploads,
    ) as order:
        intake = time.perf_counter() - started
        tracing.record("intake", intake)
        if (trace := current_trace()) is not None:
            trace.add("intake", intake)
            # A label value only for providers this gateway serves: the field is the
            # caller's, and any other string would be a new time series.
            served = order.fields.provider in request.app.state.runtime.service.served
            trace.provider = order.fields.provider if served else "unknown"
        yield order


CurrentRuntime = Annotated[Runtime, Depends(get_runtime)]
BreakerState = Literal["closed", "open", "half_open", "unknown"]


async def send_media(request: Request, caller: ApiKey) -> Response:
    """Send media by file upload (`multipart/form-data`, one or more `file` parts) or by
    reference (`url`, in a form or a JSON body). Two or more images to Kaizala make an album.

    With an `Idempotency-Key`, a retry never sends twice: a repeat gets the stored answer
    (`Idempotent-Replayed: true`), a repeat while the first runs gets 409.

    Every failure is an `application/problem+json` document with a stable `code`."""

    async with open_order(request) as order:
        return await _send_order(request, order, caller)


async def _send_order(request: Request, order: SendOrder, caller: Caller) -> Response:
    # The runtime from the app, not as two more dependencies to solve on every send.
    runtime: Runtime = request.app.state.runtime
    if runtime.drain.refuses(request.scope.get(ARRIVED, time.monotonic())):
        raise ShuttingDownError(
            "This replica is shutting down; send again (another replica takes it).",
            headers={"Retry-After": "1", "Connection": "close"},
        )
    key = request.headers.get(HEADER)
    if key is None:
        sent = await runtime.service.send(order, client=caller.client, scope=caller.scope)
        return Response(success_body(sent), media_type=JSON)
    answer = await runtime.idempotency.run(caller=caller, key=check_key(key), order=order)
    return as_response(answer)


async def providers_map(runtime: CurrentRuntime, caller: MaybeApiKey) -> ProvidersMap:
    """What each provider accepts, generated from the same declarations every send is
    checked against: its mode (live or sandbox), media types with their MIME types and size
    limits, inputs, album sizes, captions, its own target fields, its circuit breaker and
    its outbound rate limit. With a client's X-API-Key, only the providers it may use."""
    described = await runtime.service.capabilities()
    subscriptions = runtime.events.subscriptions
    shown = {
        name: {**ProviderMap.UNDESCRIBED, **entry, **await subscriptions.describe(name)}
        for name, entry in described.items()
        if caller is None or caller.client.may_use(name)
    }
    return ProvidersMap.model_validate({"providers": shown})


async def get_message(
    runtime: CurrentRuntime,
    caller: ApiKey,
    message_id: Annotated[str, Path(description="As /send-media answered it.")],
) -> Response:
    """A message that a delivering send created (Gupshup with `to`), with its delivery
    status as the provider's events moved it: accepted, sent, delivered, read, or failed
    with why. Only the client that sent it sees it (404 for any other, as for an unknown id).
    """
    message = await runtime.events.messages.get(message_id, caller)
    return Response(
        MessageResponse.model_validate(message.public()).model_dump_json(), media_type=JSON
    )


async def provider_events(
    request: Request,
    runtime: CurrentRuntime,
    provider: Annotated[str, Path(description="The provider posting (gupshup).")],
    token: Annotated[
        str | None,
        Header(
            alias="X-Events-Token",
            description="Gupshup: one of GUPSHUP_EVENTS_TOKEN's tokens (the subscription's "
            "`meta` makes Gupshup send it).",
        ),
    ] = None,
) -> EventsStored:
    """Where a provider posts its messages' events (Gupshup's subscription callbacks:
    version 3, version 2, connectivity checks). Answered 200 once the body is stored; the
    events are applied and the webhooks posted after that. No X-API-Key: the one route to
    expose to the internet."""
    await runtime.events.intake.take(provider, request.headers, request.stream())
    return EventsStored()


async def metrics(runtime: CurrentRuntime) -> Response:
    """Prometheus metrics, text format: requests by route, status, code and client; sends
    by provider, media type, outcome and client; upstream calls by provider, stage and result with
    their latency; bytes uploaded; token refreshes; breaker state. Summed over workers."""
    for name in runtime.modes:
        state = await runtime.service.breaker_state(name)
        if state != "unknown":
            BREAKER_OPEN.labels(name).set(0 if state == "closed" else 1)
    await runtime.events.worker.queues()
    await _readiness(runtime)  # gateway_ready, gateway_redis_up
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def healthz() -> Health:
    """The process is alive."""
    return Health()


async def readyz(runtime: CurrentRuntime) -> Readiness | JSONResponse:
    """Ready to serve: configuration valid, Redis reachable when configured. Says which
    providers are live and which run against the built-in sandbox."""
    readiness = await _readiness(runtime)
    if readiness.status == "ready":
        return readiness
    body = problem_body(
        code="not_ready",
        status=503,
        title="Not ready",
        detail=_not_ready(runtime.drain.active, readiness.redis),
        providers=readiness.providers,
        redis=readiness.redis,
    )
    return problem_response(body)


async def _readiness(runtime: Runtime) -> Readiness:
    """Whether the gateway is ready, and why not; recorded in `gateway_ready` and (with a
    Redis configured) `gateway_redis_up`."""
    redis: Literal["ok", "unreachable", "not_configured"] = "not_configured"
    if runtime.redis is not None:
        try:
            async with asyncio.timeout(2):
                await runtime.redis.ping()
            redis = "ok"
        except Exception:
            redis = "unreachable"
        redis_up(redis == "ok")
    spool = spool_writable()
    modes = runtime.modes
    ready = redis != "unreachable" and spool and not runtime.drain.active
    READY.set(1 if ready else 0)
    return Readiness(
        status="ready" if ready else "not_ready",
        providers=modes,
        redis=redis,
        breakers={
            name: cast(BreakerState, await runtime.service.breaker_state(name)) for name in modes
        },
    )


def _not_ready(draining: bool, redis: str) -> str:
    if draining:
        return "The gateway is shutting down."
    if redis == "unreachable":
        return "Redis (GATEWAY_REDIS_URL) is unreachable."
    return "The temporary directory is not writable: uploads cannot be spooled."


def build_router(send_media_extra: dict[str, Any]) -> APIRouter:
    """The endpoints; /send-media's body is described by `send_media_extra`, generated from
    the providers this gateway knows (see gateway.web.openapi)."""
    router = APIRouter()
    router.add_api_route(
        "/send-media",
        send_media,
        methods=["POST"],
        operation_id="sendMedia",
        summary="Send an image, album, audio, document or video through a provider",
        response_model=SendMediaResponse,
        responses=ERROR_RESPONSES,
        tags=["media"],
        openapi_extra=send_media_extra,
    )
    router.add_api_route(
        "/providers",
        providers_map,
        operation_id="providers",
        response_model=ProvidersMap,
        tags=["media"],
    )
    router.add_api_route(
        "/messages/{message_id}",
        get_message,
        operation_id="getMessage",
        summary="A message's delivery status",
        response_model=MessageResponse,
        responses=MESSAGE_RESPONSES,
        tags=["messages"],
    )
    router.add_api_route(
        "/providers/{provider}/events",
        provider_events,
        methods=["POST"],
        operation_id="providerEvents",
        summary="Provider event callbacks (Gupshup's subscription)",
        response_model=EventsStored,
        responses=EVENTS_RESPONSES,
        tags=["messages"],
        openapi_extra=EVENTS_EXTRA,
    )
    router.add_api_route(
        "/healthz", healthz, operation_id="health", response_model=Health, tags=["operations"]
    )
    router.add_api_route(
        "/readyz",
        readyz,
        operation_id="readiness",
        response_model=Readiness,
        responses=READYZ_RESPONSES,
        tags=["operations"],
    )
    router.add_api_route(
        "/metrics",
        metrics,
        operation_id="metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
        tags=["operations"],
    )
    # Load balancers and `curl -I` probe with HEAD; the documented operation is the GET.
    for path, probe in (("/healthz", healthz), ("/readyz", readyz)):
        router.add_api_route(
            path, probe, methods=["HEAD"], response_model=None, include_in_schema=False
        )
    return router
