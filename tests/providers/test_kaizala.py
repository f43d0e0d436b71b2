"""Kaizala adapter against respx: auth modes, upload/post shape, moves, and error mapping."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from providers import MediaFile, MediaRequest, MediaType
from providers import errors as pe
from providers.http import ProviderContext
from providers.kaizala import KaizalaProvider, KaizalaSettings, KaizalaTarget

pytestmark = pytest.mark.anyio

AUTH = "https://auth.test"
EP = "https://ep.test"
NOW = 1_700_000_000.0


def refresh_settings(**extra: Any) -> KaizalaSettings:
    return KaizalaSettings(
        _env_file=None,
        auth_url=AUTH,
        application_id="app-id",
        application_secret=SecretStr("app-secret-value"),
        refresh_token=SecretStr("refresh-token-value"),
        **extra,
    )


def token_answer(
    token: str = "tok-1", ttl_s: float = 86400, endpoint: str = EP + "/"
) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "accessToken": token,
            "endpointUrl": endpoint,
            "accessTokenExpiry": int((NOW + ttl_s) * 1000),
            "refreshToken": "",
            "scope": "x",
        },
    )


def image(name: str = "a.png", ctype: str = "image/png") -> MediaFile:
    data = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    return MediaFile(filename=name, content_type=ctype, size=len(data), stream=io.BytesIO(data))


def request(
    media_type: MediaType = MediaType.IMAGE,
    files: list[MediaFile] | None = None,
    group: str = "g@1",
    caption: str | None = "hi",
) -> MediaRequest:
    return MediaRequest(
        media_type=media_type,
        target=KaizalaTarget(group_id=group),
        files=files or [image()],
        caption=caption,
    )


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient() as client:
        yield client


def provider(
    http: httpx.AsyncClient, clock: Clock, settings: KaizalaSettings | None = None
) -> KaizalaProvider:
    return KaizalaProvider(settings or refresh_settings(), ProviderContext(http, 5), clock=clock)


@respx.mock
async def test_send_uploads_then_posts(http: httpx.AsyncClient, clock: Clock) -> None:
    auth = respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    upload = respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR/1=="})
    )
    post = respx.post(f"{EP}/v1/groups/g%401/actions").mock(
        return_value=httpx.Response(200, json={"referenceId": "ref", "actionId": "act"})
    )
    delivery = await provider(http, clock).send(request())

    assert delivery.media_id == "MR/1=="
    assert delivery.details == {"reference_id": "ref", "action_id": "act"}
    headers = auth.calls.last.request.headers
    assert headers["applicationId"] == "app-id"
    assert headers["applicationSecret"] == "app-secret-value"
    assert headers["refreshToken"] == "refresh-token-value"
    sent = upload.calls.last.request
    assert sent.headers["accessToken"] == "tok-1"
    assert "authorization" not in sent.headers
    body = sent.content
    assert b'name="files"; filename="a.png"' in body
    assert b"Content-Type: image/png" in body
    posted = post.calls.last.request
    assert posted.headers["accessToken"] == "tok-1"
    assert json.loads(posted.content) == {
        "actionType": "Image",
        "actionBody": {"mediaResource": "MR/1==", "caption": "hi"},
    }


@respx.mock
async def test_album_is_one_upload_with_every_image(http: httpx.AsyncClient, clock: Clock) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    upload = respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    post = respx.post(f"{EP}/v1/groups/g%401/actions").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    files = [image("a.png"), image("b.jpg", "image/jpeg"), image("c.png")]
    delivery = await provider(http, clock).send(request(MediaType.ALBUM, files, caption=None))

    assert upload.call_count == 1
    assert upload.calls.last.request.content.count(b'name="files"') == 3
    assert b"Content-Type: image/jpeg" in upload.calls.last.request.content
    assert json.loads(post.calls.last.request.content) == {
        "actionType": "Album",
        "actionBody": {"mediaResource": "MR"},
    }
    assert delivery.details["action_id"] is None


@pytest.mark.parametrize(
    ("media_type", "action"),
    [(MediaType.AUDIO, "Audio"), (MediaType.DOCUMENT, "Document"), (MediaType.VIDEO, "Video")],
)
@respx.mock
async def test_action_type_per_media_type(
    http: httpx.AsyncClient, clock: Clock, media_type: MediaType, action: str
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    post = respx.post(f"{EP}/v1/groups/g%401/actions").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    await provider(http, clock).send(request(media_type))
    assert json.loads(post.calls.last.request.content)["actionType"] == action


@respx.mock
async def test_group_id_is_url_encoded(http: httpx.AsyncClient, clock: Clock) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    post = respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    await provider(http, clock).send(request(group="a?b c#d@1"))
    assert post.calls.last.request.url.raw_path == b"/v1/groups/a%3Fb%20c%23d%401/actions"


@respx.mock
async def test_token_is_cached_until_shortly_before_expiry(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    auth = respx.get(f"{AUTH}/v1/accessToken").mock(
        side_effect=[token_answer("tok-1", ttl_s=3600), token_answer("tok-2", ttl_s=3600)]
    )
    upload = respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    kz = provider(http, clock, refresh_settings(token_refresh_margin_s=300))
    await kz.send(request())
    clock.now += 3600 - 301  # still outside the margin
    await kz.send(request())
    assert auth.call_count == 1
    clock.now += 2  # inside the 300 s margin: refreshed before use, never after expiry
    await kz.send(request())
    assert auth.call_count == 2
    assert upload.calls.last.request.headers["accessToken"] == "tok-2"


@respx.mock
async def test_concurrent_requests_share_one_token_fetch(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    async def slow_token(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return token_answer()

    auth = respx.get(f"{AUTH}/v1/accessToken").mock(side_effect=slow_token)
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    kz = provider(http, clock)
    await asyncio.gather(*(kz.send(request()) for _ in range(10)))
    assert auth.call_count == 1


@pytest.mark.parametrize(
    "refusal",
    [
        httpx.Response(401, json={"message": "expired", "errorCode": "InvalidToken"}),
        httpx.Response(401, text="no body"),
        httpx.Response(
            400,
            json={
                "message": "who?",
                "errorCode": "Unauthenticated",
                "errorCategoryKey": "AuthException",
            },
        ),
    ],
)
@respx.mock
async def test_refused_token_is_refreshed_once_and_the_call_retried(
    http: httpx.AsyncClient, clock: Clock, refusal: httpx.Response
) -> None:
    auth = respx.get(f"{AUTH}/v1/accessToken").mock(
        side_effect=[token_answer("tok-1"), token_answer("tok-2")]
    )
    upload = respx.post(f"{EP}/v1/media").mock(
        side_effect=[refusal, httpx.Response(200, json={"mediaResource": "MR"})]
    )
    respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    await provider(http, clock).send(request())
    assert auth.call_count == 2
    assert [c.request.headers["accessToken"] for c in upload.calls] == ["tok-1", "tok-2"]


@respx.mock
async def test_concurrent_refusals_share_one_refresh(http: httpx.AsyncClient, clock: Clock) -> None:
    auth = respx.get(f"{AUTH}/v1/accessToken").mock(
        side_effect=[token_answer("tok-1"), token_answer("tok-2")]
    )

    def upload_answer(req: httpx.Request) -> httpx.Response:
        if req.headers["accessToken"] == "tok-1":
            return httpx.Response(401, json={"errorCode": "InvalidToken"})
        return httpx.Response(200, json={"mediaResource": "MR"})

    respx.post(f"{EP}/v1/media").mock(side_effect=upload_answer)
    respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    kz = provider(http, clock)
    await asyncio.gather(*(kz.send(request()) for _ in range(8)))
    assert auth.call_count == 2


@respx.mock
async def test_second_refusal_after_refresh_is_an_auth_failure(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    auth = respx.get(f"{AUTH}/v1/accessToken").mock(
        side_effect=[token_answer("tok-1"), token_answer("tok-2")]
    )
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(401, json={"message": "no", "errorCode": "InvalidToken"})
    )
    with pytest.raises(pe.ProviderAuthError) as caught:
        await provider(http, clock).send(request())
    assert auth.call_count == 2
    assert caught.value.stage is pe.Stage.UPLOAD
    assert caught.value.status == 401


@respx.mock
async def test_refused_credentials_fail_at_auth(http: httpx.AsyncClient, clock: Clock) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(
        return_value=httpx.Response(
            401, json={"message": "bad secret", "errorCode": "Unauthenticated"}
        )
    )
    with pytest.raises(pe.ProviderAuthError) as caught:
        await provider(http, clock).send(request())
    assert caught.value.stage is pe.Stage.AUTH
    # Auth answers may echo the credentials: their text never leaves the adapter.
    assert caught.value.message is None


@respx.mock
async def test_replacement_refresh_token_is_kept(http: httpx.AsyncClient, clock: Clock) -> None:
    rotated = token_answer("tok-1", ttl_s=10)
    body = json.loads(rotated.content)
    body["refreshToken"] = "refresh-token-NEW"
    auth = respx.get(f"{AUTH}/v1/accessToken").mock(
        side_effect=[httpx.Response(200, json=body), token_answer("tok-2")]
    )
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    kz = provider(http, clock)
    await kz.send(request())
    clock.now += 60
    await kz.send(request())
    assert auth.calls[0].request.headers["refreshToken"] == "refresh-token-value"
    assert auth.calls[1].request.headers["refreshToken"] == "refresh-token-NEW"


@respx.mock
async def test_static_token_mode_never_calls_auth(http: httpx.AsyncClient, clock: Clock) -> None:
    settings = KaizalaSettings(
        _env_file=None, endpoint_url=EP + "//", access_token=SecretStr("static-token-1")
    )
    auth = respx.get(url__regex=r".*/accessToken$").mock(return_value=token_answer())
    upload = respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    await provider(http, clock, settings).send(request())
    assert auth.call_count == 0
    assert upload.calls.last.request.headers["accessToken"] == "static-token-1"
    assert upload.calls.last.request.url == f"{EP}/v1/media"  # no // from the trailing slashes


@respx.mock
async def test_static_token_refused_is_an_auth_failure_without_retry(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    settings = KaizalaSettings(
        _env_file=None, endpoint_url=EP, access_token=SecretStr("static-token-1")
    )
    upload = respx.post(f"{EP}/v1/media").mock(return_value=httpx.Response(401))
    with pytest.raises(pe.ProviderAuthError):
        await provider(http, clock, settings).send(request())
    assert upload.call_count == 1


@pytest.mark.parametrize(
    "location",
    [
        "https://moved.test/v1/media",  # the resource at its new place
        "https://moved.test",  # only the new base
        "https://moved.test/",
    ],
)
@respx.mock
async def test_308_resends_the_streamed_body_and_remembers_the_base(
    http: httpx.AsyncClient, clock: Clock, location: str
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    old = respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(308, headers={"Location": location})
    )
    new = respx.post("https://moved.test/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    post = respx.post("https://moved.test/v1/groups/g%401/actions").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    kz = provider(http, clock)
    await kz.send(request())
    assert old.call_count == 1
    assert new.call_count == 1
    assert post.call_count == 1
    payload = b"\x89PNG\r\n\x1a\n" + b"0" * 20
    # The file was sent whole both times (boundaries differ per request).
    assert payload in old.calls.last.request.content
    assert payload in new.calls.last.request.content
    assert kz.base_url == "https://moved.test"


@respx.mock
async def test_endless_moves_fail(http: httpx.AsyncClient, clock: Clock) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(url__regex=r".*/v1/media$").mock(
        return_value=httpx.Response(308, headers={"Location": EP + "/v1/media"})
    )
    with pytest.raises(pe.ProviderFailedError):
        await provider(http, clock).send(request())


# Upstream answer at upload or post -> the error the caller gets.
FAILURES = [
    (httpx.Response(415), pe.MediaRejectedError, None),
    (httpx.Response(413, json={"message": "too big"}), pe.MediaTooLargeError, "too big"),
    (httpx.Response(400, json={"message": "bad", "errorCode": "InvalidParameters"}), pe.ProviderRejectedError, "bad"),
    (httpx.Response(404, json={"message": "no group", "errorCode": "GroupNotFound"}), pe.ProviderRejectedError, "no group"),
    (httpx.Response(403, json={"message": "not a member"}), pe.ProviderAuthError, "not a member"),
    (httpx.Response(429, headers={"Retry-After": "9"}), pe.RateLimitedError, None),
    (httpx.Response(500, json={"message": "oops"}), pe.ProviderFailedError, "oops"),
    (httpx.Response(503, text="<html>down</html>"), pe.ProviderFailedError, "<html>down</html>"),
    (httpx.Response(200, text="not json"), pe.ProviderFailedError, None),
    (httpx.Response(200, json={"unexpected": True}), pe.ProviderFailedError, None),
    (httpx.Response(204), pe.ProviderFailedError, None),
]  # fmt: skip


@pytest.mark.parametrize(("answer", "expected", "message"), FAILURES)
@respx.mock
async def test_upload_failures(
    http: httpx.AsyncClient,
    clock: Clock,
    answer: httpx.Response,
    expected: type,
    message: str | None,
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(return_value=answer)
    post = respx.post(url__regex=r".*/actions$")
    with pytest.raises(expected) as caught:
        await provider(http, clock).send(request())
    error = caught.value
    assert (error.provider, error.stage, error.status) == (
        "kaizala",
        pe.Stage.UPLOAD,
        answer.status_code,
    )
    assert error.message == message
    assert error.media_id is None
    assert post.call_count == 0
    if expected is pe.RateLimitedError:
        assert error.retry_after == 9


@pytest.mark.parametrize(("answer", "expected", "message"), FAILURES)
@respx.mock
async def test_post_failures_carry_the_media_id(
    http: httpx.AsyncClient,
    clock: Clock,
    answer: httpx.Response,
    expected: type,
    message: str | None,
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    respx.post(url__regex=r".*/actions$").mock(return_value=answer)
    with pytest.raises(expected) as caught:
        await provider(http, clock).send(request())
    assert caught.value.stage is pe.Stage.POST
    assert caught.value.media_id == "MR"


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), pe.ProviderUnavailableError),
        (httpx.ReadTimeout("slow"), pe.ProviderTimeoutError),
        (httpx.RemoteProtocolError("eof"), pe.ProviderFailedError),
    ],
)
@respx.mock
async def test_transport_failures(
    http: httpx.AsyncClient, clock: Clock, exc: Exception, expected: type
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(side_effect=exc)
    with pytest.raises(expected) as caught:
        await provider(http, clock).send(request())
    assert caught.value.stage is pe.Stage.AUTH


@respx.mock
async def test_slow_drip_answer_hits_the_whole_call_deadline(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    async def drip(_: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return token_answer()

    respx.get(f"{AUTH}/v1/accessToken").mock(side_effect=drip)
    kz = KaizalaProvider(refresh_settings(), ProviderContext(http, 0.1), clock=clock)
    with pytest.raises(pe.ProviderTimeoutError):
        await kz.send(request())


@respx.mock
async def test_secrets_are_redacted_from_upstream_messages(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer("tok-secret-123"))
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(
            400, json={"message": "token tok-secret-123 and app-secret-value rejected"}
        )
    )
    with pytest.raises(pe.ProviderRejectedError) as caught:
        await provider(http, clock).send(request())
    assert caught.value.message == "token [redacted] and [redacted] rejected"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KAIZALA_APPLICATION_ID": "a"},
            "meant to be live, but token-refresh mode also needs KAIZALA_APPLICATION_SECRET "
            "and KAIZALA_REFRESH_TOKEN",
        ),
        (
            {"KAIZALA_ACCESS_TOKEN": "tok-abcdef"},
            "static-token mode also needs KAIZALA_ENDPOINT_URL",
        ),
        # The endpoint alone used to run the sandbox silently.
        ({"KAIZALA_ENDPOINT_URL": "https://x"}, "also needs KAIZALA_ACCESS_TOKEN"),
        (
            {"KAIZALA_ENDPOINT_URL": "not a url", "KAIZALA_ACCESS_TOKEN": "tok-abcdef"},
            "KAIZALA_ENDPOINT_URL is not an http or https URL",
        ),
        (
            {
                "KAIZALA_APPLICATION_ID": "a",
                "KAIZALA_APPLICATION_SECRET": "s-123456",
                "KAIZALA_REFRESH_TOKEN": "r-123456",
                "KAIZALA_ENDPOINT_URL": "https://x",
            },
            "either",
        ),
        (
            {
                "KAIZALA_APPLICATION_ID": "a",
                "KAIZALA_APPLICATION_SECRET": "changeme",
                "KAIZALA_REFRESH_TOKEN": "r-123456",
            },
            "placeholder",
        ),
    ],
)
def test_settings_refuse_partial_or_placeholder_credentials(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message) as caught:
        KaizalaSettings()
    for value in env.values():
        if len(value) >= 6:  # shorter ones occur in any sentence
            assert value not in str(caught.value).replace("KAIZALA_", "")


def test_settings_modes(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not KaizalaSettings().live
    monkeypatch.setenv("KAIZALA_ENDPOINT_URL", "https://x")
    monkeypatch.setenv("KAIZALA_ACCESS_TOKEN", "real-token-1")
    assert KaizalaSettings().live


GUID_GROUP = "6a4f8c1e-0000-4000-8000-000000000000@1"


@respx.mock
async def test_308_on_the_action_post_with_a_real_group_id_keeps_the_base(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    """httpx decodes %40 in request.url.path; the suffix must be matched as it was sent."""
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    encoded = "/v1/groups/6a4f8c1e-0000-4000-8000-000000000000%401/actions"
    respx.post(f"{EP}{encoded}").mock(
        return_value=httpx.Response(308, headers={"Location": f"https://moved.test/r2{encoded}"})
    )
    moved_post = respx.post(f"https://moved.test/r2{encoded}").mock(
        return_value=httpx.Response(200, json={"referenceId": "r"})
    )
    moved_upload = respx.post("https://moved.test/r2/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR2"})
    )
    kz = provider(http, clock)
    await kz.send(request(group=GUID_GROUP))
    assert moved_post.call_count == 1
    assert kz.base_url == "https://moved.test/r2"
    await kz.send(request(group=GUID_GROUP))
    assert moved_upload.call_count == 1  # the next upload goes to the new base, not .../actions


@respx.mock
@pytest.mark.parametrize(
    "location",
    ["http://[::1", "https://moved.test:99999/v1/media", "ftp://moved.test/v1/media", "http://"],
)
async def test_unusable_location_is_a_provider_error(
    http: httpx.AsyncClient, clock: Clock, location: str
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(308, headers={"Location": location})
    )
    with pytest.raises(pe.ProviderFailedError) as caught:
        await provider(http, clock).send(request())
    assert caught.value.stage is pe.Stage.UPLOAD


@respx.mock
@pytest.mark.parametrize(
    "endpoint", ["not a url", "http://ep.test:70000/", "http://bad host/", 42, None, "file:///x"]
)
async def test_unusable_endpoint_url_in_the_token_answer_is_a_provider_error(
    http: httpx.AsyncClient, clock: Clock, endpoint: Any
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer(endpoint=endpoint))
    with pytest.raises(pe.ProviderFailedError, match="endpointUrl") as caught:
        await provider(http, clock).send(request())
    assert caught.value.stage is pe.Stage.AUTH


async def test_concurrent_sends_share_one_failing_token_fetch(clock: Clock) -> None:
    """8 sends against a token endpoint that times out: one fetch, not 8 in a row."""
    fetches = 0

    async def upstream(request: httpx.Request) -> httpx.Response:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.05)
        raise httpx.ReadTimeout("no answer", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        kz = provider(client, clock)
        results = await asyncio.gather(
            *(kz.send(request()) for _ in range(8)), return_exceptions=True
        )
        assert fetches == 1
        assert all(isinstance(r, pe.ProviderTimeoutError) for r in results)
        # Remembered for a moment: the next send fails at once without calling again.
        with pytest.raises(pe.ProviderTimeoutError):
            await kz.send(request())
        assert fetches == 1


@respx.mock
@pytest.mark.parametrize(
    "echo",
    [
        "refresh-token-value",
        "REFRESH-TOKEN-VALUE",
        "refresh%2Dtoken%2Dvalue".replace("%2D", "-"),  # quote() leaves '-' alone
        "cmVmcmVzaC10b2tlbi12YWx1ZQ==",  # base64
        "dXNlcjpyZWZyZXNoLXRva2VuLXZhbHVl",  # base64 of "user:refresh-token-value"
        "refresh-token-v…",  # cut
        "app-secret-value".replace("-", "%2D"),
    ],
)
async def test_secrets_echoed_in_other_forms_are_redacted(
    http: httpx.AsyncClient, clock: Clock, echo: str
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(400, json={"message": f"bad request: {echo} !"})
    )
    with pytest.raises(pe.ProviderRejectedError) as caught:
        await provider(http, clock).send(request())
    message = caught.value.message or ""
    assert message.startswith("bad request: ")
    assert "[redacted]" in message
    assert echo.rstrip("=…") not in message


class Arriving:
    """A `LiveBody` whose bytes arrive in chunks; counts its passes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        self.passes = 0

    async def chunks(self) -> Any:
        self.passes += 1
        for i in range(0, len(self.data), 1000):
            await asyncio.sleep(0)
            yield self.data[i : i + 1000]


