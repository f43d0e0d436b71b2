"""Idempotency-Key on /send-media, through the app, against the embedded sandboxes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from unittest import mock

import httpx
import pytest

import simulators.kaizala
from gateway.errors import StoreUnavailableError
from gateway.pipeline.service import MediaService
from gateway.state.idempotency import MemoryIdempotencyStore
from gateway.wiring import build
from gateway.wiring.app import create_app
from gateway.wiring.settings import Settings
from simulators.kaizala import sandbox as kaizala_sandbox
from tests import samples
from tests.conftest import NO_REDIS, redis_url
from tests.gateway.conftest import AppClient, serve
from tests.support import assert_problem

pytestmark = pytest.mark.anyio

PNG = {"file": ("a.png", samples.png(), "image/png")}


def post(client: httpx.AsyncClient, key: str | None, group: str = "g@1", **extra: Any) -> Any:
    # As bytes, so a non-ASCII key reaches the gateway as a raw client would send it.
    headers = {"Idempotency-Key": key.encode()} if key is not None else {}
    return client.post(
        "/send-media",
        headers={**headers, **extra.pop("headers", {})},
        data={"provider": "kaizala", "group_id": group, **extra.pop("data", {})},
        files=extra.pop("files", PNG),
    )


async def test_a_repeat_gets_the_stored_answer_and_sends_nothing(
    client: httpx.AsyncClient,
) -> None:
    first = await post(client, "order-1")
    assert first.status_code == 200
    assert "idempotent-replayed" not in first.headers
    again = await post(client, "order-1")
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    # A second send would have a new media id; the replay is the first answer, byte for byte,
    # with the original's request id in the body and its own in the header.
    assert again.content == first.content
    assert again.headers["x-request-id"] != first.headers["x-request-id"]
    other = await post(client, "order-2")
    assert other.json()["media_id"] != first.json()["media_id"]


async def test_the_same_key_for_another_request_is_a_422(client: httpx.AsyncClient) -> None:
    assert (await post(client, "order-1")).status_code == 200
    changed = await post(
        client, "order-1", files={"file": ("a.png", samples.png(3, 3), "image/png")}
    )
    body = assert_problem(changed, 422, "idempotency_conflict")
    assert body["retryable"] is False
    assert (await post(client, "order-1", data={"caption": "new"})).status_code == 422


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ünï"])
async def test_a_malformed_key_is_a_validation_error(client: httpx.AsyncClient, key: str) -> None:
    body = assert_problem(await post(client, key), 422, "validation_error")
    assert body["errors"][0]["field"] == "Idempotency-Key"


async def test_a_certain_failure_releases_the_key_and_keeps_the_uploaded_media(
    client: httpx.AsyncClient,
) -> None:
    first = assert_problem(
        await post(client, "order-1", group="sandbox-400@1"), 400, "provider_rejected"
    )
    retry = await post(client, "order-1", group="sandbox-400@1")
    second = assert_problem(retry, 400, "provider_rejected")
    assert "idempotent-replayed" not in retry.headers  # it ran again
    # The upload worked the first time; the retry posted the same media, uploading nothing.
    assert second["media_id"] == first["media_id"]
    assert second["request_id"] != first["request_id"]


async def test_an_unknown_outcome_is_stored_and_replayed(client: httpx.AsyncClient) -> None:
    first = assert_problem(
        await post(client, "order-1", group="sandbox-500@1"), 502, "provider_error"
    )
    assert (first["outcome"], first["retryable"]) == ("unknown", False)
    again = await post(client, "order-1", group="sandbox-500@1")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first


async def test_a_repeat_while_the_first_runs_is_a_409(app_client: AppClient) -> None:
    async with app_client(upstream_timeout_s=1) as client:
        slow = asyncio.create_task(post(client, "order-1", group="sandbox-slow@1"))
        await asyncio.sleep(0.3)
        busy = await post(client, "order-1", group="sandbox-slow@1")
        body = assert_problem(busy, 409, "idempotency_conflict")
        assert body["retryable"] is True
        assert 1 <= int(busy.headers["retry-after"]) <= 5
        first = await slow
        assert first.json()["outcome"] == "unknown"  # timed out after the post was sent
        replayed = await post(client, "order-1", group="sandbox-slow@1")
        assert replayed.headers["idempotent-replayed"] == "true"


async def test_keys_are_scoped_to_the_callers_api_key(app_client: AppClient) -> None:
    alice, bob = "alice-key-0123456789", "bob-key-0123456789ab"
    async with app_client(api_keys=f"{alice},{bob}") as client:
        a = await post(client, "same-key", headers={"X-API-Key": alice})
        b = await post(client, "same-key", headers={"X-API-Key": bob})
        a_again = await post(client, "same-key", headers={"X-API-Key": alice})
    assert a.json()["media_id"] != b.json()["media_id"]
    assert "idempotent-replayed" not in b.headers
    assert a_again.json()["media_id"] == a.json()["media_id"]


async def test_an_unreachable_store_refuses_keyed_sends_only(app_client: AppClient) -> None:
    async with app_client(redis_url="redis://127.0.0.1:1/0") as client:
        keyed = assert_problem(await post(client, "order-1"), 503, "store_unavailable")
        assert keyed["retryable"] is True
        assert (await post(client, None)).status_code == 200


@pytest.mark.redis
async def test_idempotency_through_a_real_redis(app_client: AppClient) -> None:
    url = redis_url()
    if url is None:
        pytest.skip(NO_REDIS)
    async with app_client(redis_url=url) as client:
        key = f"redis-{id(client)}-{asyncio.get_running_loop().time()}"
        first = await post(client, key)
        again = await post(client, key)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content


async def test_files_are_hashed_as_they_arrive_when_a_key_or_the_provider_reads_it(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.pipeline import form

    hashed: dict[str | None, bool] = {}
    reader_init = form.FormReader.__init__

    def spy(self: Any, *args: Any, hash_files: Any, **kwargs: Any) -> None:
        def recorded(provider: str | None) -> bool:
            hashed[provider] = hash_files(provider)
            return hashed[provider]

        reader_init(self, *args, hash_files=recorded, **kwargs)

    monkeypatch.setattr(form.FormReader, "__init__", spy)
    assert (await post(client, None)).status_code == 200
    assert hashed == {"kaizala": False}  # nothing reads a Kaizala file's hash
    assert (await post(client, "hashed-1")).status_code == 200
    assert hashed == {"kaizala": True}  # the fingerprint does
    gupshup = await client.post(
        "/send-media", data={"provider": "gupshup"}, files=PNG
    )  # Gupshup remembers media ids by the bytes' hash
    assert gupshup.status_code == 200
    assert hashed == {"kaizala": True, "gupshup": True}


class FlakyStore:
    """The in-process store, with steps that fail like a stalled Redis while told to."""

    def __init__(self) -> None:
        self.inner = MemoryIdempotencyStore()
        self.failing: set[str] = set()
        self.finished = 0

    def _check(self, step: str) -> None:
        if step in self.failing:
            raise StoreUnavailableError("The gateway's shared state (Redis) cannot be reached.")

    async def begin(self, *args: Any, **kwargs: Any) -> Any:
        self._check("begin")
        return await self.inner.begin(*args, **kwargs)

    async def mark_delivering(self, *args: Any) -> bool:
        self._check("mark")
        return await self.inner.mark_delivering(*args)

    async def finish(self, *args: Any, **kwargs: Any) -> None:
        self._check("finish")
        self.finished += 1
        await self.inner.finish(*args, **kwargs)

    async def release(self, *args: Any, **kwargs: Any) -> None:
        self._check("release")
        await self.inner.release(*args, **kwargs)


@asynccontextmanager
async def flaky_gateway(
    **settings: Any,
) -> AsyncIterator[tuple[httpx.AsyncClient, FlakyStore, Any]]:
    store = FlakyStore()
    sandboxes: list[Any] = []

    def recorded(settings: Any) -> Any:
        sandboxes.append(made := kaizala_sandbox(settings))
        return made

    with (
        mock.patch.object(build, "MemoryIdempotencyStore", return_value=store),
        mock.patch.object(simulators.kaizala, "sandbox", recorded),
    ):
        app = create_app(Settings(_env_file=None, **settings))
        async with serve(app) as client:
            (sandbox,) = sandboxes
            transport = httpx.ASGITransport(app=sandbox.app)

            async def posts(group: str) -> int:
                async with httpx.AsyncClient(transport=transport) as log_client:
                    answer = await log_client.get("http://kaizala.sandbox/_sandbox/log")
                return sum(1 for e in answer.json() if e["call"] == "post" and e["group"] == group)

            yield client, store, posts


async def test_a_success_is_answered_when_its_record_cannot_be_written_and_stored_later() -> None:
    async with flaky_gateway() as (client, store, posts):
        store.failing.add("finish")
        first = await post(client, "order-1")
        assert first.status_code == 200  # delivered: the caller hears so
        assert await posts("g@1") == 1
        busy = await post(client, "order-1")  # its record still says "delivering"
        assert_problem(busy, 409, "idempotency_conflict")
        store.failing.clear()
        for _ in range(50):  # the write is tried again in the background
            if store.finished:
                break
            await asyncio.sleep(0.05)
        again = await post(client, "order-1")
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        assert await posts("g@1") == 1


async def test_a_delivery_that_cannot_be_recorded_first_is_not_made() -> None:
    async with flaky_gateway() as (client, store, posts):
        store.failing.add("mark")
        refused = assert_problem(await post(client, "order-1"), 503, "store_unavailable")
        assert refused["retryable"] is True
        assert await posts("g@1") == 0
        store.failing.clear()
        assert (await post(client, "order-1")).status_code == 200
        assert await posts("g@1") == 1


async def broken(*args: Any, **kwargs: Any) -> None:
    """A failure of no gateway type (what a too-deep answer once raised)."""
    raise RecursionError("maximum recursion depth exceeded")


async def test_any_failure_after_the_delivering_call_keeps_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with flaky_gateway() as (client, _, posts):
        # Fails after the post went out (the breaker's bookkeeping), with no gateway type.
        monkeypatch.setattr(MediaService, "_record", broken)
        first = assert_problem(await post(client, "order-1"), 502, "interrupted")
        assert (first["outcome"], first["retryable"]) == ("unknown", False)
        for _ in range(3):
            again = await post(client, "order-1")
            assert again.headers["idempotent-replayed"] == "true"
            assert again.json() == first
        assert await posts("g@1") == 1


async def test_an_unkeyed_failure_of_that_kind_is_still_a_problem_document(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with flaky_gateway() as (client, _, _posts):
        monkeypatch.setattr(MediaService, "_record", broken)
        assert_problem(await post(client, None), 500, "internal_error")


async def test_the_same_bytes_under_another_name_or_type_are_another_request(
    client: httpx.AsyncClient,
) -> None:
    pdf = samples.pdf()
    first = await client.post(
        "/send-media",
        headers={"Idempotency-Key": "doc-1"},
        data={"provider": "gupshup", "to": "919876543210"},
        files={"file": ("report.pdf", pdf, "application/pdf")},
    )
    assert first.status_code == 200, first.text
    for name, ctype in (("other.pdf", "application/pdf"), ("report.pdf", "application/x-pdf")):
        renamed = await client.post(
            "/send-media",
            headers={"Idempotency-Key": "doc-1"},
            data={"provider": "gupshup", "to": "919876543210"},
            files={"file": (name, pdf, ctype)},
        )
        assert_problem(renamed, 422, "idempotency_conflict")
