"""A faithful Gupshup Partner API simulator (login, app token, media id, v3 message).

Triggers (reserved app ids that make it fail on demand):

| app id | answer |
|---|---|
| `sandbox-400` | 400 "Only CAPI apps allowed to generate media ID" |
| `sandbox-401` | 401 on the media call every time |
| `sandbox-413` | 413 "File size exceeds the maximum limit!" (also any file over 100 MB) |
| `sandbox-429` | 429 "Too Many Requests" |
| `sandbox-500` | 500 "Unable to upload requested Media" |
| `sandbox-slow` | answers after `slow_s` seconds |
| `sandbox-garbage` | 200 with an HTML body |
| `sandbox-deep` | 200 with JSON nested 100,000 deep (deeper than a parser recurses) |

Message triggers (reserved `to` numbers on `POST /partner/app/{appId}/v3/message`):

| to | answer |
|---|---|
| `10000000400` | 400 "Recipient phone number not in allowed list" (Meta error 131030) |
| `10000000401` | 401 every time |
| `10000000429` | 429 "Too Many Requests" |
| `10000000500` | 500 "Internal error" |
| `10000000504` | answers after `slow_s` seconds |
| any | 400 "Media ID not found or expired" (131053) for an id this app was not given |

A message sent answers Gupshup's message id, and its events follow (version 3, carrying that
id as `gs_id` and a WhatsApp `wamid`): `enqueued` at once, then `sent`, `delivered` and `read`
within about a second, posted to the app's subscriptions (`POST /partner/app/{appId}/
subscription`, with their `meta` as headers) and, in a sandboxed gateway, to the gateway in
the process. Event triggers (reserved `to` numbers) make the message fail after `sent`:

| to | failed with |
|---|---|
| `10000131047` | 131047, more than 24 hours since the customer last replied |
| `10000131026` | 131026, message undeliverable |
| `10000001002` | 1002, number does not exist on WhatsApp |
| `10000001012` | 1012, user has opted out |
| `10000131053` | 131053, media upload error (the link refused Meta's fetcher) |
| `10000130429` | 130429, rate limit hit |
| `10000131000` | 131000, something went wrong (any other code) |

Control plane for tests (not part of Gupshup's API): `GET /_sandbox/log`, `GET /_sandbox/tokens`,
`POST /_sandbox/revoke` (every issued app token stops working).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr
from starlette.datastructures import UploadFile

from providers.base import ProviderSettings, Sandbox
from providers.gupshup import GupshupSettings
from simulators.gupshup_events import Events

MAX_FILE_BYTES = 100 * 1024 * 1024
# The app a sandboxed gateway sends to when the caller names none.
SANDBOX_APP_ID = "sandbox-app"
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
# Copied from Gupshup's documentation, not imported from the adapter: the simulator stands in
# for Gupshup, so an adapter that drifts from the documented list is caught, not mirrored.
ALLOWED_TYPES = frozenset(
    {
        "audio/aac",
        "audio/mp4",
        "audio/mpeg",
        "audio/amr",
        "audio/ogg",
        "audio/opus",
        "application/vnd.ms-powerpoint",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/pdf",
        "text/plain",
        "application/vnd.ms-excel",
        "image/jpeg",
        "image/png",
        "image/webp",
        "video/mp4",
        "video/3gpp",
    }
)
FAILURES = {
    "sandbox-400": (400, "Only CAPI apps allowed to generate media ID"),
    "sandbox-413": (413, "File size exceeds the maximum limit!"),
    "sandbox-429": (429, "Too Many Requests"),
    "sandbox-500": (500, "Unable to upload requested Media"),
}


@dataclass
class GupshupSimConfig:
    """Who the simulator accepts and how it behaves."""

    partner_email: str = "sandbox@example.com"
    partner_secret: str = "sandbox-partner-secret"
    static_app_tokens: dict[str, str] = field(default_factory=dict)
    slow_s: float = 120.0
    event_step_s: float = 0.3  # between two events of one message


@dataclass
class _State:
    partner_tokens: set[str] = field(default_factory=set)
    app_tokens: dict[str, str] = field(default_factory=dict)  # token -> app id
    media: dict[str, str] = field(default_factory=dict)  # media id -> app id
    log: list[dict[str, Any]] = field(default_factory=list)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message, "status": "error"}, status_code=status)


def _meta_error(status: int, message: str, code: int) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": "OAuthException", "code": code}},
        status_code=status,
    )


class _Simulator:
    """The simulator's state and its endpoints (each a method, registered by `create_app`)."""

    def __init__(self, cfg: GupshupSimConfig) -> None:
        self.cfg = cfg
        self.state = _State(app_tokens={token: app for app, token in cfg.static_app_tokens.items()})
        self.events = Events(step_s=cfg.event_step_s, log=self.state.log)

    async def login(self, request: Request) -> Response:
        form = await request.form()
        secret = form.get("secret") or form.get("password")
        self.state.log.append({"call": "login"})
        if form.get("email") != self.cfg.partner_email or secret != self.cfg.partner_secret:
            return _error(401, "Invalid email or secret")
        token = f"partner-{secrets.token_hex(16)}"
        self.state.partner_tokens.add(token)
        return JSONResponse({"token": token})

    async def app_token(self, request: Request, app_id: str) -> Response:
        self.state.log.append({"call": "app_token", "app": app_id})
        if request.headers.get("Authorization") not in self.state.partner_tokens:
            return _error(401, "Authentication Failed")
        token = f"sk_{secrets.token_hex(16)}"
        self.state.app_tokens[token] = app_id
        return JSONResponse(
            {"status": "success", "token": {"token": token, "expiresOn": 0, "active": True}}
        )

    async def media(self, request: Request, app_id: str) -> Response:
        state = self.state
        auth, token = request.headers.get("Authorization"), request.headers.get("token")
        if auth != token or state.app_tokens.get(auth or "") != app_id or app_id == "sandbox-401":
            state.log.append({"call": "media", "app": app_id, "status": 401})
            return _error(401, "Authentication Failed")
        async with request.form(max_files=2) as form:
            file, file_type = form.get("file"), form.get("file_type")
            entry: dict[str, Any] = {"call": "media", "app": app_id, "file_type": file_type}
            if isinstance(file, UploadFile):
                entry.update(filename=file.filename, size=file.size, part_type=file.content_type)
            else:
                entry["url"] = file
            state.log.append(entry)
            if (triggered := await self._triggered(app_id)) is not None:
                return triggered
            if (refused := _refused_media(file, file_type)) is not None:
                return refused
        media_id = str(secrets.randbelow(10**15) + 10**15)
        state.media[media_id] = app_id
        return JSONResponse({"mediaId": media_id, "status": "success"})

    async def _triggered(self, app_id: str) -> Response | None:
        """What a `sandbox-<trigger>` app answers instead of an upload, if anything."""
        if app_id in FAILURES:
            return _error(*FAILURES[app_id])
        if app_id == "sandbox-slow":
            await asyncio.sleep(self.cfg.slow_s)
        if app_id == "sandbox-garbage":
            return Response("<html>bad gateway</html>", media_type="text/html")
        if app_id == "sandbox-deep":
            return Response(DEEP_JSON, media_type="application/json")
        return None

    async def message(self, request: Request, app_id: str) -> Response:
        auth = request.headers.get("Authorization")
        try:
            body = await request.json()
        except ValueError:
            body = None
        to = body.get("to") if isinstance(body, dict) else None
        self.state.log.append({"call": "message", "app": app_id, "to": to, "body": body})
        if self.state.app_tokens.get(auth or "") != app_id or to == "10000000401":
            return _error(401, "Authentication Failed")
        if not isinstance(body, dict):
            return _meta_error(400, "Invalid JSON body", 100)
        if (refused := _refused_message(body)) is not None:
            return refused
        assert isinstance(to, str)
        if (triggered := await self._recipient_trigger(to)) is not None:
            return triggered
        media = body[body["type"]]
        if self.state.media.get(str(media.get("id"))) != app_id:
            return _meta_error(400, "Media ID not found or expired", 131053)
        # Gupshup's own message id (its events carry it as gs_id, beside WhatsApp's wamid).
        gs_id = str(uuid.uuid4())
        self.events.message_sent(app_id, to, gs_id)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [{"id": gs_id}],
            }
        )

    async def subscription(self, request: Request, app_id: str) -> Response:
        auth = request.headers.get("Authorization")
        if self.state.app_tokens.get(auth or "") != app_id:
            return _error(401, "Authentication Failed")
        if request.method == "GET":
            self.state.log.append({"call": "subscriptions", "app": app_id})
            return JSONResponse(self.events.listed(app_id))
        form = dict(await request.form())
        self.state.log.append({"call": "subscribe", "app": app_id, "form": form})
        status, answer = self.events.subscribe(app_id, form)
        return JSONResponse(answer, status_code=status)

    async def _recipient_trigger(self, to: str) -> Response | None:
        """What a `1000000xxxx` recipient answers instead of a message, if anything."""
        if to == "10000000400":
            return _meta_error(400, "Recipient phone number not in allowed list", 131030)
        if to == "10000000429":
            return _error(429, "Too Many Requests")
        if to == "10000000500":
            return _meta_error(500, "Internal error", 1)
        if to == "10000000504":
            await asyncio.sleep(self.cfg.slow_s)
        return None

    async def control_log(self) -> list[dict[str, Any]]:
        return self.state.log

    async def control_tokens(self) -> dict[str, Any]:
        return {
            "partner_tokens": sorted(self.state.partner_tokens),
            "app_tokens": sorted(self.state.app_tokens),
        }

    async def control_revoke(self) -> dict[str, int]:
        revoked = len(self.state.app_tokens)
        self.state.app_tokens.clear()
        return {"revoked": revoked}


