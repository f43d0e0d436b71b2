"""A minimal upstream that speaks the Kaizala and Gupshup calls the gateway makes, as fast as
an ASGI app can: no validation, every body read to its end (as a real upstream reads an
upload), a fixed JSON answer. It is the "direct call" the gateway is measured against, so it
must not be the slower half of the comparison.

    uvicorn bench.upstream:app --port 9000
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send

_ids = itertools.count()
_hooks = itertools.count(1)
_hooked = 0  # webhooks received (POST /bench/hooks), read with GET /bench/hooks


def _kaizala_token(scope: Scope) -> dict[str, Any]:
    host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode()
    return {
        "accessToken": "bench-access-token-0123456789",
        "endpointUrl": f"http://{host}/",
        "accessTokenExpiry": 4_102_444_800_000,  # 2100-01-01
        "refreshToken": "",
        "scope": "connector",
    }


def _answer(scope: Scope) -> tuple[int, dict[str, Any]]:
    global _hooked
    path: str = scope["path"]
    if path == "/bench/hooks":  # the gateway's webhooks for the bench's client
        if scope["method"] == "POST":
            _hooked = next(_hooks)
        return 200, {"received": _hooked}
    if path == "/bench/calls":  # how many calls were answered: the bench checks the gateway
        return 200, {"calls": next(_ids)}  # made one per send and answered none from memory
    n = next(_ids)
    if path == "/v1/accessToken":
        return 200, _kaizala_token(scope)
    if path == "/v1/media":
        return 200, {"mediaResource": f"https://media.example/bench/{n}"}
    if path.startswith("/v1/groups/") and path.endswith("/actions"):
        return 200, {"referenceId": f"r-{n}", "actionId": f"a-{n}"}
    if path == "/partner/account/login":
        return 200, {"token": "partner-bench-token"}
    if path.startswith("/partner/app/") and path.endswith("/token"):
        token = {"token": "sk_bench_app_token", "expiresOn": 0, "active": True}
        return 200, {"status": "success", "token": token}
    if path.startswith("/partner/app/") and path.endswith("/media"):
        return 200, {"mediaId": f"m-{n}", "status": "success"}
    if path == "/v1/traces":  # an OTLP/HTTP collector's answer (bench: traces on)
        return 200, {}
    if path.startswith("/partner/app/") and path.endswith("/v3/message"):
        return 200, {"messages": [{"id": f"wamid.{n}"}]}
    return 404, {"message": "not found"}


# GET /bench/files/NAME serves the file NAME of this directory (the bench's 100 MB video),
# with its length declared, a MiB at a time: the URL a send by url downloads.
FILES = os.environ.get("BENCH_FILES")


async def _serve_file(scope: Scope, send: Send) -> None:
    name = scope["path"].removeprefix("/bench/files/")
    path = Path(FILES or "/nonexistent", name)
    if not FILES or "/" in name or not path.is_file():  # noqa: ASYNC240 - a bench
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [
        (b"content-type", b"video/mp4"),
        (b"content-length", str(path.stat().st_size).encode()),  # noqa: ASYNC240
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    with path.open("rb") as file:  # noqa: ASYNC230 - the bench reads from the page cache
        while chunk := file.read(1 << 20):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"].startswith("/bench/files/"):
        await _serve_file(scope, send)
        return
    more = True
    while more:  # read the whole body, as the real APIs do
        message = await receive()
        more = message.get("more_body", False)
    status, body = _answer(scope)
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})
