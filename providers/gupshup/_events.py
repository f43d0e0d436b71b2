"""What Gupshup posts about the messages it delivered (its subscription callbacks, version 3
in Meta's format and version 2), read into `providers.events` values, and the subscription
that makes it post them (providers.md, "Message events")."""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Mapping
from typing import Any

from providers.events import ErrorCode, EventError, EventKind, StatusEvent

TOKEN_HEADER = "X-Events-Token"  # noqa: S105 - a header's name
SUBSCRIPTION_TAG = "media-gateway"
SUBSCRIPTION_MODES = "SENT,DELIVERED,READ,FAILED"

# The codes a caller acts on (WhatsApp's and Gupshup's own); any other is provider_error.
ERROR_CODES: dict[int, ErrorCode] = {
    131047: "outside_service_window",
    470: "outside_service_window",
    131026: "undeliverable",
    1002: "not_on_whatsapp",
    1012: "opted_out",
    131052: "media_failed",
    131053: "media_failed",
    1010: "media_failed",
    1011: "media_failed",
    130429: "rate_limited",
    131048: "rate_limited",
    131056: "rate_limited",
    4001: "rate_limited",
}
_KINDS = {kind.value: kind for kind in EventKind if kind not in (EventKind.CHECK, EventKind.OTHER)}
# Gupshup sends seconds, and milliseconds on `enqueued`: no time in seconds is this large.
_MILLISECONDS_FROM = 100_000_000_000


def tokens_of(setting: str | None) -> tuple[bytes, ...]:
    """The accepted tokens: one, or two (comma-separated) during a rotation."""
    if setting is None:
        return ()
    return tuple(t.strip().encode() for t in setting.split(",") if t.strip())


def authentic(tokens: tuple[bytes, ...], headers: Mapping[str, str]) -> bool | None:
    """Whether the callback carries one of the tokens (compared in constant time, every
    token compared); None when no token is configured."""
    if not tokens:
        return None
    offered = (headers.get(TOKEN_HEADER.lower()) or headers.get(TOKEN_HEADER) or "").encode()
    matches = [hmac.compare_digest(offered, token) for token in tokens]
    return bool(offered) and any(matches)


def read(body: Any) -> list[StatusEvent]:
    """The events of one callback body: version 3, version 2, a connectivity check, or
    something else (one `OTHER` event, so it is counted)."""
    if not isinstance(body, dict):
        return [StatusEvent(EventKind.OTHER)]
    if _is_check(body):
        return [StatusEvent(EventKind.CHECK)]
    if isinstance(body.get("entry"), list):
        events = list(_version3(body))
        return events or [StatusEvent(EventKind.OTHER)]
    if body.get("type") == "message-event" and isinstance(body.get("payload"), dict):
        return [_version2(body)]
    return [StatusEvent(EventKind.OTHER)]


def _is_check(body: dict[str, Any]) -> bool:
    payload = body.get("payload")
    inner = payload.get("type") if isinstance(payload, dict) else None
    return body.get("type") == "platform-event" or "connectivity-check" in (
        body.get("type"),
        inner,
    )


def _version3(body: dict[str, Any]) -> Iterator[StatusEvent]:
    for entry in _dicts(body.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                continue
            for status in _dicts(value.get("statuses")):
                kind = _KINDS.get(str(status.get("status", "")).lower(), EventKind.OTHER)
                error = None
                if kind is EventKind.FAILED:
                    first = next(_dicts(status.get("errors")), {})
                    data = first.get("error_data")
                    details = data.get("details") if isinstance(data, dict) else None
                    error = _error(
                        first.get("code"), first.get("title"), details or first.get("message")
                    )
                yield StatusEvent(
                    kind,
                    message_id=_text(status.get("gs_id")),
                    alias=_text(status.get("id")),
                    at=seconds(status.get("timestamp")),
                    error=error,
                )


def _version2(body: dict[str, Any]) -> StatusEvent:
    payload: dict[str, Any] = body["payload"]
    kind = _KINDS.get(str(payload.get("type", "")).lower(), EventKind.OTHER)
    own = _text(payload.get("gsId"))
    # `id` is Gupshup's own id on enqueued and failed, WhatsApp's on the others.
    gupshup_id = kind in (EventKind.ENQUEUED, EventKind.FAILED)
    identifier = _text(payload.get("id"))
    error = None
    if kind is EventKind.FAILED:
        inner = payload.get("payload")
        inner = inner if isinstance(inner, dict) else {}
        error = _error(inner.get("code"), None, inner.get("reason"))
    return StatusEvent(
        kind,
        message_id=own or (identifier if gupshup_id else None),
        alias=None if gupshup_id else identifier,
        at=seconds(body.get("timestamp")),
        error=error,
    )


def _error(code: Any, title: Any, detail: Any) -> EventError:
    number = _number(code)
    mapped: ErrorCode = (
        ERROR_CODES.get(int(number), "provider_error") if number else "provider_error"
    )
    return EventError(
        code=mapped,
        provider_code=None if code is None else str(code)[:32],
        title=_text(title),
        detail=_text(detail),
    )


def seconds(value: Any) -> float:
    """A Gupshup timestamp (seconds or milliseconds, a number or a string) in seconds;
    0.0 when there is none."""
    number = _number(value)
    if number is None or number <= 0:
        return 0.0
    return number / 1000.0 if number >= _MILLISECONDS_FROM else number


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _text(value: Any, most: int = 1024) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return value[:most] if isinstance(value, str) and value else None


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (item for item in value if isinstance(item, dict))


def subscription_form(url: str, token: bytes) -> dict[str, str]:
    """The form that creates the gateway's version-3 subscription of an app."""
    return {
        "modes": SUBSCRIPTION_MODES,
        "tag": SUBSCRIPTION_TAG,
        "url": url,
        "version": "3",
        "showOnUI": "false",
        "meta": json.dumps({TOKEN_HEADER: token.decode()}),
    }


def tagged(body: Any) -> dict[str, Any] | None:
    """The subscription tagged `media-gateway` among those an app lists, if any."""
    listed = body.get("subscriptions") if isinstance(body, dict) else None
    return next((s for s in _dicts(listed) if s.get("tag") == SUBSCRIPTION_TAG), None)
