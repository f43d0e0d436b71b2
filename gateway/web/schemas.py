"""The public response shapes, as README.md and openapi/openapi.json state them; the
request's fields are in gateway.pipeline.fields, generated from the providers' specs."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from providers import MediaType
from providers.events import ErrorCode


class SendMediaResponse(BaseModel):
    """The provider accepted the media."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provider": "kaizala",
                    "media_type": "image",
                    "media_id": "kz-media-5b0e6f1c9a2d4e3f8b7a6c5d4e3f2a1b",
                    "reference_id": "0f67f2f9-3c2a-4f4e-9a55-3f1d2b6c8e10",
                    "action_id": "82fd9a0d-7b1e-4c3f-a2d4-5e6f7a8b9c0d",
                    "message_id": None,
                    "media_reused": False,
                    "sandbox": True,
                    "request_id": "3f6c2a9e8b1d4e7fa05c9d2b6e4f8a10",
                },
                {
                    "provider": "gupshup",
                    "media_type": "image",
                    "media_id": "1675728773224432",
                    "reference_id": None,
                    "action_id": None,
                    "message_id": "3c9e5d2a-7f41-4b8e-9a06-1d2c3b4a5e6f",
                    "media_reused": False,
                    "sandbox": True,
                    "request_id": "9a1b2c3d4e5f46a7b8c9d0e1f2a3b4c5",
                },
            ]
        }
    )

    provider: str = Field(examples=["kaizala"])
    media_type: MediaType = Field(examples=["image"])
    media_id: str = Field(description="Kaizala mediaResource or Gupshup mediaId.")
    reference_id: str | None = Field(description="Kaizala referenceId, else null.")
    action_id: str | None = Field(description="Kaizala actionId, else null.")
    message_id: str | None = Field(
        default=None, description="Gupshup WhatsApp message id when `to` was given, else null."
    )
    media_reused: bool = Field(
        default=False,
        description="True when the media id is that of an earlier upload of the same bytes "
        "(or URL) to the same app, still valid: nothing was uploaded again.",
    )
    sandbox: bool = Field(description="True when the built-in simulator answered.")
    request_id: str = Field(description="The same as the X-Request-ID response header.")


class Problem(BaseModel):
    """An RFC 9457 problem document; every error of every endpoint has this shape."""

    type: str = Field(examples=["/problems/unsupported_media_type"])
    title: str = Field(examples=["Unsupported media type"])
    status: int = Field(examples=[415])
    detail: str
    code: str = Field(examples=["unsupported_media_type"])
    provider: str | None = None
    provider_status: int | None = None
    provider_message: str | None = None
    retryable: bool
    request_id: str | None
    stage: Literal["auth", "upload", "post", "send"] | None = Field(
        default=None, description="For provider failures: the step that failed."
    )
    media_id: str | None = Field(
        default=None,
        description="When the media was uploaded and only the call that delivers it failed "
        "(a Kaizala post, a Gupshup send).",
    )
    outcome: Literal["unknown"] | None = Field(
        default=None,
        description="`unknown` when the provider may have acted (a timeout or dropped "
        "connection after the message was sent, or a 5xx to it): do not retry with a new key.",
    )
    retry_after: int | None = Field(default=None, description="Seconds, as in Retry-After.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="For validation errors: field, message and type of each."
    )


class Health(BaseModel):
    """The process is alive."""

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the gateway can serve, and how each provider is wired."""

    status: Literal["ready", "not_ready"]
    providers: dict[str, Literal["live", "sandbox"]]
    redis: Literal["ok", "unreachable", "not_configured"]
    breakers: dict[str, Literal["closed", "open", "half_open", "unknown"]] = Field(
        default_factory=dict,
        description="Each provider's circuit breaker (for Gupshup, that of the default app).",
    )


class MediaTypeSupport(BaseModel):
    """What a provider takes as one media type."""

    mime_types: list[str] = Field(examples=[["image/jpeg", "image/png"]])
    max_bytes: int = Field(description="The largest file, the gateway's limit included.")


class RateLimit(BaseModel):
    """An outbound limit the gateway keeps to, shared by the replicas."""

    calls: int
    per_seconds: float
    calls_per_send: int
    per: Literal["provider", "partition"] = Field(
        description="For the whole provider, or for each part of it (each Gupshup app)."
    )


class EventsApp(BaseModel):
    """One app's event subscription."""

    status: Literal["subscribed", "failed", "pending"]
    reason: str | None = None


