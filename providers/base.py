"""What a provider is: the Protocol adapters meet and the values that cross it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO, Protocol

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediaType(StrEnum):
    """The kinds of media the gateway sends."""

    IMAGE = "image"
    ALBUM = "album"
    AUDIO = "audio"
    DOCUMENT = "document"
    VIDEO = "video"


@dataclass(frozen=True)
class MediaFile:
    """One file to send; `stream` is seekable so a call can be resent."""

    filename: str
    content_type: str
    size: int
    stream: BinaryIO


@dataclass(frozen=True)
class MediaRequest:
    """A validated send: either `files` or a `url` (for providers that take URLs)."""

    media_type: MediaType
    files: Sequence[MediaFile] = ()
    url: str | None = None
    content_type: str | None = None
    caption: str | None = None
    group_id: str | None = None
    app_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """What the provider answered for a successful send."""

    media_id: str
    reference_id: str | None = None
    action_id: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a provider accepts, so the gateway can refuse a request before it goes upstream."""

    formats: Mapping[MediaType, frozenset[str]]
    # The request fields this provider uses beyond the common ones; any other is refused.
    target_fields: frozenset[str] = frozenset()
    required_fields: frozenset[str] = frozenset()
    album_sizes: tuple[int, int] | None = None
    url_passthrough: bool = False
    captions: bool = True
    max_file_bytes: int | None = None

    def accepts(self, media_type: MediaType, mime: str) -> bool:
        return mime in self.formats.get(media_type, frozenset())


class Provider(Protocol):
    """A messaging provider the gateway can send media through."""

    @property
    def capabilities(self) -> Capabilities: ...

    async def send(self, request: MediaRequest) -> Delivery: ...


_PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "your-",
    "your_",
    "xxx",
    "todo",
)


class ProviderSettings(BaseSettings):
    """Settings of one provider; `live` is true when real credentials are configured."""

    # Never echo a value in a validation error: it may be a credential.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    @property
    def live(self) -> bool:
        raise NotImplementedError

    @staticmethod
    def refuse_placeholders(**secrets: SecretStr | str | None) -> None:
        """Refuse values that are obviously copied from an example instead of real credentials."""
        for name, value in secrets.items():
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if text is None:
                continue
            lowered = text.strip().lower()
            if not lowered or lowered.startswith("<") or any(p in lowered for p in _PLACEHOLDERS):
                raise ValueError(f"{name} looks like a placeholder, not a real credential")
