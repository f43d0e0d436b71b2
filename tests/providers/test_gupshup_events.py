"""Gupshup's event callbacks read into events, its token, and its subscription (respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from providers.events import EventKind
from providers.gupshup import GupshupProvider, GupshupSettings, GupshupTarget
from providers.http import ProviderContext

pytestmark = pytest.mark.anyio

BASE = "https://gupshup.test"
TOKEN = "events-token-0123456789abcdef"


def v3(**status: Any) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", "statuses": [status]}
    return {"object": "whatsapp_business_account", "gs_app_id": "app",
            "entry": [{"changes": [{"field": "messages", "value": value}]}]}  # fmt: skip


def provider(http: httpx.AsyncClient | None = None, token: str | None = TOKEN) -> GupshupProvider:
    settings = GupshupSettings(
        _env_file=None,
        base_url=BASE,
        app_id="app",
        app_token=SecretStr("sk_static_app_token_0123"),
        events_token=SecretStr(token) if token else None,
    )
    context = ProviderContext(http or httpx.AsyncClient(), 5)
    return GupshupProvider(settings, context)


def test_a_v3_status_carries_both_ids_its_time_in_seconds_and_its_kind() -> None:
    (event,) = provider().read_events(
        v3(gs_id="gs-1", id="wamid.1", status="delivered", timestamp=1764583204)
    )
    assert (event.kind, event.message_id, event.alias, event.at) == (
        EventKind.DELIVERED, "gs-1", "wamid.1", 1764583204.0,
    )  # fmt: skip
    assert event.error is None


@pytest.mark.parametrize(
    ("timestamp", "seconds"),
    [(1764583204000, 1764583204.0), ("1764583204", 1764583204.0), (None, 0.0), ("soon", 0.0)],
)
def test_timestamps_in_milliseconds_or_as_strings_become_seconds(
    timestamp: Any, seconds: float
) -> None:
    (event,) = provider().read_events(v3(gs_id="g", status="enqueued", timestamp=timestamp))
    assert event.at == seconds


@pytest.mark.parametrize(
    ("code", "mapped"),
    [
        (131047, "outside_service_window"),
        (470, "outside_service_window"),
        (131026, "undeliverable"),
        (1002, "not_on_whatsapp"),
        (1012, "opted_out"),
        (131052, "media_failed"),
        (131053, "media_failed"),
        (1010, "media_failed"),
        (1011, "media_failed"),
        (130429, "rate_limited"),
        (131048, "rate_limited"),
        (131056, "rate_limited"),
        (4001, "rate_limited"),
        (131000, "provider_error"),
        ("131047", "outside_service_window"),
        (None, "provider_error"),
    ],
)
def test_failure_codes_map_to_the_contracts_codes_and_keep_the_providers(
    code: Any, mapped: str
) -> None:
    errors = [{"code": code, "title": "T", "message": "M", "error_data": {"details": "D"}}]
    (event,) = provider().read_events(v3(gs_id="g", status="failed", timestamp=1, errors=errors))
    assert event.kind is EventKind.FAILED
    assert event.error is not None
    assert event.error.code == mapped
    assert event.error.provider_code == (None if code is None else str(code))
    assert (event.error.title, event.error.detail) == ("T", "D")


def test_v2_events_join_by_gsid_or_by_gupshups_own_id() -> None:
    read = provider().read_events(
        {"app": "a", "timestamp": 1764583204000, "version": 2, "type": "message-event",
         "payload": {"id": "wamid.9", "gsId": "gs-9", "type": "read", "destination": "91"}}
    )  # fmt: skip
    assert [(e.kind, e.message_id, e.alias, e.at) for e in read] == [
        (EventKind.READ, "gs-9", "wamid.9", 1764583204.0)
    ]
    failed = provider().read_events(
        {"app": "a", "timestamp": 1, "version": 2, "type": "message-event",
         "payload": {"id": "gs-8", "type": "failed", "payload": {"code": 1002, "reason": "no"}}}
    )  # fmt: skip
    assert (failed[0].message_id, failed[0].alias) == ("gs-8", None)
    assert failed[0].error is not None
    assert (failed[0].error.code, failed[0].error.detail) == ("not_on_whatsapp", "no")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"type": "platform-event", "payload": {"type": "connectivity-check"}}, EventKind.CHECK),
        ({"type": "connectivity-check"}, EventKind.CHECK),
        ({"type": "message", "payload": {"text": "hi"}}, EventKind.OTHER),
        (v3(gs_id="g", status="deleted", timestamp=1), EventKind.OTHER),
        ({"object": "whatsapp_business_account", "entry": []}, EventKind.OTHER),
        ([1, 2, 3], EventKind.OTHER),
        ("text", EventKind.OTHER),
        ({"entry": [{"changes": [{"value": "x"}, 5]}, None]}, EventKind.OTHER),
    ],
)
def test_checks_and_anything_else_are_one_event_each_never_an_error(
    body: Any, kind: EventKind
) -> None:
    assert [e.kind for e in provider().read_events(body)] == [kind]


def test_the_token_is_one_of_two_during_a_rotation() -> None:
    rotating = provider(token=f"{TOKEN},new-events-token-0123456789")
    assert rotating.events_authentic({"x-events-token": TOKEN}) is True
    assert rotating.events_authentic({"x-events-token": "new-events-token-0123456789"}) is True
    assert rotating.events_authentic({"x-events-token": TOKEN + "x"}) is False
    assert rotating.events_authentic({}) is False
    assert provider(token=None).events_authentic({"x-events-token": TOKEN}) is None


def test_a_short_events_token_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="GUPSHUP_EVENTS_TOKEN"):
        GupshupSettings(_env_file=None, events_token=SecretStr("short"))


def test_the_events_token_alone_does_not_make_gupshup_live() -> None:
    assert GupshupSettings(_env_file=None, events_token=SecretStr(TOKEN)).live is False


URL = "https://gw.example.com/providers/gupshup/events"
SUBSCRIPTIONS = f"{BASE}/partner/app/app/subscription"


@respx.mock
async def test_subscribe_creates_the_tagged_v3_subscription_when_there_is_none() -> None:
    respx.get(SUBSCRIPTIONS).respond(json={"status": "success", "subscriptions": []})
    created = respx.post(SUBSCRIPTIONS).respond(json={"status": "success", "subscription": {}})
    async with httpx.AsyncClient() as http:
        state = await provider(http).subscribe(GupshupTarget(), URL)
    assert state.state == "subscribed"
    form = dict(httpx.QueryParams(created.calls.last.request.content.decode()))
    assert form["url"] == URL
    assert (form["modes"], form["version"], form["tag"]) == (
        "SENT,DELIVERED,READ,FAILED", "3", "media-gateway",
    )  # fmt: skip
    assert json.loads(form["meta"]) == {"X-Events-Token": TOKEN}
    assert created.calls.last.request.headers["Authorization"] == "sk_static_app_token_0123"


@respx.mock
async def test_subscribe_finds_its_own_and_never_overwrites_one_pointing_elsewhere() -> None:
    created = respx.post(SUBSCRIPTIONS).respond(json={"status": "success"})
    listed = respx.get(SUBSCRIPTIONS)
    async with httpx.AsyncClient() as http:
        listed.respond(json={"subscriptions": [{"tag": "media-gateway", "url": URL}]})
        assert (await provider(http).subscribe(GupshupTarget(), URL)).state == "subscribed"
        listed.respond(json={"subscriptions": [{"tag": "media-gateway", "url": "https://old"}]})
        elsewhere = await provider(http).subscribe(GupshupTarget(), URL)
    assert elsewhere.state == "failed"
    assert "points elsewhere" in (elsewhere.reason or "")
    assert not created.called


@respx.mock
async def test_a_refused_subscription_is_failed_with_why() -> None:
    respx.get(SUBSCRIPTIONS).respond(json={"subscriptions": []})
    respx.post(SUBSCRIPTIONS).respond(400, json={"status": "error", "message": "Duplicate tag"})
    async with httpx.AsyncClient() as http:
        state = await provider(http).subscribe(GupshupTarget(), URL)
    assert state.state == "failed"
    assert state.reason
