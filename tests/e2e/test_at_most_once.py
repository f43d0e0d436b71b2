"""At most once under faults, with real processes: a Redis of each test's own that is paused
(SIGSTOP), killed and restarted, a gateway killed mid-post, a provider answering what no
parser reads. Posts are counted at the simulator, the only witness that matters."""

from __future__ import annotations

import concurrent.futures
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import (
    API_KEY,
    Server,
    Stack,
    free_port,
    live_env,
    start,
    start_kaizala_simulator,
    stop,
    wait_for_port,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

POST_S = 4  # how long the slow simulator's post takes
DEADLINE_S = 7  # so a dead gateway's lease (deadline + 5 s) ends within the test


@dataclass
class OwnRedis:
    """A redis-server of the test's own, with AOF on as compose runs it."""

    binary: str
    port: int
    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def launch(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always",
             "--maxmemory-policy", "noeviction", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_port(self.port)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def restart(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait()
        self.launch()

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary (.ci/run installs Debian's redis-server)")
    folder = tmp_path / "redis"
    folder.mkdir()
    redis = OwnRedis(binary, free_port(), folder)
    redis.launch()
    yield redis
    redis.kill()


@pytest.fixture
def slow_kaizala(tmp_path: Path) -> Iterator[Server]:
    """A Kaizala simulator whose `sandbox-slow@1` post takes POST_S seconds."""
    sim = start_kaizala_simulator("kaizala-slow-post", tmp_path, SANDBOX_SLOW_S=str(POST_S))
    yield sim
    stop(sim)


def gateway_env(stack: Stack, redis: str, kaizala: Server | None = None) -> dict[str, str]:
    """Live credentials for the simulators (`kaizala` instead of the stack's), own Redis."""
    return {
        **live_env(stack, redis),
        "GATEWAY_UPSTREAM_TIMEOUT_S": str(POST_S + 2),
        "GATEWAY_REQUEST_DEADLINE_S": str(DEADLINE_S),
        "KAIZALA_AUTH_URL": (kaizala or stack.kaizala_sim).url,
    }


def send(gateway: Server, key: str, group: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/send-media",
        headers={"X-API-Key": API_KEY, "Idempotency-Key": key},
        data={"provider": "kaizala", "group_id": group},
        files={"file": ("a.png", samples.png(), "image/png")},
        timeout=60,
    )


def posts(sim: Server, group: str) -> int:
    log = httpx.get(f"{sim.url}/_sandbox/log").json()
    return sum(1 for entry in log if entry["call"] == "post" and entry["group"] == group)


def retry_past_409(gateway: Server, key: str, group: str, seconds: float) -> httpx.Response:
    answer = send(gateway, key, group)
    deadline = time.monotonic() + seconds
    while answer.status_code == 409 and time.monotonic() < deadline:
        time.sleep(float(answer.headers["retry-after"]))
        answer = send(gateway, key, group)
    return answer


def test_redis_paused_while_the_post_is_in_flight_posts_once(
    stack: Stack, slow_kaizala: Server, own_redis: OwnRedis, tmp_path: Path
) -> None:
    gateway = start(
        "gateway-redis-paused",
        ["gateway"],
        gateway_env(stack, own_redis.url, slow_kaizala),
        tmp_path,
    )
    key, group = uuid.uuid4().hex, "sandbox-slow@1"
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(send, gateway, key, group)
            time.sleep(1.5)  # the post is at the simulator, which answers after POST_S
            assert posts(slow_kaizala, group) == 1
            own_redis.signal(signal.SIGSTOP)
            first = pending.result()
        # The post went out and succeeded: the caller hears so, though nothing was stored.
        assert first.status_code == 200, first.text
        stalled = send(gateway, key, group)
        body = stalled.json()
        assert (stalled.status_code, body["code"]) == (503, "store_unavailable")
        own_redis.signal(signal.SIGCONT)
        time.sleep(1.5)  # the gateway writes the answer it could not store
        again = retry_past_409(gateway, key, group, DEADLINE_S + 10)
        assert again.status_code == 200, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert posts(slow_kaizala, group) == 1
    finally:
        own_redis.signal(signal.SIGCONT)
        stop(gateway)
    assert "Traceback" not in gateway.log_text()


def test_a_gateway_killed_mid_post_leaves_the_key_interrupted_not_resent(
    stack: Stack, slow_kaizala: Server, own_redis: OwnRedis, tmp_path: Path
) -> None:
    env = gateway_env(stack, own_redis.url, slow_kaizala)
    doomed = start("gateway-killed", ["gateway"], env, tmp_path)
    key, group = uuid.uuid4().hex, "sandbox-slow@1"
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(send, doomed, key, group)
        time.sleep(1.5)
        assert posts(slow_kaizala, group) == 1
        doomed.process.send_signal(signal.SIGKILL)
        doomed.process.wait()
        with pytest.raises(httpx.TransportError):
            pending.result()
    restarted = start("gateway-restarted", ["gateway"], env, tmp_path)
    try:
        busy = send(restarted, key, group)
        assert busy.status_code == 409  # the dead gateway's lease still runs
        after = retry_past_409(restarted, key, group, DEADLINE_S + 5 + 5)
        body = after.json()
        assert (after.status_code, body["code"]) == (502, "interrupted"), after.text
        assert (body["outcome"], body["retryable"]) == ("unknown", False)
        assert body["media_id"].startswith("kz-media-")
        assert send(restarted, key, group).json()["code"] == "interrupted"
        assert posts(slow_kaizala, group) == 1
    finally:
        stop(restarted)


def test_an_answer_nested_too_deep_is_a_provider_error_stored_once(
    stack: Stack, own_redis: OwnRedis, tmp_path: Path
) -> None:
    gateway = start(
        "gateway-deep",
        ["gateway"],
        gateway_env(stack, own_redis.url),
        tmp_path,
    )
    key, group = uuid.uuid4().hex, "sandbox-deep@1"
    try:
        first = send(gateway, key, group)
        body = first.json()
        assert (first.status_code, body["code"], body["stage"]) == (502, "provider_error", "post")
        assert (body["outcome"], body["retryable"]) == ("unknown", False)
        for _ in range(3):
            again = send(gateway, key, group)
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json() == body
        assert posts(stack.kaizala_sim, group) == 1
        upload = httpx.post(
            f"{gateway.url}/send-media",
            headers={"X-API-Key": API_KEY, "Idempotency-Key": uuid.uuid4().hex},
            data={"provider": "gupshup", "app_id": "sandbox-deep"},
            files={"file": ("a.png", samples.png(), "image/png")},
            timeout=30,
        )
        uploaded = upload.json()
        assert (upload.status_code, uploaded["code"], uploaded["stage"]) == (
            502,
            "provider_error",
            "upload",
        )
        assert uploaded["retryable"] is True  # an upload delivers nothing
    finally:
        stop(gateway)
    assert "RecursionError" not in gateway.log_text()


def test_a_restarted_redis_keeps_the_keys_and_its_first_send_is_served(
    stack: Stack, own_redis: OwnRedis, tmp_path: Path
) -> None:
    gateway = start(
        "gateway-redis-restarted",
        ["gateway"],
        gateway_env(stack, own_redis.url),
        tmp_path,
    )
    group = f"restart-{uuid.uuid4().hex[:8]}@1"
    key = uuid.uuid4().hex
    try:
        first = send(gateway, key, group)
        assert first.status_code == 200
        own_redis.restart()
        # The pooled connection died with the old server: tried again on a new one.
        fresh = send(gateway, uuid.uuid4().hex, group)
        assert fresh.status_code == 200, fresh.text
        # With AOF the key outlived the restart: a replay, not a second post.
        again = send(gateway, key, group)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert posts(stack.kaizala_sim, group) == 2
    finally:
        stop(gateway)
