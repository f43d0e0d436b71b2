"""The application factory: the lifespan that builds the runtime, routes, middleware."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from gateway import tracing
from gateway.delivery.worker import stop as stop_worker
from gateway.pipeline.fields import send_models
from gateway.web import problems
from gateway.web.lifecycle import defer_exit_signals
from gateway.web.middleware import (
    BodyLimitMiddleware,
    RequestContextMiddleware,
    secure_docs,
)
from gateway.web.openapi import mark_problems, send_media_extra
from gateway.web.routes import build_router
from gateway.wiring.build import VERSION, build_runtime, preflight, secrets_of
from gateway.wiring.logs import configure_logging
from gateway.wiring.server import SERVING, Serving
from gateway.wiring.settings import Settings, StartupError, get_settings
from providers import ProviderSettings, ProviderSpec, discover

log = logging.getLogger("gateway")

DESCRIPTION = """Send an image, an album, audio, a document or a video through a messaging
provider with one call. Every failure is an `application/problem+json` document with a stable
`code`. Providers without credentials run against the built-in sandbox simulators."""


def create_app(
    settings: Settings | None = None,
    *,
    specs: Mapping[str, ProviderSpec] | None = None,
    provider_settings: Mapping[str, ProviderSettings] | None = None,
) -> FastAPI:
    """Build the gateway; settings not given are read from the environment at startup."""
    registry = dict(specs) if specs is not None else dict(discover())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        try:
            config = settings or get_settings()
        except StartupError as exc:
            configure_logging("INFO", refused=True)
            log.critical("gateway cannot start: %s", exc)
            raise
        configure_logging(config.log_level, secrets_of(config))
        async with AsyncExitStack() as stack:
            try:
                checked = preflight(config, registry, provider_settings)
                secrets = secrets_of(config, *checked.provider_settings.values())
                secrets += checked.clients.webhook_secrets()
                configure_logging(config.log_level, secrets)
                app.state.runtime = await build_runtime(config, registry, checked, stack)
                if config.worker:
                    worker = asyncio.get_running_loop().create_task(
                        app.state.runtime.events.worker.run()
                    )
                    stack.push_async_callback(stop_worker, worker)
                # Before Redis closes: answers still being written get their last tries.
                stack.push_async_callback(app.state.runtime.idempotency.drain)
                stack.callback(tracing.flush)  # the last spans, exported at shutdown
            except StartupError as exc:
                # The one line an operator needs; the server's traceback of it is dropped.
                configure_logging(config.log_level, secrets_of(config), refused=True)
                log.critical("gateway cannot start: %s", exc)
                raise
            log.info(
                "gateway started",
                extra={"providers": app.state.runtime.modes, "version": VERSION},
            )
            stack.callback(defer_exit_signals(app.state.runtime.drain, config.shutdown_delay_s))
            # Shared by uvicorn with every connection's protocol (gateway.wiring.server).
            yield {
                SERVING: Serving(
                    header_timeout_s=config.client_header_timeout_s,
                    max_concurrency=config.max_concurrency,
                )
            }

    app = FastAPIOffline(
        title="Media gateway",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        # The API key stays in the page while it is open, never in the browser's storage.
        swagger_ui_parameters={"persistAuthorization": False, "displayRequestDuration": True},
    )
    models = send_models(registry)
    app.state.send_models = models
    app.include_router(build_router(send_media_extra(models, registry)))
    problems.install(app)
    app.add_middleware(BodyLimitMiddleware, policy=lambda: app.state.runtime.body_policy)
    app.add_middleware(RequestContextMiddleware)
    mark_problems(app)
    secure_docs(app)
    if tracing.start_from_env():  # the OTEL_* variables (or a provider a test installed)
        tracing.instrument_app(app)
    return app
