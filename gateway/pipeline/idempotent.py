"""Idempotency-Key on /send-media (draft-ietf-httpapi-idempotency-key-header), by the rules
of the contract's "Idempotency and retries":

- the key is 1 to 255 printable ASCII characters, scoped to the caller's key (its hash:
  `gateway.pipeline.clients.Caller.scope`);
- the fingerprint is the provider, every field, and each file's name, declared type and
  SHA-256 in order (versioned: a record keeps the version it was written with);
- a repeat gets the stored answer again with `Idempotent-Replayed: true`, and nothing goes
  upstream; while the first runs, 409 with Retry-After; with another fingerprint, 422;
- successes and failures whose outcome at the provider is unknown are stored; any other
  failure releases the key, keeping a media id whose delivery certainly failed so the
  retry does not upload the bytes again;
- a large upload is sent while it arrives (`gateway.pipeline.streaming`), so its hash is
  known only once it ended: the key is claimed first, without a fingerprint, where no record
  exists (an existing one is compared with the request read whole, then sent
  store-and-forward), and the fingerprint is bound in the step that marks the record
  delivering, which the delivering call awaits: a retry with another file is still refused,
  and nothing is delivered twice;
- at most once under faults: just before the delivering call may leave, the record says
  so. From then on nothing frees the key: a gateway killed, a Redis that stalls, an answer
  that cannot be stored or read leave the key `interrupted` (502, outcome unknown) once its
  lease ends, never claimable by a retry that would deliver twice. A success is answered
  even when its record cannot be written at once; writing it goes on in the background.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import math
import time
from collections.abc import Awaitable
from typing import Protocol

from gateway.errors import (
    GatewayError,
    IdempotencyConflictError,
    IdempotencyMismatchError,
    SendInterruptedError,
    StoreUnavailableError,
    field_error,
    invalid,
)
from gateway.pipeline.clients import Caller
from gateway.pipeline.intake import SendOrder
from gateway.pipeline.service import MediaService, Sent
from gateway.state.idempotency import (
    Claim,
    Fingerprint,
    IdempotencyStore,
    StoredAnswer,
    new_token,
)
from gateway.telemetry import current_trace
from providers.errors import ProviderError

log = logging.getLogger("gateway.idempotency")

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# Headers of a stored answer that mean the same on a replay (not X-Request-ID: each request
# has its own; the original's id stays in the body).
KEPT_HEADERS = ("retry-after",)
# How long a step in the request's path waits for the store before going on without it.
STORE_WAIT_S = 2.0
# Between two tries at writing an answer the store did not take.
REWRITE_EVERY_S = 0.5


class Renderer(Protocol):
    """How answers are written (the web layer's schemas and problem documents): the same
    for a send with a key as for one without."""

    def success(self, sent: Sent) -> StoredAnswer: ...

    def failure(self, error: GatewayError | ProviderError) -> StoredAnswer: ...


def check_key(value: str) -> str:
    """The header's value, or a 422 naming it."""
    if not 1 <= len(value) <= 255 or not all(" " <= ch <= "~" for ch in value):
        raise invalid(
            [field_error(HEADER, f"{HEADER} must be 1 to 255 printable ASCII characters")]
        )
    return value


def fingerprint(order: SendOrder) -> Fingerprint:
    """SHA-256 over the provider, every field given, and each file in order: its name, its
    declared content type and its bytes' SHA-256 (version 2); version 1 had the bytes only."""
    fields = order.fields.model_dump(mode="json", exclude_none=True)
    digests = [upload.digest() for upload in order.files]
    files = [
        {"name": upload.filename, "type": upload.content_type, "sha256": digest}
        for upload, digest in zip(order.files, digests, strict=True)
    ]
    return Fingerprint(
        current=_sha256({"fields": fields, "files": files, "v": 2}),
        legacy=_sha256({"fields": fields, "files": digests}),
    )


def _sha256(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


class _Attempt:
    """One claimed attempt: whether its delivering call may have left; for an order whose
    file was still arriving when the key was claimed (`unbound`), its fingerprint once the
    request was read whole."""

    def __init__(
        self, store: IdempotencyStore, record: str, token: str, *, unbound: SendOrder | None
    ) -> None:
        self._store, self._record, self.token = store, record, token
        self._unbound = unbound
        self.delivering = False
        self.media_id: str | None = None

    async def fingerprint(self, *, read: bool) -> Fingerprint | None:
        """The fingerprint to bind, if the claim was made without one: the request's as it
        was sent (read whole first if `read`; None when it was not, or broke off)."""
        order = self._unbound
        if order is None:
            return None
        live = order.live
        if live is not None and not (read or live.read_whole):
            return None
        try:
            return fingerprint(await order.whole())
        except Exception:  # the caller's body broke off: there is no request to bind
            return None

    async def before_delivery(self, media_id: str | None) -> None:
        """Recorded before the call may leave; when it cannot be, the call does not leave."""
        bound = await self.fingerprint(read=True)
        try:
            async with asyncio.timeout(STORE_WAIT_S * 2):
                ours = await self._store.mark_delivering(self._record, self.token, media_id, bound)
        except TimeoutError:
            raise StoreUnavailableError(
                "The gateway's shared state (Redis) did not answer in time; nothing was sent."
            ) from None
        if not ours:
            raise StoreUnavailableError(
                "This request's idempotency record was lost from the shared state (Redis); "
                "nothing was sent."
            )
        self.delivering, self.media_id = True, media_id


class Idempotency:
    """Runs a send at most once per (caller, key); its answers are written by `render`."""

    def __init__(
        self,
        store: IdempotencyStore,
        service: MediaService,
        render: Renderer,
        *,
        ttl_s: float,
        lease_s: float,
    ) -> None:
        self._store = store
        self._service = service
        self._render = render
        self._ttl_s = ttl_s
        self._lease_s = lease_s
        self._writers: set[asyncio.Task[None]] = set()

    async def run(self, *, caller: Caller, key: str, order: SendOrder) -> StoredAnswer:
        """The answer to this send: its own, or the one stored for an earlier attempt (with
        `Idempotent-Replayed: true`); a 409 or 422 refusal is raised."""
        record = hashlib.sha256(f"{caller.scope}\0{key}".encode()).hexdigest()
        token = new_token()
        streamed = order.live is not None  # its hash is known once it arrived
        claim = await self._store.begin(
            record,
            None if streamed else fingerprint(order),
            token,
            lease_s=self._lease_s,
            ttl_s=self._ttl_s,
        )
        if claim.kind == "unbound":  # a record to compare with: the request read whole
            order = await order.whole()
            streamed = False
            claim = await self._store.begin(
                record, fingerprint(order), token, lease_s=self._lease_s, ttl_s=self._ttl_s
            )
        if claim.kind != "claimed":
            return _refusal(claim)
        attempt = _Attempt(self._store, record, token, unbound=order if streamed else None)
        try:
            sent = await self._service.send(
                order,
                client=caller.client,
                scope=caller.scope,
                reuse_media_id=claim.resume.get("media_id"),
                before_delivery=attempt.before_delivery,
            )
        except (GatewayError, ProviderError) as exc:
            answer = self._render.failure(exc)
            bound = await attempt.fingerprint(read=False)
            if _may_have_delivered(exc, attempt):
                await self._keep(record, token, answer, bound)
            else:
                media_id = exc.media_id if isinstance(exc, ProviderError) else None
                resume = {"media_id": media_id} if media_id else {}
                await self._release(record, token, resume, bound)
            return answer
        except Exception as exc:
            if not attempt.delivering:
                await self._release(record, token, {})
                raise
            # A failure of the gateway's own once the delivering call may have left: the
            # provider may have acted, so the key keeps that answer.
            log.error("send failed after its delivering call may have left", exc_info=exc)
            answer = self._render.failure(_interrupted(attempt))
            await self._keep(record, token, answer)
            return answer
        except BaseException:
            # Stopped mid-send (shutdown cancels it): once the delivering call may have
            # left, never leave the key claimable by a retry that could deliver twice.
            if attempt.delivering:
                interrupted = self._render.failure(_interrupted(attempt))
                await asyncio.shield(self._keep(record, token, interrupted))
            else:
                await asyncio.shield(self._release(record, token, {}))
            raise
        answer = self._render.success(sent)
        await self._keep(record, token, answer)
        return answer

    async def _keep(
        self, record: str, token: str, answer: StoredAnswer, bound: Fingerprint | None = None
    ) -> None:
        """Store the answer; when the store does not take it now, the caller still gets its
        answer and the write is tried again in the background until the lease ends."""
        answer = dataclasses.replace(
            answer, headers={k: v for k, v in answer.headers.items() if k.lower() in KEPT_HEADERS}
        )
        if await _within_wait(
            self._store.finish(record, token, answer, ttl_s=self._ttl_s, fingerprint=bound)
        ):
            return
        log.error(
            "answer not stored yet: the shared state did not take it; trying again",
            extra={"status": answer.status},
        )
        rewrite = self._rewrite(record, token, answer, bound)
        task = asyncio.get_running_loop().create_task(rewrite)
        self._writers.add(task)
        task.add_done_callback(self._writers.discard)

    async def _rewrite(
        self, record: str, token: str, answer: StoredAnswer, bound: Fingerprint | None
    ) -> None:
        until = time.monotonic() + self._lease_s
        while time.monotonic() < until:
            await asyncio.sleep(REWRITE_EVERY_S)
            finish = self._store.finish(record, token, answer, ttl_s=self._ttl_s, fingerprint=bound)
            if await _within_wait(finish):
                log.warning("answer stored after the shared state came back")
                return
        log.error(
            "answer never stored: retries with this key will get 'interrupted'",
            extra={"status": answer.status},
        )

    async def _release(
        self,
        record: str,
        token: str,
        resume: dict[str, str],
        bound: Fingerprint | None = None,
    ) -> None:
        """Free the key (nothing was delivered); a store that cannot be reached only
        delays that: the lease ends and the record, still pending, may be claimed again."""
        release = self._store.release(record, token, resume, ttl_s=self._ttl_s, fingerprint=bound)
        if not await _within_wait(release):
            log.warning("key not released: the shared state did not answer")

    async def drain(self) -> None:
        """Wait for the answers still being written (at shutdown)."""
        if self._writers:
            await asyncio.wait(set(self._writers), timeout=STORE_WAIT_S * 2)


async def _within_wait(step: Awaitable[None]) -> bool:
    """Whether a store step was done within STORE_WAIT_S (False: unreachable or too slow)."""
    try:
        async with asyncio.timeout(STORE_WAIT_S):
            await step
    except (StoreUnavailableError, TimeoutError):
        return False
    return True


def _may_have_delivered(exc: GatewayError | ProviderError, attempt: _Attempt) -> bool:
    if isinstance(exc, ProviderError):
        return exc.outcome_unknown
    return attempt.delivering


def _interrupted(attempt: _Attempt | Claim) -> SendInterruptedError:
    media_id = attempt.media_id if isinstance(attempt, _Attempt) else attempt.resume.get("media_id")
    return SendInterruptedError(
        f"An earlier attempt with this {HEADER} was cut off while its delivering call was "
        "in flight; the provider may have acted, so the gateway does not send it again. "
        "Check the recipient before sending with a new key.",
        extensions={"outcome": "unknown", "media_id": media_id},
    )


def _refusal(claim: Claim) -> StoredAnswer:
    if claim.kind == "replay":
        assert claim.answer is not None
        return _replay(claim.answer)
    if claim.kind == "in_flight":
        raise IdempotencyConflictError(
            f"A request with this {HEADER} is still being served; retry after it ends.",
            headers={"Retry-After": str(max(1, min(5, math.ceil(claim.retry_after_s))))},
        )
    if claim.kind == "interrupted":
        raise _interrupted(claim)
    raise IdempotencyMismatchError(
        f"This {HEADER} was used for a different request (another provider, fields "
        "or files); use a new key for a new request."
    )


def _replay(answer: StoredAnswer) -> StoredAnswer:
    if (trace := current_trace()) is not None:
        trace.replayed = True
    return StoredAnswer(
        answer.status, answer.content_type, answer.body, {**answer.headers, REPLAYED: "true"}
    )
