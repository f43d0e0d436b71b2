"""Messages and their webhook outbox: the same rules from the process and from Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from gateway.state.messages import (
    MemoryMessageStore,
    Message,
    MessageStore,
    RedisMessageStore,
)
from gateway.state.outbox import MemoryOutbox, RedisOutbox, Taken
from gateway.telemetry import WEBHOOK_DELIVERIES
from providers.events import EventError, EventKind, StatusEvent
from tests.conftest import redis_for_tests
from tests.support import FakeClock

pytestmark = pytest.mark.anyio

SENT, DELIVERED, READ, FAILED = (
    EventKind.SENT, EventKind.DELIVERED, EventKind.READ, EventKind.FAILED,
)  # fmt: skip


def message(webhook: bool = True, client: str = "billing") -> Message:
    return Message(
        message_id=str(uuid.uuid4()),
        provider="gupshup",
        to="919876543210",
        media_id="1",
        media_type="image",
        created_at=1000.0,
        client=client,
        scope="scope-of-the-key",
        webhook=webhook,
    )


def event(mid: str | None, kind: EventKind, at: float, **more: object) -> StatusEvent:
    return StatusEvent(kind, message_id=mid, at=at, **more)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("events", "status", "history"),
    [
        ([SENT, DELIVERED, READ], "read", ["accepted", "sent", "delivered", "read"]),
        ([READ, DELIVERED, SENT], "read", ["accepted", "read"]),  # delivered skipped
        ([SENT, SENT, DELIVERED, DELIVERED], "delivered", ["accepted", "sent", "delivered"]),
        ([SENT, FAILED], "failed", ["accepted", "sent", "failed"]),
        ([DELIVERED, FAILED], "failed", ["accepted", "delivered", "failed"]),
        ([FAILED, SENT], "failed", ["accepted", "failed"]),  # only delivered/read win over it
        ([SENT, FAILED, DELIVERED], "delivered", ["accepted", "sent", "failed", "delivered"]),
        ([FAILED, READ, DELIVERED], "read", ["accepted", "failed", "read"]),
        ([FAILED, FAILED], "failed", ["accepted", "failed"]),
        ([EventKind.ENQUEUED, EventKind.OTHER, EventKind.CHECK], "accepted", ["accepted"]),
    ],
)
def test_the_status_only_moves_forward_and_failed_is_beaten_by_delivered_or_read(
    events: list[EventKind], status: str, history: list[str]
) -> None:
    record = message()
    for at, kind in enumerate(events, start=1001):
        record.apply(event(record.message_id, kind, at), now=5000)
    assert record.status == status
    assert [h["status"] for h in record.history] == history


def test_an_error_is_kept_after_a_later_delivered_and_times_come_from_the_provider() -> None:
    record = message()
    error = EventError("outside_service_window", "131047", "Re-engagement", "24 hours")
    record.apply(event(record.message_id, FAILED, 1764583204, error=error), now=5000)
    record.apply(event(record.message_id, DELIVERED, 1764583205), now=5000)
    record.apply(event(record.message_id, SENT, 0), now=5000)  # ignored: sent after failed
    public = record.public()
    assert public["error"] == {"code": "outside_service_window", "provider_code": "131047",
                               "title": "Re-engagement", "detail": "24 hours"}  # fmt: skip
    assert public["updated_at"] == "2025-12-01T10:00:05Z"
    assert public["history"][1] == {"status": "failed", "at": "2025-12-01T10:00:04Z"}


@dataclass
class Twin:
    store: MessageStore
    take: Callable[[], Awaitable[list[Taken]]]
    settle: Callable[..., Awaitable[None]]
    depth: Callable[[], Awaitable[tuple[int, float]]]
    clock: FakeClock | None


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def twin(request: pytest.FixtureRequest) -> AsyncIterator[Twin]:
    if request.param == "memory":
        clock = FakeClock()
        memory = MemoryOutbox(max_backlog=3, clock=clock)
        store = MemoryMessageStore(memory, ttl_s=60, clock=clock)
        yield Twin(store, lambda: memory.take(10, 30), memory.settle, memory.depth, clock)
        return
    async with redis_for_tests() as redis:
        prefix = f"test:{uuid.uuid4().hex}:"
        outbox = RedisOutbox(redis, max_backlog=3, prefix=prefix)
        redis_store = RedisMessageStore(redis, outbox, ttl_s=60, prefix=prefix)
        try:
            yield Twin(redis_store, lambda: outbox.take(10, 30), outbox.settle, outbox.depth, None)
        finally:
            keys = [k async for k in redis.scan_iter(f"{prefix}*")]
            if keys:
                await redis.delete(*keys)


async def test_changes_are_kept_and_each_queues_one_webhook_in_order(twin: Twin) -> None:
    record = message()
    assert await twin.store.create(record) == []
    for kind, at in ((SENT, 1001), (SENT, 1001), (DELIVERED, 1002), (READ, 1003)):
        await twin.store.apply(event(record.message_id, kind, at))
    kept = await twin.store.get(record.message_id)
    assert kept is not None
    assert kept.status == "read"
    assert (await twin.depth())[0] == 3
    types = []
    for _ in range(4):
        taken = await twin.take()
        assert len(taken) <= 1  # one message: one event at a time, in order
        if not taken:
            break
        types.append(json.loads(taken[0].event.body)["type"])
        await twin.settle(taken[0], "done")
    assert types == ["message.sent", "message.delivered", "message.read"]
    assert (await twin.depth())[0] == 0


async def test_a_retried_webhook_keeps_its_place_and_a_lost_lease_settles_nothing(
    twin: Twin,
) -> None:
    record = message()
    await twin.store.create(record)
    await twin.store.apply(event(record.message_id, SENT, 1001))
    await twin.store.apply(event(record.message_id, DELIVERED, 1002))
    (first,) = await twin.take()
    assert await twin.take() == []  # leased: nobody else takes the message
    await twin.settle(first, "retry", 0.05)
    if twin.clock is not None:
        await twin.clock.advance(0.1)
    else:
        await asyncio.sleep(0.1)
    (again,) = await twin.take()
    assert again.event.id == first.event.id
    assert again.event.attempts == 1
    await twin.settle(first, "done")  # the old lease: ignored
    await twin.settle(again, "done")
    (second,) = await twin.take()
    assert json.loads(second.event.body)["type"] == "message.delivered"


async def test_a_message_without_a_webhook_queues_nothing(twin: Twin) -> None:
    record = message(webhook=False)
    await twin.store.create(record)
    outcome, kept = await twin.store.apply(event(record.message_id, SENT, 1001))
    assert outcome == "applied"
    assert kept is not None
    assert await twin.take() == []


async def test_an_event_before_its_message_is_applied_when_the_message_appears(
    twin: Twin,
) -> None:
    record = message()
    assert (await twin.store.apply(event(record.message_id, SENT, 1001)))[0] == "early"
    assert await twin.store.get(record.message_id) is None
    assert await twin.store.create(record) == ["sent"]
    kept = await twin.store.get(record.message_id)
    assert kept is not None
    assert kept.status == "sent"
    (taken,) = await twin.take()
    assert json.loads(taken.event.body)["type"] == "message.sent"


async def test_a_late_event_is_joined_by_the_whatsapp_id_alone(twin: Twin) -> None:
    record = message()
    await twin.store.create(record)
    await twin.store.apply(StatusEvent(SENT, record.message_id, "wamid.7", 1001))
    outcome, kept = await twin.store.apply(StatusEvent(DELIVERED, None, "wamid.7", 1002))
    assert outcome == "applied"
    assert kept is not None
    assert kept.message_id == record.message_id


async def test_a_full_backlog_refuses_and_counts(twin: Twin) -> None:
    refused = WEBHOOK_DELIVERIES.labels("refused")
    before = refused._value.get()
    records = [message(client="flooded") for _ in range(4)]
    for record in records:
        await twin.store.create(record)
        await twin.store.apply(event(record.message_id, SENT, 1001))
    assert (await twin.depth())[0] == 3  # the bound
    assert refused._value.get() == before + 1
    last = await twin.store.get(records[-1].message_id)
    assert last is not None
    assert last.status == "sent"  # the message still moved; only its webhook was refused


async def test_a_send_that_answered_the_whatsapp_id_is_joined_by_either_id(twin: Twin) -> None:
    # providers.md: whether the v3 answer's id is Gupshup's or WhatsApp's is unverified.
    record = message()
    record.message_id = f"wamid.{uuid.uuid4().hex}"
    await twin.store.create(record)
    both = StatusEvent(SENT, "gs-of-" + record.message_id, record.message_id, 1001)
    assert (await twin.store.apply(both))[0] == "applied"
    gupshups_only = StatusEvent(DELIVERED, "gs-of-" + record.message_id, None, 1002)
    outcome, kept = await twin.store.apply(gupshups_only)
    assert outcome == "applied"
    assert kept is not None
    assert (kept.message_id, kept.status) == (record.message_id, "delivered")


async def test_events_for_an_unknown_message_are_kept_bounded(twin: Twin) -> None:
    record = message()
    for n in range(200):  # the same callback posted over and over before the message exists
        await twin.store.apply(event(record.message_id, SENT, 1000 + n))
    assert await twin.store.create(record) == ["sent"]
    kept = await twin.store.get(record.message_id)
    assert kept is not None
    # The newest kept events only: the first applied one is among the last 16 posted.
    assert kept.history[-1]["at"] == 1000 + 200 - 16


async def test_a_flood_of_unknown_ids_is_pruned_in_the_process_to_a_bound() -> None:
    outbox = MemoryOutbox(max_backlog=10)
    store = MemoryMessageStore(outbox, ttl_s=60, clock=FakeClock())
    ids = [str(uuid.uuid4()) for _ in range(25_000)]
    for one in ids:  # all within the 60 s an early event waits
        await store.apply(event(one, SENT, 1001))
    newest, oldest = message(), message()
    newest.message_id, oldest.message_id = ids[-1], ids[0]
    assert await store.create(newest) == ["sent"]  # kept
    assert await store.create(oldest) == []  # pruned: the bound held
