"""A provider installed as a package: proves the entry-point group needs no gateway change."""

from __future__ import annotations

import hashlib

import httpx
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from providers import (
    Capabilities,
    Delivery,
    MediaRequest,
    MediaType,
    ProviderSettings,
    ProviderSpec,
)


class EchoSettings(ProviderSettings):
    model_config = SettingsConfigDict(env_prefix="ECHO_", extra="ignore")

    token: SecretStr | None = None

    @property
    def live(self) -> bool:
        return self.token is not None


class EchoProvider:
    def __init__(self, settings: EchoSettings, client: httpx.AsyncClient, timeout: float) -> None:
        self._capabilities = Capabilities(formats={MediaType.IMAGE: frozenset({"image/png"})})

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def send(self, request: MediaRequest) -> Delivery:
        (media,) = request.files
        media.stream.seek(0)
        return Delivery(media_id="echo-" + hashlib.sha256(media.stream.read()).hexdigest()[:16])


spec = ProviderSpec(name="echo", settings=EchoSettings, build=EchoProvider)
