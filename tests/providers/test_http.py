"""The shared plumbing: the mapping covers every status class and every transport error,
nothing escapes the choke point, the deadline bounds calls, and tokens are single-flight."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import httpx
import pytest

from providers import errors as pe
from providers.deadline import request_deadline
from providers.errors import (
    ProviderError,
    ProviderTimeoutError,
    RateLimitedError,
    Stage,
)
from providers.http import (
    ProviderContext,
    Token,
    TokenCell,
    Upstream,
    parse_retry_after,
    status_error,
    transport_error,
)
from providers.redact import Redactor


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


TRANSPORT_ERRORS = sorted(all_subclasses(httpx.TransportError) | {httpx.TransportError}, key=str)


@pytest.mark.parametrize("exc_type", TRANSPORT_ERRORS, ids=lambda t: t.__name__)
def test_every_transport_error_maps_to_a_transient_error(exc_type: type[Exception]) -> None:
    error = transport_error(exc_type("boom"), provider="p", stage=pe.Stage.UPLOAD)
    assert isinstance(error, pe.TransientProviderError)
    assert error.provider == "p"
    assert error.stage is pe.Stage.UPLOAD
    assert error.status is None


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), pe.ProviderUnavailableError),
        (httpx.ConnectTimeout("slow connect"), pe.ProviderUnavailableError),
        (httpx.PoolTimeout("pool"), pe.ProviderUnavailableError),
        (httpx.ReadTimeout("slow"), pe.ProviderTimeoutError),
        (httpx.WriteTimeout("slow"), pe.ProviderTimeoutError),
        (httpx.RemoteProtocolError("garbage"), pe.ProviderFailedError),
        (httpx.ReadError("reset"), pe.ProviderFailedError),
        (httpx.UnsupportedProtocol("gopher"), pe.ProviderUnavailableError),
        (httpx.DecodingError("gzip"), pe.ProviderFailedError),
    ],
)
def test_transport_error_kinds(exc: httpx.HTTPError, expected: type[pe.ProviderError]) -> None:
    assert type(transport_error(exc, provider="p", stage=pe.Stage.POST)) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        *[(s, pe.ProviderFailedError) for s in (100, 200, 204, 301, 302, 304)],
        (400, pe.ProviderRejectedError),
        (401, pe.ProviderAuthError),
        (403, pe.ProviderAuthError),
        (404, pe.ProviderRejectedError),
        (409, pe.ProviderRejectedError),
        (413, pe.MediaTooLargeError),
        (415, pe.MediaRejectedError),
        (422, pe.ProviderRejectedError),
        (429, pe.RateLimitedError),
        (451, pe.ProviderRejectedError),
        *[(s, pe.ProviderFailedError) for s in (500, 502, 503, 504, 599)],
    ],
)
def test_every_status_class_maps(status: int, expected: type[pe.ProviderError]) -> None:
    assert status_error(status) is expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7),
        (" 0 ", 0),
        (None, None),
        ("", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0),
    ],
)
def test_retry_after(value: str | None, seconds: int | None) -> None:
    assert parse_retry_after(value) == seconds


# ---- one choke point: nothing raised while building or sending escapes unmapped ----

ANY_EXCEPTION = [
    ValueError("bad value"),
    RuntimeError("boom"),
    KeyError("missing"),
    UnicodeEncodeError("ascii", "ü", 0, 1, "no"),
    OSError("socket gone"),
    ssl.SSLError("handshake"),
    RecursionError("deep"),
    httpx.InvalidURL("Invalid port: '99999'"),
    httpx.UnsupportedProtocol("ftp"),
    httpx.DecodingError("gzip"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["build", "transport"])
@pytest.mark.parametrize("exc", ANY_EXCEPTION, ids=lambda e: type(e).__name__)
async def test_no_exception_of_any_kind_escapes_the_choke_point(where: str, exc: Exception) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise exc

    def build() -> httpx.Request:
        if where == "build":
            raise exc
        return httpx.Request("GET", "https://provider.test/x")

    async with httpx.AsyncClient(transport=httpx.MockTransport(explode)) as client:
        upstream = Upstream(client, provider="p", timeout=5, redact=Redactor())
        with pytest.raises(ProviderError) as caught:
            await upstream.call(Stage.UPLOAD, build)
    assert caught.value.stage is Stage.UPLOAD
    assert caught.value.provider == "p"


@pytest.mark.anyio
async def test_a_spent_deadline_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        upstream = Upstream(client, provider="p", timeout=5, redact=Redactor())
        with request_deadline(0), pytest.raises(ProviderTimeoutError):
            await upstream.call(Stage.POST, lambda: httpx.Request("GET", "https://p.test/"))
    assert sent == []


# ---- TokenCell: one fetch shared by every waiter, its token or its error ----


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_waiters_share_one_failing_fetch_and_the_failure_is_remembered() -> None:
    calls = 0
    release = asyncio.Event()

    async def fetch() -> Token:
        nonlocal calls
        calls += 1
        await release.wait()
        raise ProviderTimeoutError("auth timed out", provider="p", stage=Stage.AUTH)

    clock = FakeClock()
    cell = TokenCell(fetch, provider="p", clock=clock, failure_ttl_s=5)
    waiters = [asyncio.create_task(cell.get()) for _ in range(8)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert calls == 1
    assert all(isinstance(r, ProviderTimeoutError) for r in results)
    # One error serves every waiter: errors are never changed once raised.
    assert len({id(r) for r in results}) == 1
    assert {(r.provider, r.stage) for r in results} == {("p", Stage.AUTH)}  # type: ignore[union-attr]

    clock.now += 4
    with pytest.raises(ProviderTimeoutError):
        await cell.get()
    assert calls == 1  # still remembered
    clock.now += 2
    with pytest.raises(ProviderTimeoutError):
        await cell.get()
    assert calls == 2  # forgotten after failure_ttl_s, tried again


@pytest.mark.anyio
async def test_a_429_is_remembered_as_long_as_it_asked() -> None:
    calls = 0

    async def fetch() -> Token:
        nonlocal calls
        calls += 1
        raise RateLimitedError("slow down", provider="p", stage=Stage.AUTH, retry_after=30)

    clock = FakeClock()
    cell = TokenCell(fetch, provider="p", clock=clock, failure_ttl_s=5)
    for advance in (0, 10, 19):
        clock.now += advance
        with pytest.raises(RateLimitedError):
            await cell.get()
    assert calls == 1
    clock.now += 2
    with pytest.raises(RateLimitedError):
        await cell.get()
    assert calls == 2


@pytest.mark.anyio
async def test_a_wait_is_bounded_by_the_deadline_and_does_not_cancel_the_fetch() -> None:
    release = asyncio.Event()

    async def fetch() -> Token:
        await release.wait()
        return Token("tok", float("inf"))

    cell = TokenCell(fetch, provider="p", clock=FakeClock())
    patient = asyncio.create_task(cell.get())
    await asyncio.sleep(0)
    with request_deadline(0.05), pytest.raises(ProviderTimeoutError, match="deadline"):
        await cell.get()
    release.set()
    assert (await patient).value == "tok"
    assert (await cell.get()).value == "tok"


@pytest.mark.anyio
async def test_renew_replaces_only_the_refused_token() -> None:
    issued = iter(["t1", "t2", "t3"])

    async def fetch() -> Token:
        return Token(next(issued), float("inf"))

    cell = TokenCell(fetch, provider="p", clock=FakeClock())
    first = await cell.get()
    second = await cell.renew(first)
    assert (first.value, second.value) == ("t1", "t2")
    # A caller that still holds the refused one gets the renewed token, no new fetch.
    assert (await cell.renew(first)).value == "t2"


@pytest.mark.anyio
async def test_a_large_upload_gets_time_for_its_size_within_the_deadline() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        upstream = Upstream(client, provider="p", timeout=0.1, redact=Redactor())

        def build() -> httpx.Request:
            return httpx.Request("POST", "https://p.test/")

        with pytest.raises(ProviderTimeoutError):  # a small call: 0.1 s
            await upstream.call(Stage.UPLOAD, build)
        # 1 MiB more of media: 1 s more.
        assert (await upstream.call(Stage.UPLOAD, build, upload_bytes=1 << 20)).status == 200
        with request_deadline(0.2), pytest.raises(ProviderTimeoutError):
            await upstream.call(Stage.UPLOAD, build, upload_bytes=1 << 20)


class _Streamed(httpx.AsyncByteStream):
    """An answer's body as a real transport gives it: in chunks, not read yet."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for start in range(0, len(self._body), 65536):
            yield self._body[start : start + 65536]


