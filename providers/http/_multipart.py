"""The multipart body of an upload: httpx's own, or one streamed around a file that is
still arriving from the caller."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from providers.media import LiveBody, MediaFile


def upload_form(
    name: str, files: Sequence[MediaFile], fields: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`httpx.Request` keyword arguments for a multipart upload of `files`, each a part
    called `name`, then text parts `fields`, in order (a form of text parts only when there
    are no files): httpx's own encoding when every file lies in the spool; when one is still
    arriving (`MediaFile.live`), the same parts streamed with their length declared, built
    afresh for each attempt. Headers, if any, are in the "headers" entry."""
    live = [f for f in files if f.live is not None]
    if not live:
        parts: list[tuple[str, Any]] = [
            (name, (f.filename, f.stream, f.content_type)) for f in files
        ]
        return {"files": parts + [(key, (None, value)) for key, value in (fields or {}).items()]}
    if len(files) != 1 or fields:
        raise ValueError("a file still arriving is sent alone")
    (media,) = live
    assert media.live is not None
    boundary = os.urandom(16).hex().encode()
    head = b"".join(
        [
            b"--" + boundary + b"\r\nContent-Disposition: form-data; ",
            _form_param("name", name),
            b"; " + _form_param("filename", media.filename) if media.filename else b"",
            b"\r\nContent-Type: " + media.content_type.encode() + b"\r\n\r\n",
        ]
    )
    tail = b"\r\n--" + boundary + b"--\r\n"
    return {
        "content": _LiveForm(head, media.live, tail),
        "headers": {
            "Content-Type": f"multipart/form-data; boundary={boundary.decode()}",
            "Content-Length": str(len(head) + media.live.size + len(tail)),
        },
    }


class _LiveForm:
    """A multipart body around a file still arriving; each iteration is one attempt."""

    def __init__(self, head: bytes, live: LiveBody, tail: bytes) -> None:
        self._head, self._live, self._tail = head, live, tail

    async def __aiter__(self) -> AsyncIterator[bytes | memoryview]:
        yield self._head
        async for chunk in self._live.chunks():
            yield chunk
        yield self._tail  # only once the file ended as declared: else the upload never ends


# How browsers and httpx write a form parameter (the HTML5 multipart form encoding).
_FORM_ESCAPES = {'"': "%22", "\\": "\\\\"} | {chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}
_FORM_ESCAPE = re.compile("|".join(re.escape(c) for c in _FORM_ESCAPES))


def _form_param(name: str, value: str) -> bytes:
    escaped = _FORM_ESCAPE.sub(lambda m: _FORM_ESCAPES[m.group(0)], value)
    return f'{name}="{escaped}"'.encode()
