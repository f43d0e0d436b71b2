"""Every error response of every endpoint is rendered here, as RFC 9457 problem+json:
the gateway's own errors (gateway.errors), the providers' (providers.errors, mapped onto the
contract's codes in PROVIDER_CODES), the framework's, and anything unexpected."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from gateway.context import current_request_id
from gateway.errors import GatewayError, invalid, validation_errors
from gateway.errors import retryable as retryable_answer
from gateway.telemetry import note_problem
from providers import errors as pe

log = logging.getLogger("gateway.errors")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "/problems/"


# Provider error class -> (code, HTTP status, title); the first matching base class wins.
PROVIDER_CODES: tuple[tuple[type[pe.ProviderError], str, int, str], ...] = (
    (pe.MediaRejectedError, "unsupported_media_type", 415, "Unsupported media type"),
    (pe.MediaTooLargeError, "payload_too_large", 413, "Payload too large"),
    (pe.ProviderRejectedError, "provider_rejected", 400, "Provider rejected the request"),
    (pe.ProviderAuthError, "provider_auth_failed", 502, "Provider refused the gateway"),
    (pe.RateLimitedError, "rate_limited", 429, "Rate limited"),
    (pe.ProviderTimeoutError, "provider_timeout", 504, "Provider timed out"),
    (pe.ProviderUnavailableError, "provider_unavailable", 503, "Provider unavailable"),
    (pe.ProviderFailedError, "provider_error", 502, "Provider error"),
    (pe.ProviderError, "provider_error", 502, "Provider error"),
)

_HTTP_CODES = {
    400: ("validation_error", 422, "Invalid request"),
    401: ("unauthorized", 401, "Unauthorized"),
    404: ("not_found", 404, "Not found"),
    405: ("method_not_allowed", 405, "Method not allowed"),
    408: ("request_timeout", 408, "Request timeout"),
    413: ("payload_too_large", 413, "Payload too large"),
    415: ("unsupported_media_type", 415, "Unsupported media type"),
}


def problem_body(
    *,
    code: str,
    status: int,
    title: str,
    detail: str,
    provider: str | None = None,
    provider_status: int | None = None,
    provider_message: str | None = None,
    retryable: bool | None = None,
    request_id: str | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    """The one way a problem document is shaped (answers and documented examples alike);
    the request id is the current request's unless one is given."""
    body: dict[str, Any] = {
        "type": f"{TYPE_BASE}{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "provider": provider,
        "provider_status": provider_status,
        "provider_message": provider_message,
        "retryable": retryable_answer(code, status) if retryable is None else retryable,
        "request_id": request_id if request_id is not None else current_request_id(),
    }
    body.update({key: value for key, value in extensions.items() if value is not None})
    note_problem(code)
    return body


def problem_response(
    body: dict[str, Any], *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The one way a problem response is built, from `problem_body`."""
    all_headers = dict(headers or {})
    if body["request_id"]:
        all_headers["X-Request-ID"] = body["request_id"]
    return JSONResponse(
        body, status_code=body["status"], headers=all_headers, media_type=PROBLEM_JSON
    )


def render_gateway_error(exc: GatewayError) -> JSONResponse:
    body = problem_body(
        code=exc.code,
        status=exc.status,
        title=exc.title,
        detail=exc.detail,
        errors=list(exc.errors) if exc.errors is not None else None,
        **dict(exc.extensions or {}),
    )
    return problem_response(body, headers=exc.headers)


def render_provider_error(exc: pe.ProviderError) -> JSONResponse:
    code, status, title = next(
        (code, status, title)
        for kind, code, status, title in PROVIDER_CODES
        if isinstance(exc, kind)
    )
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    log.warning(
        "provider failed",
        extra={
            "provider": exc.provider,
            "stage": exc.stage.value if exc.stage else None,
            "code": code,
            "provider_status": exc.status,
        },
    )
    body = problem_body(
        code=code,
        status=status,
        title=title,
        detail=exc.detail,
        provider=exc.provider,
        provider_status=exc.status,
        provider_message=exc.message,
        # The provider may have acted: retrying could deliver twice. Replaying is safe.
        retryable=False if exc.outcome_unknown else None,
        outcome="unknown" if exc.outcome_unknown else None,
        stage=exc.stage.value if exc.stage else None,
        media_id=exc.media_id,
        retry_after=exc.retry_after,
    )
    return problem_response(body, headers=headers)


def render_unexpected(exc: BaseException) -> JSONResponse:
    log.error("unhandled error", exc_info=(type(exc), exc, exc.__traceback__))
    body = problem_body(
        code="internal_error",
        status=500,
        title="Internal error",
        detail="The gateway failed unexpectedly; the request id identifies it in the logs.",
    )
    return problem_response(body)


def render(exc: BaseException) -> JSONResponse:
    """Any exception as a problem response."""
    if isinstance(exc, GatewayError):
        return render_gateway_error(exc)
    if isinstance(exc, pe.ProviderError):
        return render_provider_error(exc)
    if isinstance(exc, RequestValidationError):
        return render_gateway_error(invalid(validation_errors(exc.errors())))
    if isinstance(exc, StarletteHTTPException):
        code, status, title = _HTTP_CODES.get(
            exc.status_code, ("http_error", exc.status_code, "HTTP error")
        )
        headers = dict(exc.headers) if exc.headers else None
        body = problem_body(code=code, status=status, title=title, detail=str(exc.detail))
        return problem_response(body, headers=headers)
    return render_unexpected(exc)


def install(app: FastAPI) -> None:
    """Route every exception FastAPI sees to `render`."""

    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return render(exc)

    for kind in (GatewayError, pe.ProviderError, RequestValidationError, StarletteHTTPException):
        app.add_exception_handler(kind, handler)
