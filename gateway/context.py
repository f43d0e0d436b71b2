"""The request being served: its id (logs, problem bodies) and its client (logs, metrics)."""

from __future__ import annotations

from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def bind_request_id(value: str | None) -> object:
    """Set the id for the current task; returns a token for `reset_request_id`."""
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


# The name of the request's client (never its key), for logs and metrics.
_client: ContextVar[str | None] = ContextVar("client", default=None)


def current_client() -> str | None:
    return _client.get()


def bind_client(name: str) -> None:
    """Name the client of the request being served (its task's context)."""
    _client.set(name)
