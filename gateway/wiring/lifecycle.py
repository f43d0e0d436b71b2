"""Shutting down without dropping anything.

On the first SIGTERM (or SIGINT) the gateway turns not-ready at once (/readyz answers 503,
new sends are refused with 503) while it still listens, for GATEWAY_SHUTDOWN_DELAY_S, so
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
from collections.abc import Callable
from types import FrameType
from typing import Any

log = logging.getLogger("gateway")

# A threading.Event: it is set from a signal handler, outside any coroutine.
draining = threading.Event()

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
