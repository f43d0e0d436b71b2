"""Gupshup Partner API: turn a file or a public URL into a WhatsApp media id."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from providers.base import (
    OPAQUE_ID_PATTERN,
    Capabilities,
    ProviderSettings,
    ProviderSpec,
    opaque_id,
)
from providers.errors import (
    ProviderError,
    ProviderRejectedError,
    Stage,
    TargetError,
)
from providers.http import (
    Answer,
    ProviderContext,
    Token,
    TokenCell,
    TokenShare,
    checked_base,
    message_of,
    normalize_base,
    renewing,
    status_error,
    upload_form,
)
from providers.media import Delivery, MediaRequest, MediaType
from providers.redact import Redactor

NAME = "gupshup"
MIB = 1024 * 1024
MAX_FILE_BYTES = 100 * MIB
# What WhatsApp delivers, per media type, although an upload takes up to 100 MB.
DELIVERY_MAX_BYTES = {
    MediaType.IMAGE: 5 * MIB,
    MediaType.AUDIO: 16 * MIB,
    MediaType.VIDEO: 16 * MIB,
    MediaType.DOCUMENT: 100 * MIB,
}
# Meta's message object per media type; WhatsApp captions every kind but audio.
MESSAGE_TYPES = {
    MediaType.IMAGE: "image",
    MediaType.AUDIO: "audio",
    MediaType.VIDEO: "video",
    MediaType.DOCUMENT: "document",
}
CAPTIONED = frozenset({MediaType.IMAGE, MediaType.VIDEO, MediaType.DOCUMENT})
# A WhatsApp image message takes JPEG and PNG; WebP is a sticker, another message type.
DELIVERY_FORMATS = {MediaType.IMAGE: frozenset({"image/jpeg", "image/png"})}
# Gupshup keeps media 30 days; an id is reused for the same bytes (or URL) and app for 25,
# so none is sent near the end of its life.
MEDIA_REUSE_S = 25 * 86_400
_PHONE = re.compile(r"^[1-9][0-9]{7,14}$")
FORMATS = {
    MediaType.IMAGE: frozenset({"image/jpeg", "image/png", "image/webp"}),
    MediaType.AUDIO: frozenset(
        {"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg", "audio/opus"}
    ),
    MediaType.VIDEO: frozenset({"video/mp4", "video/3gpp"}),
    MediaType.DOCUMENT: frozenset(
        {
            "application/vnd.ms-powerpoint",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/pdf",
            "text/plain",
            "application/vnd.ms-excel",
        }
    ),
}
PARTNER_TOKEN_LIFE_S = 23 * 3600  # Gupshup says 24 h; renew an hour early.
# Callers choose the app in chain mode; bound how many apps' tokens one process remembers.
MAX_CACHED_APPS = 1024


class GupshupSettings(ProviderSettings):
    """Gupshup credentials: a static app token, or the partner login chain; none means sandbox."""

    model_config = SettingsConfigDict(env_prefix="GUPSHUP_", env_file=".env", extra="ignore")

    base_url: str = "https://partner.gupshup.io"
    app_id: str | None = None
    app_token: SecretStr | None = None
    partner_email: str | None = None
    partner_secret: SecretStr | None = None

    @property
    def chain_mode(self) -> bool:
        return self.partner_email is not None

    @property
    def live(self) -> bool:
        credentials = (self.app_id, self.app_token, self.partner_email, self.partner_secret)
        return any(value is not None for value in credentials)

    @model_validator(mode="after")
    def _check_mode(self) -> GupshupSettings:
        if self.app_token is not None and (self.partner_email or self.partner_secret):
            raise ValueError(
                "set either GUPSHUP_APP_TOKEN or the partner login "
                "(GUPSHUP_PARTNER_EMAIL, GUPSHUP_PARTNER_SECRET), not both"
            )
        if (self.partner_email is None) != (self.partner_secret is None):
            given, missing = (
                ("GUPSHUP_PARTNER_EMAIL", "GUPSHUP_PARTNER_SECRET")
                if self.partner_secret is None
                else ("GUPSHUP_PARTNER_SECRET", "GUPSHUP_PARTNER_EMAIL")
            )
            raise ValueError(
                f"{given} set, so Gupshup is meant to be live, but token-chain mode also "
                f"needs {missing}"
            )
        if self.app_token is not None and self.app_id is None:
            raise ValueError(
                "GUPSHUP_APP_TOKEN set, so Gupshup is meant to be live, but static app-token "
                "mode also needs GUPSHUP_APP_ID"
            )
        if self.app_id is not None and self.app_token is None and not self.chain_mode:
            raise ValueError(
                "GUPSHUP_APP_ID set, so Gupshup is meant to be live, but it needs "
                "GUPSHUP_APP_TOKEN (static app-token mode), or GUPSHUP_PARTNER_EMAIL and "
                "GUPSHUP_PARTNER_SECRET (token-chain mode)"
            )
        if checked_base(self.base_url) is None:
            raise ValueError("GUPSHUP_BASE_URL is not an http or https URL")
        self.refuse_placeholders(
            GUPSHUP_APP_TOKEN=self.app_token, GUPSHUP_PARTNER_SECRET=self.partner_secret
        )
        return self


class GupshupTarget(BaseModel):
    """Where a Gupshup send goes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    app_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Gupshup: the app; defaults to GUPSHUP_APP_ID; never `.` or `..`.",
        examples=["my-app"],
        json_schema_extra={"pattern": OPAQUE_ID_PATTERN},
    )
    to: str | None = Field(
        default=None,
        max_length=16,
        description="Gupshup: also deliver the media to this WhatsApp user: the phone "
        "number with its country code, digits only (a leading + is allowed).",
        examples=["919876543210"],
        json_schema_extra={"pattern": r"^\+?[1-9][0-9]{7,14}$"},
    )

    @field_validator("app_id")
    @classmethod
    def _safe_app_id(cls, value: str | None) -> str | None:
        return value if value is None else opaque_id(value)

    @field_validator("to")
    @classmethod
    def _phone_number(cls, value: str | None) -> str | None:
        if value is None:
            return value
        digits = value.removeprefix("+")
        if not _PHONE.match(digits):
            raise ValueError(
                "to must be a phone number with its country code, 8 to 15 digits, "
                "such as 919876543210"
            )
        return digits


