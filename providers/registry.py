"""Which providers exist: the built-ins, registered here, and installed plugins.

A plugin package adds a provider without touching the gateway by declaring an entry point
in the `media_gateway.providers` group whose object is a `ProviderSpec`. A built-in is one
line in BUILTIN: its module describes it whole in its `SPEC`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import entry_points

from providers import gupshup, kaizala
from providers.base import ProviderSpec

ENTRY_POINT_GROUP = "media_gateway.providers"

log = logging.getLogger(__name__)


BUILTIN: tuple[ProviderSpec, ...] = (kaizala.SPEC, gupshup.SPEC)


def discover() -> Mapping[str, ProviderSpec]:
    """The built-in providers plus every installed plugin's, by name."""
    specs = {spec.name: spec for spec in BUILTIN}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        spec = point.load()
        if not isinstance(spec, ProviderSpec):
            raise TypeError(f"entry point {point.value!r} is not a providers.ProviderSpec")
        if spec.name in specs:
            raise ValueError(f"provider {spec.name!r} from {point.value!r} is already registered")
        log.info(
            "provider plugin loaded", extra={"provider": spec.name, "entry_point": point.value}
        )
        specs[spec.name] = spec
    return specs