def _refused_media(file: Any, file_type: Any) -> Response | None:
    if file is None or not isinstance(file_type, str) or not file_type:
        return _error(400, "file and file_type are required")
    if file_type not in ALLOWED_TYPES:
        return _error(400, f"Unsupported file_type {file_type}")
    if isinstance(file, UploadFile) and (file.size or 0) > MAX_FILE_BYTES:
        return _error(413, "File size exceeds the maximum limit!")
    if isinstance(file, str) and not file.startswith(("http://", "https://")):
        return _error(400, "file must be a public URL or a file")
    return None


def _refused_message(body: dict[str, Any]) -> Response | None:
    """Meta's refusal of a message body that is not a media message it takes."""
    to, kind = body.get("to"), body.get("type")
    media = body.get(kind) if isinstance(kind, str) else None
    if (
        body.get("messaging_product") != "whatsapp"
        or body.get("recipient_type") != "individual"
        or not isinstance(to, str)
        or not to.isdigit()
        or kind not in ("image", "video", "audio", "document")
        or not isinstance(media, dict)
    ):
        return _meta_error(400, "Invalid parameter", 100)
    if kind == "audio" and "caption" in media:
        return _meta_error(400, "Audio messages take no caption", 100)
    return None


def create_app(config: GupshupSimConfig | None = None) -> FastAPI:
    """The simulator as an ASGI app."""
    sim = _Simulator(config or GupshupSimConfig())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await sim.events.aclose()

    app = FastAPI(
        title="Gupshup sandbox", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan
    )
    app.state.events = sim.events
    app.add_api_route("/partner/account/login", sim.login, methods=["POST"])
    app.add_api_route("/partner/app/{app_id}/token", sim.app_token, methods=["GET"])
    app.add_api_route("/partner/app/{app_id}/media", sim.media, methods=["POST"])
    app.add_api_route("/partner/app/{app_id}/v3/message", sim.message, methods=["POST"])
    app.add_api_route(
        "/partner/app/{app_id}/subscription", sim.subscription, methods=["GET", "POST"]
    )
    app.add_api_route("/_sandbox/log", sim.control_log, methods=["GET"])
    app.add_api_route("/_sandbox/tokens", sim.control_tokens, methods=["GET"])
    app.add_api_route("/_sandbox/revoke", sim.control_revoke, methods=["POST"])
    return app


def from_env() -> FastAPI:
    """Factory for `uvicorn --factory simulators.gupshup:from_env` (SANDBOX_* variables)."""
    env = os.environ
    return create_app(
        GupshupSimConfig(
            partner_secret=env.get("SANDBOX_PARTNER_SECRET", "sandbox-partner-secret"),
            slow_s=float(env.get("SANDBOX_SLOW_S", 120)),
            event_step_s=float(env.get("SANDBOX_EVENT_STEP_S", 0.3)),
        )
    )


def sandbox(settings: ProviderSettings) -> Sandbox:
    """The simulator embedded in the gateway, and settings that point the adapter at it."""
    assert isinstance(settings, GupshupSettings)
    config = GupshupSimConfig()
    app = create_app(config)
    return Sandbox(
        app=app,
        settings=settings.model_copy(
            update={
                "base_url": "http://gupshup.sandbox",
                # So a send needs no app_id out of the box, as with GUPSHUP_APP_ID set.
                "app_id": settings.app_id or SANDBOX_APP_ID,
                "partner_email": config.partner_email,
                "partner_secret": SecretStr(config.partner_secret),
            }
        ),
        # Its events reach the gateway in the process: no public URL, no token.
        events=app.state.events,
    )
