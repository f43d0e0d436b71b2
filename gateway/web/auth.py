"""Who is calling: the client of a request's X-API-Key (gateway.pipeline.clients)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from gateway.context import bind_client
from gateway.pipeline.clients import Caller, Clients

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A client's key: one whose SHA-256 GATEWAY_CLIENTS_FILE lists, or one of "
    "GATEWAY_API_KEYS (not needed when no client has a key).",
)


# `async def` for every dependency: FastAPI runs a plain `def` in a worker thread, a thread
# handoff per request for a few microseconds of work (bench/README.md).
async def require_client(
    request: Request, offered: Annotated[str | None, Security(api_key_header)]
) -> Caller:
    """The request's client, or a 401; its name goes into the request's logs and metrics.
    A key is looked up by its SHA-256, so no comparison with a stored key can leak it."""
    clients: Clients = request.app.state.runtime.clients
    caller = clients.identify(offered)
    bind_client(caller.client.name)
    return caller


async def optional_client(
    request: Request, offered: Annotated[str | None, Security(api_key_header)]
) -> Caller | None:
    """The client when a key is offered (a 401 for an unknown one), else None."""
    clients: Clients = request.app.state.runtime.clients
    if offered is None and not clients.open:
        return None
    return await require_client(request, offered)


ApiKey = Annotated[Caller, Depends(require_client)]
MaybeApiKey = Annotated[Caller | None, Depends(optional_client)]
