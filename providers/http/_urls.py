"""URLs a provider hands the gateway, checked before they are used."""

from __future__ import annotations

import re

import httpx


def normalize_base(url: str) -> str:
    """A base URL without trailing slashes, so `{base}/v1/...` never has `//`."""
    return url.strip().rstrip("/")


_HOST = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\.?)+$|^[0-9A-Fa-f:.%]+$")


def usable_url(text: object) -> httpx.URL | None:
    """`text` as an http(s) URL with a valid host and port, IDNA-encoded and with a
    percent-encoded path; None when it is not one (never an exception)."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        url = httpx.URL(text.strip())
        port = url.port
        host = url.raw_host.decode("ascii")
    except Exception:  # httpx raises several types for a malformed URL
        return None
    if url.scheme not in ("http", "https") or not host or not _HOST.match(host):
        return None
    if port is not None and not 0 < port < 65536:
        return None
    return url


def checked_base(url: object) -> str | None:
    """`url` as a normalised http(s) base URL, or None when it is not a usable one."""
    parsed = usable_url(url)
    if parsed is None:
        return None
    return normalize_base(str(parsed.copy_with(query=None, fragment=None)))
