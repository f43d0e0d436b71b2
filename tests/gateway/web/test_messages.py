"""Messages through the app on the embedded sandboxes: the simulator's events arrive in the
process, GET /messages/{id} shows them to the client that sent, and the events route."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import samples
from tests.gateway.conftest import AppClient
from tests.support import assert_problem

pytestmark = pytest.mark.anyio

TOKEN = "events-token-0123456789abcdef"


async def send(client: httpx.AsyncClient, to: str = "919876543210", **headers: str) -> str:
    answer = await client.post(
        "/send-media",
        data={"provider": "gupshup", "to": to},
        files={"file": ("photo.png", samples.png(), "image/png")},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    message_id: str = answer.json()["message_id"]
    return message_id


async def until(client: httpx.AsyncClient, message_id: str, status: str, **headers: str) -> Any:
    """The message once it has `status` (the sandbox's events take about a second)."""
    body: Any = None
    for _ in range(100):
        answer = await client.get(f"/messages/{message_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if body["status"] == status:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"never {status}: {body}")


async def test_the_sandbox_moves_a_message_to_read_with_no_configuration(
    client: httpx.AsyncClient,
) -> None:
    message_id = await send(client)
    first = (await client.get(f"/messages/{message_id}")).json()
    assert first["status"] in ("accepted", "sent")
    assert (first["provider"], first["to"], first["media_type"], first["sandbox"]) == (
        "gupshup", "919876543210", "image", True,
    )  # fmt: skip
    body = await until(client, message_id, "read")
    assert [h["status"] for h in body["history"]] == ["accepted", "sent", "delivered", "read"]
    assert body["error"] is None
    metrics = (await client.get("/metrics")).text
    assert 'gateway_message_transitions_total{provider="gupshup",status="read"}' in metrics
    assert 'gateway_events_total{kind="enqueued",provider="gupshup",result="ignored"}' in metrics


@pytest.mark.parametrize(
    ("to", "code", "provider_code"),
    [
        ("10000131047", "outside_service_window", "131047"),
        ("10000131026", "undeliverable", "131026"),
        ("10000001002", "not_on_whatsapp", "1002"),
        ("10000001012", "opted_out", "1012"),
        ("10000131053", "media_failed", "131053"),
        ("10000130429", "rate_limited", "130429"),
        ("10000131000", "provider_error", "131000"),
    ],
)
async def test_the_sandboxs_triggers_fail_a_message_with_each_code(
    client: httpx.AsyncClient, to: str, code: str, provider_code: str
) -> None:
    body = await until(client, await send(client, to), "failed")
    assert [h["status"] for h in body["history"]] == ["accepted", "sent", "failed"]
    assert (body["error"]["code"], body["error"]["provider_code"]) == (code, provider_code)
    assert body["error"]["title"]


async def test_providers_say_whether_events_come(client: httpx.AsyncClient) -> None:
    providers = (await client.get("/providers")).json()["providers"]
    assert providers["gupshup"]["events"] == "subscribed"  # in the process, in the sandbox
    assert providers["kaizala"]["events"] is None


async def test_the_events_route_is_404_without_a_token_and_checks_one_when_set(
    app_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with app_client() as client:
        answer = await client.post("/providers/gupshup/events", json={})
        assert_problem(answer, 404, "not_found")
        assert_problem(await client.post("/providers/kaizala/events", json={}), 404, "not_found")
        assert_problem(await client.post("/providers/nobody/events", json={}), 404, "not_found")
    monkeypatch.setenv("GUPSHUP_EVENTS_TOKEN", TOKEN)
    async with app_client() as client:
        url = "/providers/gupshup/events"
        assert_problem(await client.post(url, json={}), 401, "unauthorized")
        wrong = await client.post(url, json={}, headers={"X-Events-Token": TOKEN[:-1] + "x"})
        assert_problem(wrong, 401, "unauthorized")
        ok = await client.post(url, json={"entry": []}, headers={"X-Events-Token": TOKEN})
        assert (ok.status_code, ok.json()) == (200, {"status": "stored"})
        bad = await client.post(url, content=b"{", headers={"X-Events-Token": TOKEN})
        assert_problem(bad, 400, "validation_error")


def keyed_clients(tmp_path: Path) -> Path:
    path = tmp_path / "clients.toml"
    lines = []
    for name in ("alpha", "beta"):
        digest = hashlib.sha256(f"{name}-key-0123456789".encode()).hexdigest()
        lines.append(f'[clients.{name}]\nkeys_sha256 = ["{digest}"]\n')
    path.write_text("\n".join(lines))
    return path


async def test_only_the_client_that_sent_sees_its_message(
    app_client: AppClient, tmp_path: Path
) -> None:
    async with app_client(clients_file=keyed_clients(tmp_path)) as client:
        message_id = await send(client, **{"X-API-Key": "alpha-key-0123456789"})
        mine = await client.get(
            f"/messages/{message_id}", headers={"X-API-Key": "alpha-key-0123456789"}
        )
        assert mine.status_code == 200
        theirs = await client.get(
            f"/messages/{message_id}", headers={"X-API-Key": "beta-key-0123456789"}
        )
        assert_problem(theirs, 404, "not_found")
        assert_problem(await client.get(f"/messages/{message_id}"), 401, "unauthorized")


async def test_a_send_without_to_creates_no_message(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/send-media",
        data={"provider": "gupshup"},
        files={"file": ("photo.png", samples.png(), "image/png")},
    )
    assert answer.json()["message_id"] is None
    assert_problem(await client.get(f"/messages/{answer.json()['media_id']}"), 404, "not_found")
    assert_problem(await client.get("/messages/" + "x" * 5000), 404, "not_found")
