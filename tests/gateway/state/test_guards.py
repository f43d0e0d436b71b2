"""Circuit breakers and outbound rate limits, the same from the process and from Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from gateway.state.guards import BreakerPolicy, Guards, MemoryGuards, RedisGuards
from tests.conftest import redis_for_tests
from tests.support import FakeClock

pytestmark = pytest.mark.anyio

POLICY = BreakerPolicy(failures=3, open_s=0.2, trial_s=0.3)


@dataclass
class Twin:
    """The guards, and how time passes for them: the process twin's clock is moved; the
    Redis twin keeps the server's clock (its scripts read TIME), so that one is waited."""

    guards: Guards
    wait: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def twin(request: pytest.FixtureRequest) -> AsyncIterator[Twin]:
    if request.param == "memory":
        clock = FakeClock()
        yield Twin(MemoryGuards(clock), clock.advance)
        return
    async with redis_for_tests() as redis:
        yield Twin(RedisGuards(redis, prefix=f"test:{uuid.uuid4().hex}:"), asyncio.sleep)


async def test_a_run_of_failures_opens_the_breaker_then_one_trial_decides(twin: Twin) -> None:
    guards = twin.guards
    for _ in range(2):
        await guards.record("p", False, POLICY)
    assert await guards.allow("p", POLICY) == 0  # two failures: still closed
    await guards.record("p", True, POLICY)  # a success resets the run
    for _ in range(3):
        await guards.record("p", False, POLICY)
    assert await guards.state("p") == "open"
    assert 0 < await guards.allow("p", POLICY) <= 0.2
    await twin.wait(0.25)
    assert await guards.state("p") == "half_open"
    assert await guards.allow("p", POLICY) == 0  # the trial
    assert await guards.allow("p", POLICY) > 0  # others wait while it runs
    await guards.record("p", False, POLICY)  # the trial failed: open again at once
    assert await guards.state("p") == "open"
    await twin.wait(0.25)
    assert await guards.allow("p", POLICY) == 0
    await guards.record("p", True, POLICY)  # the trial worked: closed
    assert await guards.state("p") == "closed"
    assert await guards.allow("p", POLICY) == 0


async def test_breakers_are_per_partition(twin: Twin) -> None:
    guards = twin.guards
    for _ in range(3):
        await guards.record("gupshup:app-1", False, POLICY)
    assert await guards.state("gupshup:app-1") == "open"
    assert await guards.state("gupshup:app-2") == "closed"


async def test_the_rate_limit_counts_calls_and_says_when_to_come_back(twin: Twin) -> None:
    guards = twin.guards
    # 4 calls per second; each send costs 2 calls.
    assert await guards.take("k", (4, 1.0), 2) == 0
    assert await guards.take("k", (4, 1.0), 2) == 0
    wait = await guards.take("k", (4, 1.0), 2)
    assert 0.3 < wait <= 0.5
    await twin.wait(wait + 0.05)
    assert await guards.take("k", (4, 1.0), 2) == 0
    assert await guards.take("other", (4, 1.0), 2) == 0
