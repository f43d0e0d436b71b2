"""Delivery status end to end: real gateway processes sharing the real Redis, the Gupshup
simulator as the live provider, events posted over HTTP, and a client's webhook receiver
that verifies every post with the `standardwebhooks` library."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import WebhookVerificationError

from tests import samples
from tests.conftest import NO_REDIS, redis_url
from tests.e2e.conftest import Server, Stack, free_port, live_env, start, stop, two_gateways
from tests.e2e.webhook_receiver import Receiver, verified

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

RUN = uuid.uuid4().hex[:8]  # messages and outboxes live in the shared Redis: names of this run's
ALPHA, BETA = f"alpha-{RUN}", f"beta-{RUN}"
ALPHA_KEY, BETA_KEY = f"alpha-key-{RUN}-0123456", f"beta-key-{RUN}-89abcdef"
SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
EVENTS_TOKEN = f"events-token-{RUN}-0123456789"
APP = f"manual-{RUN}"  # no subscription: only the events a test posts reach the gateway
TO = "919876543210"


def sha256(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def other_database(url: str, number: int) -> str:
    """The test Redis's database `number`: gateways of another scenario share no queue with
    this module's (their workers would post this module's webhooks)."""
    return url.rsplit("/", 1)[0] + f"/{number}"


def clients_file(folder: Path, receiver: Receiver, name: str = "clients") -> Path:
    path = folder / f"{name}-{RUN}.toml"
    path.write_text(
        f"""
[clients.{ALPHA}]
keys_sha256 = ["{sha256(ALPHA_KEY)}"]

[clients.{ALPHA}.webhook]
url = "{receiver.url}"
secret = "{SECRET}"

