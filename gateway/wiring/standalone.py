"""`python -m gateway worker`: the worker alone (events applied, webhooks posted), for
operators who scale it apart from the HTTP replicas; it needs the shared Redis."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from contextlib import AsyncExitStack

from gateway import tracing
from gateway.delivery.worker import stop as stop_worker
from gateway.wiring.build import Checked, build_runtime, secrets_of
from gateway.wiring.logs import configure_logging
from gateway.wiring.settings import Settings
from providers import ProviderSpec

log = logging.getLogger("gateway")


async def run_worker(
    settings: Settings, specs: Mapping[str, ProviderSpec], checked: Checked
) -> None:
    """Run until SIGTERM or SIGINT, then stop: an event being applied or a webhook being
    posted is left to its lease, and another worker takes it over."""
    secrets = secrets_of(settings, *checked.provider_settings.values())
    configure_logging(settings.log_level, secrets + checked.clients.webhook_secrets())
    tracing.start_from_env()  # its spans: event.apply, webhook.post (the OTEL_* variables)
    async with AsyncExitStack() as stack:
        stack.callback(tracing.flush)
        runtime = await build_runtime(settings, specs, checked, stack)
        worker = asyncio.get_running_loop().create_task(runtime.events.worker.run())
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopping.set)
        waiting = loop.create_task(stopping.wait())
        await asyncio.wait({worker, waiting}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        log.info("worker stopping")
        await stop_worker(worker)
