"""Each provider's event subscriptions: made sure of in the background, once across
replicas, for every part of a provider (every Gupshup app) the gateway delivers through, and
reported in `/providers` (`events`: subscribed, not_configured or failed, with why per app).

A subscription found or made is trusted for `CHECK_AGAIN_S`, a failure retried after
`RETRY_FAILED_S`; with Redis the states are shared and a lock makes one replica ask."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from providers.base import ReceivesEvents
from providers.events import Subscription

log = logging.getLogger("gateway.subscriptions")

CHECK_AGAIN_S = 6 * 3600
RETRY_FAILED_S = 300
LOCK_S = 60
EVENTS_PATH = "/providers/{provider}/events"

Events = Literal["subscribed", "not_configured", "failed"]


class Subscriptions:
    """Makes sure of the subscriptions of the providers that take events."""

    def __init__(
        self,
        receivers: Mapping[str, ReceivesEvents],
        *,
        sandboxed: frozenset[str],
        public_url: str | None,
        redis: Redis | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._receivers = dict(receivers)
        self._sandboxed = sandboxed
        self._public_url = public_url.rstrip("/") if public_url else None
        self._redis = redis
        self._clock = clock
        self._known: dict[str, tuple[float, Subscription]] = {}  # key -> (until, state)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def _configured(self, provider: str) -> ReceivesEvents | None:
        receiver = self._receivers.get(provider)
        if receiver is None or not receiver.subscribes or self._public_url is None:
            return None
        return receiver

    def ensure(self, provider: str, part: str, target: BaseModel) -> None:
        """Make sure of the subscription of `part` (its resolved `target`), in the
        background: never a wait nor a failure for the send that asks."""
        receiver = self._configured(provider)
        key = f"{provider}:{part}"
        known = self._known.get(key)
        if receiver is None or (known is not None and known[0] > self._clock()):
            return
        if key in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._ensure(receiver, provider, key, target))
        self._tasks[key] = task
        task.add_done_callback(lambda _: self._tasks.pop(key, None))

    async def _ensure(
        self, receiver: ReceivesEvents, provider: str, key: str, target: BaseModel
    ) -> None:
        try:
            shared = await self._shared(key)
            if shared is not None:
                self._known[key] = shared
                return
            if not await self._lock(key):
                return  # another replica asks; its answer is read next time
            assert self._public_url is not None
            url = self._public_url + EVENTS_PATH.format(provider=provider)
            state = await receiver.subscribe(target, url)
            life = CHECK_AGAIN_S if state.state == "subscribed" else RETRY_FAILED_S
            self._known[key] = (self._clock() + life, state)
            await self._share(key, state, life)
            log.log(
                logging.INFO if state.state == "subscribed" else logging.WARNING,
                "events subscription %s",
                state.state,
                extra={"provider": provider, "part": key, "reason": state.reason},
            )
        except Exception:
            log.exception("events subscription check failed", extra={"part": key})
            self._known[key] = (
                self._clock() + RETRY_FAILED_S,
                Subscription("failed", "the check failed; see the gateway's log"),
            )

    async def _shared(self, key: str) -> tuple[float, Subscription] | None:
        if self._redis is None:
            return None
        try:
            text = await self._redis.get(f"mg:sub:{key}")
        except (RedisError, OSError):
            return None
        if text is None:
            return None
        data = json.loads(text)
        return data["until"], Subscription(data["state"], data.get("reason"))

    async def _lock(self, key: str) -> bool:
        if self._redis is None:
            return True
        try:
            return bool(
                await self._redis.set(f"mg:sub:lock:{key}", uuid.uuid4().hex, nx=True, ex=LOCK_S)
            )
        except (RedisError, OSError):
            return True  # nothing shared to coordinate with: ask from here

    async def _share(self, key: str, state: Subscription, life: float) -> None:
        if self._redis is None:
            return
        value = {"until": self._clock() + life, "state": state.state, "reason": state.reason}
        try:
            await self._redis.set(f"mg:sub:{key}", json.dumps(value), ex=int(life))
        except (RedisError, OSError):
            log.warning("events subscription state not shared: Redis unreachable")

    async def describe(self, provider: str) -> dict[str, Any]:
        """`events` and `events_apps` of the provider's `/providers` entry."""
        if provider not in self._receivers:
            return {"events": None, "events_apps": {}}
        if provider in self._sandboxed:
            return {"events": "subscribed", "events_apps": {}}
        if self._configured(provider) is None:
            return {"events": "not_configured", "events_apps": {}}
        prefix = f"{provider}:"
        parts: dict[str, dict[str, str | None]] = {}
        for key in {k for k in self._known if k.startswith(prefix)} | set(self._tasks):
            if not key.startswith(prefix):
                continue
            found = await self._shared(key) or self._known.get(key)
            part = key.removeprefix(prefix)
            if found is None:
                parts[part] = {"status": "pending", "reason": None}
            else:
                parts[part] = {"status": found[1].state, "reason": found[1].reason}
        states = {p["status"] for p in parts.values()}
        events: Events = "not_configured"  # nothing subscribed yet
        if "failed" in states:
            events = "failed"
        elif "subscribed" in states:
            events = "subscribed"
        return {"events": events, "events_apps": parts}

    async def aclose(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            try:
                await task
            except BaseException:  # noqa: S112 - cancelled on purpose
                continue
