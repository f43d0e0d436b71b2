"""Clients that misbehave on the wire, against the real server: bodies sent after an early
answer, bodies trickled in, header blocks never finished, more connections than allowed."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import API_KEY, Server, Stack, start, stop

pytestmark = pytest.mark.e2e

CHUNK = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
# What the kernel may still buffer on loopback after the server stops reading (its receive
# buffer and ours); the bug let a single connection push gigabytes.
BUFFERED_AT_MOST = 16 * 1024 * 1024
GIVE_UP_AFTER = 256 * 1024 * 1024


def push_chunked_body(url: str, head: bytes) -> tuple[bytes, int]:
    """Send `head` and then 64 KiB chunks for as long as the server takes them; return the
    answer and how many body bytes it took after its answer had started."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
    sock.sendall(head)
    answer = b""
    after_answer = 0
    try:
        while after_answer < GIVE_UP_AFTER:
            readable, writable, _ = select.select([sock], [sock], [], 5)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break  # the server closed the connection
                answer += data
            if writable:
                sent = sock.send(CHUNK)
                if b"\r\n\r\n" in answer:
                    after_answer += sent
            if not readable and not writable:
                break
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        sock.close()
    return answer, after_answer


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"", b"401"),  # no key
        (b"X-API-Key: " + API_KEY.encode() + b"\r\nContent-Type: text/plain\r\n", b"415"),
        (b"X-API-Key: " + API_KEY.encode() + b"\r\nContent-Type: multipart/form-data\r\n", b"422"),
    ],
)
def test_a_body_sent_after_an_early_answer_is_not_read(
    stack: Stack, headers: bytes, status: bytes
) -> None:
    head = (
        b"POST /send-media HTTP/1.1\r\nHost: gateway\r\nTransfer-Encoding: chunked\r\n"
        + headers
        + b"\r\n"
    )
    answer, after = push_chunked_body(stack.gateway.url, head)
    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert b"connection: close" in answer.lower()
    assert after < BUFFERED_AT_MOST, f"the gateway took {after} bytes after answering"


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A gateway with tight client limits, so slow clients show in seconds."""
    server = start(
        "gateway-strict",
        ["gateway"],
        {
            "GATEWAY_CLIENT_HEADER_TIMEOUT_S": "1",
            "GATEWAY_CLIENT_BODY_TIMEOUT_S": "1",
            "GATEWAY_CLIENT_BODY_MIN_RATE": "1000",
            "GATEWAY_MAX_CONCURRENCY": "4",
        },
        tmp_path_factory.mktemp("strict"),
    )
    yield server
    stop(server)


def connect(server: Server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_trickled_body_is_cut_off_by_the_minimum_rate(strict: Server) -> None:
    sock = connect(strict)
    sock.sendall(
        b"POST /send-media HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n"
    )
    answer = b""
    # One byte every 0.4 s never stalls for the 1 s idle timeout, but is far under 1000 B/s.
    for _ in range(40):
        readable, _, _ = select.select([sock], [], [], 0.4)
        if readable:
            answer = read_until_closed(sock)
            break
        sock.sendall(b" ")
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["code"] == "request_timeout"
    assert "slower than 1000 bytes/s" in body["detail"]


def test_unfinished_header_blocks_are_closed(strict: Server) -> None:
    socks = [connect(strict) for _ in range(3)]
    for sock in socks:
        sock.sendall(b"POST /send-media HTTP/1.1\r\nHost: g\r\n")  # and never the blank line
    for sock in socks:
        # recv returns b"" once the server has closed: within the 1 s header deadline
        # (the 10 s socket timeout would raise instead).
        assert read_until_closed(sock) == b""
        sock.close()


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Server]:
    """A gateway that serves at most 4 sends at once, with time to hold them open."""
    server = start(
        "gateway-capped",
        ["gateway"],
        {"GATEWAY_MAX_CONCURRENCY": "4", "GATEWAY_CLIENT_BODY_TIMEOUT_S": "20"},
        tmp_path,
    )
    yield server
    stop(server)


def ask(server: Server, request: bytes) -> tuple[bytes, bytes]:
    sock = connect(server)
    sock.sendall(request)
    answer = read_until_closed(sock)
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return head, body


def test_the_cap_counts_sends_and_never_refuses_probes_or_metrics(capped: Server) -> None:
    idle = [connect(capped) for _ in range(8)]  # open, silent: they count for nothing
    head, _ = ask(capped, b"GET /healthz HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    # Four sends in flight, their bodies still arriving.
    sending = [connect(capped) for _ in range(4)]
    for sock in sending:
        sock.sendall(
            b"POST /send-media HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
    time.sleep(0.5)
    try:
        for path in (b"/healthz", b"/readyz", b"/metrics"):
            head, _ = ask(
                capped, b"GET " + path + b" HTTP/1.1\r\nHost: g\r\nConnection: close\r\n\r\n"
            )
            assert head.startswith(b"HTTP/1.1 200"), (path, head)
        body = json.dumps({"provider": "gupshup", "url": "https://e.com/a.pdf"}).encode()
        head, answer = ask(
            capped,
            b"POST /send-media HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
        )
        assert head.startswith(b"HTTP/1.1 503"), head
        assert b"content-type: application/problem+json" in head.lower()
        assert b"retry-after: 1" in head.lower()
        problem = json.loads(answer)
        assert (problem["code"], problem["retryable"]) == ("overloaded", True)
    finally:
        for sock in sending + idle:
            sock.close()
    # Once the sends are gone, sends are served again.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        head, _ = ask(
            capped,
            b"POST /send-media HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
        )
        if head.startswith(b"HTTP/1.1 200"):
            break
        time.sleep(0.1)
    assert head.startswith(b"HTTP/1.1 200"), head


def test_logs_say_why_connections_were_closed(strict: Server) -> None:
    lines = [json.loads(line) for line in Path(strict.log).read_text().splitlines() if line]
    messages = {line["message"] for line in lines}
    assert "connection closed: no complete request headers in time" in messages
