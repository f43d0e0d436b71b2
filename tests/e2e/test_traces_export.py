"""Traces leave the process: a gateway and a standalone worker started with an OTLP/HTTP
endpoint export their spans to it (here a collector stand-in that keeps each export's
protobuf body), in the caller's trace."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from tests import samples
from tests.e2e.conftest import start, stop

pytestmark = pytest.mark.e2e

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class Collector(BaseHTTPRequestHandler):
    exports: ClassVar[list[bytes]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/traces":
            Collector.exports.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def collector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Collector.exports.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_gateway_with_an_endpoint_exports_the_trace_of_a_send(
    collector: str, tmp_path: Path
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector,
        "OTEL_SERVICE_NAME": "gateway-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export every 0.1 s, not every 5 s
    }
    gateway = start("gateway-traced", ["gateway"], env, tmp_path)
    try:
        answer = httpx.post(
            f"{gateway.url}/send-media",
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
            headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            exported = b"".join(Collector.exports)
            if b"POST /send-media" in exported and b"upload" in exported:
                break
            time.sleep(0.1)
    finally:
        stop(gateway)
    exported = b"".join(Collector.exports)
    # Protobuf keeps strings and ids as they are: the names, the service, the caller's trace.
    for expected in (b"POST /send-media", b"intake", b"upload", b"post", b"gateway-under-test"):
        assert expected in exported, expected
    assert bytes.fromhex(TRACE_ID) in exported
    assert "trace_id" in gateway.log_text()
    assert TRACE_ID in gateway.log_text()  # the request's log lines carry it
