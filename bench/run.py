"""The gateway against a direct call, side by side in one run.

Starts bench/upstream.py (a minimal server that speaks the Kaizala and Gupshup calls) and the
gateway in live mode pointed at it, both as real uvicorn servers on loopback, then drives the
direct path and the gateway path with the same load tool (wrk) and prints each goal of the
performance issue with its measured value and whether it is met. See bench/README.md.

    make bench                      # or: .venv/bin/python bench/run.py
    BENCH_SECONDS=10 make bench     # longer runs, steadier figures
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import os
import random
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import samples  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "2"))  # per case and round
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))  # each figure: the median of the rounds
BIG_MB = int(os.environ.get("BENCH_BIG_MB", "100"))
HOOKS = int(os.environ.get("BENCH_HOOKS", "1000"))  # messages whose webhooks are timed
API_KEY = "bench-client-key-0123456789abcdef"
LUA = Path(__file__).with_name("post.lua")
GUPSHUP_APP = "bench-app"
EVENTS_TOKEN = "bench-events-token-0123456789"  # noqa: S105 - the bench's own
# One Gupshup v3 callback: a `delivered` for a message ({n}: each post its own, see post.lua).
EVENT = (
    b'{"object":"whatsapp_business_account","gs_app_id":"bench-app","entry":[{"changes":'
    b'[{"field":"messages","value":{"messaging_product":"whatsapp","statuses":[{"gs_id":'
    b'"gs-{n}","id":"wamid.{n}","recipient_id":"919876543210","status":"delivered",'
    b'"timestamp":1796119204}]}}]}]}'
)
GROUP = "bench@1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mp4_file(path: Path, megabytes: int) -> None:
    """An MP4 of `megabytes` MB: a real ftyp box, then one mdat box of noise."""
    size = megabytes * 1_000_000
    ftyp = b"isom\x00\x00\x02\x00isomiso2avc1mp41"
    ftyp = struct.pack(">I", 8 + len(ftyp)) + b"ftyp" + ftyp
    block = random.Random(1).randbytes(1 << 20)
    with path.open("wb") as out:
        out.write(ftyp + struct.pack(">I", size - len(ftyp)) + b"mdat")
        left = size - len(ftyp) - 8
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


@dataclass
class Target:
    """One HTTP request that wrk repeats."""

    url: str
    body: bytes
    content_type: str
    headers: dict[str, str]


def multipart(
    url: str,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes, str]],
    headers: dict[str, str],
) -> Target:
    request = httpx.Request("POST", url, data=fields, files=files)
    body = request.read()
    return Target(url, body, request.headers["content-type"], headers)


def json_target(url: str, body: bytes, headers: dict[str, str]) -> Target:
    return Target(url, body, "application/json", headers)


@dataclass
class Load:
    rps: float
    p50: float  # ms
    p99: float  # ms
    errors: int
    requests: int = 0


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def wrk(target: Target, connections: int, seconds: int, workdir: Path) -> Load:
    body = workdir / f"body-{abs(hash(target.url))}-{len(target.body)}"
    body.write_bytes(target.body)
    env = {
        **os.environ,
        "BENCH_BODY": str(body),
        "BENCH_CONTENT_TYPE": target.content_type,
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in target.headers.items()),
    }
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(LUA),
            target.url,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * _UNIT[m.group(2)]

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert rps, out
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: .*?timeout (\d+)"):
        if m := re.search(pattern, out):
            errors += int(m.group(1))
    done = re.search(r"^\s+(\d+) requests in", out, re.M)
    assert done, out
    return Load(float(rps.group(1)), latency("50"), latency("99"), errors, int(done.group(1)))


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready: str) -> None:
        self.name = name
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        for _ in range(300):
            if self.proc.poll() is not None:
                raise SystemExit(f"{name} exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(ready, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        else:
            raise SystemExit(f"{name} did not become ready")
        self.startup_s = time.perf_counter() - started

    def rss_mib(self, field: str = "VmRSS") -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        m = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
        assert m
        return int(m.group(1)) / 1024

    def reset_peak(self) -> None:
        Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATEWAY_", "KAIZALA_", "GUPSHUP_"))
    }


def uvicorn(app: str, port: int, http: str, loop: str, python: str = sys.executable) -> list[str]:
    """The command for one uvicorn process of `app`, quiet, on the given parser and loop."""
    quiet = ["--no-access-log", "--log-level", "warning"]
    return [
        python,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        *quiet,
        "--http",
        http,
        "--loop",
        loop,
    ]


def start_upstream(http: str, loop: str, files: Path | None = None) -> tuple[Server, str]:
    """bench/upstream.py; with `files`, serving that directory's files for sends by url."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Another interpreter may run the upstream: the same one for a before/after pair.
    python = os.environ.get("BENCH_UPSTREAM_PYTHON", sys.executable)
    argv = uvicorn("bench.upstream:app", port, http, loop, python)
    env = {**clean_env(), **({"BENCH_FILES": str(files)} if files else {})}
    return Server(f"upstream ({http}, {loop})", argv, env, f"{base}/v1/accessToken"), base


