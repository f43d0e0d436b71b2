"""Messages: what became of each delivering send, moved along by the provider's events.

A message is created `accepted` when the provider took the send, then moved by events:
forward only along accepted, sent, delivered, read; `failed` after any of them; a
`delivered` or `read` after `failed` wins (WhatsApp on several devices); a status seen once
is never applied again. Each change is one entry of `history` (at the provider's time) and,
for a client with a webhook, one event in its outbox (gateway.state.outbox), written in the
same transaction as the change, so a change is never kept without its webhook nor the
other way round.

An event about a message not yet recorded (it raced the send's answer) is kept for
`EARLY_S` and applied when the message is created. Two stores keep them: Redis (shared by
every replica; a change is an optimistic transaction, WATCH then MULTI, so the state machine
is this module's Python for both stores) and a dict in the process.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError, WatchError

from gateway.errors import StoreUnavailableError
from gateway.state.lua import unreachable
from gateway.state.outbox import MemoryOutbox, RedisOutbox, WebhookEvent, refused
from providers.events import EventError, EventKind, StatusEvent

EARLY_S = 60
# Events kept for one message not yet recorded: a message has a handful; the same id posted
# over and over (a replayed or forged callback) must not grow without bound.
EARLY_MOST = 16
_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3}
_STATUSES = frozenset({EventKind.SENT, EventKind.DELIVERED, EventKind.READ, EventKind.FAILED})
Applied = Literal["applied", "duplicate", "early"]
T = TypeVar("T")


def rfc3339(seconds: float) -> str:
    """A Unix time as RFC 3339 UTC, to the second: 2026-12-01T10:00:04Z."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Message:
    """One message: its public fields (`public()`, as GET /messages/{id} shows them) and
    whose it is: the client's name (its webhook) and its key's scope."""

    message_id: str
    provider: str
    to: str | None
    media_id: str | None
    media_type: str
    created_at: float
    client: str
    scope: str
    sandbox: bool = False
    webhook: bool = False  # whether the client had a webhook when it sent
    status: str = "accepted"
    updated_at: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    alias: str | None = None
    # The trace of the send that made it (W3C headers, when traces are on): its webhooks
    # are posted in that trace.
    trace: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.history:
            self.history = [{"status": "accepted", "at": self.created_at}]
            self.updated_at = self.created_at

    def public(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "provider": self.provider,
            "status": self.status,
            "to": self.to,
            "media_id": self.media_id,
            "media_type": self.media_type,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "history": [{"status": h["status"], "at": rfc3339(h["at"])} for h in self.history],
            "error": self.error,
            "sandbox": self.sandbox,
        }

    def dumps(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | bytes) -> Message:
        return cls(**json.loads(text))

    def belongs_to(self, client: str, scope: str) -> bool:
        """Whether the caller sent it: the same key (its scope survives a move from
        GATEWAY_API_KEYS into the clients file) or the same named client (a rotated key)."""
        return scope == self.scope or (client == self.client and not client.startswith("key-"))

    def apply(self, event: StatusEvent, now: float) -> bool:
        """Apply one event by the rules above; whether the status changed."""
        if event.kind not in _STATUSES:
            return False
        status = event.kind.value
        if any(entry["status"] == status for entry in self.history):
            return False
        if status == "failed":
            pass  # after any status but failed itself (seen in history above)
        elif self.status == "failed":
            if status not in ("delivered", "read"):
                return False
        elif _RANK[status] <= _RANK[self.status]:
            return False
        at = event.at or now
        self.status = status
        self.updated_at = at
        self.history.append({"status": status, "at": at})
        if event.error is not None and status == "failed":
            self.error = _error(event.error)
        return True

    def webhook_event(self) -> WebhookEvent:
        """The webhook of its latest change (Standard Webhooks: a stable id per change)."""
        status = self.status
        digest = hashlib.sha256(f"{self.message_id}\0{status}".encode()).hexdigest()[:32]
        body = json.dumps(
            {
                "type": f"message.{status}",
                "timestamp": rfc3339(self.updated_at),
                "data": self.public(),
            },
            separators=(",", ":"),
        )
        return WebhookEvent(
            id=f"evt_{digest}",
            client=self.client,
            message_id=self.message_id,
            body=body,
            created_ms=int(time.time() * 1000),
            trace=self.trace,
        )


