"""What a file is: sniffed from its bytes, then checked against its declared type and name."""

from __future__ import annotations

import pytest

from gateway.errors import UnsupportedMediaError
from gateway.pipeline.sniff import (
    DOCX,
    OLE,
    infer_media_type,
    normalize,
    resolve_type,
    sniff,
    type_from_url,
)
from providers import MediaType
from tests import samples


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (samples.png(), "image/png"),
        (samples.JPEG, "image/jpeg"),
        (samples.pdf(), "application/pdf"),
        (samples.mp4(), "video/mp4"),
        (samples.wav(), "audio/x-wav"),
        (bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 100, OLE),
        (b"plain words\n", "text/plain"),
        ("ünïcode cut at the end: é".encode()[:-1], "text/plain"),  # a cut multi-byte char
        (b"\x00\x01\x02binary", None),
        (b"", None),
    ],
)
def test_sniff(head: bytes, expected: str | None) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    ("filename", "declared", "wanted", "expected"),
    [
        ("a.png", "image/png", None, "image/png"),
        ("a.png", "application/octet-stream", None, "image/png"),  # generic: judged by bytes
        ("a.png", None, None, "image/png"),
        ("noext", "IMAGE/PNG; charset=x", None, "image/png"),  # parameters and case ignored
    ],
)
def test_resolve_type_agrees(
    filename: str, declared: str | None, wanted: MediaType | None, expected: str
) -> None:
    assert (
        resolve_type(samples.png(), filename=filename, declared=declared, wanted=wanted) == expected
    )


def test_an_mp4_container_is_video_or_audio_as_asked() -> None:
    mp4 = samples.mp4()
    assert resolve_type(mp4, filename="a.mp4", declared=None) == "video/mp4"
    assert resolve_type(mp4, filename="a.mp4", declared=None, wanted=MediaType.AUDIO) == "audio/mp4"
    assert resolve_type(mp4, filename="a.m4a", declared=None) == "audio/mp4"


@pytest.mark.parametrize(
    ("head", "filename", "declared", "message"),
    [
        (samples.pdf(), "a.png", "image/png", "declared as image/png but its bytes are"),
        (samples.png(), "a.pdf", None, "extension '.pdf'"),
        (b"\x00\x01binary", "a.bin", None, "not a format the gateway knows"),
    ],
)
def test_resolve_type_refuses_contradictions(
    head: bytes, filename: str, declared: str | None, message: str
) -> None:
    with pytest.raises(UnsupportedMediaError, match=message):
        resolve_type(head, filename=filename, declared=declared)


def test_media_type_of_a_send() -> None:
    assert infer_media_type(["image/png", "image/jpeg"]) is MediaType.ALBUM
    assert infer_media_type(["image/png"]) is MediaType.IMAGE
    assert infer_media_type(["application/pdf"]) is MediaType.DOCUMENT
    assert infer_media_type(["image/png", "application/pdf"]) is MediaType.IMAGE


def test_types_from_names_and_aliases() -> None:
    assert type_from_url("/files/Report.PDF") == "application/pdf"
    assert type_from_url("/files/doc.docx") == DOCX
    assert type_from_url("/files/noext") is None
    assert normalize("audio/wave") == "audio/wav"
    assert normalize(None) == ""
