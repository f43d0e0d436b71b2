"""The image, built with `make image` and run the way the README and the manifest run it:
read-only root with /tmp as tmpfs, every capability dropped, no new privileges.

Needs podman or docker and a base image: `python:3.12-slim` when the engine has it, else
GATEWAY_TEST_PYTHON_IMAGE (.ci/container-setup builds a Debian stand-in with debootstrap,
since no registry is reachable on CI machines)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import ROOT, docker_daemon, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.container, pytest.mark.timeout(900)]


ENGINE = "podman" if shutil.which("podman") else "docker" if docker_daemon() else None


def engine(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    assert ENGINE is not None
    return subprocess.run(
        [ENGINE, *args], capture_output=True, text=True, check=check, timeout=timeout
    )


def base_image() -> str:
    wanted = os.environ.get("GATEWAY_TEST_PYTHON_IMAGE", "python:3.12-slim")
    if ENGINE is None:
        pytest.skip("no podman or docker on PATH (.ci/run installs podman)")
    if engine("image", "inspect", wanted, check=False).returncode != 0:
        pytest.skip(
            f"base image {wanted} is not available to {ENGINE} and no registry is assumed; "
            "run .ci/container-setup (a debootstrap stand-in) and set GATEWAY_TEST_PYTHON_IMAGE"
        )
    return wanted


@dataclass
class Image:
    name: str
    build_s: float


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    base = base_image()
    name = f"media-gateway:smoke-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    built = subprocess.run(
        ["make", "--no-print-directory", "image", f"ENGINE={ENGINE}", f"IMAGE={name}",
         f"PYTHON_IMAGE={base}"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    yield Image(name, time.monotonic() - started)
    engine("rmi", "--force", name, check=False)


HARDENED = ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]


@dataclass
class Running:
    name: str
    url: str


@pytest.fixture
def container(image: Image) -> Iterator[Running]:
    name, port = f"gw-smoke-{uuid.uuid4().hex[:8]}", free_port()
    engine(
        "run", "--detach", "--name", name, *HARDENED, "--tmpfs", "/tmp:rw,size=256m",
        "--publish", f"127.0.0.1:{port}:8000", image.name,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the container never became ready:\n" + logs(name))
        yield Running(name, url)
    finally:
        engine("rm", "--force", name, check=False)


def logs(name: str) -> str:
    out = engine("logs", name, check=False)
    return out.stdout + out.stderr


def test_the_image_serves_both_sandboxes_hardened(image: Image, container: Running) -> None:
    url = container.url
    assert engine("exec", container.name, "id", "-u").stdout.strip() == "10001"
    # The root filesystem is read-only; /tmp is the tmpfs uploads spool to.
    assert engine("exec", container.name, "touch", "/app-write", check=False).returncode != 0
    assert httpx.get(f"{url}/healthz").status_code == 200
    ready = httpx.get(f"{url}/readyz").json()
    assert ready["providers"] == {"kaizala": "sandbox", "gupshup": "sandbox"}

    # Swagger UI's assets come from the image, not a CDN.
    page = httpx.get(f"{url}/docs").text
    assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', page)
    assert len(assets) >= 2, page
    for asset in assets:
        answer = httpx.get(f"{url}{asset}")
        assert answer.status_code == 200, asset
        assert len(answer.content) > 1000, asset

    png = httpx.post(
        f"{url}/send-media",
        data={"provider": "kaizala", "group_id": "smoke@1"},
        files={"file": ("a.png", samples.png(), "image/png")},
    )
    assert png.status_code == 200, png.text
    assert (png.json()["media_type"], png.json()["sandbox"]) == ("image", True)
    assert "upload;dur=" in png.headers["server-timing"]
    # Past the 1 MiB in-memory spool: written to the tmpfs.
    big = httpx.post(
        f"{url}/send-media",
        data={"provider": "kaizala", "group_id": "smoke@1"},
        files={"file": ("v.mp4", samples.mp4() + b"\0" * (3 << 20), "video/mp4")},
    )
    assert big.status_code == 200, big.text
    link = httpx.post(
        f"{url}/send-media", json={"provider": "gupshup", "url": "https://e.com/report.pdf"}
    )
    assert link.status_code == 200, link.text
    metrics = httpx.get(f"{url}/metrics").text
    # No client keys in the image's sandbox mode: every caller is the client `anonymous`.
    sent = (
        'gateway_sends_total{client="anonymous",media_type="image",outcome="ok",provider="kaizala"}'
    )
    assert f"{sent} 1.0" in metrics

    lines = [line for line in logs(container.name).splitlines() if line.strip()]
    assert lines
    for line in lines:
        json.loads(line)  # every line a JSON object: no plain-text banner, no traceback


def test_a_stop_lets_the_send_in_flight_finish_within_5_s(container: Running) -> None:
    host, port = container.url.removeprefix("http://").split(":")
    body = (
        b'--b\r\nContent-Disposition: form-data; name="provider"\r\n\r\nkaizala\r\n'
        b'--b\r\nContent-Disposition: form-data; name="group_id"\r\n\r\nsmoke@1\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + samples.png(64, 64) + b"\r\n--b--\r\n"
    )
    head = (
        f"POST /send-media HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
    ).encode()
    stopped: dict[str, float] = {}

    def stop() -> None:
        started = time.monotonic()
        engine("stop", "--time", "30", container.name)
        stopped["s"] = time.monotonic() - started

    with socket.create_connection((host, int(port)), timeout=15) as sock:
        sock.sendall(head + body[:100])  # the send has begun
        stopper = threading.Thread(target=stop)
        stopper.start()
        time.sleep(1.0)  # SIGTERM has arrived; the gateway is draining
        sock.sendall(body[100:])
        answer = sock.makefile("rb").readline()
        stopper.join(timeout=30)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert stopped["s"] < 5, f"stop took {stopped['s']:.1f} s"
    state = engine("inspect", "--format", "{{.State.ExitCode}}", container.name).stdout.strip()
    assert state == "0", logs(container.name)
    assert "Traceback" not in logs(container.name)


def test_a_read_only_root_without_tmpfs_refuses_to_start(image: Image) -> None:
    """Uploads could not be spooled: one critical line and exit 2, not a 500 per upload."""
    name = f"gw-smoke-{uuid.uuid4().hex[:8]}"
    try:
        # podman mounts tmpfs on /tmp with --read-only unless told not to; docker does not.
        bare = ["--read-only-tmpfs=false"] if ENGINE == "podman" else []
        run = engine(
            "run", "--name", name, *HARDENED, *bare, image.name, check=False, timeout=60
        )  # fmt: skip
        assert run.returncode == 2, run.stdout + run.stderr
        critical = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        assert critical[-1]["level"] == "critical"
        assert "temporary directory" in critical[-1]["message"]
    finally:
        engine("rm", "--force", name, check=False)


def test_the_image_keeps_its_healthcheck_and_only_the_installed_package(image: Image) -> None:
    inspected = json.loads(engine("image", "inspect", image.name).stdout)[0]
    config = inspected.get("Config") or inspected.get("config") or {}
    health = config.get("Healthcheck") or inspected.get("Healthcheck")
    assert health
    assert "GATEWAY_PORT" in " ".join(health["Test"])
    assert config.get("User") == "10001:10001"
    # No source tree beside the installed package: the import comes from the venv.
    where = engine(
        "run", "--rm", "--entrypoint", "python3", image.name, "-c",
        "import gateway, os, importlib.util as u; print(gateway.__file__);"
        "print(os.path.exists('/src')); print(u.find_spec('pip') is None);"
        "import shutil; print(shutil.which('uv') is None and not os.path.exists('/opt/uv'))",
    ).stdout.split()  # fmt: skip
    assert where[0].startswith("/opt/gateway/lib/")
    assert where[1] == "False"
    assert where[2] == "True"  # no pip either: nothing installs at run time
    assert where[3] == "True"  # nor uv: it stays in the build stage
    shell = engine("run", "--rm", "--entrypoint", "getent", image.name, "passwd", "10001")
    assert shell.stdout.strip().endswith(":/usr/sbin/nologin")
