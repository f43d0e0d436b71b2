"""The HTTP endpoints: thin handlers that parse, call one service, and return a schema."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from gateway.errors import ShuttingDownError
from gateway.pipeline.idempotent import HEADER, caller_scope, check_key
from gateway.pipeline.intake import SendOrder, read_order
from gateway.pipeline.service import MediaService
from gateway.pipeline.spool import spool_writable
from gateway.telemetry import BREAKER_OPEN, current_trace, exposition
from gateway.web.answers import JSON, as_response, success_body
from gateway.web.auth import ApiKey
from gateway.web.middleware import ARRIVED
from gateway.web.problems import problem_body, problem_response
from gateway.web.runtime import Runtime
from gateway.web.schemas import (
    Health,
    Problem,
    ProviderMap,
    ProvidersMap,
    Readiness,
    SendMediaResponse,
)


# `async def`: FastAPI would run a plain `def` dependency in a worker thread, per request.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_service(runtime: Annotated[Runtime, Depends(get_runtime)]) -> MediaService:
    return runtime.service


@contextlib.asynccontextmanager
async def open_order(request: Request) -> AsyncIterator[SendOrder]:
    """The send's order, read from the body; its spooled files are closed when the block
    ends. A block in the handler, not a generator dependency: FastAPI's machinery for
    those (an exit stack per request) cost more than the rest of the routing."""
    started = time.perf_counter()
    service: MediaService = request.app.state.runtime.service
    # Files are hashed as they arrive only when the hash is read: by the idempotency
    # fingerprint, or by a provider that remembers media by content.
    # A large file goes upstream while it arrives, unless an Idempotency-Key needs its hash
    # for the fingerprint before anything is sent.
    keyed = HEADER in request.headers
    hash_files = (lambda provider: True) if keyed else service.reads_digests
    stream_files = (lambda provider: False) if keyed else service.streams_uploads
    async with read_order(
        request,
        request.app.state.send_models,
        hash_files=hash_files,
        stream_files=stream_files,
    ) as order:
        if (trace := current_trace()) is not None:
            trace.add("intake", time.perf_counter() - started)
            # A label value only for providers this gateway serves: the field is the
            # caller's, and any other string would be a new time series.
            served = order.fields.provider in request.app.state.runtime.modes
            trace.provider = order.fields.provider if served else "unknown"
        yield order


Service = Annotated[MediaService, Depends(get_service)]
CurrentRuntime = Annotated[Runtime, Depends(get_runtime)]

REQUEST_ID = "3f6c2a9e8b1d4e7fa05c9d2b6e4f8a10"


def _example(
    status: int,
    code: str,
    title: str,
    detail: str,
    provider: str | None = None,
    provider_status: int | None = None,
    provider_message: str | None = None,
    retryable: bool | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    return problem_body(
        code=code,
        status=status,
        title=title,
        detail=detail,
        provider=provider,
        provider_status=provider_status,
        provider_message=provider_message,
        retryable=retryable,
        request_id=REQUEST_ID,
        **extensions,
    )


def _error(description: str, *examples: dict[str, Any]) -> dict[str, Any]:
    content = {"examples": {e["code"] + str(i or ""): {"value": e} for i, e in enumerate(examples)}}
    return {"model": Problem, "description": description, "content": {"application/json": content}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error(
        "The provider refused the request (`provider_rejected`).",
        _example(
            400, "provider_rejected", "Provider rejected the request",
            "gupshup refused the request", "gupshup", 400,
            "Only CAPI apps allowed to generate media ID", stage="upload",
        ),
    ),
    401: _error(
        "Missing or unknown X-API-Key (`unauthorized`).",
        _example(401, "unauthorized", "Unauthorized", "The X-API-Key header is required."),
    ),
    408: _error(
        "The request body stalled or arrived too slowly (`request_timeout`).",
        _example(
            408, "request_timeout", "Request timeout",
            "The request body stalled for more than 30 s.",
        ),
    ),
    409: _error(
        "A request with the same Idempotency-Key is still being served "
        "(`idempotency_conflict`); see Retry-After.",
        _example(
            409, "idempotency_conflict", "Idempotency conflict",
            "A request with this Idempotency-Key is still being served; retry after it ends.",
        ),
    ),
    413: _error(
        "Over the gateway's or the provider's size limit (`payload_too_large`).",
        _example(
            413, "payload_too_large", "Payload too large",
            "'clip.mp4' is 157286400 bytes; gupshup takes at most 104857600.",
        ),
    ),
    415: _error(
        "Type not accepted, or bytes contradict the declared type (`unsupported_media_type`).",
        _example(
            415, "unsupported_media_type", "Unsupported media type",
            "'photo.png' is declared as image/png but its bytes are application/pdf.",
        ),
    ),
    422: _error(
        "Malformed request (`validation_error`), or a URL the gateway will not or could "
        "not fetch (`url_not_allowed`, `url_fetch_failed`).",
        _example(
            422, "validation_error", "Invalid request",
            "group_id: group_id is required by kaizala",
            errors=[
                {"field": "group_id", "message": "group_id is required by kaizala",
                 "type": "value_error"}
            ],
        ),
        _example(
            422, "url_not_allowed", "URL not allowed",
            "The URL's host resolves to an internal address (private, loopback, link-local "
            "or otherwise not public); the gateway does not fetch from those.",
        ),
        _example(422, "url_fetch_failed", "URL fetch failed", "The URL answered HTTP 404."),
        _example(
            422, "idempotency_conflict", "Idempotency key reused",
            "This Idempotency-Key was used for a different request (another provider, fields "
            "or files); use a new key for a new request.",
        ),
    ),
    429: _error(
        "The provider throttled (`rate_limited`); see Retry-After.",
        _example(
            429, "rate_limited", "Rate limited", "kaizala answered 429 at post", "kaizala",
            429, "Too many requests", stage="post", retry_after=7,
        ),
    ),
    500: _error(
        "The gateway failed unexpectedly (`internal_error`); the request id finds it in the logs.",
        _example(
            500, "internal_error", "Internal error",
            "The gateway failed unexpectedly; the request id identifies it in the logs.",
        ),
    ),
    502: _error(
        "The provider failed (`provider_error`), refused the gateway's credentials "
        "(`provider_auth_failed`), or an earlier attempt with this Idempotency-Key was cut "
        "off while its delivering call was in flight (`interrupted`, outcome unknown).",
        _example(
            502, "provider_error", "Provider error", "gupshup could not process the media",
            "gupshup", 500, "Unable to upload requested Media", stage="upload",
        ),
        _example(
            502, "provider_auth_failed", "Provider refused the gateway",
            "kaizala refused the gateway's access token", "kaizala", 401, None, stage="post",
            media_id="kz-media-0f1e2d3c",
        ),
        _example(
            502, "interrupted", "Send interrupted",
            "An earlier attempt with this Idempotency-Key was cut off while its delivering "
            "call was in flight; the provider may have acted, so the gateway does not send it "
            "again. Check the recipient before sending with a new key.",
            outcome="unknown", media_id="kz-media-0f1e2d3c",
        ),
    ),
    503: _error(
        "The provider cannot be reached (`provider_unavailable`), the gateway is at its "
        "concurrency limit (`overloaded`), or a request with an Idempotency-Key finds the "
        "shared state unreachable (`store_unavailable`).",
        _example(
            503, "provider_unavailable", "Provider unavailable",
            "kaizala could not be reached (ConnectError)", "kaizala",
            stage="upload",
        ),
        _example(
            503, "overloaded", "Overloaded",
            "The gateway is serving its limit of 256 sends; retry shortly.",
        ),
        _example(
            503, "store_unavailable", "Store unavailable",
            "The gateway's shared state (Redis) cannot be reached (ConnectionError).",
        ),
    ),
    504: _error(
        "No answer from the provider in time (`provider_timeout`).",
        _example(
            504, "provider_timeout", "Provider timed out",
            "kaizala gave no complete answer within 60 s", "kaizala", retryable=False,
            stage="post", media_id="kz-media-0f1e2d3c", outcome="unknown",
        ),
    ),
}  # fmt: skip


async def send_media(request: Request, _: ApiKey) -> Response:
    """Send media by file upload (`multipart/form-data`, one or more `file` parts) or by
    reference (`url`, in a form or a JSON body). Two or more images to Kaizala make an album.

    With an `Idempotency-Key`, a retry never sends twice: a repeat gets the stored answer
    (`Idempotent-Replayed: true`), a repeat while the first runs gets 409.

    Every failure is an `application/problem+json` document with a stable `code`."""

    async with open_order(request) as order:
        return await _send_order(request, order)


async def _send_order(request: Request, order: SendOrder) -> Response:
    # The runtime from the app, not as two more dependencies to solve on every send.
    runtime: Runtime = request.app.state.runtime
    if runtime.drain.refuses(request.scope.get(ARRIVED, time.monotonic())):
        raise ShuttingDownError(
            "This replica is shutting down; send again (another replica takes it).",
            headers={"Retry-After": "1", "Connection": "close"},
        )
    key = request.headers.get(HEADER)
    if key is None:
        sent = await runtime.service.send(order)
        return Response(success_body(sent), media_type=JSON)
    caller = caller_scope(request.headers.get("x-api-key") if runtime.api_keys else None)
    answer = await runtime.idempotency.run(caller=caller, key=check_key(key), order=order)
    return as_response(answer)


async def providers_map(service: Service) -> ProvidersMap:
    """What each provider accepts, generated from the same declarations every send is
    checked against: its mode (live or sandbox), media types with their MIME types and size
    limits, inputs, album sizes, captions, its own target fields, its circuit breaker and
    its outbound rate limit."""
    described = await service.capabilities()
    return ProvidersMap.model_validate(
        {"providers": {name: {**ProviderMap.UNDESCRIBED, **m} for name, m in described.items()}}
    )


async def metrics(runtime: CurrentRuntime) -> Response:
    """Prometheus metrics, text format: requests by route, status and code; sends by
    provider, media type and outcome; upstream calls by provider, stage and result with
    their latency; bytes uploaded; token refreshes; breaker state. Summed over workers."""
    for name in runtime.modes:
        state = await runtime.service.breaker_state(name)
        if state != "unknown":
            BREAKER_OPEN.labels(name).set(0 if state == "closed" else 1)
    body, content_type = exposition()
    return Response(body, media_type=content_type)


async def healthz() -> Health:
    """The process is alive."""
    return Health()


async def readyz(runtime: CurrentRuntime) -> Readiness | JSONResponse:
    """Ready to serve: configuration valid, Redis reachable when configured. Says which
    providers are live and which run against the built-in sandbox."""
    redis = "not_configured"
    if runtime.redis is not None:
        try:
            async with asyncio.timeout(2):
                await runtime.redis.ping()
            redis = "ok"
        except Exception:
            redis = "unreachable"
    spool = spool_writable()
    readiness = Readiness(
        status="ready"
        if redis != "unreachable" and spool and not runtime.drain.active
        else "not_ready",
        providers=runtime.modes,
        redis=redis,
        breakers={name: await runtime.service.breaker_state(name) for name in runtime.modes},
    )
    if readiness.status == "ready":
        return readiness
    body = problem_body(
        code="not_ready",
        status=503,
        title="Not ready",
        detail="The gateway is shutting down."
        if runtime.drain.active
        else "Redis (GATEWAY_REDIS_URL) is unreachable."
        if redis == "unreachable"
        else "The temporary directory is not writable: uploads cannot be spooled.",
        providers=readiness.providers,
        redis=readiness.redis,
    )
    return problem_response(body)


READYZ_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: _error(
        "Not ready (`not_ready`): Redis is unreachable, uploads cannot be spooled (the "
        "temporary directory is not writable), or the gateway is shutting down.",
        _example(
            503, "not_ready", "Not ready", "Redis (GATEWAY_REDIS_URL) is unreachable.",
        ),
    )
}  # fmt: skip


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
