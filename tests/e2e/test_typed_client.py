"""The typed client (clients/python) against a running gateway: the live gateway of the e2e
stack, its providers' simulators as real servers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from media_gateway_client import (
    MediaGateway,
    NotFoundError,
    ProviderFailedError,
    RateLimitedError,
)

from tests import samples
from tests.e2e.conftest import API_KEY, Stack

pytestmark = pytest.mark.e2e


def sim_posts(stack: Stack) -> int:
    log = httpx.get(f"{stack.kaizala_sim.url}/_sandbox/log").json()
    return sum(1 for entry in log if entry["call"] == "post")


def test_a_send_its_replay_and_the_providers(stack: Stack) -> None:
    with MediaGateway(stack.gateway.url, API_KEY) as gateway:
        assert gateway.ready()
        assert {"kaizala", "gupshup"} <= set(gateway.providers().providers.additional_properties)
        key = f"client-{uuid.uuid4().hex}"
        png = [("photo.png", samples.png(), "image/png")]
        posts = sim_posts(stack)
        sent = gateway.send_files("kaizala", png, group_id="g@1", idempotency_key=key)
        again = gateway.send_files("kaizala", png, group_id="g@1", idempotency_key=key)
    assert (sent.provider, sent.media_type.value, sent.sandbox) == ("kaizala", "image", False)
    assert again.media_id == sent.media_id  # the stored answer: posted once
    assert sim_posts(stack) == posts + 1


def test_a_delivering_send_and_its_message(stack: Stack) -> None:
    with MediaGateway(stack.gateway.url, API_KEY) as gateway:
        sent = gateway.send_url(
            "gupshup", f"{stack.origin}/report.pdf", to="919876543210", file_type="application/pdf"
        )
        assert isinstance(sent.message_id, str)
        message = gateway.message(sent.message_id)
        assert message.message_id == sent.message_id
        assert message.status.value in {"accepted", "sent", "delivered", "read"}
        with pytest.raises(NotFoundError) as unknown:
            gateway.message(f"nope-{uuid.uuid4().hex}")
    assert unknown.value.status == 404


def test_a_retryable_failure_is_retried_with_the_same_key_then_raised(stack: Stack) -> None:
    waits: list[float] = []
    gateway = MediaGateway(stack.gateway.url, API_KEY, max_attempts=2, sleep=waits.append)
    with gateway, pytest.raises(RateLimitedError) as limited:
        gateway.send_files(
            "kaizala", [("a.png", samples.png(), "image/png")], group_id="sandbox-429@1"
        )
    assert limited.value.code == "rate_limited"
    assert limited.value.retryable
    assert waits == [7.0]  # the simulator's Retry-After, passed on by the gateway


def test_a_failure_that_is_not_retryable_is_raised_at_once(stack: Stack) -> None:
    waits: list[float] = []
    gateway = MediaGateway(stack.gateway.url, API_KEY, sleep=waits.append)
    with gateway, pytest.raises(ProviderFailedError) as refused:
        gateway.send_files(
            "kaizala", [("a.png", samples.png(), "image/png")], group_id="sandbox-400@1"
        )
    assert (refused.value.code, refused.value.retryable) == ("provider_rejected", False)
    assert waits == []


def test_the_readmes_example_runs(stack: Stack, tmp_path: Path) -> None:
    """README, "From Python": against a gateway without keys, as `make run` starts it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### From Python: the typed client", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "photo.png").write_bytes(samples.png())
    script = code.replace("http://127.0.0.1:8000", stack.sandbox.url)
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip()  # the media id the sandbox answered
