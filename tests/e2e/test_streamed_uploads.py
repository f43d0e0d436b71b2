"""Large uploads go upstream while they arrive: the live gateway against the Kaizala simulator
running as its own server, the caller on a real socket. The simulator logs the SHA-256 of
every upload it received whole, so each test checks the bytes, not just the status."""

from __future__ import annotations

import hashlib
import random
import socket
import time
import uuid
from typing import Any

import httpx
import pytest

from gateway.pipeline.streaming import STREAM_FROM
from tests import samples
from tests.e2e.conftest import API_KEY, UPSTREAM_TIMEOUT_S, OriginHandler, Server, Stack

pytestmark = pytest.mark.e2e

VIDEO = samples.mp4() + random.Random(7).randbytes(STREAM_FROM + 500_000)
DIGEST = hashlib.sha256(VIDEO).hexdigest()
FIELDS = [("provider", (None, "kaizala")), ("group_id", (None, "g@1"))]
FILE = ("file", ("clip.mp4", VIDEO, "video/mp4"))


def sim_calls(sim: Server, since: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{sim.url}/_sandbox/log").json()
    return entries[since:]


def sim_count(sim: Server) -> int:
    return len(httpx.get(f"{sim.url}/_sandbox/log").json())


def uploads(calls: list[dict[str, Any]]) -> list[list[str]]:
    """The SHA-256 of each file of each upload the simulator received whole."""
    return [c["sha256"] for c in calls if c["call"] == "upload"]


def gateway_says(stack: Stack, request_id: str, message: str) -> bool:
    return any(
        request_id in line and message in line for line in stack.gateway.log_text().splitlines()
    )


def raw_request(parts: list[tuple[str, Any]], request_id: str, epilogue: bytes = b"") -> bytes:
    """A whole HTTP request for a multipart form, as bytes for a socket."""
    built = httpx.Request(
        "POST",
        "http://gateway/send-media",
        files=parts,
        headers={"X-API-Key": API_KEY, "X-Request-ID": request_id},
    )
    body = built.read() + epilogue
    headers = {**built.headers, "content-length": str(len(body))}
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items() if k.lower() != "host")
    return f"POST /send-media HTTP/1.1\r\nHost: gateway\r\n{head}\r\n".encode() + body


def connect(stack: Stack) -> socket.socket:
    return socket.create_connection(("127.0.0.1", httpx.URL(stack.gateway.url).port or 80))


def answer_of(conn: socket.socket) -> tuple[int, bytes]:
    conn.settimeout(60)
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return int(head.split(b" ", 2)[1]), body


def send(stack: Stack, parts: list[tuple[str, Any]], **headers: str) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway.url}/send-media",
        files=parts,
        headers={"X-API-Key": API_KEY, **headers},
        timeout=60,
    )


def test_a_large_upload_goes_upstream_as_it_arrives(stack: Stack) -> None:
    since = sim_count(stack.kaizala_sim)
    response = send(stack, [*FIELDS, FILE])
    assert response.status_code == 200, response.text
    calls = sim_calls(stack.kaizala_sim, since)
    assert uploads(calls) == [[DIGEST]]
    assert calls[-1]["body"]["actionBody"]["mediaResource"] == response.json()["media_id"]
    request_id = response.headers["x-request-id"]
    assert gateway_says(stack, request_id, "upload streamed as it arrived")


