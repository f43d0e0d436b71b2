"""SIGTERM with a send in flight: not ready at once, nothing dropped, a clean exit."""

from __future__ import annotations

import concurrent.futures
import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import API_KEY, KAIZALA_APP_ID, SECRETS, SLOW_S, Stack, start

pytestmark = pytest.mark.e2e


def test_sigterm_turns_not_ready_refuses_new_sends_and_finishes_the_running_one(
    stack: Stack, tmp_path: Path
) -> None:
    gateway = start(
        "gateway-stopping",
        ["gateway"],
        {
            "GATEWAY_API_KEYS": API_KEY,
            "GATEWAY_UPSTREAM_TIMEOUT_S": str(SLOW_S + 4),
            "GATEWAY_SHUTDOWN_DELAY_S": "2",
            "GATEWAY_DRAIN_S": "20",
            "KAIZALA_AUTH_URL": stack.kaizala_sim.url,
            "KAIZALA_APPLICATION_ID": KAIZALA_APP_ID,
            "KAIZALA_APPLICATION_SECRET": SECRETS["kaizala_secret"],
            "KAIZALA_REFRESH_TOKEN": SECRETS["kaizala_refresh"],
        },
        tmp_path,
    )
    headers = {"X-API-Key": API_KEY}
    png = {"file": ("a.png", samples.png(), "image/png")}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # The simulator answers this group's post after SLOW_S seconds.
        running = pool.submit(
            httpx.post,
            f"{gateway.url}/send-media",
            headers=headers,
            data={"provider": "kaizala", "group_id": "sandbox-slow@1"},
            files=png,
            timeout=60,
        )
        time.sleep(1)
        stopping_at = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        ready = httpx.get(f"{gateway.url}/readyz")
        assert ready.status_code == 503
        assert ready.json()["code"] == "not_ready"
        refused = httpx.post(
            f"{gateway.url}/send-media",
            headers=headers,
            data={"provider": "kaizala", "group_id": "g@1"},
            files=png,
        )
        assert refused.status_code == 503
        assert (refused.json()["code"], refused.json()["retryable"]) == ("not_ready", True)
        finished = running.result()
    assert finished.status_code == 200, finished.text  # the send in flight was not dropped
    # uvicorn ends by re-raising the SIGTERM it handled, once shutdown is complete (the
    # conventional "stopped on request", 143 in a container).
    assert gateway.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert time.monotonic() - stopping_at < SLOW_S + 10
    lines = [json.loads(line) for line in gateway.log_text().splitlines() if line]
    messages = [line["message"] for line in lines]
    assert "shutting down: not ready now, stopping in 2 s" in messages
    assert messages[-1].startswith("Finished server process")
    assert not [line for line in lines if line["level"] in ("error", "critical")]
