"""Idempotency records, the same behaviour from the in-process store and from Redis."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from gateway.errors import StoreUnavailableError
from gateway.state.idempotency import (
    Fingerprint,
    IdempotencyStore,
    MemoryIdempotencyStore,
    StoredAnswer,
    new_token,
)
from gateway.state.idempotency_redis import RedisIdempotencyStore
from tests.conftest import redis_for_tests
from tests.support import FakeClock

pytestmark = pytest.mark.anyio

ANSWER = StoredAnswer(200, "application/json", '{"media_id": "m-1"}', {"retry-after": "3"})
FP = Fingerprint("fp", "fp-v1")
OTHER = Fingerprint("other", "other-v1")


@dataclass
class Twin:
    """A store, and how time passes for it: the process store's clock is moved; the Redis
    store keeps the server's clock (its scripts read TIME), so that one is waited."""

    store: IdempotencyStore
    wait: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def twin(request: pytest.FixtureRequest) -> AsyncIterator[Twin]:
    if request.param == "memory":
        clock = FakeClock()
        yield Twin(MemoryIdempotencyStore(clock), clock.advance)
        return
    async with redis_for_tests() as redis:
        # A prefix of its own per test, so runs never see each other's records.
        yield Twin(RedisIdempotencyStore(redis, prefix=f"test:{uuid.uuid4().hex}:"), asyncio.sleep)


@pytest.fixture
def store(twin: Twin) -> IdempotencyStore:
    return twin.store


async def test_first_use_claims_and_a_repeat_waits_or_replays(store: IdempotencyStore) -> None:
    token = new_token()
    first = await store.begin("k", FP, token, lease_s=30, ttl_s=60)
    assert (first.kind, first.token) == ("claimed", token)
    running = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert running.kind == "in_flight"
    assert 25 < running.retry_after_s <= 30
    await store.finish("k", first.token, ANSWER, ttl_s=60)
    again = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert (again.kind, again.answer) == ("replay", ANSWER)


async def test_a_claim_sent_again_after_a_lost_reply_is_still_its_own(
    store: IdempotencyStore,
) -> None:
    token = new_token()
    await store.begin("k", FP, token, lease_s=30, ttl_s=60)
    # The reply was lost and the client sent the same script again: not a 409 to itself.
    again = await store.begin("k", FP, token, lease_s=30, ttl_s=60)
    assert (again.kind, again.token) == ("claimed", token)
    assert await store.mark_delivering("k", token, "m-1")
    assert await store.mark_delivering("k", token, "m-1")  # likewise for every step


async def test_another_fingerprint_is_a_mismatch(store: IdempotencyStore) -> None:
    await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert (await store.begin("k", OTHER, new_token(), lease_s=30, ttl_s=60)).kind == "mismatch"


async def test_release_frees_the_key_and_keeps_what_may_be_reused(store: IdempotencyStore) -> None:
    first = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    await store.release("k", first.token, {}, ttl_s=60)
    second = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert (second.kind, second.resume) == ("claimed", {})
    await store.release("k", second.token, {"media_id": "kz-media-1"}, ttl_s=60)
    third = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert (third.kind, third.resume) == ("claimed", {"media_id": "kz-media-1"})


async def test_a_lease_over_before_delivering_may_be_claimed_again(
    twin: Twin,
) -> None:
    store = twin.store
    dead = await store.begin("k", FP, new_token(), lease_s=0.05, ttl_s=60)
    await twin.wait(0.1)
    taken = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert taken.kind == "claimed"
    assert taken.token != dead.token
    # The dead replica's late steps do not touch the new owner's record.
    await store.finish("k", dead.token, ANSWER, ttl_s=60)
    assert not await store.mark_delivering("k", dead.token, None)
    assert (await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)).kind == "in_flight"


async def test_a_lease_over_while_delivering_is_interrupted_for_good(
    twin: Twin,
) -> None:
    store = twin.store
    dead = await store.begin("k", FP, new_token(), lease_s=0.05, ttl_s=60)
    assert await store.mark_delivering("k", dead.token, "kz-media-7")
    await twin.wait(0.1)
    for _ in range(2):
        later = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
        assert (later.kind, later.resume) == ("interrupted", {"media_id": "kz-media-7"})
    # Its answer, written late (a Redis that came back), still wins over "interrupted".
    await store.finish("k", dead.token, ANSWER, ttl_s=60)
    assert (await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)).kind == "replay"


async def test_a_claim_without_a_fingerprint_is_bound_when_it_delivers(
    store: IdempotencyStore,
) -> None:
    """A file still arriving: claimed first, its fingerprint bound when the body ended."""
    first = await store.begin("k", None, new_token(), lease_s=30, ttl_s=60)
    assert first.kind == "claimed"
    # Meanwhile the same key waits, whatever its request.
    for other in (FP, OTHER, None):
        assert (await store.begin("k", other, new_token(), lease_s=30, ttl_s=60)).kind == (
            "in_flight"
        )
    assert not await store.mark_delivering("k", first.token, "m-1")  # never without one
    assert await store.mark_delivering("k", first.token, "m-1", FP)
    await store.finish("k", first.token, ANSWER, ttl_s=60)
    assert (await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)).kind == "replay"
    assert (await store.begin("k", OTHER, new_token(), lease_s=30, ttl_s=60)).kind == "mismatch"
    # Another file still arriving cannot be compared yet: read whole first.
    assert (await store.begin("k", None, new_token(), lease_s=30, ttl_s=60)).kind == "unbound"


