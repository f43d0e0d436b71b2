"""Gupshup Partner API: turn a file or a public URL into a WhatsApp media id, and deliver
it to a WhatsApp user with `to` (`_config`: settings and target; `_adapter`: the calls;
`_whatsapp`: what a delivery takes and the message that makes it)."""

from providers.base import ProviderSpec
from providers.gupshup._adapter import FORMATS, MAX_FILE_BYTES, GupshupProvider
from providers.gupshup._config import NAME, GupshupSettings, GupshupTarget
from providers.gupshup._whatsapp import DELIVERY_MAX_BYTES

__all__ = [
    "DELIVERY_MAX_BYTES",
    "FORMATS",
    "MAX_FILE_BYTES",
    "NAME",
    "SPEC",
    "GupshupProvider",
    "GupshupSettings",
    "GupshupTarget",
]

SPEC = ProviderSpec(
    NAME,
    settings=GupshupSettings,
    target=GupshupTarget,
    build=GupshupProvider,
    simulator="simulators.gupshup:sandbox",
    rate_limit=(10, 1.0),  # per app
    partition=lambda target: target.app_id or "",
)
