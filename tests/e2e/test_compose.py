"""deploy/compose.yaml brought up for real: Redis, two gateway replicas and the proxy in
front, the way `make up` does. Sends through the one port reach both replicas, and a retry
with the same Idempotency-Key on the other replica is answered from the shared Redis.

Needs podman-compose or docker compose, and the images: a registry's by default, or the
stand-ins .ci/container-setup builds (GATEWAY_TEST_PYTHON_IMAGE, REDIS_IMAGE, PROXY_IMAGE)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import ROOT, docker_daemon, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.container, pytest.mark.timeout(900)]

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"


def compose_command() -> tuple[list[str], str]:
    if (
        docker_daemon()
        and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0
    ):
        return ["docker", "compose"], "docker"
    # podman-compose is in the dev group (uv.lock): beside this interpreter, or on PATH.
    ours = Path(sys.executable).parent / "podman-compose"
    podman_compose = str(ours) if ours.exists() else shutil.which("podman-compose")
    if podman_compose and shutil.which("podman"):
        return [podman_compose], "podman"
    pytest.skip("neither docker compose nor podman is installed (.ci/run installs podman)")


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[str, str, str]]:
    command, engine = compose_command()
    images = {
        "PYTHON_IMAGE": os.environ.get("GATEWAY_TEST_PYTHON_IMAGE", "python:3.12-slim"),
        "REDIS_IMAGE": os.environ.get("REDIS_IMAGE", "redis:7-alpine"),
        "PROXY_IMAGE": os.environ.get("PROXY_IMAGE", "nginx:1.27-alpine"),
    }
    for image in images.values():
        if subprocess.run([engine, "image", "inspect", image], capture_output=True).returncode:
            pytest.skip(
                f"image {image} is not available to {engine} and no registry is assumed; "
                "run .ci/container-setup and export what it prints"
            )
    # The README's recipe: `cp deploy/.env.example deploy/.env && make up`.
    dotenv = COMPOSE_FILE.parent / ".env"
    made_dotenv = not dotenv.exists()
    if made_dotenv:
        shutil.copyfile(COMPOSE_FILE.parent / ".env.example", dotenv)
    project = f"gwtest{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = {**os.environ, **images, "GATEWAY_PUBLISH": f"127.0.0.1:{port}"}
    base = [*command, "-p", project, "-f", str(COMPOSE_FILE)]
    up = subprocess.run(
        [*base, "up", "-d", "--build"], env=env, capture_output=True, text=True, timeout=900
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        # Ready when the proxy has reached both replicas (nginx sets a replica that refused
        # a connection while starting aside for a few seconds).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{url}/readyz", timeout=2)
            if all(
                '"path": "/readyz", "status": 200' in log for log in gateway_logs(project, engine)
            ):
                break
            time.sleep(0.5)
        else:
            logs = subprocess.run([*base, "logs"], env=env, capture_output=True, text=True)
            pytest.fail("the stack never became ready:\n" + (logs.stdout + logs.stderr)[-5000:])
        yield url, project, engine
    finally:
        subprocess.run([*base, "down", "-v"], env=env, capture_output=True, timeout=300)
        if made_dotenv:
            dotenv.unlink()


def gateway_logs(project: str, engine: str) -> list[str]:
    names = subprocess.run(
        [engine, "ps", "--all", "--filter", f"label=com.docker.compose.project={project}",
         "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    gateways = sorted(n for n in names if "gateway" in n)
    assert len(gateways) == 2, names
    return [
        subprocess.run([engine, "logs", n], capture_output=True, text=True).stdout for n in gateways
    ]


def container_of(project: str, engine: str, service: str) -> str:
    names = subprocess.run(
        [engine, "ps", "--filter", f"label=com.docker.compose.project={project}",
         "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(names) == 1, names
    return names[0]


def test_one_port_two_replicas_one_redis(stack: tuple[str, str, str]) -> None:
    url, project, engine = stack
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["redis"] == "ok"

    image = samples.png()
    for _ in range(6):
        sent = httpx.post(
            f"{url}/send-media",
            data={"provider": "kaizala", "group_id": "compose@1"},
            files={"file": ("a.png", image, "image/png")},
        )
        assert sent.status_code == 200, sent.text
    # Both replicas served sends.
    for log in gateway_logs(project, engine):
        assert '"path": "/send-media"' in log

    # Retries are spread over both replicas (round robin), and every one is answered from
    # the one Redis: with per-replica state the other replica would send again.
    key = uuid.uuid4().hex
    link = {"provider": "gupshup", "url": "https://e.com/report.pdf"}
    first = httpx.post(f"{url}/send-media", json=link, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    for _ in range(4):
        again = httpx.post(f"{url}/send-media", json=link, headers={"Idempotency-Key": key})
        assert again.status_code == 200
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json()["media_id"] == first.json()["media_id"]


def test_keys_outlive_a_redis_restart(stack: tuple[str, str, str]) -> None:
    url, project, engine = stack
    key = uuid.uuid4().hex
    link = {"provider": "gupshup", "url": "https://e.com/restart.pdf"}
    first = httpx.post(f"{url}/send-media", json=link, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    redis = container_of(project, engine, "redis")
    subprocess.run([engine, "restart", redis], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    again = httpx.post(f"{url}/send-media", json=link, headers={"Idempotency-Key": key})
    while again.status_code == 503 and time.monotonic() < deadline:  # Redis still loading
        time.sleep(0.5)
        again = httpx.post(f"{url}/send-media", json=link, headers={"Idempotency-Key": key})
    assert again.status_code == 200, again.text
    # Kept in the append-only file: a replay, not a second send.
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["media_id"] == first.json()["media_id"]
