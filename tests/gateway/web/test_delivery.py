"""Delivery through Gupshup (`to`), through the app, against the embedded simulator."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests import samples
from tests.support import assert_problem

pytestmark = pytest.mark.anyio

TO = "919876543210"


def deliver(client: httpx.AsyncClient, files: Any = None, **data: str) -> Any:
    return client.post(
        "/send-media",
        data={"provider": "gupshup", "to": TO, **data},
        files=files or {"file": ("photo.png", samples.png(), "image/png")},
    )


async def test_a_png_is_uploaded_and_delivered(client: httpx.AsyncClient) -> None:
    response = await deliver(client, caption="Site photo")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media_id"].isdigit()
    assert uuid.UUID(body["message_id"])  # Gupshup's own message id, not a wamid


async def test_a_url_is_delivered_too(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media",
        json={"provider": "gupshup", "to": TO, "url": "https://example.com/brochure.pdf"},
    )
    assert response.status_code == 200, response.text
    assert uuid.UUID(response.json()["message_id"])


async def test_a_caption_needs_to_and_audio_takes_none(client: httpx.AsyncClient) -> None:
    no_to = await client.post(
        "/send-media",
        data={"provider": "gupshup", "caption": "hi"},
        files={"file": ("photo.png", samples.png(), "image/png")},
    )
    assert "only with to" in assert_problem(no_to, 422, "validation_error")["detail"]
    audio = await deliver(
        client, {"file": ("voice.mp3", samples.mp3(), "audio/mpeg")}, caption="hi"
    )
    assert assert_problem(audio, 422, "validation_error")["detail"] == (
        "caption: gupshup does not caption audio"
    )


@pytest.mark.parametrize("to", ["0123456789", "12345", "+44 20 7946 0000"])
async def test_a_bad_phone_number_is_a_422(client: httpx.AsyncClient, to: str) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "gupshup", "to": to},
        files={"file": ("photo.png", samples.png(), "image/png")},
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "to"
    assert "country code" in body["errors"][0]["message"]


async def test_whatsapps_image_limit_is_checked_before_the_upload(
    client: httpx.AsyncClient,
) -> None:
    big = samples.png() + b"\0" * (5 * 1024 * 1024)  # a PNG over 5 MiB
    over = await deliver(client, {"file": ("big.png", big, "image/png")})
    assert (
        "delivers image of at most 5 MB (5242880 bytes)"
        in assert_problem(over, 413, "payload_too_large")["detail"]
    )
    # Without `to` the same file is only uploaded: Gupshup takes up to 100 MB.
    uploaded = await client.post(
        "/send-media", data={"provider": "gupshup"}, files={"file": ("big.png", big, "image/png")}
    )
    assert uploaded.status_code == 200


@pytest.mark.parametrize(
    ("to", "status", "code", "retryable", "outcome"),
    [
        ("10000000400", 400, "provider_rejected", False, None),
        ("10000000401", 502, "provider_auth_failed", False, None),
        ("10000000429", 429, "rate_limited", True, None),
        ("10000000500", 502, "provider_error", False, "unknown"),  # it may have been sent
    ],
)
async def test_send_step_failures(
    client: httpx.AsyncClient, to: str, status: int, code: str, retryable: bool, outcome: str | None
) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "gupshup", "to": to},
        files={"file": ("photo.png", samples.png(), "image/png")},
    )
    body = assert_problem(response, status, code)
    assert (body["stage"], body["retryable"], body.get("outcome")) == ("send", retryable, outcome)
    assert body["media_id"].isdigit()  # the upload worked; the media id is the caller's
    if status == 502 and code == "provider_error":
        assert body["detail"] == "gupshup could not send the message"  # not "the media"


async def test_a_retry_after_a_certainly_failed_send_reuses_the_media_id(
    client: httpx.AsyncClient,
) -> None:
    def once() -> Any:
        return client.post(
            "/send-media",
            headers={"Idempotency-Key": "deliver-1"},
            data={"provider": "gupshup", "to": "10000000400"},
            files={"file": ("photo.png", samples.png(), "image/png")},
        )

    first = assert_problem(await once(), 400, "provider_rejected")
    second = assert_problem(await once(), 400, "provider_rejected")
    # Released (a 400 delivered nothing), so it ran again, with the same media id: the
    # sandbox gives every upload a new one, so a second upload would show.
    assert second["media_id"] == first["media_id"]
    assert second["request_id"] != first["request_id"]


async def test_the_same_file_again_reuses_its_media_id(client: httpx.AsyncClient) -> None:
    first = (await deliver(client)).json()
    second = (await deliver(client)).json()
    # The sandbox gives every upload a new id: the same one means no second upload.
    assert (second["media_id"], second["media_reused"]) == (first["media_id"], True)
    assert first["media_reused"] is False
    assert second["message_id"] != first["message_id"]  # delivered again, as asked


async def test_a_webp_is_uploaded_but_not_delivered_as_an_image(client: httpx.AsyncClient) -> None:
    webp = {"file": ("sticker.webp", samples.webp(), "image/webp")}
    refused = await deliver(client, webp)
    detail = assert_problem(refused, 415, "unsupported_media_type")["detail"]
    assert "delivers image as image/jpeg, image/png, not image/webp" in detail
    uploaded = await client.post("/send-media", data={"provider": "gupshup"}, files=webp)
    assert uploaded.status_code == 200
