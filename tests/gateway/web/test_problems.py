"""Every error becomes the contract's problem document: code, status, retryable, extensions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.exceptions import HTTPException

from gateway import errors
from gateway.context import bind_request_id, reset_request_id
from gateway.web.problems import PROBLEM_JSON, render
from providers import errors as pe

# The contract's table: provider error class -> (code, HTTP status, retryable).
CONTRACT = [
    (pe.MediaRejectedError, "unsupported_media_type", 415, False),
    (pe.MediaTooLargeError, "payload_too_large", 413, False),
    (pe.ProviderRejectedError, "provider_rejected", 400, False),
    (pe.ProviderAuthError, "provider_auth_failed", 502, False),
    (pe.RateLimitedError, "rate_limited", 429, True),
    (pe.ProviderFailedError, "provider_error", 502, True),
    (pe.ProviderTimeoutError, "provider_timeout", 504, True),
    (pe.ProviderUnavailableError, "provider_unavailable", 503, True),
]


def body_of(exc: BaseException) -> tuple[int, dict[str, str], dict[str, Any]]:
    token = bind_request_id("req-1")
    try:
        response = render(exc)
    finally:
        reset_request_id(token)
    assert response.media_type == PROBLEM_JSON
    return response.status_code, dict(response.headers), json.loads(bytes(response.body))


@pytest.mark.parametrize(("kind", "code", "status", "retryable"), CONTRACT)
def test_provider_errors_map_as_the_contract_says(
    kind: type[pe.ProviderError], code: str, status: int, retryable: bool
) -> None:
    retry_after = 7 if kind is pe.RateLimitedError else None
    exc = kind(
        "detail", provider="kaizala", stage=pe.Stage.POST, status=418, message="upstream says",
        retry_after=retry_after, media_id="kz-1",
    )  # fmt: skip
    got_status, headers, body = body_of(exc)
    assert (got_status, body["code"], body["status"], body["retryable"]) == (
        status, code, status, retryable,
    )  # fmt: skip
    assert body["type"] == f"/problems/{code}"
    assert (body["provider"], body["provider_status"], body["provider_message"]) == (
        "kaizala", 418, "upstream says",
    )  # fmt: skip
    assert (body["stage"], body["media_id"], body["request_id"]) == ("post", "kz-1", "req-1")
    assert headers["x-request-id"] == "req-1"
    assert headers.get("retry-after") == (None if retry_after is None else "7")


def test_every_provider_error_class_is_in_the_table() -> None:
    def leaves(cls: type) -> set[type]:
        subs = set(cls.__subclasses__())
        return set().union(*(leaves(s) for s in subs)) if subs else {cls}

    assert leaves(pe.ProviderError) == {kind for kind, *_ in CONTRACT}


@pytest.mark.parametrize(
    ("exc", "code", "status"),
    [
        (errors.InvalidRequestError("bad", errors=[{"field": "x"}]), "validation_error", 422),
        (errors.UnauthorizedError("who"), "unauthorized", 401),
        (errors.RequestTimeoutError("slow"), "request_timeout", 408),
        (errors.UnsupportedMediaError("no"), "unsupported_media_type", 415),
        (errors.PayloadTooLargeError("big"), "payload_too_large", 413),
        (errors.UrlNotAllowedError("no"), "url_not_allowed", 422),
        (errors.UrlFetchFailedError("no"), "url_fetch_failed", 422),
        (HTTPException(404), "not_found", 404),
        (HTTPException(405), "method_not_allowed", 405),
    ],
)
def test_gateway_and_framework_errors(exc: Exception, code: str, status: int) -> None:
    got_status, _, body = body_of(exc)
    assert (got_status, body["code"], body["retryable"], body["provider"]) == (
        status, code, False, None,
    )  # fmt: skip


def test_an_unexpected_error_is_a_500_that_tells_nothing_of_itself() -> None:
    status, _, body = body_of(RuntimeError("db password is hunter2"))
    assert (status, body["code"], body["retryable"]) == (500, "internal_error", False)
    assert "hunter2" not in json.dumps(body)
