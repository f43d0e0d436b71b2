"""A provider installed as a package: an adapter, its settings and target, one spec.

It proves that a third provider needs no change to `gateway/` or `providers/`: this file,
its simulator (`echo_simulator.py`), one entry point in `pyproject.toml`, and its tests.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from providers import (
    Capabilities,
    Delivery,
    MediaRequest,
    MediaType,
    ProviderSettings,
    ProviderSpec,
)
from providers.errors import Stage
from providers.http import ProviderContext
from providers.redact import Redactor

NAME = "echo"


class EchoSettings(ProviderSettings):
    """ECHO_TOKEN makes it live; ECHO_BASE_URL says where the service is."""

    model_config = SettingsConfigDict(env_prefix="ECHO_", extra="ignore")

    base_url: str = "https://echo.invalid"
    token: SecretStr | None = None

    @property
    def live(self) -> bool:
        return self.token is not None


class EchoTarget(BaseModel):
    """Where an echo send goes."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel: str = Field(
        min_length=1, max_length=64, description="Echo: the channel.", examples=["general"]
    )


class EchoProvider:
    """Uploads one PNG to POST {base}/channels/{channel}/media."""

    def __init__(self, settings: EchoSettings, context: ProviderContext) -> None:
        self._base = settings.base_url.rstrip("/")
        self._token = settings.token.get_secret_value() if settings.token else ""
        # Every call through one choke point; failed answers mapped by their status.
        self._upstream = context.upstream(NAME, Redactor([self._token]))
        self._capabilities = Capabilities(
            formats={MediaType.IMAGE: frozenset({"image/png"})}, captions=False
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def send(self, request: MediaRequest) -> Delivery:
        target = request.target
        assert isinstance(target, EchoTarget)
        (media,) = request.files
        url = f"{self._base}/channels/{quote(target.channel, safe='')}/media"
        files: Any = {"file": (media.filename, media.stream, media.content_type)}
        build = partial(httpx.Request, "POST", url, headers={"token": self._token}, files=files)
        answer = await self._upstream.call(Stage.UPLOAD, build)
        body = self._upstream.body(answer, Stage.UPLOAD)
        if not isinstance(body.get("id"), str):
            raise self._upstream.unreadable(Stage.UPLOAD, "answered without an id")
        return Delivery(media_id=body["id"])


spec = ProviderSpec(
    NAME,
    settings=EchoSettings,
    target=EchoTarget,
    build=EchoProvider,
    simulator="echo_simulator:sandbox",
)
