"""Reading a send from a request: JSON or multipart, shapes refused with the right problem."""

from __future__ import annotations

import asyncio
import hashlib
import random
import tracemalloc
from typing import Any

import httpx
import pytest
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request

from gateway.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaError,
)
from gateway.pipeline.fields import send_models
from gateway.pipeline.intake import (
    SPOOL_RUN,
    STREAM_FROM,
    NotStreamableError,
    SendOrder,
    read_order,
)
from providers import discover
from tests import samples

pytestmark = pytest.mark.anyio

MODELS = send_models(discover())


def socket_request(
    body: bytes, headers: dict[str, str], *, chunk: int = 65536, whole: bool = True
) -> Request:
    """A request whose body arrives in socket-sized chunks; without `whole`, the caller
    goes away after sending `body`."""
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]

    async def receive() -> dict[str, Any]:
        if not chunks:
            return {"type": "http.disconnect"}
        part = chunks.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(chunks) or not whole}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/send-media",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


def request_of(**kwargs: Any) -> Request:
    """A Starlette request with the headers and body httpx would send for `kwargs`, the body
    in one message."""
    built = httpx.Request("POST", "http://gateway/send-media", **kwargs)
    body = built.read()
    return socket_request(body, dict(built.headers), chunk=max(1, len(body)))


async def order_of(**kwargs: Any) -> SendOrder:
    async with read_order(request_of(**kwargs), MODELS) as order:
        return order


async def test_json_body() -> None:
    order = await order_of(json={"provider": "gupshup", "url": "https://e.com/a.pdf"})
    assert order.fields.provider == "gupshup"
    assert order.files == []


async def test_multipart_with_files_and_fields() -> None:
    order = await order_of(
        data={"provider": "kaizala", "group_id": " g@1 ", "caption": ""},
        files=[
            ("file", ("C:\\\\Users\\\\me\\\\a.png", samples.png(), "image/png")),
            ("file", ("", b"", "application/octet-stream")),  # an empty browser input
        ],
    )
    assert order.fields.model_dump(exclude_none=True) == {"provider": "kaizala", "group_id": "g@1"}
    (upload,) = order.files
    assert (upload.filename, upload.content_type, upload.size) == ("a.png", "image/png", 73)


