"""Posting one webhook, as Standard Webhooks says: signed afresh on every attempt (its own
`webhook-timestamp`, one `v1,` signature per secret of the client), never following a
redirect, 15 s at most, and posted again at once when the connection closed before any
answer; and what comes of the attempt: done (2xx), stopped (410), or to be retried after a
growing delay with jitter, or after `Retry-After` when the receiver asks for
longer, until GATEWAY_WEBHOOK_RETRY_S has passed since the event was made."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx
from standardwebhooks.webhooks import Webhook as Signer

from gateway.pipeline.clients import Clients
from gateway.state.outbox import WebhookEvent
from gateway.telemetry import WEBHOOK_DELIVERIES

log = logging.getLogger("gateway.webhooks")

# Seconds before each retry: a few seconds first, then minutes, then hours; the last one
# repeats until the retry window ends.
RETRY_SCHEDULE = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)
JITTER = 0.2  # each delay drawn within ±20%, so receivers that failed together retry apart
TIMEOUT_S = 15.0
MAX_RETRY_AFTER_S = 86_400.0


@dataclass(frozen=True)
class Attempt:
    """What came of one attempt: settle the event (`done`, whatever the reason) or retry
    it after `delay_s`; `result` is the metrics' word for it."""

    done: bool
    result: Literal["ok", "retry", "gone", "expired", "dropped"]
    delay_s: float = 0.0


def sign(secrets: Sequence[str], event_id: str, at: datetime, body: bytes) -> str:
    """The `webhook-signature` header: one signature per secret, space-separated."""
    return " ".join(Signer(secret).sign(event_id, at, body) for secret in secrets)


class WebhookSender:
    """Posts the clients' webhooks with one HTTP client (no cookies, no redirects)."""

    def __init__(
        self,
        clients: Clients,
        http: httpx.AsyncClient,
        *,
        retry_s: float,
        schedule: Sequence[float] = RETRY_SCHEDULE,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = lambda: random.uniform(1 - JITTER, 1 + JITTER),  # noqa: S311
    ) -> None:
        self._clients = clients
        self._http = http
        self._retry_s = retry_s
        self._schedule = tuple(schedule) or RETRY_SCHEDULE
        self._clock = clock
        self._jitter = jitter

    async def post(self, event: WebhookEvent) -> Attempt:
        client = self._clients.named(event.client)
        webhook = client.webhook if client is not None else None
        if webhook is None:
            # The client lost its webhook in a restart with a new clients file.
            return self._counted(Attempt(True, "dropped"), event, "the client has no webhook")
        body = event.body.encode()
        at = datetime.fromtimestamp(self._clock(), UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": event.id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": sign(webhook.secrets, event.id, at, body),
        }
        status, retry_after = await self._send(webhook.url, body, headers)
        if status == "RemoteProtocolError":
            # Closed before any answer: most often a kept-alive connection the receiver shut
            # as this post went out. Once more at once, on a new connection; the webhook-id
            # is the same, so a receiver that did take the first one drops the second.
            log.info(
                "webhook posted again: the connection closed before any answer",
                extra={"webhook_client": event.client, "webhook_id": event.id},
            )
            status, retry_after = await self._send(webhook.url, body, headers)
        if isinstance(status, int) and 200 <= status < 300:
            return self._counted(Attempt(True, "ok"), event, status)
        if status == 410:
            return self._counted(Attempt(True, "gone"), event, status)
        delay = self._schedule[min(event.attempts, len(self._schedule) - 1)] * self._jitter()
        if retry_after is not None:
            delay = max(delay, retry_after)
        if self._clock() + delay > event.created_ms / 1000 + self._retry_s:
            return self._counted(Attempt(True, "expired"), event, status)
        return self._counted(Attempt(False, "retry", delay), event, status)

    async def _send(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | str, float | None]:
        """The answer's status (or the error's name) and its Retry-After in seconds."""
        try:
            async with self._http.stream(
                "POST", url, content=body, headers=headers, timeout=TIMEOUT_S
            ) as answer:
                return answer.status_code, _retry_after(
                    answer.headers.get("retry-after"), self._clock()
                )
        except httpx.HTTPError as exc:
            return type(exc).__name__, None

    @staticmethod
    def _counted(attempt: Attempt, event: WebhookEvent, status: int | str) -> Attempt:
        WEBHOOK_DELIVERIES.labels(attempt.result).inc()
        level = logging.INFO if attempt.result in ("ok", "retry") else logging.WARNING
        log.log(
            level,
            "webhook %s",
            attempt.result,
            extra={
                "webhook_client": event.client,
                "webhook_id": event.id,
                "message_id": event.message_id,
                "attempt": event.attempts + 1,
                "answer": status,
                "retry_in_s": round(attempt.delay_s, 1) if not attempt.done else None,
            },
        )
        return attempt


def _retry_after(value: str | None, now: float) -> float | None:
    """Retry-After in seconds (a number of seconds or an HTTP date), at most a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, when.timestamp() - now), MAX_RETRY_AFTER_S)
