"""Which providers exist: the built-ins, registered here, and installed plugins.

A plugin package adds a provider without touching the gateway by declaring an entry point
in the `media_gateway.providers` group whose object is a `ProviderSpec`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import httpx

from providers.base import Provider, ProviderSettings
from providers.gupshup import GupshupProvider, GupshupSettings
from providers.kaizala import KaizalaProvider, KaizalaSettings

ENTRY_POINT_GROUP = "media_gateway.providers"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProviderSpec:
    """How to configure and build one provider."""

    name: str
    settings: type[ProviderSettings]
    # (settings, client, upstream timeout in seconds) -> provider
    build: Callable[[Any, httpx.AsyncClient, float], Provider]


BUILTIN: tuple[ProviderSpec, ...] = (
    ProviderSpec("kaizala", KaizalaSettings, lambda s, c, t: KaizalaProvider(s, c, timeout=t)),
    ProviderSpec("gupshup", GupshupSettings, lambda s, c, t: GupshupProvider(s, c, timeout=t)),
)


def discover() -> Mapping[str, ProviderSpec]:
    """The built-in providers plus every installed plugin's, by name."""
    specs = {spec.name: spec for spec in BUILTIN}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        spec = point.load()
        if not isinstance(spec, ProviderSpec):
            raise TypeError(f"entry point {point.value!r} is not a providers.registry.ProviderSpec")
        if spec.name in specs:
            raise ValueError(f"provider {spec.name!r} from {point.value!r} is already registered")
        log.info(
            "provider plugin loaded", extra={"provider": spec.name, "entry_point": point.value}
        )
        specs[spec.name] = spec
    return specs
