"""A third provider, installed as a package, served by the real gateway over real HTTP: its
target field, its adapter and its simulator, with no file of gateway/ or providers/ for it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import API_KEY, ROOT, Server, start, stop

pytestmark = pytest.mark.e2e

ECHO_TOKEN = "e2e-echo-token-5f1c"


@dataclass
class EchoStack:
    simulator: Server
    live: Server  # ECHO_TOKEN set: calls the simulator server over HTTP
    sandboxed: Server  # no echo variable: the plugin's simulator, embedded


@pytest.fixture(scope="module")
def echo(installed_plugin: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EchoStack]:
    logs = tmp_path_factory.mktemp("echo")
    path = {"PYTHONPATH": f"{installed_plugin}:{ROOT}"}
    started: list[Server] = []
    try:
        simulator = start(
            "echo-sim",
            ["uvicorn", "--factory", "echo_simulator:from_env"],
            {**path, "SANDBOX_TOKEN": ECHO_TOKEN},
            logs,
        )
        started.append(simulator)
        live = start(
            "gateway-echo",
            ["gateway"],
            {
                **path,
                "GATEWAY_API_KEYS": API_KEY,
                "ECHO_BASE_URL": simulator.url,
                "ECHO_TOKEN": ECHO_TOKEN,
            },
            logs,
        )
        started.append(live)
        sandboxed = start("gateway-echo-sandbox", ["gateway"], path, logs)
        started.append(sandboxed)
        yield EchoStack(simulator, live, sandboxed)
    finally:
        for server in started:
            stop(server)


def send(server: Server, data: dict[str, str], image: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}/send-media",
        headers={"X-API-Key": API_KEY},
        data=data,
        files={"file": ("photo.png", image, "image/png")},
        timeout=30,
    )


def test_the_plugin_provider_sends_through_its_simulator_server(echo: EchoStack) -> None:
    assert httpx.get(f"{echo.live.url}/readyz").json()["providers"]["echo"] == "live"
    image = samples.png(5, 5)
    response = send(echo.live, {"provider": "echo", "channel": "general"}, image)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media_id"] == "echo-" + hashlib.sha256(image).hexdigest()[:16]
    assert body["sandbox"] is False
    calls = httpx.get(f"{echo.simulator.url}/_sandbox/log").json()
    assert calls[-1] == {"channel": "general", "filename": "photo.png", "size": len(image)}


def test_the_plugin_provider_runs_on_its_embedded_simulator_without_credentials(
    echo: EchoStack,
) -> None:
    assert httpx.get(f"{echo.sandboxed.url}/readyz").json()["providers"]["echo"] == "sandbox"
    response = send(echo.sandboxed, {"provider": "echo", "channel": "general"}, samples.png())
    assert response.status_code == 200, response.text
    assert response.json()["sandbox"] is True


def test_the_plugin_target_and_errors_follow_the_contract(echo: EchoStack) -> None:
    missing = send(echo.live, {"provider": "echo"}, samples.png())
    assert missing.status_code == 422
    assert missing.json()["detail"] == "channel: channel is required by echo"
    foreign = send(echo.live, {"provider": "echo", "channel": "c", "group_id": "g"}, samples.png())
    assert foreign.json()["errors"][0]["field"] == "group_id"
    failed = send(echo.live, {"provider": "echo", "channel": "sandbox-500"}, samples.png())
    assert failed.status_code == 502
    assert (failed.json()["code"], failed.json()["provider_message"]) == (
        "provider_error",
        "echo failed",
    )
    spec = httpx.get(f"{echo.live.url}/openapi.json").json()
    form = spec["paths"]["/send-media"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "channel" in form["schema"]["properties"]
