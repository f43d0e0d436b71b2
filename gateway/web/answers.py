"""How a send's answers are written, the same with an Idempotency-Key as without: the
success schema, and every failure as its problem document (`gateway.web.problems`)."""

from __future__ import annotations

from starlette.responses import Response

from gateway.context import current_request_id
from gateway.errors import GatewayError
from gateway.pipeline.service import Sent
from gateway.state.idempotency import StoredAnswer
from gateway.telemetry import current_trace
from gateway.web.problems import render
from gateway.web.schemas import SendMediaResponse
from providers.errors import ProviderError

JSON = "application/json"
# Fields of the answer a provider's `Delivery.details` fill (null when it names none).
_VENDOR_FIELDS = frozenset(SendMediaResponse.model_fields) - {
    "provider",
    "media_type",
    "media_id",
    "message_id",
    "media_reused",
    "sandbox",
    "request_id",
}
# Set by the response itself when it is sent.
_OWN_HEADERS = frozenset({"content-length", "content-type"})


def success_body(sent: Sent) -> str:
    """The JSON of a successful send (the contract's response)."""
    if (trace := current_trace()) is not None:
        trace.media_type = sent.media_type.value
    delivery = sent.delivery
    return SendMediaResponse(
        # The vendor's own ids that the answer names (Kaizala's reference and action ids).
        **{name: delivery.details.get(name) for name in _VENDOR_FIELDS},
        provider=sent.provider,
        media_type=sent.media_type,
        media_id=delivery.media_id,
        message_id=delivery.message_id,
        media_reused=delivery.media_reused,
        sandbox=sent.sandbox,
        request_id=current_request_id() or "",
    ).model_dump_json()


class SendAnswers:
    """`gateway.pipeline.idempotent.Renderer` for this API."""

    def success(self, sent: Sent) -> StoredAnswer:
        return StoredAnswer(200, JSON, success_body(sent))

    def failure(self, error: GatewayError | ProviderError) -> StoredAnswer:
        response = render(error)
        return StoredAnswer(
            status=response.status_code,
            content_type=response.headers.get("content-type", JSON),
            body=bytes(response.body).decode(),
            headers={k: v for k, v in response.headers.items() if k not in _OWN_HEADERS},
        )


def as_response(answer: StoredAnswer) -> Response:
    return Response(
        content=answer.body,
        status_code=answer.status,
        media_type=answer.content_type,
        headers=answer.headers,
    )
