"""What adapters may remember between sends (a media id for some bytes)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Memo(Protocol):
    """A small key-value store with expiry, shared by the replicas when Redis is there.
    For what is worth remembering but not secret (a media id for some bytes). It never
    raises: a store it cannot reach reads as a miss and forgets what it is given."""

    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, value: str, ttl_s: float) -> None: ...

    async def forget(self, key: str) -> None: ...


class MemoryMemo:
    """A `Memo` in the process, bounded, oldest entries dropped first."""

    def __init__(self, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[str, float]] = {}
        self._size = size
        self._clock = clock

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self._clock():
            self._entries.pop(key, None)
            return None
        return entry[0]

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        self._entries.pop(key, None)
        while len(self._entries) >= self._size:
            del self._entries[next(iter(self._entries))]
        self._entries[key] = (value, self._clock() + ttl_s)

    async def forget(self, key: str) -> None:
        self._entries.pop(key, None)
