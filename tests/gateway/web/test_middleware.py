"""The body guard and the request context, around a tiny ASGI app."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from gateway import errors
from gateway.web.middleware import BodyLimitMiddleware, BodyPolicy, RequestContextMiddleware

pytestmark = pytest.mark.anyio

POLICY = BodyPolicy(limit=1000, envelope=100, idle_s=0.2, grace_s=0.2, min_rate=1000)


def guarded(read_body: bool, policy: BodyPolicy = POLICY) -> Any:
    """The app answers 200 after reading the body, or at once without reading it."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if read_body:
            while (await receive()).get("more_body"):
                pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return BodyLimitMiddleware(app, policy=lambda: policy)


async def run(
    app: Any, headers: list[tuple[bytes, bytes]], chunks: list[tuple[bytes, float]]
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        if not pending:
            await asyncio.sleep(10)
            return {"type": "http.disconnect"}
        body, delay = pending.pop(0)
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await app(scope, receive, send)
    return sent


async def test_an_answer_before_the_body_closes_the_connection() -> None:
    sent = await run(guarded(read_body=False), [(b"content-length", b"10")], [(b"x" * 10, 0)])
    assert (b"connection", b"close") in sent[0]["headers"]


async def test_an_answer_after_the_whole_body_keeps_it_open() -> None:
    sent = await run(guarded(read_body=True), [(b"content-length", b"10")], [(b"x" * 10, 0)])
    assert (b"connection", b"close") not in sent[0]["headers"]


async def test_a_get_without_a_body_keeps_it_open() -> None:
    sent = await run(guarded(read_body=False), [], [])
    assert (b"connection", b"close") not in sent[0]["headers"]


async def test_declared_and_streamed_sizes() -> None:
    with pytest.raises(errors.PayloadTooLargeError, match="at most 1000 bytes: 900 of media"):
        await run(guarded(True), [(b"content-length", b"1001")], [])
    with pytest.raises(errors.InvalidRequestError, match="not a number"):
        await run(guarded(True), [(b"content-length", b"1e3")], [])
    chunked = [(b"transfer-encoding", b"chunked")]
    with pytest.raises(errors.PayloadTooLargeError, match="over 1000 bytes"):
        await run(guarded(True), chunked, [(b"x" * 600, 0), (b"x" * 600, 0)])


async def test_a_stalled_body_and_a_trickled_one() -> None:
    chunked = [(b"transfer-encoding", b"chunked")]
    with pytest.raises(errors.RequestTimeoutError, match=r"stalled for more than 0\.2 s"):
        await run(guarded(True), chunked, [(b"x", 0), (b"x", 0.5)])
    # Never stalls for 0.2 s, but 1 byte every 0.15 s is far below 1000 bytes/s.
    with pytest.raises(errors.RequestTimeoutError, match="slower than 1000 bytes/s"):
        await run(guarded(True), chunked, [(b"x", 0.15)] * 10)
    # The same pace with the rate check off is fine.
    off = BodyPolicy(limit=1000, envelope=100, idle_s=0.2, grace_s=0.2, min_rate=0)
    sent = await run(guarded(True, off), chunked, [(b"x", 0.15)] * 3)
    assert sent[0]["status"] == 200


async def test_request_ids_are_echoed_or_made_and_failures_become_problems() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    app = RequestContextMiddleware(broken)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        kept = await c.get("/", headers={"X-Request-ID": "mine-1"})
        made = await c.get("/", headers={"X-Request-ID": "bad id with spaces"})
    assert kept.headers["x-request-id"] == "mine-1"
    assert kept.status_code == 500
    assert kept.json()["code"] == "internal_error"
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32
