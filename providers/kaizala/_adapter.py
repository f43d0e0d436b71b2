"""The Kaizala adapter: one upload to /v1/media, one action post; a token that renews."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import quote, unquote, urljoin

import httpx

from providers.base import (
    Capabilities,
)
from providers.errors import (
    ProviderAuthError,
    ProviderError,
    ProviderFailedError,
    ProviderRejectedError,
    Stage,
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
    status_error,
    upload_form,
)
from providers.kaizala._config import (
    ACTION_TYPES,
    FORMATS,
    MAX_MOVES,
    NAME,
    TOKEN_ERROR_CODES,
    KaizalaSettings,
    KaizalaTarget,
)
from providers.media import Delivery, MediaRequest
from providers.redact import Redactor

log = logging.getLogger("providers.kaizala")


class KaizalaProvider:
    """Sends media to a Kaizala group: one upload to /v1/media, one action post."""

    def __init__(
        self,
        settings: KaizalaSettings,
        context: ProviderContext,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._redact = Redactor()
        self._upstream = context.upstream(NAME, self._redact, self._failure)
        self._auth_base = checked_base(settings.auth_url) or normalize_base(settings.auth_url)
        self._base = checked_base(settings.endpoint_url) or ""
        self._refresh_token = (
            settings.refresh_token.get_secret_value() if settings.refresh_token else ""
        )
        self._static: Token | None = None
        self._tokens: TokenCell | None = None
        self._share: TokenShare | None = None
        self._seen_token = ""
        if settings.access_token is not None:
            self._static = Token(settings.access_token.get_secret_value(), float("inf"))
        else:
            assert settings.application_id is not None
            assert settings.application_secret is not None
            # Sealed with the application secret: only holders of it can read the cache.
            # A token belongs to the auth server that issued it, and to the application.
            self._share = context.share(
                f"kaizala:{self._auth_base}:{settings.application_id}",
                settings.application_secret.get_secret_value(),
            )
            self._tokens = TokenCell(
                self._fetch_token, provider=NAME, clock=clock, share=self._share, name="access"
            )
        # The refresh token this configuration started from; a rotated one replaces it.
        self._lineage = "refresh:" + hashlib.sha256(self._refresh_token.encode()).hexdigest()[:16]
        for secret in (settings.application_secret, settings.refresh_token, settings.access_token):
            self._redact.add(secret.get_secret_value() if secret else None)
        self._capabilities = Capabilities(
            formats=FORMATS, album_sizes=(2, settings.album_max_images)
        )

    # A large upload goes to /v1/media as it arrives; the post is announced.
    streams_uploads = True
    announces_delivery = True

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    @property
    def base_url(self) -> str:
        """Where resource calls go now (after any 308 move)."""
        return self._base

    async def send(self, request: MediaRequest) -> Delivery:
        target = request.target
        assert isinstance(target, KaizalaTarget), "the gateway validates with SPEC.target"
        media_resource = request.reuse_media_id or await self._upload(request)
        await request.delivering(media_resource)
        try:
            return await self._post(request, target.group_id, media_resource)
        except ProviderError as exc:
            # The post is what delivers: if Kaizala may have acted on it, a retry could
            # post the message twice.
            raise exc.after_upload(media_resource, delivering=exc.stage is Stage.POST) from exc

    async def _upload(self, request: MediaRequest) -> str:
        size = sum(f.size for f in request.files)
        form = upload_form("files", request.files)
        answer = await self._call(Stage.UPLOAD, "/v1/media", upload_bytes=size, **form)
        media_resource = self._upstream.body(answer, Stage.UPLOAD).get("mediaResource")
        if not isinstance(media_resource, str) or not media_resource:
            raise self._upstream.unreadable(Stage.UPLOAD, "no mediaResource in the upload answer")
        return media_resource

    async def _post(self, request: MediaRequest, group_id: str, media_resource: str) -> Delivery:
        action_body: dict[str, str] = {"mediaResource": media_resource}
        if request.caption:
            action_body["caption"] = request.caption
        payload = {"actionType": ACTION_TYPES[request.media_type], "actionBody": action_body}
        path = f"/v1/groups/{quote(group_id, safe='')}/actions"
        body = self._upstream.body(await self._call(Stage.POST, path, json=payload), Stage.POST)
        reference_id = body.get("referenceId")
        action_id = body.get("actionId")
        if not isinstance(reference_id, str) or not reference_id:
            raise self._upstream.unreadable(Stage.POST, "no referenceId in the action answer")
        return Delivery(
            media_id=media_resource,
            details={
                "reference_id": reference_id,
                "action_id": action_id if isinstance(action_id, str) and action_id else None,
            },
        )

    async def _call(
        self,
        stage: Stage,
        path: str,
        *,
        upload_bytes: int = 0,
        headers: dict[str, str] | None = None,
        **content: Any,
    ) -> Answer:
        """One resource call: follows 308 moves, and refreshes the token once when refused."""
        token = await self._token()
        refreshed = False
        moves = 0
        while True:
            url = f"{self._base}{path}"
            build = partial(
                httpx.Request,
                "POST",
                url,
                headers={**(headers or {}), "accessToken": token.value},
                **content,
            )
            answer = await self._upstream.call(stage, build, upload_bytes=upload_bytes)
            if answer.status == 308:
                moves += 1
                self._base = self._moved(url, path, answer, stage, moves)
                continue
            if _token_refused(answer) and not refreshed and self._tokens is not None:
                token = await self._tokens.renew(token)
                refreshed = True
                continue
            return answer

    def _moved(self, url: str, path: str, answer: Answer, stage: Stage, moves: int) -> str:
        """The new base named by a 308, so the call and every later one go there.

        `path` is the API path exactly as the adapter built it (a group id's `@` encoded as
        `%40`): the request's decoded path would not match what the Location repeats.
        """
        location = answer.headers.get("location")
        if not location or moves > MAX_MOVES:
            raise self._upstream.error(
                ProviderFailedError, "kaizala kept moving the endpoint", answer, stage, None
            )
        target = urljoin(url, location).split("#", 1)[0].split("?", 1)[0]
        if target.endswith(path):
            base: str | None = target[: -len(path)]
        elif unquote(target).endswith(unquote(path)):
            base = unquote(target)[: -len(unquote(path))]
        else:
            base = target
        base = checked_base(base)
        if base is None:
            raise self._upstream.error(
                ProviderFailedError, "kaizala moved the endpoint to an unusable URL", answer,
                stage, None,
            )  # fmt: skip
        log.info("kaizala endpoint moved", extra={"stage": stage.value, "new_base": base})
        return base

    async def _token(self) -> Token:
        if self._tokens is None:
            assert self._static is not None
            return self._static
        token = await self._tokens.get()
        if token.value != self._seen_token:
            # A token another replica fetched comes with the endpoint it was issued for.
            self._seen_token = token.value
            self._base = token.extra.get("endpoint", self._base)
        return token

    async def _fetch_token(self) -> Token:
        settings = self._settings
        assert settings.application_id is not None
        assert settings.application_secret is not None
        if self._share is not None:
            # Another replica (or this one before a restart) may have rotated it.
            rotated = await self._shared_secret(self._lineage)
            if rotated:
                self._refresh_token = rotated
                self._redact.add(rotated)
        headers = {
            "applicationId": settings.application_id,
            "applicationSecret": settings.application_secret.get_secret_value(),
            "refreshToken": self._refresh_token,
        }
        path = "/v1/accessToken"
        moves = 0
        while True:
            url = f"{self._auth_base}{path}"
            answer = await self._upstream.call(
                Stage.AUTH, partial(httpx.Request, "GET", url, headers=headers)
            )
            if answer.status != 308:
                break
            moves += 1
            self._auth_base = self._moved(url, path, answer, Stage.AUTH, moves)
        body = self._upstream.body(answer, Stage.AUTH)
        value, expiry = body.get("accessToken"), body.get("accessTokenExpiry")
        endpoint = checked_base(body.get("endpointUrl"))
        if not isinstance(value, str) or not value:
            raise self._upstream.unreadable(Stage.AUTH, "the token answer lacks accessToken")
        if endpoint is None:
            raise self._upstream.unreadable(
                Stage.AUTH, "the token answer's endpointUrl is not a URL"
            )
        if not isinstance(expiry, int | float) or isinstance(expiry, bool):
            raise self._upstream.unreadable(Stage.AUTH, "the token answer lacks accessTokenExpiry")
        self._redact.add(value)
        replacement = body.get("refreshToken")
        if isinstance(replacement, str) and replacement and replacement != self._refresh_token:
            # Kaizala rotates the refresh token near the end of its life; the old one stops working.
            self._refresh_token = replacement
            self._redact.add(replacement)
            kept = self._share is not None and await self._keep_secret(self._lineage, replacement)
            log.warning(
                "kaizala issued a replacement refresh token; it is used from now on"
                + (
                    ", by every replica and after restarts (kept, sealed, in shared state)"
                    if kept
                    else "; store it in KAIZALA_REFRESH_TOKEN before the next restart"
                )
            )
        now = self._clock()
        expires = float(expiry) / 1000.0
        margin = min(settings.token_refresh_margin_s, max(0.0, (expires - now) / 2))
        self._base = endpoint
        return Token(value, expires - margin, {"endpoint": endpoint})

    async def _shared_secret(self, name: str) -> str | None:
        assert self._share is not None
        try:
            return await self._share.load_secret(name)
        except Exception as exc:
            log.warning("shared state unreadable", extra={"error": type(exc).__name__})
            return None

    async def _keep_secret(self, name: str, value: str) -> bool:
        assert self._share is not None
        try:
            await self._share.save_secret(name, value)
        except Exception as exc:
            log.warning("shared state unwritable", extra={"error": type(exc).__name__})
            return False
        return True

    def _failure(self, answer: Answer, stage: Stage) -> ProviderError:
        """Every failed Kaizala answer maps to the error tree here, by status and errorCode."""
        body = answer.json()
        code = body.get("errorCode") if isinstance(body, dict) else None
        message = message_of(body)
        if answer.status == 401 or code in TOKEN_ERROR_CODES:
            kind: type[ProviderError] = ProviderAuthError
            detail = "kaizala refused the gateway's access token"
        elif code == "InvalidParameters" and answer.status < 500:
            kind, detail = ProviderRejectedError, "kaizala refused the request's parameters"
        else:
            kind = status_error(answer.status)
            detail = f"kaizala answered {answer.status} at {stage.value}"
        if kind is ProviderFailedError and message is None and answer.content:
            message = answer.content[:200].decode("utf-8", "replace")
        return self._upstream.error(kind, detail, answer, stage, message)


def _token_refused(answer: Answer) -> bool:
    if answer.status == 401:
        return True
    if 400 <= answer.status < 500:
        body = answer.json()
        return isinstance(body, dict) and body.get("errorCode") in TOKEN_ERROR_CODES
    return False
