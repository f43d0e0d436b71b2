"""What several test modules share: problem checks, and requests as a server receives them."""

from __future__ import annotations

import random
from typing import Any

import httpx
from starlette.requests import Request

from tests import samples

PROBLEM_FIELDS = {
    "type", "title", "status", "detail", "code", "provider", "provider_status",
    "provider_message", "retryable", "request_id",
}  # fmt: skip


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["code"] == code
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def socket_request(
    body: bytes, headers: dict[str, str], *, chunk: int = 65536, whole: bool = True
) -> Request:
    """A request whose body arrives in socket-sized chunks; without `whole`, the caller
    goes away after sending `body`."""
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict[str, Any]:
        if not chunks:
            return {"type": "http.disconnect"}
        part = chunks.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(chunks) or not whole}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/send-media",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


def video_of(size: int) -> bytes:
    head = samples.mp4()
    return head + random.Random(size).randbytes(size - len(head))


class FakeClock:
    """A clock the test moves (for the in-process twins of the Redis stores, whose Redis
    twins keep the server's clock)."""

    def __init__(self) -> None:
        self.now = 1.0

    def __call__(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        self.now += seconds
