"""Soak of delivery status: two gateway replicas sharing one Redis, the Gupshup simulator as
the live provider posting its events to the replicas (through a round-robin forwarder, the
load balancer's part), Gupshup sends with `to` at a fixed concurrency for a bounded time, and
one client webhook receiver that fails every third call. On loopback only; it stops by itself.

It prints: sends by status, the callbacks Gupshup posted and the gateways stored, the status
changes the messages went through, the webhooks the receiver got (distinct ids, which must
equal the changes; duplicates: an id answered 2xx more than once), and after a drain phase
the queues' depth and oldest age.

    make soak-events                # 60 s at concurrency 50
    SOAK_SECONDS=20 make soak-events
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import hashlib
import itertools
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.soak import free_port, start  # noqa: E402
from simulators.gupshup_events import ATTEMPTS  # noqa: E402
from tests import samples  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "50"))
DRAIN_S = float(os.environ.get("SOAK_DRAIN_S", "120"))
REDIS = os.environ.get("SOAK_EVENTS_REDIS_URL", "redis://127.0.0.1:6379/11")  # emptied first
KEY = "soak-events-key-0123456789"
PARTNER = "soak-partner-secret-1"
TOKEN = "soak-events-token-0123456789"  # noqa: S105 - the soak's own, on loopback
SECRET = "whsec_" + base64.b64encode(b"soak-webhook-secret-0123456789ab").decode()
# Most messages are delivered and read; some fail (131047) after sent.
RECIPIENTS = [("919876543210", 9), ("10000131047", 1)]


class Forwarder:
    """Gupshup's callbacks, handed to the replicas in turn (a load balancer's part)."""

    def __init__(self, urls: list[str]) -> None:
        self._urls = itertools.cycle(urls)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(15.0, pool=None),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        self.posted = 0

    async def forward(self, request: Request) -> Response:
        self.posted += 1
        answer = await self._client.post(
            f"{next(self._urls)}/providers/gupshup/events",
            content=await request.body(),
            headers={"X-Events-Token": request.headers.get("x-events-token", "")},
        )
        return Response(answer.content, answer.status_code)


class Receiver:
    """A client's webhook endpoint that fails every third call."""

    def __init__(self) -> None:
        self.calls = 0
        self.accepted: collections.Counter[str] = collections.Counter()
        self.failed = 0

    async def hook(self, request: Request) -> Response:
        await request.body()
        self.calls += 1
        if self.calls % 3 == 0:
            self.failed += 1
            return Response(status_code=500)
        self.accepted[request.headers["webhook-id"]] += 1
        return Response(status_code=204)


