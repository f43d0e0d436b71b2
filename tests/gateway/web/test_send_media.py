"""POST /send-media through the app, against the embedded sandboxes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import samples
from tests.gateway.conftest import AppClient
from tests.support import assert_problem

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(("name", "ctype", "data", "media_type"), samples.KAIZALA_FILES)
async def test_kaizala_sends_every_format(
    client: httpx.AsyncClient, name: str, ctype: str, data: bytes, media_type: str
) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "team@1", "caption": "hello"},
        files={"file": (name, data, ctype)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["provider"] == "kaizala"
    assert body["media_type"] == media_type
    assert body["media_id"].startswith("kz-media-")
    assert body["reference_id"]
    assert body["action_id"]
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(("name", "ctype", "data", "media_type"), samples.GUPSHUP_FILES)
async def test_gupshup_uploads_every_format(
    client: httpx.AsyncClient, name: str, ctype: str, data: bytes, media_type: str
) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "gupshup", "app_id": "app-1"},
        files={"file": (name, data, ctype)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["media_type"] == media_type
    assert body["media_id"].isdigit()
    assert body["reference_id"] is None
    assert body["action_id"] is None


async def test_album_of_images_to_kaizala(client: httpx.AsyncClient) -> None:
    files = [
        ("file", ("a.png", samples.png(), "image/png")),
        ("file", ("b.jpg", samples.JPEG, "image/jpeg")),
        ("file", ("c.png", samples.png(3, 3), "image/png")),
    ]
    response = await client.post(
        "/send-media", data={"provider": "kaizala", "group_id": "team@1"}, files=files
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_type"] == "album"


async def test_generic_declared_type_is_judged_by_bytes_and_extension(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "team@1"},
        files={"file": ("photo.png", samples.png(), "application/octet-stream")},
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_type"] == "image"


async def test_gupshup_by_url_as_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media",
        json={"provider": "gupshup", "url": "https://cdn.example.com/brochure.pdf", "app_id": "a1"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_type"] == "document"


async def test_gupshup_url_with_explicit_file_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media",
        json={
            "provider": "gupshup",
            "url": "https://cdn.example.com/media?id=7",
            "app_id": "a1",
            "file_type": "video/mp4",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_type"] == "video"


@pytest.mark.parametrize(
    ("data", "files", "field"),
    [
        ({"provider": "kaizala"}, {"file": ("a.png", samples.png(), "image/png")}, "group_id"),
        # A field the chosen provider does not use is refused, whichever field it is.
        (
            {"provider": "gupshup", "group_id": "g"},
            {"file": ("a.png", samples.png(), "image/png")},
            "group_id",
        ),
        (
            {"provider": "kaizala", "group_id": "g", "app_id": "a"},
            {"file": ("a.png", samples.png(), "image/png")},
            "app_id",
        ),
        ({"provider": "nope"}, {"file": ("a.png", samples.png(), "image/png")}, "provider"),
        ({"provider": "kaizala", "group_id": "g"}, None, "file"),
        ({"group_id": "g"}, {"file": ("a.png", samples.png(), "image/png")}, "provider"),
        (
            {"provider": "kaizala", "group_id": "g", "colour": "red"},
            {"file": ("a.png", samples.png(), "image/png")},
            "colour",
        ),
        (
            {"provider": "kaizala", "group_id": "g", "caption": "x" * 1025},
            {"file": ("a.png", samples.png(), "image/png")},
            "caption",
        ),
        (
            {"provider": "kaizala", "group_id": "g", "url": "https://example.com/a.png"},
            {"file": ("a.png", samples.png(), "image/png")},
            "file",
        ),
        (
            {"provider": "kaizala", "group_id": "g", "media_type": "video"},
            {"file": ("a.png", samples.png(), "image/png")},
            "media_type",
        ),
        (
            {"provider": "kaizala", "group_id": "g", "media_type": "album"},
            {"file": ("a.png", samples.png(), "image/png")},
            "file",
        ),
        (
            {"provider": "gupshup", "app_id": "a", "caption": "hi"},
            {"file": ("a.png", samples.png(), "image/png")},
            "caption",
        ),
        ({"provider": "kaizala", "group_id": "g", "url": "ftp://example.com/a.png"}, None, "url"),
        ({"provider": "kaizala", "group_id": "g", "url": "file:///etc/passwd"}, None, "url"),
    ],
)
async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, data: dict[str, str], files: Any, field: str
) -> None:
    response = await client.post("/send-media", data=data, files=files or {"x": ("", b"")})
    body = assert_problem(response, 422, "validation_error")
    assert body["provider"] is None
    assert body["retryable"] is False
    assert field in {entry["field"] for entry in body["errors"]}, body


async def test_json_body_with_unknown_field_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media", json={"provider": "gupshup", "url": "https://e.com/a.png", "file": "x"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert {"field": "file"}.items() <= body["errors"][0].items()


async def test_malformed_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_problem(response, 422, "validation_error")


async def test_other_request_content_types_are_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media", content=b"provider=kaizala", headers={"content-type": "text/plain"}
    )
    assert_problem(response, 415, "unsupported_media_type")


async def test_album_size_limits(app_client: AppClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZALA_ALBUM_MAX_IMAGES", "3")
    async with app_client() as client:
        files = [("file", (f"{i}.png", samples.png(), "image/png")) for i in range(4)]
        response = await client.post(
            "/send-media", data={"provider": "kaizala", "group_id": "g"}, files=files
        )
    body = assert_problem(response, 422, "validation_error")
    assert "2 to 3 images" in body["detail"]


async def test_album_only_on_kaizala(client: httpx.AsyncClient) -> None:
    files = [("file", (f"{i}.png", samples.png(), "image/png")) for i in range(2)]
    response = await client.post(
        "/send-media", data={"provider": "gupshup", "app_id": "a"}, files=files
    )
    body = assert_problem(response, 422, "validation_error")
    assert "albums are not supported" in body["detail"]


async def test_album_with_a_non_image_is_refused(client: httpx.AsyncClient) -> None:
    files = [
        ("file", ("a.png", samples.png(), "image/png")),
        ("file", ("b.pdf", samples.pdf(), "application/pdf")),
    ]
    response = await client.post(
        "/send-media", data={"provider": "kaizala", "group_id": "g"}, files=files
    )
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "files",
    [
        [("a.mp4", samples.mp4(), "video/mp4"), ("b.mp4", samples.mp4(), "video/mp4")],
        [("a.pdf", samples.pdf(), "application/pdf"), ("b.pdf", samples.pdf(), "application/pdf")],
    ],
    ids=["videos", "documents"],
)
async def test_several_files_that_are_not_images_are_refused_before_any_upload(
    client: httpx.AsyncClient, files: list[tuple[str, bytes, str]]
) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g"},
        files=[("file", f) for f in files],
    )
    body = assert_problem(response, 422, "validation_error")
    assert "album, of images only" in body["detail"]
    assert body["errors"][0]["field"] == "file"


@pytest.mark.parametrize(
    ("provider", "extra", "file"),
    [
        # Bytes contradict the declared type.
        ("kaizala", {"group_id": "g"}, ("a.png", samples.pdf(), "image/png")),
        # Bytes contradict the extension.
        ("kaizala", {"group_id": "g"}, ("a.pdf", samples.png(), "application/octet-stream")),
        # Real type, but not one the provider accepts.
        ("kaizala", {"group_id": "g"}, ("a.webp", samples.webp(), "image/webp")),
        ("kaizala", {"group_id": "g"}, ("notes.txt", b"hello", "text/plain")),
        ("gupshup", {"app_id": "a"}, ("voice.wav", samples.wav(), "audio/wav")),
        # Bytes that match no format at all.
        ("gupshup", {"app_id": "a"}, ("x.png", b"\x00\x01\x02\x03" * 10, "image/png")),
        # An executable dressed as an image.
        ("kaizala", {"group_id": "g"}, ("evil.png", b"MZ\x90\x00" + b"\x00" * 60, "image/png")),
    ],
)
async def test_type_checks_refuse_with_415(
    client: httpx.AsyncClient, provider: str, extra: dict[str, str], file: tuple[str, bytes, str]
) -> None:
    response = await client.post(
        "/send-media", data={"provider": provider, **extra}, files={"file": file}
    )
    body = assert_problem(response, 415, "unsupported_media_type")
    assert body["provider"] is None


async def test_gupshup_url_without_inferable_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media",
        json={"provider": "gupshup", "url": "https://e.com/media?id=1", "app_id": "a"},
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "file_type"


async def test_gupshup_url_with_unaccepted_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media", json={"provider": "gupshup", "url": "https://e.com/a.wav", "app_id": "a"}
    )
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("provider", "target", "status", "code", "retryable", "outcome"),
    [
        ("gupshup", {"app_id": "sandbox-400"}, 400, "provider_rejected", False, None),
        ("gupshup", {"app_id": "sandbox-413"}, 413, "payload_too_large", False, None),
        ("gupshup", {"app_id": "sandbox-429"}, 429, "rate_limited", True, None),
        # A Gupshup upload delivers nothing: its 5xx is safe to retry.
        ("gupshup", {"app_id": "sandbox-500"}, 502, "provider_error", True, None),
        ("gupshup", {"app_id": "sandbox-401"}, 502, "provider_auth_failed", False, None),
        ("gupshup", {"app_id": "sandbox-garbage"}, 502, "provider_error", True, None),
        ("kaizala", {"group_id": "sandbox-400@1"}, 400, "provider_rejected", False, None),
        ("kaizala", {"group_id": "sandbox-404@1"}, 400, "provider_rejected", False, None),
        ("kaizala", {"group_id": "sandbox-403@1"}, 502, "provider_auth_failed", False, None),
        ("kaizala", {"group_id": "sandbox-401@1"}, 502, "provider_auth_failed", False, None),
        ("kaizala", {"group_id": "sandbox-429@1"}, 429, "rate_limited", True, None),
        # A Kaizala post answered 5xx or unreadably may have been posted: not retryable.
        ("kaizala", {"group_id": "sandbox-500@1"}, 502, "provider_error", False, "unknown"),
        ("kaizala", {"group_id": "sandbox-503@1"}, 502, "provider_error", False, "unknown"),
        ("kaizala", {"group_id": "sandbox-garbage@1"}, 502, "provider_error", False, "unknown"),
    ],
)
async def test_provider_failures_map_to_the_contract(
    client: httpx.AsyncClient,
    provider: str,
    target: dict[str, str],
    status: int,
    code: str,
    retryable: bool,
    outcome: str | None,
) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": provider, **target},
        files={"file": ("a.png", samples.png(), "image/png")},
    )
    body = assert_problem(response, status, code)
    assert body["provider"] == provider
    assert body["retryable"] is retryable
    assert body.get("outcome") == outcome
    assert body["stage"] in ("upload", "post")
    if provider == "kaizala":
        # The upload worked; only the post failed, so the caller learns the media id.
        assert body["stage"] == "post"
        assert body["media_id"].startswith("kz-media-")
    if code == "rate_limited":
        assert int(response.headers["retry-after"]) >= 1
        assert body["retry_after"] == int(response.headers["retry-after"])


async def test_kaizala_upstream_415_at_upload(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g@1"},
        files={"file": ("sandbox-415.png", samples.png(), "image/png")},
    )
    body = assert_problem(response, 415, "unsupported_media_type")
    assert body["provider"] == "kaizala"
    assert body["provider_status"] == 415
    assert body["stage"] == "upload"
    assert "media_id" not in body


async def test_provider_timeout(app_client: AppClient) -> None:
    async with app_client(upstream_timeout_s=0.2) as client:
        response = await client.post(
            "/send-media",
            data={"provider": "gupshup", "app_id": "sandbox-slow"},
            files={"file": ("a.png", samples.png(), "image/png")},
        )
    body = assert_problem(response, 504, "provider_timeout")
    assert body["retryable"] is True


async def test_request_id_is_echoed_when_valid_and_replaced_when_not(
    client: httpx.AsyncClient,
) -> None:
    ok = await client.get("/healthz", headers={"X-Request-ID": "abc-123.x"})
    assert ok.headers["x-request-id"] == "abc-123.x"
    bad = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert bad.headers["x-request-id"] != "bad id\twith spaces"
    assert len(bad.headers["x-request-id"]) == 32


async def test_framework_errors_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404, "not_found")
    assert_problem(await client.delete("/send-media"), 405, "method_not_allowed")
    assert_problem(await client.get("/static-offline-docs/nope.js"), 404, "not_found")


async def test_size_limit_from_content_length(app_client: AppClient) -> None:
    async with app_client(max_upload_bytes=1000) as client:
        response = await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "g"},
            files={"file": ("a.png", samples.png() + b"\x00" * 200_000, "image/png")},
        )
    assert_problem(response, 413, "payload_too_large")


async def test_size_limit_while_streaming(app_client: AppClient) -> None:
    sent = 0

    async def body() -> Any:
        nonlocal sent
        yield (
            b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n"
        )
        for _ in range(1000):
            sent += 10_000
            yield b"x" * 10_000

    async with app_client(max_upload_bytes=1000) as client:
        response = await client.post(
            "/send-media",
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=zz"},
        )
    assert_problem(response, 413, "payload_too_large")
    # Refused as soon as the cap was passed, not after reading the whole 10 MB.
    assert sent < 1000 + 64 * 1024 + 2 * 10_000


async def test_stalled_body_times_out(app_client: AppClient) -> None:
    async def body() -> Any:
        yield b'--zz\r\nContent-Disposition: form-data; name="provider"\r\n\r\nkaizala\r\n'
        await asyncio.sleep(5)
        yield b"--zz--\r\n"

    async with app_client(client_body_timeout_s=0.2) as client:
        response = await client.post(
            "/send-media",
            content=body(),
            headers={"content-type": "multipart/form-data; boundary=zz"},
        )
    assert_problem(response, 408, "request_timeout")


async def test_media_over_the_limit_inside_the_envelope_allowance(app_client: AppClient) -> None:
    async with app_client(max_upload_bytes=1000) as client:
        response = await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "g"},
            files={"file": ("a.png", samples.png() + b"\x00" * 5000, "image/png")},
        )
    body = assert_problem(response, 413, "payload_too_large")
    assert "limit is 1000" in body["detail"]


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.get("/readyz")).json()
    assert ready == {
        "status": "ready",
        "providers": {"kaizala": "sandbox", "gupshup": "sandbox"},
        "redis": "not_configured",
        "breakers": {"kaizala": "closed", "gupshup": "closed"},
    }


# ---- hardening: hostile and awkward input gets the right problem, never a 500 ----


async def test_deeply_nested_json_is_a_validation_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media", content=b"[" * 10_000, headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert "nested too deeply" in body["detail"]


@pytest.mark.parametrize("url", ["http://bücher.example/a.png", "http://127.0.0.1/ü.png"])
async def test_non_ascii_urls_are_accepted(client: httpx.AsyncClient, url: str) -> None:
    response = await client.post("/send-media", json={"provider": "gupshup", "url": url})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "url",
    [
        "http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0ecom/a.png",  # fullwidth letters, dot
        "http://example.com:99999/a.png",
        "http://exa mple.com/a.png",
        "http://[::1/a.png",
    ],
)
async def test_unusable_urls_are_validation_errors(client: httpx.AsyncClient, url: str) -> None:
    for body in (
        {"provider": "gupshup", "url": url},
        {"provider": "kaizala", "group_id": "g", "url": url},
    ):
        response = await client.post("/send-media", json=body)
        problem = assert_problem(response, 422, "validation_error")
        assert problem["errors"][0]["field"] == "url"


async def test_a_png_named_long_dot_pdf_is_refused_by_its_extension(
    client: httpx.AsyncClient,
) -> None:
    name = "x" * 300 + ".pdf"
    response = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g"},
        files={"file": (name, samples.png(), "image/png")},
    )
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "'.pdf'" in body["detail"]


async def test_success_says_whether_the_sandbox_answered(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g"},
        files={"file": ("a.png", samples.png(), "image/png")},
    )
    assert response.status_code == 200
    assert response.json()["sandbox"] is True
    assert response.json()["message_id"] is None


async def test_gupshup_sandbox_needs_no_app_id(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media", json={"provider": "gupshup", "url": "https://example.com/a.pdf"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_id"].isdigit()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_probes_answer_head(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.head(path)).status_code == 200


async def test_an_empty_file_says_it_is_empty(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media",
        data={"provider": "kaizala", "group_id": "g"},
        files={"file": ("a.png", b"", "image/png")},
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["detail"] == "file: 'a.png' is empty (0 bytes)"


async def test_details_name_the_first_problem_without_prefixes(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/send-media", json={"provider": "kaizala", "group_id": "g", "url": "ftp://x/a.png"}
    )
    body = assert_problem(response, 422, "validation_error")
    assert body["detail"].startswith("url: url must be an http or https URL")
    assert "Value error" not in response.text


async def test_a_json_body_with_a_file_says_to_use_multipart(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/send-media", json={"provider": "kaizala", "group_id": "g", "file": "aGVsbG8="}
    )
    body = assert_problem(response, 422, "validation_error")
    assert "multipart/form-data" in body["detail"]


async def test_both_413s_state_the_same_limit(app_client: AppClient) -> None:
    async def streamed() -> Any:
        yield b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for _ in range(20):
            yield b"x" * 10_000

    async with app_client(max_upload_bytes=1000) as client:
        declared = await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "g"},
            files={"file": ("a.png", b"x" * 200_000, "image/png")},
        )
        streaming = await client.post(
            "/send-media",
            content=streamed(),
            headers={"content-type": "multipart/form-data; boundary=zz"},
        )
    limit = "at most 66536 bytes: 1000 of media (GATEWAY_MAX_UPLOAD_BYTES) and 65536 for the form"
    assert limit in assert_problem(declared, 413, "payload_too_large")["detail"]
    assert limit in assert_problem(streaming, 413, "payload_too_large")["detail"]


async def test_gupshup_static_mode_refuses_another_app_as_the_callers_mistake() -> None:
    from pydantic import SecretStr

    from gateway.wiring.app import create_app
    from gateway.wiring.settings import Settings
    from providers.gupshup import GupshupSettings
    from providers.kaizala import KaizalaSettings
    from tests.gateway.conftest import serve

    app = create_app(
        Settings(_env_file=None, allow_anonymous=True),
        provider_settings={
            "kaizala": KaizalaSettings(_env_file=None),
            # A closed port: the refusal must come before any call.
            "gupshup": GupshupSettings(
                _env_file=None,
                base_url="http://127.0.0.1:9",
                app_id="my-app",
                app_token=SecretStr("sk_live_token_1234"),
            ),
        },
    )
    async with serve(app) as client:
        response = await client.post(
            "/send-media",
            json={"provider": "gupshup", "app_id": "other-app", "url": "https://e.com/a.pdf"},
        )
    body = assert_problem(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "app_id"
    assert "'my-app'" in body["detail"]


# ---- property: no input of any shape reaches the caller as a 500 ----


FIELD_NAMES = [
    "provider",
    "url",
    "media_type",
    "caption",
    "group_id",
    "app_id",
    "file_type",
    "file",
    "x",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6).map(
            lambda d: json.dumps(d).encode()
        ),
    ),
    content_type=st.sampled_from(
        [
            "application/json",
            "multipart/form-data; boundary=zz",
            "multipart/form-data",
            "text/plain",
        ]
    ),
)
async def test_no_body_of_any_shape_is_a_500(
    client: httpx.AsyncClient, body: bytes, content_type: str
) -> None:
    response = await client.post(
        "/send-media", content=body, headers={"content-type": content_type}
    )
    assert response.status_code < 500 or response.json()["code"] != "internal_error", response.text
    assert response.headers["content-type"] in ("application/json", "application/problem+json")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(st.sampled_from(FIELD_NAMES[:-2]), st.text(max_size=60), max_size=6),
    data=st.binary(max_size=64),
    name=st.text(max_size=300),
)
async def test_no_form_of_any_shape_is_a_500(
    client: httpx.AsyncClient, fields: dict[str, str], data: bytes, name: str
) -> None:
    response = await client.post("/send-media", data=fields, files={"file": (name, data)})
    assert response.status_code < 500 or response.json()["code"] != "internal_error", response.text


@pytest.mark.parametrize("length", [256, 257, 2000])
async def test_a_boundary_too_long_for_the_parser_is_a_validation_error(
    client: httpx.AsyncClient, length: int
) -> None:
    boundary = "b" * length
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="provider"\r\n\r\nkaizala\r\n'
        f"--{boundary}--\r\n"
    ).encode()
    response = await client.post(
        "/send-media",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize("value", [".", "..", "a/b", "..%2f", "a\\b", "x\x01y"])
@pytest.mark.parametrize(("provider", "field"), [("kaizala", "group_id"), ("gupshup", "app_id")])
async def test_an_id_that_would_change_the_upstream_path_is_refused(
    client: httpx.AsyncClient, provider: str, field: str, value: str
) -> None:
    response = await client.post(
        "/send-media",
        json={"provider": provider, field: value, "url": "https://e.com/a.png"},
    )
    body = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == [field]
