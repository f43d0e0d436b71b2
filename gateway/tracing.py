"""OpenTelemetry traces: on when an OTLP endpoint is configured with the standard variables
(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf by default, or grpc),
off otherwise, and then nothing is instrumented at all.

What a trace holds: the server span of each request (OpenTelemetry's FastAPI
instrumentation, which takes a caller's W3C `traceparent`), a span per stage of a send
(`intake`, `fetch`, and each upstream call's stage: `auth`, `upload`, `post`, `send`, with
`media_gateway.provider`, `media_gateway.stage` and `media_gateway.outcome`), under each of
those the client span of the HTTP call (the httpx instrumentation, which passes `traceparent`
on), and in the worker a span per event applied and per webhook posted, the webhook's in the
trace of the send that made its message. Log lines carry `trace_id` and `span_id`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

if TYPE_CHECKING:
    import httpx
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

log = logging.getLogger("gateway.tracing")

tracer = trace.get_tracer("gateway")
# The routes whose every hit is not worth a trace: probes and scrapes.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"


class _State:
    on = False  # whether spans are recorded (a TracerProvider of the SDK is installed)


STATE = _State()


def configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces (an OTLP endpoint, the SDK not disabled)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def start_from_env() -> bool:
    """Install the SDK's provider with an OTLP exporter when `configured()`, once per process;
    whether traces are on."""
    if STATE.on or not configured():
        return STATE.on
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    exporter: Any
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        exporter = HttpSpanExporter()
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over this default.
    resource = Resource.create({"service.name": "media-gateway"}).merge(Resource.create())
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    install(provider)
    log.info("traces on", extra={"protocol": protocol})
    return True


def install(provider: TracerProvider) -> None:
    """Make `provider` the process's (the tests' in-memory one, or `start_from_env`'s)."""
    trace.set_tracer_provider(provider)
    STATE.on = True


def flush() -> None:
    """Export what is buffered (at shutdown)."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if STATE.on and force_flush is not None:
        force_flush()


def instrument_app(app: FastAPI) -> None:
    """Server spans for every request but the probes and /metrics; a caller's
    `traceparent` is taken."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"]
    )


def instrument_client(client: httpx.AsyncClient) -> None:
    """A client span per call, `traceparent` passed on, and the gateway's attributes: the
    provider and stage of the call (`providers.http.Upstream` puts them in the request's
    extensions) and the status class."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(
        client, request_hook=_on_request, response_hook=_on_response
    )


async def _on_request(span: trace.Span, request: Any) -> None:
    call = (request.extensions or {}).get("media_gateway.call")
    if call is not None and span.is_recording():
        span.set_attribute("media_gateway.provider", call[0])
        span.set_attribute("media_gateway.stage", call[1])


async def _on_response(span: trace.Span, request: Any, response: Any) -> None:
    if span.is_recording():
        span.set_attribute("media_gateway.outcome", f"{response.status_code // 100}xx")


@contextlib.contextmanager
def span(name: str, **attributes: str | int | bool) -> Iterator[trace.Span | None]:
    """A span of the gateway's own, when traces are on (nothing at all otherwise)."""
    if not STATE.on:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=attributes) as current:
        yield current


def record(name: str, seconds: float) -> None:
    """A span for a stage that just ended after `seconds`, timed already (it ran before its
    span could start)."""
    if STATE.on:
        end_ns = time.time_ns()
        tracer.start_span(name, start_time=end_ns - int(seconds * 1e9)).end(end_time=end_ns)


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`), to be resumed later."""
    if not STATE.on:
        return {}
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


@contextlib.contextmanager
def resumed(headers: Mapping[str, str]) -> Iterator[None]:
    """Work done later in the trace of `headers` (a `carrier()`); nothing when off."""
    if not STATE.on or not headers:
        yield
        return
    token = otel_context.attach(propagate.extract(dict(headers)))
    try:
        yield
    finally:
        otel_context.detach(token)


def ids() -> dict[str, str]:
    """The current trace and span ids, for a log line (none outside a recorded span)."""
    if not STATE.on:
        return {}
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
    }