class GupshupProvider:
    """Uploads one file, or passes one URL, to /partner/app/{appId}/media."""

    def __init__(
        self,
        settings: GupshupSettings,
        context: ProviderContext,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._redact = Redactor()
        self._upstream = context.upstream(NAME, self._redact, self._failure)
        self._base = checked_base(settings.base_url) or normalize_base(settings.base_url)
        self._memo = context.memo
        self._static: Token | None = None
        self._share: TokenShare | None = None
        self._partner: TokenCell | None = None
        self._apps: dict[str, TokenCell] = {}
        if settings.app_token is not None:
            self._static = Token(settings.app_token.get_secret_value(), float("inf"))
        else:
            assert settings.partner_email is not None
            assert settings.partner_secret is not None
            # Sealed with the partner secret: only holders of it can read the cache.
            self._share = context.share(
                f"gupshup:{self._base}:{settings.partner_email}",
                settings.partner_secret.get_secret_value(),
            )
            self._partner = TokenCell(
                self._login, provider=NAME, clock=clock, share=self._share, name="partner"
            )
        for secret in (settings.app_token, settings.partner_secret):
            self._redact.add(secret.get_secret_value() if secret else None)
        self._capabilities = Capabilities(
            formats=FORMATS, max_file_bytes=MAX_FILE_BYTES, url_passthrough=True
        )

    # Media ids are remembered by the bytes' SHA-256; the send (`to`) is announced.
    remembers_media = True
    announces_delivery = True

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def check(self, request: MediaRequest) -> None:
        """What a WhatsApp delivery (`to`) takes beyond an upload: a caption only with
        one, and not on audio; JPEG or PNG images; 5 MB images, 16 MB audio and video."""
        target = request.target
        assert isinstance(target, GupshupTarget)
        kind = request.media_type
        if request.caption and target.to is None:
            raise TargetError(
                "caption",
                f"{NAME} takes a caption only with to (a delivery); a media upload alone "
                "takes none",
            )
        if request.caption and kind not in CAPTIONED:
            raise TargetError("caption", f"{NAME} does not caption {kind.value}")
        if target.to is None:
            return
        formats = DELIVERY_FORMATS.get(kind)
        mimes = [f.content_type for f in request.files] or [request.content_type or ""]
        for mime in mimes:
            if formats is not None and mime not in formats:
                raise TargetError(
                    "file",
                    f"{NAME} delivers {kind.value} as {', '.join(sorted(formats))}, not "
                    f"{mime}; without to it only uploads it.",
                    status=415,
                )
        most = DELIVERY_MAX_BYTES.get(kind)
        for media in request.files:
            if most is not None and media.size > most:
                raise TargetError(
                    "file",
                    f"{media.filename!r} is {_megabytes(media.size)}; {NAME} delivers "
                    f"{kind.value} of at most {_megabytes(most)} ({most} bytes).",
                    status=413,
                )

    def describe(self) -> dict[str, Any]:
        return {
            "caption_media_types": sorted(m.value for m in CAPTIONED),
            "caption_requires": "to",
            "delivery": "to",
            "delivery_max_bytes": {m.value: n for m, n in DELIVERY_MAX_BYTES.items()},
            "delivery_formats": {m.value: sorted(f) for m, f in DELIVERY_FORMATS.items()},
        }

    def resolve(self, target: BaseModel) -> BaseModel:
        """The target with the default app (GUPSHUP_APP_ID) when it names none."""
        assert isinstance(target, GupshupTarget)
        if target.app_id is not None or self._settings.app_id is None:
            return target
        return target.model_copy(update={"app_id": self._settings.app_id})

    async def send(self, request: MediaRequest) -> Delivery:
        target = request.target
        assert isinstance(target, GupshupTarget), "the gateway validates with SPEC.target"
        app_id = target.app_id or self._settings.app_id
        if app_id is None:
            raise TargetError(
                "app_id", "app_id is required: this gateway has no default app (GUPSHUP_APP_ID)"
            )
        if self._static is not None and app_id != self._settings.app_id:
            raise TargetError(
                "app_id",
                f"this gateway holds a token for the gupshup app {self._settings.app_id!r} "
                "only; send that app_id or leave it out",
            )
        token = await self._app_token(app_id)
        key = _memo_key(self._base, app_id, request)
        reused = False
        if request.reuse_media_id is not None:
            # An earlier attempt uploaded it and its send certainly failed: send that one.
            media_id = request.reuse_media_id
        elif (remembered := await self._recall(key)) is not None:
            media_id, reused = remembered, True
        else:
            media_id, token = await self._upload(request, app_id, token)
            await self._remember(key, media_id)
        if target.to is None:
            return Delivery(media_id=media_id, media_reused=reused)
        try:
            try:
                await request.delivering(media_id)
                message_id = await self._deliver(request, app_id, target.to, media_id, token)
            except ProviderRejectedError:
                if not reused:
                    raise
                # Gupshup refused a remembered id (expired, or not this app's any more):
                # forget it, upload once more, and send that.
                await self._forget(key)
                media_id, token = await self._upload(request, app_id, token)
                await self._remember(key, media_id)
                reused = False
                await request.delivering(media_id)
                message_id = await self._deliver(request, app_id, target.to, media_id, token)
        except ProviderError as exc:
            if exc.stage is not Stage.SEND:
                raise
            # The send is what delivers: if Gupshup may have acted on it, a retry could
            # deliver the message twice.
            raise exc.after_upload(media_id, delivering=True) from exc
        return Delivery(media_id=media_id, message_id=message_id, media_reused=reused)

    async def _recall(self, key: str | None) -> str | None:
        return await self._memo.get(key) if key is not None else None

    async def _remember(self, key: str | None, media_id: str) -> None:
        if key is not None:
            await self._memo.put(key, media_id, MEDIA_REUSE_S)

    async def _forget(self, key: str | None) -> None:
        if key is not None:
            await self._memo.forget(key)

    async def _upload(self, request: MediaRequest, app_id: str, token: Token) -> tuple[str, Token]:
        """POST /partner/app/{appId}/media: the media id of a file or a URL."""
        if request.url is not None:
            assert request.content_type is not None
            form = upload_form("file", [], {"file": request.url, "file_type": request.content_type})
        else:
            (media,) = request.files
            form = upload_form("file", request.files, {"file_type": media.content_type})
        size = sum(f.size for f in request.files)
        url = f"{self._base}/partner/app/{quote(app_id, safe='')}/media"

        async def upload(token: Token) -> Answer:
            build = partial(httpx.Request, "POST", url, headers=_auth(token.value), **form)
            return await self._upstream.call(Stage.UPLOAD, build, upload_bytes=size)

        answer, token = await renewing(self._renewable(app_id), token, upload)
        body = self._upstream.body(answer, Stage.UPLOAD)
        media_id = body.get("mediaId")
        if isinstance(media_id, int) and not isinstance(media_id, bool):
            media_id = str(media_id)
        if not isinstance(media_id, str) or not media_id or body.get("status") != "success":
            raise self._upstream.unreadable(
                Stage.UPLOAD, "answered 200 without a mediaId", message_of(body)
            )
        return media_id, token

    async def _deliver(
        self, request: MediaRequest, app_id: str, to: str, media_id: str, token: Token
    ) -> str:
        """POST /partner/app/{appId}/v3/message: the media, by id, to a WhatsApp user."""
        kind = MESSAGE_TYPES[request.media_type]
        media: dict[str, str] = {"id": media_id}
        if request.caption and request.media_type in CAPTIONED:
            media["caption"] = request.caption
        if request.media_type is MediaType.DOCUMENT:
            media["filename"] = _filename(request)
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
            kind: media,
        }
        url = f"{self._base}/partner/app/{quote(app_id, safe='')}/v3/message"

        async def send(token: Token) -> Answer:
            build = partial(httpx.Request, "POST", url, headers=_auth(token.value), json=payload)
            return await self._upstream.call(Stage.SEND, build)

        # A 401 is refused before it was acted on: a new app token, and once more.
        answer, _ = await renewing(self._renewable(app_id), token, send)
        if not 200 <= answer.status < 300:
            raise self._failure(answer, Stage.SEND)
        body = answer.json()
        messages = body.get("messages") if isinstance(body, dict) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        message_id = first.get("id") if isinstance(first, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise self._upstream.unreadable(
                Stage.SEND, f"answered {answer.status} without a message id"
            )
        return message_id

    def _renewable(self, app_id: str) -> TokenCell | None:
        """Where a refused app token is renewed (a static token is not)."""
        return None if self._static is not None else self._app_cell(app_id)

    async def _app_token(self, app_id: str) -> Token:
        if self._static is not None:
            return self._static
        return await self._app_cell(app_id).get()

    def _app_cell(self, app_id: str) -> TokenCell:
        cell = self._apps.get(app_id)
        if cell is None:
            if len(self._apps) >= MAX_CACHED_APPS:
                del self._apps[next(iter(self._apps))]
            cell = TokenCell(
                partial(self._fetch_app_token, app_id),
                provider=NAME,
                clock=self._clock,
                share=self._share,
                name=f"app:{app_id}",
            )
            self._apps[app_id] = cell
        return cell

    async def _fetch_app_token(self, app_id: str) -> Token:
        """GET /partner/app/{appId}/token with the partner token (logging in when needed)."""
        assert self._partner is not None
        url = f"{self._base}/partner/app/{quote(app_id, safe='')}/token"

        async def fetch(partner: Token) -> Answer:
            headers = {"Authorization": partner.value}
            return await self._upstream.call(
                Stage.AUTH, partial(httpx.Request, "GET", url, headers=headers)
            )

        answer, _ = await renewing(self._partner, await self._partner.get(), fetch)
        body = self._upstream.body(answer, Stage.AUTH)
        inner = body.get("token")
        value = inner.get("token") if isinstance(inner, dict) else None
        if not isinstance(value, str) or not value:
            raise self._upstream.unreadable(Stage.AUTH, "answered the app token call without one")
        self._redact.add(value)
        expires_on = inner.get("expiresOn") if isinstance(inner, dict) else None
        refresh_at = float("inf")
        if isinstance(expires_on, int | float) and expires_on > 0:
            # expiresOn is epoch milliseconds; 0 means the token does not expire.
            refresh_at = float(expires_on) / 1000.0 - 60.0
        return Token(value, refresh_at)

    async def _login(self) -> Token:
        """POST /partner/account/login: the partner token, valid 24 h."""
        settings = self._settings
        assert settings.partner_email is not None
        assert settings.partner_secret is not None
        secret = settings.partner_secret.get_secret_value()
        # Older docs call the client secret `password`, newer ones `secret`.
        form = {"email": settings.partner_email, "password": secret, "secret": secret}
        answer = await self._upstream.call(
            Stage.AUTH,
            partial(httpx.Request, "POST", f"{self._base}/partner/account/login", data=form),
        )
        body = self._upstream.body(answer, Stage.AUTH)
        value = body.get("token")
        if not isinstance(value, str) or not value:
            raise self._upstream.unreadable(Stage.AUTH, "answered the login without a token")
        self._redact.add(value)
        return Token(value, self._clock() + PARTNER_TOKEN_LIFE_S)

    def _failure(self, answer: Answer, stage: Stage) -> ProviderError:
        """Every failed Gupshup answer maps to the error tree here, by status."""
        kind = status_error(answer.status)
        failed = (
            "could not send the message" if stage is Stage.SEND else "could not process the media"
        )
        detail = {
            400: f"gupshup refused the request at {stage.value}",
            413: "gupshup refused the file as too large",
            500: f"gupshup {failed}",
        }.get(answer.status, f"gupshup answered {answer.status} at {stage.value}")
        return self._upstream.error(kind, detail, answer, stage, message_of(answer.json()))


SPEC = ProviderSpec(
    NAME,
    settings=GupshupSettings,
    target=GupshupTarget,
    build=GupshupProvider,
    simulator="simulators.gupshup:sandbox",
    rate_limit=(10, 1.0),  # per app
    partition=lambda target: target.app_id or "",
)


def _auth(token: str) -> dict[str, str]:
    # The docs alternate between both headers; sending both satisfies every revision.
    return {"Authorization": token, "token": token}


def _megabytes(size: int) -> str:
    """A size as WhatsApp states its limits: 5 MB for 5 MiB."""
    return f"{size / (1 << 20):.3g} MB"


def _filename(request: MediaRequest) -> str:
    """The document's name as WhatsApp shows it: the file's, or the URL's last segment."""
    if request.files:
        return request.files[0].filename
    name = (request.url or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name or f"document-{uuid.uuid4().hex[:8]}"


def _memo_key(base: str, app_id: str, request: MediaRequest) -> str | None:
    """What a media id is remembered under: the app, and the bytes' SHA-256 (or the URL)
    with their type; None when the bytes' hash is not known."""
    if request.url is not None:
        what = "url:" + hashlib.sha256(request.url.encode()).hexdigest()
        mime = request.content_type or ""
    elif len(request.files) == 1 and request.files[0].sha256:
        what, mime = "sha256:" + request.files[0].sha256, request.files[0].content_type
    else:
        return None
    scope = hashlib.sha256(f"{base}\0{app_id}".encode()).hexdigest()[:16]
    return f"gupshup:media:{scope}:{mime}:{what}"
