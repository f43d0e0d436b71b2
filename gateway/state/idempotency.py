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

A large upload is sent while it arrives, before its hash (part of the fingerprint) can be
known: its claim is made without a fingerprint (`begin` with None), and only where no record
exists (`unbound` otherwise: the caller reads the request whole and begins again with its
fingerprint). The fingerprint is bound by the step that marks the record delivering (the
delivering call leaves only after the upload ended), or by the step that finishes or
releases it. A record still without one is never stored as an answer nor left to resume:
it is removed. Meanwhile, a request with the same key gets `in_flight`, whatever its
fingerprint.

Two stores keep them: Redis (shared by every replica, `gateway.state.idempotency_redis`),
and a dict in the process when no Redis is configured (here).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

ClaimKind = Literal["claimed", "replay", "in_flight", "mismatch", "interrupted", "unbound"]
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
    have left (`interrupted`), or, for a claim without a fingerprint, a record exists that
    only the request's fingerprint can be compared with (`unbound`)."""

    kind: ClaimKind
    token: str = ""
    answer: StoredAnswer | None = None
    resume: dict[str, str] = field(default_factory=dict)
    retry_after_s: float = 0.0


class IdempotencyStore(Protocol):
    """Where idempotency records live. Every step may be sent again after a lost reply
    and does the same thing: a step is named by the claim's token."""

    async def begin(
        self,
        key: str,
        fingerprint: Fingerprint | None,
        token: str,
        *,
        lease_s: float,
        ttl_s: float,
    ) -> Claim:
        """Claim the key (`fingerprint` None: not known yet, see the module's docstring)."""
        ...

    async def mark_delivering(
        self, key: str, token: str, media_id: str | None, fingerprint: Fingerprint | None = None
    ) -> bool:
        """Record that the delivering call may leave now (keeping `media_id`, binding
        `fingerprint` to a claim made without one); False when the claim is no longer this
        token's (its record expired or was lost)."""
        ...

    async def finish(
        self,
        key: str,
        token: str,
        answer: StoredAnswer,
        *,
        ttl_s: float,
        fingerprint: Fingerprint | None = None,
    ) -> None: ...

    async def release(
        self,
        key: str,
        token: str,
        resume: dict[str, str],
        *,
        ttl_s: float,
        fingerprint: Fingerprint | None = None,
    ) -> None: ...


def new_token() -> str:
    return uuid.uuid4().hex


def claim_of(kind: ClaimKind, record: dict[str, Any], retry_after_s: float = 0.0) -> Claim:
    """A `Claim` from a stored record."""
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
        self,
        key: str,
        fingerprint: Fingerprint | None,
        token: str,
        *,
        lease_s: float,
        ttl_s: float,
    ) -> Claim:
        now = self._clock()
        record = self._get(key, now)
        expiry = now + ttl_s
        if record is not None:
            expiry = self._records[key][1]
            if record.get("fp") is not None:
                if fingerprint is None:
                    return claim_of("unbound", record)
                written = fingerprint.legacy if record.get("fpv") is None else fingerprint.current
                if record["fp"] != written:
                    return claim_of("mismatch", record)
            if record["state"] == "done":
                return claim_of("replay", record)
            if record["state"] == "in_flight":
                if record.get("token") == token:
                    return claim_of("claimed", record)
                if record["lease_until"] > now:
                    return claim_of("in_flight", record, record["lease_until"] - now)
                if record.get("phase") != "pending":
                    return claim_of("interrupted", record)
        else:
            record = {}
        if record.get("fp") is None and fingerprint is not None:
            _bind(record, fingerprint)
        record.update(state="in_flight", phase="pending", token=token, lease_until=now + lease_s)
        self._put(key, record, expiry)
        return claim_of("claimed", record)

    async def mark_delivering(
        self, key: str, token: str, media_id: str | None, fingerprint: Fingerprint | None = None
    ) -> bool:
        record = self._get(key, self._clock())
        if record is None or record.get("token") != token or record["state"] != "in_flight":
            return False
        if record.get("fp") is None:
            if fingerprint is None:
                return False  # never delivering without a fingerprint
            _bind(record, fingerprint)
        record["phase"] = "delivering"
        if media_id:
            record["resume"] = {"media_id": media_id}
        return True

    async def finish(
        self,
        key: str,
        token: str,
        answer: StoredAnswer,
        *,
        ttl_s: float,
        fingerprint: Fingerprint | None = None,
    ) -> None:
        record = self._get(key, self._clock())
        if record is None or record.get("token") != token:
            return
        if record.get("fp") is None:
            if fingerprint is None:
                del self._records[key]
                return
            _bind(record, fingerprint)
        record.update(state="done", answer=answer.dumps())

    async def release(
        self,
        key: str,
        token: str,
        resume: dict[str, str],
        *,
        ttl_s: float,
        fingerprint: Fingerprint | None = None,
    ) -> None:
        record = self._get(key, self._clock())
        if record is None or record.get("token") != token or record["state"] == "done":
            return
        if record.get("fp") is None and fingerprint is not None:
            _bind(record, fingerprint)
        if resume and record.get("fp") is not None:
            record.update(state="released", resume=resume, lease_until=0)
        else:
            del self._records[key]


def _bind(record: dict[str, Any], fingerprint: Fingerprint) -> None:
    record.update(fp=fingerprint.current, fpv=FINGERPRINT_VERSION)