def start_naive(upstream: str) -> tuple[Server, str]:
    """bench/naive.py: the proxy a user would write instead, on the gateway's server flags."""
    port = free_port()
    argv = uvicorn("bench.naive:app", port, "httptools", "asyncio")
    base = f"http://127.0.0.1:{port}"
    return Server("naive proxy", argv, {**clean_env(), "BENCH_UPSTREAM": upstream}, base), base


def start_floor(upstream: str) -> tuple[Server, str]:
    """bench/floor.py: a raw ASGI app calling the upstream with aiohttp, checking nothing."""
    port = free_port()
    argv = uvicorn("bench.floor:app", port, "httptools", "asyncio")
    base = f"http://127.0.0.1:{port}"
    return Server("floor", argv, {**clean_env(), "BENCH_UPSTREAM": upstream}, base), base


def clients_file(path: Path, count: int) -> Path:
    """A clients file of `count` clients, the bench's key among them, scoped as a real
    client is (a provider list and target globs), so each send meets the scope check."""
    import hashlib

    rng = random.Random(7)
    lines = []
    for n in range(count - 1):
        digest = hashlib.sha256(rng.randbytes(24)).hexdigest()
        lines += [f"[clients.app-{n}]", f'keys_sha256 = ["{digest}"]', "sends_per_minute = 600"]
        lines += [f"[clients.app-{n}.targets.gupshup]", f'app_id = ["app-{n}-*"]', ""]
    bench = hashlib.sha256(API_KEY.encode()).hexdigest()
    lines += ["[clients.bench]", f'keys_sha256 = ["{bench}"]', 'providers = ["gupshup", "kaizala"]']
    lines += ["[clients.bench.targets.gupshup]", f'app_id = ["{GUPSHUP_APP}", "bench-*"]']
    lines += ["[clients.bench.targets.kaizala]", 'group_id = ["bench*"]', ""]
    path.write_text("\n".join(lines))
    return path


def webhook_clients_file(path: Path, hooks: str) -> Path:
    """The bench's client alone, with a webhook at `hooks` (the upstream counts them)."""
    import hashlib

    secret = "whsec_" + base64.b64encode(b"bench-webhook-secret-0123456789ab").decode()
    bench = hashlib.sha256(API_KEY.encode()).hexdigest()
    lines = ["[clients.bench]", f'keys_sha256 = ["{bench}"]', 'providers = ["gupshup", "kaizala"]']
    lines += ["[clients.bench.webhook]", f'url = "{hooks}"', f'secret = "{secret}"', ""]
    path.write_text("\n".join(lines))
    return path


