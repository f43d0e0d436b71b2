"""How `python -m gateway` serves: uvicorn on httptools (the loop: see gateway.__main__), with
two guards its protocols lack.

- A deadline for request headers. uvicorn waits forever for a header block that is never
  finished, so idle half-open connections pile up until the process runs out of file
  descriptors. Here a connection that has not delivered complete headers within
  GATEWAY_CLIENT_HEADER_TIMEOUT_S of opening (or of its previous response) is closed.
- A cap on concurrency (GATEWAY_MAX_CONCURRENCY): the `/send-media` requests in progress
  in this process, answered with a problem document. Probes, metrics and docs are never
  refused, and idle connections do not count: under load is exactly when a liveness probe
  that failed would restart the pod, and a scrape that failed would hide why.

Request bodies are bounded in time by `gateway.web.middleware.BodyLimitMiddleware`.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.context import bind_request_id, reset_request_id
from gateway.web import problems
from gateway.wiring.settings import Settings

log = logging.getLogger("gateway.server")


class _Guard:
    """Mixed into a uvicorn HTTP protocol (before it in the bases)."""

    # Set by uvicorn's protocols.
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    cycle: Any
    app: ASGIApp
    connections: set[Any]
    tasks: set[asyncio.Task[None]]

    app_state: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Put there by the app's lifespan, which has run before any connection is served.
        serving: Serving = self.app_state.get(SERVING) or Serving()
        self._serving = serving
        self._header_timeout = serving.header_timeout_s
        self._limit = serving.max_concurrency
        self._header_timer: asyncio.TimerHandle | None = None
        self._due: float | None = None  # loop time by which headers must be complete
        self._armed_for: Any = None
        self.app = self._capped(self.app)

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # type: ignore[misc]
        if self._due is not None and self.cycle is not self._armed_for:
            # A new request's headers are complete; its body has its own deadline.
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)  # type: ignore[misc]

    # One timer per connection whose deadline moves: arming and disarming on every request
    # only set `_due`, instead of cancelling one timer and scheduling another each time.
    def _arm(self) -> None:
        if self.transport.is_closing():
            return
        self._armed_for = self.cycle
        self._due = self.loop.time() + self._header_timeout
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(self._due, self._headers_late)

    def _disarm(self) -> None:
        self._due = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self._due is None:
            return  # disarmed since: headers came in time
        if self.loop.time() < self._due:
            # Re-armed since, for a later deadline: wait for that one.
            self._header_timer = self.loop.call_at(self._due, self._headers_late)
            return
        idle = self.cycle is None or self.cycle.response_complete
        if self.cycle is self._armed_for and idle and not self.transport.is_closing():
            log.info(
                "connection closed: no complete request headers in time",
                extra={"timeout_s": self._header_timeout},
            )
            self.transport.close()

    def _capped(self, app: ASGIApp) -> ASGIApp:
        limit, sends = self._limit, self._serving

        async def capped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope.get("path") not in CAPPED_PATHS:
                await app(scope, receive, send)
                return
            if sends.in_flight >= limit:
                await _overloaded(scope, receive, send, limit)
                return
            sends.in_flight += 1
            try:
                await app(scope, receive, send)
            finally:
                sends.in_flight -= 1

        return capped


# What the cap counts: the sends (every other route answers at once, whatever the load).
CAPPED_PATHS = frozenset({"/send-media"})


# The key of `Serving` in the lifespan state uvicorn shares with every connection.
SERVING = "gateway.serving"


@dataclass
class Serving:
    """What the server's guards need, and the sends in progress in this process (every
    connection's protocol shares it): the app's lifespan state, from the settings."""

    header_timeout_s: float = Settings.model_fields["client_header_timeout_s"].default
    max_concurrency: int = Settings.model_fields["max_concurrency"].default
    in_flight: int = 0


async def _overloaded(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    token = bind_request_id(uuid.uuid4().hex)
    try:
        log.warning("over the concurrency limit", extra={"limit": limit})
        body = problems.problem_body(
            code="overloaded",
            status=503,
            title="Overloaded",
            detail=f"The gateway is serving its limit of {limit} sends; retry shortly.",
        )
        response = problems.problem_response(
            body, headers={"Retry-After": "1", "Connection": "close"}
        )
        await response(scope, receive, send)
    finally:
        reset_request_id(token)


class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):  # type: ignore[misc]
    """uvicorn's httptools protocol (llhttp, in C; faster than h11, see bench/README.md) with
    a header deadline and a problem+json concurrency cap."""
