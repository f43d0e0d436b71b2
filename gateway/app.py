"""The application factory: wiring, lifespan, and the published OpenAPI document."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from gateway import errors
from gateway.logs import configure_logging
from gateway.middleware import BodyLimitMiddleware, RequestContextMiddleware
from gateway.routes import router
from gateway.runtime import build_runtime, preflight, secrets_of
from gateway.schemas import SendMediaFields, SendMediaJson
from gateway.settings import Settings, StartupError, get_settings
from providers import MediaType, ProviderSettings, ProviderSpec, discover

log = logging.getLogger("gateway")

VERSION = "0.1.0"
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
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            config = settings or get_settings()
        except StartupError as exc:
            configure_logging("INFO", refused=True)
            log.critical("gateway cannot start: %s", exc)
            raise
        configure_logging(config.log_level, secrets_of(config))
        async with AsyncExitStack() as stack:
            try:
                loaded = preflight(config, registry, provider_settings)
                configure_logging(config.log_level, secrets_of(config, *loaded.values()))
                app.state.runtime = await build_runtime(config, registry, loaded, stack)
            except StartupError as exc:
                # The one line an operator needs; the server's traceback of it is dropped.
                configure_logging(config.log_level, secrets_of(config), refused=True)
                log.critical("gateway cannot start: %s", exc)
                raise
            log.info(
                "gateway started",
                extra={"providers": app.state.runtime.modes, "version": VERSION},
            )
            yield

    app = FastAPIOffline(
        title="Media gateway",
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_parameters={"persistAuthorization": True, "displayRequestDuration": True},
    )
    app.include_router(router)
    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, policy=lambda: app.state.runtime.body_policy)
    app.add_middleware(RequestContextMiddleware)
    _publish_openapi(app, sorted(registry))
    return app


def _flatten_optional(prop: dict[str, Any]) -> None:
    """Turn `anyOf: [X, null]` with `default: null` into plain X with an empty example.

    Swagger UI fills each form input with the schema's example, else with a sample value
    ("string"); an empty example leaves the input empty, so nothing unwanted is sent.
    """
    variants = prop.pop("anyOf", None)
    if variants is not None:
        for variant in variants:
            if variant.get("type") != "null":
                for key, value in variant.items():
                    prop.setdefault(key, value)
    if prop.get("default", "") is None:
        del prop["default"]
        if prop.get("type") == "string":
            prop["examples"] = [""]
        else:
            prop.pop("examples", None)


def _publish_openapi(app: FastAPI, provider_names: list[str]) -> None:
    """Document both request bodies of /send-media and the problem+json error responses."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = default_openapi()
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        form = SendMediaFields.model_json_schema(ref_template="#/components/schemas/{model}")
        json_body = SendMediaJson.model_json_schema(ref_template="#/components/schemas/{model}")
        for body in (form, json_body):
            schemas.update(body.pop("$defs", {}))
            body["properties"]["provider"]["enum"] = provider_names
        form["title"] = "SendMediaForm"
        # A form has no null: an absent field is simply not sent. Without this, Swagger UI
        # pre-fills optional inputs with the text "null" and the url input with its example.
        for prop in form["properties"].values():
            _flatten_optional(prop)
        form["properties"]["media_type"] = {
            "type": "string",
            "enum": [m.value for m in MediaType],
            "description": form["properties"]["media_type"].get("description", ""),
            "examples": [""],
        }
        form["properties"] = {
            "file": {
                "type": "array",
                "items": {"type": "string", "format": "binary"},
                "description": "The media; two or more images to kaizala make an album.",
            },
            **form["properties"],
        }
        schemas["SendMediaForm"] = form
        schemas["SendMediaJson"] = json_body
        operation = spec["paths"]["/send-media"]["post"]
        operation["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"$ref": "#/components/schemas/SendMediaForm"},
                    "examples": {
                        "kaizala": {
                            "summary": "Kaizala: an image (choose the file), or 2+ for an album",
                            "value": {
                                "provider": "kaizala",
                                "group_id": "6a4f8c1e-0000-4000-8000-000000000000@1",
                                "caption": "Site photo",
                            },
                        },
                        "gupshup": {
                            "summary": "Gupshup: a media id for a public URL",
                            "value": {
                                "provider": "gupshup",
                                "app_id": "my-app",
                                "url": "https://example.com/brochure.pdf",
                            },
                        },
                    },
                },
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/SendMediaJson"},
                    "examples": {
                        "gupshup": {
                            "summary": "Gupshup media id from a public URL",
                            "value": {
                                "provider": "gupshup",
                                "url": "https://example.com/brochure.pdf",
                                "app_id": "my-app",
                            },
                        },
                        "kaizala": {
                            "summary": "Kaizala image fetched by the gateway",
                            "value": {
                                "provider": "kaizala",
                                "url": "https://example.com/photo.png",
                                "group_id": "6a4f8c1e-0000-4000-8000-000000000000@1",
                                "caption": "Site photo",
                            },
                        },
                    },
                },
            },
        }
        operation.setdefault("parameters", []).append(
            {
                "name": "X-Request-ID",
                "in": "header",
                "required": False,
                "description": "Your id for this request (1-128 of A-Z a-z 0-9 . _ : -); "
                "generated when absent and echoed on the response.",
                "schema": {"type": "string", "maxLength": 128},
            }
        )
        request_id_header = {
            "description": "The request's id, as sent or generated.",
            "schema": {"type": "string"},
        }
        for path in spec["paths"].values():
            for op in path.values():
                for status, response in op.get("responses", {}).items():
                    response.setdefault("headers", {})["X-Request-ID"] = request_id_header
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[errors.PROBLEM_JSON] = content.pop("application/json")
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
