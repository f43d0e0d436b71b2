"""The webhook outbox: the events waiting to be posted to the clients, one queue per message.

The events of one message are posted in order, one at a time: each message has its own list,
and a sorted set says when each message's first event is due. A worker takes a due message
with a lease (its due time moved past the lease), posts its first event, then settles it:
done (the next event is due at once) or to be retried (due after the delay). A worker that
dies mid-post loses its lease and another one takes the message: delivery is at least once,
never lost. Each client's backlog is bounded; what the bound refuses is counted and logged.

Two outboxes: Redis (shared by every replica, each step one Lua script, timed by the Redis
server's clock) and one in the process (no Redis: lost on restart).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from gateway.state.lua import NOW_MS, unreachable
from gateway.telemetry import WEBHOOK_DELIVERIES

log = logging.getLogger("gateway.webhooks")


@dataclass(frozen=True)
class WebhookEvent:
    """One webhook to post: its id (`webhook-id`, the same on every attempt), whose it is,
    its body (the same bytes on every attempt), when it was made, and how often it failed."""

    id: str
    client: str
    message_id: str
    body: str
    created_ms: int
    attempts: int = 0
    trace: dict[str, str] = field(default_factory=dict)  # the send's (`Message.trace`)

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> WebhookEvent:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Taken:
    """A message's first event, leased to one worker (`lease` settles it)."""

    event: WebhookEvent
    lease: str


Settle = Literal["done", "retry"]


def refused(client: str) -> None:
    """Count and log an event the client's backlog bound refused."""
    WEBHOOK_DELIVERIES.labels("refused").inc()
    log.warning(
        "webhook refused: the client's backlog is full (GATEWAY_WEBHOOK_MAX_BACKLOG)",
        extra={"webhook_client": client},
    )


class MemoryOutbox:
    """The outbox in this process."""

    def __init__(self, *, max_backlog: int, clock: Callable[[], float] = time.time) -> None:
        self._max_backlog = max_backlog
        self._clock = clock
        self._queues: dict[str, deque[WebhookEvent]] = {}
        self._due: dict[str, float] = {}
        self._leases: dict[str, str] = {}
        self._backlog: dict[str, int] = {}

    def push(self, event: WebhookEvent) -> bool:
        if self._backlog.get(event.client, 0) >= self._max_backlog:
            refused(event.client)
            return False
        self._queues.setdefault(event.message_id, deque()).append(event)
        self._backlog[event.client] = self._backlog.get(event.client, 0) + 1
        self._due.setdefault(event.message_id, self._clock())
        return True

    async def take(self, most: int, lease_s: float) -> list[Taken]:
        now = self._clock()
        due = sorted((at, mid) for mid, at in self._due.items() if at <= now)[:most]
        taken = []
        for _, mid in due:
            token = uuid.uuid4().hex
            self._due[mid], self._leases[mid] = now + lease_s, token
            taken.append(Taken(self._queues[mid][0], token))
        return taken

    async def settle(self, taken: Taken, how: Settle, delay_s: float = 0.0) -> None:
        event = taken.event
        mid, queue = event.message_id, self._queues.get(event.message_id)
        if self._leases.get(mid) != taken.lease or not queue or queue[0].id != event.id:
            return
        del self._leases[mid]
        if how == "retry":
            queue[0] = replace(event, attempts=event.attempts + 1)
            self._due[mid] = self._clock() + delay_s
            return
        queue.popleft()
        self._backlog[event.client] -= 1
        if queue:
            self._due[mid] = self._clock()
        else:
            del self._queues[mid], self._due[mid]

    async def depth(self) -> tuple[int, float]:
        """Events waiting, and the age in seconds of the oldest first event."""
        heads = [q[0].created_ms for q in self._queues.values() if q]
        oldest = (self._clock() * 1000 - min(heads)) / 1000 if heads else 0.0
        return sum(self._backlog.values()), max(0.0, oldest)