def deliveries(gateway: str, upstream: str, n: int) -> tuple[float, float]:
    """n Gupshup sends with `to` (n messages), then a `delivered` callback for each, 32 at
    once: (callbacks taken per second, webhooks received per second from the first
    callback on)."""

    async def run() -> tuple[float, float]:
        key = {"X-API-Key": API_KEY}
        limit = asyncio.Semaphore(32)
        run_id = uuid.uuid4().hex
        async with httpx.AsyncClient(timeout=60) as client:

            async def send(i: int) -> str:
                body = {"provider": "gupshup", "to": "919876543210",
                        "url": f"https://files.example.com/hook-{run_id}-{i}.pdf"}  # fmt: skip
                async with limit:
                    answer = await client.post(f"{gateway}/send-media", json=body, headers=key)
                if answer.status_code != 200:
                    raise SystemExit(f"send with to: {answer.status_code} {answer.text[:300]}")
                return str(answer.json()["message_id"])

            async def callback(message_id: str) -> None:
                body = EVENT.replace(b"wamid.{n}", message_id.encode()).replace(
                    b"{n}", message_id.encode()
                )
                headers = {"X-Events-Token": EVENTS_TOKEN, "Content-Type": "application/json"}
                async with limit:
                    answer = await client.post(
                        f"{gateway}/providers/gupshup/events", content=body, headers=headers
                    )
                if answer.status_code != 200:
                    raise SystemExit(f"callback: {answer.status_code} {answer.text[:300]}")

            async def hooked() -> int:
                return int((await client.get(f"{upstream}/bench/hooks")).json()["received"])

            ids = await asyncio.gather(*(send(i) for i in range(n)))
            before = await hooked()
            started = time.perf_counter()
            await asyncio.gather(*(callback(m) for m in ids))
            taken = time.perf_counter() - started
            while await hooked() - before < n:
                # A webhook whose attempt failed is posted again 5 s, then 30 s, then 2 min
                # later (the retry schedule): a round may take that long (one round of about
                # 15 of 2,000 messages once went past 120 s), and the median absorbs it.
                if time.perf_counter() - started > 300:
                    raise SystemExit("webhooks: not all delivered within 300 s")
                await asyncio.sleep(0.01)
            delivered = time.perf_counter() - started
        return n / taken, n / delivered

    return asyncio.run(run())


def bench_redis() -> str | None:
    """The bench's Redis database, emptied (BENCH_REDIS_URL), or None when none listens."""
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.flushdb()
        client.close()
    except redis.RedisError:
        return None
    return url


def start_gateway(
    upstream: str, workers: int, clients: Path | None = None, redis_url: str | None = None
) -> tuple[Server, str]:
    port = free_port()
    keys = {"GATEWAY_CLIENTS_FILE": str(clients)} if clients else {"GATEWAY_API_KEYS": API_KEY}
    if redis_url is not None:
        keys["GATEWAY_REDIS_URL"] = redis_url
    env = {
        **clean_env(),
        **keys,
        # The vendors' outbound quotas would measure the quotas, not the gateway.
        "GATEWAY_RATE_LIMITS": "kaizala=off,gupshup=off",
        "KAIZALA_AUTH_URL": upstream,
        "KAIZALA_APPLICATION_ID": "bench-application",
        "KAIZALA_APPLICATION_SECRET": "bench-application-secret",
        "KAIZALA_REFRESH_TOKEN": "bench-refresh-token",
        "GUPSHUP_BASE_URL": upstream,
        "GUPSHUP_PARTNER_EMAIL": "bench@example.com",
        "GUPSHUP_PARTNER_SECRET": "bench-partner-secret",
        "GUPSHUP_APP_ID": GUPSHUP_APP,
        "GUPSHUP_EVENTS_TOKEN": EVENTS_TOKEN,  # the events route on (no subscription: no URL)
        "GATEWAY_FETCH_ALLOW_PRIVATE": "true",  # sends by url download from the upstream
    }
    base = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gateway", "--port", str(port), "--workers", str(workers)]
    # Logging stays on at INFO (one JSON line per request), written to /dev/null.
    return Server(f"gateway ×{workers}", argv, env, f"{base}/readyz"), base


def curl_upload(url: str, form: list[str], headers: list[str]) -> float:
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url]
    for h in headers:
        argv += ["-H", h.replace("{n}", uuid.uuid4().hex)]  # an Idempotency-Key per upload
    for f in form:
        argv += ["-F", f]
    code, seconds = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    if code != "200":
        raise SystemExit(f"upload to {url} answered {code}")
    return float(seconds)


