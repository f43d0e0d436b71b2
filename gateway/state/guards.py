"""What slows the gateway down before a provider does: a circuit breaker per provider
partition, and an outbound rate limit per partition. Both are shared by every replica
through Redis (each decision one Lua script, timed by the Redis clock), or kept in the
process without it.

Breaker: closed; after `failures` transient failures in a row it opens for `open_s`, and
sends are refused without calling upstream; then it is half-open: one send is let through
as a trial (the others are still refused), and its result closes or reopens it.

Rate limit: GCRA (the generic cell rate algorithm): `calls` per `period_s`, a send costing
as many calls as it makes; a send over the limit is told when it may go.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from redis.asyncio import Redis

from gateway.state.lua import NOW_MS, run_script

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int  # transient failures in a row that open it
    open_s: float  # how long it stays open before a trial
    trial_s: float  # how long a trial may take before another is let through


class Guards(Protocol):
    """Breakers and rate limits, by partition key."""

    async def allow(self, key: str, policy: BreakerPolicy) -> float:
        """0 when a send may go; else the seconds until the breaker lets one try."""
        ...

    async def record(self, key: str, ok: bool, policy: BreakerPolicy) -> None: ...

    async def state(self, key: str) -> BreakerState: ...

    async def take(self, key: str, rate_limit: tuple[int, float], calls: int) -> float:
        """0 when `calls` more fit `rate_limit` (calls, per seconds) now, and are counted;
        else the seconds to wait."""
        ...


class MemoryGuards:
    """Breakers and rate limits of this process alone."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._breakers: dict[str, dict[str, float]] = {}
        self._tat: dict[str, float] = {}  # GCRA theoretical arrival time per key
        self._clock = clock

    async def allow(self, key: str, policy: BreakerPolicy) -> float:
        now = self._clock()
        b = self._breakers.get(key)
        if b is None or b["open_until"] == 0:
            return 0.0
        if b["open_until"] > now:
            return b["open_until"] - now
        if b["trial_until"] > now:
            return b["trial_until"] - now  # a trial is running
        b["trial_until"] = now + policy.trial_s
        return 0.0

    async def record(self, key: str, ok: bool, policy: BreakerPolicy) -> None:
        if ok:
            self._breakers.pop(key, None)
            return
        now = self._clock()
        b = self._breakers.setdefault(key, {"failures": 0, "open_until": 0, "trial_until": 0})
        b["failures"] += 1
        if b["open_until"] or b["failures"] >= policy.failures:
            b.update(failures=0, open_until=now + policy.open_s, trial_until=0)

    async def state(self, key: str) -> BreakerState:
        b = self._breakers.get(key)
        if b is None or b["open_until"] == 0:
            return "closed"
        return "open" if b["open_until"] > self._clock() else "half_open"

    async def take(self, key: str, rate_limit: tuple[int, float], calls: int) -> float:
        now = self._clock()
        limit, period_s = rate_limit
        interval = period_s / limit
        tat = max(self._tat.get(key, now), now) + interval * calls
        allow_at = tat - period_s
        if allow_at > now:
            return allow_at - now
        self._tat[key] = tat
        return 0.0


# KEYS[1] breaker hash; ARGV trial ms. Returns ms to wait (0: go).
_ALLOW = (
    NOW_MS
    + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until == 0 then return 0 end
if open_until > now then return open_until - now end
local trial_until = tonumber(redis.call('HGET', KEYS[1], 'trial_until') or '0')
if trial_until > now then return trial_until - now end
redis.call('HSET', KEYS[1], 'trial_until', now + tonumber(ARGV[1]))
return 0
"""
)

# KEYS[1] breaker hash; ARGV ok (1/0), failures threshold, open ms, keep ms
_RECORD = (
    NOW_MS
    + """
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[1])
  return 0
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until > 0 or failures >= tonumber(ARGV[2]) then
  local reopen = now + tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], 'failures', 0, 'open_until', reopen, 'trial_until', 0)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""
)

# KEYS[1] breaker hash. Returns 0 closed, 1 open, 2 half-open.
_STATE = (
    NOW_MS
    + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until == 0 then return 0 end
if open_until > now then return 1 end
return 2
"""
)

# KEYS[1] GCRA key; ARGV cost, interval ms, period ms. Returns ms to wait (0: counted).
_TAKE = (
    NOW_MS
    + """
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[1]) * tonumber(ARGV[2])
local allow_at = new_tat - tonumber(ARGV[3])
if allow_at > now then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1)
return 0
"""
)


class RedisGuards:
    """Breakers and rate limits shared by every replica."""

    def __init__(self, redis: Redis, *, prefix: str = "mg:guard:") -> None:
        self._prefix = prefix
        self._allow = redis.register_script(_ALLOW)
        self._record = redis.register_script(_RECORD)
        self._state = redis.register_script(_STATE)
        self._take = redis.register_script(_TAKE)

    async def allow(self, key: str, policy: BreakerPolicy) -> float:
        waited = await self._run(self._allow, "cb:" + key, [int(policy.trial_s * 1000)])
        return int(waited) / 1000

    async def record(self, key: str, ok: bool, policy: BreakerPolicy) -> None:
        keep_ms = int((policy.open_s + policy.trial_s) * 1000) * 10
        args = ["1" if ok else "0", policy.failures, int(policy.open_s * 1000), keep_ms]
        await self._run(self._record, "cb:" + key, args)

    async def state(self, key: str) -> BreakerState:
        states: tuple[BreakerState, ...] = ("closed", "open", "half_open")
        return states[int(await self._run(self._state, "cb:" + key, []))]

    async def take(self, key: str, rate_limit: tuple[int, float], calls: int) -> float:
        limit, period_s = rate_limit
        period_ms = period_s * 1000
        args = [calls, period_ms / limit, period_ms]
        return int(await self._run(self._take, "rl:" + key, args)) / 1000

    async def _run(self, script: Any, key: str, args: Sequence[Any]) -> Any:
        return await run_script(script, self._prefix + key, args)
