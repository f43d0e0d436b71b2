"""Provider adapters: the outside world, behind one small Protocol."""

from providers.base import (
    Capabilities,
    Delivery,
    MediaFile,
    MediaRequest,
    MediaType,
    Provider,
    ProviderSettings,
)
from providers.registry import ENTRY_POINT_GROUP, ProviderSpec, discover

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
    "discover",
]