def test_a_large_file_by_url_is_uploaded_while_it_downloads(stack: Stack) -> None:
    big, _ = OriginHandler.FILES["/big.mp4"]
    assert len(big) >= STREAM_FROM
    since = sim_count(stack.kaizala_sim)
    response = httpx.post(
        f"{stack.gateway.url}/send-media",
        json={"provider": "kaizala", "group_id": "g@1", "url": f"{stack.origin}/big.mp4"},
        headers={"X-API-Key": API_KEY},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["media_type"] == "video"
    calls = sim_calls(stack.kaizala_sim, since)
    assert uploads(calls) == [[hashlib.sha256(big).hexdigest()]]
    assert calls[-1]["body"]["actionBody"]["mediaResource"] == response.json()["media_id"]
    request_id = response.headers["x-request-id"]
    assert gateway_says(stack, request_id, "download sent on as it arrived")


def test_a_large_upload_with_an_idempotency_key_streams_and_its_key_holds(stack: Stack) -> None:
    """Claimed before its hash is known, bound once it ended: the same request is
    replayed, another file with the key is refused (a used key is compared with the
    request read whole, before anything is sent), and the provider got one upload."""
    key = f"big-{uuid.uuid4().hex}"
    since = sim_count(stack.kaizala_sim)
    first = send(stack, [*FIELDS, FILE], **{"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert gateway_says(stack, first.headers["x-request-id"], "upload streamed as it arrived")
    again = send(stack, [*FIELDS, FILE], **{"Idempotency-Key": key})
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["media_id"] == first.json()["media_id"]
    other = VIDEO[:-1] + bytes([VIDEO[-1] ^ 1])
    refused = send(
        stack, [*FIELDS, ("file", ("clip.mp4", other, "video/mp4"))], **{"Idempotency-Key": key}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "idempotency_conflict"
    calls = sim_calls(stack.kaizala_sim, since)
    assert uploads(calls) == [[DIGEST]]
    assert len([c for c in calls if c["call"] == "post"]) == 1


def test_another_file_first_sent_with_a_used_key_is_refused(stack: Stack) -> None:
    """The key was used by a small request: the large one is compared with it once read
    whole, and nothing is sent."""
    key = f"used-{uuid.uuid4().hex}"
    small = send(
        stack,
        [*FIELDS, ("file", ("a.png", samples.png(), "image/png"))],
        **{"Idempotency-Key": key},
    )
    assert small.status_code == 200, small.text
    since = sim_count(stack.kaizala_sim)
    refused = send(stack, [*FIELDS, FILE], **{"Idempotency-Key": key})
    assert refused.status_code == 422
    assert refused.json()["code"] == "idempotency_conflict"
    assert sim_calls(stack.kaizala_sim, since) == []


@pytest.mark.parametrize(
    ("parts", "epilogue"),
    [
        ([*FIELDS, FILE, ("caption", (None, "a field after the file"))], b""),
        ([FIELDS[0], FILE, FIELDS[1]], b""),  # a required field after the file
        ([*FIELDS, FILE, ("file", ("b.png", samples.png(), "image/png"))], b""),
        ([*FIELDS, FILE], b"an epilogue after the closing delimiter\r\n"),
    ],
    ids=["caption-after", "group-after", "second-file", "epilogue"],
)
def test_a_request_other_than_its_first_parts_announced_gets_the_store_and_forward_answer(
    stack: Stack, parts: list[tuple[str, Any]], epilogue: bytes
) -> None:
    """The streamed upload is never completed at the provider; the request is read whole
    and answered the same with an Idempotency-Key and without one."""
    answers = []
    for key in (None, f"same-as-{uuid.uuid4().hex}"):
        request_id = uuid.uuid4().hex
        since = sim_count(stack.kaizala_sim)
        payload = raw_request(parts, request_id, epilogue)
        if key is not None:
            payload = payload.replace(
                b"\r\n\r\n", f"\r\nIdempotency-Key: {key}\r\n\r\n".encode(), 1
            )
        with connect(stack) as conn:
            conn.sendall(payload)
            status, body = answer_of(conn)
        calls = sim_calls(stack.kaizala_sim, since)
        posts = [c["body"] for c in calls if c["call"] == "post"]
        answers.append(
            (status, httpx.Response(status, content=body).json().get("code"), uploads(calls), posts)
        )
        if key is None and status == 200:
            assert gateway_says(stack, request_id, "sent whole")
    streamed, stored = answers
    # Same answer, same bytes uploaded once, same post (media ids differ per upload).
    assert streamed[:3] == stored[:3]
    assert [p["actionBody"].get("caption") for p in streamed[3]] == [
        p["actionBody"].get("caption") for p in stored[3]
    ]


def test_a_caller_gone_mid_upload_completes_nothing_at_the_provider(stack: Stack) -> None:
    since = sim_count(stack.kaizala_sim)
    request_id = uuid.uuid4().hex
    payload = raw_request([*FIELDS, FILE], request_id)
    with connect(stack) as conn:
        conn.sendall(payload[: len(payload) * 2 // 3])
        time.sleep(1)
    deadline = time.monotonic() + 10
    while not gateway_says(stack, request_id, '"status": 499'):
        assert time.monotonic() < deadline, "the gateway never ended the request"
        time.sleep(0.1)
    assert sim_calls(stack.kaizala_sim, since) == []
    lines = [line for line in stack.gateway.log_text().splitlines() if request_id in line]
    assert not any("Traceback" in line or '"level": "error"' in line for line in lines)


def test_a_refused_token_mid_upload_resends_the_bytes_from_the_spool(stack: Stack) -> None:
    since = sim_count(stack.kaizala_sim)
    httpx.post(f"{stack.kaizala_sim.url}/_sandbox/revoke")  # the gateway's token now fails
    response = send(stack, [*FIELDS, FILE])
    assert response.status_code == 200, response.text
    calls = sim_calls(stack.kaizala_sim, since)
    assert [c["call"] for c in calls] == ["auth", "upload", "post"]  # one upload completed
    assert uploads(calls) == [[DIGEST]]


def test_a_caller_slower_than_the_upload_timeout_is_received_whole_then_sent(
    stack: Stack,
) -> None:
    """Streaming must not fail a slow caller whom store-and-forward would serve: when the
    upload call's time runs out while the gateway waits for the caller's bytes, it reads
    the rest and sends it the stored way."""
    since = sim_count(stack.kaizala_sim)
    request_id = uuid.uuid4().hex
    payload = raw_request([*FIELDS, FILE], request_id)
    timeout_s = UPSTREAM_TIMEOUT_S + len(VIDEO) / (1 << 20)  # the upload call's time
    with connect(stack) as conn:
        conn.sendall(payload[: len(payload) // 2])
        time.sleep(timeout_s + 1.5)  # within the 30 s the gateway waits for a stalled body
        conn.sendall(payload[len(payload) // 2 :])
        status, body = answer_of(conn)
    assert status == 200, body
    assert uploads(sim_calls(stack.kaizala_sim, since)) == [[DIGEST]]
    assert gateway_says(stack, request_id, "slower than the upload call's timeout")
