"""Reading a send from a request: JSON or multipart, shapes refused with the right problem."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from gateway.errors import (
    InvalidRequestError,
    PayloadTooLargeError,
    UnsupportedMediaError,
)
from gateway.pipeline.fields import send_models
from gateway.pipeline.form import SPOOL_RUN, FilePart
from gateway.pipeline.intake import SendOrder, read_order
from providers import discover
from tests import samples
from tests.support import socket_request, video_of

pytestmark = pytest.mark.anyio

MODELS = send_models(discover())


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
    write = FilePart.write

    async def counted(self: FilePart, chunks: list[bytes]) -> None:
        writes.append(sum(len(chunk) for chunk in chunks))
        await write(self, chunks)

    monkeypatch.setattr(FilePart, "write", counted)
    async with read_order(request, MODELS) as order:
        (upload,) = order.files
        assert upload.size == len(video)
        assert upload.stream.read() == video
    assert sum(writes) == len(video)
    # A run of at least SPOOL_RUN per write (the last one: the rest), against 80 reads.
    assert len(writes) <= len(video) // SPOOL_RUN + 1
    assert all(size >= SPOOL_RUN for size in writes[:-1])
