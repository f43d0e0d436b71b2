"""Gupshup adapter against respx: both token modes, both media variants, error mapping."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from providers import MediaFile, MediaRequest, MediaType
from providers import errors as pe
from providers.gupshup import GupshupProvider, GupshupSettings, GupshupTarget
from providers.http import ProviderContext

pytestmark = pytest.mark.anyio

BASE = "https://gs.test"
MEDIA = f"{BASE}/partner/app/app-1/media"


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient() as client:
        yield client


def static(http: httpx.AsyncClient, **extra: Any) -> GupshupProvider:
    settings = GupshupSettings(
        _env_file=None,
        base_url=BASE + "/",
        app_id="app-1",
        app_token=SecretStr("sk_static_token"),
        **extra,
    )
    return GupshupProvider(settings, ProviderContext(http, 5))


def chain(http: httpx.AsyncClient) -> GupshupProvider:
    settings = GupshupSettings(
        _env_file=None,
        base_url=BASE,
        partner_email="ops@example.com",
        partner_secret=SecretStr("partner-secret-1"),
    )
    return GupshupProvider(settings, ProviderContext(http, 5))


def pdf_request(app_id: str | None = None) -> MediaRequest:
    data = b"%PDF-1.4 test"
    media = MediaFile(
        filename="a.pdf", content_type="application/pdf", size=len(data), stream=io.BytesIO(data)
    )
    return MediaRequest(
        media_type=MediaType.DOCUMENT, target=GupshupTarget(app_id=app_id), files=[media]
    )


def url_request(app_id: str | None = None) -> MediaRequest:
    return MediaRequest(
        media_type=MediaType.IMAGE,
        url="https://cdn.example.com/a.png",
        content_type="image/png",
        target=GupshupTarget(app_id=app_id),
    )


OK = httpx.Response(200, json={"mediaId": "123456", "status": "success"})


@respx.mock
async def test_url_variant_is_multipart_with_both_token_headers(http: httpx.AsyncClient) -> None:
    route = respx.post(MEDIA).mock(return_value=OK)
    delivery = await static(http).send(url_request())
    assert delivery.media_id == "123456"
    sent = route.calls.last.request
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert sent.headers["Authorization"] == "sk_static_token"
    assert sent.headers["token"] == "sk_static_token"
    assert b'name="file"\r\n\r\nhttps://cdn.example.com/a.png' in sent.content
    assert b'name="file_type"\r\n\r\nimage/png' in sent.content


@respx.mock
async def test_file_variant_uploads_the_bytes(http: httpx.AsyncClient) -> None:
    route = respx.post(MEDIA).mock(return_value=OK)
    await static(http).send(pdf_request())
    content = route.calls.last.request.content
    assert (
        b'name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 test'
        in content
    )
    assert b'name="file_type"\r\n\r\napplication/pdf' in content


@respx.mock
async def test_numeric_media_id_is_returned_as_string(http: httpx.AsyncClient) -> None:
    respx.post(MEDIA).mock(
        return_value=httpx.Response(200, json={"mediaId": 987, "status": "success"})
    )
    assert (await static(http).send(pdf_request())).media_id == "987"


async def test_static_mode_refuses_other_apps_without_calling(http: httpx.AsyncClient) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__regex=r".*/media$").mock(return_value=OK)
        with pytest.raises(pe.TargetError, match="app 'app-1' only") as raised:
            await static(http).send(pdf_request(app_id="other"))
        assert raised.value.field == "app_id"
        assert route.call_count == 0


@respx.mock
async def test_token_chain_logs_in_fetches_app_token_and_caches_both(
    http: httpx.AsyncClient,
) -> None:
    login = respx.post(f"{BASE}/partner/account/login").mock(
        return_value=httpx.Response(200, json={"token": "partner-tok"})
    )
    app_token = respx.get(f"{BASE}/partner/app/app-9/token").mock(
        return_value=httpx.Response(
            200, json={"status": "success", "token": {"token": "sk_app9", "expiresOn": 0}}
        )
    )
    media = respx.post(f"{BASE}/partner/app/app-9/media").mock(return_value=OK)
    gs = chain(http)
    await gs.send(pdf_request("app-9"))
    await gs.send(pdf_request("app-9"))
    assert login.call_count == 1
    assert app_token.call_count == 1
    form = login.calls.last.request.content
    assert b"email=ops%40example.com" in form
    assert b"password=partner-secret-1" in form
    assert app_token.calls.last.request.headers["Authorization"] == "partner-tok"
    assert media.calls.last.request.headers["token"] == "sk_app9"


@respx.mock
async def test_token_chain_refetches_once_on_401(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/partner/account/login").mock(
        side_effect=[
            httpx.Response(200, json={"token": "p1"}),
            httpx.Response(200, json={"token": "p2"}),
        ]
    )
    respx.get(f"{BASE}/partner/app/app-1/token").mock(
        side_effect=[
            httpx.Response(200, json={"status": "success", "token": {"token": "sk_1"}}),
            httpx.Response(200, json={"status": "success", "token": {"token": "sk_2"}}),
        ]
    )
    media = respx.post(MEDIA).mock(side_effect=[httpx.Response(401, text="expired"), OK])
    await chain(http).send(pdf_request("app-1"))
    assert [c.request.headers["token"] for c in media.calls] == ["sk_1", "sk_2"]


@respx.mock
async def test_token_chain_second_401_is_an_auth_failure(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/partner/account/login").mock(
        return_value=httpx.Response(200, json={"token": "p"})
    )
    respx.get(f"{BASE}/partner/app/app-1/token").mock(
        return_value=httpx.Response(200, json={"status": "success", "token": {"token": "sk"}})
    )
    media = respx.post(MEDIA).mock(return_value=httpx.Response(401))
    with pytest.raises(pe.ProviderAuthError):
        await chain(http).send(pdf_request("app-1"))
    assert media.call_count == 2


@respx.mock
async def test_refused_login_fails_at_auth(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/partner/account/login").mock(
        return_value=httpx.Response(
            401, json={"status": "error", "message": "Invalid email or secret"}
        )
    )
    with pytest.raises(pe.ProviderAuthError) as caught:
        await chain(http).send(pdf_request("app-1"))
    assert caught.value.stage is pe.Stage.AUTH
    # Auth answers may echo the credentials: their text never leaves the adapter.
    assert caught.value.message is None


@pytest.mark.parametrize(
    ("answer", "expected", "message"),
    [
        (httpx.Response(400, json={"message": "Only CAPI apps allowed to generate media ID", "status": "error"}),
         pe.ProviderRejectedError, "Only CAPI apps allowed to generate media ID"),
        (httpx.Response(413, json={"message": "File size exceeds the maximum limit!", "status": "error"}),
         pe.MediaTooLargeError, "File size exceeds the maximum limit!"),
        (httpx.Response(500, json={"message": "Unable to upload requested Media", "status": "error"}),
         pe.ProviderFailedError, "Unable to upload requested Media"),
        (httpx.Response(429, json={"status": "error", "message": "Too Many Requests"}), pe.RateLimitedError, "Too Many Requests"),
        (httpx.Response(401, text="nope"), pe.ProviderAuthError, None),
        (httpx.Response(403, json={"message": "forbidden"}), pe.ProviderAuthError, "forbidden"),
        (httpx.Response(404, json={"message": "no app"}), pe.ProviderRejectedError, "no app"),
        (httpx.Response(502, text="<html>bad gateway</html>"), pe.ProviderFailedError, None),
        (httpx.Response(200, text="<html>ok?</html>"), pe.ProviderFailedError, None),
        (httpx.Response(200, json={"status": "error", "message": "weird"}), pe.ProviderFailedError, "weird"),
        # Deeper than json.loads recurses: unreadable, never an exception of another type.
        (httpx.Response(200, content=b"[" * 100_000 + b"]" * 100_000), pe.ProviderFailedError, None),
        (httpx.Response(500, content=b"[" * 100_000 + b"]" * 100_000), pe.ProviderFailedError, None),
    ],
)  # fmt: skip
@respx.mock
async def test_failures_map_to_the_error_tree(
    http: httpx.AsyncClient, answer: httpx.Response, expected: type, message: str | None
) -> None:
    respx.post(MEDIA).mock(return_value=answer)
    with pytest.raises(expected) as caught:
        await static(http).send(pdf_request())
    error = caught.value
    assert (error.provider, error.stage, error.status) == (
        "gupshup",
        pe.Stage.UPLOAD,
        answer.status_code,
    )
    assert error.message == message
    if expected is pe.RateLimitedError:
        assert error.retry_after == 1  # Gupshup's documented cool-down when no Retry-After is sent


@respx.mock
async def test_connection_refused_is_unavailable(http: httpx.AsyncClient) -> None:
    respx.post(MEDIA).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(pe.ProviderUnavailableError):
        await static(http).send(pdf_request())


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GUPSHUP_APP_TOKEN": "sk_real_1"}, "needs GUPSHUP_APP_ID"),
        ({"GUPSHUP_PARTNER_EMAIL": "a@b.c"}, "token-chain mode also needs GUPSHUP_PARTNER_SECRET"),
        # An app id with a misspelled token variable used to run the sandbox silently.
        (
            {"GUPSHUP_APP_ID": "app-7", "GUPSHUP_APP_TOKN": "sk_real_1"},
            "GUPSHUP_APP_ID set, so Gupshup is meant to be live, but it needs GUPSHUP_APP_TOKEN",
        ),
        ({"GUPSHUP_APP_ID": "a", "GUPSHUP_APP_TOKEN": "<your token>"}, "placeholder"),
    ],
)
def test_settings_refuse_partial_or_placeholder_credentials(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=message) as caught:
        GupshupSettings()
    for value in env.values():
        if len(value) >= 6:  # shorter ones occur in any sentence
            assert value not in str(caught.value).replace("GUPSHUP_", "")


async def test_a_login_429_is_shared_by_every_waiter_and_honoured() -> None:
    """Login is limited to 10/min: a 429 must not be retried by each waiting send."""
    logins = 0

    async def upstream(request: httpx.Request) -> httpx.Response:
        nonlocal logins
        logins += 1
        await asyncio.sleep(0.02)
        return httpx.Response(
            429,
            json={"status": "error", "message": "Too Many Requests"},
            headers={"Retry-After": "30"},
        )

    now = [1_700_000_000.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(upstream)) as client:
        settings = GupshupSettings(
            _env_file=None,
            base_url=BASE,
            partner_email="ops@example.com",
            partner_secret=SecretStr("partner-secret-1"),
        )
        gs = GupshupProvider(settings, ProviderContext(client, 5), clock=lambda: now[0])
        results = await asyncio.gather(
            *(gs.send(pdf_request("app-1")) for _ in range(8)), return_exceptions=True
        )
        assert logins == 1
        assert all(isinstance(r, pe.RateLimitedError) for r in results)
        assert {r.retry_after for r in results} == {30}  # type: ignore[union-attr]
        now[0] += 20
        with pytest.raises(pe.RateLimitedError):
            await gs.send(pdf_request("app-2"))
        assert logins == 1
        now[0] += 11
        with pytest.raises(pe.RateLimitedError):
            await gs.send(pdf_request("app-1"))
        assert logins == 2


# ---- delivery: the media, by id, to a WhatsApp user through the v3 message API ----

MESSAGE = f"{BASE}/partner/app/app-1/v3/message"
SENT = httpx.Response(200, json={"messages": [{"id": "wamid.1"}]})


def delivery(media_type: MediaType = MediaType.IMAGE, caption: str | None = "hi") -> MediaRequest:
    name, ctype = {
        MediaType.IMAGE: ("a.png", "image/png"),
        MediaType.AUDIO: ("a.mp3", "audio/mpeg"),
        MediaType.DOCUMENT: ("report.pdf", "application/pdf"),
    }[media_type]
    media = MediaFile(filename=name, content_type=ctype, size=4, stream=io.BytesIO(b"data"))
    return MediaRequest(
        media_type=media_type,
        target=GupshupTarget(to="919876543210"),
        files=[media],
        caption=caption,
    )


@respx.mock
@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        (MediaType.IMAGE, {"id": "123456", "caption": "hi"}),
        (MediaType.AUDIO, {"id": "123456"}),  # WhatsApp captions no audio
        (MediaType.DOCUMENT, {"id": "123456", "caption": "hi", "filename": "report.pdf"}),
    ],
)
async def test_delivery_posts_the_media_id_in_metas_format(
    http: httpx.AsyncClient, media_type: MediaType, expected: dict[str, str]
) -> None:
    respx.post(MEDIA).mock(return_value=OK)
    sent = respx.post(MESSAGE).mock(return_value=SENT)
    result = await static(http).send(delivery(media_type))
    assert (result.media_id, result.message_id) == ("123456", "wamid.1")
    request = sent.calls.last.request
    assert request.headers["Authorization"] == "sk_static_token"
    kind = media_type.value
    assert json.loads(request.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "919876543210",
        "type": kind,
        kind: expected,
    }


# Send-step answer -> error, and whether Gupshup may have delivered it.
SEND_FAILURES = [
    (
        httpx.Response(400, json={"error": {"message": "not allowed", "code": 131030}}),
        pe.ProviderRejectedError,
        False,
    ),
    (httpx.Response(429, json={"message": "Too Many Requests"}), pe.RateLimitedError, False),
    (
        httpx.Response(500, json={"error": {"message": "Internal error"}}),
        pe.ProviderFailedError,
        True,
    ),
    (httpx.Response(503), pe.ProviderFailedError, True),
    (httpx.Response(200, text="<html>"), pe.ProviderFailedError, True),
    (httpx.ReadTimeout("slow"), pe.ProviderTimeoutError, True),
    (httpx.RemoteProtocolError("dropped"), pe.ProviderFailedError, True),
    (httpx.ConnectError("refused"), pe.ProviderUnavailableError, False),
]


@respx.mock
@pytest.mark.parametrize(("answer", "kind", "unknown"), SEND_FAILURES)
async def test_send_step_failures_map_and_say_whether_it_may_have_been_delivered(
    http: httpx.AsyncClient, answer: Any, kind: type[pe.ProviderError], unknown: bool
) -> None:
    respx.post(MEDIA).mock(return_value=OK)
    route = respx.post(MESSAGE)
    if isinstance(answer, Exception):
        route.mock(side_effect=answer)
    else:
        route.mock(return_value=answer)
    with pytest.raises(kind) as caught:
        await static(http).send(delivery())
    error = caught.value
    assert (error.stage, error.media_id, error.outcome_unknown) == (
        pe.Stage.SEND,
        "123456",
        unknown,
    )


@respx.mock
async def test_a_refused_app_token_at_send_is_renewed_once(http: httpx.AsyncClient) -> None:
    respx.post(f"{BASE}/partner/account/login").mock(
        return_value=httpx.Response(200, json={"token": "partner-1"})
    )
    respx.get(f"{BASE}/partner/app/app-1/token").mock(
        side_effect=[
            httpx.Response(200, json={"status": "success", "token": {"token": f"sk_{n}"}})
            for n in (1, 2)
        ]
    )
    respx.post(MEDIA).mock(return_value=OK)
    sent = respx.post(MESSAGE).mock(side_effect=[httpx.Response(401), SENT])
    request = dataclasses.replace(
        delivery(), target=GupshupTarget(app_id="app-1", to="919876543210")
    )
    assert (await chain(http).send(request)).message_id == "wamid.1"
    assert [c.request.headers["Authorization"] for c in sent.calls] == ["sk_1", "sk_2"]


@pytest.mark.parametrize("to", ["+919876543210", "919876543210"])
def test_to_is_digits_with_country_code(to: str) -> None:
    assert GupshupTarget(to=to).to == "919876543210"


@pytest.mark.parametrize("to", ["09876543210", "12345", "91-98765-43210", "abc", "1" * 16])
def test_to_that_is_no_phone_number_is_refused(to: str) -> None:
    with pytest.raises(ValueError, match="country code"):
        GupshupTarget(to=to)


# ---- media id reuse: the same bytes (or URL) to the same app are not uploaded again ----


def keyed(data: bytes = b"data", app_id: str | None = None, to: str | None = None) -> MediaRequest:
    media = MediaFile(
        filename="a.pdf",
        content_type="application/pdf",
        size=len(data),
        stream=io.BytesIO(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return MediaRequest(
        media_type=MediaType.DOCUMENT, target=GupshupTarget(app_id=app_id, to=to), files=[media]
    )


@respx.mock
async def test_the_second_send_of_the_same_file_makes_no_upload_call(
    http: httpx.AsyncClient,
) -> None:
    upload = respx.post(MEDIA).mock(
        side_effect=[
            httpx.Response(200, json={"mediaId": f"{n}", "status": "success"}) for n in (1, 2, 3)
        ]
    )
    gs = static(http)
    first = await gs.send(keyed())
    second = await gs.send(keyed())
    assert (first.media_id, first.media_reused) == ("1", False)
    assert (second.media_id, second.media_reused) == ("1", True)
    assert upload.call_count == 1
    other = await gs.send(keyed(b"other bytes"))
    assert (other.media_id, other.media_reused, upload.call_count) == ("2", False, 2)
    url_first = await gs.send(url_request())
    url_again = await gs.send(url_request())
    assert (url_again.media_id, url_again.media_reused) == (url_first.media_id, True)
    assert upload.call_count == 3


@respx.mock
async def test_a_remembered_id_refused_at_the_send_is_uploaded_once_more(
    http: httpx.AsyncClient,
) -> None:
    upload = respx.post(MEDIA).mock(
        side_effect=[
            httpx.Response(200, json={"mediaId": f"{n}", "status": "success"}) for n in (1, 2)
        ]
    )
    expired = httpx.Response(
        400, json={"error": {"message": "Media ID not found or expired", "code": 131053}}
    )
    message = respx.post(MESSAGE).mock(side_effect=[SENT, expired, SENT])
    gs = static(http)
    await gs.send(keyed(to="919876543210"))
    again = await gs.send(keyed(to="919876543210"))
    assert (again.media_id, again.media_reused, again.message_id) == ("2", False, "wamid.1")
    assert upload.call_count == 2
    sent_ids = [json.loads(c.request.content)["document"]["id"] for c in message.calls]
    assert sent_ids == ["1", "1", "2"]
    # The fresh id is the one remembered now.
    assert (await gs.send(keyed())).media_id == "2"
