"""The client's hand-written layer: typed errors, retries only of what `retryable` says
(with the same Idempotency-Key), no retry without an answer beyond its attempts, and
webhook verification with a secret or two."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import httpx
import pytest
from media_gateway_client import (
    GatewayError,
    GatewayUnreachableError,
    IdempotencyError,
    InvalidRequestError,
    MediaGateway,
    WebhookVerificationError,
    verify_webhook,
)
from standardwebhooks.webhooks import Webhook

SENT = {
    "provider": "kaizala", "media_type": "image", "media_id": "m-1", "reference_id": "r",
    "action_id": "a", "sandbox": True, "request_id": "req-1",
}  # fmt: skip


def problem(status: int, code: str, retryable: bool) -> dict[str, object]:
    return {
        "type": f"https://errors/{code}", "title": code, "status": status, "detail": "x",
        "code": code, "retryable": retryable, "request_id": "req-1",
    }  # fmt: skip


def gateway_answering(answers: list[httpx.Response], seen: list[httpx.Request]) -> MediaGateway:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers.pop(0)

    gateway = MediaGateway("http://gateway", "key-1", sleep=lambda s: None)
    gateway._http = httpx.Client(  # the same client, over a fake transport
        base_url="http://gateway",
        headers={"X-API-Key": "key-1"},
        transport=httpx.MockTransport(handler),
    )
    return gateway


def test_a_retryable_answer_is_retried_with_the_same_key() -> None:
    seen: list[httpx.Request] = []
    answers = [
        httpx.Response(503, json=problem(503, "overloaded", True), headers={"Retry-After": "1"}),
        httpx.Response(200, json=SENT),
    ]
    sent = gateway_answering(answers, seen).send_url("gupshup", "https://e.com/a.pdf")
    assert sent.media_id == "m-1"
    keys = [r.headers["Idempotency-Key"] for r in seen]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert json.loads(seen[0].content) == {"provider": "gupshup", "url": "https://e.com/a.pdf"}


def test_an_answer_that_is_not_retryable_is_a_typed_error_at_once() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(422, json=problem(422, "idempotency_conflict", False))]
    with pytest.raises(IdempotencyError) as conflict:
        gateway_answering(answers, seen).send_url(
            "gupshup", "https://e.com/a.pdf", idempotency_key="k"
        )
    assert (conflict.value.code, len(seen)) == ("idempotency_conflict", 1)


def test_the_files_go_last_in_the_form() -> None:
    """The gateway sends a large file on while it arrives only when it is the last part."""
    seen: list[httpx.Request] = []
    gateway = gateway_answering([httpx.Response(200, json=SENT)], seen)
    gateway.send_files("kaizala", [("a.png", b"\x89PNG", "image/png")], group_id="g@1")
    body = seen[0].read()
    assert body.index(b'name="group_id"') < body.index(b'name="file"')
    assert body.index(b'name="provider"') < body.index(b'name="file"')


def test_a_gateway_that_never_answers_is_tried_each_time_then_raised() -> None:
    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        raise httpx.ConnectError("refused", request=request)

    gateway = MediaGateway("http://gateway", max_attempts=3, sleep=lambda s: None)
    gateway._http = httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(refuse))
    with pytest.raises(GatewayUnreachableError):
        gateway.send_url("gupshup", "https://e.com/a.pdf")
    assert len(seen) == 3
    assert len({r.headers["Idempotency-Key"] for r in seen}) == 1


def test_an_answer_that_is_no_problem_document_is_still_a_typed_error() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(400, text="<html>proxy says no</html>")]
    with pytest.raises(GatewayError, match="proxy says no") as failed:
        gateway_answering(answers, seen).send_url("gupshup", "https://e.com/a.pdf")
    assert type(failed.value) is GatewayError
    assert failed.value.code == "unexpected_answer"


def test_a_validation_error_is_an_invalid_request() -> None:
    seen: list[httpx.Request] = []
    answers = [httpx.Response(422, json=problem(422, "validation_error", False))]
    with pytest.raises(InvalidRequestError):
        gateway_answering(answers, seen).send_url("gupshup", "ftp://e.com/a.pdf")


SECRET = "whsec_" + base64.b64encode(b"a-client-webhook-secret-0123456").decode()
OLD = "whsec_" + base64.b64encode(b"the-old-client-webhook-secret-01").decode()


def signed(secret: str, body: bytes) -> dict[str, str]:
    now = datetime.now(tz=UTC)
    signature = Webhook(secret).sign("evt_1", now, body.decode())
    return {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }


def test_a_webhook_verifies_with_its_secret_or_either_during_a_rotation() -> None:
    body = b'{"type": "message.status", "data": {"status": "read"}}'
    assert verify_webhook(SECRET, signed(SECRET, body), body)["data"] == {"status": "read"}
    assert verify_webhook([OLD, SECRET], signed(SECRET, body), body)["type"] == "message.status"
    with pytest.raises(WebhookVerificationError):
        verify_webhook(OLD, signed(SECRET, body), body)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, signed(SECRET, body), body.replace(b"read", b"sent"))
