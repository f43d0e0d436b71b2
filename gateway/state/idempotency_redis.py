"""Idempotency records in Redis, shared by every replica (the rules:
`gateway.state.idempotency`): each step is one Lua script, so a claim is atomic and timed by
the Redis server's clock, not the replicas'."""

from __future__ import annotations

import json
from typing import Any

from redis.asyncio import Redis

from gateway.state.idempotency import (
    FINGERPRINT_VERSION,
    Claim,
    Fingerprint,
    StoredAnswer,
    claim_of,
)
from gateway.state.lua import NOW_MS, run_script

# KEYS[1] record; ARGV fingerprint now (empty: not known yet), fingerprint of version 1, token,
# lease ms, ttl ms, fingerprint version
_BEGIN = (
    NOW_MS
    + """
local raw = redis.call('GET', KEYS[1])
local rec
if raw then
  rec = cjson.decode(raw)
  if rec.fp ~= nil then
    if ARGV[1] == '' then return {'unbound', raw, '0'} end
    local written = ARGV[1]
    if rec.fpv == nil then written = ARGV[2] end
    if rec.fp ~= written then return {'mismatch', raw, '0'} end
  end
  if rec.state == 'done' then return {'replay', raw, '0'} end
  if rec.state == 'in_flight' then
    if rec.token == ARGV[3] then return {'claimed', raw, '0'} end
    if tonumber(rec.lease_until) > now then
      return {'in_flight', raw, tostring(tonumber(rec.lease_until) - now)}
    end
    if rec.phase ~= 'pending' then return {'interrupted', raw, '0'} end
  end
else
  rec = {}
end
if rec.fp == nil and ARGV[1] ~= '' then
  rec.fp = ARGV[1]
  rec.fpv = tonumber(ARGV[6])
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

# Binds ARGV[i] (a fingerprint, or empty) to a record claimed without one; a record left
# without one is `unbound`.
_BIND = """
local function bind(rec, fp, version)
  if rec.fp == nil and fp ~= '' then
    rec.fp = fp
    rec.fpv = tonumber(version)
  end
  return rec.fp ~= nil
end
"""

# KEYS[1] record; ARGV token, media id (or empty), fingerprint (or empty), its version
_MARK = (
    _BIND
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.token ~= ARGV[1] or rec.state ~= 'in_flight' then return 0 end
if not bind(rec, ARGV[3], ARGV[4]) then return 0 end
rec.phase = 'delivering'
if ARGV[2] ~= '' then rec.resume = {media_id = ARGV[2]} end
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return 1
"""
)

# KEYS[1] record; ARGV token, answer (a string kept as it is), fingerprint (or empty), its
# version
_FINISH = (
    _BIND
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.token ~= ARGV[1] then return 0 end
if not bind(rec, ARGV[3], ARGV[4]) then
  redis.call('DEL', KEYS[1])
  return 1
end
rec.state = 'done'
rec.answer = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return 1
"""
)

# KEYS[1] record; ARGV token, resume (JSON object, or empty), fingerprint (or empty), its
# version
_RELEASE = (
    _BIND
    + """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if rec.token ~= ARGV[1] or rec.state == 'done' then return 0 end
if not bind(rec, ARGV[3], ARGV[4]) or ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  return 1
end
rec.state = 'released'
rec.lease_until = 0
rec.resume = cjson.decode(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(rec), 'KEEPTTL')
return 1
"""
)


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
        self,
        key: str,
        fingerprint: Fingerprint | None,
        token: str,
        *,
        lease_s: float,
        ttl_s: float,
    ) -> Claim:
        args = [
            fingerprint.current if fingerprint is not None else "",
            fingerprint.legacy if fingerprint is not None else "",
            token,
            int(lease_s * 1000),
            int(ttl_s * 1000),
            FINGERPRINT_VERSION,
        ]
        kind, raw, left_ms = await self._run(self._begin, key, args)
        return claim_of(_text(kind), json.loads(_text(raw)), int(left_ms) / 1000)  # type: ignore[arg-type]

    async def mark_delivering(
        self, key: str, token: str, media_id: str | None, fingerprint: Fingerprint | None = None
    ) -> bool:
        args = [token, media_id or "", *_bound(fingerprint)]
        return bool(await self._run(self._mark, key, args))

    async def finish(
        self,
        key: str,
        token: str,
        answer: StoredAnswer,
        *,
        ttl_s: float,
        fingerprint: Fingerprint | None = None,
    ) -> None:
        await self._run(self._finish, key, [token, answer.dumps(), *_bound(fingerprint)])

    async def release(
        self,
        key: str,
        token: str,
        resume: dict[str, str],
        *,
        ttl_s: float,
        fingerprint: Fingerprint | None = None,
    ) -> None:
        resumed = json.dumps(resume) if resume else ""
        await self._run(self._release, key, [token, resumed, *_bound(fingerprint)])

    async def _run(self, script: Any, key: str, args: list[Any]) -> Any:
        return await run_script(script, self._prefix + key, args)


def _bound(fingerprint: Fingerprint | None) -> list[Any]:
    return [fingerprint.current if fingerprint is not None else "", FINGERPRINT_VERSION]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
