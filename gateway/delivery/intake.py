"""Provider event callbacks as they arrive (`POST /providers/{provider}/events`): checked
(the provider's token, at most 1 MiB, JSON no deeper than `MAX_DEPTH`) and stored in the
inbox; nothing else happens before the 200, so nothing is lost between it and the store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from gateway.errors import (
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    StoreUnavailableError,
    UnauthorizedError,
)
from gateway.telemetry import EVENTS_RECEIVED
from providers.base import ReceivesEvents

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32  # a v3 status is 8 deep; a deeper body is no provider's


class Inbox(Protocol):
    async def store(self, provider: str, body: bytes) -> None: ...


class BadEventsBodyError(InvalidRequestError):
    """A callback body that is not JSON, or nested too deep (400, as the contract says for
    this route: the provider's request is malformed)."""

    code, status, title = "validation_error", 400, "Invalid request"


class EventIntake:
    """Takes the callbacks of the providers that post events."""

    def __init__(self, receivers: Mapping[str, ReceivesEvents], inbox: Inbox) -> None:
        self._receivers = dict(receivers)
        self._inbox = inbox

    async def take(
        self, provider: str, headers: Mapping[str, str], chunks: AsyncIterator[bytes]
    ) -> None:
        """Check one callback and store it; raises what to answer instead of 200."""
        receiver = self._receivers.get(provider)
        authentic = receiver.events_authentic(headers) if receiver is not None else None
        if authentic is None:
            EVENTS_RECEIVED.labels(_label(provider, self._receivers), "not_configured").inc()
            raise NotFoundError(f"No event callbacks are taken for {provider[:64]!r} here.")
        if not authentic:
            EVENTS_RECEIVED.labels(provider, "unauthorized").inc()
            raise UnauthorizedError("The X-Events-Token header is missing or wrong.")
        body = bytearray()
        async for chunk in chunks:
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                EVENTS_RECEIVED.labels(provider, "too_large").inc()
                raise PayloadTooLargeError(
                    f"An event callback takes at most {MAX_BODY_BYTES} bytes.",
                    headers={"Connection": "close"},
                )
        try:
            check_depth(json.loads(body))
        except (ValueError, RecursionError) as exc:
            EVENTS_RECEIVED.labels(provider, "invalid").inc()
            reason = str(exc) if isinstance(exc, _TooDeepError) else "the body is not JSON"
            raise BadEventsBodyError(f"The callback's {reason}.") from None
        try:
            await self.store(provider, bytes(body))
        except StoreUnavailableError:
            EVENTS_RECEIVED.labels(provider, "store_unavailable").inc()
            raise
        EVENTS_RECEIVED.labels(provider, "stored").inc()

    async def store(self, provider: str, body: bytes) -> None:
        """Store a callback already checked (a sandbox's, from the process)."""
        await self._inbox.store(provider, body)


class _TooDeepError(ValueError):
    pass


def check_depth(value: Any, most: int = MAX_DEPTH) -> None:
    """Refuse JSON nested deeper than `most` (without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > most:
            raise _TooDeepError(f"JSON is nested deeper than {most} levels")
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def _label(provider: str, known: Mapping[str, Any]) -> str:
    # The path's word is the caller's: only a known name becomes a label value.
    return provider if provider in known else "unknown"
