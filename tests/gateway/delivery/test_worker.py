"""The worker stops when asked, even when a Redis call turns the cancellation into its own
error (asyncio.timeout on Python 3.11 can), and applies what the inbox hands it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.delivery.webhooks import WebhookSender
from gateway.delivery.worker import Worker, stop
from gateway.errors import StoreUnavailableError
from gateway.pipeline.clients import Clients
from gateway.state.inbox import Callback, MemoryInbox
from gateway.state.messages import MemoryMessageStore
from gateway.state.outbox import MemoryOutbox
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
