"""Pure ASGI middleware: request ids, access logs, the last-resort error net, the body cap."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import errors
from gateway.context import bind_request_id, reset_request_id

log = logging.getLogger("gateway.access")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContextMiddleware:
    """Binds X-Request-ID (accepted or generated), echoes it, logs one line per request,
    and turns any exception that escaped everything else into a problem response."""

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
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
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
                await errors.render(exc)(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            reset_request_id(token)


class BodyLimitMiddleware:
    """Refuses a body over `limit()` bytes: at once from Content-Length, else while it streams;
    and a body whose next chunk takes longer than `idle()` seconds to arrive.

    Both are read per request because the settings are only known once the app has started.
    """

    def __init__(
        self, app: ASGIApp, *, limit: Callable[[], int], idle: Callable[[], float]
    ) -> None:
        self.app = app
        self.limit = limit
        self.idle = idle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, idle = self.limit(), self.idle()
        declared = _header(scope, "content-length")
        if declared is not None:
            if not declared.isdigit():
                raise errors.InvalidRequestError("Content-Length is not a number.")
            if int(declared) > limit:
                raise _too_large(limit)
        seen = 0
        body_done = False

        async def counting_receive() -> Message:
            nonlocal seen, body_done
            if body_done:
                # After the body only a disconnect can come; waiting for it is not idling.
                return await receive()
            try:
                async with asyncio.timeout(idle):
                    message = await receive()
            except TimeoutError:
                raise errors.RequestTimeoutError(
                    f"The request body stalled for more than {idle:g} s.",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(limit)
                body_done = not message.get("more_body", False)
            return message

        await self.app(scope, counting_receive, send)


def _too_large(limit: int) -> errors.PayloadTooLargeError:
    return errors.PayloadTooLargeError(
        f"The request body is over the gateway's limit of {limit} bytes.",
        headers={"Connection": "close"},
    )


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode()
    for key, value in scope["headers"]:
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None
