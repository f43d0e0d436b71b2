"""The floor: the least a Python gateway on this stack can do per send, for comparison.

A raw ASGI app (no FastAPI, no validation, no logging, no metrics) on the same server stack
as the gateway (uvicorn, httptools, asyncio's loop), calling the upstream through one aiohttp
session (no httpx): it reads a Gupshup URL send's JSON body and makes the same media call,
or reads a Kaizala multipart body and makes the same two calls (upload, then post), and
answers the provider's ids. It checks nothing and cannot fail well: it only shows what the
server, the client and the loop cost by themselves (and on `/events`, what taking a provider's
event callback costs: its body read as JSON and answered), so the gateway's figures can be read
against what any gateway written in Python here would pay.

    BENCH_UPSTREAM=http://127.0.0.1:9000 uvicorn bench.floor:app --http httptools --loop asyncio
"""

from __future__ import annotations

import json
import os
from typing import Any

import aiohttp
from starlette.types import Receive, Scope, Send

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9000")
TOKEN = "bench-access-token-0123456789"  # noqa: S105 (the bench upstream's fixed token)
_session: aiohttp.ClientSession | None = None


def session() -> aiohttp.ClientSession:
    global _session
    if _session is None:
        _session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    return _session


async def _body(receive: Receive) -> bytes:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


async def _gupshup(body: bytes) -> dict[str, Any]:
    url = json.loads(body)["url"]
    form = aiohttp.FormData()
    form.add_field("file", url.encode(), filename="", content_type="text/plain")
    form.add_field("file_type", "application/pdf")
    async with session().post(
        f"{UPSTREAM}/partner/app/bench-app/media",
        data=form,
        headers={"Authorization": "sk_bench_app_token"},
    ) as answer:
        return {"media_id": (await answer.json())["mediaId"]}


async def _kaizala(body: bytes, content_type: str) -> dict[str, Any]:
    # The caller's form goes up as it came: a floor does not parse what it need not.
    headers = {"accessToken": TOKEN, "Content-Type": content_type}
    async with session().post(f"{UPSTREAM}/v1/media", data=body, headers=headers) as answer:
        media = (await answer.json())["mediaResource"]
    action = {"actionType": "Image", "actionBody": {"mediaResource": media}}
    async with session().post(
        f"{UPSTREAM}/v1/groups/bench%401/actions", json=action, headers={"accessToken": TOKEN}
    ) as answer:
        reference = (await answer.json())["referenceId"]
    return {"media_id": media, "reference_id": reference}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":  # ready
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = await _body(receive)
    content_type = dict(scope["headers"]).get(b"content-type", b"").decode()
    if scope["path"] == "/events":
        # A provider's event callback: read as JSON, answered, nothing kept.
        answer: dict[str, Any] = {"status": "stored" if json.loads(body) else "empty"}
    elif content_type.startswith("multipart/"):
        answer = await _kaizala(body, content_type)
    else:
        answer = await _gupshup(body)
    data = json.dumps(answer).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
