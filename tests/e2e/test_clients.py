"""Clients with their own keys, scopes and quotas, through two gateway processes that share
the real Redis, sending to the simulators as live providers."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.conftest import NO_REDIS, redis_url
from tests.e2e.conftest import API_KEY, ROOT, Server, Stack, live_env, two_gateways

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

RUN = uuid.uuid4().hex[:8]  # quotas live in the shared Redis: names of this run's own
BILLING, OPS, METERED = f"billing-{RUN}", f"ops-{RUN}", f"metered-{RUN}"
BILLING_OLD, BILLING_NEW = f"billing-old-key-{RUN}-0123", f"billing-new-key-{RUN}-4567"
OPS_KEY, METERED_KEY = f"ops-client-key-{RUN}-89ab", f"metered-key-{RUN}-cdef0123"
KEYS = (BILLING_OLD, BILLING_NEW, OPS_KEY, METERED_KEY, API_KEY)


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


CLIENTS = f"""
[clients.{BILLING}]
keys_sha256 = ["{sha256(BILLING_OLD)}", "{sha256(BILLING_NEW)}"]  # a rotation: both work
providers = ["gupshup"]

[clients.{BILLING}.targets.gupshup]
app_id = ["e2e-*"]

[clients.{OPS}]
keys_sha256 = ["{sha256(OPS_KEY)}"]

[clients.{OPS}.targets.kaizala]
group_id = ["ops-*"]

