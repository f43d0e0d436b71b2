"""A faithful Kaizala connector API simulator (auth, media upload, action post, 308 moves).

Triggers (reserved values that make it fail on demand):

| where | value | answer |
|---|---|---|
| group id | `sandbox-400@1` (also 403, 404, 500, 503) | that status, Kaizala error body |
| group id | `sandbox-401@1` | 401 InvalidToken every time, even with a fresh token |
| group id | `sandbox-429@1` | 429 with `Retry-After: 7` |
| group id | `sandbox-slow@1` | answers after `slow_s` seconds |
| group id | `sandbox-garbage@1` | 200 with an HTML body |
| group id | `sandbox-deep@1` | 200 with JSON nested 100,000 deep (deeper than a parser recurses) |
| group id | `sandbox-moved@1` | 308 to a new base, which serves the resend and later calls |
| file name | `sandbox-415.*`, `sandbox-413.*`, `sandbox-500.*` | that status from /v1/media |

Control plane for tests (not part of Kaizala's API): `POST /_sandbox/move` (next call to the
old base gets a 308), `POST /_sandbox/revoke` (every issued token stops working),
`GET /_sandbox/log` (the calls received), `GET /_sandbox/tokens` (tokens issued).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr
from starlette.datastructures import UploadFile

from providers.base import ProviderSettings, Sandbox
from providers.kaizala import KaizalaSettings

SUPPORTED = frozenset(
    {
        "image/jpeg",
        "image/png",
        "audio/mpeg",
        "audio/wav",
        "audio/x-wav",
        "video/mp4",
        "video/3gpp",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
ACTION_TYPES = frozenset({"Image", "Album", "Audio", "Document", "Video"})
STATUS_TRIGGERS = {"400": 400, "403": 403, "404": 404, "500": 500, "503": 503}


@dataclass
class KaizalaSimConfig:
    """Who the simulator accepts and how it behaves."""

    application_id: str = "sandbox-application"
    application_secret: str = "sandbox-application-secret"
    refresh_token: str = "sandbox-refresh-token"
    public_url: str = "http://kaizala.sandbox"
    token_ttl_s: float = 24 * 3600
    slow_s: float = 120.0
    rotate_refresh_token: bool = False


@dataclass
class _State:
    tokens: dict[str, float] = field(default_factory=dict)
    media: dict[str, list[str]] = field(default_factory=dict)
    prefix: str = ""
    moves: int = 0
    move_next: bool = False
    # True between a sandbox-moved post that moved the endpoint and its resend.
    trigger_moved: bool = False
    refresh_token: str = ""
    log: list[dict[str, Any]] = field(default_factory=list)


def _error(
    status: int, message: str, code: str, category: str = "ServiceException"
) -> JSONResponse:
    body = {"message": message, "errorCode": code, "errorCategoryKey": category}
    return JSONResponse(body, status_code=status)


class _Simulator:
    """The simulator's state and its endpoints (each a method, registered by `create_app`)."""

    def __init__(self, cfg: KaizalaSimConfig) -> None:
        self.cfg = cfg
        self.state = _State(refresh_token=cfg.refresh_token)

    def token_ok(self, request: Request) -> bool:
        expiry = self.state.tokens.get(request.headers.get("accessToken", ""))
        return expiry is not None and time.time() < expiry

    @staticmethod
    def invalid_token() -> JSONResponse:
        return _error(401, "Access token is invalid or expired", "InvalidToken", "AuthException")

    def base(self) -> str:
        root = self.cfg.public_url.rstrip("/")
        return f"{root}/{self.state.prefix}" if self.state.prefix else root

    def moved(self, request: Request, prefix: str) -> Response | None:
        """A 308 when the call came to a base that is no longer current."""
        state = self.state
        if state.move_next and prefix == state.prefix:
            state.move_next = False
            state.moves += 1
            state.prefix = f"moved-{state.moves}"
        if prefix == state.prefix:
            return None
        # The path as it came (a group id's @ still %40), as a real server repeats it.
        raw = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        api_path = raw[raw.index("/v1/") :]
        return Response(status_code=308, headers={"Location": f"{self.base()}{api_path}"})

    async def access_token(self, request: Request) -> Response:
        h, cfg, state = request.headers, self.cfg, self.state
        state.log.append({"call": "auth", "path": request.url.path})
        if (
            h.get("applicationId") != cfg.application_id
            or h.get("applicationSecret") != cfg.application_secret
            or h.get("refreshToken") != state.refresh_token
        ):
            return _error(
                401, "Invalid application credentials", "Unauthenticated", "AuthException"
            )
        token = uuid.uuid4().hex + uuid.uuid4().hex
        expiry = time.time() + cfg.token_ttl_s
        state.tokens[token] = expiry
        replacement = ""
        if cfg.rotate_refresh_token:
            replacement = f"sandbox-rotated-{uuid.uuid4().hex}"
            state.refresh_token = replacement
        return JSONResponse(
            {
                "accessToken": token,
                # Samples show endpointUrl with and without a trailing slash; send one.
                "endpointUrl": self.base() + "/",
                "accessTokenExpiry": int(expiry * 1000),
                "refreshToken": replacement,
                "scope": "connector",
            }
        )

    async def upload(self, request: Request, prefix: str = "") -> Response:
        if (answer := self.moved(request, prefix)) is not None:
            return answer
        if not self.token_ok(request):
            return self.invalid_token()
        async with request.form(max_files=100) as form:
            parts = form.getlist("files")
            files = [p for p in parts if isinstance(p, UploadFile)]
            entry = {
                "call": "upload",
                "path": request.url.path,
                "files": [(f.filename, f.content_type, f.size) for f in files],
                "sha256": [_digest(f) for f in files],  # the bytes as received
            }
            self.state.log.append(entry)
            if not files:
                return _error(400, "No file part named 'files'", "InvalidParameters")
            for f in files:
                if (refused := _refused_upload(f)) is not None:
                    return refused
            resource = f"kz-media-{uuid.uuid4().hex}"
            self.state.media[resource] = [f.content_type or "" for f in files]
        return JSONResponse({"mediaResource": resource})

    async def post_action(self, request: Request, group_id: str, prefix: str = "") -> Response:
        state = self.state
        trigger = group_id.removeprefix("sandbox-").split("@", 1)[0]
        if group_id.startswith("sandbox-moved") and prefix == state.prefix:
            # Move at once for this call only; its resend (to the new base) is served.
            if not state.trigger_moved:
                state.move_next = True
            state.trigger_moved = not state.trigger_moved
        if (answer := self.moved(request, prefix)) is not None:
            return answer
        if not self.token_ok(request) or (group_id.startswith("sandbox-") and trigger == "401"):
            return self.invalid_token()
        try:
            payload = await request.json()
        except ValueError:
            return _error(400, "Body is not JSON", "InvalidParameters")
        state.log.append(
            {"call": "post", "path": request.url.path, "group": group_id, "body": payload}
        )
        if group_id.startswith("sandbox-") and (
            triggered := await self._triggered(trigger, group_id)
        ):
            return triggered
        return self._action(payload)

    async def _triggered(self, trigger: str, group_id: str) -> Response | None:
        """What a `sandbox-<trigger>@…` group answers instead of a post, if anything."""
        if trigger in STATUS_TRIGGERS:
            status = STATUS_TRIGGERS[trigger]
            return _error(status, f"Simulated {status} for group {group_id}", f"Simulated{status}")
        if trigger == "429":
            return JSONResponse(
                {"message": "Too many requests", "errorCode": "Throttled"},
                status_code=429,
                headers={"Retry-After": "7"},
            )
        if trigger == "slow":
            await asyncio.sleep(self.cfg.slow_s)
        if trigger == "garbage":
            return Response("<html>gateway error</html>", media_type="text/html")
        if trigger == "deep":
            return Response(b"[" * 100_000 + b"]" * 100_000, media_type="application/json")
        return None

    def _action(self, payload: Any) -> Response:
        body = payload.get("actionBody") if isinstance(payload, dict) else None
        action = payload.get("actionType") if isinstance(payload, dict) else None
        if action not in ACTION_TYPES or not isinstance(body, dict):
            return _error(400, "actionType and actionBody are required", "InvalidParameters")
        types = self.state.media.get(body.get("mediaResource", ""))
        if types is None:
            return _error(400, "Unknown mediaResource", "InvalidParameters")
        images = all(t.startswith("image/") for t in types)
        if (action == "Album") != (len(types) > 1) or (action in ("Image", "Album") and not images):
            return _error(400, f"{action} does not match the uploaded media", "InvalidParameters")
        return JSONResponse({"referenceId": str(uuid.uuid4()), "actionId": str(uuid.uuid4())})

    async def control_move(self) -> dict[str, str]:
        self.state.move_next = True
        return {"status": "the next call to the current base gets a 308"}

    async def control_revoke(self) -> dict[str, int]:
        revoked = len(self.state.tokens)
        self.state.tokens.clear()
        return {"revoked": revoked}

    async def control_log(self) -> list[dict[str, Any]]:
        return self.state.log

    async def control_tokens(self) -> dict[str, Any]:
        return {"access_tokens": list(self.state.tokens), "refresh_token": self.state.refresh_token}


