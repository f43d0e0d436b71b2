"""A large file handed on while it arrives: fed as it comes, kept for a resend, and what a
failed streamed send comes to (`LiveUpload.settle`)."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import httpx
import pytest
from starlette.requests import ClientDisconnect, Request

from gateway.errors import InvalidRequestError
from gateway.pipeline.fields import send_models
from gateway.pipeline.form import SPOOL_RUN, FilePart
from gateway.pipeline.intake import SendOrder, read_order
from gateway.pipeline.streaming import STREAM_FROM, Fallback, NotStreamableError
from providers import discover
from providers.errors import ProviderFailedError, ProviderTimeoutError, Stage
from tests import samples
from tests.support import socket_request, video_of

pytestmark = pytest.mark.anyio

MODELS = send_models(discover())
# What an upload call that a pass broke (or the provider refused) raises.
UPLOAD_FAILED = ProviderFailedError("kaizala broke", provider="kaizala", stage=Stage.UPLOAD)
REFUSED = InvalidRequestError("refused on the parts before the file")

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
        assert live.broke_off  # the caller's side, not the provider's
        assert await live.settle(UPLOAD_FAILED) is Fallback.NOT_AS_ANNOUNCED
        whole = await order.whole()
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
        assert await live.settle(UPLOAD_FAILED) is Fallback.NOT_AS_ANNOUNCED
        whole = await order.whole()
        assert whole.files[0].stream.read() == BIG


async def test_a_caller_gone_mid_file_is_the_failure_of_the_live_file() -> None:
    built = httpx.Request("POST", "http://gateway/send-media", files=[PROVIDER, GROUP, FILE])
    body = built.read()
    request = socket_request(body[: len(body) // 2], dict(built.headers), whole=False)
    async with read_order(request, MODELS, stream_files=lambda p: True) as order:
        live = order.live
        assert live is not None
        assert await first_pass(live, ClientDisconnect) < live.size
        # The send answers the caller's broken body, not the provider's error it caused.
        with pytest.raises(ClientDisconnect):
            await live.settle(UPLOAD_FAILED)


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
    write = FilePart.write

    async def slow_disk(self: FilePart, data: list[bytes]) -> None:
        waiting.set()
        await disk.wait()
        await write(self, data)

    monkeypatch.setattr(FilePart, "write", slow_disk)
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
        assert not live.broke_off
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
            # Refused on the parts before the file, which were the whole request.
            with pytest.raises(InvalidRequestError):
                await live.settle(REFUSED)
            whole = await order.whole()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
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
    late = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": True}
        waiting.set()
        await late.wait()  # the 5,000 bytes more it announced come only after the call
        return {"type": "http.request", "body": b"x" * 5000, "more_body": False}

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
        late.set()
        # A timeout of that upload call is the caller's slowness: sent whole.
        timeout = ProviderTimeoutError("slow", provider="kaizala", stage=Stage.UPLOAD)
        assert await live.settle(timeout) is Fallback.TOO_SLOW