@respx.mock
async def test_a_file_still_arriving_is_streamed_and_resent_whole_after_a_refused_token(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(
        side_effect=[token_answer("tok-1"), token_answer("tok-2")]
    )
    upload = respx.post(f"{EP}/v1/media").mock(
        side_effect=[
            httpx.Response(401, json={"errorCode": "InvalidToken"}),
            httpx.Response(200, json={"mediaResource": "MR"}),
        ]
    )
    respx.post(f"{EP}/v1/groups/g%401/actions").mock(
        return_value=httpx.Response(200, json={"referenceId": "ref"})
    )
    data = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
    live = Arriving(data)
    video = MediaFile(
        filename='clip "1".mp4',
        content_type="video/mp4",
        size=len(data),
        stream=io.BytesIO(b"not these bytes: the live ones"),
        live=live,
    )
    delivery = await provider(http, clock).send(request(MediaType.VIDEO, [video], caption=None))

    assert delivery.media_id == "MR"
    assert live.passes == 2  # the resend with the new token read the bytes again
    first, second = (call.request for call in upload.calls)
    assert (first.headers["accessToken"], second.headers["accessToken"]) == ("tok-1", "tok-2")
    for sent in (first, second):
        assert sent.headers["content-length"] == str(len(sent.content))
        assert "transfer-encoding" not in sent.headers
        # Exactly what httpx writes for the same file and boundary.
        expected = httpx.Request(
            "POST",
            f"{EP}/v1/media",
            headers={"Content-Type": sent.headers["content-type"]},
            files=[("files", ('clip "1".mp4', data, "video/mp4"))],
        )
        assert sent.content == expected.read()


DEEP = b"[" * 100_000 + b"]" * 100_000  # deeper than json.loads recurses


@pytest.mark.parametrize("status", [200, 500, 400])
@respx.mock
async def test_an_answer_nested_too_deep_to_parse_is_only_unreadable(
    http: httpx.AsyncClient, clock: Clock, status: int
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    respx.post(url__regex=r".*/actions$").mock(return_value=httpx.Response(status, content=DEEP))
    with pytest.raises(pe.ProviderError) as caught:
        await provider(http, clock).send(request())
    error = caught.value
    assert type(error) is (pe.ProviderRejectedError if status == 400 else pe.ProviderFailedError)
    assert (error.stage, error.media_id) == (pe.Stage.POST, "MR")
    # A 200 or a 5xx that cannot be read may have been acted on: never posted again.
    assert error.outcome_unknown is (status != 400)


@respx.mock
async def test_the_post_is_announced_before_it_leaves_and_not_made_when_refused(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    respx.get(f"{AUTH}/v1/accessToken").mock(return_value=token_answer())
    respx.post(f"{EP}/v1/media").mock(
        return_value=httpx.Response(200, json={"mediaResource": "MR"})
    )
    post = respx.post(url__regex=r".*/actions$").mock(
        return_value=httpx.Response(200, json={"referenceId": "ref"})
    )
    announced: list[tuple[str | None, int]] = []

    async def before(media_id: str | None) -> None:
        announced.append((media_id, post.call_count))

    await provider(http, clock).send(dataclasses.replace(request(), before_delivery=before))
    assert announced == [("MR", 0)]  # with the media id, before the post

    class Refused(Exception):
        pass

    async def refuse(media_id: str | None) -> None:
        raise Refused

    with pytest.raises(Refused):
        await provider(http, clock).send(dataclasses.replace(request(), before_delivery=refuse))
    assert post.call_count == 1
