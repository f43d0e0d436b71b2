"""Shutting down without dropping anything.

On the first SIGTERM (or SIGINT) the gateway turns not-ready at once (/readyz answers 503,
sends that arrive from then on are refused with 503; those already in flight, an upload still
arriving among them, are served to the end) while it still listens, for GATEWAY_SHUTDOWN_DELAY_S, so
load balancers stop sending to it; then the server's own graceful shutdown begins, which
lets in-flight sends finish for GATEWAY_DRAIN_S. A second signal stops at once.

It wraps the exit handler the server installed, at app startup, so it works however the
app is served: `python -m gateway` with one worker or several, or `uvicorn gateway.main:app`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("gateway")

# A threading.Event: it is set from a signal handler, outside any coroutine.
draining = threading.Event()
_drain_started: list[float] = []  # time.monotonic() of the first signal


def arrived_after_drain(arrived: float) -> bool:
    """Whether a request that arrived at `arrived` (time.monotonic()) came after the first
    exit signal: those are refused; the ones already in flight are served to the end."""
    return draining.is_set() and (not _drain_started or arrived >= _drain_started[0])


EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def defer_exit_signals(delay_s: float) -> Callable[[], None]:
    """Wrap the current SIGTERM/SIGINT handlers; returns what puts them back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals can only be handled on the main thread
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}
    for sig in EXIT_SIGNALS:
        handler = signal.getsignal(sig)
        if not callable(handler):
            continue
        previous[sig] = handler

        def deferred(signum: int, frame: FrameType | None, handler: Any = handler) -> None:
            first = not draining.is_set()
            if first:
                _drain_started[:] = [time.monotonic()]
            draining.set()
            if first and delay_s > 0:
                log.info("shutting down: not ready now, stopping in %g s", delay_s)
                loop.call_soon_threadsafe(loop.call_later, delay_s, handler, signum, frame)
                return
            handler(signum, frame)

        signal.signal(sig, deferred)

    def restore() -> None:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is not handler:
                signal.signal(sig, handler)

    return restore