async def serve(app: Starlette, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn's flag, no event to wait on
        await asyncio.sleep(0.05)
    return server, task


async def main() -> None:
    redis = Redis.from_url(REDIS)
    await redis.flushdb()
    await redis.aclose()
    logs = Path(tempfile.mkdtemp(prefix="soak-events-"))
    print(f"logs in {logs}")
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    forwarder, receiver = Forwarder(urls), Receiver()
    forward_port, hook_port = free_port(), free_port()
    servers = [
        await serve(Starlette(routes=[Route("/providers/gupshup/events", forwarder.forward,
                                            methods=["POST"])]), forward_port),
        await serve(Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])]), hook_port),
    ]  # fmt: skip
    clients = logs / "clients.toml"
    clients.write_text(
        f'[clients.soak]\nkeys_sha256 = ["{hashlib.sha256(KEY.encode()).hexdigest()}"]\n'
        f'[clients.soak.webhook]\nurl = "http://127.0.0.1:{hook_port}/hook"\n'
        f'secret = "{SECRET}"\n'
    )
    gs_port = free_port()
    gs = start(
        ["uvicorn", "--factory", "simulators.gupshup:from_env"],
        {"SANDBOX_PARTNER_SECRET": PARTNER},
        gs_port,
        logs / "gupshup.log",
    )
    env = {
        "GATEWAY_CLIENTS_FILE": str(clients),
        "GATEWAY_REDIS_URL": REDIS,
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{forward_port}",
        "GATEWAY_RATE_LIMITS": "gupshup=off",
        "GATEWAY_WEBHOOK_RETRY_SCHEDULE": "0.5,1,2",
        "GATEWAY_LOG_LEVEL": "WARNING",
        "GUPSHUP_BASE_URL": f"http://127.0.0.1:{gs_port}",
        "GUPSHUP_PARTNER_EMAIL": "sandbox@example.com",
        "GUPSHUP_PARTNER_SECRET": PARTNER,
        "GUPSHUP_APP_ID": "soak-events-app",
        "GUPSHUP_EVENTS_TOKEN": TOKEN,
    }
    gateways = [start(["gateway"], env, p, logs / f"gateway-{i}.log") for i, p in enumerate(ports)]
    try:
        await soak(urls, f"http://127.0.0.1:{gs_port}", forwarder, receiver)
    finally:
        for process in (gs, *gateways):
            process.terminate()
        for process in (gs, *gateways):
            process.wait(timeout=30)
        for server, task in servers:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def soak(urls: list[str], simulator: str, forwarder: Forwarder, receiver: Receiver) -> None:
    statuses: collections.Counter[str] = collections.Counter()
    sent: list[tuple[str, str]] = []  # (replica, message id)
    png = samples.png()
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers={"X-API-Key": KEY}) as client:

        async def one(deadline: float) -> None:
            while time.monotonic() < deadline:
                url = random.choice(urls)
                to = random.choices([r for r, _ in RECIPIENTS], [w for _, w in RECIPIENTS])[0]
                try:
                    answer = await client.post(
                        f"{url}/send-media",
                        data={"provider": "gupshup", "to": to},
                        files={"file": ("a.png", png, "image/png")},
                    )
                except httpx.TransportError as exc:
                    statuses[f"transport {type(exc).__name__}"] += 1
                    continue
                statuses[f"{answer.status_code} {answer.json().get('code', 'ok')}"] += 1
                if answer.status_code == 200:
                    sent.append((url, answer.json()["message_id"]))

        await asyncio.sleep(2)  # the subscription made, tokens warm
        started = time.monotonic()
        await asyncio.gather(*(one(started + SECONDS) for _ in range(CONCURRENCY)))
        elapsed = time.monotonic() - started
        drained = await drain(client, urls, forwarder)
        log = (await client.get(f"{simulator}/_sandbox/log")).json()
        dropped = sum(1 for entry in log if entry["call"] == "event_dropped")
        changes, unfinished = await status_changes(client, sent)
        metrics = [await metric_values(client, url) for url in urls]

    stored_key = 'gateway_events_received_total{provider="gupshup",result="stored"}'
    stored = sum(m.get(stored_key, 0) for m in metrics)
    duplicates = sum(1 for n in receiver.accepted.values() if n > 1)
    total = sum(statuses.values())
    print(f"soak-events: {SECONDS:g} s, concurrency {CONCURRENCY}, 2 replicas, Redis {REDIS}")
    print(f"sends: {total} in {elapsed:.1f} s ({total / elapsed:.0f}/s)")
    for status, count in sorted(statuses.items()):
        print(f"  {count:7d}  {status}")
    print(f"callbacks Gupshup posted: {forwarder.posted}; stored by the gateways: {stored:.0f}")
    print(f"callbacks Gupshup gave up on (no 2xx in {ATTEMPTS} tries): {dropped}")
    print(f"status changes after accepted (from GET /messages): {changes}")
    print(f"messages not yet final (read or failed): {unfinished}")
    print(f"webhook calls: {receiver.calls}, answered 500: {receiver.failed}")
    print(f"distinct webhook ids delivered (2xx): {len(receiver.accepted)} (must equal {changes})")
    print(f"duplicates seen by the receiver (an id answered 2xx twice or more): {duplicates}")
    print(f"drain: {drained}")


async def drain(client: httpx.AsyncClient, urls: list[str], forwarder: Forwarder) -> str:
    """Wait (at most DRAIN_S) until Gupshup posted its last events (none for 3 s) and both
    queues are empty; their depth and oldest age then."""
    deadline = time.monotonic() + DRAIN_S
    started = time.monotonic()
    values: dict[str, float] = {}
    posted, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(1)
        if forwarder.posted != posted:
            posted, quiet_since = forwarder.posted, time.monotonic()
        values = await metric_values(client, urls[0])
        depth = sum(v for k, v in values.items() if k.startswith("gateway_queue_depth{"))
        if depth == 0 and time.monotonic() - quiet_since >= 3:
            break
    queues = ", ".join(
        f"{name.removeprefix('gateway_queue_')} {v:g}"
        for name, v in sorted(values.items())
        if name.startswith(("gateway_queue_depth{", "gateway_queue_oldest_seconds{"))
    )
    return f"{time.monotonic() - started:.1f} s; {queues}"


async def status_changes(client: httpx.AsyncClient, sent: list[tuple[str, str]]) -> tuple[int, int]:
    changes, unfinished = 0, 0
    semaphore = asyncio.Semaphore(32)

    async def read(url: str, message_id: str) -> None:
        nonlocal changes, unfinished
        async with semaphore:
            body: Any = (await client.get(f"{url}/messages/{message_id}")).json()
        changes += len(body["history"]) - 1
        unfinished += body["status"] not in ("read", "failed")

    await asyncio.gather(*(read(url, mid) for url, mid in sent))
    return changes, unfinished


async def metric_values(client: httpx.AsyncClient, url: str) -> dict[str, float]:
    text = (await client.get(f"{url}/metrics")).text
    values = {}
    for line in text.splitlines():
        if match := re.match(r"^(gateway_\S+) (\S+)$", line):
            values[match[1]] = float(match[2])
    return values


if __name__ == "__main__":
    asyncio.run(main())
