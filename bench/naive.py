"""The naive proxy: what a user would write in a page instead of the gateway, to compare
with (issue 19, goal 2). FastAPI, one shared httpx client, a Gupshup URL send forwarded as
the media call, checking nothing (no key, no fields, no type, no limits, no errors mapped).

    BENCH_UPSTREAM=http://127.0.0.1:9000 uvicorn bench.naive:app --http httptools --loop asyncio
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:9000")
client = httpx.AsyncClient(base_url=UPSTREAM)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    await client.aclose()


app = FastAPI(lifespan=lifespan)


@app.get("/")
async def ready() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/send-media")
async def send_media(request: Request) -> dict[str, Any]:
    body = await request.json()
    answer = await client.post(
        "/partner/app/bench-app/media",
        data={"file_type": "application/pdf"},
        files={"file": ("", body["url"].encode(), "text/plain")},
        headers={"Authorization": "sk_bench_app_token"},
    )
    return {"provider": "gupshup", "media_id": answer.json()["mediaId"], "sandbox": False}
