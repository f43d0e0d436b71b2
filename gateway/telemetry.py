"""Prometheus metrics (`GET /metrics`) and the per-request trace behind `Server-Timing`.

Each request gets a `Trace` (bound by the request middleware): the stages of a send add
their time to it (intake, fetch, and each upstream call by its stage: auth, upload, post,
send), and the answer's problem code is noted on it. The middleware turns it into the
request metrics and, on /send-media, a `Server-Timing` header.

With several workers (`python -m gateway --workers N`), PROMETHEUS_MULTIPROC_DIR is set
before they start and every worker writes its samples there; /metrics sums them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from gateway import tracing
from gateway.context import current_client
from providers.errors import Stage
from providers.http import Call

# Seconds: from a fast sandbox call to a slow 100 MB upload.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# `client`: a name from the clients file (or GATEWAY_API_KEYS' key-…, anonymous, none), never
# from the request, so the series stay bounded; not on histograms.
REQUESTS = Counter(
    "gateway_requests", "HTTP requests answered", ["route", "status", "code", "client"]
)
REQUEST_SECONDS = Histogram(
    "gateway_request_duration_seconds", "Time to answer a request", ["route"], buckets=BUCKETS
)
SENDS = Counter(
    "gateway_sends",
    "Sends by outcome: ok, replayed (a stored answer to a retry), or the answer's problem code",
    ["provider", "media_type", "outcome", "client"],
)
UPSTREAM_CALLS = Counter(
    "gateway_upstream_calls",
    "Calls to providers by stage and result (status class, timeout, unreachable, error)",
    ["provider", "stage", "result"],
)
UPSTREAM_SECONDS = Histogram(
    "gateway_upstream_call_duration_seconds",
    "Time of one call to a provider, answer read",
    ["provider", "stage"],
    buckets=BUCKETS,
)
UPLOADED_BYTES = Counter(
    "gateway_uploaded_bytes", "Bytes of media uploaded to providers", ["provider"]
)
TOKEN_REFRESHES = Counter(
    "gateway_token_refreshes",
    "Provider token fetches (the auth stage) by result",
    ["provider", "result"],
)
UNGUARDED = Counter(
    "gateway_unguarded_sends",
    "Sends let through unchecked because the shared state (Redis) was unreachable",
    ["guard"],  # quota (the client's), or limits (the provider's breaker and rate limit)
)
BREAKER_OPEN = Gauge(
    "gateway_breaker_open",
    "1 when the provider's circuit breaker is open or half open (at the last scrape)",
    ["provider"],
    multiprocess_mode="max",
)
EVENTS = Counter(
    "gateway_events",
    "Provider events taken from the inbox, by kind (sent, delivered, read, failed, enqueued, "
    "check, other) and by what came of them (applied, duplicate, early: its message not yet "
    "recorded, unknown: its message never was, ignored: a kind that is no status)",
    ["provider", "kind", "result"],
)
EVENTS_RECEIVED = Counter(
    "gateway_events_received",
    "Provider event callbacks answered by the events route, by result (stored, unauthorized, "
    "invalid, too_large, not_configured, store_unavailable)",
    ["provider", "result"],
)
MESSAGE_TRANSITIONS = Counter(
    "gateway_message_transitions",
    "Changes of a message's status (accepted counts the messages created)",
    ["provider", "status"],
)
WEBHOOK_DELIVERIES = Counter(
    "gateway_webhook_deliveries",
    "Webhook attempts by result: ok, retry (a failed attempt to be retried), gone (410: "
    "stopped), expired (GATEWAY_WEBHOOK_RETRY_S passed), dropped (the client has no webhook "
    "any more), refused (the client's backlog is full)",
    ["result"],
)
READY = Gauge(
    "gateway_ready",
    "1 when the gateway is ready (/readyz answers 200), 0 when not: at the last probe or scrape",
    multiprocess_mode="livemin",  # any live worker not ready: not ready
)
_REDIS_UP: list[Gauge] = []  # made at the first check: exported only when Redis is configured


def redis_up(up: bool) -> None:
    """Record whether Redis (GATEWAY_REDIS_URL) answered; the gauge `gateway_redis_up`
    exists only in a gateway that has a Redis to check."""
    if not _REDIS_UP:
        _REDIS_UP.append(
            Gauge(
                "gateway_redis_up",
                "1 when Redis (GATEWAY_REDIS_URL) answered a PING at the last probe or scrape, "
                "0 when it did not; absent without Redis",
                multiprocess_mode="livemin",
            )
        )
    _REDIS_UP[0].set(1 if up else 0)


QUEUE_DEPTH = Gauge(
    "gateway_queue_depth",
    "Items waiting (at the last scrape): events (callbacks not yet applied), webhooks",
    ["queue"],
    multiprocess_mode="max",
)
QUEUE_OLDEST_SECONDS = Gauge(
    "gateway_queue_oldest_seconds",
    "Age of the oldest item waiting (at the last scrape), by queue",
    ["queue"],
    multiprocess_mode="max",
)


@dataclass
class Trace:
    """What one request did, for its metrics and its Server-Timing header."""

    stages: dict[str, float] = field(default_factory=dict)  # seconds, in first-seen order
    code: str | None = None  # the problem code of the answer, if it was a problem
    provider: str | None = None
    media_type: str | None = None
    replayed: bool = False  # answered from the idempotency store: nothing was sent

    def add(self, stage: str, seconds: float) -> None:
        self.stages[stage] = self.stages.get(stage, 0.0) + seconds

    def server_timing(self) -> str:
        return ", ".join(f"{name};dur={s * 1000:.1f}" for name, s in self.stages.items())


_trace: ContextVar[Trace | None] = ContextVar("trace", default=None)


def current_trace() -> Trace | None:
    return _trace.get()


def bind_trace() -> tuple[Trace, Token[Trace | None]]:
    """A new trace for the current request; the token is for `reset_trace`."""
    trace = Trace()
    return trace, _trace.set(trace)


def reset_trace(token: Token[Trace | None]) -> None:
    _trace.reset(token)


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Add the block's time to the current request's `stage` (and a span of it, when traces
    are on)."""
    started = time.perf_counter()
    try:
        with tracing.span(stage):
            yield
    finally:
        if (trace := _trace.get()) is not None:
            trace.add(stage, time.perf_counter() - started)


def note_problem(code: str) -> None:
    if (trace := _trace.get()) is not None:
        trace.code = code


def observe_call(call: Call) -> None:
    """The upstream calls' observer (`ProviderContext.observe`)."""
    stage = call.stage.value
    UPSTREAM_CALLS.labels(call.provider, stage, call.result).inc()
    UPSTREAM_SECONDS.labels(call.provider, stage).observe(call.seconds)
    if call.upload_bytes:
        UPLOADED_BYTES.labels(call.provider).inc(call.upload_bytes)
    if call.stage is Stage.AUTH:
        TOKEN_REFRESHES.labels(call.provider, call.result).inc()
    if (trace := _trace.get()) is not None:
        trace.add(stage, call.seconds)


def observe_request(route: str, status: int, trace: Trace, seconds: float) -> None:
    code = trace.code or ("ok" if status < 400 else "unknown")
    client = current_client() or "none"
    REQUESTS.labels(route, str(status), code, client).inc()
    REQUEST_SECONDS.labels(route).observe(seconds)
    if trace.provider is not None:
        outcome = "replayed" if trace.replayed else "ok" if status < 400 else code
        SENDS.labels(trace.provider, trace.media_type or "unknown", outcome, client).inc()


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, summed over workers when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
