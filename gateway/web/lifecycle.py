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


class Drain:
    """Whether this process is shutting down, and since when (one per app: set from a
    signal handler, read by the routes)."""

    def __init__(self) -> None:
        self._since: float | None = None  # time.monotonic() of the first exit signal

    @property
    def active(self) -> bool:
        return self._since is not None

    def begin(self) -> bool:
        """Start draining; whether this call started it."""
        if self._since is not None:
            return False
        self._since = time.monotonic()
        return True

    def refuses(self, arrived: float) -> bool:
        """Whether a request that arrived at `arrived` (time.monotonic()) came after the
        first exit signal: those are refused; the ones already in flight are served."""
        return self._since is not None and arrived >= self._since


EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def defer_exit_signals(drain: Drain, delay_s: float) -> Callable[[], None]:
    """Wrap the current SIGTERM/SIGINT handlers so the first signal starts `drain`; returns
    what puts them back."""
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
            first = drain.begin()
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
