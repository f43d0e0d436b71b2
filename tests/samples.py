"""Small but real media files, made in code so every byte is visible."""

from __future__ import annotations

import io
import random
import struct
import wave
import zipfile
import zlib


def png(width: int = 2, height: int = 2, *, noise: bool = False) -> bytes:
    """Red pixels, or with `noise` random ones (seeded), which do not compress: a PNG of
    about 3 * width * height bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rng = random.Random(0)
    row = (lambda: rng.randbytes(3 * width)) if noise else (lambda: b"\xff\x00\x00" * width)
    raw = b"".join(b"\x00" + row() for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b"
    "0b0c1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e3334"
    "32ffc0000b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708"
    "090a0bffc400b5100002010303020403050504040000017d0102030004110512213141061351610722711432"
    "8191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a43444546474849"
    "4a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3"
    "a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9ea"
    "f1f2f3f4f5f6f7f8f9faffda0008010100003f00fbd3ffd9"
)


def wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


def mp3() -> bytes:
    return b"ID3\x03\x00\x00\x00\x00\x00\x00" + (b"\xff\xfb\x90\x64" + b"\x00" * 413) * 4


def _ftyp(brand: bytes, compatible: list[bytes]) -> bytes:
    body = brand + b"\x00\x00\x02\x00" + b"".join(compatible)
    return (
        struct.pack(">I", 8 + len(body))
        + b"ftyp"
        + body
        + struct.pack(">I", 8)
        + b"free"
        + struct.pack(">I", 16)
        + b"mdat"
        + b"\x00" * 8
    )


def mp4() -> bytes:
    return _ftyp(b"isom", [b"isom", b"iso2", b"avc1", b"mp41"])


def gp3() -> bytes:
    return _ftyp(b"3gp4", [b"3gp4", b"3gp5", b"isom"])


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def ooxml(kind: str) -> bytes:
    main = {"word": "word/document.xml", "xl": "xl/workbook.xml", "ppt": "ppt/presentation.xml"}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr(main[kind], "<x/>")
    return out.getvalue()


def ole() -> bytes:
    return (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\x00" * 16
        + b"\x3e\x00\x03\x00\xfe\xff"
        + b"\x00" * 1500
    )


def webp() -> bytes:
    return b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 28


def ogg() -> bytes:
    return b"OggS\x00\x02" + b"\x00" * 40


# (filename, declared content type, bytes, media type) per format and provider.
KAIZALA_FILES = [
    ("photo.png", "image/png", png(), "image"),
    ("photo.jpg", "image/jpeg", JPEG, "image"),
    ("voice.mp3", "audio/mpeg", mp3(), "audio"),
    ("voice.wav", "audio/wav", wav(), "audio"),
    ("report.pdf", "application/pdf", pdf(), "document"),
    ("report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     ooxml("word"), "document"),
    ("sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     ooxml("xl"), "document"),
    ("deck.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
     ooxml("ppt"), "document"),
    ("legacy.doc", "application/msword", ole(), "document"),
    ("clip.mp4", "video/mp4", mp4(), "video"),
    ("clip.3gpp", "video/3gpp", gp3(), "video"),
]  # fmt: skip

GUPSHUP_FILES = [
    ("photo.png", "image/png", png(), "image"),
    ("photo.jpg", "image/jpeg", JPEG, "image"),
    ("sticker.webp", "image/webp", webp(), "image"),
    ("voice.mp3", "audio/mpeg", mp3(), "audio"),
    ("voice.ogg", "audio/ogg", ogg(), "audio"),
    ("report.pdf", "application/pdf", pdf(), "document"),
    ("notes.txt", "text/plain", b"plain text notes\n", "document"),
    ("legacy.xls", "application/vnd.ms-excel", ole(), "document"),
    ("clip.mp4", "video/mp4", mp4(), "video"),
]
