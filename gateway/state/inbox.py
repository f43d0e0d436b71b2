"""The inbox: provider callbacks stored as they arrive, before anything reads them.

A provider does not resend an event the gateway answered 200, so the route answers only once
the body is stored: with Redis, appended to a stream (`XADD`, durable as far as Redis is:
AOF); a worker of any replica reads it through a consumer group and acknowledges it once
applied, and an entry whose worker died unacknowledged is claimed by another after
`RECLAIM_IDLE_S` (`XAUTOCLAIM`). Applying an event twice changes nothing, so a redelivery is
harmless. Without Redis the inbox is a queue in the process (lost on restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from gateway.state.lua import unreachable

RECLAIM_IDLE_S = 30.0  # longer than a batch takes to apply


@dataclass(frozen=True)
class Callback:
    """One stored callback: its inbox id, its provider and its body as received."""

    id: str
    provider: str
    body: bytes


class MemoryInbox:
    """The inbox in this process."""

    def __init__(self) -> None:
        self._items: deque[Callback] = deque()
        self._ready = asyncio.Event()
        self._next = 0

    async def store(self, provider: str, body: bytes) -> None:
        self._next += 1
        self._items.append(Callback(str(self._next), provider, body))
        self._ready.set()

    async def read(self, consumer: str, most: int, wait_s: float) -> list[Callback]:
        if not self._items:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._ready.wait()
        return [self._items.popleft() for _ in range(min(most, len(self._items)))]

    async def reclaim(self, consumer: str, most: int) -> list[Callback]:
        return []  # nothing is read by another process

    async def ack(self, callbacks: list[Callback]) -> None:
        return None

    async def depth(self) -> tuple[int, float]:
        return len(self._items), 0.0


GROUP = "workers"


class RedisInbox:
    """The inbox as a Redis stream with one consumer group shared by every replica."""

    def __init__(
        self, redis: Redis, *, prefix: str = "mg:", reclaim_idle_s: float = RECLAIM_IDLE_S
    ) -> None:
        self._redis = redis
        self._idle_ms = int(reclaim_idle_s * 1000)
        self._stream = f"{prefix}events"
        self._group_ready = False

    async def store(self, provider: str, body: bytes) -> None:
        try:
            await self._redis.xadd(self._stream, {"p": provider, "b": body})
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None

    async def _group(self) -> None:
        if self._group_ready:
            return
        try:
            await self._redis.xgroup_create(self._stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def read(self, consumer: str, most: int, wait_s: float) -> list[Callback]:
        try:
            await self._group()
            answer: Any = await self._redis.xreadgroup(
                GROUP, consumer, {self._stream: ">"}, count=most, block=int(wait_s * 1000)
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted (FLUSHDB): make it again
                self._group_ready = False
                return []
            raise unreachable(exc) from None
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None
        return [_callback(entry) for _, entries in answer or [] for entry in entries]

    async def reclaim(self, consumer: str, most: int) -> list[Callback]:
        """Entries read by a worker that has not acknowledged them for `reclaim_idle_s`."""
        try:
            await self._group()
            answer: Any = await self._redis.xautoclaim(
                self._stream, GROUP, consumer, self._idle_ms, start_id="0-0", count=most
            )
        except ResponseError:
            self._group_ready = False
            return []
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None
        return [_callback(entry) for entry in answer[1] if entry[1]]

    async def ack(self, callbacks: list[Callback]) -> None:
        if not callbacks:
            return
        ids = [c.id for c in callbacks]
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(self._stream, GROUP, *ids)
                pipe.xdel(self._stream, *ids)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None

    async def depth(self) -> tuple[int, float]:
        """Callbacks not yet applied, and the age in seconds of the oldest."""
        try:
            length = await self._redis.xlen(self._stream)
            first: Any = await self._redis.xrange(self._stream, count=1)
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None
        if not first:
            return length, 0.0
        stamp = int(first[0][0].decode().split("-")[0])
        return length, max(0.0, time.time() - stamp / 1000)


def _callback(entry: Any) -> Callback:
    entry_id, fields = entry
    return Callback(entry_id.decode(), fields[b"p"].decode(), fields[b"b"])