class ProviderMap(BaseModel):
    """One provider: how it is wired, what it accepts, and where a send goes."""

    # What the entries a provider describes itself (`providers.base.DescribesItself`) are
    # for one that does not.
    UNDESCRIBED: ClassVar[dict[str, Any]] = {
        "caption_media_types": None,
        "caption_requires": None,
        "delivery": None,
        "delivery_max_bytes": {},
        "delivery_formats": {},
    }

    mode: Literal["live", "sandbox"]
    inputs: list[Literal["file", "url"]]
    url: Literal["downloaded", "passed_on"] = Field(
        description="A url is downloaded by the gateway, or passed on for the provider to fetch."
    )
    media_types: dict[str, MediaTypeSupport]
    album_sizes: tuple[int, int] | None = Field(description="Files in an album, or null.")
    captions: bool
    caption_media_types: list[str] | None = Field(
        description="The media types that take a caption (null: all)."
    )
    caption_requires: str | None = Field(
        description="A target field without which no caption is taken (Gupshup: `to`)."
    )
    target_fields: dict[str, dict[str, Any]] = Field(
        description="The provider's own request fields, as JSON Schema, with `required`."
    )
    delivery: str | None = Field(
        description="The target field that delivers the media to a person (Gupshup: `to`), "
        "or null when the provider's send is the delivery."
    )
    delivery_max_bytes: dict[str, int] = Field(
        description="Per media type, the largest file a delivery takes (checked before upload)."
    )
    delivery_formats: dict[str, list[str]] = Field(
        description="Per media type, the MIME types a delivery takes where they are fewer "
        "than an upload's (a WhatsApp image is JPEG or PNG; WebP is a sticker)."
    )
    breaker: Literal["closed", "open", "half_open", "unknown"]
    rate_limit: RateLimit | None
    events: Literal["subscribed", "not_configured", "failed"] | None = Field(
        default=None,
        description="Whether the provider posts its messages' events to the gateway: null for "
        "a provider without events; `subscribed` (in the sandbox: in the process), "
        "`not_configured` (live without GATEWAY_PUBLIC_URL and GUPSHUP_EVENTS_TOKEN), or "
        "`failed` (see `events_apps`).",
    )
    events_apps: dict[str, EventsApp] = Field(
        default_factory=dict,
        description="Per part of the provider (each Gupshup app) the gateway delivered "
        "through: its subscription's status (`subscribed`, `failed`, `pending`) and why.",
    )


class ProvidersMap(BaseModel):
    """Every provider this gateway serves."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "providers": {
                        "kaizala": {
                            "mode": "sandbox",
                            "inputs": ["file", "url"],
                            "url": "downloaded",
                            "media_types": {
                                "image": {
                                    "mime_types": ["image/jpeg", "image/png"],
                                    "max_bytes": 104857600,
                                }
                            },
                            "album_sizes": [2, 10],
                            "captions": True,
                            "caption_media_types": None,
                            "caption_requires": None,
                            "target_fields": {
                                "group_id": {
                                    "type": "string",
                                    "minLength": 1,
                                    "maxLength": 256,
                                    "description": "Kaizala: the target group.",
                                    "required": True,
                                }
                            },
                            "delivery": None,
                            "delivery_max_bytes": {},
                            "delivery_formats": {},
                            "breaker": "closed",
                            "rate_limit": {
                                "calls": 100,
                                "per_seconds": 60,
                                "calls_per_send": 2,
                                "per": "provider",
                            },
                            "events": None,
                            "events_apps": {},
                        }
                    }
                }
            ]
        }
    )

    providers: dict[str, ProviderMap]


MessageStatus = Literal["accepted", "sent", "delivered", "read", "failed"]


class MessageStatusEntry(BaseModel):
    """One status of a message, at the provider's time."""

    status: MessageStatus
    at: str = Field(description="RFC 3339, UTC.", examples=["2026-12-01T10:00:04Z"])


class MessageError(BaseModel):
    """Why a message failed."""

    code: ErrorCode
    provider_code: str | None = Field(description="The provider's own code, as a string.")
    title: str | None
    detail: str | None


class MessageResponse(BaseModel):
    """A message a delivering send created, with its delivery status."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "3c9e5d2a-7f41-4b8e-9a06-1d2c3b4a5e6f",
                    "provider": "gupshup",
                    "status": "delivered",
                    "to": "919876543210",
                    "media_id": "1675728773224432",
                    "media_type": "image",
                    "created_at": "2026-12-01T10:00:00Z",
                    "updated_at": "2026-12-01T10:00:04Z",
                    "history": [
                        {"status": "accepted", "at": "2026-12-01T10:00:00Z"},
                        {"status": "sent", "at": "2026-12-01T10:00:01Z"},
                        {"status": "delivered", "at": "2026-12-01T10:00:04Z"},
                    ],
                    "error": None,
                    "sandbox": True,
                },
                {
                    "message_id": "9f1b7c3e-2a4d-4e8f-b6a1-0c2d3e4f5a6b",
                    "provider": "gupshup",
                    "status": "failed",
                    "to": "919876543210",
                    "media_id": "1675728773224432",
                    "media_type": "image",
                    "created_at": "2026-12-01T10:00:00Z",
                    "updated_at": "2026-12-01T10:00:02Z",
                    "history": [
                        {"status": "accepted", "at": "2026-12-01T10:00:00Z"},
                        {"status": "sent", "at": "2026-12-01T10:00:01Z"},
                        {"status": "failed", "at": "2026-12-01T10:00:02Z"},
                    ],
                    "error": {
                        "code": "outside_service_window",
                        "provider_code": "131047",
                        "title": "Re-engagement message",
                        "detail": "Message failed to send because more than 24 hours have "
                        "passed since the customer last replied to this number.",
                    },
                    "sandbox": True,
                },
            ]
        }
    )

    message_id: str = Field(description="As /send-media answered it.")
    provider: str
    status: MessageStatus = Field(
        description="Moves forward only along accepted, sent, delivered, read; failed may "
        "follow any; a delivered or read after failed wins."
    )
    to: str | None = Field(description="The recipient's number.")
    media_id: str | None
    media_type: MediaType
    created_at: str = Field(description="RFC 3339, UTC.")
    updated_at: str = Field(description="RFC 3339, UTC: the provider's time of the last change.")
    history: list[MessageStatusEntry] = Field(description="Each status once, in the order applied.")
    error: MessageError | None = Field(description="Why it failed; kept after a later delivered.")
    sandbox: bool


class EventsStored(BaseModel):
    """The callback is stored; its events are applied next."""

    status: Literal["stored"] = "stored"
