"""What a WhatsApp delivery (`to`) takes beyond a Gupshup upload, and the v3 message that
makes it (Meta's Cloud API message object, as Gupshup passes it on)."""

from __future__ import annotations

import uuid
from typing import Any

from providers.errors import TargetError
from providers.gupshup._config import NAME, GupshupTarget
from providers.media import MediaRequest, MediaType

MIB = 1024 * 1024
# What WhatsApp delivers, per media type, although an upload takes up to 100 MB.
DELIVERY_MAX_BYTES = {
    MediaType.IMAGE: 5 * MIB,
    MediaType.AUDIO: 16 * MIB,
    MediaType.VIDEO: 16 * MIB,
    MediaType.DOCUMENT: 100 * MIB,
}
# Meta's message object per media type; WhatsApp captions every kind but audio.
MESSAGE_TYPES = {
    MediaType.IMAGE: "image",
    MediaType.AUDIO: "audio",
    MediaType.VIDEO: "video",
    MediaType.DOCUMENT: "document",
}
CAPTIONED = frozenset({MediaType.IMAGE, MediaType.VIDEO, MediaType.DOCUMENT})
# A WhatsApp image message takes JPEG and PNG; WebP is a sticker, another message type.
DELIVERY_FORMATS = {MediaType.IMAGE: frozenset({"image/jpeg", "image/png"})}


def check(request: MediaRequest) -> None:
    """What a WhatsApp delivery (`to`) takes beyond an upload: a caption only with
    one, and not on audio; JPEG or PNG images; 5 MB images, 16 MB audio and video."""
    target = request.target
    assert isinstance(target, GupshupTarget)
    kind = request.media_type
    if request.caption and target.to is None:
        raise TargetError(
            "caption",
            f"{NAME} takes a caption only with to (a delivery); a media upload alone takes none",
        )
    if request.caption and kind not in CAPTIONED:
        raise TargetError("caption", f"{NAME} does not caption {kind.value}")
    if target.to is None:
        return
    formats = DELIVERY_FORMATS.get(kind)
    mimes = [f.content_type for f in request.files] or [request.content_type or ""]
    for mime in mimes:
        if formats is not None and mime not in formats:
            raise TargetError(
                "file",
                f"{NAME} delivers {kind.value} as {', '.join(sorted(formats))}, not "
                f"{mime}; without to it only uploads it.",
                status=415,
            )
    most = DELIVERY_MAX_BYTES.get(kind)
    for media in request.files:
        if most is not None and media.size > most:
            raise TargetError(
                "file",
                f"{media.filename!r} is {_megabytes(media.size)}; {NAME} delivers "
                f"{kind.value} of at most {_megabytes(most)} ({most} bytes).",
                status=413,
            )


def describe() -> dict[str, Any]:
    return {
        "caption_media_types": sorted(m.value for m in CAPTIONED),
        "caption_requires": "to",
        "delivery": "to",
        "delivery_max_bytes": {m.value: n for m, n in DELIVERY_MAX_BYTES.items()},
        "delivery_formats": {m.value: sorted(f) for m, f in DELIVERY_FORMATS.items()},
    }


def message(request: MediaRequest, to: str, media_id: str) -> dict[str, Any]:
    """The v3 message that delivers `media_id` to `to`."""
    kind = MESSAGE_TYPES[request.media_type]
    media: dict[str, str] = {"id": media_id}
    if request.caption and request.media_type in CAPTIONED:
        media["caption"] = request.caption
    if request.media_type is MediaType.DOCUMENT:
        media["filename"] = _filename(request)
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": kind,
        kind: media,
    }


def _megabytes(size: int) -> str:
    """A size as WhatsApp states its limits: 5 MB for 5 MiB."""
    return f"{size / (1 << 20):.3g} MB"


def _filename(request: MediaRequest) -> str:
    """The document's name as WhatsApp shows it: the file's, or the URL's last segment."""
    if request.files:
        return request.files[0].filename
    name = (request.url or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return name or f"document-{uuid.uuid4().hex[:8]}"
