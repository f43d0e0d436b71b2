"""The built-in sandboxes: a simulator per provider, embedded when it has no credentials."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr
from starlette.types import ASGIApp

from gateway.sandbox import gupshup, kaizala
from providers import ProviderSettings
from providers.gupshup import GupshupSettings
from providers.kaizala import KaizalaSettings

SANDBOX_APP_ID = "sandbox-app"


@dataclass(frozen=True)
class Sandbox:
    """A simulator and the provider settings that point at it."""

    app: ASGIApp
    settings: ProviderSettings


def kaizala_sandbox(settings: ProviderSettings) -> Sandbox:
    assert isinstance(settings, KaizalaSettings)
    config = kaizala.KaizalaSimConfig(public_url="http://kaizala.sandbox")
    return Sandbox(
        app=kaizala.create_app(config),
        settings=settings.model_copy(
            update={
                "auth_url": config.public_url,
                "application_id": config.application_id,
                "application_secret": SecretStr(config.application_secret),
                "refresh_token": SecretStr(config.refresh_token),
            }
        ),
    )


def gupshup_sandbox(settings: ProviderSettings) -> Sandbox:
    assert isinstance(settings, GupshupSettings)
    config = gupshup.GupshupSimConfig()
    return Sandbox(
        app=gupshup.create_app(config),
        settings=settings.model_copy(
            update={
                "base_url": "http://gupshup.sandbox",
                # So a send needs no app_id out of the box, as with GUPSHUP_APP_ID set.
                "app_id": settings.app_id or SANDBOX_APP_ID,
                "partner_email": config.partner_email,
                "partner_secret": SecretStr(config.partner_secret),
            }
        ),
    )


SANDBOXES: dict[str, Callable[[ProviderSettings], Sandbox]] = {
    "kaizala": kaizala_sandbox,
    "gupshup": gupshup_sandbox,
}
