"""The worker stops when asked, even when a Redis call turns the cancellation into its own
error (asyncio.timeout on Python 3.11 can), applies what the inbox hands it, one message's
events in order and different messages' at once, and posts webhooks as fast as slots free
up, not at the next poll."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.delivery import worker as worker_module
from gateway.delivery.webhooks import Attempt, WebhookSender
from gateway.delivery.worker import Worker, by_message, stop
from gateway.errors import StoreUnavailableError
from gateway.pipeline.clients import Clients
from gateway.state.inbox import Callback, MemoryInbox
from gateway.state.messages import MemoryMessageStore
from gateway.state.outbox import MemoryOutbox, Settle, Taken, WebhookEvent
from providers.events import EventKind, StatusEvent
from tests.support import FakeClock

pytestmark = pytest.mark.anyio


class SwallowingInbox(MemoryInbox):
    """An inbox whose read, cancelled, raises the store's error instead (as a Redis call
    whose timeout fired with the cancellation)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, consumer: str, most: int, wait_s: float) -> list[Callback]:
        self.reads += 1
        try:
            await asyncio.sleep(wait_s)
        except asyncio.CancelledError:
            raise StoreUnavailableError("timed out") from None
        return []


def worker(inbox: MemoryInbox) -> Worker:
    outbox = MemoryOutbox(max_backlog=10)
    store = MemoryMessageStore(outbox, ttl_s=60, clock=FakeClock())
    sender = WebhookSender(Clients({}), httpx.AsyncClient(), retry_s=60)
    return Worker(inbox, store, outbox, sender, {})


async def test_a_cancellation_turned_into_a_store_error_still_stops_the_worker() -> None:
    inbox = SwallowingInbox()
    task = asyncio.get_running_loop().create_task(worker(inbox).run())
    while inbox.reads == 0:  # noqa: ASYNC110 - the fake's counter, no event to wait on
        await asyncio.sleep(0.01)
    async with asyncio.timeout(5):  # it used to read again, and again, forever
        await stop(task)
    assert task.cancelled()
    assert inbox.reads == 1


def test_events_are_grouped_by_message_in_their_order() -> None:
    def ev(kind: EventKind, message_id: str | None, alias: str | None) -> tuple[str, StatusEvent]:
        return ("gupshup", StatusEvent(kind, message_id, alias))

    a1 = ev(EventKind.SENT, "gs-a", None)
    b1 = ev(EventKind.SENT, "gs-b", "wamid.b")
    a2 = ev(EventKind.DELIVERED, None, "wamid.a")  # a's other id: not known yet
    b2 = ev(EventKind.DELIVERED, None, "wamid.b")  # b's, by its alias
    joined = ev(EventKind.READ, "gs-a", "wamid.a")  # a's two ids together: one message
    c1 = ev(EventKind.READ, "gs-c", None)
    groups = by_message([a1, b1, a2, b2, joined, c1])
    assert sorted(groups, key=len) == [[c1], [b1, b2], [a1, a2, joined]]


class GatedSender:
    """Posts that end when told, counting how many run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.posted = 0
        self.go = asyncio.Event()

    async def post(self, event: object) -> Attempt:
        self.running += 1
        self.most = max(self.most, self.running)
        await self.go.wait()
        self.running -= 1
        self.posted += 1
        return Attempt(True, "ok")


class ListOutbox:
    def __init__(self, count: int) -> None:
        self.due = [
            Taken(WebhookEvent(f"evt_{n}", "app", f"m-{n}", "{}", 0), lease=str(n))
            for n in range(count)
        ]
        self.settled: list[str] = []

    async def take(self, most: int, lease_s: float) -> list[Taken]:
        taken, self.due = self.due[:most], self.due[most:]
        return taken

    async def settle(self, taken: Taken, how: Settle, delay_s: float = 0.0) -> None:
        self.settled.append(taken.lease)

    async def depth(self) -> tuple[int, float]:
        return len(self.due), 0.0


async def test_webhooks_go_out_as_slots_free_up_not_at_the_next_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every slot busy: the next webhook is taken when a post ends (the loop used to sleep
    a poll's length, which capped a worker at its concurrency per poll)."""
    monkeypatch.setattr(worker_module, "POLL_S", 3600.0)
    outbox, sender = ListOutbox(10), GatedSender()
    inbox = MemoryInbox()
    store = MemoryMessageStore(MemoryOutbox(max_backlog=10), ttl_s=60, clock=FakeClock())
    one = Worker(inbox, store, outbox, sender, {}, concurrency=2)  # type: ignore[arg-type]
    task = asyncio.get_running_loop().create_task(one.run())
    try:
        while sender.running < 2:  # noqa: ASYNC110 - the fake's counter
            await asyncio.sleep(0.01)
        sender.go.set()
        async with asyncio.timeout(5):
            while len(outbox.settled) < 10:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        assert sender.most == 2
    finally:
        await stop(task)
