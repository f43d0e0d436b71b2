"""Idempotency records, the same behaviour from the in-process store and from Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.errors import StoreUnavailableError
from gateway.state.idempotency import (
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    StoredAnswer,
)
from tests.conftest import redis_for_tests

pytestmark = pytest.mark.anyio

ANSWER = StoredAnswer(200, "application/json", '{"media_id": "m-1"}', {"retry-after": "3"})


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[IdempotencyStore]:
    if request.param == "memory":
        yield MemoryIdempotencyStore()
        return
    async with redis_for_tests() as redis:
        # A prefix of its own per test, so runs never see each other's records.
        yield RedisIdempotencyStore(redis, prefix=f"test:{uuid.uuid4().hex}:")


async def test_first_use_claims_and_a_repeat_waits_or_replays(store: IdempotencyStore) -> None:
    first = await store.begin("k", "fp", lease_s=30, ttl_s=60)
    assert first.kind == "claimed"
    assert first.token
    running = await store.begin("k", "fp", lease_s=30, ttl_s=60)
    assert running.kind == "in_flight"
    assert 25 < running.retry_after_s <= 30
    await store.finish("k", first.token, ANSWER, ttl_s=60)
    again = await store.begin("k", "fp", lease_s=30, ttl_s=60)
    assert (again.kind, again.answer) == ("replay", ANSWER)


async def test_another_fingerprint_is_a_mismatch(store: IdempotencyStore) -> None:
    await store.begin("k", "fp", lease_s=30, ttl_s=60)
    assert (await store.begin("k", "other", lease_s=30, ttl_s=60)).kind == "mismatch"


async def test_release_frees_the_key_and_keeps_what_may_be_reused(store: IdempotencyStore) -> None:
    first = await store.begin("k", "fp", lease_s=30, ttl_s=60)
    await store.release("k", first.token, {}, ttl_s=60)
    second = await store.begin("k", "fp", lease_s=30, ttl_s=60)
    assert (second.kind, second.resume) == ("claimed", {})
    await store.release("k", second.token, {"media_id": "kz-media-1"}, ttl_s=60)
    third = await store.begin("k", "fp", lease_s=30, ttl_s=60)
    assert (third.kind, third.resume) == ("claimed", {"media_id": "kz-media-1"})


async def test_a_lease_ends_so_a_dead_replica_does_not_lock_the_key(
    store: IdempotencyStore,
) -> None:
    dead = await store.begin("k", "fp", lease_s=0.05, ttl_s=60)
    await asyncio.sleep(0.1)
    taken = await store.begin("k", "fp", lease_s=30, ttl_s=60)
    assert taken.kind == "claimed"
    assert taken.token != dead.token
    # The dead replica's late answer does not overwrite the new owner's record.
    await store.finish("k", dead.token, ANSWER, ttl_s=60)
    assert (await store.begin("k", "fp", lease_s=30, ttl_s=60)).kind == "in_flight"


async def test_records_expire_after_the_ttl(store: IdempotencyStore) -> None:
    first = await store.begin("k", "fp", lease_s=30, ttl_s=0.2)
    await store.finish("k", first.token, ANSWER, ttl_s=0.2)
    assert (await store.begin("k", "fp", lease_s=30, ttl_s=0.2)).kind == "replay"
    await asyncio.sleep(0.3)
    assert (await store.begin("k", "other", lease_s=30, ttl_s=0.2)).kind == "claimed"


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        await RedisIdempotencyStore(redis).begin("k", "fp", lease_s=1, ttl_s=1)
    await redis.aclose()
