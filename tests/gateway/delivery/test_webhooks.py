"""One webhook attempt: signed as Standard Webhooks says (checked with its library), and
what each answer comes to."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from gateway.delivery.webhooks import WebhookSender
from gateway.pipeline.clients import Client, Clients
from gateway.pipeline.clients import Webhook as Hook
from gateway.state.outbox import WebhookEvent
from gateway.wiring.transport import AiohttpTransport, CookielessClient

pytestmark = pytest.mark.anyio

OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
URL = "https://billing.internal/hooks/media"
NOW = 1_800_000_000.0
README = Path(__file__).resolve().parents[3] / "README.md"


def sender(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    secrets: tuple[str, ...] = (OLD,),
    clock: Callable[[], float] = lambda: NOW,
) -> WebhookSender:
    clients = Clients({"h" * 64: Client("billing", webhook=Hook(URL, secrets))})
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), follow_redirects=False)
    return WebhookSender(
        clients, http, retry_s=3600, schedule=(5, 60), clock=clock, jitter=lambda: 1.0
    )


def event(attempts: int = 0, client: str = "billing", created: float = NOW) -> WebhookEvent:
    body = '{"type":"message.sent","timestamp":"2027-01-15T08:00:00Z","data":{"message_id":"m","status":"sent"}}'
    return WebhookEvent("evt_1", client, "m", body, int(created * 1000), attempts)


async def test_each_secret_signs_and_the_library_verifies_with_either() -> None:
    seen: list[httpx.Request] = []

    def ok(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    # The real clock: the library refuses a timestamp more than 5 minutes from its own.
    attempt = await sender(ok, secrets=(OLD, NEW), clock=time.time).post(event())
    assert (attempt.done, attempt.result) == (True, "ok")
    request = seen[0]
    assert request.headers["webhook-id"] == "evt_1"
    assert request.headers["content-type"] == "application/json"
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (OLD, NEW):
        payload = Webhook(secret).verify(request.content, dict(request.headers))
        assert payload["data"]["message_id"] == "m"
    stranger = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(request.content, dict(request.headers))


async def test_every_attempt_is_signed_afresh_with_its_own_timestamp() -> None:
    seen: list[httpx.Request] = []
    now = [NOW]

    def failing(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500)

    hooks = sender(failing, clock=lambda: now[0])
    await hooks.post(event())
    now[0] += 7
    await hooks.post(event(attempts=1))
    stamps = [r.headers["webhook-timestamp"] for r in seen]
    assert stamps == [str(int(NOW)), str(int(NOW) + 7)]
    assert seen[0].headers["webhook-signature"] != seen[1].headers["webhook-signature"]
    assert seen[0].headers["webhook-id"] == seen[1].headers["webhook-id"]


@pytest.mark.parametrize(
    ("answer", "attempts", "done", "result", "delay"),
    [
        (httpx.Response(200), 0, True, "ok", 0.0),
        (httpx.Response(410), 0, True, "gone", 0.0),
        (httpx.Response(500), 0, False, "retry", 5.0),
        (httpx.Response(500), 1, False, "retry", 60.0),
        (httpx.Response(500), 9, False, "retry", 60.0),  # the last delay repeats
        (httpx.Response(302, headers={"Location": "https://elsewhere"}), 0, False, "retry", 5.0),
        (httpx.Response(429, headers={"Retry-After": "120"}), 0, False, "retry", 120.0),
        (httpx.Response(503, headers={"Retry-After": "1"}), 1, False, "retry", 60.0),
        (httpx.Response(503, headers={"Retry-After": "Thu, 15 Jan 2027 08:00:00 GMT"}), 0,
         False, "retry", 1_800_000_000 - NOW + 0.0),
    ],
)  # fmt: skip
async def test_what_each_answer_comes_to(
    answer: httpx.Response, attempts: int, done: bool, result: str, delay: float
) -> None:
    attempt = await sender(lambda _: answer).post(event(attempts))
    assert (attempt.done, attempt.result) == (done, result)
    assert attempt.delay_s == pytest.approx(max(delay, 0.0 if done else 5.0))


async def test_no_answer_is_retried_and_past_the_window_the_event_expires() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert (await sender(down).post(event())).result == "retry"
    assert (await sender(down).post(event(created=NOW - 3598))).result == "expired"


async def test_a_connection_closed_before_any_answer_is_posted_again_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.webhooks")
    seen: list[httpx.Request] = []

    def closed_once(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        return httpx.Response(204)

    attempt = await sender(closed_once).post(event())
    assert (attempt.done, attempt.result) == (True, "ok")
    assert [r.headers["webhook-id"] for r in seen] == ["evt_1", "evt_1"]
    assert seen[0].headers["webhook-signature"] == seen[1].headers["webhook-signature"]
    posted_again = [r for r in caplog.records if "posted again" in r.getMessage()]
    assert [r.__dict__["webhook_id"] for r in posted_again] == ["evt_1"]  # seen in the logs


@pytest.mark.parametrize(
    ("error", "posts"),
    [
        (httpx.RemoteProtocolError, 2),  # once more at once, then the schedule
        (httpx.ReadTimeout, 1),  # the receiver may be busy with it: the schedule only
        (httpx.ConnectError, 1),
    ],
)
async def test_only_a_closed_connection_is_posted_again_at_once(
    error: type[httpx.TransportError], posts: int
) -> None:
    seen: list[httpx.Request] = []

    def failing(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise error("no answer", request=request)

    attempt = await sender(failing).post(event())
    assert (attempt.done, attempt.result, attempt.delay_s) == (False, "retry", 5.0)
    assert len(seen) == posts


async def test_a_receiver_that_drops_the_first_connection_gets_it_on_the_next() -> None:
    """Over the real transport (aiohttp's pool): a receiver that reads the first post and
    closes the connection without answering, as a server closing a kept-alive connection
    does; the second connection is answered."""
    connections: list[bytes] = []

    async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        connections.append(await reader.readexactly(length))
        if len(connections) > 1:
            writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(receiver, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks"
    clients = Clients({"h" * 64: Client("billing", webhook=Hook(url, (OLD,)))})
    http = CookielessClient(transport=AiohttpTransport(httpx.Limits(max_connections=4)))
    try:
        async with http:
            attempt = await WebhookSender(clients, http, retry_s=3600).post(event())
    finally:
        server.close()
        await server.wait_closed()
    assert (attempt.done, attempt.result) == (True, "ok")
    assert len(connections) == 2
    assert connections[0] == connections[1] == event().body.encode()


async def test_an_event_for_a_client_without_a_webhook_is_dropped() -> None:
    attempt = await sender(lambda _: httpx.Response(200)).post(event(client="gone"))
    assert (attempt.done, attempt.result) == (True, "dropped")


async def test_the_readmes_receiver_snippet_takes_a_signed_post_and_refuses_a_forged_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = README.read_text()
    start = readme.index("```python\nfrom standardwebhooks")
    snippet = readme[start + len("```python\n") : readme.index("```", start + 10)]
    namespace: dict[str, Any] = {}
    exec(snippet.replace('Webhook("whsec_…")', f'Webhook("{OLD}")'), namespace)  # noqa: S102
    seen: list[httpx.Request] = []

    def keep(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    await sender(keep, clock=time.time).post(event())
    signed = seen[0]
    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as receiver:
        ok = await receiver.post("/hooks/media", content=signed.content, headers=signed.headers)
        again = await receiver.post("/hooks/media", content=signed.content, headers=signed.headers)
        forged = await receiver.post(
            "/hooks/media", content=signed.content.replace(b"sent", b"read"), headers=signed.headers
        )
    assert (ok.status_code, again.status_code, forged.status_code) == (204, 204, 400)
    assert capsys.readouterr().out == "message.sent m sent\n"  # once: the repeat is dropped
