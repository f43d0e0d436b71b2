"""Client authentication by X-API-Key, compared in constant time."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from gateway.errors import UnauthorizedError

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="One of the keys in GATEWAY_API_KEYS (not needed when none are configured).",
)


# `async def` for every dependency: FastAPI runs a plain `def` in a worker thread, a thread
# handoff per request for a few microseconds of work (bench/README.md).
async def require_api_key(
    request: Request, offered: Annotated[str | None, Security(api_key_header)]
) -> None:
    keys: tuple[bytes, ...] = request.app.state.runtime.api_keys
    if not keys:
        return
    if offered is None:
        raise UnauthorizedError("The X-API-Key header is required.")
    candidate = offered.encode()
    # Compare against every key so the time taken does not tell which one nearly matched.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(candidate, key)
    if not matched:
        raise UnauthorizedError("The X-API-Key is not one the gateway knows.")


ApiKey = Annotated[None, Depends(require_api_key)]
