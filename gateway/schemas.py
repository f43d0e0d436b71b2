"""The public request and response shapes (see shared/docs/api-contract.md)."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from providers import MediaType

MIME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"


class SendMediaFields(BaseModel):
    """The non-file fields of a send, from a JSON body or from form fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider: str = Field(min_length=1, max_length=64, examples=["kaizala"])
    url: str | None = Field(
        default=None,
        max_length=2048,
        description="http(s) URL of the media, instead of a file.",
        examples=["https://example.com/photo.png"],
    )
    media_type: MediaType | None = Field(
        default=None, description="Inferred from the content when absent."
    )
    caption: str | None = Field(default=None, max_length=1024)
    group_id: str | None = Field(
        default=None, min_length=1, max_length=256, description="Kaizala: the target group."
    )
    app_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Gupshup: the app; defaults to GUPSHUP_APP_ID.",
    )
    file_type: str | None = Field(
        default=None,
        pattern=MIME_PATTERN,
        description="MIME type, for a URL whose type cannot be inferred.",
        examples=["image/png"],
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an http or https URL with a host")
        return value


class SendMediaJson(SendMediaFields):
    """A send by URL as a JSON body."""

    url: str = Field(
        max_length=2048,
        description="http(s) URL of the media.",
        examples=["https://example.com/photo.png"],
    )


class SendMediaResponse(BaseModel):
    """The provider accepted the media."""

    provider: str = Field(examples=["kaizala"])
    media_type: MediaType = Field(examples=["image"])
    media_id: str = Field(description="Kaizala mediaResource or Gupshup mediaId.")
    reference_id: str | None = Field(description="Kaizala referenceId, else null.")
    action_id: str | None = Field(description="Kaizala actionId, else null.")
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
    stage: Literal["auth", "upload", "post", "fetch"] | None = Field(
        default=None, description="For provider failures: the step that failed."
    )
    media_id: str | None = Field(
        default=None, description="When a Kaizala upload succeeded and only the post failed."
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
