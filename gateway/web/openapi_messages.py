"""The documented answers of the message routes (`GET /messages/{message_id}` and
`POST /providers/{provider}/events`), shaped as gateway.web.openapi shapes them."""

from __future__ import annotations

from typing import Any

from gateway.web.openapi import ERROR_RESPONSES, documented, example

MESSAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: ERROR_RESPONSES[401],
    404: documented(
        "No such message for this client (`not_found`): an unknown id, or another client's.",
        example(404, "not_found", "Not found", "No message '3c9e5d2a' for this client."),
    ),
    503: documented(
        "The shared state (Redis) cannot be reached (`store_unavailable`).",
        example(
            503, "store_unavailable", "Store unavailable",
            "The gateway's shared state (Redis) cannot be reached (ConnectionError).",
        ),
    ),
}  # fmt: skip

EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: documented(
        "The body is not JSON, or is nested too deep (`validation_error`).",
        example(400, "validation_error", "Invalid request", "The callback's body is not JSON."),
    ),
    401: documented(
        "X-Events-Token is missing or wrong (`unauthorized`).",
        example(
            401, "unauthorized", "Unauthorized", "The X-Events-Token header is missing or wrong."
        ),
    ),
    404: documented(
        "This provider's callbacks are not taken here: it posts no events, or no token is "
        "configured (`not_found`).",
        example(404, "not_found", "Not found", "No event callbacks are taken for 'kaizala' here."),
    ),
    413: documented(
        "Over 1 MiB (`payload_too_large`).",
        example(
            413, "payload_too_large", "Payload too large",
            "An event callback takes at most 1048576 bytes.",
        ),
    ),
    503: MESSAGE_RESPONSES[503],
}  # fmt: skip

_V3_EVENT = {
    "object": "whatsapp_business_account",
    "gs_app_id": "my-app",
    "entry": [{"id": "1097542581", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "statuses": [{
            "gs_id": "3c9e5d2a-7f41-4b8e-9a06-1d2c3b4a5e6f",
            "id": "wamid.HBgMOTE5ODc2NTQzMjEwFQIAERgSQ0Y2",
            "recipient_id": "919876543210",
            "status": "delivered",
            "timestamp": 1796119204,
        }],
    }}]}],
}  # fmt: skip
_V2_EVENT = {
    "app": "my-app",
    "timestamp": 1796119204000,
    "version": 2,
    "type": "message-event",
    "payload": {
        "id": "3c9e5d2a-7f41-4b8e-9a06-1d2c3b4a5e6f",
        "type": "failed",
        "destination": "919876543210",
        "payload": {"code": 1002, "reason": "Number does not exist on WhatsApp"},
    },
}
EVENTS_EXTRA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "What the provider posts, as it posts it (at most 1 MiB).",
        "content": {
            "application/json": {
                "schema": {"type": "object"},
                "examples": {
                    "version3": {"summary": "Gupshup version 3", "value": _V3_EVENT},
                    "version2": {"summary": "Gupshup version 2", "value": _V2_EVENT},
                },
            }
        },
    }
}
