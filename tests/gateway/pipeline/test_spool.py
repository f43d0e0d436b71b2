"""Spools: in memory up to a size, then in a file the process reuses, read only up to their
own length; and sent from where they lie (httpx measuring one must not move it to disk)."""

from __future__ import annotations

import asyncio
import gc
import io
import tempfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.pipeline import spool as spool_module
from gateway.pipeline.spool import Shielded, Spool, SpoolFiles, in_place


@pytest.fixture
def files() -> Iterator[SpoolFiles]:
    kept = SpoolFiles()
    yield kept
    kept.clear()


@pytest.fixture
def files_created(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each temporary file created (spools and SpooledTemporaryFile make them so)."""
    created: list[int] = []
    make = tempfile.TemporaryFile

    def counted(*args: Any, **kwargs: Any) -> Any:
        created.append(1)
        return make(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", counted)
    return created


def test_a_small_spool_stays_in_memory(files: SpoolFiles, files_created: list[int]) -> None:
    with Spool(in_memory=1000, files=files) as spool:
        spool.write(b"a" * 600)
        spool.write_all([b"b" * 300, memoryview(b"c" * 100)])
        assert not spool.on_disk
        spool.seek(0)
        assert spool.read() == b"a" * 600 + b"b" * 300 + b"c" * 100
    assert files_created == []


def test_past_its_size_it_goes_to_a_file_and_reads_back_whole(
    files: SpoolFiles, files_created: list[int]
) -> None:
    payload = bytes(range(256)) * 40
    with Spool(in_memory=1000, files=files) as spool:
        spool.write(payload[:700])
        spool.write_all([payload[700:5000], memoryview(payload)[5000:]])
        assert spool.on_disk
        assert files_created == [1]
        assert spool.seek(0, io.SEEK_END) == len(payload)
        spool.seek(0)
        assert spool.read(700) == payload[:700]
        assert spool.read() == payload[700:]
        assert spool.read() == b""


def test_a_file_is_reused_and_what_an_earlier_spool_left_in_it_is_never_read(
    files: SpoolFiles,
    files_created: list[int],
) -> None:
    with Spool(in_memory=10, files=files) as first:
        first.write(b"secret of an earlier upload" * 100)
    assert files.kept == 1
    with Spool(in_memory=10, files=files) as second:
        second.write(b"mine, and shorter")
        assert second.on_disk
        assert files_created == [1]  # the kept file, not a new one
        assert files.kept == 0
        assert second.seek(0, io.SEEK_END) == len(b"mine, and shorter")
        second.seek(0)
        assert second.read() == b"mine, and shorter"
        second.seek(6)
        assert second.read(1000) == b"and shorter"
    assert files.kept == 1


def test_the_files_kept_are_bounded_in_number_size_and_idle_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(spool_module.time, "monotonic", lambda: now[0])
    files = SpoolFiles(keep_files=2, keep_bytes=3000, keep_idle_s=60)

    def used(size: int) -> Any:
        file = files.take()
        file.write(b"x" * size)
        return file

    a, b, c, big = used(1000), used(1000), used(1000), used(2000)
    files.give(a, 1000)
    files.give(b, 1000)
    files.give(c, 1000)  # a third: over keep_files, closed
    assert files.kept == 2
    assert c.closed
    files.give(big, 2000)  # over keep_bytes with the two kept: closed
    assert files.kept == 2
    assert big.closed
    now[0] += 61  # both idle for over a minute: closed at the next take or give
    fresh = files.take()
    assert files.kept == 0
    assert a.closed
    assert b.closed
    assert not fresh.closed
    fresh.close()


def test_a_write_of_more_chunks_than_one_system_call_takes(files: SpoolFiles) -> None:
    chunks = [bytes([n % 256]) * 3 for n in range(3000)]  # past IOV_MAX (1,024)
    with Spool(in_memory=10, files=files) as spool:
        spool.write_all(chunks)
        spool.seek(0)
        assert spool.read() == b"".join(chunks)


def test_sending_a_spooled_file_leaves_it_in_memory(
    files: SpoolFiles, files_created: list[int]
) -> None:
    payload = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    with Spool(files=files) as spool:
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


def test_a_spooled_file_on_disk_is_measured_by_its_own_length(files: SpoolFiles) -> None:
    with Spool(in_memory=10, files=files) as earlier:
        earlier.write(b"y" * 5000)
    with Spool(in_memory=10, files=files) as spool:
        spool.write(b"x" * 1000)  # in the kept file of 5,000 bytes
        spool.seek(0)
        body = httpx.Request("POST", "http://u/", files={"f": ("a", in_place(spool))}).read()
        assert b"x" * 1000 in body
        assert b"yyyy" not in body


def test_a_spooled_temporary_file_given_as_is_is_moved_to_disk(files_created: list[int]) -> None:
    """Why `in_place` exists: without it, httpx's length check rolls a SpooledTemporaryFile
    over (what the spools were before `Spool`)."""
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        spool.write(b"x" * 1000)
        spool.seek(0)
        httpx.Request("POST", "http://upstream/", files={"f": ("a", spool)}).read()
        assert files_created == [1]


@pytest.mark.anyio
async def test_a_step_whose_waiter_is_cancelled_runs_to_its_end_and_is_not_run_twice() -> None:
    started: list[int] = []
    running, release = asyncio.Event(), asyncio.Event()

    async def step() -> bool:
        started.append(1)
        running.set()
        await release.wait()
        return True

    shielded = Shielded(step)
    waiter = asyncio.ensure_future(shielded())
    await running.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    assert await shielded() is True  # the same step's answer, not a second step
    assert started == [1]
    assert await shielded() is True  # done and taken: the next call is a new step
    assert started == [1, 1]


async def _failed_with_nobody_waiting() -> Shielded:
    running, release = asyncio.Event(), asyncio.Event()

    async def step() -> bool:
        running.set()
        await release.wait()
        raise OSError("disk full")

    shielded = Shielded(step)
    waiter = asyncio.ensure_future(shielded())
    await running.wait()
    waiter.cancel()
    release.set()
    await asyncio.sleep(0.01)
    return shielded


@pytest.mark.anyio
async def test_a_step_that_failed_with_nobody_waiting_fails_the_next_call() -> None:
    shielded = await _failed_with_nobody_waiting()
    with pytest.raises(OSError, match="disk full"):
        await shielded()


@pytest.mark.anyio
async def test_a_step_that_failed_with_nobody_left_to_ask_is_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The producer is dropped (its request ended): asyncio reports a failed future nobody
    # retrieved when it is collected, as an error with no request to it.
    await _failed_with_nobody_waiting()
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


@pytest.mark.anyio
async def test_cancel_stops_the_step_still_running() -> None:
    running, cancelled = asyncio.Event(), asyncio.Event()

    async def step() -> bool:
        running.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return True

    shielded = Shielded(step)
    waiter = asyncio.ensure_future(shielded())
    await running.wait()
    waiter.cancel()
    await shielded.cancel()
    assert cancelled.is_set()