[clients.{METERED}]
keys_sha256 = ["{sha256(METERED_KEY)}"]
providers = ["gupshup"]
sends_per_minute = 3
"""


@dataclass
class Gateways:
    a: Server
    b: Server


@pytest.fixture(scope="module")
def gateways(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    url = redis_url()
    if url is None:
        pytest.skip(NO_REDIS)
    logs = tmp_path_factory.mktemp("clients")
    clients = logs / "clients.toml"
    clients.write_text(CLIENTS)
    # GATEWAY_API_KEYS stays: its key is one more client, `key-` and its hash's first digits.
    env = {**live_env(stack, url), "GATEWAY_CLIENTS_FILE": str(clients)}
    with two_gateways("gateway-clients", env, logs) as (a, b):
        yield Gateways(a, b)


def gupshup_url(server: Server, key: str, **fields: str) -> httpx.Response:
    body = {"provider": "gupshup", "url": f"https://files.example.com/{uuid.uuid4().hex}.pdf"}
    return httpx.post(
        f"{server.url}/send-media", headers={"X-API-Key": key}, json={**body, **fields}, timeout=30
    )


def kaizala(server: Server, key: str, group: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/send-media",
        headers={"X-API-Key": key, **headers},
        data={"provider": "kaizala", "group_id": group},
        files={"file": ("a.png", samples.png(), "image/png")},
        timeout=30,
    )


def log_of(sim: Server) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = httpx.get(f"{sim.url}/_sandbox/log").json()
    return entries


def test_a_send_outside_its_scope_is_refused_naming_the_field_and_nothing_goes_upstream(
    stack: Stack, gateways: Gateways
) -> None:
    group = f"billing-{uuid.uuid4().hex[:8]}@1"
    refused = [
        (kaizala(gateways.a, BILLING_OLD, group), "provider"),
        (gupshup_url(gateways.b, BILLING_NEW, app_id="other-app"), "app_id"),
        (kaizala(gateways.b, OPS_KEY, group), "group_id"),
    ]
    for answer, field in refused:
        assert answer.status_code == 403, answer.text
        body = answer.json()
        assert (body["code"], body["retryable"]) == ("forbidden", False)
        assert body["errors"][0]["field"] == field
    assert not any(e.get("group") == group for e in log_of(stack.kaizala_sim))
    assert not any(e.get("app") == "other-app" for e in log_of(stack.gupshup_sim))
    # Inside its scope it sends: the omitted app_id is the default app, e2e-app.
    assert gupshup_url(gateways.a, BILLING_OLD).status_code == 200
    assert kaizala(gateways.a, OPS_KEY, f"ops-{RUN}@1").status_code == 200


def test_a_rotated_key_works_with_both_its_hashes(gateways: Gateways) -> None:
    for key in (BILLING_OLD, BILLING_NEW):
        assert gupshup_url(gateways.b, key).status_code == 200
    unknown = gupshup_url(gateways.b, "not-a-client-key-0123456789")
    assert (unknown.status_code, unknown.json()["code"]) == (401, "unauthorized")


def test_a_quota_is_shared_by_the_replicas(gateways: Gateways) -> None:
    answers = [gupshup_url(server, METERED_KEY) for server in (gateways.a, gateways.b) * 2]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    over = answers[3]
    assert over.status_code == 429, over.text
    body = over.json()
    assert (body["code"], body["retryable"], body["provider"]) == ("quota_exceeded", True, None)
    assert int(over.headers["retry-after"]) >= 1


def test_one_idempotency_key_under_two_clients_is_two_sends(
    stack: Stack, gateways: Gateways
) -> None:
    key, group = uuid.uuid4().hex, f"ops-{uuid.uuid4().hex[:8]}@1"
    first = kaizala(gateways.a, OPS_KEY, group, **{"Idempotency-Key": key})
    other = kaizala(gateways.b, API_KEY, group, **{"Idempotency-Key": key})
    assert (first.status_code, other.status_code) == (200, 200)
    assert "idempotent-replayed" not in other.headers
    assert first.json()["media_id"] != other.json()["media_id"]
    posts = [e for e in log_of(stack.kaizala_sim) if e.get("group") == group]
    assert len([e for e in posts if e["call"] == "post"]) == 2
    # Within one client the key still replays, at either replica.
    again = kaizala(gateways.b, OPS_KEY, group, **{"Idempotency-Key": key})
    assert again.headers["idempotent-replayed"] == "true"


def test_a_remembered_media_id_is_not_reused_across_clients(gateways: Gateways) -> None:
    pdf = samples.pdf() + uuid.uuid4().bytes  # bytes no run has sent before

    def upload(server: Server, key: str) -> httpx.Response:
        return httpx.post(
            f"{server.url}/send-media",
            headers={"X-API-Key": key},
            data={"provider": "gupshup"},
            files={"file": ("report.pdf", pdf, "application/pdf")},
            timeout=30,
        )

    first = upload(gateways.a, BILLING_OLD)
    assert (first.status_code, first.json()["media_reused"]) == (200, False)
    other = upload(gateways.b, API_KEY)
    assert (other.status_code, other.json()["media_reused"]) == (200, False)
    assert other.json()["media_id"] != first.json()["media_id"]
    # The same client, with its other key, at the other replica: remembered.
    mine = upload(gateways.b, BILLING_NEW)
    assert (mine.json()["media_reused"], mine.json()["media_id"]) == (
        True,
        first.json()["media_id"],
    )


def test_logs_and_metrics_name_the_client_and_never_a_key(gateways: Gateways) -> None:
    assert gupshup_url(gateways.a, BILLING_OLD).status_code == 200
    assert gupshup_url(gateways.a, API_KEY).status_code == 200
    metrics = httpx.get(f"{gateways.a.url}/metrics").text
    assert f'client="{BILLING}"' in metrics
    assert f'client="key-{sha256(API_KEY)[:8]}"' in metrics
    text = gateways.a.log.read_text() + gateways.b.log.read_text()
    assert f'"client": "{BILLING}"' in text
    for key in KEYS:
        assert key not in text
        assert key not in metrics
        assert sha256(key) not in text


@pytest.mark.parametrize(
    ("clients", "problem"),
    [
        ('[clients.ops]\nkeys_sha256 = ["abc"]\n', "client 'ops' keys_sha256"),
        (
            f'[clients.ops]\nkeys_sha256 = ["{"a" * 64}"]\nproviders = ["kaizla"]\n',
            "unknown provider",
        ),
        (
            f'[clients.ops]\nkeys_sha256 = ["{"b" * 64}"]\n[clients.ops.targets.kaizala]\nto = ["1*"]\n',
            "not a target field of kaizala",
        ),
        (f'[clients.ops]\nkeys_sha256 = ["{sha256(API_KEY)}"]\n', "GATEWAY_API_KEYS lists too"),
        ("[clients.ops\n", "not valid TOML"),
    ],
)
def test_a_bad_clients_file_stops_startup_with_one_line(
    stack: Stack, tmp_path: Path, clients: str, problem: str
) -> None:
    path = tmp_path / "clients.toml"
    path.write_text(clients)
    env = {**live_env(stack, "redis://127.0.0.1:1/0"), "GATEWAY_CLIENTS_FILE": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--port", "1"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "GATEWAY_CLIENTS_FILE" in lines[0]
    assert problem in lines[0]
    assert sha256(API_KEY) not in lines[0]
    assert "a" * 64 not in lines[0]
