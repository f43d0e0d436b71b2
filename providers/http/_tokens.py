"""Provider credentials: one cached token per credential, renewed by a single fetch, and
shared by the replicas when the gateway has somewhere to share them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from providers.deadline import detach, remaining
from providers.errors import ProviderError, ProviderTimeoutError, RateLimitedError, Stage
from providers.http._answers import Answer

log = logging.getLogger("providers.http")


@dataclass(frozen=True)
class Token:
    """A credential, the time.time() after which it is renewed before use, and what came
    with it (Kaizala's endpoint URL, say)."""

    value: str
    refresh_at: float
    extra: Mapping[str, str] = field(default_factory=dict)


class TokenShare(Protocol):
    """Where replicas share credentials: a cache of tokens, a lock so one replica fetches
    while the others wait, and long-lived secrets a provider replaces (a rotated refresh
    token). Values are stored so that reading the store does not reveal them."""

    async def load(self, name: str) -> Token | None: ...

    async def save(self, name: str, token: Token) -> None: ...

    def lock(self, name: str) -> AbstractAsyncContextManager[None]: ...

    async def load_secret(self, name: str) -> str | None: ...

    async def save_secret(self, name: str, value: str) -> None: ...


def share_nothing(namespace: str, key: str) -> TokenShare | None:
    """Without shared state, each process keeps its own tokens."""
    return None


class TokenCell:
    """One cached credential and the single fetch that renews it.

    Every caller that needs a new token while one is being fetched waits for that same
    fetch and gets its token or its error; a failed fetch is remembered for a short time
    (or as long as a 429 asked), so a failing auth server is not hammered by every
    waiter; and every wait is bounded by the request's deadline.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Token]],
        *,
        provider: str,
        clock: Callable[[], float] = time.time,
        failure_ttl_s: float = 5.0,
        share: TokenShare | None = None,
        name: str = "token",
    ) -> None:
        self._fetch = fetch
        self._provider = provider
        self._clock = clock
        self._failure_ttl_s = failure_ttl_s
        self._share = share
        self._name = name
        self._refused: str | None = None  # a value the provider refused: never reused
        self._token: Token | None = None
        self._task: asyncio.Task[Token] | None = None
        self._failure: ProviderError | None = None
        self._failure_until = 0.0

    async def get(self) -> Token:
        """A token that is not due for renewal, fetching one when needed."""
        token = self._token
        if token is not None and self._clock() < token.refresh_at:
            return token
        return await self._join()

    async def renew(self, stale: Token) -> Token:
        """A token other than `stale`, which the provider refused."""
        token = self._token
        if token is not None and token is not stale and self._clock() < token.refresh_at:
            return token
        self._token = None
        self._refused = stale.value
        return await self._join()

    async def _join(self) -> Token:
        if self._failure is not None and self._clock() < self._failure_until:
            raise self._failure
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
            # A fetch nobody waits for any more must not log "exception never retrieved".
            self._task.add_done_callback(lambda t: t.cancelled() or t.exception())
        left = remaining()
        try:
            async with asyncio.timeout(left):
                # Shielded: a caller that gives up does not cancel the others' fetch.
                return await asyncio.shield(self._task)
        except TimeoutError:
            raise ProviderTimeoutError(
                f"{self._provider} gave no token within the request's deadline",
                provider=self._provider,
                stage=Stage.AUTH,
            ) from None
        except ProviderError as exc:
            raise exc from None  # errors are never changed once raised: one serves all

    async def _run(self) -> Token:
        # This task runs in a copy of the first caller's context: the fetch serves every
        # waiter, so it is bounded by its own calls' timeouts, not by that caller's deadline.
        detach()
        try:
            token = await self._shared_fetch() if self._share else await self._fetch()
        except ProviderError as exc:
            hold = self._failure_ttl_s
            if isinstance(exc, RateLimitedError) and exc.retry_after:
                hold = min(float(exc.retry_after), 60.0)
            self._failure, self._failure_until = exc, self._clock() + hold
            raise
        finally:
            self._task = None
        self._token, self._failure = token, None
        return token

    def _usable(self, token: Token | None) -> bool:
        return (
            token is not None and token.value != self._refused and self._clock() < token.refresh_at
        )

    async def _shared_fetch(self) -> Token:
        """The token another replica cached, or one fetched under the replicas' lock and
        cached for them. Shared state that fails only costs a fetch of our own."""
        assert self._share is not None
        share, name = self._share, self._name
        try:
            cached = await share.load(name)
            if self._usable(cached):
                assert cached is not None
                return cached
            async with share.lock(name):
                cached = await share.load(name)  # fetched while we waited for the lock?
                if self._usable(cached):
                    assert cached is not None
                    return cached
                token = await self._fetch()
                await share.save(name, token)
                return token
        except ProviderError:
            raise
        except Exception as exc:
            log.warning(
                "shared token store failed; fetching locally",
                extra={"provider": self._provider, "error": type(exc).__name__},
            )
            return await self._fetch()


async def renewing(
    cell: TokenCell | None,
    token: Token,
    attempt: Callable[[Token], Awaitable[Answer]],
    *,
    refused: Callable[[Answer], bool] = lambda answer: answer.status == 401,
) -> tuple[Answer, Token]:
    """`attempt` with `token`; when the provider refuses the token (`refused`) and `cell`
    can renew it, once more with a new one. The answer, and the token it was made with."""
    answer = await attempt(token)
    if cell is not None and refused(answer):
        token = await cell.renew(token)
        answer = await attempt(token)
    return answer, token