def by_url(url: str, video_url: str, headers: list[str]) -> float:
    """One send by url through the gateway (curl, as the uploads), its time in seconds."""
    body = json.dumps({"provider": "kaizala", "group_id": GROUP, "url": video_url})
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", url]
    argv += ["-H", "Content-Type: application/json", "--data-binary", body]
    for h in headers:
        argv += ["-H", h]
    code, seconds = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    if code != "200":
        raise SystemExit(f"send by url to {url} answered {code}")
    return float(seconds)


def download_then_upload(video_url: str, upstream: str, form: list[str], token: list[str]) -> float:
    """What a caller would do instead of a send by url: download, then upload."""
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", video_url]
    code, seconds = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()
    if code != "200":
        raise SystemExit(f"{video_url} answered {code}")
    return float(seconds) + curl_upload(f"{upstream}/v1/media", form, token)


def at_once(n: int, one: Callable[[], float]) -> float:
    """Wall time of n calls of `one` at once."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda _: one(), range(n)))
    return time.perf_counter() - started


def uploads(n: int, url: str, form: list[str], headers: list[str]) -> float:
    """Wall time of n uploads at once."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda _: curl_upload(url, form, headers), range(n)))
    return time.perf_counter() - started


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else "met" if ok else "NOT MET"


def median_of(loads: list[Load]) -> Load:
    """The median of each figure over the rounds (each figure on its own)."""
    return Load(
        statistics.median(x.rps for x in loads),
        statistics.median(x.p50 for x in loads),
        statistics.median(x.p99 for x in loads),
        sum(x.errors for x in loads),
        sum(x.requests for x in loads),
    )


def moved(target: Target, old: str, new: str) -> Target:
    return Target(target.url.replace(old, new), target.body, target.content_type, target.headers)


