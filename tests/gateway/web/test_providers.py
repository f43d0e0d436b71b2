"""GET /providers is generated from the declarations sends are checked against: every type it
lists is accepted by /send-media, and a type it does not list is refused."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from providers.base import OPAQUE_ID_PATTERN
from tests import samples
from tests.gateway.conftest import AppClient

pytestmark = pytest.mark.anyio

# Every sample file we can make, by MIME type.
SAMPLES = {
    ctype: (name, data) for name, ctype, data, _ in samples.KAIZALA_FILES + samples.GUPSHUP_FILES
}
TARGETS = {"kaizala": {"group_id": "g@1"}, "gupshup": {}}


async def providers(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/providers")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()["providers"]
    return body


async def test_the_map_describes_each_provider(client: httpx.AsyncClient) -> None:
    described = await providers(client)
    kaizala, gupshup = described["kaizala"], described["gupshup"]
    assert (kaizala["mode"], kaizala["url"], kaizala["album_sizes"]) == (
        "sandbox",
        "downloaded",
        [2, 10],
    )
    assert (gupshup["url"], gupshup["album_sizes"]) == ("passed_on", None)
    assert (gupshup["caption_requires"], gupshup["caption_media_types"]) == (
        "to",
        ["document", "image", "video"],
    )
    assert (gupshup["delivery"], kaizala["delivery"]) == ("to", None)
    assert gupshup["delivery_max_bytes"]["image"] == 5 * 1024 * 1024
    assert kaizala["target_fields"]["group_id"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": 256,
        "description": "Kaizala: the target group (public groups look like `<guid>@1`); "
        "never `.` or `..`.",
        "examples": ["6a4f8c1e-0000-4000-8000-000000000000@1"],
        "pattern": OPAQUE_ID_PATTERN,
        "required": True,
    }
    assert gupshup["target_fields"]["app_id"]["required"] is False
    assert gupshup["media_types"]["document"]["max_bytes"] == 100 * 1024 * 1024
    assert kaizala["rate_limit"] == {
        "calls": 100,
        "per_seconds": 60.0,
        "calls_per_send": 2,
        "per": "provider",
    }
    assert gupshup["rate_limit"]["per"] == "partition"
    assert {kaizala["breaker"], gupshup["breaker"]} == {"closed"}


async def test_every_listed_type_is_accepted_by_send_media(app_client: AppClient) -> None:
    # Many sends in a row: the outbound limits (Gupshup's 10 a second) would rightly refuse.
    async with app_client(rate_limits="kaizala=off,gupshup=off") as client:
        await check_every_listed_type(client)


async def check_every_listed_type(client: httpx.AsyncClient) -> None:
    tried = 0
    for name, described in (await providers(client)).items():
        for media_type, support in described["media_types"].items():
            if media_type == "album":
                continue
            for mime in support["mime_types"]:
                if mime not in SAMPLES:
                    continue  # no sample bytes for it (audio/aac, audio/amr, …)
                filename, data = SAMPLES[mime]
                response = await client.post(
                    "/send-media",
                    data={"provider": name, **TARGETS[name]},
                    files={"file": (filename, data, mime)},
                )
                assert response.status_code == 200, (name, mime, response.text)
                tried += 1
    assert tried >= 20


@pytest.mark.parametrize(
    ("provider", "mime"),
    [
        ("kaizala", "image/webp"),
        ("kaizala", "text/plain"),
        ("kaizala", "audio/ogg"),
        ("gupshup", "audio/wav"),
    ],
)
async def test_a_type_not_listed_is_refused(
    client: httpx.AsyncClient, provider: str, mime: str
) -> None:
    listed = {
        m
        for support in (await providers(client))[provider]["media_types"].values()
        for m in support["mime_types"]
    }
    assert mime not in listed
    filename, data = SAMPLES[mime]
    response = await client.post(
        "/send-media",
        data={"provider": provider, **TARGETS[provider]},
        files={"file": (filename, data, mime)},
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
