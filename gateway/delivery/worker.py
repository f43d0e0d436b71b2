"""The worker: applies the stored provider events to their messages, and posts the clients'
webhooks. It runs inside each gateway process (GATEWAY_WORKER, default on) or alone
(`python -m gateway worker`); with Redis any number of them share the work: each callback is
read by one worker of the consumer group (another takes it over if that one dies before it
acknowledged it), and each message's webhooks are leased to one worker at a time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Protocol

from gateway import tracing
from gateway.delivery.webhooks import WebhookSender
from gateway.errors import StoreUnavailableError
from gateway.state.inbox import Callback
from gateway.state.messages import MessageStore
from gateway.state.outbox import Settle, Taken
from gateway.telemetry import EVENTS, MESSAGE_TRANSITIONS, QUEUE_DEPTH, QUEUE_OLDEST_SECONDS
from providers.base import ReceivesEvents
from providers.events import EventKind, StatusEvent

log = logging.getLogger("gateway.worker")

BATCH = 100
RECLAIM_EVERY_S = 10.0
LEASE_S = 60.0  # longer than one webhook attempt (15 s) and its settling
POLL_S = 0.2  # how often an idle worker looks for due webhooks
CONCURRENCY = 32  # webhooks posted at once by one worker
_STATUSES = frozenset({EventKind.SENT, EventKind.DELIVERED, EventKind.READ, EventKind.FAILED})


class Inbox(Protocol):
    async def read(self, consumer: str, most: int, wait_s: float) -> list[Callback]: ...
    async def reclaim(self, consumer: str, most: int) -> list[Callback]: ...
    async def ack(self, callbacks: list[Callback]) -> None: ...
    async def depth(self) -> tuple[int, float]: ...


class Outbox(Protocol):
    async def take(self, most: int, lease_s: float) -> list[Taken]: ...
    async def settle(self, taken: Taken, how: Settle, delay_s: float = 0.0) -> None: ...
    async def depth(self) -> tuple[int, float]: ...


class Worker:
    """Both loops of one worker; `run` until cancelled."""

    def __init__(
        self,
        inbox: Inbox,
        store: MessageStore,
        outbox: Outbox,
        sender: WebhookSender,
        receivers: Mapping[str, ReceivesEvents],
        *,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self._inbox = inbox
        self._store = store
        self._outbox = outbox
        self._sender = sender
        self._receivers = dict(receivers)
        self._concurrency = concurrency
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._posting: set[asyncio.Task[None]] = set()
        self._enqueued = asyncio.Event()  # an event applied here since the outbox was read
        self._complained = 0.0

    async def run(self) -> None:
        log.info("worker started", extra={"consumer": self.consumer})
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._events())
                group.create_task(self._webhooks())
        finally:
            for task in list(self._posting):
                task.cancel()

    async def queues(self) -> None:
        """Refresh the queue gauges (at a scrape of /metrics)."""
        for name, queue in (("events", self._inbox), ("webhooks", self._outbox)):
            try:
                depth, oldest = await queue.depth()
            except StoreUnavailableError:
                continue
            QUEUE_DEPTH.labels(name).set(depth)
            QUEUE_OLDEST_SECONDS.labels(name).set(oldest)

    async def _events(self) -> None:
        reclaimed = 0.0
        while True:
            _stop_if_cancelled()
            try:
                if time.monotonic() - reclaimed > RECLAIM_EVERY_S:
                    reclaimed = time.monotonic()
                    await self.apply(await self._inbox.reclaim(self.consumer, BATCH))
                await self.apply(await self._inbox.read(self.consumer, BATCH, 1.0))
            except StoreUnavailableError as exc:
                self._complain("events", exc)
                await asyncio.sleep(1.0)

    async def apply(self, batch: list[Callback]) -> None:
        """Apply a batch of callbacks, then acknowledge it (a store that fails midway
        leaves it unacknowledged: read again later, applying twice changes nothing). The
        events of one message are applied in their order; different messages' at once."""
        events: list[tuple[str, StatusEvent]] = []
        for callback in batch:
            try:
                events += [(callback.provider, e) for e in self._read(callback)]
            except Exception:
                # A body no provider's reader should fail on: logged, and not retried.
                log.exception("event callback not applied", extra={"provider": callback.provider})
                EVENTS.labels(callback.provider, "other", "error").inc()
        limit = asyncio.Semaphore(self._concurrency)

        async def in_order(group: list[tuple[str, StatusEvent]]) -> None:
            async with limit:
                for provider, event in group:
                    await self._apply(provider, event)

        async with asyncio.TaskGroup() as applying:
            for group in by_message(events):
                applying.create_task(in_order(group))
        await self._inbox.ack(batch)

    def _read(self, callback: Callback) -> list[StatusEvent]:
        """The callback's status events (the rest counted as ignored)."""
        receiver = self._receivers.get(callback.provider)
        if receiver is None:
            EVENTS.labels("unknown", "other", "ignored").inc()
            return []
        statuses = []
        for event in receiver.read_events(json.loads(callback.body)):
            if event.kind in _STATUSES:
                statuses.append(event)
            else:
                EVENTS.labels(callback.provider, event.kind.value, "ignored").inc()
        return statuses

    async def _apply(self, provider: str, event: StatusEvent) -> None:
        attributes = {"media_gateway.provider": provider, "media_gateway.event": event.kind.value}
        with tracing.span("event.apply", **attributes) as span:
            result, message = await self._store.apply(event)
            if span is not None:
                span.set_attribute("media_gateway.result", result)
        EVENTS.labels(provider, event.kind.value, result).inc()
        if result == "applied" and message is not None:
            MESSAGE_TRANSITIONS.labels(provider, message.status).inc()
            self._enqueued.set()  # its webhook, if any, was written with it

    async def _webhooks(self) -> None:
        while True:
            _stop_if_cancelled()
            free = self._concurrency - len(self._posting)
            if free <= 0:  # every slot posting: wait for one to end, not for the next poll
                await asyncio.wait(set(self._posting), return_when=asyncio.FIRST_COMPLETED)
                continue
            self._enqueued.clear()
            try:
                taken = await self._outbox.take(free, LEASE_S)
            except StoreUnavailableError as exc:
                self._complain("webhooks", exc)
                await asyncio.sleep(1.0)
                continue
            for one in taken:
                task = asyncio.get_running_loop().create_task(self._post(one))
                self._posting.add(task)
                task.add_done_callback(self._posting.discard)
            if len(taken) < free:
                # Nothing more due now: look again after POLL_S (retries falling due, other
                # replicas' events), or as soon as this worker applied an event.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(POLL_S):
                        await self._enqueued.wait()

    async def _post(self, taken: Taken) -> None:
        event = taken.event
        attributes = {"media_gateway.client": event.client, "media_gateway.webhook_id": event.id}
        # In the trace of the send that made the message: its receiver gets that traceparent.
        with tracing.resumed(event.trace), tracing.span("webhook.post", **attributes) as span:
            attempt = await self._sender.post(event)
            if span is not None:
                span.set_attribute("media_gateway.result", attempt.result)
        how: Settle = "done" if attempt.done else "retry"
        for _ in range(3):
            try:
                await self._outbox.settle(taken, how, attempt.delay_s)
                return
            except StoreUnavailableError:
                # Unsettled, the event is posted again once its lease ends: at least once.
                await asyncio.sleep(1.0)

    def _complain(self, loop: str, exc: StoreUnavailableError) -> None:
        """One line per 10 s while the shared state cannot be reached."""
        now = time.monotonic()
        if now - self._complained > 10:
            self._complained = now
            log.warning(
                "worker waits: shared state unreachable",
                extra={"loop": loop, "error": exc.detail},
            )


def by_message(events: list[tuple[str, StatusEvent]]) -> list[list[tuple[str, StatusEvent]]]:
    """The events in groups of one message each (events that share an id, either of its
    two, are of one message), each group in the events' order."""
    group_of: dict[str, int] = {}  # an id -> its group (the index of its first event)
    groups: dict[int, list[int]] = {}
    for i, (_, event) in enumerate(events):
        ids = [x for x in (event.message_id, event.alias) if x]
        found = sorted({group_of[x] for x in ids if x in group_of})
        home = found[0] if found else i
        members = groups.setdefault(home, [])
        for other in found[1:]:  # this event joins two groups: one message after all
            members += groups.pop(other)
            for x, g in group_of.items():
                if g == other:
                    group_of[x] = home
        members.append(i)
        for x in ids:
            group_of[x] = home
    return [[events[i] for i in sorted(members)] for members in groups.values()]


def _stop_if_cancelled() -> None:
    """Raise CancelledError when this task was asked to stop: a cancellation that arrived
    while a Redis call timed out can come back as that call's error (asyncio.timeout on
    Python 3.11 may turn one into the other), and a loop that goes on after it never ends."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel a running worker and wait for it (a cancellation of the caller itself goes on)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
