"""The deadline of the request being served: every upstream call, every wait for a token
and every download made while it is set share what is left of it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

# The loop time by which the request being served must be answered; None: no deadline.
_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def request_deadline(seconds: float | None) -> Iterator[None]:
    """Bound every upstream call and every wait made inside the block to `seconds` in all."""
    reset = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(reset)


def remaining() -> float | None:
    """Seconds left of the current request's deadline, or None when there is none."""
    deadline = _deadline.get()
    return None if deadline is None else max(0.0, deadline - time.monotonic())


def within(timeout: float) -> float:
    """`timeout`, shortened to what is left of the request's deadline."""
    left = remaining()
    return timeout if left is None else min(timeout, left)


def detach() -> None:
    """No deadline from here on in this context: for a task that serves many requests (one
    token fetch for every waiter), bounded by its own calls' timeouts instead."""
    _deadline.set(None)
