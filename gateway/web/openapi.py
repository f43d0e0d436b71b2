"""How /send-media's body is described: generated from the send models, which come from the
providers' specs, and handed to FastAPI as the route's `openapi_extra`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from gateway.pipeline.fields import SendModels, non_null
from gateway.web.problems import PROBLEM_JSON, problem_body
from gateway.web.schemas import Problem
from providers import ProviderSpec

REQUEST_ID_HEADER = {
    "description": "The request's id, as sent or generated.",
    "schema": {"type": "string"},
}


def send_media_extra(models: SendModels, specs: Mapping[str, ProviderSpec]) -> dict[str, Any]:
    """The operation's request body (a form and a JSON body, each with an example per
    provider) and its X-Request-ID parameter."""
    names = sorted(specs)
    form = _schema(models.fields, names)
    # A form has no null: an absent field is simply not sent.
    form["properties"] = {k: _plain_optional(p) for k, p in form["properties"].items()}
    form["title"] = "SendMediaForm"
    form["properties"] = {
        "file": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "The media: one or more files (two or more images to Kaizala "
            "make an album); or leave it empty and send a url. In Swagger UI: click "
            "“Add string item”, then choose the file; once more per file.",
            # No file item at first: a form left untouched sends a url and no empty file.
            "examples": [[]],
        },
        **form["properties"],
    }
    form["description"] = (
        "The fields of a send. " + _fields_by_provider(specs) + " Which file types each "
        "provider takes, per media type: GET /providers."
    )
    json_body = _by_provider(_schema(models.json, names), specs)
    form_examples = {}
    json_examples = {}
    for name, spec in specs.items():
        target = {
            field: info.examples[0]
            for field, info in spec.target.model_fields.items()
            if info.examples
        }
        form_examples[name] = {
            "summary": f"{name}: a file (choose it below)",
            "value": {"provider": name, **target},
        }
        json_examples[name] = {
            "summary": f"{name}: media by URL",
            "value": {"provider": name, "url": "https://example.com/brochure.pdf", **target},
        }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form, "examples": form_examples},
                "application/json": {"schema": json_body, "examples": json_examples},
            },
        },
        "parameters": [
            {
                "name": "X-Request-ID",
                "in": "header",
                "required": False,
                "description": "Your id for this request: 1 to 128 of A-Z a-z 0-9 . _ : -. "
                "Generated when absent; any other value is replaced by a generated id (never "
                "refused). Echoed on the response.",
                "schema": {"type": "string"},
            },
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Makes retries safe: a repeat with the same key (per API key) "
                "gets the first answer again, with `Idempotent-Replayed: true`, and nothing "
                "is sent twice. 1 to 255 printable ASCII characters; kept for "
                "GATEWAY_IDEMPOTENCY_TTL_S.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            },
        ],
    }


def _fields_by_provider(specs: Mapping[str, ProviderSpec]) -> str:
    """Which target fields each provider takes, in words (a form cannot say it in a schema
    that Swagger UI still renders as a form)."""
    said = []
    for name in sorted(specs):
        schema = specs[name].target.model_json_schema()
        required = set(schema.get("required", []))
        fields = [
            f"`{field}`" + (" (required)" if field in required else "")
            for field in schema.get("properties", {})
        ]
        said.append(f"{name} takes {', '.join(fields) or 'no target field'}")
    return "; ".join(said) + "; a field of another provider is refused (422)."


def _by_provider(body: dict[str, Any], specs: Mapping[str, ProviderSpec]) -> dict[str, Any]:
    """The JSON body as one shape per provider (`oneOf`, told apart by `provider`): the
    common fields and that provider's own target fields, with what its target requires."""
    target_fields = {f for spec in specs.values() for f in spec.target.model_fields}
    common = {k: v for k, v in body["properties"].items() if k not in target_fields}
    variants = []
    for name in sorted(specs):
        target = specs[name].target
        own = {k: v for k, v in body["properties"].items() if k in target.model_fields}
        required = target.model_json_schema().get("required", [])
        variants.append(
            {
                "title": f"{body.get('title', 'SendMediaJson')} ({name})",
                "type": "object",
                "additionalProperties": False,
                "properties": {**common, "provider": _only(common["provider"], name), **own},
                "required": [*body.get("required", []), *required],
            }
        )
    return {"description": body.get("description", ""), "oneOf": variants}


