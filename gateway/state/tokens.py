"""Provider credentials shared by the replicas through Redis.

Tokens are cached until shortly before they are renewed, so one fetch serves every replica;
a lock (with a lease, and a bounded wait) makes one replica fetch while the others wait;
a secret a provider replaces (Kaizala's rotated refresh token) is kept, so every replica
and every restart uses the current one.

Nothing is stored readable: each value is sealed (Fernet: AES-128-CBC with HMAC-SHA256)
with a key derived (HKDF-SHA256) from the provider's own long-lived secret, which every
replica already has. Whoever reads Redis, or watches its MONITOR, sees ciphertext; a
changed provider secret makes old entries unreadable, and they are fetched again.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.asyncio import Redis
from redis.exceptions import RedisError

from providers.http import Token, TokenShare

log = logging.getLogger("gateway.state")

LOCK_LEASE_S = 30.0  # longer than a token fetch takes; a dead holder frees it by then
LOCK_WAIT_S = 10.0  # then the waiter fetches on its own rather than fail the send
SECRET_TTL_S = 400 * 86_400  # a refresh token lives 365 days

_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def seal_key(secret: str, namespace: str) -> bytes:
    """The Fernet key for one provider credential, derived from its own secret."""
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"media-gateway shared state v1",
        info=namespace.encode(),
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(derived)


class RedisTokenShare:
    """One credential's shared tokens, lock and secrets, under `namespace`."""

    def __init__(self, redis: Redis, namespace: str, secret: str, *, prefix: str = "mg:") -> None:
        self._redis = redis
        key = seal_key(secret, namespace)
        # Named by a hash of the derived key: no account name shows, and deployments with
        # other secrets sharing one Redis never touch each other's entries.
        self._prefix = prefix + hashlib.sha256(key).hexdigest()[:24] + ":"
        self._fernet = Fernet(key)
        self._unlock = redis.register_script(_UNLOCK)

    async def load(self, name: str) -> Token | None:
        data = await self._open(await self._redis.get(self._prefix + "tok:" + name))
        if data is None:
            return None
        fields = json.loads(data)
        return Token(fields["value"], float(fields["refresh_at"]), fields.get("extra", {}))

    async def save(self, name: str, token: Token) -> None:
        # A token that never expires (refresh_at infinite) is still refreshed once a day.
        ttl_ms = int(min(token.refresh_at - time.time(), 86_400.0) * 1000)
        if ttl_ms <= 0:
            return
        data = json.dumps(
            {"value": token.value, "refresh_at": token.refresh_at, "extra": dict(token.extra)}
        )
        await self._redis.set(self._prefix + "tok:" + name, self._seal(data), px=ttl_ms)

    @contextlib.asynccontextmanager
    async def lock(self, name: str) -> AsyncIterator[None]:
        key, owner = self._prefix + "lock:" + name, uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_WAIT_S
        held = False
        delay = 0.01
        while True:
            held = bool(await self._redis.set(key, owner, nx=True, px=int(LOCK_LEASE_S * 1000)))
            if held or time.monotonic() >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        if not held:
            log.warning(
                "token lock not obtained in time; fetching without it", extra={"lock": name}
            )
        try:
            yield
        finally:
            if held:
                await self._unlock(keys=[key], args=[owner])

    async def load_secret(self, name: str) -> str | None:
        return await self._open(await self._redis.get(self._prefix + "secret:" + name))

    async def save_secret(self, name: str, value: str) -> None:
        await self._redis.set(
            self._prefix + "secret:" + name, self._seal(value), ex=int(SECRET_TTL_S)
        )

    def _seal(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode())

    async def _open(self, sealed: bytes | str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self._fernet.decrypt(
                sealed if isinstance(sealed, bytes) else sealed.encode()
            ).decode()
        except InvalidToken:
            return None  # sealed with another secret (it was rotated): fetch anew


def redis_shares(redis: Redis) -> Callable[[str, str], TokenShare | None]:
    """`ProviderContext.share` for a gateway with Redis."""

    def share(namespace: str, secret: str) -> TokenShare:
        return RedisTokenShare(redis, namespace, secret)

    return share


class RedisMemo:
    """`providers.http.Memo` in Redis: what every replica may reuse (media ids). With Redis
    unreachable it answers a miss and drops writes: the caller only loses the reuse."""

    def __init__(self, redis: Redis, *, prefix: str = "mg:memo:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        try:
            value = await self._redis.get(self._prefix + key)
        except (RedisError, OSError) as exc:
            log.warning("memo unreadable; a miss", extra={"error": type(exc).__name__})
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, key: str, value: str, ttl_s: float) -> None:
        try:
            await self._redis.set(self._prefix + key, value, px=max(1, int(ttl_s * 1000)))
        except (RedisError, OSError) as exc:
            log.warning("memo unwritable; not kept", extra={"error": type(exc).__name__})

    async def forget(self, key: str) -> None:
        try:
            await self._redis.delete(self._prefix + key)
        except (RedisError, OSError) as exc:
            log.warning("memo unwritable; not forgotten", extra={"error": type(exc).__name__})
