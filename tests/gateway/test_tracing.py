"""Traces: with a provider installed (the SDK's in-memory exporter here, OTLP in production),
a Kaizala send is one trace, in the caller's `traceparent`, with its server span, a span per
stage, and a client span per upstream call carrying the provider, the stage and the outcome;
log lines carry its ids. Without one, nothing is instrumented."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway import tracing
from gateway.wiring.logs import JsonFormatter
from tests import samples
from tests.gateway.conftest import AppClient

pytestmark = pytest.mark.anyio

EXPORTER = InMemorySpanExporter()
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Traces on for the test (the process's provider is installed once: OpenTelemetry
    keeps the first), off again after it."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        tracing.install(provider)
    tracing.STATE.on = True
    EXPORTER.clear()
    yield EXPORTER
    tracing.STATE.on = False
    EXPORTER.clear()


def of_caller(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [
        s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == TRACE_ID
    ]


async def test_a_kaizala_send_is_one_trace_with_all_its_spans(
    app_client: AppClient, spans: InMemorySpanExporter
) -> None:
    async with app_client() as client:
        answer = await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "g@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
            headers={"traceparent": CALLER},
        )
    assert answer.status_code == 200, answer.text
    mine = of_caller(spans)
    # The gateway's server span (the sandboxes, in the process, have theirs under the calls).
    server = [s for s in mine if s.kind is SpanKind.SERVER and s.name == "POST /send-media"]
    assert len(server) == 1
    assert server[0].parent is not None
    assert format(server[0].parent.span_id, "016x") == "00f067aa0ba902b7"  # the caller's
    stages = {s.name: s for s in mine if s.kind is SpanKind.INTERNAL}
    for name in ("intake", "auth", "upload", "post"):
        assert stages[name].parent is not None
        assert stages[name].parent.span_id == server[0].context.span_id
    assert {"intake", "auth", "upload", "post"} <= set(stages)
    for stage in ("auth", "upload", "post"):
        attributes = dict(stages[stage].attributes or {})
        assert attributes["media_gateway.provider"] == "kaizala"
        assert attributes["media_gateway.stage"] == stage
        assert attributes["media_gateway.outcome"] == "2xx"
    calls = [s for s in mine if s.kind is SpanKind.CLIENT]
    by_stage = {dict(s.attributes or {}).get("media_gateway.stage"): s for s in calls}
    assert {"auth", "upload", "post"} <= set(by_stage)
    post = by_stage["post"]
    assert dict(post.attributes or {})["media_gateway.outcome"] == "2xx"
    assert post.parent is not None
    assert post.parent.span_id == stages["post"].context.span_id  # under its stage's span


async def test_a_failed_stage_is_marked_with_its_outcome(
    app_client: AppClient, spans: InMemorySpanExporter
) -> None:
    async with app_client() as client:
        answer = await client.post(
            "/send-media",
            data={"provider": "kaizala", "group_id": "sandbox-500@1"},
            files={"file": ("a.png", samples.png(), "image/png")},
            headers={"traceparent": CALLER},
        )
    assert answer.status_code == 502
    post = [s for s in of_caller(spans) if s.name == "post"]
    assert post
    assert dict(post[-1].attributes or {})["media_gateway.outcome"] == "5xx"
    assert post[-1].status.status_code is trace.StatusCode.ERROR


def test_a_log_line_in_a_trace_carries_its_ids(spans: InMemorySpanExporter) -> None:
    record = logging.LogRecord("gateway", logging.INFO, __file__, 1, "sent", None, None)
    with tracing.span("post") as current:
        assert current is not None
        line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == format(current.get_span_context().trace_id, "032x")
    assert line["span_id"] == format(current.get_span_context().span_id, "016x")
    assert "trace_id" not in json.loads(JsonFormatter().format(record))  # outside any span


def test_without_an_endpoint_nothing_is_traced() -> None:
    """In a process of its own (this one has a provider installed by the tests above): no
    OTEL_* endpoint, no provider installed, no middleware added."""
    assert not tracing.configured({})
    assert tracing.configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not tracing.configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}
    )
    script = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from gateway import tracing\n"
        "from gateway.wiring.app import create_app\n"
        "app = create_app()\n"
        "names = [m.cls.__name__ for m in app.user_middleware]\n"
        "assert 'OpenTelemetryMiddleware' not in names, names\n"
        "assert not isinstance(trace.get_tracer_provider(), TracerProvider)\n"
        "assert not tracing.STATE.on\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    ran = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr


class Receiver(BaseHTTPRequestHandler):
    """A client's webhook endpoint: keeps each post's headers."""

    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Receiver.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(204)
        self.end_headers()


async def test_a_message_s_webhooks_are_posted_in_the_trace_of_its_send(
    app_client: AppClient, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    key = "tracing-client-key-0123456789"
    secret = "whsec_" + base64.b64encode(b"tracing-webhook-secret-012345678").decode()
    clients = tmp_path / "clients.toml"
    clients.write_text(
        "[clients.traced]\n"
        f'keys_sha256 = ["{hashlib.sha256(key.encode()).hexdigest()}"]\n'
        "[clients.traced.webhook]\n"
        f'url = "http://127.0.0.1:{server.server_address[1]}/hooks"\n'
        f'secret = "{secret}"\n'
    )
    Receiver.seen.clear()
    try:
        async with app_client(clients_file=str(clients)) as client:
            answer = await client.post(
                "/send-media",
                json={"provider": "gupshup", "url": "https://e.com/a.pdf", "to": "919876543210"},
                headers={"traceparent": CALLER, "X-API-Key": key},
            )
            assert answer.status_code == 200, answer.text
            for _ in range(100):  # sent, delivered, read: 0.3 s apart in the sandbox
                if len(Receiver.seen) >= 3:
                    break
                await asyncio.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    assert len(Receiver.seen) >= 3
    # Each webhook's traceparent is in the caller's trace.
    assert {h["traceparent"].split("-")[1] for h in Receiver.seen} == {TRACE_ID}
    names = [s.name for s in of_caller(spans)]
    assert names.count("webhook.post") >= 3