def main() -> None:
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed: apt-get install {tool} (see bench/README.md)")
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    # The yardstick: the upstream on uvicorn's plain stack (h11, asyncio), as in the issue's
    # measurements. The same upstream on httptools is measured too, for reference. It also
    # serves the 100 MB video for the sends by url.
    up, upstream = start_upstream("h11", "asyncio", files=work)
    servers = [up]
    try:
        # Every server up at once, idle but for the one measured: each round measures every
        # case in the same order, and each figure is the median of the rounds.
        gw, gateway = start_gateway(upstream, workers=1)
        servers.append(gw)
        idle_mib = gw.rss_mib()
        floor, floor_url = start_floor(upstream)
        naive, naive_url = start_naive(upstream)
        gwc, gateway_c = start_gateway(upstream, 1, clients_file(work / "clients.toml", 1000))
        gw2, gateway2 = start_gateway(upstream, workers=2)
        servers += [floor, naive, gwc, gw2]
        # Sends with an Idempotency-Key, each its own, on Redis (when one listens).
        keyed_url = bench_redis()
        gateway_k = ""
        if keyed_url is not None:
            # Its one client has a webhook: the deliveries are measured on it too.
            hooks = webhook_clients_file(work / "hooks.toml", f"{upstream}/bench/hooks")
            gwk, gateway_k = start_gateway(upstream, 1, clients=hooks, redis_url=keyed_url)
            servers.append(gwk)
        side = int((10_000 / 3) ** 0.5)
        image = samples.png(side, side, noise=True)  # 10 KB
        key = {"X-API-Key": API_KEY}
        media = "https://files.example.com/report-{n}.pdf"  # {n}: see post.lua

        direct = {
            "gupshup": multipart(
                f"{upstream}/partner/app/{GUPSHUP_APP}/media",
                {"file_type": "application/pdf"},
                {"file": ("", media.encode(), "text/plain")},
                {"Authorization": "sk_bench_app_token"},
            ),
            "upload": multipart(
                f"{upstream}/v1/media",
                {},
                {"files": ("photo.png", image, "image/png")},
                {"accessToken": "bench-access-token-0123456789"},
            ),
            "post": json_target(
                f"{upstream}/v1/groups/bench%401/actions",
                b'{"actionType": "Image", "actionBody": {"mediaResource": "https://m/x"}}',
                {"accessToken": "bench-access-token-0123456789"},
            ),
        }
        via = {
            "gupshup": json_target(
                f"{gateway}/send-media",
                f'{{"provider": "gupshup", "url": "{media}"}}'.encode(),
                key,
            ),
            "kaizala": multipart(
                f"{gateway}/send-media",
                {"provider": "kaizala", "group_id": GROUP},
                {"file": ("photo.png", image, "image/png")},
                key,
            ),
        }
        events = json_target(
            f"{gateway}/providers/gupshup/events", EVENT, {"X-Events-Token": EVENTS_TOKEN}
        )
        per_send = {"gupshup": 1, "kaizala": 2}
        # (table, name, connections) -> (target, upstream calls each request must make)
        cases: dict[tuple[str, str, int], tuple[Target, int]] = {}
        for c in (1, 32):
            for name, target in direct.items():
                cases[("direct", name, c)] = (target, 0)
            for name, target in via.items():
                cases[("gateway", name, c)] = (target, per_send[name])
                floor_target = Target(floor_url + "/", target.body, target.content_type, {})
                cases[("floor", name, c)] = (floor_target, per_send[name])
                if c == 32:
                    cases[("clients", name, c)] = (
                        moved(target, gateway, gateway_c),
                        per_send[name],
                    )
            naive_target = Target(f"{naive_url}/send-media", via["gupshup"].body,
                                  via["gupshup"].content_type, {})  # fmt: skip
            cases[("naive", "gupshup", c)] = (naive_target, 1)
        # Under 4 minutes in all: the clients file and the callbacks at 32 connections only.
        cases[("events", "gateway", 32)] = (events, 0)
        floor_events = Target(floor_url + "/events", EVENT, events.content_type, {})
        cases[("events", "floor", 32)] = (floor_events, 0)
        for name, target in via.items():
            cases[("workers2", name, 32)] = (moved(target, gateway, gateway2), per_send[name])
        if gateway_k:
            keyed_png = moved(via["kaizala"], gateway, gateway_k)
            keyed_png.headers = {**keyed_png.headers, "Idempotency-Key": "bench-{n}"}
            for c in (1, 32):
                cases[("keyed", "kaizala", c)] = (keyed_png, per_send["kaizala"])

        # Every request must succeed before it is timed.
        for target, _ in cases.values():
            answer = httpx.post(
                target.url,
                content=target.body.replace(b"{n}", b"check"),
                timeout=10,
                headers={"content-type": target.content_type, **target.headers},
            )
            if answer.status_code != 200:
                raise SystemExit(f"{target.url}: {answer.status_code} {answer.text[:300]}")
            if "send-media" in target.url and answer.json().get("sandbox") is not False:
                raise SystemExit(f"{target.url} answered from a sandbox, not the upstream")

        def upstream_calls() -> int:
            return int(httpx.get(f"{upstream}/bench/calls").json()["calls"])

        def run(target: Target, c: int, calls_per_send: int, warm: bool) -> Load:
            if warm:
                wrk(target, c, 1, work)  # connections, tokens, caches
            before = upstream_calls()
            load = wrk(target, c, SECONDS, work)
            if load.errors:
                raise SystemExit(f"{target.url}: {load.errors} failed requests under load")
            # Every send must have gone upstream: an answer from the gateway's memory (a
            # media id remembered for the same URL) would measure something else.
            made = upstream_calls() - before - 1
            if made < load.requests * calls_per_send:
                raise SystemExit(
                    f"{target.url}: {load.requests} sends made only {made} upstream calls"
                )
            return load

        # 100 MB to Kaizala, one upload and eight at once.
        video = work / "video.mp4"
        mp4_file(video, BIG_MB)
        video_url = f"{upstream}/bench/files/{video.name}"  # served by the upstream
        token = ["accessToken: bench-access-token-0123456789"]
        direct_form = [f"files=@{video};type=video/mp4"]
        gw_form = ["provider=kaizala", f"group_id={GROUP}", f"file=@{video};type=video/mp4"]
        gw_key = [f"X-API-Key: {API_KEY}"]

        rounds: dict[tuple[str, str, int], list[Load]] = {k: [] for k in cases}
        hook_rounds: list[tuple[float, float]] = []
        big_rounds: dict[tuple[str, int], list[float]] = {}
        for r in range(ROUNDS):
            for case, (target, calls) in cases.items():
                rounds[case].append(run(target, case[2], calls, warm=r == 0))
            for n in (1, 8):
                big_rounds.setdefault(("direct", n), []).append(
                    uploads(n, f"{upstream}/v1/media", direct_form, token)
                )
                base_mib = gw.rss_mib()
                gw.reset_peak()
                big_rounds.setdefault(("gateway", n), []).append(
                    uploads(n, f"{gateway}/send-media", gw_form, gw_key)
                )
                big_rounds.setdefault(("growth", n), []).append(gw.rss_mib("VmHWM") - base_mib)
                big_rounds.setdefault(("url direct", n), []).append(
                    at_once(
                        n, lambda: download_then_upload(video_url, upstream, direct_form, token)
                    )
                )
                big_rounds.setdefault(("url", n), []).append(
                    at_once(n, lambda: by_url(f"{gateway}/send-media", video_url, gw_key))
                )
                if gateway_k:
                    if n == 1:
                        hook_rounds.append(deliveries(gateway_k, upstream, HOOKS))
                    keyed_headers = [*gw_key, "Idempotency-Key: bench-{n}"]
                    big_rounds.setdefault(("keyed", n), []).append(
                        uploads(n, f"{gateway_k}/send-media", gw_form, keyed_headers)
                    )
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    m = {case: median_of(loads) for case, loads in rounds.items()}
    d = {(name, c): m[("direct", name, c)] for name in direct for c in (1, 32)}
    g = {(name, c): m[("gateway", name, c)] for name in via for c in (1, 32)}
    f = {(name, c): m[("floor", name, c)] for name in via for c in (1, 32)}
    scoped = {name: m[("clients", name, 32)] for name in via}
    ev = {32: m[("events", "gateway", 32)]}
    fe = {32: m[("events", "floor", 32)]}
    nv = {c: m[("naive", "gupshup", c)] for c in (1, 32)}
    w2 = {name: m[("workers2", name, 32)] for name in via}
    kd = {c: m[("keyed", "kaizala", c)] for c in (1, 32) if ("keyed", "kaizala", c) in m}
    big = {k: statistics.median(v) for k, v in big_rounds.items()}

    def two_call(c: int) -> Load:
        a, b = d[("upload", c)], d[("post", c)]
        return Load(1 / (1 / a.rps + 1 / b.rps), a.p50 + b.p50, a.p99 + b.p99, 0)

    d[("kaizala", 1)], d[("kaizala", 32)] = two_call(1), two_call(32)

    cpu = os.cpu_count()
    print(
        f"\nwrk (1 thread), medians of {ROUNDS} interleaved rounds of {SECONDS} s per case (1 s "
        f"of warm-up first); {cpu} cores; one gateway "
        "worker unless said; 10 KB PNG; JSON log line per request on;\ndirect = bench/upstream.py "
        "on uvicorn's h11 and asyncio (the issue's yardstick); Kaizala direct = upload + post"
    )
    print(f"\n{'case':44} {'direct':>18} {'gateway':>18} {'ratio':>8}")
    for name, label in (("gupshup", "Gupshup URL send"), ("kaizala", "Kaizala PNG send")):
        for c in (32, 1):
            a, b = d[(name, c)], g[(name, c)]
            print(
                f"{label + f', {c} conn, req/s':44} {a.rps:18,.0f} {b.rps:18,.0f} "
                f"{b.rps / a.rps:7.2f}×"
            )
        for c in (1, 32):
            a, b = d[(name, c)], g[(name, c)]
            print(
                f"{label + f', {c} conn, p50 / p99 ms':44} {a.p50:8.2f} /{a.p99:8.2f} "
                f"{b.p50:8.2f} /{b.p99:8.2f}"
            )
    for n in (1, 8):
        a, b = big[("direct", n)], big[("gateway", n)]
        print(
            f"{f'{BIG_MB} MB video to Kaizala, {n} at once, s':44} {a:18.2f} {b:18.2f} "
            f"{b / a:7.2f}×"
        )
    for n in (1, 8):
        a, b = big[("url direct", n)], big[("url", n)]
        print(
            f"{f'{BIG_MB} MB by url (direct: get + upload), {n} at once':44} {a:18.2f} {b:18.2f} "
            f"{b / a:7.2f}×"
        )
    print(
        f"\n{'floor: bench/floor.py, no checks (see README)':44} {'req/s, 32 conn':>18} "
        f"{'ratio':>8} {'added p50, 1 conn':>18}"
    )
    for name, label in (("gupshup", "Gupshup URL send"), ("kaizala", "Kaizala PNG send")):
        many, added = f[(name, 32)], f[(name, 1)].p50 - d[(name, 1)].p50
        print(
            f"{label:44} {many.rps:18,.0f} {many.rps / d[(name, 32)].rps:7.2f}× {added:+15.2f} ms"
        )
    print(f"\n{'Gupshup URL send':44} {'naive proxy':>18} {'gateway':>18} {'ratio':>8}")
    for c in (32, 1):
        a, b = nv[c], g[("gupshup", c)]
        print(f"{f'{c} conn, req/s':44} {a.rps:18,.0f} {b.rps:18,.0f} {b.rps / a.rps:7.2f}×")
    for c in (1, 32):
        a, b = nv[c], g[("gupshup", c)]
        print(
            f"{f'{c} conn, p50 / p99 ms':44} {a.p50:8.2f} /{a.p99:8.2f} {b.p50:8.2f} /{b.p99:8.2f}"
        )
    naive_added = nv[1].p50 - d[("gupshup", 1)].p50
    gateway_added = g[("gupshup", 1)].p50 - d[("gupshup", 1)].p50
    print(f"{'1 conn, added p50 over direct, ms':44} {naive_added:+18.2f} {gateway_added:+18.2f}")
    print(
        f"\n{'Gupshup event callbacks taken':44} {'floor /events':>18} {'gateway':>18} {'ratio':>8}"
    )
    a, b = fe[32], ev[32]
    print(f"{'32 conn, req/s':44} {a.rps:18,.0f} {b.rps:18,.0f} {b.rps / a.rps:7.2f}×")
    if hook_rounds:
        taken = statistics.median(t for t, _ in hook_rounds)
        hooked = statistics.median(h for _, h in hook_rounds)
        print(
            f"{f'{HOOKS:,} callbacks on Redis, 32 at once: taken, webhooks delivered, per s':70}"
            f" {taken:9,.0f} {hooked:9,.0f}"
        )
    if kd:
        print(f"\n{'with an Idempotency-Key, on Redis':44} {'no key':>18} {'a key each':>18}")
        plain, keyed = g[("kaizala", 32)].rps, kd[32].rps
        print(f"{'Kaizala PNG send, 32 conn, req/s':44} {plain:18,.0f} {keyed:18,.0f}")
        plain, keyed = g[("kaizala", 1)].p50, kd[1].p50
        print(f"{'Kaizala PNG send, 1 conn, p50 ms':44} {plain:18.2f} {keyed:18.2f}")
        for n in (1, 8):
            label = f"{BIG_MB} MB video to Kaizala, {n} at once, s"
            print(f"{label:44} {big[('gateway', n)]:18.2f} {big[('keyed', n)]:18.2f}")
    head = "a client of 1,000 in GATEWAY_CLIENTS_FILE"
    print(f"\n{head:44} {'GATEWAY_API_KEYS':>18} {'clients file':>18}")
    for name, label in (("gupshup", "Gupshup URL send"), ("kaizala", "Kaizala PNG send")):
        keys, file = g[(name, 32)].rps, scoped[name].rps
        print(f"{label + ', 32 conn, req/s':44} {keys:18,.0f} {file:18,.0f}")
    print(f"\n{'workers (32 connections, req/s)':44} {'1':>18} {'2':>18}")
    for name, label in (("gupshup", "Gupshup URL send"), ("kaizala", "Kaizala PNG send")):
        print(f"{label:44} {g[(name, 32)].rps:18,.0f} {w2[name].rps:18,.0f}")

    # The performance issue's goals (issue 19), numbered as it numbers them; None: not
    # measured yet.
    goals: list[tuple[str, str, bool | None]] = []
    for n, limit in ((1, 1.2), (8, 1.3)):
        ratio = big[("gateway", n)] / big[("direct", n)]
        goals.append(
            (f"1. {BIG_MB} MB to Kaizala, {n} at once: ≤ {limit}× direct", f"{ratio:.2f}×",
             ratio <= limit)
        )  # fmt: skip
        growth = big[("growth", n)]
        goals.append(
            (f"1. {BIG_MB} MB, {n} at once: memory growth ≤ 20 MiB per upload",
             f"+{growth:.1f} MiB", growth <= 20 * n)
        )  # fmt: skip
    for n, limit in ((1, 1.2), (8, 1.3)):
        if ("keyed", n) in big:
            ratio = big[("keyed", n)] / big[("direct", n)]
            goals.append(
                (f"1. {BIG_MB} MB with an Idempotency-Key, {n} at once: ≤ {limit}× direct",
                 f"{ratio:.2f}×", ratio <= limit)
            )  # fmt: skip
        else:
            goals.append(
                (f"1. {BIG_MB} MB with an Idempotency-Key", "no Redis: not measured", None)
            )
    for n, limit in ((1, 1.2), (8, 1.3)):
        ratio = big[("url", n)] / big[("url direct", n)]
        goals.append(
            (f"1. {BIG_MB} MB by url, {n} at once: ≤ {limit}× download + upload",
             f"{ratio:.2f}×", ratio <= limit)
        )  # fmt: skip
    goals.append(
        ("2. Gupshup URL, 1 conn: added p50 ≤ the naive proxy's",
         f"{gateway_added:+.2f} vs {naive_added:+.2f} ms", gateway_added <= naive_added)
    )  # fmt: skip
    over_naive = g[("gupshup", 32)].rps / nv[32].rps
    goals.append(
        ("2. Gupshup URL, 32 conn: ≥ 1.7× the naive proxy's req/s", f"{over_naive:.2f}×",
         over_naive >= 1.7)
    )  # fmt: skip
    for name, label in (("gupshup", "Gupshup URL"), ("kaizala", "Kaizala PNG")):
        of_floor = g[(name, 32)].rps / f[(name, 32)].rps
        goals.append(
            (f"3. {label} send, 32 conn: ≥ 0.5× the floor", f"{of_floor:.2f}×", of_floor >= 0.5)
        )
    if kd:
        of_floor = kd[32].rps / f[("kaizala", 32)].rps
        goals.append(
            ("3. Kaizala PNG, a key on Redis, 32 conn: ≥ 0.5× the floor",
             f"{of_floor:.2f}×", of_floor >= 0.5)
        )  # fmt: skip
    else:
        goals.append(("3. Kaizala PNG with an Idempotency-Key on Redis", "no Redis", None))
    goals.append(
        ("4. callbacks taken, 32 conn, against the floor's /events",
         f"{ev[32].rps:,.0f}/s, {ev[32].rps / fe[32].rps:.2f}×", None)
    )  # fmt: skip
    if hook_rounds:
        hooked = statistics.median(h for _, h in hook_rounds)
        goals.append(
            ("4. webhooks delivered (Redis, 32 callbacks at once)", f"{hooked:,.0f}/s", None)
        )
    for name, label in (("gupshup", "Gupshup"), ("kaizala", "Kaizala")):
        many = g[(name, 32)]
        goals.append(
            (f"kept: {label} p99 at 32 conn < 5× p50",
             f"{many.p99:.1f} ms vs 5 × {many.p50:.1f} ms", many.p99 < 5 * many.p50)
        )  # fmt: skip
    goals.append(("kept: startup to ready ≤ 1.5 s", f"{gw.startup_s:.2f} s", gw.startup_s <= 1.5))
    print(f"\n{'goal':58} {'measured':>24}  verdict")
    for name, value, ok in goals:
        print(f"{name:58} {value:>24}  {verdict(ok)}")
    print(
        f"\nidle memory (RSS after startup, one worker): {idle_mib:.0f} MiB; "
        f"startup with 2 workers: {gw2.startup_s:.2f} s"
    )


if __name__ == "__main__":
    main()
