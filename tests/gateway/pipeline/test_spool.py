"""A spooled upload is sent from where it lies: httpx measuring it must not move it to disk."""

from __future__ import annotations

import tempfile
from typing import Any

import httpx
import pytest

from gateway.pipeline.spool import in_place


@pytest.fixture
def files_created(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each file a spool rolls over to (SpooledTemporaryFile makes them with TemporaryFile)."""
    created: list[int] = []
    make = tempfile.TemporaryFile

    def counted(*args: Any, **kwargs: Any) -> Any:
        created.append(1)
        return make(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", counted)
    return created


def test_sending_a_spooled_file_leaves_it_in_memory(files_created: list[int]) -> None:
    payload = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        spool.write(payload)
        spool.seek(0)
        stream = in_place(spool)
        request = httpx.Request("POST", "http://upstream/v1/media", files={"f": ("a.png", stream)})
        first = request.read()
        assert files_created == []  # still in memory: no file was created for it
        assert int(request.headers["content-length"]) == len(first)
        assert payload in first
        # Seekable, so a call can be resent whole (after a 308 or a refreshed token).
        again = httpx.Request("POST", "http://upstream/v1/media", files={"f": ("a.png", stream)})
        assert payload in again.read()


def test_a_spooled_file_given_as_is_is_moved_to_disk(files_created: list[int]) -> None:
    """Why `in_place` exists: without it, httpx's length check rolls the spool over."""
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        spool.write(b"x" * 1000)
        spool.seek(0)
        httpx.Request("POST", "http://upstream/", files={"f": ("a", spool)}).read()
        assert files_created == [1]
