"""The Kaizala simulator's own behaviour: what its triggers do, call by call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from simulators.kaizala import KaizalaSimConfig, create_app
from tests import samples

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sim() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(KaizalaSimConfig(public_url="http://kz"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kz") as c:
        yield c


async def token(sim: httpx.AsyncClient) -> str:
    config = KaizalaSimConfig()
    answer = await sim.get(
        "/v1/accessToken",
        headers={
            "applicationId": config.application_id,
            "applicationSecret": config.application_secret,
            "refreshToken": config.refresh_token,
        },
    )
    value: str = answer.json()["accessToken"]
    return value


async def test_sandbox_moved_moves_once_per_send_and_leaves_nothing_pending(
    sim: httpx.AsyncClient,
) -> None:
    headers = {"accessToken": await token(sim)}
    upload = await sim.post(
        "/v1/media", headers=headers, files={"files": ("a.png", samples.png(), "image/png")}
    )
    media = upload.json()["mediaResource"]
    body = {"actionType": "Image", "actionBody": {"mediaResource": media}}
    first = await sim.post("/v1/groups/sandbox-moved%401/actions", headers=headers, json=body)
    assert first.status_code == 308
    # The Location repeats the path as sent, %40 and all.
    location = first.headers["location"]
    assert location == "http://kz/moved-1/v1/groups/sandbox-moved%401/actions"
    resent = await sim.post(location.removeprefix("http://kz"), headers=headers, json=body)
    assert resent.status_code == 200
    # An unrelated call to the new base is served: no move was left pending.
    other = await sim.post(
        "/moved-1/v1/media", headers=headers, files={"files": ("a.png", samples.png(), "image/png")}
    )
    assert other.status_code == 200
    # The next send with the trigger moves again, once.
    again = await sim.post(
        "/moved-1/v1/groups/sandbox-moved%401/actions", headers=headers, json=body
    )
    assert again.headers["location"].startswith("http://kz/moved-2/")
