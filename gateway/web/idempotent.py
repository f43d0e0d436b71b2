"""Idempotency-Key on /send-media (draft-ietf-httpapi-idempotency-key-header), by the rules
of the contract's "Idempotency and retries":

- the key is 1 to 255 printable ASCII characters, scoped to the caller's API key;
- the fingerprint is the provider, every field and the SHA-256 of each file's bytes;
- a repeat gets the stored answer again with `Idempotent-Replayed: true`, and nothing goes
  upstream; while the first runs, 409 with Retry-After; with another fingerprint, 422;
- successes and failures whose outcome at the provider is unknown are stored; any other
  failure releases the key, keeping a media id whose delivery certainly failed so the
  retry does not upload the bytes again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from collections.abc import Awaitable, Callable

from starlette.responses import Response

from gateway.errors import (
    GatewayError,
    IdempotencyConflictError,
    IdempotencyMismatchError,
    field_error,
    invalid,
)
from gateway.pipeline.intake import SendOrder
from gateway.state.idempotency import IdempotencyStore, StoredAnswer
from gateway.telemetry import current_trace
from gateway.web.problems import render
from providers.errors import ProviderError, ProviderTimeoutError, Stage

log = logging.getLogger("gateway.idempotency")

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
# Headers of a stored answer that mean the same on a replay (not X-Request-ID: each request
# has its own; the original's id stays in the body).
KEPT_HEADERS = ("retry-after",)

# A send that has the reuse id of an earlier attempt, and answers; the route provides it.
Send = Callable[[str | None], Awaitable[Response]]


def check_key(value: str) -> str:
    """The header's value, or a 422 naming it."""
    if not 1 <= len(value) <= 255 or not all(" " <= ch <= "~" for ch in value):
        raise invalid(
            [field_error(HEADER, f"{HEADER} must be 1 to 255 printable ASCII characters")]
        )
    return value


def fingerprint(order: SendOrder) -> str:
    """SHA-256 over the provider, every field given, and each file's bytes in order."""
    fields = order.fields.model_dump(mode="json", exclude_none=True)
    files = [upload.digest() for upload in order.files]
    canonical = json.dumps({"fields": fields, "files": files}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Idempotency:
    """Runs a send at most once per (caller, key)."""

    def __init__(self, store: IdempotencyStore, *, ttl_s: float, lease_s: float) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._lease_s = lease_s

    async def run(self, *, caller: str, key: str, order: SendOrder, send: Send) -> Response:
        record = hashlib.sha256(f"{caller}\0{key}".encode()).hexdigest()
        claim = await self._store.begin(
            record, fingerprint(order), lease_s=self._lease_s, ttl_s=self._ttl_s
        )
        if claim.kind == "replay":
            assert claim.answer is not None
            return _replay(claim.answer)
        if claim.kind == "in_flight":
            raise IdempotencyConflictError(
                f"A request with this {HEADER} is still being served; retry after it ends.",
                headers={"Retry-After": str(max(1, min(5, math.ceil(claim.retry_after_s))))},
            )
        if claim.kind == "mismatch":
            raise IdempotencyMismatchError(
                f"This {HEADER} was used for a different request (another provider, fields "
                "or files); use a new key for a new request."
            )
        try:
            response = await send(claim.resume.get("media_id"))
        except asyncio.CancelledError:
            # Stopped mid-send (shutdown): the provider may have acted. Never leave the key
            # claimable by a retry that could deliver twice.
            unknown = ProviderTimeoutError(
                "the gateway stopped before the provider answered",
                provider=order.fields.provider,
                stage=Stage.POST,
            )
            unknown.outcome_unknown = True
            await asyncio.shield(self._finish(record, claim.token, render(unknown)))
            raise
        except (GatewayError, ProviderError) as exc:
            answer = render(exc)
            if isinstance(exc, ProviderError) and exc.outcome_unknown:
                await self._finish(record, claim.token, answer)
            else:
                media_id = exc.media_id if isinstance(exc, ProviderError) else None
                resume = {"media_id": media_id} if media_id else {}
                await self._store.release(record, claim.token, resume, ttl_s=self._ttl_s)
            return answer
        except BaseException:
            await self._store.release(record, claim.token, {}, ttl_s=self._ttl_s)
            raise
        await self._finish(record, claim.token, response)
        return response

    async def _finish(self, record: str, token: str, response: Response) -> None:
        headers = {k: v for k, v in response.headers.items() if k in KEPT_HEADERS}
        answer = StoredAnswer(
            status=response.status_code,
            content_type=response.headers.get("content-type", "application/json"),
            body=bytes(response.body).decode(),
            headers=headers,
        )
        await self._store.finish(record, token, answer, ttl_s=self._ttl_s)


def _replay(answer: StoredAnswer) -> Response:
    if (trace := current_trace()) is not None:
        trace.replayed = True
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type=answer.content_type,
        headers={**answer.headers, REPLAYED: "true"},
    )


def caller_scope(api_key: str | None) -> str:
    """The scope of a caller's keys: its API key, hashed; one scope without client keys."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:32] if api_key else "anonymous"