def _error(error: EventError) -> dict[str, Any]:
    return {
        "code": error.code,
        "provider_code": error.provider_code,
        "title": error.title,
        "detail": error.detail,
    }


def _event_dumps(event: StatusEvent) -> str:
    data = asdict(event)
    data["kind"] = event.kind.value
    return json.dumps(data, separators=(",", ":"))


def _event_loads(text: str | bytes) -> StatusEvent:
    data = json.loads(text)
    error = data.get("error")
    return StatusEvent(
        kind=EventKind(data["kind"]),
        message_id=data.get("message_id"),
        alias=data.get("alias"),
        at=data.get("at", 0.0),
        error=EventError(**error) if error else None,
    )


class MessageStore(Protocol):
    async def create(self, message: Message) -> list[str]:
        """Record a new message (events that came early applied); the statuses changed."""
        ...

    async def get(self, message_id: str) -> Message | None: ...

    async def apply(self, event: StatusEvent) -> tuple[Applied, Message | None]:
        """Apply one status event; what came of it, and the message as it is now."""
        ...


class MemoryMessageStore:
    """Messages in this process (no Redis): lost on restart."""

    def __init__(
        self, outbox: MemoryOutbox, *, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._outbox = outbox
        self._ttl_s = ttl_s
        self._clock = clock
        self._messages: dict[str, tuple[float, Message]] = {}
        self._aliases: dict[str, str] = {}
        self._early: dict[str, list[tuple[float, StatusEvent]]] = {}

    async def create(self, message: Message) -> list[str]:
        now = self._clock()
        if await self.get(message.message_id) is not None:
            return []
        changed = []
        for at, event in self._early.pop(message.message_id, []):
            if now - at <= EARLY_S and message.apply(event, now):
                changed.append(message.status)
                self._notify(message)
        self._keep(message, now)
        return changed

    async def get(self, message_id: str) -> Message | None:
        kept = self._messages.get(message_id)
        if kept is None or kept[0] < self._clock():
            self._messages.pop(message_id, None)
            return None
        return kept[1]

    async def apply(self, event: StatusEvent) -> tuple[Applied, Message | None]:
        now = self._clock()
        message = None
        for known in _ids(event):  # the id the send answered, or another one seen before
            message = await self.get(known) or await self.get(self._aliases.get(known, ""))
            if message is not None:
                break
        if message is None:
            if len(self._early) >= _EARLY_PRUNE_AT:
                fresh = {k: v for k, v in self._early.items() if now - v[-1][0] <= EARLY_S}
                if len(fresh) > _EARLY_PRUNE_AT // 2:
                    # A flood of ids no send answered: the oldest half go, so pruning stays
                    # rare (amortised: never once per event).
                    fresh = dict(list(fresh.items())[len(fresh) // 2 :])
                self._early = fresh
            for key in _ids(event):
                kept = [e for e in self._early.get(key, []) if now - e[0] <= EARLY_S]
                self._early[key] = [*kept, (now, event)][-EARLY_MOST:]
            return "early", None
        changed = message.apply(event, now)
        other = _other_id(message, event)
        if other is not None:
            message.alias = other
            self._aliases[other] = message.message_id
        if changed:
            self._notify(message)
        return ("applied" if changed else "duplicate"), message

    def _keep(self, message: Message, now: float) -> None:
        self._messages[message.message_id] = (now + self._ttl_s, message)
        if len(self._messages) % 1024 == 0:
            self._messages = {k: v for k, v in self._messages.items() if v[0] >= now}

    def _notify(self, message: Message) -> None:
        if message.webhook:
            self._outbox.push(message.webhook_event())


_EARLY_PRUNE_AT = 10_000  # events of unknown messages kept in the process, before pruning
_TRIES = 20  # optimistic transactions on one message: events of one message are few


class RedisMessageStore:
    """Messages in Redis, shared by every replica."""

    def __init__(
        self,
        redis: Redis,
        outbox: RedisOutbox,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
        prefix: str = "mg:",
    ) -> None:
        self._redis = redis
        self._outbox = outbox
        self._message = f"{prefix}msg:"
        self._alias = f"{prefix}msg:alias:"
        self._early = f"{prefix}msg:early:"
        self._ttl_ms = int(ttl_s * 1000)
        self._clock = clock

    async def create(self, message: Message) -> list[str]:
        key, early = self._message + message.message_id, self._early + message.message_id
        return await _optimistic(lambda: self._create(message, key, early), "recorded")

    async def _create(self, message: Message, key: str, early: str) -> list[str]:
        async with self._redis.pipeline(transaction=True) as pipe:
            await pipe.watch(key, early)
            if await pipe.exists(key):
                return []
            now = self._clock()
            waiting = [_event_loads(e) for e in await pipe.lrange(early, 0, -1)]
            changed, events = [], []
            for event in waiting:
                if message.apply(event, now):
                    changed.append(message.status)
                    events.append(message.webhook_event())
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, message.dumps(), px=self._ttl_ms)
            pipe.delete(early)
            if message.alias:
                pipe.set(self._alias + message.alias, message.message_id, px=self._ttl_ms)
            pushed = (
                [await self._outbox.push_in(pipe, e) for e in events] if message.webhook else []
            )
            _count_refused(await pipe.execute(), pushed, message.client)
            return changed

    async def get(self, message_id: str) -> Message | None:
        try:
            text = await self._redis.get(self._message + message_id)
        except (RedisError, OSError) as exc:
            raise unreachable(exc) from None
        return Message.loads(text) if text is not None else None

    async def apply(self, event: StatusEvent) -> tuple[Applied, Message | None]:
        return await _optimistic(lambda: self._apply(event), "applied")

    async def _early_event(self, pipe: Pipeline, event: StatusEvent) -> tuple[Applied, None]:
        """Keep an event whose message is not recorded yet, under each of its ids."""
        keys = [self._early + i for i in _ids(event)]
        if keys:
            await pipe.watch(*keys)
            pipe.multi()  # type: ignore[no-untyped-call]
            for early in keys:
                pipe.rpush(early, _event_dumps(event))
                pipe.ltrim(early, -EARLY_MOST, -1)
                pipe.expire(early, EARLY_S)
            await pipe.execute()
        return "early", None

    async def _apply(self, event: StatusEvent) -> tuple[Applied, Message | None]:
        async with self._redis.pipeline(transaction=True) as pipe:
            text, key = None, None
            for known in _ids(event):  # the id the send answered, or another one seen before
                key = self._message + known
                await pipe.watch(key, self._alias + known)
                text = await pipe.get(key)
                if text is None and (found := await pipe.get(self._alias + known)) is not None:
                    key = self._message + (found.decode() if isinstance(found, bytes) else found)
                    await pipe.watch(key)
                    text = await pipe.get(key)
                if text is not None:
                    break
            if text is None:
                return await self._early_event(pipe, event)
            assert key is not None
            message = Message.loads(text)
            changed = message.apply(event, self._clock())
            other = _other_id(message, event)
            if not changed and other is None:
                return "duplicate", message
            if other is not None:
                message.alias = other
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.set(key, message.dumps(), keepttl=True)
            if other is not None:
                pipe.set(self._alias + other, message.message_id, px=self._ttl_ms)
            pushed = []
            if changed and message.webhook:
                pushed.append(await self._outbox.push_in(pipe, message.webhook_event()))
            _count_refused(await pipe.execute(), pushed, message.client)
            return ("applied" if changed else "duplicate"), message


async def _optimistic(step: Callable[[], Awaitable[T]], what: str) -> T:
    """Run one optimistic transaction (WATCH, then MULTI), again while another writer
    changed what it watched; an unreachable Redis is a StoreUnavailableError."""
    try:
        for _ in range(_TRIES):
            try:
                return await step()
            except WatchError:
                continue
    except (RedisError, OSError) as exc:
        raise unreachable(exc) from None
    raise StoreUnavailableError(f"The message could not be {what} (contention).")


def _ids(event: StatusEvent) -> list[str]:
    return [i for i in dict.fromkeys((event.message_id, event.alias)) if i]


def _other_id(message: Message, event: StatusEvent) -> str | None:
    """The event's id of the message that the message does not know yet, if any (the
    WhatsApp id, or Gupshup's when the send answered the WhatsApp one)."""
    if message.alias is not None:
        return None
    return next((i for i in _ids(event) if i != message.message_id), None)


def _count_refused(results: list[Any], pushed: list[int], client: str) -> None:
    for index in pushed:
        if results[index] == 0:
            refused(client)