def _refused_upload(upload: UploadFile) -> Response | None:
    name = upload.filename or ""
    for status in (415, 413, 500):
        if name.startswith(f"sandbox-{status}"):
            return _error(status, f"Simulated {status}", f"Simulated{status}")
    if (upload.content_type or "").split(";")[0].strip().lower() not in SUPPORTED:
        return Response(status_code=415)
    return None


def create_app(config: KaizalaSimConfig | None = None) -> FastAPI:
    """The simulator as an ASGI app."""
    sim = _Simulator(config or KaizalaSimConfig())
    app = FastAPI(title="Kaizala sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_api_route("/v1/accessToken", sim.access_token, methods=["GET"])
    for prefix in ("", "/{prefix}"):
        app.add_api_route(f"{prefix}/v1/media", sim.upload, methods=["POST"])
        app.add_api_route(
            f"{prefix}/v1/groups/{{group_id}}/actions", sim.post_action, methods=["POST"]
        )
    app.add_api_route("/_sandbox/move", sim.control_move, methods=["POST"])
    app.add_api_route("/_sandbox/revoke", sim.control_revoke, methods=["POST"])
    app.add_api_route("/_sandbox/log", sim.control_log, methods=["GET"])
    app.add_api_route("/_sandbox/tokens", sim.control_tokens, methods=["GET"])
    return app


def _digest(upload: UploadFile) -> str:
    digest = hashlib.sha256()
    upload.file.seek(0)
    while chunk := upload.file.read(1 << 20):
        digest.update(chunk)
    upload.file.seek(0)
    return digest.hexdigest()


def from_env() -> FastAPI:
    """Factory for `uvicorn --factory simulators.kaizala:from_env` (SANDBOX_* variables)."""
    env = os.environ
    return create_app(
        KaizalaSimConfig(
            public_url=env.get("SANDBOX_PUBLIC_URL", "http://127.0.0.1:8001"),
            token_ttl_s=float(env.get("SANDBOX_TOKEN_TTL_S", 24 * 3600)),
            slow_s=float(env.get("SANDBOX_SLOW_S", 120)),
            application_id=env.get("SANDBOX_APPLICATION_ID", "sandbox-application"),
            application_secret=env.get("SANDBOX_APPLICATION_SECRET", "sandbox-application-secret"),
            rotate_refresh_token=env.get("SANDBOX_ROTATE_REFRESH_TOKEN", "") == "true",
            refresh_token=env.get("SANDBOX_REFRESH_TOKEN", "sandbox-refresh-token"),
        )
    )


def sandbox(settings: ProviderSettings) -> Sandbox:
    """The simulator embedded in the gateway, and settings that point the adapter at it."""
    assert isinstance(settings, KaizalaSettings)
    config = KaizalaSimConfig(public_url="http://kaizala.sandbox")
    return Sandbox(
        app=create_app(config),
        settings=settings.model_copy(
            update={
                "auth_url": config.public_url,
                "application_id": config.application_id,
                "application_secret": SecretStr(config.application_secret),
                "refresh_token": SecretStr(config.refresh_token),
            }
        ),
    )
