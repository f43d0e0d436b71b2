"""How /send-media's body is described: generated from the send models, which come from the
providers' specs, and handed to FastAPI as the route's `openapi_extra`."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI

from gateway.pipeline.fields import SendModels, non_null
from gateway.web.problems import PROBLEM_JSON
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
    json_body = _schema(models.json, names)
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
                "description": "Your id for this request (1-128 of A-Z a-z 0-9 . _ : -); "
                "generated when absent and echoed on the response.",
                "schema": {"type": "string", "maxLength": 128},
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
