"""Latency and throughput of POST /send-media against the embedded sandboxes, printed side by
side with GET /healthz on the same server in the same run (the HTTP stack's own cost)."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import samples  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "300"))
WARMUP = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(call: Callable[[], httpx.Response]) -> tuple[float, float, float]:
    for _ in range(WARMUP):
        call().raise_for_status()
    times = []
    started = time.perf_counter()
    for _ in range(REQUESTS):
        t0 = time.perf_counter()
        call().raise_for_status()
        times.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    quantiles = statistics.quantiles(times, n=100)
    return quantiles[49], quantiles[94], REQUESTS / total


def main() -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATEWAY_", "KAIZALA_", "GUPSHUP_"))
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--port", str(port)],
        cwd=ROOT,
        # The vendors' outbound limits would measure their quotas, not the gateway.
        env={
            **env,
            "GATEWAY_LOG_LEVEL": "WARNING",
            "GATEWAY_RATE_LIMITS": "kaizala=off,gupshup=off",
        },
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        image = samples.png(64, 64)
        with httpx.Client(base_url=base, timeout=30) as client:
            rows = {
                "GET /healthz (baseline)": lambda: client.get("/healthz"),
                "POST /send-media kaizala png": lambda: client.post(
                    "/send-media",
                    data={"provider": "kaizala", "group_id": "bench@1"},
                    files={"file": ("a.png", image, "image/png")},
                ),
                "POST /send-media gupshup url": lambda: client.post(
                    "/send-media",
                    json={"provider": "gupshup", "app_id": "bench", "url": "https://e.com/a.pdf"},
                ),
            }
            print(f"{REQUESTS} sequential requests each, one client, sandbox providers")
            print(f"{'case':34} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>8}")
            for name, call in rows.items():
                p50, p95, rps = measure(call)
                print(f"{name:34} {p50:8.2f} {p95:8.2f} {rps:8.0f}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