async def test_long_names_reach_the_checks_whole() -> None:
    name = "n" * 300 + ".png"
    order = await order_of(data={"provider": "kaizala"}, files={"file": (name, b"x", "image/png")})
    assert order.files[0].filename == name


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"content": b"{", "headers": {"content-type": "application/json"}},
            InvalidRequestError,
            "not valid JSON",
        ),
        (
            {"content": b"[" * 5000, "headers": {"content-type": "application/json"}},
            InvalidRequestError,
            "nested too deeply",
        ),
        (
            {"content": b" " * 70_000, "headers": {"content-type": "application/json"}},
            PayloadTooLargeError,
            "at most 65536",
        ),
        (
            {"json": {"provider": "kaizala", "file": "aGk="}},
            InvalidRequestError,
            "multipart/form-data",
        ),
        ({"json": ["provider"]}, InvalidRequestError, "valid dictionary"),
        (
            {"content": b"x", "headers": {"content-type": "text/plain"}},
            UnsupportedMediaError,
            "multipart/form-data",
        ),
        (
            {"content": b"x", "headers": {"content-type": "multipart/form-data"}},
            InvalidRequestError,
            "malformed",
        ),
        (
            {"files": [("provider", (None, "kaizala")), ("file", (None, "a link"))]},
            InvalidRequestError,
            "file must be a file",
        ),
        (
            {"files": [("provider", ("a.png", b"x", "image/png"))]},
            InvalidRequestError,
            "only the file field",
        ),
        (
            {"files": [("group_id", (None, "a")), ("group_id", (None, "b"))]},
            InvalidRequestError,
            "more than once",
        ),
        (
            {"files": [("provider", (None, "kaizala")), ("colour", (None, "red"))]},
            InvalidRequestError,
            "colour",
        ),
    ],
)
async def test_refused_shapes(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        await order_of(**kwargs)


def video_of(size: int) -> bytes:
    head = samples.mp4()
    return head + random.Random(size).randbytes(size - len(head))


async def test_files_are_hashed_as_they_arrive_only_when_the_hash_is_read() -> None:
    video = video_of(3 * 1024 * 1024)  # past the in-memory spool and a spool run
    asked: list[str | None] = []

    def hash_for(wanted: set[str]) -> Any:
        def hash_files(provider: str | None) -> bool:
            asked.append(provider)
            return provider in wanted

        return hash_files

    form = {"data": {"provider": "gupshup"}, "files": {"file": ("v.mp4", video, "video/mp4")}}
    async with read_order(request_of(**form), MODELS, hash_files=hash_for({"gupshup"})) as order:
        assert order.files[0].sha256 == hashlib.sha256(video).hexdigest()
    async with read_order(request_of(**form), MODELS, hash_files=hash_for(set())) as order:
        (upload,) = order.files
        assert upload.sha256 is None
        # Whoever needs it after all gets the same hash, read from the spool.
        assert upload.digest() == hashlib.sha256(video).hexdigest()
        assert upload.stream.read() == video
    assert asked == ["gupshup", "gupshup"]


async def test_a_file_before_the_provider_is_hashed() -> None:
    asked: list[str | None] = []

    def hash_files(provider: str | None) -> bool:
        asked.append(provider)
        return provider is None

    request = request_of(
        files=[("file", ("a.png", samples.png(), "image/png")), ("provider", (None, "kaizala"))]
    )
    async with read_order(request, MODELS, hash_files=hash_files) as order:
        assert order.files[0].sha256 == hashlib.sha256(samples.png()).hexdigest()
    assert asked == [None]


async def test_spooled_files_are_written_in_runs_not_per_socket_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    video = video_of(5 * SPOOL_RUN + 12345)
    built = httpx.Request(
        "POST",
        "http://gateway/send-media",
        data={"provider": "kaizala"},
        files={"file": ("v.mp4", video, "video/mp4")},
    )
    request = socket_request(built.read(), dict(built.headers))  # 64 KiB reads
    writes: list[int] = []
    write = UploadFile.write

    async def counted(self: UploadFile, data: bytes) -> None:
        writes.append(len(data))
        await write(self, data)

    monkeypatch.setattr(UploadFile, "write", counted)
    async with read_order(request, MODELS) as order:
        (upload,) = order.files
        assert upload.size == len(video)
        assert upload.stream.read() == video
    assert sum(writes) == len(video)
    # A run of at least SPOOL_RUN per write (the last one: the rest), against 80 reads.
    assert len(writes) <= len(video) // SPOOL_RUN + 1
    assert all(size >= SPOOL_RUN for size in writes[:-1])


# ---- a large file handed on while it arrives ----

BIG = video_of(STREAM_FROM + 300_000)


def form(*parts: tuple[str, Any], epilogue: bytes = b"") -> Request:
    built = httpx.Request("POST", "http://gateway/send-media", files=list(parts))
    body = built.read() + epilogue
    headers = {**built.headers, "content-length": str(len(body))}
    return socket_request(body, headers)


async def read_live(request: Request, **kwargs: Any) -> tuple[SendOrder, bytes]:
    """The order and what a first pass of its live file gives."""
    async with read_order(request, MODELS, stream_files=lambda p: p == "kaizala", **kwargs) as o:
        assert o.live is not None
        got = bytearray()
        async for chunk in o.live.chunks():
            got += chunk
        return o, bytes(got)


async def first_pass(live: Any, error: type[BaseException] = NotStreamableError) -> int:
    """How many bytes the first pass gives before it raises `error`."""
    passed = 0
    try:
        async for chunk in live.chunks():
            passed += len(chunk)
    except error:
        return passed
    raise AssertionError(f"the first pass ended without {error.__name__}")


PROVIDER = ("provider", (None, "kaizala"))
GROUP = ("group_id", (None, "g@1"))
FILE = ("file", ("v.mp4", BIG, "video/mp4"))


async def test_a_large_last_file_is_handed_on_as_it_arrives_and_kept_for_a_resend() -> None:
    async with read_order(
        form(PROVIDER, GROUP, FILE), MODELS, stream_files=lambda p: p == "kaizala"
    ) as order:
        live = order.live
        assert live is not None
        (upload,) = order.files
        # Handed over after its first bytes, long before the body ends: the size is the one
        # the body's length implies, the head is there for sniffing.
        assert (upload.size, live.size) == (len(BIG), len(BIG))
        assert live.head == BIG[:8192]
        assert order.fields.group_id == "g@1"
        first = bytearray()
        async for chunk in live.chunks():
            first += chunk
        again = bytearray()
        async for chunk in live.chunks():  # a resend reads the spool
            again += chunk
    assert bytes(first) == BIG
    assert bytes(again) == BIG


@pytest.mark.parametrize(
    ("parts", "stream_files"),
    [
        ((PROVIDER, GROUP, ("file", ("v.mp4", BIG[: STREAM_FROM // 2], "video/mp4"))), True),
        ((PROVIDER, GROUP, FILE), False),
        ((GROUP, FILE, PROVIDER), True),  # the provider is not known when the file starts
    ],
)
async def test_a_file_is_read_whole_first_when_it_cannot_be_handed_on(
    parts: tuple[tuple[str, Any], ...], stream_files: bool
) -> None:
    async with read_order(
        form(*parts), MODELS, stream_files=lambda p: stream_files and p == "kaizala"
    ) as order:
        assert order.live is None
        assert order.fields.provider == "kaizala"
        (upload,) = order.files
        assert upload.stream.read(16) == BIG[:16]


@pytest.mark.parametrize(
    ("parts", "epilogue", "late"),
    [
        ((PROVIDER, GROUP, FILE, ("caption", (None, "late"))), b"", {"caption": "late"}),
        ((PROVIDER, FILE, GROUP), b"", {}),
        ((PROVIDER, GROUP, FILE, ("file", ("b.png", samples.png(), "image/png"))), b"", {}),
        ((PROVIDER, GROUP, FILE), b"an epilogue after the closing delimiter\r\n", {}),
    ],
)
async def test_a_body_other_than_announced_never_ends_the_first_pass(
    parts: tuple[tuple[str, Any], ...], epilogue: bytes, late: dict[str, str]
) -> None:
    async with read_order(
        form(*parts, epilogue=epilogue), MODELS, stream_files=lambda p: p == "kaizala"
    ) as order:
        live = order.live
        assert live is not None
        passed = await first_pass(live)
        assert passed <= live.size
        assert isinstance(live.failure, NotStreamableError)
        whole, announced = await live.whole()
    assert not announced
    assert whole.live is None
    assert whole.files[0].size == len(BIG)
    assert whole.fields.provider == "kaizala"
    for name, value in late.items():
        assert getattr(whole.fields, name) == value
    assert len(whole.files) == len(parts) - 2 - (parts[-1][0] == "caption")


async def test_a_file_longer_than_announced_is_never_given_past_its_size() -> None:
    built = httpx.Request("POST", "http://gateway/send-media", files=[PROVIDER, GROUP, FILE])
    body = built.read()
    assert body.endswith(b"--\r\n")
    body = body[:-2]  # a closing delimiter without its CRLF: the file is 2 bytes past the guess
    request = socket_request(body, {**built.headers, "content-length": str(len(body))})
    async with read_order(request, MODELS, stream_files=lambda p: True) as order:
        live = order.live
        assert live is not None
        assert live.size == len(BIG) - 2
        assert await first_pass(live) <= live.size
        whole, announced = await live.whole()
        assert not announced
        assert whole.files[0].stream.read() == BIG


async def test_a_caller_gone_mid_file_is_the_failure_of_the_live_file() -> None:
    built = httpx.Request("POST", "http://gateway/send-media", files=[PROVIDER, GROUP, FILE])
    body = built.read()
    request = socket_request(body[: len(body) // 2], dict(built.headers), whole=False)
    async with read_order(request, MODELS, stream_files=lambda p: True) as order:
        live = order.live
        assert live is not None
        assert await first_pass(live, ClientDisconnect) < live.size
        assert isinstance(live.failure, ClientDisconnect)


async def test_a_partial_order_the_first_parts_cannot_make_is_read_whole() -> None:
    # Whoever lets a file stream before the provider is named gets the whole order.
    async with read_order(
        form(GROUP, FILE, PROVIDER), MODELS, stream_files=lambda p: True
    ) as order:
        assert order.live is None
        assert order.fields.provider == "kaizala"
        assert order.files[0].size == len(BIG)


async def test_a_first_pass_cut_short_leaves_no_hole_for_the_resend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An upload call cut short (an early 401, a timeout) cancels the pass while it waits on
    the spool: the chunk it was spooling must still land, or the resend sends a hole."""
    disk = asyncio.Event()
    waiting = asyncio.Event()
    write = UploadFile.write

    async def slow_disk(self: UploadFile, data: bytes) -> None:
        waiting.set()
        await disk.wait()
        await write(self, data)

    monkeypatch.setattr(UploadFile, "write", slow_disk)
    async with read_order(
        form(PROVIDER, GROUP, FILE), MODELS, stream_files=lambda p: True
    ) as order:
        live = order.live
        assert live is not None

        async def upload_call() -> None:
            async for _ in live.chunks():
                pass

        call = asyncio.ensure_future(upload_call())
        await waiting.wait()  # the first pass is spooling a run
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        disk.set()
        resent = bytearray()
        async for chunk in live.chunks():
            resent += chunk
        assert live.failure is None
    assert bytes(resent) == BIG


@pytest.mark.parametrize("passes", [0, 1], ids=["refused-before-upload", "upload-cut-short"])
async def test_reading_the_rest_of_a_live_file_holds_none_of_it_in_memory(passes: int) -> None:
    """A live file read whole without a first pass (its send refused before any upload) or
    after one cut short goes to the spool only, not to the first pass's buffer as well."""
    async with read_order(
        form(PROVIDER, GROUP, FILE), MODELS, stream_files=lambda p: True
    ) as order:
        live = order.live
        assert live is not None
        if passes:
            async for _ in live.chunks():
                break  # the upload call goes away after the first chunk
        tracemalloc.start()
        try:
            whole, announced = await live.whole()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert announced
        assert whole.files[0].stream.read() == BIG
    assert peak < 3 * SPOOL_RUN, f"{peak / 2**20:.1f} MiB held reading an {len(BIG) >> 20} MiB file"


async def test_a_first_pass_waiting_for_the_rest_of_the_body_is_stalled_on_the_caller() -> None:
    """The file ended, but the body announced more that never comes: an upload call cut
    short then was waiting on the caller (sent whole, as a slow caller is), not on the
    provider."""
    built = httpx.Request("POST", "http://gateway/send-media", files=[PROVIDER, GROUP, FILE])
    body = built.read()
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    waiting = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": True}
        waiting.set()
        await asyncio.Event().wait()  # the 5,000 bytes more it announced never come
        raise AssertionError("unreachable")

    headers = {**built.headers, "content-length": str(len(body) + 5000)}
    scope = socket_request(b"", headers).scope
    async with read_order(Request(scope, receive), MODELS, stream_files=lambda p: True) as order:
        live = order.live
        assert live is not None

        async def upload_call() -> None:
            async for _ in live.chunks():
                pass

        call = asyncio.ensure_future(upload_call())
        await waiting.wait()  # the whole file passed; the rest of the body is awaited
        assert live.ended
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert live.stalled
        assert live.failure is None
