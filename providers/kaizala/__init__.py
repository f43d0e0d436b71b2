"""Microsoft Kaizala connector API: upload media, then post an action to a group."""

from providers.base import ProviderSpec
from providers.kaizala._adapter import KaizalaProvider
from providers.kaizala._config import FORMATS, NAME, KaizalaSettings, KaizalaTarget

__all__ = ["FORMATS", "NAME", "SPEC", "KaizalaProvider", "KaizalaSettings", "KaizalaTarget"]


SPEC = ProviderSpec(
    NAME,
    settings=KaizalaSettings,
    target=KaizalaTarget,
    build=KaizalaProvider,
    simulator="simulators.kaizala:sandbox",
    rate_limit=(100, 60.0),  # per connector
    calls_per_send=2,  # an upload and a post
)
