"""Clients seen by a caller: quotas in the contract's order, and /providers per client."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.gateway.conftest import AppClient
from tests.support import assert_problem

pytestmark = pytest.mark.anyio

KEY = "metered-client-key-0123"
ROOT = Path(__file__).resolve().parents[3]


def clients_file(tmp_path: Path, quota: int) -> Path:
    path = tmp_path / "clients.toml"
    path.write_text(
        f"[clients.metered-{uuid.uuid4().hex[:6]}]\n"
        f'keys_sha256 = ["{hashlib.sha256(KEY.encode()).hexdigest()}"]\n'
        f'providers = ["kaizala"]\nsends_per_minute = {quota}\n'
    )
    return path


def send(client: httpx.AsyncClient, key: str | None = None) -> object:
    headers = {"X-API-Key": KEY, **({"Idempotency-Key": key} if key else {})}
    return client.post(
        "/send-media",
        headers=headers,
        data={"provider": "kaizala", "group_id": "g@1"},
        files={"file": ("a.png", samples.png(), "image/png")},
    )


async def test_a_replay_costs_no_quota_and_the_quota_is_a_429_with_retry_after(
    app_client: AppClient, tmp_path: Path
) -> None:
    async with app_client(clients_file=clients_file(tmp_path, 2)) as client:
        assert (await send(client, "order-1")).status_code == 200  # type: ignore[attr-defined]
        replay = await send(client, "order-1")
        assert replay.headers["idempotent-replayed"] == "true"  # type: ignore[attr-defined]
        assert (await send(client)).status_code == 200  # type: ignore[attr-defined]
        over = await send(client)
        body = assert_problem(over, 429, "quota_exceeded")  # type: ignore[arg-type]
        assert body["retryable"] is True
        assert int(over.headers["retry-after"]) >= 1  # type: ignore[attr-defined]


async def test_with_redis_unreachable_the_quota_is_not_enforced_and_that_is_counted(
    app_client: AppClient, tmp_path: Path
) -> None:
    async with app_client(
        clients_file=clients_file(tmp_path, 1), redis_url="redis://127.0.0.1:1/0"
    ) as client:

        async def unguarded() -> float:
            wanted = 'gateway_unguarded_sends_total{guard="quota"}'
            text = (await client.get("/metrics")).text
            found = [line for line in text.splitlines() if line.startswith(wanted)]
            return float(found[0].split()[-1]) if found else 0.0

        before = await unguarded()
        for _ in range(2):
            assert (await send(client)).status_code == 200  # type: ignore[attr-defined]
        assert await unguarded() == before + 2


async def test_providers_shows_a_client_only_what_it_may_use(
    app_client: AppClient, tmp_path: Path
) -> None:
    async with app_client(clients_file=clients_file(tmp_path, 10)) as client:
        mine = (await client.get("/providers", headers={"X-API-Key": KEY})).json()
        assert set(mine["providers"]) == {"kaizala"}
        everyone = (await client.get("/providers")).json()
        assert set(everyone["providers"]) == {"kaizala", "gupshup"}
        unknown = await client.get("/providers", headers={"X-API-Key": "nobody-key-0123456789"})
        assert_problem(unknown, 401, "unauthorized")
        # Probes and metrics stay open.
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await client.get(path)).status_code == 200


def test_hash_key_prints_the_sha256_of_the_key_on_stdin() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "hash-key"],
        input=f"{KEY}\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert done.stdout.strip() == hashlib.sha256(KEY.encode()).hexdigest()
    assert KEY not in done.stdout + done.stderr
