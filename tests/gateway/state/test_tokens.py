"""Provider tokens shared through a real Redis: sealed, locked, one fetch for all replicas."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from gateway.state.tokens import RedisTokenShare, redis_shares
from providers.http import ProviderContext, Token
from providers.kaizala import KaizalaProvider, KaizalaSettings
from tests.conftest import redis_for_tests
from tests.providers.test_kaizala import request


def token_answer(value: str) -> httpx.Response:
    """A token answer timed from now (the shared cache uses the real clock)."""
    return httpx.Response(
        200,
        json={
            "accessToken": value,
            "endpointUrl": "https://ep.test/",
            "accessTokenExpiry": int((time.time() + 86_400) * 1000),
            "refreshToken": "",
        },
    )


pytestmark = [pytest.mark.anyio, pytest.mark.redis]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    async with redis_for_tests() as client:
        yield client


async def test_a_token_that_never_expires_is_shared_for_a_day(redis: Redis) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    share = RedisTokenShare(redis, "gupshup:app", "partner-secret-1", prefix=prefix)
    forever = Token("sk_never_expires", float("inf"))  # Gupshup's expiresOn 0
    await share.save("app:a", forever)
    assert await share.load("app:a") == forever
    (key,) = await redis.keys(f"{prefix}*")
    assert 86_000_000 < await redis.pttl(key) <= 86_400_000
    await redis.delete(key)


async def test_tokens_are_sealed_and_names_show_no_account(redis: Redis) -> None:
    namespace, secret = f"kaizala:app-{uuid.uuid4().hex}", "application-secret-1"
    prefix = f"test:{uuid.uuid4().hex}:"  # only this test's keys
    share = RedisTokenShare(redis, namespace, secret, prefix=prefix)
    token = Token("tok-very-secret-value", 4_000_000_000.0, {"endpoint": "https://ep.test"})
    await share.save("access", token)
    await share.save_secret("refresh", "refresh-token-rotated-1")
    assert await share.load("access") == token
    assert await share.load_secret("refresh") == "refresh-token-rotated-1"
    mine = {key: await redis.get(key) for key in await redis.keys(f"{prefix}*")}
    assert len(mine) == 2
    for key, value in mine.items():
        assert namespace.encode() not in key
        assert b"tok-very-secret-value" not in value
        assert b"refresh-token-rotated-1" not in value
    # Whoever holds another secret reads nothing (and writes elsewhere).
    other = RedisTokenShare(redis, namespace, "another-secret", prefix=prefix)
    assert await other.load("access") is None


async def test_the_lock_lets_one_holder_in_at_a_time(redis: Redis) -> None:
    share = RedisTokenShare(redis, f"ns-{uuid.uuid4().hex}", "s3cret-value")
    order: list[str] = []

    async def hold(name: str) -> None:
        async with share.lock("access"):
            order.append(f"{name} in")
            await asyncio.sleep(0.1)
            order.append(f"{name} out")

    await asyncio.gather(hold("a"), hold("b"))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_two_replicas_fetch_one_token_and_share_a_rotated_refresh_token(
    redis: Redis,
) -> None:
    app_id = f"app-{uuid.uuid4().hex}"
    fetches: list[str] = []
    refresh = {"current": "refresh-one", "issued": 0}

    async def kaizala(req: httpx.Request) -> httpx.Response:
        if req.url.path.endswith("/v1/accessToken"):
            fetches.append(req.headers["refreshToken"])
            if req.headers["refreshToken"] != refresh["current"]:
                return httpx.Response(401, json={"errorCode": "Unauthenticated"})
            await asyncio.sleep(0.05)
            refresh["issued"] += 1
            answer = token_answer(f"tok-{refresh['issued']}")
            # Rotate on the first fetch: the old refresh token stops working.
            if refresh["issued"] == 1:
                refresh["current"] = "refresh-two"
                body = answer.json() | {"refreshToken": "refresh-two"}
                return httpx.Response(200, json=body)
            return answer
        if req.url.path.endswith("/v1/media"):
            return httpx.Response(200, json={"mediaResource": "MR"})
        return httpx.Response(200, json={"referenceId": "r"})

    settings = KaizalaSettings(
        _env_file=None,
        auth_url="https://auth.test",
        application_id=app_id,
        application_secret=SecretStr("app-secret-value"),
        refresh_token=SecretStr("refresh-one"),
    )
    shares = redis_shares(redis)
    async with httpx.AsyncClient(transport=httpx.MockTransport(kaizala)) as client:
        a = KaizalaProvider(settings, ProviderContext(client, 5, shares))
        b = KaizalaProvider(settings, ProviderContext(client, 5, shares))
        await asyncio.gather(a.send(request()), b.send(request()), a.send(request()))
        assert fetches == ["refresh-one"]  # one fetch served both replicas
        # A restart (a new replica) with only the configured, now retired, refresh token:
        restarted = KaizalaProvider(settings, ProviderContext(client, 5, shares))
        await redis.delete(*await redis.keys("mg:*tok:access"))  # the access token expired
        await restarted.send(request())
        assert fetches == ["refresh-one", "refresh-two"]


async def test_a_token_is_shared_only_for_the_auth_server_that_issued_it(redis: Redis) -> None:
    """Found by the soak: a token cached for one Kaizala auth server (and its endpoint) was
    taken by a gateway pointed at another, with the same application id and secret."""
    app_id = f"app-{uuid.uuid4().hex}"
    issued: list[str] = []

    def kaizala_at(host: str) -> httpx.MockTransport:
        async def handle(req: httpx.Request) -> httpx.Response:
            if req.url.path.endswith("/v1/accessToken"):
                issued.append(host)
                answer = token_answer(f"tok-{host}")
                body = answer.json() | {"endpointUrl": f"https://{host}/"}
                return httpx.Response(200, json=body)
            assert req.url.host == host, f"{req.url} sent to the other server's endpoint"
            if req.url.path.endswith("/v1/media"):
                return httpx.Response(200, json={"mediaResource": "MR"})
            return httpx.Response(200, json={"referenceId": "r"})

        return httpx.MockTransport(handle)

    shares = redis_shares(redis)
    for host in ("old.test", "new.test"):
        settings = KaizalaSettings(
            _env_file=None,
            auth_url=f"https://{host}",
            application_id=app_id,
            application_secret=SecretStr("app-secret-value"),
            refresh_token=SecretStr("refresh-one"),
        )
        async with httpx.AsyncClient(transport=kaizala_at(host)) as client:
            await KaizalaProvider(settings, ProviderContext(client, 5, shares)).send(request())
    assert issued == ["old.test", "new.test"]


async def test_media_ids_are_remembered_in_redis_for_every_replica(redis: Redis) -> None:
    from gateway.state.tokens import RedisMemo

    memo, key = RedisMemo(redis, prefix=f"test:{uuid.uuid4().hex}:"), "gupshup:media:k"
    await memo.put(key, "1721912231081567", ttl_s=0.3)
    assert await memo.get(key) == "1721912231081567"
    await asyncio.sleep(0.4)
    assert await memo.get(key) is None
    await memo.put(key, "2", ttl_s=60)
    await memo.forget(key)
    assert await memo.get(key) is None


async def test_an_unreachable_memo_is_a_miss_and_never_fails_a_send() -> None:
    from gateway.state.tokens import RedisMemo

    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.3)
    memo = RedisMemo(down)
    assert await memo.get("gupshup:media:k") is None
    await memo.put("gupshup:media:k", "1", ttl_s=60)
    await memo.forget("gupshup:media:k")
    await down.aclose()
