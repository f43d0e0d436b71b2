"""GET /metrics counts what the gateway did, and /send-media answers carry Server-Timing with
the time of each stage; an unwritable temporary directory is a 503, never a 500."""

from __future__ import annotations

import re
import tempfile

import httpx
import pytest

from gateway.pipeline import spool
from tests import samples
from tests.gateway.conftest import AppClient

pytestmark = pytest.mark.anyio


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus' text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name) : line.index("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def metrics(client: httpx.AsyncClient) -> str:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def test_sends_calls_and_requests_are_counted(client: httpx.AsyncClient) -> None:
    before = await metrics(client)
    image = samples.png(4, 4)
    ok = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g@1"},
        files={"file": ("a.png", image, "image/png")},
    )
    failed = await client.post(
        "/send-media",
        json={"provider": "gupshup", "url": "https://e.com/a.pdf", "app_id": "sandbox-500"},
    )
    assert (ok.status_code, failed.status_code) == (200, 502)
    after = await metrics(client)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("gateway_sends_total", provider="kaizala", media_type="image", outcome="ok") == 1
    assert grew("gateway_sends_total", provider="gupshup", outcome="provider_error") == 1
    assert grew("gateway_requests_total", route="/send-media", status="200", code="ok") == 1
    assert (
        grew("gateway_requests_total", route="/send-media", status="502", code="provider_error")
        == 1
    )
    for stage in ("upload", "post"):
        assert (
            grew("gateway_upstream_calls_total", provider="kaizala", stage=stage, result="2xx") == 1
        )
        assert (
            grew("gateway_upstream_call_duration_seconds_count", provider="kaizala", stage=stage)
            == 1
        )
    assert (
        grew("gateway_upstream_calls_total", provider="gupshup", stage="upload", result="5xx") == 1
    )
    assert grew("gateway_uploaded_bytes_total", provider="kaizala") == len(image)
    assert sample(after, "gateway_breaker_open", provider="kaizala") == 0
    assert 'gateway_token_refreshes_total{provider="kaizala",result="2xx"}' in after


async def test_send_answers_say_how_long_each_stage_took(client: httpx.AsyncClient) -> None:
    answer = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g@1"},
        files={"file": ("a.png", samples.png(), "image/png")},
    )
    stages = dict(re.findall(r"(\w+);dur=([\d.]+)", answer.headers["server-timing"]))
    assert {"intake", "upload", "post"} <= set(stages)
    assert all(float(v) >= 0 for v in stages.values())
    failed = await client.post(
        "/send-media",
        json={"provider": "gupshup", "url": "https://e.com/a.pdf", "app_id": "sandbox-500"},
    )
    assert "upload;dur=" in failed.headers["server-timing"]
    # Only sends are timed.
    assert "server-timing" not in (await client.get("/healthz")).headers


async def test_an_unwritable_temp_dir_is_not_ready_and_uploads_get_503(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    # Like a read-only root with no tmpfs: the temporary directory cannot be written.
    monkeypatch.setattr(tempfile, "tempdir", f"{tmp_path}/missing")
    spool.FILES.clear()  # no file kept from an earlier upload either
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["code"] == "not_ready"
    assert "temporary directory" in ready.json()["detail"]
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 << 20)  # past the 1 MiB in-memory spool
    answer = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g@1"},
        files={"file": ("a.png", big, "image/png")},
    )
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert (answer.json()["code"], answer.json()["retryable"]) == ("not_ready", True)


async def test_a_provider_the_gateway_does_not_serve_is_one_label_value(
    client: httpx.AsyncClient,
) -> None:
    """The provider field is the caller's: each unknown name must not open a time series."""
    for name in ("nope-1", "nope-2"):
        answer = await client.post(
            "/send-media", json={"provider": name, "url": "https://e.com/a.pdf"}
        )
        assert answer.status_code == 422
    text = await metrics(client)
    assert "nope-" not in text
    assert sample(text, "gateway_sends_total", provider="unknown", outcome="validation_error") >= 2


async def test_a_replayed_answer_is_counted_as_replayed_not_as_a_send(
    client: httpx.AsyncClient,
) -> None:
    before = await metrics(client)
    form = {"provider": "kaizala", "group_id": "g@1"}
    headers = {"Idempotency-Key": "metrics-replay-0001"}
    for _ in range(2):
        answer = await client.post(
            "/send-media",
            data=form,
            files={"file": ("a.png", samples.png(), "image/png")},
            headers=headers,
        )
        assert answer.status_code == 200
    assert answer.headers["idempotent-replayed"] == "true"
    after = await metrics(client)

    def grew(**labels: str) -> float:
        return sample(after, "gateway_sends_total", **labels) - sample(
            before, "gateway_sends_total", **labels
        )

    assert grew(provider="kaizala", media_type="image", outcome="ok") == 1
    assert grew(provider="kaizala", outcome="replayed") == 1


@pytest.mark.parametrize(("keep_bytes", "kept"), [(0, 0), (64 << 20, 1)])
async def test_the_spool_files_kept_follow_the_operators_bound(
    app_client: AppClient, keep_bytes: int, kept: int
) -> None:
    """GATEWAY_SPOOL_KEEP_BYTES: 0 keeps none (a tmpfs /tmp, where they are memory)."""
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 << 20)  # past the 1 MiB in-memory spool
    async with app_client(spool_keep_bytes=keep_bytes) as client:
        spool.FILES.clear()
        answer = await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("a.png", big, "image/png")},
        )
        assert answer.status_code == 200, answer.text
        assert spool.FILES.kept == kept
