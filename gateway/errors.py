"""The errors the gateway raises when it refuses a request on its own.

    GatewayError                 the gateway itself refused the request
    ├── InvalidRequestError      422 validation_error
    ├── UnauthorizedError        401 unauthorized
    ├── ForbiddenError           403 forbidden: outside the client's scope
    ├── NotFoundError            404 not_found: no such message for this client
    ├── QuotaExceededError       429 quota_exceeded: the client's own quota
    ├── RequestTimeoutError      408 request_timeout
    ├── UnsupportedMediaError    415 unsupported_media_type
    ├── PayloadTooLargeError     413 payload_too_large
    ├── UrlNotAllowedError       422 url_not_allowed
    ├── UrlFetchFailedError      422 url_fetch_failed
    ├── IdempotencyConflictError 409 idempotency_conflict: the same key is still running
    ├── IdempotencyMismatchError 422 idempotency_conflict: the key was used for another request
    ├── ShuttingDownError        503 not_ready: this replica is shutting down
    ├── SpoolUnavailableError    503 not_ready: uploads cannot be spooled
    ├── StoreUnavailableError    503 store_unavailable: Redis cannot be reached
    └── SendInterruptedError     502 interrupted: an earlier attempt with the key was cut off
                                 while its delivering call may have left

They are the gateway's own vocabulary, raised by every layer; gateway.web.problems renders
them, and the providers' errors, as problem documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

# The contract's rule, its one statement here: the answers a caller may retry as they are
# (unless their outcome is unknown). The 409 idempotency conflict is one; its 422 twin is not.
RETRYABLE = frozenset(
    {
        ("rate_limited", 429),
        ("quota_exceeded", 429),
        ("provider_error", 502),
        ("provider_timeout", 504),
        ("provider_unavailable", 503),
        ("store_unavailable", 503),
        ("overloaded", 503),
        ("not_ready", 503),
        ("idempotency_conflict", 409),
    }
)


def retryable(code: str, status: int) -> bool:
    """Whether an answer with this code and status may be retried as it is."""
    return (code, status) in RETRYABLE


class GatewayError(Exception):
    """The gateway refused a request on its own, before or instead of the provider."""

    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extensions = extensions


class InvalidRequestError(GatewayError):
    """The request is malformed: missing, unknown or bad fields, or a wrong combination."""

    code, status, title = "validation_error", 422, "Invalid request"


class RequestTimeoutError(GatewayError):
    """The client stopped sending its request body."""

    code, status, title = "request_timeout", 408, "Request timeout"


class UnauthorizedError(GatewayError):
    """The X-API-Key header is missing or unknown."""

    code, status, title = "unauthorized", 401, "Unauthorized"


class ForbiddenError(GatewayError):
    """The client's key is valid, but the send is outside its scope (a provider, a target
    value); `errors` names the field."""

    code, status, title = "forbidden", 403, "Forbidden"

    def __init__(self, detail: str, *, field_name: str) -> None:
        super().__init__(detail, errors=[field_error(field_name, detail)])


class NotFoundError(GatewayError):
    """No such thing for this client (a message id unknown, or another client's)."""

    code, status, title = "not_found", 404, "Not found"


class QuotaExceededError(GatewayError):
    """The client's own send quota is used up for now (not the provider's limit)."""

    code, status, title = "quota_exceeded", 429, "Quota exceeded"


class UnsupportedMediaError(GatewayError):
    """The media's type is not accepted, or its bytes contradict what it claims to be."""

    code, status, title = "unsupported_media_type", 415, "Unsupported media type"


class PayloadTooLargeError(GatewayError):
    """The request or the media is over the configured or provider limit."""

    code, status, title = "payload_too_large", 413, "Payload too large"


class UrlNotAllowedError(GatewayError):
    """The URL points at an address the gateway will not fetch from."""

    code, status, title = "url_not_allowed", 422, "URL not allowed"


class UrlFetchFailedError(GatewayError):
    """The gateway could not download the URL."""

    code, status, title = "url_fetch_failed", 422, "URL fetch failed"


class IdempotencyConflictError(GatewayError):
    """A request with the same Idempotency-Key is still being served."""

    code, status, title = "idempotency_conflict", 409, "Idempotency conflict"


class IdempotencyMismatchError(GatewayError):
    """The Idempotency-Key was used before for a different request."""

    code, status, title = "idempotency_conflict", 422, "Idempotency key reused"


class ShuttingDownError(GatewayError):
    """This replica is shutting down; another one takes the send."""

    code, status, title = "not_ready", 503, "Not ready"


class SpoolUnavailableError(GatewayError):
    """Uploads cannot be spooled: the temporary directory is not writable (or full)."""

    code, status, title = "not_ready", 503, "Not ready"


class StoreUnavailableError(GatewayError):
    """The shared state (Redis) cannot be reached for a request that needs it."""

    code, status, title = "store_unavailable", 503, "Store unavailable"


class SendInterruptedError(GatewayError):
    """An earlier attempt with this Idempotency-Key was cut off (its gateway died, or its
    record could not be finished) while its delivering call may have left."""

    code, status, title = "interrupted", 502, "Send interrupted"


def invalid(problems: Sequence[Mapping[str, Any]]) -> InvalidRequestError:
    """A validation problem whose detail names the first problem of `problems`."""
    first = problems[0]
    detail = f"{first['field']}: {first['message']}" if first.get("field") else first["message"]
    if len(problems) > 1:
        detail += f" (and {len(problems) - 1} more, see errors)"
    return InvalidRequestError(detail, errors=problems)


def field_error(field_name: str, message: str) -> dict[str, Any]:
    """One entry of a validation problem's `errors` list."""
    return {"field": field_name, "message": message, "type": "value_error"}


def validation_errors(raw: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI error entries as the problem's `errors` list: field, message, type."""
    out = []
    for entry in raw:
        location = [str(part) for part in entry.get("loc", ()) if part not in ("body", "query")]
        out.append(
            {
                "field": ".".join(location) or None,
                "message": str(entry.get("msg", "invalid")).removeprefix("Value error, "),
                "type": str(entry.get("type", "value_error")),
            }
        )
    return out