[clients.{BETA}]
keys_sha256 = ["{sha256(BETA_KEY)}"]
"""
    )
    return path


@dataclass
class Setup:
    stack: Stack
    env: dict[str, str]
    logs: Path
    receiver: Receiver
    gateway: Server


@pytest.fixture(scope="module")
def setup(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    redis = redis_url()
    if redis is None:
        pytest.skip(NO_REDIS)
    logs = tmp_path_factory.mktemp("messages")
    receiver = Receiver()
    receiver.start()
    env = {
        **live_env(stack, redis),
        "GUPSHUP_APP_ID": APP,
        "GATEWAY_CLIENTS_FILE": str(clients_file(logs, receiver)),
        "GUPSHUP_EVENTS_TOKEN": EVENTS_TOKEN,
        "GATEWAY_WEBHOOK_RETRY_SCHEDULE": "0.3",
    }
    gateway = start(f"gateway-messages-{RUN}", ["gateway"], env, logs)
    try:
        yield Setup(stack, env, logs, receiver, gateway)
    finally:
        stop(gateway)
        receiver.stop()


def send(gateway: Server, key: str = ALPHA_KEY, to: str = TO) -> str:
    answer = httpx.post(
        f"{gateway.url}/send-media",
        headers={"X-API-Key": key},
        data={"provider": "gupshup", "to": to},
        files={"file": ("photo.png", samples.png(), "image/png")},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    message_id: str = answer.json()["message_id"]
    return message_id


def v3(gs_id: str, status: str, at: int, *, error: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "gs_id": gs_id,
        "id": f"wamid.{hashlib.sha256(gs_id.encode()).hexdigest()[:24]}",
        "recipient_id": TO,
        "status": status,
        "timestamp": at,
    }
    if error is not None:
        entry["errors"] = [{"code": error, "title": "Re-engagement message", "message": "late",
                            "error_data": {"details": "more than 24 hours since the last reply"}}]  # fmt: skip
    value = {"messaging_product": "whatsapp", "statuses": [entry]}
    return {"object": "whatsapp_business_account", "gs_app_id": APP,
            "entry": [{"id": "waba", "changes": [{"field": "messages", "value": value}]}]}  # fmt: skip


def post(gateway: Server, body: Any, token: str | None = EVENTS_TOKEN) -> httpx.Response:
    headers = {"X-Events-Token": token} if token is not None else {}
    return httpx.post(f"{gateway.url}/providers/gupshup/events", json=body, headers=headers)


def message(gateway: Server, message_id: str, key: str = ALPHA_KEY) -> httpx.Response:
    return httpx.get(f"{gateway.url}/messages/{message_id}", headers={"X-API-Key": key})


def wait_status(gateway: Server, message_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body: dict[str, Any] = message(gateway, message_id).json()
        if body.get("status") == status:
            return body
        time.sleep(0.05)
    raise AssertionError(f"{message_id} never became {status}: {body}")


def statuses(body: dict[str, Any]) -> list[str]:
    return [entry["status"] for entry in body["history"]]


def test_a_message_moves_forward_with_one_verified_webhook_per_change(setup: Setup) -> None:
    gateway, receiver = setup.gateway, setup.receiver
    mid = send(gateway)
    created = message(gateway, mid).json()
    assert (created["status"], created["to"], created["sandbox"]) == ("accepted", TO, False)
    now = int(time.time())
    for status, at in (("sent", now + 1), ("delivered", now + 2), ("read", now + 3)):
        assert post(gateway, v3(mid, status, at)).json() == {"status": "stored"}
    body = wait_status(gateway, mid, "read")
    assert statuses(body) == ["accepted", "sent", "delivered", "read"]
    assert body["history"][2]["at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 2))
    receiver.wait(lambda: len(receiver.of(mid)) == 3)
    posts = receiver.of(mid)
    payloads = [verified(p, SECRET) for p in posts]
    assert [p["type"] for p in payloads] == ["message.sent", "message.delivered", "message.read"]
    assert len({p.id for p in posts}) == 3
    assert payloads[-1]["data"] == body
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        verified(posts[0], other)


def test_duplicates_and_late_events_change_nothing(setup: Setup) -> None:
    gateway, receiver = setup.gateway, setup.receiver
    mid = send(gateway)
    now = int(time.time())
    post(gateway, v3(mid, "read", now + 3))
    wait_status(gateway, mid, "read")
    for status, at in (("delivered", now + 2), ("sent", now + 1), ("read", now + 3)):
        assert post(gateway, v3(mid, status, at)).status_code == 200
    # Something after them, to know they were applied (the inbox keeps its order).
    post(gateway, v3(mid, "failed", now + 4, error=131026))
    body = wait_status(gateway, mid, "failed")
    assert statuses(body) == ["accepted", "read", "failed"]
    receiver.wait(lambda: len(receiver.of(mid)) == 2)
    time.sleep(0.5)
    assert [p.json["type"] for p in receiver.of(mid)] == ["message.read", "message.failed"]


def test_a_failed_event_with_131047_is_outside_service_window(setup: Setup) -> None:
    gateway = setup.gateway
    mid = send(gateway)
    now = int(time.time())
    post(gateway, v3(mid, "sent", now))
    post(gateway, v3(mid, "failed", now + 1, error=131047))
    body = wait_status(gateway, mid, "failed")
    assert body["error"]["code"] == "outside_service_window"
    assert body["error"]["provider_code"] == "131047"
    assert body["error"]["detail"] == "more than 24 hours since the last reply"


def test_a_receiver_that_fails_twice_gets_the_same_webhook_id_three_times(setup: Setup) -> None:
    gateway, receiver = setup.gateway, setup.receiver
    mid = send(gateway)
    receiver.answers[mid] = [500, 500]
    post(gateway, v3(mid, "sent", int(time.time())))
    receiver.wait(lambda: len(receiver.of(mid)) == 3)
    posts = receiver.of(mid)
    assert [p.answered for p in posts] == [500, 500, 200]
    assert len({p.id for p in posts}) == 1
    for one in posts:
        verified(one, SECRET)  # each attempt signed afresh, each valid


def test_a_wrong_token_gets_401_and_changes_nothing(setup: Setup) -> None:
    gateway = setup.gateway
    mid = send(gateway)
    for token in ("wrong-token-0123456789", None):
        answer = post(gateway, v3(mid, "read", int(time.time())), token=token)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "unauthorized"
    post(gateway, v3(mid, "sent", int(time.time())))  # a good one after them
    body = wait_status(gateway, mid, "sent")
    assert statuses(body) == ["accepted", "sent"]


def test_bodies_that_are_not_json_or_too_deep_get_400(setup: Setup) -> None:
    url = f"{setup.gateway.url}/providers/gupshup/events"
    headers = {"X-Events-Token": EVENTS_TOKEN, "Content-Type": "application/json"}
    for body in (b"not json", b"[" * 100_000 + b"]" * 100_000, b"[" * 40 + b"]" * 40):
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "validation_error"
    too_large = httpx.post(url, content=b" " * (1024 * 1024 + 1), headers=headers)
    assert too_large.status_code == 413
    check = httpx.post(url, json={"type": "platform-event", "payload": {"type": "connectivity-check"}}, headers=headers)  # fmt: skip
    assert check.status_code == 200


def test_another_clients_message_is_not_found(setup: Setup) -> None:
    gateway = setup.gateway
    mid = send(gateway)
    assert message(gateway, mid).status_code == 200
    other = message(gateway, mid, key=BETA_KEY)
    assert other.status_code == 404
    assert other.json()["code"] == "not_found"
    assert message(gateway, str(uuid.uuid4())).status_code == 404
    assert message(gateway, mid, key="no-such-key-0123456789").status_code == 401


def test_a_receiver_down_across_a_gateway_restart_still_gets_the_event(setup: Setup) -> None:
    receiver = Receiver()  # not started: down
    env = {
        **setup.env,
        "GATEWAY_CLIENTS_FILE": str(clients_file(setup.logs, receiver, "restart")),
        "GATEWAY_REDIS_URL": other_database(setup.env["GATEWAY_REDIS_URL"], 14),
    }
    port = free_port()
    first = start(f"gateway-restart-{RUN}", ["gateway"], env, setup.logs, port=port)
    try:
        mid = send(first)
        post(first, v3(mid, "sent", int(time.time())))
        time.sleep(1.0)  # attempted, and refused: the receiver is down
    finally:
        stop(first)
    receiver.start()
    try:
        again = start(f"gateway-restart-{RUN}-2", ["gateway"], env, setup.logs, port=port)
        try:
            receiver.wait(lambda: len(receiver.of(mid)) >= 1)
            assert verified(receiver.of(mid)[0], SECRET)["type"] == "message.sent"
        finally:
            stop(again)
    finally:
        receiver.stop()


def test_two_replicas_post_each_event_once(setup: Setup) -> None:
    receiver = setup.receiver
    with two_gateways(f"gateway-pair-{RUN}", setup.env, setup.logs) as (a, b):
        sent = [send(a if i % 2 else b) for i in range(10)]
        now = int(time.time())
        for i, mid in enumerate(sent):
            for step, status in enumerate(("sent", "delivered", "read")):
                assert (
                    post(b if (i + step) % 2 else a, v3(mid, status, now + step)).status_code == 200
                )
        receiver.wait(lambda: all(len(receiver.of(mid)) >= 3 for mid in sent), seconds=20)
        time.sleep(1.0)  # a second delivery of any of them would have come by now
    for mid in sent:
        posts = receiver.of(mid)
        assert [p.json["type"] for p in posts] == [
            "message.sent",
            "message.delivered",
            "message.read",
        ]
        assert len({p.id for p in posts}) == 3


def test_the_gateway_subscribes_its_app_at_the_simulator(stack: Stack, tmp_path: Path) -> None:
    redis = redis_url()
    if redis is None:
        pytest.skip(NO_REDIS)
    app = f"subscribed-{RUN}"
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {**live_env(stack, other_database(redis, 13)), "GUPSHUP_APP_ID": app,
           "GUPSHUP_EVENTS_TOKEN": EVENTS_TOKEN, "GATEWAY_PUBLIC_URL": public}  # fmt: skip
    gateway = start(f"gateway-subscribed-{RUN}", ["gateway"], env, tmp_path, port=port)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            log = httpx.get(f"{stack.gupshup_sim.url}/_sandbox/log").json()
            made = [e for e in log if e["call"] == "subscribe" and e["app"] == app]
            if made:
                break
            time.sleep(0.1)
        assert len(made) == 1
        form = made[0]["form"]
        assert form["url"] == f"{public}/providers/gupshup/events"
        assert form["modes"] == "SENT,DELIVERED,READ,FAILED"
        assert form["version"] == "3"
        assert form["tag"] == "media-gateway"
        assert json.loads(form["meta"]) == {"X-Events-Token": EVENTS_TOKEN}
        providers = httpx.get(
            f"{gateway.url}/providers", headers={"X-API-Key": env["GATEWAY_API_KEYS"]}
        ).json()
        assert providers["providers"]["gupshup"]["events"] == "subscribed"
        assert providers["providers"]["kaizala"]["events"] is None
        # Gupshup now posts the app's events to the gateway over HTTP, with the token.
        answer = httpx.post(f"{gateway.url}/send-media", headers={"X-API-Key": env["GATEWAY_API_KEYS"]},
                            data={"provider": "gupshup", "to": TO},
                            files={"file": ("photo.png", samples.png(), "image/png")})  # fmt: skip
        mid = answer.json()["message_id"]
        deadline = time.monotonic() + 10
        body: dict[str, Any] = {}
        while time.monotonic() < deadline and body.get("status") != "read":
            body = message(gateway, mid, key=env["GATEWAY_API_KEYS"]).json()
            time.sleep(0.1)
        assert statuses(body) == ["accepted", "sent", "delivered", "read"]
    finally:
        stop(gateway)


def test_a_worker_apart_does_the_work_of_gateways_that_run_none(setup: Setup) -> None:
    receiver = Receiver()
    receiver.start()
    env = {
        **setup.env,
        "GATEWAY_CLIENTS_FILE": str(clients_file(setup.logs, receiver, "apart")),
        "GATEWAY_REDIS_URL": other_database(setup.env["GATEWAY_REDIS_URL"], 12),
    }
    gateway = start(
        f"gateway-no-worker-{RUN}", ["gateway"], {**env, "GATEWAY_WORKER": "false"}, setup.logs
    )
    try:
        mid = send(gateway)
        post(gateway, v3(mid, "sent", int(time.time())))
        time.sleep(1.0)
        assert message(gateway, mid).json()["status"] == "accepted"  # stored, not applied
        worker = start(f"gateway-worker-{RUN}", ["gateway", "worker"], env, setup.logs)
        try:
            wait_status(gateway, mid, "sent")
            receiver.wait(lambda: len(receiver.of(mid)) == 1)
            assert verified(receiver.of(mid)[0], SECRET)["type"] == "message.sent"
            metrics = httpx.get(f"{worker.url}/metrics").text
            assert 'gateway_webhook_deliveries_total{result="ok"} 1.0' in metrics
        finally:
            stop(worker)
    finally:
        stop(gateway)
        receiver.stop()
