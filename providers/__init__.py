"""Provider adapters: the outside world, behind one small Protocol."""

from providers.base import Capabilities, Provider, ProviderSettings, ProviderSpec, Sandbox
from providers.errors import TargetError
from providers.media import Delivery, MediaFile, MediaRequest, MediaType
from providers.registry import ENTRY_POINT_GROUP, discover

__all__ = [
    "ENTRY_POINT_GROUP",
    "Capabilities",
    "Delivery",
    "MediaFile",
    "MediaRequest",
    "MediaType",
    "Provider",
    "ProviderSettings",
    "ProviderSpec",
    "Sandbox",
    "TargetError",
    "discover",
]
