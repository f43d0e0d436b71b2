"""A provider's answer, read whole but never more than a small JSON document needs."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

# Answers we read are small JSON documents; a provider that streams more is broken.
MAX_ANSWER_BYTES = 1 << 20
# What every adapter's client sends: answers uncompressed (they are small JSON documents).
CLIENT_HEADERS = {"Accept-Encoding": "identity"}


@dataclass(frozen=True)
class Answer:
    """A provider's complete answer to one call."""

    status: int
    headers: httpx.Headers
    content: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON or cannot be read (nested deeper
        than the parser recurses: any exception, so a hostile answer is only unreadable)."""
        try:
            return json.loads(self.content)
        except Exception:
            return None


class AnswerTooLargeError(Exception):
    pass


class AnswerEncodingError(Exception):
    pass


# zlib's window bits per Content-Encoding: gzip, and deflate as zlib data (raw deflate, which
# some servers send, is the fallback).
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


async def read_capped(response: httpx.Response) -> bytes:
    """The answer's bytes, decoded, at most MAX_ANSWER_BYTES of them. The gateway asks for
    `identity`; a provider that compresses anyway is inflated here, never more than the cap
    at a time (httpx's decoders inflate a whole chunk: 500 KB of deflate can be 500 MB)."""
    if response.is_stream_consumed:  # built in memory (a mock transport): read already
        if len(response.content) > MAX_ANSWER_BYTES:
            raise AnswerTooLargeError
        return response.content
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflate: Any = None
    if encoding not in ("", "identity"):
        if encoding not in _WBITS:
            raise AnswerEncodingError
        inflate = zlib.decompressobj(_WBITS[encoding])
    chunks: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        chunk = raw
        if inflate is not None:
            try:
                chunk = inflate.decompress(raw, MAX_ANSWER_BYTES + 1 - size)
            except zlib.error:
                if size or encoding != "deflate" or inflate.unused_data:
                    raise AnswerEncodingError from None
                inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
                chunk = inflate.decompress(raw, MAX_ANSWER_BYTES + 1 - size)
            if inflate.unconsumed_tail:
                raise AnswerTooLargeError
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise AnswerTooLargeError
        chunks.append(chunk)
    return b"".join(chunks)