async def test_a_claim_without_a_fingerprint_that_ends_without_one_leaves_nothing(
    store: IdempotencyStore,
) -> None:
    """Neither an answer nor a media id to resume is kept for a request never known whole:
    a retry with another file would be answered, or sent, as this one."""
    first = await store.begin("k", None, new_token(), lease_s=30, ttl_s=60)
    await store.finish("k", first.token, ANSWER, ttl_s=60)
    second = await store.begin("k", OTHER, new_token(), lease_s=30, ttl_s=60)
    assert (second.kind, second.resume) == ("claimed", {})
    await store.release("k", second.token, {}, ttl_s=60)
    third = await store.begin("k", None, new_token(), lease_s=30, ttl_s=60)
    await store.release("k", third.token, {"media_id": "m-9"}, ttl_s=60)
    fourth = await store.begin("k", OTHER, new_token(), lease_s=30, ttl_s=60)
    assert (fourth.kind, fourth.resume) == ("claimed", {})


async def test_a_release_or_finish_binds_the_fingerprint_it_is_given(
    store: IdempotencyStore,
) -> None:
    first = await store.begin("k", None, new_token(), lease_s=30, ttl_s=60)
    await store.release("k", first.token, {"media_id": "m-3"}, ttl_s=60, fingerprint=FP)
    assert (await store.begin("k", OTHER, new_token(), lease_s=30, ttl_s=60)).kind == "mismatch"
    again = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert (again.kind, again.resume) == ("claimed", {"media_id": "m-3"})
    other = await store.begin("j", None, new_token(), lease_s=30, ttl_s=60)
    await store.finish("j", other.token, ANSWER, ttl_s=60, fingerprint=OTHER)
    assert (await store.begin("j", OTHER, new_token(), lease_s=30, ttl_s=60)).kind == "replay"
    assert (await store.begin("j", FP, new_token(), lease_s=30, ttl_s=60)).kind == "mismatch"


async def test_a_lapsed_claim_without_a_fingerprint_is_claimed_and_bound_by_the_next(
    twin: Twin,
) -> None:
    store = twin.store
    await store.begin("k", None, new_token(), lease_s=0.05, ttl_s=60)
    await twin.wait(0.1)
    taken = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    assert taken.kind == "claimed"
    await store.release("k", taken.token, {"media_id": "m-4"}, ttl_s=60)
    assert (await store.begin("k", OTHER, new_token(), lease_s=30, ttl_s=60)).kind == "mismatch"


async def test_records_expire_after_the_ttl(twin: Twin) -> None:
    store = twin.store
    first = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=0.2)
    await store.finish("k", first.token, ANSWER, ttl_s=0.2)
    assert (await store.begin("k", FP, new_token(), lease_s=30, ttl_s=0.2)).kind == "replay"
    await twin.wait(0.3)
    assert (await store.begin("k", OTHER, new_token(), lease_s=30, ttl_s=0.2)).kind == "claimed"


async def test_a_done_record_is_never_released(store: IdempotencyStore) -> None:
    first = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
    await store.finish("k", first.token, ANSWER, ttl_s=60)
    await store.release("k", first.token, {}, ttl_s=60)
    assert (await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)).kind == "replay"


@pytest.mark.redis
async def test_a_record_of_the_previous_version_counts_as_may_have_left() -> None:
    """What the gateway before phases wrote: in flight, no phase, fingerprint version 1."""
    async with redis_for_tests() as redis:
        prefix = f"test:{uuid.uuid4().hex}:"
        store = RedisIdempotencyStore(redis, prefix=prefix)
        old = {"fp": FP.legacy, "state": "in_flight", "token": "t-old", "lease_until": 0}
        await redis.set(prefix + "k", json.dumps(old), px=60_000)
        # Compared with the fingerprint it was written with: the same request, interrupted.
        assert (await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)).kind == (
            "interrupted"
        )
        other = Fingerprint("x", "y")
        assert (await store.begin("k", other, new_token(), lease_s=30, ttl_s=60)).kind == (
            "mismatch"
        )
        done = {**old, "state": "done", "answer": ANSWER.dumps()}
        await redis.set(prefix + "k", json.dumps(done), px=60_000)
        replay = await store.begin("k", FP, new_token(), lease_s=30, ttl_s=60)
        assert (replay.kind, replay.answer) == ("replay", ANSWER)


async def test_an_unreachable_redis_is_store_unavailable() -> None:
    redis = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    with pytest.raises(StoreUnavailableError, match="cannot be reached"):
        await RedisIdempotencyStore(redis).begin("k", FP, new_token(), lease_s=1, ttl_s=1)
    await redis.aclose()
