"""Idempotency records: which sends are running, which answered, what a failed one left.

A record is created by the first request with a key and holds its fingerprint. While the
send runs it is `in_flight`, with a lease (so a replica that dies mid-send does not lock
the key forever) and a phase: `pending` until the delivering call (a Kaizala post, a
Gupshup send) may leave, `delivering` from just before it. Then the record is `done`, with
the stored answer, or `released` with what a retry may reuse (a media id whose delivery
certainly failed), or gone. Records expire after the idempotency TTL from their first use.

When a lease ends, a `pending` record may be claimed again (nothing was delivered); a
`delivering` one, or one whose phase is unknown (written by an older version), is
`interrupted`: the provider may have acted, so no attempt with that key sends again.

A claim names its token, so a claim retried after its reply was lost (a dropped Redis
connection) finds itself instead of a send "still running".

Two stores keep them: Redis (shared by every replica; each step is one Lua script, so a
claim is atomic and timed by the Redis server's clock, not the replicas'), and a dict in
the process when no Redis is configured.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from redis.asyncio import Redis

from gateway.state.lua import NOW_MS, run_script

ClaimKind = Literal["claimed", "replay", "in_flight", "mismatch", "interrupted"]
# The fingerprint's version that records are written with now (see gateway.pipeline.idempotent);
# a record without one was written with version 1.
FINGERPRINT_VERSION = 2


@dataclass(frozen=True)
class StoredAnswer:
    """An answer kept to be replayed: status, content type, headers worth repeating, body."""

    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)

    def dumps(self) -> str:
        return json.dumps(
            {
                "status": self.status,
                "type": self.content_type,
                "body": self.body,
                "headers": self.headers,
            }
        )

    @classmethod
    def loads(cls, text: str) -> StoredAnswer:
        data = json.loads(text)
        return cls(data["status"], data["type"], data["body"], data.get("headers", {}))


@dataclass(frozen=True)
class Fingerprint:
    """A request's fingerprint now, and as the previous version computed it (to compare
    with a record an older gateway wrote)."""

    current: str
    legacy: str


@dataclass(frozen=True)
class Claim:
    """What `begin` found: the key is now ours (`claimed`, with what an earlier failed
    attempt left in `resume`), or it answered already (`replay`), or it is running
    elsewhere (`in_flight`, for `retry_after_s` more at most), or it was used for another
    request (`mismatch`), or an earlier attempt was cut off while its delivering call may
    have left (`interrupted`)."""

    kind: ClaimKind
    token: str = ""
    answer: StoredAnswer | None = None
    resume: dict[str, str] = field(default_factory=dict)
    retry_after_s: float = 0.0


class IdempotencyStore(Protocol):
    """Where idempotency records live. Every step may be sent again after a lost reply
    and does the same thing: a step is named by the claim's token."""

    async def begin(
        self, key: str, fingerprint: Fingerprint, token: str, *, lease_s: float, ttl_s: float
    ) -> Claim: ...

    async def mark_delivering(self, key: str, token: str, media_id: str | None) -> bool:
        """Record that the delivering call may leave now (keeping `media_id`); False when
        the claim is no longer this token's (its record expired or was lost)."""
        ...

    async def finish(self, key: str, token: str, answer: StoredAnswer, *, ttl_s: float) -> None: ...

    async def release(
        self, key: str, token: str, resume: dict[str, str], *, ttl_s: float
    ) -> None: ...


def new_token() -> str:
    return uuid.uuid4().hex


def _claim(kind: ClaimKind, record: dict[str, Any], retry_after_s: float = 0.0) -> Claim:
    answer = record.get("answer")
    resume = record.get("resume")
    return Claim(
        kind=kind,
        token=str(record.get("token", "")),
        answer=StoredAnswer.loads(answer) if isinstance(answer, str) else None,
        resume=dict(resume) if isinstance(resume, dict) else {},
        retry_after_s=retry_after_s,
    )


