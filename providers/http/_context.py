"""What the gateway gives an adapter when it builds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from providers.errors import ProviderError, Stage
from providers.http._answers import Answer
from providers.http._memo import Memo, MemoryMemo
from providers.http._tokens import TokenShare, share_nothing
from providers.http._upstream import Call, Upstream, ignore_call
from providers.redact import Redactor


@dataclass(frozen=True)
class ProviderContext:
    """What the gateway gives an adapter: its HTTP client, the per-call timeout, with shared
    state configured a `TokenShare` per credential (`share(namespace, key)`: the key, the
    provider's own long-lived secret, is what the stored values are sealed with), a `Memo`,
    and the observer told of every upstream call (the gateway's metrics and its
    Server-Timing header; like httpx's event hooks, it must not raise)."""

    client: httpx.AsyncClient
    timeout: float
    share: Callable[[str, str], TokenShare | None] = share_nothing
    memo: Memo = field(default_factory=MemoryMemo)
    observe: Callable[[Call], None] = ignore_call

    def upstream(
        self,
        provider: str,
        redact: Redactor,
        failure: Callable[[Answer, Stage], ProviderError] | None = None,
    ) -> Upstream:
        """The adapter's choke point for its calls, with how it maps its failed answers."""
        return Upstream(
            self.client,
            provider=provider,
            timeout=self.timeout,
            redact=redact,
            observe=self.observe,
            failure=failure,
        )
