"""Soak: two gateway replicas sharing one Redis, the simulators as servers, mixed sends with
faults at a fixed concurrency for a bounded time, on loopback only. Every send carries an
Idempotency-Key (also put in the caption, so the simulator's log shows which key each post
belongs to), and a share of them is retried with the same key at the other replica.

It prints: requests by status, posts per key at the simulator (any key posted twice is a
duplicate), 500s, and each gateway's memory at the start and the end.

    make soak                       # 60 s at concurrency 50
    SOAK_SECONDS=20 make soak
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import samples  # noqa: E402

SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
CONCURRENCY = int(os.environ.get("SOAK_CONCURRENCY", "50"))
REDIS = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/14")  # emptied at the start
KEY = "soak-client-key-0123456789"
SECRET, REFRESH, PARTNER = "soak-app-secret-1", "soak-refresh-1", "soak-partner-secret-1"

# (weight, provider, target, expected outcomes): normal sends and each kind of fault.
MIX = [
    (50, "kaizala", {"group_id": "g@1"}),
    (8, "kaizala", {"group_id": "sandbox-500@1"}),  # 5xx after the post: outcome unknown
    (4, "kaizala", {"group_id": "sandbox-slow@1"}),  # timeout after the post
    (8, "kaizala", {"group_id": "sandbox-429@1"}),  # throttled: released, retried
    (8, "kaizala", {"group_id": "sandbox-400@1"}),  # refused: released, media id kept
    (16, "gupshup", {}),
    (6, "gupshup", {"app_id": "sandbox-500"}),  # opens that app's breaker
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(args: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATEWAY_", "KAIZALA_", "GUPSHUP_", "SANDBOX_"))
    }
    process = subprocess.Popen(
        [sys.executable, "-m", *args, "--host", "127.0.0.1", "--port", str(port)],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=log.parent,  # no .env there
    )
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{args} did not start; see {log}")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def main() -> None:
    # The soak's own database, emptied: no breaker or token from an earlier run.
    redis = Redis.from_url(REDIS)
    await redis.flushdb()
    await redis.aclose()
    logs = Path(tempfile.mkdtemp(prefix="soak-"))
    print(f"logs in {logs}")
    kz_port, gs_port = free_port(), free_port()
    kz = start(
        ["uvicorn", "--factory", "simulators.kaizala:from_env"],
        {
            "SANDBOX_PUBLIC_URL": f"http://127.0.0.1:{kz_port}",
            "SANDBOX_APPLICATION_SECRET": SECRET,
            "SANDBOX_REFRESH_TOKEN": REFRESH,
            "SANDBOX_SLOW_S": "3",
        },
        kz_port,
        logs / "kaizala.log",
    )
    gs = start(
        ["uvicorn", "--factory", "simulators.gupshup:from_env"],
        {"SANDBOX_PARTNER_SECRET": PARTNER},
        gs_port,
        logs / "gupshup.log",
    )
    env = {
        "GATEWAY_API_KEYS": KEY,
        "GATEWAY_REDIS_URL": REDIS,
        "GATEWAY_UPSTREAM_TIMEOUT_S": "1",
        "GATEWAY_REQUEST_DEADLINE_S": "5",
        "GATEWAY_RATE_LIMITS": "kaizala=off,gupshup=off",  # the faults are the simulator's
        "GATEWAY_BREAKER_OPEN_S": "2",  # breakers open under these faults; keep traffic going
        "GATEWAY_LOG_LEVEL": "WARNING",
        "KAIZALA_AUTH_URL": f"http://127.0.0.1:{kz_port}",
        "KAIZALA_APPLICATION_ID": "sandbox-application",
        "KAIZALA_APPLICATION_SECRET": SECRET,
        "KAIZALA_REFRESH_TOKEN": REFRESH,
        "GUPSHUP_BASE_URL": f"http://127.0.0.1:{gs_port}",
        "GUPSHUP_PARTNER_EMAIL": "sandbox@example.com",
        "GUPSHUP_PARTNER_SECRET": PARTNER,
        "GUPSHUP_APP_ID": "soak-app",
    }
    ports = [free_port(), free_port()]
    gateways = [start(["gateway"], env, p, logs / f"gateway-{i}.log") for i, p in enumerate(ports)]
    processes = [kz, gs, *gateways]
    try:
        await soak(ports, gateways, kz_port)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


async def soak(ports: list[int], gateways: list[subprocess.Popen[bytes]], kz_port: int) -> None:
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    statuses: collections.Counter[str] = collections.Counter()
    keys_sent: set[str] = set()
    png, pdf = samples.png(), samples.pdf()
    weights = [w for w, *_ in MIX]
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def send(url: str, key: str, provider: str, target: dict[str, str]) -> None:
            data = {"provider": provider, **target}
            if provider == "kaizala":
                data["caption"] = key
                files = {"file": ("a.png", png, "image/png")}
            else:
                files = {"file": ("a.pdf", pdf, "application/pdf")}
            try:
                response = await client.post(
                    f"{url}/send-media",
                    headers={"X-API-Key": KEY, "Idempotency-Key": key},
                    data=data,
                    files=files,
                )
            except httpx.TransportError as exc:
                statuses[f"transport {type(exc).__name__}"] += 1
                return
            replayed = " replayed" if response.headers.get("idempotent-replayed") else ""
            code = response.json().get("code", "ok")
            statuses[f"{response.status_code} {code}{replayed}"] += 1

        async def worker(deadline: float) -> None:
            while time.monotonic() < deadline:
                _, provider, target = random.choices(MIX, weights)[0]
                key = uuid.uuid4().hex
                keys_sent.add(key)
                first, other = random.sample(urls, 2)
                if random.random() < 0.3:
                    # The same key at both replicas at once: a retry racing the original.
                    await asyncio.gather(
                        send(first, key, provider, target), send(other, key, provider, target)
                    )
                else:
                    await send(first, key, provider, target)
                    if random.random() < 0.3:
                        await send(other, key, provider, target)  # a retry after the answer

        await asyncio.sleep(2)  # warm up tokens
        memory: list[list[float]] = [[rss_mib(g.pid) for g in gateways]]
        started = time.monotonic()

        async def sample() -> None:
            while time.monotonic() < started + SECONDS:
                await asyncio.sleep(SECONDS / 6)
                memory.append([rss_mib(g.pid) for g in gateways])

        await asyncio.gather(sample(), *(worker(started + SECONDS) for _ in range(CONCURRENCY)))
        elapsed = time.monotonic() - started
        log = (await client.get(f"http://127.0.0.1:{kz_port}/_sandbox/log")).json()

    # Posts Kaizala acted on or may have acted on; a post it refused (400, 429) delivered
    # nothing, and the contract lets a retry with the same key run again.
    refused = {"sandbox-400@1", "sandbox-429@1"}
    posts = collections.Counter(
        entry["body"]["actionBody"].get("caption")
        for entry in log
        if entry["call"] == "post"
        and isinstance(entry.get("body"), dict)
        and entry["group"] not in refused
    )
    duplicates = {key: n for key, n in posts.items() if key in keys_sent and n > 1}
    total = sum(statuses.values())
    print(f"soak: {SECONDS:g} s, concurrency {CONCURRENCY}, 2 replicas, Redis {REDIS}")
    print(f"requests: {total} in {elapsed:.1f} s ({total / elapsed:.0f}/s); keys: {len(keys_sent)}")
    for status, count in sorted(statuses.items()):
        print(f"  {count:7d}  {status}")
    acted = sum(n for k, n in posts.items() if k in keys_sent)
    print(f"kaizala posts acted on (or maybe acted on) for these keys: {acted}")
    print(f"duplicate actions (a key acted on more than once): {len(duplicates)}")
    print(f"500 answers: {sum(n for s, n in statuses.items() if s.startswith('500'))}")
    for i in range(len(gateways)):
        series = " -> ".join(f"{sample[i]:.1f}" for sample in memory)
        print(f"gateway {i} memory (MiB, every {SECONDS / 6:g} s): {series}")


if __name__ == "__main__":
    asyncio.run(main())
