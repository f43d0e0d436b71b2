"""Two gateway processes sharing a real Redis, as replicas behind a Service do."""

from __future__ import annotations

import concurrent.futures
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.conftest import NO_REDIS, redis_url
from tests.e2e.conftest import (
    API_KEY,
    KAIZALA_APP_ID,
    Server,
    Stack,
    free_port,
    live_env,
    start,
    start_kaizala_simulator,
    stop,
    two_gateways,
    wait_for_port,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@dataclass
class Replicas:
    a: Server
    b: Server


@pytest.fixture(scope="module")
def replicas(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    url = redis_url()
    if url is None:
        pytest.skip(NO_REDIS)
    logs = tmp_path_factory.mktemp("replicas")
    with two_gateways("gateway", live_env(stack, url), logs) as (a, b):
        yield Replicas(a, b)


def send(server: Server, key: str, group: str, image: bytes | None = None) -> httpx.Response:
    return httpx.post(
        f"{server.url}/send-media",
        headers={"X-API-Key": API_KEY, "Idempotency-Key": key},
        data={"provider": "kaizala", "group_id": group},
        files={"file": ("a.png", image or samples.png(), "image/png")},
        timeout=30,
    )


def posts_to(stack: Stack, group: str) -> int:
    log = httpx.get(f"{stack.kaizala_sim.url}/_sandbox/log").json()
    return sum(1 for entry in log if entry["call"] == "post" and entry["group"] == group)


def test_the_same_key_at_both_replicas_at_once_posts_exactly_once(
    stack: Stack, replicas: Replicas
) -> None:
    for _ in range(5):
        key, group = uuid.uuid4().hex, f"race-{uuid.uuid4().hex[:8]}@1"
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            both = [pool.submit(send, server, key, group) for server in (replicas.a, replicas.b)]
            answers = [future.result() for future in both]
        statuses = sorted(a.status_code for a in answers)
        assert statuses in ([200, 200], [200, 409]), [a.text for a in answers]
        # A caller that got 409 retries after Retry-After and gets the same answer.
        final = [a if a.status_code == 200 else send(replicas.b, key, group) for a in answers]
        assert final[0].json() == final[1].json()
        assert posts_to(stack, group) == 1


def test_a_replay_at_the_other_replica_sends_nothing(stack: Stack, replicas: Replicas) -> None:
    key, group = uuid.uuid4().hex, f"replay-{uuid.uuid4().hex[:8]}@1"
    first = send(replicas.a, key, group)
    assert first.status_code == 200
    again = send(replicas.b, key, group)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert posts_to(stack, group) == 1
    mismatch = send(replicas.b, key, group, image=samples.png(4, 4))
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "idempotency_conflict")


def test_redis_stopped_mid_run_refuses_keyed_sends_and_recovers(
    stack: Stack, tmp_path: Path
) -> None:
    """With a redis-server of this test's own: the shared one is never stopped."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary (.ci/run installs Debian's redis-server)")
    port = free_port()

    def launch() -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(port)
        return process

    redis = launch()
    gateway = start(
        "gateway-own-redis", ["gateway"], live_env(stack, f"redis://127.0.0.1:{port}/0"), tmp_path
    )
    try:
        assert send(gateway, uuid.uuid4().hex, "g@1").status_code == 200
        redis.send_signal(signal.SIGTERM)
        redis.wait()
        down = send(gateway, uuid.uuid4().hex, "g@1")
        assert (down.status_code, down.json()["code"]) == (503, "store_unavailable")
        assert down.json()["retryable"] is True
        unkeyed = httpx.post(
            f"{gateway.url}/send-media",
            headers={"X-API-Key": API_KEY},
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
            timeout=30,
        )
        assert unkeyed.status_code == 200
        assert httpx.get(f"{gateway.url}/readyz").status_code == 503
        redis = launch()
        assert send(gateway, uuid.uuid4().hex, "g@1").status_code == 200
        assert httpx.get(f"{gateway.url}/readyz").status_code == 200
    finally:
        stop(gateway)
        redis.kill()
        redis.wait()


def test_replicas_fetch_one_token_and_use_a_rotated_refresh_token(tmp_path: Path) -> None:
    url = redis_url()
    if url is None:
        pytest.skip(NO_REDIS)
    # Credentials of this run's own, so nothing cached by other runs is shared with it.
    run = uuid.uuid4().hex[:12]
    app_secret, refresh = f"app-secret-{run}", f"refresh-{run}"
    sim = start_kaizala_simulator(
        "kaizala-rotating",
        tmp_path,
        secret=app_secret,
        refresh=refresh,
        SANDBOX_ROTATE_REFRESH_TOKEN="true",
    )
    env = {
        "GATEWAY_API_KEYS": API_KEY,
        "GATEWAY_REDIS_URL": url,
        "KAIZALA_AUTH_URL": sim.url,
        "KAIZALA_APPLICATION_ID": KAIZALA_APP_ID,
        "KAIZALA_APPLICATION_SECRET": app_secret,
        "KAIZALA_REFRESH_TOKEN": refresh,
    }
    started = [sim]
    try:
        a = start("gateway-rot-a", ["gateway"], env, tmp_path)
        started.append(a)
        b = start("gateway-rot-b", ["gateway"], env, tmp_path)
        started.append(b)

        def send_plain(server: Server) -> httpx.Response:
            return httpx.post(
                f"{server.url}/send-media",
                headers={"X-API-Key": API_KEY},
                data={"provider": "kaizala", "group_id": "g@1"},
                files={"file": ("a.png", samples.png(), "image/png")},
                timeout=30,
            )

        def auth_calls() -> int:
            log = httpx.get(f"{sim.url}/_sandbox/log").json()
            return sum(1 for entry in log if entry["call"] == "auth")

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(send_plain, [a, b, a, b]))
        assert [r.status_code for r in answers] == [200] * 4
        assert auth_calls() == 1  # one token for both replicas
        # That fetch rotated the refresh token: the configured one no longer works. With
        # every access token revoked, replica b must fetch with the rotated one, which
        # only replica a was handed.
        httpx.post(f"{sim.url}/_sandbox/revoke").raise_for_status()
        assert send_plain(b).status_code == 200
        assert auth_calls() == 2
        # And a restarted replica too.
        stop(a)
        started.remove(a)
        httpx.post(f"{sim.url}/_sandbox/revoke").raise_for_status()
        fresh = start("gateway-rot-c", ["gateway"], env, tmp_path)
        started.append(fresh)
        assert send_plain(fresh).status_code == 200
    finally:
        for server in started:
            stop(server)
