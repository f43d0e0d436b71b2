"""Providers that misbehave below HTTP: a connection accepted and never answered."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import API_KEY, start, stop

pytestmark = pytest.mark.e2e


@pytest.fixture
def black_hole() -> Iterator[str]:
    """Accepts every connection, reads nothing, answers nothing."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stopping.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stopping.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_provider_that_accepts_and_never_answers_times_out_within_the_deadline(
    black_hole: str, tmp_path: Path
) -> None:
    gateway = start(
        "gateway-black-hole",
        ["gateway"],
        {
            "GATEWAY_API_KEYS": API_KEY,
            "GATEWAY_UPSTREAM_TIMEOUT_S": "1",
            "KAIZALA_ENDPOINT_URL": black_hole,
            "KAIZALA_ACCESS_TOKEN": "static-token-1234",
        },
        tmp_path,
    )
    try:
        started = time.monotonic()
        response = httpx.post(
            f"{gateway.url}/send-media",
            headers={"X-API-Key": API_KEY},
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
            timeout=30,
        )
        assert time.monotonic() - started < 10  # the call's own timeout (1 s + size), no hang
        body = response.json()
        assert (response.status_code, body["code"], body["stage"]) == (
            504,
            "provider_timeout",
            "upload",
        )
        # An upload delivers nothing: safe to retry, and no unknown outcome.
        assert body["retryable"] is True
        assert "outcome" not in body
    finally:
        stop(gateway)
