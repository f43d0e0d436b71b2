"""What the Redis scripts of gateway.state share: the clock they read, and how they run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from gateway.errors import StoreUnavailableError

# Sets `now`, in milliseconds, from the Redis server's clock: every replica's decisions are
# timed by one clock, whatever the replicas' own clocks say.
NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""


def unreachable(exc: BaseException) -> StoreUnavailableError:
    """What a failed Redis call is to the rest of the gateway."""
    return StoreUnavailableError(
        f"The gateway's shared state (Redis) cannot be reached ({type(exc).__name__})."
    )


async def run_script(script: AsyncScript, key: str, args: Sequence[Any]) -> Any:
    """Run a script on one key; an unreachable Redis is a StoreUnavailableError."""
    try:
        return await script(keys=[key], args=list(args))
    except (RedisError, OSError) as exc:
        raise unreachable(exc) from None
