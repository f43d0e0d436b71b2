"""Pure ASGI middleware: request ids, access logs, the last-resort error net, the body cap."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import errors, telemetry
from gateway.context import bind_request_id, reset_request_id
from gateway.web import problems

log = logging.getLogger("gateway.access")

REQUEST_ID_HEADER = "x-request-id"
ARRIVED = "gateway.arrived"  # the scope key: when the request arrived, time.monotonic()
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContextMiddleware:
    """Binds X-Request-ID (accepted or generated), echoes it, logs one line per request,
    counts it in the metrics (with a Server-Timing header on sends), and turns any exception
    that escaped everything else into a problem response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = _header(scope, REQUEST_ID_HEADER)
        request_id = offered if offered and _VALID_REQUEST_ID.match(offered) else uuid.uuid4().hex
        token = bind_request_id(request_id)
        started = time.perf_counter()
        scope[ARRIVED] = time.monotonic()
        status = 500
        response_started = False
        timing = scope["path"] == "/send-media"
        trace, trace_token = telemetry.bind_trace()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                if timing and trace.stages:
                    headers["server-timing"] = trace.server_timing()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # Nobody is left to answer; not a gateway failure.
            status = 499
        except Exception as exc:
            if response_started:
                log.error("error after the response started", exc_info=exc)
            else:
                await problems.render(exc)(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            telemetry.observe_request(route, status, trace, seconds)
            telemetry.reset_trace(trace_token)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )
            reset_request_id(token)


@dataclass(frozen=True)
class BodyPolicy:
    """How large a request body may be and how fast it must arrive."""

    limit: int  # bytes in all: the media plus `envelope` for the form around it
    envelope: int
    idle_s: float  # the longest wait for the next chunk
    grace_s: float  # after this, the body must keep up with `min_rate`
    min_rate: int  # bytes per second on average; 0 turns the rate check off


class BodyLimitMiddleware:
    """Guards the request body: refuses one over the limit (at once from Content-Length,
    else while it streams), one that stalls or trickles in slower than the minimum rate,
    and closes the connection after any answer given before the body was read whole, so
    the server stops reading a body nobody will use.

    The policy is read per request because settings are only known once the app started.
    """

    def __init__(self, app: ASGIApp, *, policy: Callable[[], BodyPolicy]) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy()
        declared = _declared_length(scope, policy)
        chunked = _header(scope, "transfer-encoding") is not None
        body = _GuardedBody(policy, receive, done=not (chunked or declared))

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not body.done:
                MutableHeaders(scope=message)["connection"] = "close"
            await send(message)

        await self.app(scope, body.receive, guarded_send)


def _declared_length(scope: Scope, policy: BodyPolicy) -> int | None:
    """The Content-Length, refused at once when it is not a number or over the limit."""
    declared = _header(scope, "content-length")
    if declared is None:
        return None
    if not declared.isdigit():
        raise errors.InvalidRequestError(
            "Content-Length is not a number.", headers={"Connection": "close"}
        )
    if int(declared) > policy.limit:
        raise _too_large(policy, int(declared))
    return int(declared)


class _GuardedBody:
    """One request's body as the app receives it, bounded in size, idle time and rate."""

    def __init__(self, policy: BodyPolicy, receive: Receive, *, done: bool) -> None:
        self._policy = policy
        self._receive = receive
        self._started = time.monotonic()
        self._seen = 0
        self.done = done  # the body was read whole (or there is none)

    async def receive(self) -> Message:
        if self.done:
            # After the body only a disconnect can come; waiting for it is not idling.
            return await self._receive()
        policy = self._policy
        wait = policy.idle_s
        if policy.min_rate:
            # By then the body must have reached min_rate x (time past the grace).
            due = self._started + policy.grace_s + self._seen / policy.min_rate
            wait = min(wait, due - time.monotonic())
        try:
            if wait <= 0:
                raise TimeoutError
            async with asyncio.timeout(wait):
                message = await self._receive()
        except TimeoutError:
            raise _too_slow(policy, wait) from None
        if message["type"] == "http.request":
            self._seen += len(message.get("body", b""))
            if self._seen > policy.limit:
                raise _too_large(policy)
            self.done = not message.get("more_body", False)
        return message


def _too_large(policy: BodyPolicy, declared: int | None = None) -> errors.PayloadTooLargeError:
    size = f"is {declared} bytes" if declared is not None else f"is over {policy.limit} bytes"
    return errors.PayloadTooLargeError(
        f"The request body {size}; the gateway takes at most {policy.limit} bytes: "
        f"{policy.limit - policy.envelope} of media (GATEWAY_MAX_UPLOAD_BYTES) and "
        f"{policy.envelope} for the form around it.",
        headers={"Connection": "close"},
    )


def _too_slow(policy: BodyPolicy, waited: float) -> errors.RequestTimeoutError:
    if waited >= policy.idle_s:
        detail = f"The request body stalled for more than {policy.idle_s:g} s."
    else:
        detail = (
            f"The request body arrived slower than {policy.min_rate} bytes/s "
            f"(GATEWAY_CLIENT_BODY_MIN_RATE) after the first {policy.grace_s:g} s."
        )
    return errors.RequestTimeoutError(detail, headers={"Connection": "close"})


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


# The Swagger UI page: its inline script allowed by its hash, nothing from elsewhere, never
# framed (the page holds the caller's API key while it is open).
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def secure_docs(app: Starlette) -> None:
    """Serves /docs with a Content-Security-Policy, `X-Content-Type-Options: nosniff` and
    `X-Frame-Options: DENY`, by wrapping those routes alone: no other request pays for it."""
    for route in app.router.routes:
        if isinstance(route, Route) and route.path in DOCS_PATHS:
            route.app = _with_docs_headers(route.app)


def _with_docs_headers(page: ASGIApp) -> ASGIApp:
    async def served(scope: Scope, receive: Receive, send: Send) -> None:
        start: Message | None = None
        body = b""

        async def buffered(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            body += message.get("body", b"")
            if message.get("more_body", False):
                return
            assert start is not None
            headers = MutableHeaders(scope=start)
            headers["content-security-policy"] = _docs_policy(body)
            headers["x-content-type-options"] = "nosniff"
            headers["x-frame-options"] = "DENY"
            headers["referrer-policy"] = "no-referrer"
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await page(scope, receive, buffered)

    return served


def _docs_policy(page: bytes) -> str:
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(page)
    )
    return (
        "default-src 'none'; "
        f"script-src 'self' {hashes}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
