"""The echo service's simulator: embedded when ECHO_TOKEN is unset, or run as a server with
`uvicorn --factory echo_simulator:from_env`."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from providers import ProviderSettings, Sandbox

SANDBOX_TOKEN = "echo-sandbox-token"


def create_app(token: str = SANDBOX_TOKEN) -> Starlette:
    log: list[dict[str, Any]] = []

    async def media(request: Request) -> JSONResponse:
        if request.headers.get("token") != token:
            return JSONResponse({"message": "bad token"}, status_code=401)
        channel = request.path_params["channel"]
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                return JSONResponse({"message": "no file"}, status_code=400)
            data = await upload.read()
        log.append({"channel": channel, "filename": upload.filename, "size": len(data)})
        if channel == "sandbox-500":
            return JSONResponse({"message": "echo failed"}, status_code=500)
        return JSONResponse({"id": "echo-" + hashlib.sha256(data).hexdigest()[:16]})

    async def sandbox_log(request: Request) -> JSONResponse:
        return JSONResponse(log)

    return Starlette(
        routes=[
            Route("/channels/{channel}/media", media, methods=["POST"]),
            Route("/_sandbox/log", sandbox_log),
        ]
    )


def sandbox(settings: ProviderSettings) -> Sandbox:
    return Sandbox(
        app=create_app(),
        settings=settings.model_copy(
            update={"base_url": "http://echo.sandbox", "token": SecretStr(SANDBOX_TOKEN)}
        ),
    )


def from_env() -> Starlette:
    return create_app(os.environ.get("SANDBOX_TOKEN", SANDBOX_TOKEN))
