"""The Gupshup adapter: a file or a URL made a WhatsApp media id, delivered with `to`."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

import providers.gupshup._events as events
import providers.gupshup._whatsapp as whatsapp
from providers.base import Capabilities
from providers.errors import ProviderError, ProviderRejectedError, Stage, TargetError
from providers.events import StatusEvent, Subscription
from providers.gupshup._config import NAME, GupshupSettings, GupshupTarget
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

MAX_FILE_BYTES = 100 * whatsapp.MIB
# What an upload takes (a delivery takes fewer: `_whatsapp`).
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
# Gupshup keeps media 30 days; an id is reused for the same bytes (or URL) and app for 25,
# so none is sent near the end of its life.
MEDIA_REUSE_S = 25 * 86_400


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
        token = settings.events_token
        self._events_tokens = events.tokens_of(token.get_secret_value() if token else None)
        for secret in (settings.app_token, settings.partner_secret, token):
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
        """What a WhatsApp delivery (`to`) takes beyond an upload (`_whatsapp.check`)."""
        whatsapp.check(request)

    def describe(self) -> dict[str, Any]:
        return whatsapp.describe()

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
        return Delivery(
            media_id=media_id, message_id=message_id, media_reused=reused, recipient=target.to
        )

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
        payload = whatsapp.message(request, to, media_id)
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

    def events_authentic(self, headers: Mapping[str, str]) -> bool | None:
        """An event callback carries GUPSHUP_EVENTS_TOKEN in X-Events-Token (the
        subscription's `meta` makes Gupshup send it: it signs nothing)."""
        return events.authentic(self._events_tokens, headers)

    def read_events(self, body: Any) -> list[StatusEvent]:
        return events.read(body)

    @property
    def subscribes(self) -> bool:
        return self._settings.live and bool(self._events_tokens)

    async def subscribe(self, target: BaseModel, url: str) -> Subscription:
        """The app's version-3 subscription tagged `media-gateway`: found, or created."""
        assert isinstance(target, GupshupTarget)
        app_id = target.app_id or self._settings.app_id
        if app_id is None or not self._events_tokens:
            return Subscription("failed", "no app, or no GUPSHUP_EVENTS_TOKEN")
        path = f"{self._base}/partner/app/{quote(app_id, safe='')}/subscription"
        token = await self._app_token(app_id)
        try:

            async def listed(token: Token) -> Answer:
                build = partial(httpx.Request, "GET", path, headers=_auth(token.value))
                return await self._upstream.call(Stage.SUBSCRIBE, build)

            answer, token = await renewing(self._renewable(app_id), token, listed)
            existing = events.tagged(self._upstream.body(answer, Stage.SUBSCRIBE))
            if existing is not None:
                if existing.get("url") == url:
                    return Subscription("subscribed")
                return Subscription(
                    "failed",
                    f"a subscription tagged {events.SUBSCRIPTION_TAG!r} points elsewhere; "
                    "left as it is (delete it at Gupshup to let the gateway subscribe)",
                )
            form = events.subscription_form(url, self._events_tokens[0])

            async def create(token: Token) -> Answer:
                build = partial(httpx.Request, "POST", path, headers=_auth(token.value), data=form)
                return await self._upstream.call(Stage.SUBSCRIBE, build)

            answer, _ = await renewing(self._renewable(app_id), token, create)
            self._upstream.body(answer, Stage.SUBSCRIBE)
        except ProviderError as exc:
            return Subscription("failed", exc.detail)
        return Subscription("subscribed")

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


def _auth(token: str) -> dict[str, str]:
    # The docs alternate between both headers; sending both satisfies every revision.
    return {"Authorization": token, "token": token}


def _memo_key(base: str, app_id: str, request: MediaRequest) -> str | None:
    """What a media id is remembered under: the app and the request's owner (one client
    never learns of, nor reuses, another's uploads), and the bytes' SHA-256 (or the URL)
    with their type; None when the bytes' hash is not known."""
    if request.url is not None:
        what = "url:" + hashlib.sha256(request.url.encode()).hexdigest()
        mime = request.content_type or ""
    elif len(request.files) == 1 and request.files[0].sha256:
        what, mime = "sha256:" + request.files[0].sha256, request.files[0].content_type
    else:
        return None
    scope = hashlib.sha256(f"{base}\0{app_id}\0{request.owner}".encode()).hexdigest()[:16]
    return f"gupshup:media:{scope}:{mime}:{what}"