def _upstream_answering(status: int, headers: dict[str, str], body: bytes) -> Upstream:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, stream=_Streamed(body))

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return Upstream(client, provider="p", timeout=5, redact=Redactor())


def _deflated(data: bytes, wbits: int) -> bytes:
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


@pytest.mark.anyio
@pytest.mark.parametrize(("encoding", "wbits"), [("deflate", 15), ("deflate", -15), ("gzip", 31)])
async def test_a_compressed_answer_is_inflated_no_further_than_the_cap(
    encoding: str, wbits: int
) -> None:
    import tracemalloc

    bomb = _deflated(b"\0" * (500 << 20), wbits)  # 500 MB in about 500 KB
    upstream = _upstream_answering(200, {"Content-Encoding": encoding}, bomb)
    tracemalloc.start()
    try:
        with pytest.raises(pe.ProviderFailedError, match="more than"):
            await upstream.call(Stage.POST, lambda: httpx.Request("POST", "https://p.test/"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # never the whole inflated answer
    small = _upstream_answering(200, {"Content-Encoding": encoding}, _deflated(b'{"ok": 1}', wbits))
    answer = await small.call(Stage.POST, lambda: httpx.Request("POST", "https://p.test/"))
    assert answer.json() == {"ok": 1}


@pytest.mark.anyio
async def test_an_answer_in_an_encoding_not_asked_for_is_unreadable() -> None:
    upstream = _upstream_answering(200, {"Content-Encoding": "br"}, b"\x0b\x02\x80{}\x03")
    with pytest.raises(pe.ProviderFailedError, match="encoding"):
        await upstream.call(Stage.POST, lambda: httpx.Request("POST", "https://p.test/"))


@pytest.mark.anyio
async def test_the_providers_clients_ask_for_uncompressed_answers() -> None:
    import dataclasses

    from gateway.wiring.app import create_app
    from gateway.wiring.settings import Settings
    from providers import discover
    from tests.gateway.conftest import serve

    contexts: list[ProviderContext] = []

    def recording(build: Any) -> Any:
        def built(settings: Any, context: ProviderContext) -> Any:
            contexts.append(context)
            return build(settings, context)

        return built

    specs = {n: dataclasses.replace(s, build=recording(s.build)) for n, s in discover().items()}
    app = create_app(Settings(_env_file=None), specs=specs)
    async with serve(app):
        assert len(contexts) == len(specs)
        for context in contexts:
            assert context.client.headers["accept-encoding"] == "identity"