def _only(provider: dict[str, Any], name: str) -> dict[str, Any]:
    """The `provider` property of one variant: that name alone."""
    rest = {k: v for k, v in provider.items() if k not in ("enum", "examples")}
    return {**rest, "const": name, "examples": [name]}


def mark_problems(app: FastAPI) -> None:
    """Error answers are problem+json, and every answer carries X-Request-ID. FastAPI writes
    each response model as application/json and has no per-status media type, so these two
    facts are added to the generated document, once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            for path in spec["paths"].values():
                for operation in path.values():
                    for status, response in operation.get("responses", {}).items():
                        response.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID_HEADER
                        content = response.get("content", {})
                        if int(status) >= 400 and "application/json" in content:
                            content[PROBLEM_JSON] = content.pop("application/json")
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _schema(model: type[Any], provider_names: list[str]) -> dict[str, Any]:
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    schema = _inline(schema, defs)
    schema["properties"]["provider"]["enum"] = provider_names
    return dict(schema)


def _inline(node: Any, defs: Mapping[str, Any]) -> Any:
    """`node` with every local $ref replaced by the definition it names."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = copy.deepcopy(defs[ref.removeprefix("#/$defs/")])
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return _inline({**target, **extra}, defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def _plain_optional(prop: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, null]` with `default: null` as plain X with an empty example: Swagger UI
    fills each form input with the example, else with a sample value ("string"), and an
    empty example leaves it empty, so nothing unwanted is sent."""
    plain = non_null(prop)
    if "default" in plain and plain["default"] is None:
        del plain["default"]
        if plain.get("type") == "string":
            plain["examples"] = [""]
        else:
            plain.pop("examples", None)
    return plain


# ---- the documented answers: one example per code, shaped as the answers are ----

REQUEST_ID = "3f6c2a9e8b1d4e7fa05c9d2b6e4f8a10"


def example(
    status: int,
    code: str,
    title: str,
    detail: str,
    provider: str | None = None,
    provider_status: int | None = None,
    provider_message: str | None = None,
    retryable: bool | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    return problem_body(
        code=code,
        status=status,
        title=title,
        detail=detail,
        provider=provider,
        provider_status=provider_status,
        provider_message=provider_message,
        retryable=retryable,
        request_id=REQUEST_ID,
        **extensions,
    )


def documented(description: str, *examples: dict[str, Any]) -> dict[str, Any]:
    content = {"examples": {e["code"] + str(i or ""): {"value": e} for i, e in enumerate(examples)}}
    return {"model": Problem, "description": description, "content": {"application/json": content}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: documented(
        "The provider refused the request (`provider_rejected`).",
        example(
            400, "provider_rejected", "Provider rejected the request",
            "gupshup refused the request", "gupshup", 400,
            "Only CAPI apps allowed to generate media ID", stage="upload",
        ),
    ),
    401: documented(
        "Missing or unknown X-API-Key (`unauthorized`).",
        example(401, "unauthorized", "Unauthorized", "The X-API-Key header is required."),
    ),
    403: documented(
        "The client's key is valid but the send is outside its scope: a provider or a target "
        "value it may not use (`forbidden`, naming the field).",
        example(
            403, "forbidden", "Forbidden",
            "app_id: this client may not send to this value of app_id.",
            errors=[
                {"field": "app_id",
                 "message": "app_id: this client may not send to this value of app_id.",
                 "type": "value_error"}
            ],
        ),
    ),
    408: documented(
        "The request body stalled or arrived too slowly (`request_timeout`).",
        example(
            408, "request_timeout", "Request timeout",
            "The request body stalled for more than 30 s.",
        ),
    ),
    409: documented(
        "A request with the same Idempotency-Key is still being served "
        "(`idempotency_conflict`); see Retry-After.",
        example(
            409, "idempotency_conflict", "Idempotency conflict",
            "A request with this Idempotency-Key is still being served; retry after it ends.",
        ),
    ),
    413: documented(
        "Over the gateway's or the provider's size limit (`payload_too_large`).",
        example(
            413, "payload_too_large", "Payload too large",
            "'clip.mp4' is 157286400 bytes; gupshup takes at most 104857600.",
        ),
    ),
    415: documented(
        "Type not accepted, or bytes contradict the declared type (`unsupported_media_type`).",
        example(
            415, "unsupported_media_type", "Unsupported media type",
            "'photo.png' is declared as image/png but its bytes are application/pdf.",
        ),
    ),
    422: documented(
        "Malformed request (`validation_error`), or a URL the gateway will not or could "
        "not fetch (`url_not_allowed`, `url_fetch_failed`).",
        example(
            422, "validation_error", "Invalid request",
            "group_id: group_id is required by kaizala",
            errors=[
                {"field": "group_id", "message": "group_id is required by kaizala",
                 "type": "value_error"}
            ],
        ),
        example(
            422, "url_not_allowed", "URL not allowed",
            "The URL's host resolves to an internal address (private, loopback, link-local "
            "or otherwise not public); the gateway does not fetch from those.",
        ),
        example(422, "url_fetch_failed", "URL fetch failed", "The URL answered HTTP 404."),
        example(
            422, "idempotency_conflict", "Idempotency key reused",
            "This Idempotency-Key was used for a different request (another provider, fields "
            "or files); use a new key for a new request.",
        ),
    ),
    429: documented(
        "The provider throttled (`rate_limited`), or the client's own send quota is used up "
        "(`quota_exceeded`); see Retry-After.",
        example(
            429, "rate_limited", "Rate limited", "kaizala answered 429 at post", "kaizala",
            429, "Too many requests", stage="post", retry_after=7,
        ),
        example(
            429, "quota_exceeded", "Quota exceeded",
            "This client's quota of 120 sends a minute is used up; retry in 1 s.",
        ),
    ),
    500: documented(
        "The gateway failed unexpectedly (`internal_error`); the request id finds it in the logs.",
        example(
            500, "internal_error", "Internal error",
            "The gateway failed unexpectedly; the request id identifies it in the logs.",
        ),
    ),
    502: documented(
        "The provider failed (`provider_error`), refused the gateway's credentials "
        "(`provider_auth_failed`), or an earlier attempt with this Idempotency-Key was cut "
        "off while its delivering call was in flight (`interrupted`, outcome unknown).",
        example(
            502, "provider_error", "Provider error", "gupshup could not process the media",
            "gupshup", 500, "Unable to upload requested Media", stage="upload",
        ),
        example(
            502, "provider_auth_failed", "Provider refused the gateway",
            "kaizala refused the gateway's access token", "kaizala", 401, None, stage="post",
            media_id="kz-media-0f1e2d3c",
        ),
        example(
            502, "interrupted", "Send interrupted",
            "An earlier attempt with this Idempotency-Key was cut off while its delivering "
            "call was in flight; the provider may have acted, so the gateway does not send it "
            "again. Check the recipient before sending with a new key.",
            outcome="unknown", media_id="kz-media-0f1e2d3c",
        ),
    ),
    503: documented(
        "The provider cannot be reached (`provider_unavailable`), the gateway is at its "
        "concurrency limit (`overloaded`), or a request with an Idempotency-Key finds the "
        "shared state unreachable (`store_unavailable`).",
        example(
            503, "provider_unavailable", "Provider unavailable",
            "kaizala could not be reached (ConnectError)", "kaizala",
            stage="upload",
        ),
        example(
            503, "overloaded", "Overloaded",
            "The gateway is serving its limit of 256 sends; retry shortly.",
        ),
        example(
            503, "store_unavailable", "Store unavailable",
            "The gateway's shared state (Redis) cannot be reached (ConnectionError).",
        ),
    ),
    504: documented(
        "No answer from the provider in time (`provider_timeout`).",
        example(
            504, "provider_timeout", "Provider timed out",
            "kaizala gave no complete answer within 60 s", "kaizala", retryable=False,
            stage="post", media_id="kz-media-0f1e2d3c", outcome="unknown",
        ),
    ),
}  # fmt: skip


READYZ_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: documented(
        "Not ready (`not_ready`): Redis is unreachable, uploads cannot be spooled (the "
        "temporary directory is not writable), or the gateway is shutting down.",
        example(
            503, "not_ready", "Not ready", "Redis (GATEWAY_REDIS_URL) is unreachable.",
        ),
    )
}  # fmt: skip