class MemoryIdempotencyStore:
    """Records in this process: right for one replica, lost on restart."""

    MAX_RECORDS = 100_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._records: dict[str, tuple[dict[str, Any], float]] = {}  # key -> (record, expiry)
        self._clock = clock

    def _get(self, key: str, now: float) -> dict[str, Any] | None:
        found = self._records.get(key)
        if found is None or found[1] <= now:
            self._records.pop(key, None)
            return None
        return found[0]

    def _put(self, key: str, record: dict[str, Any], expiry: float) -> None:
        if key not in self._records and len(self._records) >= self.MAX_RECORDS:
            now = self._clock()
            for stale in [k for k, (_, e) in self._records.items() if e <= now]:
                del self._records[stale]
            while len(self._records) >= self.MAX_RECORDS:
                del self._records[next(iter(self._records))]
        self._records[key] = (record, expiry)

    # No await in any of these: each runs whole on the event loop, as a Lua script does.
    async def begin(
        self, key: str, fingerprint: Fingerprint, token: str, *, lease_s: float, ttl_s: float
    ) -> Claim:
        now = self._clock()
        record = self._get(key, now)
        expiry = now + ttl_s
        if record is not None:
            expiry = self._records[key][1]
            written = fingerprint.legacy if record.get("fpv") is None else fingerprint.current
            if record["fp"] != written:
                return _claim("mismatch", record)
            if record["state"] == "done":
                return _claim("replay", record)
            if record["state"] == "in_flight":
                if record.get("token") == token:
                    return _claim("claimed", record)
                if record["lease_until"] > now:
                    return _claim("in_flight", record, record["lease_until"] - now)
                if record.get("phase") != "pending":
                    return _claim("interrupted", record)
        else:
            record = {"fp": fingerprint.current, "fpv": FINGERPRINT_VERSION}
        record.update(state="in_flight", phase="pending", token=token, lease_until=now + lease_s)
        self._put(key, record, expiry)
        return _claim("claimed", record)

    async def mark_delivering(self, key: str, token: str, media_id: str | None) -> bool:
        record = self._get(key, self._clock())
        if record is None or record.get("token") != token or record["state"] != "in_flight":
            return False
        record["phase"] = "delivering"
        if media_id:
            record["resume"] = {"media_id": media_id}
        return True

    async def finish(self, key: str, token: str, answer: StoredAnswer, *, ttl_s: float) -> None:
        record = self._get(key, self._clock())
        if record is not None and record.get("token") == token:
            record.update(state="done", answer=answer.dumps())

    async def release(self, key: str, token: str, resume: dict[str, str], *, ttl_s: float) -> None:
        record = self._get(key, self._clock())
        if record is None or record.get("token") != token or record["state"] == "done":
            return
        if resume:
            record.update(state="released", resume=resume, lease_until=0)
        else:
            del self._records[key]


# KEYS[1] record; ARGV fingerprint now, fingerprint of version 1, token, lease ms, ttl ms,
# fingerprint version
_BEGIN = (
    NOW_MS
    + """
local raw = redis.call('GET', KEYS[1])
local rec
if raw then
  rec = cjson.decode(raw)
  local written = ARGV[1]
  if rec.fpv == nil then written = ARGV[2] end
  if rec.fp ~= written then return {'mismatch', raw, '0'} end
  if rec.state == 'done' then return {'replay', raw, '0'} end
  if rec.state == 'in_flight' then
    if rec.token == ARGV[3] then return {'claimed', raw, '0'} end
    if tonumber(rec.lease_until) > now then
      return {'in_flight', raw, tostring(tonumber(rec.lease_until) - now)}
    end
    if rec.phase ~= 'pending' then return {'interrupted', raw, '0'} end
  end
else
  rec = {fp = ARGV[1], fpv = tonumber(ARGV[6])}
end
rec.state = 'in_flight'
rec.phase = 'pending'
rec.token = ARGV[3]
rec.lease_until = now + tonumber(ARGV[4])
local encoded = cjson.encode(rec)
if raw then
  redis.call('SET', KEYS[1], encoded, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], encoded, 'PX', ARGV[5])
end
return {'claimed', encoded, '0'}
"""
)

# KEYS[1] record; ARGV token, media id (or empty)
_MARK = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.token ~= ARGV[1] or rec.state ~= 'in_flight' then return 0 end
rec.phase = 'delivering'
if ARGV[2] ~= '' then rec.resume = {media_id = ARGV[2]} end
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return 1
"""

# KEYS[1] record; ARGV token, answer (a string kept as it is)
_FINISH = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.token ~= ARGV[1] then return 0 end
rec.state = 'done'
rec.answer = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return 1
"""

# KEYS[1] record; ARGV token, resume (JSON object, or empty)
_RELEASE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.token ~= ARGV[1] or rec.state == 'done' then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  return 1
end
rec.state = 'released'
rec.lease_until = 0
rec.resume = cjson.decode(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return 1
"""


class RedisIdempotencyStore:
    """Records in Redis, shared by every replica."""

    def __init__(self, redis: Redis, *, prefix: str = "mg:idem:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._begin = redis.register_script(_BEGIN)
        self._mark = redis.register_script(_MARK)
        self._finish = redis.register_script(_FINISH)
        self._release = redis.register_script(_RELEASE)

    async def begin(
        self, key: str, fingerprint: Fingerprint, token: str, *, lease_s: float, ttl_s: float
    ) -> Claim:
        args = [
            fingerprint.current,
            fingerprint.legacy,
            token,
            int(lease_s * 1000),
            int(ttl_s * 1000),
            FINGERPRINT_VERSION,
        ]
        kind, raw, left_ms = await self._run(self._begin, key, args)
        return _claim(_text(kind), json.loads(_text(raw)), int(left_ms) / 1000)  # type: ignore[arg-type]

    async def mark_delivering(self, key: str, token: str, media_id: str | None) -> bool:
        return bool(await self._run(self._mark, key, [token, media_id or ""]))

    async def finish(self, key: str, token: str, answer: StoredAnswer, *, ttl_s: float) -> None:
        await self._run(self._finish, key, [token, answer.dumps()])

    async def release(self, key: str, token: str, resume: dict[str, str], *, ttl_s: float) -> None:
        await self._run(self._release, key, [token, json.dumps(resume) if resume else ""])

    async def _run(self, script: Any, key: str, args: list[Any]) -> Any:
        return await run_script(script, self._prefix + key, args)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
