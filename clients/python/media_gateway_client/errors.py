"""Typed errors from the gateway's problem documents (RFC 9457): one class per family of
codes, each carrying the whole `Problem`."""

from __future__ import annotations

from media_gateway_client._api.models.problem import Problem
from media_gateway_client._api.types import Unset


class GatewayError(Exception):
    """The gateway answered with a problem document: `problem` holds all of it."""

    def __init__(self, problem: Problem, retry_after: float | None = None) -> None:
        super().__init__(f"{problem.status} {problem.code}: {problem.detail}")
        self.problem = problem
        self.retry_after = retry_after  # seconds, from Retry-After or the problem's own

    @property
    def code(self) -> str:
        return self.problem.code

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def retryable(self) -> bool:
        """Whether the same request, with the same Idempotency-Key, may be sent again."""
        return self.problem.retryable

    @property
    def request_id(self) -> str | None:
        return self.problem.request_id

    @property
    def outcome_unknown(self) -> bool:
        """The provider may have acted: never send again with a new key."""
        return not isinstance(self.problem.outcome, Unset) and self.problem.outcome == "unknown"


class InvalidRequestError(GatewayError):
    """The request itself (validation_error, unsupported_media_type, payload_too_large,
    url_not_allowed, url_fetch_failed, request_timeout)."""


class NotAllowedError(GatewayError):
    """The key (unauthorized, forbidden)."""


class NotFoundError(GatewayError):
    """No such message for this client (not_found)."""


class RateLimitedError(GatewayError):
    """The provider's limit or the client's quota (rate_limited, quota_exceeded)."""


class ProviderFailedError(GatewayError):
    """The provider refused, failed, or could not be reached (provider_*)."""


class IdempotencyError(GatewayError):
    """The key is in use, used for another request, or its attempt was cut off
    (idempotency_conflict, interrupted)."""


class UnavailableError(GatewayError):
    """The gateway cannot take the send now (store_unavailable, overloaded, not_ready)."""


class GatewayUnreachableError(Exception):
    """No answer from the gateway at all (connection refused, reset, timed out)."""


_BY_CODE: dict[str, type[GatewayError]] = {
    **dict.fromkeys(
        (
            "validation_error",
            "unsupported_media_type",
            "payload_too_large",
            "url_not_allowed",
            "url_fetch_failed",
            "request_timeout",
        ),
        InvalidRequestError,
    ),
    "unauthorized": NotAllowedError,
    "forbidden": NotAllowedError,
    "not_found": NotFoundError,
    "rate_limited": RateLimitedError,
    "quota_exceeded": RateLimitedError,
    "idempotency_conflict": IdempotencyError,
    "interrupted": IdempotencyError,
    "store_unavailable": UnavailableError,
    "overloaded": UnavailableError,
    "not_ready": UnavailableError,
}


def error_for(problem: Problem, retry_after: float | None = None) -> GatewayError:
    """The typed error of a problem document."""
    if problem.code.startswith("provider_"):
        return ProviderFailedError(problem, retry_after)
    return _BY_CODE.get(problem.code, GatewayError)(problem, retry_after)
