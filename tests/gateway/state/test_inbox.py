"""The inbox: callbacks stored before the 200, read once by a group of workers, taken over
from a worker that died before acknowledging them."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.state.inbox import MemoryInbox, RedisInbox
from tests.conftest import redis_for_tests

pytestmark = pytest.mark.anyio


@pytest.mark.redis
async def test_a_dead_workers_callbacks_are_taken_over_and_each_read_once() -> None:
    async with redis_for_tests() as redis:
        prefix = f"test:{uuid.uuid4().hex}:"
        inbox = RedisInbox(redis, prefix=prefix, reclaim_idle_s=0.2)
        try:
            for n in range(3):
                await inbox.store("gupshup", f'{{"n": {n}}}'.encode())
            assert (await inbox.depth())[0] == 3
            dead = await inbox.read("dead-worker", 2, 0.1)
            alive = await inbox.read("live-worker", 10, 0.1)
            assert [c.body for c in dead] == [b'{"n": 0}', b'{"n": 1}']
            assert [c.body for c in alive] == [b'{"n": 2}']  # never the dead one's
            await inbox.ack(alive)
            assert await inbox.reclaim("live-worker", 10) == []  # not idle long enough yet
            await asyncio.sleep(0.3)
            taken = await inbox.reclaim("live-worker", 10)
            assert [(c.id, c.provider, c.body) for c in taken] == [
                (c.id, c.provider, c.body) for c in dead
            ]
            await inbox.ack(taken)
            assert (await inbox.depth())[0] == 0
            assert await inbox.read("live-worker", 10, 0.1) == []
        finally:
            keys = [k async for k in redis.scan_iter(f"{prefix}*")]
            if keys:
                await redis.delete(*keys)


async def test_the_process_inbox_hands_out_what_was_stored_in_order() -> None:
    inbox = MemoryInbox()
    reader = asyncio.ensure_future(inbox.read("w", 10, 5.0))
    await asyncio.sleep(0)
    await inbox.store("gupshup", b"1")
    await inbox.store("gupshup", b"2")
    assert [c.body for c in await reader] == [b"1", b"2"]  # woken by the first, takes both
    assert (await inbox.depth())[0] == 0
    await inbox.store("gupshup", b"3")
    assert (await inbox.depth())[0] == 1
    assert [c.body for c in await inbox.read("w", 10, 0.01)] == [b"3"]
