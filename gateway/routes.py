"""The HTTP endpoints: thin handlers that parse, call one service, and return a schema."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from gateway.auth import ApiKey
from gateway.context import current_request_id
from gateway.errors import problem_response
from gateway.intake import SendOrder, read_order
from gateway.runtime import Runtime
from gateway.schemas import Health, Problem, Readiness, SendMediaResponse
from gateway.service import MediaService

router = APIRouter()


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_service(runtime: Annotated[Runtime, Depends(get_runtime)]) -> MediaService:
    return runtime.service


Order = Annotated[SendOrder, Depends(read_order)]
Service = Annotated[MediaService, Depends(get_service)]
CurrentRuntime = Annotated[Runtime, Depends(get_runtime)]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description}
    for status, description in {
        400: "The provider refused the request (`provider_rejected`).",
        401: "Missing or unknown X-API-Key (`unauthorized`).",
        413: "Over the gateway's or the provider's size limit (`payload_too_large`).",
        415: "Type not accepted, or bytes contradict the declared type (`unsupported_media_type`).",
        422: "Malformed request (`validation_error`), or a URL the gateway will not or could "
        "not fetch (`url_not_allowed`, `url_fetch_failed`).",
        429: "The provider throttled (`rate_limited`); see Retry-After.",
        500: "The gateway failed unexpectedly (`internal_error`).",
        502: "The provider failed (`provider_error`) or refused the gateway's credentials "
        "(`provider_auth_failed`).",
        503: "The provider cannot be reached (`provider_unavailable`).",
        504: "No answer from the provider in time (`provider_timeout`).",
    }.items()
}


@router.post(
    "/send-media",
    operation_id="sendMedia",
    summary="Send an image, album, audio, document or video through a provider",
    response_model=SendMediaResponse,
    responses=ERROR_RESPONSES,
    tags=["media"],
)
async def send_media(_: ApiKey, order: Order, service: Service) -> SendMediaResponse:
    """Send media by file upload (`multipart/form-data`, one or more `file` parts) or by
    reference (`url`, in a form or a JSON body). Two or more images to Kaizala make an album.

    Every failure is an `application/problem+json` document with a stable `code`."""
    sent = await service.send(order)
    return SendMediaResponse(
        provider=sent.provider,
        media_type=sent.media_type,
        media_id=sent.delivery.media_id,
        reference_id=sent.delivery.reference_id,
        action_id=sent.delivery.action_id,
        request_id=current_request_id() or "",
    )


@router.get("/healthz", operation_id="health", response_model=Health, tags=["operations"])
async def healthz() -> Health:
    """The process is alive."""
    return Health()


@router.get(
    "/readyz",
    operation_id="readiness",
    response_model=Readiness,
    responses={503: {"model": Problem, "description": "Not ready (`not_ready`)."}},
    tags=["operations"],
)
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
    readiness = Readiness(
        status="ready" if redis != "unreachable" else "not_ready",
        providers=runtime.modes,
        redis=redis,
    )
    if readiness.status == "ready":
        return readiness
    return problem_response(
        code="not_ready",
        status=503,
        title="Not ready",
        detail="Redis (GATEWAY_REDIS_URL) is unreachable.",
        retryable=True,
        providers=readiness.providers,
        redis=readiness.redis,
    )
