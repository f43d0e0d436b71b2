"""The breaker and the outbound rate limit seen by a caller, against the embedded sandboxes."""

from __future__ import annotations

import httpx
import pytest

from gateway.state.guards import MemoryGuards
from gateway.wiring import build
from tests import samples
from tests.gateway.conftest import AppClient
from tests.support import FakeClock, assert_problem

pytestmark = pytest.mark.anyio


def gupshup(client: httpx.AsyncClient, app: str | None = None) -> object:
    data = {"provider": "gupshup", **({"app_id": app} if app else {})}
    return client.post(
        "/send-media", data=data, files={"file": ("a.pdf", samples.pdf(), "application/pdf")}
    )


async def test_a_burst_of_5xx_opens_the_breaker_for_that_app_and_it_recovers(
    app_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()  # the breaker's time, moved by the test
    monkeypatch.setattr(build, "MemoryGuards", lambda: MemoryGuards(clock))
    async with app_client(breaker_failures=2, breaker_open_s=1) as client:
        for _ in range(2):
            failed = assert_problem(await gupshup(client, "sandbox-500"), 502, "provider_error")
            assert failed["stage"] == "upload"
        refused = await gupshup(client, "sandbox-500")
        body = assert_problem(refused, 503, "provider_unavailable")
        assert (body["provider"], body.get("stage"), body["retryable"]) == ("gupshup", None, True)
        assert "circuit open" in body["detail"]
        assert refused.headers["retry-after"] == "1"
        # Gupshup's breaker is per app: the default app is untouched.
        assert (await gupshup(client)).status_code == 200
        assert (await client.get("/readyz")).json()["breakers"]["gupshup"] == "closed"
        await clock.advance(1.1)
        # Half-open: one trial; it fails again (still a 500), so the breaker reopens.
        assert_problem(await gupshup(client, "sandbox-500"), 502, "provider_error")
        assert_problem(await gupshup(client, "sandbox-500"), 503, "provider_unavailable")


async def test_a_kaizala_breaker_shows_in_readiness(app_client: AppClient) -> None:
    async with app_client(breaker_failures=1, breaker_open_s=30) as client:
        await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "sandbox-503@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
        )
        ready = (await client.get("/readyz")).json()
    assert ready["breakers"] == {"kaizala": "open", "gupshup": "closed"}


async def test_over_the_outbound_rate_limit_is_a_429(app_client: AppClient) -> None:
    # Kaizala sends cost two calls (upload and post): 4 calls per minute make two sends.
    async with app_client(rate_limits="kaizala=4/60") as client:
        for _ in range(2):
            sent = await client.post(
                "/send-media",
                data={"provider": "kaizala", "group_id": "g@1"},
                files={"file": ("a.png", samples.png(), "image/png")},
            )
            assert sent.status_code == 200
        over = await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
        )
    body = assert_problem(over, 429, "rate_limited")
    assert body["provider"] == "kaizala"
    assert 1 <= int(over.headers["retry-after"]) <= 30


def test_rate_limit_overrides_parse_and_refuse_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    from gateway.wiring.settings import Settings, StartupError, get_settings

    assert Settings(_env_file=None, rate_limits="kaizala=10/1, gupshup=off").rate_limits == {
        "kaizala": (10, 1.0),
        "gupshup": None,
    }
    monkeypatch.setenv("GATEWAY_RATE_LIMITS", "kaizala=fast")
    with pytest.raises(StartupError, match="GATEWAY_RATE_LIMITS: 'kaizala=fast' is not"):
        get_settings()


async def test_a_burst_of_429s_does_not_open_the_breaker(app_client: AppClient) -> None:
    """Throttling is the provider working as documented, not failing."""
    async with app_client(breaker_failures=2) as client:
        for _ in range(5):
            throttled = await client.post(
                "/send-media",
                data={"provider": "kaizala", "group_id": "sandbox-429@1"},
                files={"file": ("a.png", samples.png(), "image/png")},
            )
            body = assert_problem(throttled, 429, "rate_limited")
            assert throttled.headers["retry-after"] == "7"
            assert body["provider_status"] == 429
        assert (await client.get("/readyz")).json()["breakers"]["kaizala"] == "closed"


async def test_readiness_shows_the_breaker_sends_to_the_default_app_use() -> None:
    """A send without app_id goes to the default app's partition; /readyz must show that
    breaker, not one no send ever uses."""
    from gateway.state.guards import BreakerPolicy
    from gateway.wiring.app import create_app
    from gateway.wiring.settings import Settings
    from providers.gupshup import GupshupTarget
    from tests.gateway.conftest import serve

    app = create_app(Settings(_env_file=None, breaker_failures=2))
    async with serve(app) as client:
        service = app.state.runtime.service
        key = service.partition_of("gupshup", GupshupTarget(app_id="sandbox-app"))
        for _ in range(2):
            await service.guards.record(key, False, BreakerPolicy(2, 30, 60))
        ready = (await client.get("/readyz")).json()
        described = (await client.get("/providers")).json()["providers"]
    assert key == "gupshup:sandbox-app"  # the default app, resolved
    assert ready["breakers"]["gupshup"] == "open"
    assert described["gupshup"]["breaker"] == "open"


async def test_sends_without_app_id_and_naming_the_default_app_share_one_limit(
    app_client: AppClient,
) -> None:
    async with app_client(rate_limits="gupshup=2/60") as client:

        async def send(**fields: str) -> httpx.Response:
            return await client.post(
                "/send-media",
                json={"provider": "gupshup", "url": "https://e.com/a.pdf", **fields},
            )

        assert (await send()).status_code == 200
        assert (await send(app_id="sandbox-app")).status_code == 200
        # Both forms are the one default app: its third send is over the limit either way.
        assert_problem(await send(), 429, "rate_limited")
        assert_problem(await send(app_id="sandbox-app"), 429, "rate_limited")
        assert (await send(app_id="other-app")).status_code != 429
