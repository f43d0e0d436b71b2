"""Real servers on loopback: the two simulators and gateways, each its own uvicorn process."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from tests import samples

ROOT = Path(__file__).resolve().parents[2]

API_KEY = "e2e-client-key-0123456789"
SECRETS = {
    "kaizala_secret": "e2e-kaizala-app-secret-7f3a",
    "kaizala_refresh": "e2e-kaizala-refresh-token-9c1d",
    "gupshup_secret": "e2e-gupshup-partner-secret-4b8e",
    "gupshup_static": "sk_e2e_static_app_token_2d6f",
    "api_key": API_KEY,
}
KAIZALA_APP_ID = "sandbox-application"
GUPSHUP_EMAIL = "sandbox@example.com"
UPSTREAM_TIMEOUT_S = 2
SLOW_S = 6


def docker_daemon() -> bool:
    """Whether docker can run containers: a client without a daemon (as on CI machines
    here) does not count."""
    docker = shutil.which("docker")
    return bool(docker) and subprocess.run([docker, "info"], capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start(
    name: str, app: list[str], env: dict[str, str], logs: Path, port: int | None = None
) -> Server:
    port = port or free_port()
    log = logs / f"{name}.log"
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GATEWAY_", "KAIZALA_", "GUPSHUP_", "SANDBOX_"))
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *app, "--host", "127.0.0.1", "--port", str(port)],
            cwd=logs,  # no .env there
            env={**base_env, "PYTHONPATH": str(ROOT), **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()}")
        try:
            if (
                httpx.get(
                    f"{url}/healthz" if "gateway" in name else f"{url}/_sandbox/log", timeout=1
                ).status_code
                == 200
            ):
                return Server(name, url, process, log)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start: {log.read_text()}")


def stop(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def start_kaizala_simulator(
    name: str,
    logs: Path,
    *,
    secret: str = SECRETS["kaizala_secret"],
    refresh: str = SECRETS["kaizala_refresh"],
    **env: str,
) -> Server:
    """The Kaizala simulator as its own server, its public URL its own address."""
    port = free_port()
    return start(
        name,
        ["uvicorn", "--factory", "simulators.kaizala:from_env"],
        {
            "SANDBOX_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SANDBOX_APPLICATION_SECRET": secret,
            "SANDBOX_REFRESH_TOKEN": refresh,
            **env,
        },
        logs,
        port=port,
    )


class OriginHandler(BaseHTTPRequestHandler):
    """Where URL sends point: serves sample media over real HTTP."""

    FILES: ClassVar[dict[str, tuple[bytes, str]]] = {
        "/photo.png": (samples.png(), "image/png"),
        "/report.pdf": (samples.pdf(), "application/pdf"),
        "/fake.png": (samples.pdf(), "image/png"),
        # Past gateway.pipeline.streaming.STREAM_FROM (8 MiB): sent on while it downloads.
        "/big.mp4": (samples.mp4() + bytes(range(256)) * 36_000, "video/mp4"),
    }

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body, ctype = self.FILES.get(self.path, (b"not found", "text/plain"))
        self.send_response(200 if self.path in self.FILES else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@dataclass
class Stack:
    kaizala_sim: Server
    gupshup_sim: Server
    gateway: Server  # live-mode credentials pointed at the simulators, private fetches allowed
    guarded: Server  # SSRF protection on, Gupshup pointed at a closed port
    sandbox: Server  # no credentials at all: exactly what `make run` starts
    origin: str


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("e2e")
    origin_server = ThreadingHTTPServer(("127.0.0.1", 0), OriginHandler)
    origin_server.daemon_threads = True
    threading.Thread(target=origin_server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{origin_server.server_address[1]}"

    started: list[Server] = []
    try:
        kaizala_sim = start_kaizala_simulator("kaizala-sim", logs, SANDBOX_SLOW_S=str(SLOW_S))
        started.append(kaizala_sim)
        gupshup_sim = start(
            "gupshup-sim",
            ["uvicorn", "--factory", "simulators.gupshup:from_env"],
            {"SANDBOX_PARTNER_SECRET": SECRETS["gupshup_secret"], "SANDBOX_SLOW_S": str(SLOW_S)},
            logs,
        )
        started.append(gupshup_sim)
        common = {
            "GATEWAY_API_KEYS": API_KEY,
            "GATEWAY_UPSTREAM_TIMEOUT_S": str(UPSTREAM_TIMEOUT_S),
        }
        gateway = start(
            "gateway",
            ["gateway"],
            {
                **common,
                "KAIZALA_AUTH_URL": kaizala_sim.url,
                "KAIZALA_APPLICATION_ID": KAIZALA_APP_ID,
                "KAIZALA_APPLICATION_SECRET": SECRETS["kaizala_secret"],
                "KAIZALA_REFRESH_TOKEN": SECRETS["kaizala_refresh"],
                "GUPSHUP_BASE_URL": gupshup_sim.url,
                "GUPSHUP_PARTNER_EMAIL": GUPSHUP_EMAIL,
                "GUPSHUP_PARTNER_SECRET": SECRETS["gupshup_secret"],
                "GUPSHUP_APP_ID": "e2e-app",
                "GATEWAY_FETCH_ALLOW_PRIVATE": "true",
            },
            logs,
        )
        started.append(gateway)
        guarded = start(
            "gateway-guarded",
            ["gateway"],
            {
                **common,
                "KAIZALA_AUTH_URL": kaizala_sim.url,
                "KAIZALA_APPLICATION_ID": KAIZALA_APP_ID,
                "KAIZALA_APPLICATION_SECRET": SECRETS["kaizala_secret"],
                "KAIZALA_REFRESH_TOKEN": SECRETS["kaizala_refresh"],
                "GUPSHUP_BASE_URL": f"http://127.0.0.1:{free_port()}",
                "GUPSHUP_APP_ID": "e2e-app",
                "GUPSHUP_APP_TOKEN": SECRETS["gupshup_static"],
            },
            logs,
        )
        started.append(guarded)
        sandbox = start("gateway-sandbox", ["gateway"], {}, logs)
        started.append(sandbox)
        yield Stack(kaizala_sim, gupshup_sim, gateway, guarded, sandbox, origin)
    finally:
        for server in started:
            stop(server)
        origin_server.shutdown()
        origin_server.server_close()


# So a dead replica's lease (deadline + 5 s) ends within a test.
REPLICA_DEADLINE_S = 3


def live_env(stack: Stack, redis: str) -> dict[str, str]:
    return {
        "GATEWAY_API_KEYS": API_KEY,
        "GATEWAY_UPSTREAM_TIMEOUT_S": "2",
        "GATEWAY_REQUEST_DEADLINE_S": str(REPLICA_DEADLINE_S),
        "GATEWAY_REDIS_URL": redis,
        "KAIZALA_AUTH_URL": stack.kaizala_sim.url,
        "KAIZALA_APPLICATION_ID": KAIZALA_APP_ID,
        "KAIZALA_APPLICATION_SECRET": SECRETS["kaizala_secret"],
        "KAIZALA_REFRESH_TOKEN": SECRETS["kaizala_refresh"],
        "GUPSHUP_BASE_URL": stack.gupshup_sim.url,
        "GUPSHUP_PARTNER_EMAIL": GUPSHUP_EMAIL,
        "GUPSHUP_PARTNER_SECRET": SECRETS["gupshup_secret"],
        "GUPSHUP_APP_ID": "e2e-app",
    }


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server did not listen on {port}")


@contextlib.contextmanager
def two_gateways(prefix: str, env: dict[str, str], logs: Path) -> Iterator[tuple[Server, Server]]:
    """Two gateway processes with the same settings (replicas), stopped afterwards."""
    a = start(f"{prefix}-a", ["gateway"], env, logs)
    try:
        b = start(f"{prefix}-b", ["gateway"], env, logs)
    except BaseException:
        stop(a)
        raise
    try:
        yield a, b
    finally:
        stop(a)
        stop(b)
