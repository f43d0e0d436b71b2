"""Reading a send from a request: JSON or multipart, shapes refused with the right problem."""

from __future__ import annotations

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
from gateway.pipeline.intake import SendOrder, read_order
from providers import discover
from tests import samples

pytestmark = pytest.mark.anyio

MODELS = send_models(discover())


def request_of(**kwargs: Any) -> Request:
    """A Starlette request with the headers and body httpx would send for `kwargs`."""
    built = httpx.Request("POST", "http://gateway/send-media", **kwargs)
    body = built.read()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/send-media",
        "headers": [(k.lower().encode(), v.encode()) for k, v in built.headers.items()],
    }
    return Request(scope, receive)


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
