"""Removes secrets from text, in the forms an echoing server or a log line shows them in.

A secret can leak as it is, percent-encoded (any of its characters), base64-encoded
(alone or inside a longer encoded
value such as a Basic credential), in another letter case, or cut short. Every form is
matched case-insensitively, and any run of `WINDOW` characters of a form counts as a leak,
so a secret cut to a prefix, a suffix or a middle part is caught too.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

# Long enough that ordinary words never match by chance, short enough to catch a cut secret.
WINDOW = 12
MIN_SECRET = 4
REDACTED = "[redacted]"

# Lower-case ASCII only: str.lower() may change a string's length, and offsets must hold.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _fold(text: str) -> str:
    # str.lower() keeps an ASCII text's length (and is faster than translate); only ASCII
    # letters are folded in any text.
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


def _base64_cores(raw: bytes) -> list[str]:
    """The base64 text of `raw` at each of the three alignments it can have inside a longer
    value (a Basic credential, say), keeping only the characters that depend on `raw` alone;
    and `raw` encoded on its own. Each also in the URL-safe alphabet."""
    cores = [base64.b64encode(raw).decode().rstrip("=")]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        cores.append(encoded[4 if shift else 0 : (shift + len(raw)) // 3 * 4])
    return cores + [core.replace("+", "-").replace("/", "_") for core in cores]


def forms_of(secret: str) -> set[str]:
    """Every form of `secret` that is matched, case-folded."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), *_base64_cores(raw)}
    return {_fold(form) for form in forms if form}


_HEX = frozenset("0123456789abcdefABCDEF")


def _percent_decoded(text: str) -> tuple[str, list[int] | None]:
    """`text` with each %XX decoded, and for each character the offset it starts at in
    `text` (plus one past the end); None when nothing was decoded (the offsets are the
    text's own)."""
    if "%" not in text:
        return text, None
    chars: list[str] = []
    starts: list[int] = []
    i = 0
    while i < len(text):
        starts.append(i)
        if text[i] == "%" and i + 2 < len(text) and text[i + 1] in _HEX and text[i + 2] in _HEX:
            chars.append(chr(int(text[i + 1 : i + 3], 16)))
            i += 3
        else:
            chars.append(text[i])
            i += 1
    starts.append(len(text))
    return "".join(chars), starts


class Redactor:
    """Replaces every known secret in a text with `[redacted]`."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._grams: set[str] = set()
        self._whole: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def __bool__(self) -> bool:
        return bool(self._grams or self._whole)

    def add(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET:
            return
        for form in forms_of(secret) | {_fold(_percent_decoded(secret)[0])}:
            if len(form) < WINDOW:
                self._whole.add(form)
            else:
                self._grams.update(form[i : i + WINDOW] for i in range(len(form) - WINDOW + 1))

    def __call__(self, text: str) -> str:
        if not (self._grams or self._whole) or len(text) < MIN_SECRET:
            return text
        # Matched on the text with every %XX decoded, so a secret whose characters are
        # percent-encoded in any mix is found; `starts` maps back to the text's offsets.
        decoded, starts = _percent_decoded(text)
        folded = _fold(decoded)
        spans: list[tuple[int, int]] = []
        grams = self._grams
        for i in range(len(folded) - WINDOW + 1):
            if folded[i : i + WINDOW] in grams:
                spans.append((i, i + WINDOW))
        for form in self._whole:
            start = folded.find(form)
            while start != -1:
                spans.append((start, start + len(form)))
                start = folded.find(form, start + 1)
        if starts is not None:
            spans = [(starts[a], starts[b]) for a, b in spans]
        if not spans:
            return text
        merged: list[list[int]] = []
        for start, stop in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], stop)
            else:
                merged.append([start, stop])
        out: list[str] = []
        cursor = 0
        for start, stop in merged:
            out += [text[cursor:start], REDACTED]
            cursor = stop
        out.append(text[cursor:])
        return "".join(out)
