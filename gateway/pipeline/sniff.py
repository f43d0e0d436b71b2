"""What a file really is: its type from its bytes, checked against its declared type and
its extension, and the media type it makes."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import BinaryIO

import filetype  # type: ignore[import-untyped]

from gateway.errors import UnsupportedMediaError
from providers import MediaType

SNIFF_BYTES = 8192
GENERIC_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/unknown"}
)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
OLE = "application/x-ole-storage"
TEXT = "text/plain"

# The MIME types a sniffed container can honestly be declared as, most likely first.
# filetype names mp4 and 3gp alike, and cannot tell .doc/.xls/.ppt apart (one OLE container).
FAMILIES: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("image/jpeg",),
    "image/png": ("image/png",),
    "image/webp": ("image/webp",),
    "audio/mpeg": ("audio/mpeg",),
    "audio/x-wav": ("audio/wav", "audio/x-wav"),
    "audio/aac": ("audio/aac",),
    "audio/amr": ("audio/amr",),
    "audio/ogg": ("audio/ogg", "audio/opus"),
    "audio/mp4": ("audio/mp4", "video/mp4"),
    "video/mp4": ("video/mp4", "video/3gpp", "audio/mp4"),
    "video/3gpp": ("video/3gpp",),
    "application/pdf": ("application/pdf",),
    DOCX: (DOCX,),
    XLSX: (XLSX,),
    PPTX: (PPTX,),
    OLE: ("application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint"),
    TEXT: (TEXT,),
}

ALIASES = {"audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav", "image/jpg": "image/jpeg"}

EXTENSIONS: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg", ".jpe"}),
    "image/png": frozenset({".png"}),
    "image/webp": frozenset({".webp"}),
    "audio/mpeg": frozenset({".mp3"}),
    "audio/wav": frozenset({".wav"}),
    "audio/x-wav": frozenset({".wav"}),
    "audio/aac": frozenset({".aac"}),
    "audio/amr": frozenset({".amr"}),
    "audio/ogg": frozenset({".ogg", ".oga", ".opus"}),
    "audio/opus": frozenset({".opus", ".ogg"}),
    "video/mp4": frozenset({".mp4"}),
    "audio/mp4": frozenset({".m4a", ".mp4"}),
    "video/3gpp": frozenset({".3gp", ".3gpp"}),
    "application/pdf": frozenset({".pdf"}),
    "application/msword": frozenset({".doc"}),
    "application/vnd.ms-excel": frozenset({".xls"}),
    "application/vnd.ms-powerpoint": frozenset({".ppt"}),
    DOCX: frozenset({".docx"}),
    XLSX: frozenset({".xlsx"}),
    PPTX: frozenset({".pptx"}),
    TEXT: frozenset({".txt"}),
}

# Extension -> MIME type for URLs we do not download; EXTENSIONS' order breaks ties.
URL_TYPES: dict[str, str] = {}
for _mime, _exts in EXTENSIONS.items():
    for _ext in sorted(_exts):
        URL_TYPES.setdefault(_ext, _mime)

_OLE_MAGIC = bytes.fromhex("d0cf11e0a1b11ae1")


def normalize(content_type: str | None) -> str:
    """A MIME type without parameters, lower-cased, with common aliases resolved."""
    bare = (content_type or "").split(";", 1)[0].strip().lower()
    return ALIASES.get(bare, bare)


def extension(filename: str) -> str:
    return posixpath.splitext(filename.lower())[1]


def sniff(head: bytes) -> str | None:
    """The container type the first bytes show, or None when they match nothing we know."""
    if head.startswith(_OLE_MAGIC):
        return OLE
    kind = filetype.guess_mime(head)
    if kind is not None:
        return str(kind)
    if head and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            # A multi-byte character cut at the end of the sample is still text.
            if exc.start < len(head) - 3:
                return None
        return TEXT
    return None


def read_head(stream: BinaryIO) -> bytes:
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    return head


def resolve_type(
    head: bytes, *, filename: str, declared: str | None, wanted: MediaType | None = None
) -> str:
    """The one MIME type that the bytes, the declared type and the extension all agree on.

    A generic declared type (application/octet-stream, or none) does not count against the
    file; an extension or a specific declared type that contradicts the bytes does.
    """
    sniffed = sniff(head)
    if sniffed is None or sniffed not in FAMILIES:
        raise UnsupportedMediaError(
            f"The content of {filename!r} is not a format the gateway knows."
        )
    candidates = FAMILIES[sniffed]
    claimed = normalize(declared)
    if claimed not in GENERIC_TYPES:
        if claimed not in candidates:
            raise UnsupportedMediaError(
                f"{filename!r} is declared as {claimed} but its bytes are {sniffed}."
            )
        candidates = (claimed,)
    ext = extension(filename)
    if ext:
        matching = tuple(m for m in candidates if ext in EXTENSIONS.get(m, frozenset()))
        if not matching:
            raise UnsupportedMediaError(
                f"The extension {ext!r} of {filename!r} does not match its content "
                f"({candidates[0]})."
            )
        candidates = matching
    if wanted is not None:
        fitting = tuple(m for m in candidates if category(m) in (wanted, _single(wanted)))
        candidates = fitting or candidates
    return candidates[0]


def category(mime: str) -> MediaType:
    """The media type a single file of this MIME type makes."""
    major = mime.split("/", 1)[0]
    if major == "image":
        return MediaType.IMAGE
    if major == "audio":
        return MediaType.AUDIO
    if major == "video":
        return MediaType.VIDEO
    return MediaType.DOCUMENT


def _single(media_type: MediaType) -> MediaType:
    return MediaType.IMAGE if media_type is MediaType.ALBUM else media_type


def infer_media_type(mimes: Sequence[str]) -> MediaType:
    """The media type of a send from its files' types: several images make an album."""
    if len(mimes) > 1 and all(category(m) is MediaType.IMAGE for m in mimes):
        return MediaType.ALBUM
    return category(mimes[0])


def type_from_url(url_path: str) -> str | None:
    """The MIME type a URL's path extension names (the first listed type for that extension)."""
    return URL_TYPES.get(extension(url_path))
