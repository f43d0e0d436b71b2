"""The values that cross the provider contract: what to send, and what came of it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO, Protocol

from pydantic import BaseModel


class MediaType(StrEnum):
    """The kinds of media the gateway sends."""

    IMAGE = "image"
    ALBUM = "album"
    AUDIO = "audio"
    DOCUMENT = "document"
    VIDEO = "video"


class LiveBody(Protocol):
    """A file whose bytes are still arriving from the caller (`MediaFile.live`), for an
    adapter that declares `Capabilities.streams_uploads`.

    `chunks()` gives its `size` bytes: the first time as they arrive, later times (a resend
    after a 308 or a refreshed token) from the gateway's spool. It ends only once the caller's
    request was read whole and still asks for exactly this send; otherwise it raises before
    its last byte, so an upload it feeds never completes at the provider. An adapter sends
    these bytes and then closes its own request body: nothing it sends may follow them before
    they end."""

    size: int

    def chunks(self) -> AsyncIterator[bytes | memoryview]: ...


@dataclass(frozen=True)
class MediaFile:
    """One file to send; `stream` is seekable so a call can be resent. With `live`, the
    bytes are still arriving: send them from `live.chunks()`, not from `stream`."""

    filename: str
    content_type: str
    size: int
    stream: BinaryIO
    sha256: str = ""  # of the bytes, when known (computed as the upload was spooled)
    live: LiveBody | None = None


# What an adapter awaits just before the call that delivers (a Kaizala post, a Gupshup
# send) may leave, with the media id it delivers: the gateway records that from then on a
# retry must not send again. When it raises, the adapter must not make that call.
BeforeDelivery = Callable[[str | None], Awaitable[None]]


@dataclass(frozen=True)
class MediaRequest:
    """A validated send: either `files` or a `url` (for providers that take URLs), and the
    provider's own target model (`ProviderSpec.target`), already validated."""

    media_type: MediaType
    target: BaseModel
    files: Sequence[MediaFile] = ()
    url: str | None = None
    content_type: str | None = None
    caption: str | None = None
    # A media id an earlier attempt of this same send obtained (its delivery certainly
    # failed): the adapter delivers it instead of uploading the bytes again.
    reuse_media_id: str | None = None
    before_delivery: BeforeDelivery | None = None
    # Whose send this is (the gateway's client): media an adapter remembers for one owner
    # is never reused for another.
    owner: str = ""

    async def delivering(self, media_id: str | None) -> None:
        """Announce the delivering call, just before making it (see `BeforeDelivery`)."""
        if self.before_delivery is not None:
            await self.before_delivery(media_id)


@dataclass(frozen=True)
class Delivery:
    """What the provider answered for a successful send: the media id, the message id when
    it also delivered the media to a person, and the vendor's own ids (`details`: shown
    under their names in the answer when its schema has them, as Kaizala's
    `reference_id` and `action_id`)."""

    media_id: str
    message_id: str | None = None
    media_reused: bool = False  # the media id of an earlier upload of the same media
    recipient: str | None = None  # who the message went to, with a message_id
    details: Mapping[str, str | None] = field(default_factory=dict)