# KEYS: queue, due, backlog, oldest. ARGV: message id, client, event, created ms, bound.
_PUSH = """
local n = tonumber(redis.call('HGET', KEYS[3], ARGV[2]) or '0')
if n >= tonumber(ARGV[5]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[3])
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[4], 'NX', ARGV[4], ARGV[1])
return 1
"""
# KEYS: due, leases, oldest. ARGV: most, lease ms, token prefix, queue key prefix. Returns
# lease, head pairs.
_TAKE = (
    NOW_MS
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for i, mid in ipairs(due) do
  local head = redis.call('LINDEX', ARGV[4] .. mid, 0)
  if head then
    local token = ARGV[3] .. i
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), mid)
    redis.call('HSET', KEYS[2], mid, token)
    table.insert(out, token)
    table.insert(out, head)
  else
    redis.call('ZREM', KEYS[1], mid)
    redis.call('ZREM', KEYS[3], mid)
    redis.call('HDEL', KEYS[2], mid)
  end
end
return out
"""
)
# KEYS: queue, due, leases, backlog, oldest. ARGV: message id, lease, event id, how,
# delay ms, the event with one more attempt, client.
_SETTLE = (
    NOW_MS
    + """
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
local head = redis.call('LINDEX', KEYS[1], 0)
if not head or cjson.decode(head)['id'] ~= ARGV[3] then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
if ARGV[4] == 'retry' then
  redis.call('LSET', KEYS[1], 0, ARGV[6])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[1])
  return 1
end
redis.call('LPOP', KEYS[1])
if tonumber(redis.call('HINCRBY', KEYS[4], ARGV[7], -1)) <= 0 then
  redis.call('HDEL', KEYS[4], ARGV[7])
end
local nxt = redis.call('LINDEX', KEYS[1], 0)
if nxt then
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('ZADD', KEYS[5], cjson.decode(nxt)['created_ms'], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
end
return 1
"""
)


class RedisOutbox:
    """The outbox in Redis, shared by every replica."""

    def __init__(self, redis: Redis, *, max_backlog: int, prefix: str = "mg:") -> None:
        self._redis = redis
        self._queue = f"{prefix}wh:q:"
        self._due, self._leases = f"{prefix}wh:due", f"{prefix}wh:lease"
        self._backlog, self._oldest = f"{prefix}wh:backlog", f"{prefix}wh:oldest"
        self._max_backlog = max_backlog
        self._push = redis.register_script(_PUSH)
        self._take = redis.register_script(_TAKE)
        self._settle = redis.register_script(_SETTLE)

    async def push_in(self, pipe: Pipeline, event: WebhookEvent) -> int:
        """Queue the push in a transaction being built; the index of its result (0 when the
        backlog bound refused it: `refused`)."""
        index = len(pipe.command_stack)
        await self._push(
            keys=[self._queue + event.message_id, self._due, self._backlog, self._oldest],
            args=[
                event.message_id,
                event.client,
                event.dumps(),
                event.created_ms,
                self._max_backlog,
            ],
            client=pipe,
        )
        return index

    async def take(self, most: int, lease_s: float) -> list[Taken]:
        prefix = uuid.uuid4().hex + ":"
        try:
            out: list[Any] = await self._take(
                keys=[self._due, self._leases, self._oldest],
                args=[most, int(lease_s * 1000), prefix, self._queue],
            )
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None
        pairs = zip(out[::2], out[1::2], strict=True)
        return [Taken(WebhookEvent.loads(head), token.decode()) for token, head in pairs]

    async def settle(self, taken: Taken, how: Settle, delay_s: float = 0.0) -> None:
        event = taken.event
        mid = event.message_id
        retried = replace(event, attempts=event.attempts + 1)
        try:
            await self._settle(
                keys=[self._queue + mid, self._due, self._leases, self._backlog, self._oldest],
                args=[
                    mid, taken.lease, event.id, how, int(delay_s * 1000), retried.dumps(),
                    event.client,
                ],
            )  # fmt: skip
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None

    async def depth(self) -> tuple[int, float]:
        try:
            counts: Any = await self._redis.hvals(self._backlog)
            oldest: Any = await self._redis.zrange(self._oldest, 0, 0, withscores=True)
            seconds, micros = await self._redis.time()
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        age = (now_ms - oldest[0][1]) / 1000 if oldest else 0.0
        return sum(int(c) for c in counts), max(0.0, age)
