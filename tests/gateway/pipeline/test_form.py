"""A file part's spool is written behind the request: in a thread, one write at a time,
read only once written, closed only once its last write ended."""

from __future__ import annotations

import asyncio
import hashlib
import threading

import pytest

from gateway.pipeline.form import SPOOL_IN_MEMORY, FilePart
from gateway.pipeline.spool import Chunk, Digest

pytestmark = pytest.mark.anyio

RUN = b"v" * (SPOOL_IN_MEMORY + 1)  # past the in-memory spool: written in a thread


class Gate:
    """Holds each spool write in its thread until opened."""

    def __init__(self, part: FilePart, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()
        write = part._writer._write

        def held(chunks: list[Chunk], digest: Digest | None) -> None:
            self.entered.set()
            self.open.wait(10)
            write(chunks, digest)

        monkeypatch.setattr(part._writer, "_write", held)


async def test_a_write_runs_behind_and_reading_waits_for_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    part = FilePart("file", "v.mp4", "video/mp4")
    part.sha256 = hashlib.sha256()
    gate = Gate(part, monkeypatch)
    await asyncio.wait_for(part.write([RUN]), 1)  # back before its bytes are written
    assert await asyncio.to_thread(gate.entered.wait, 5)
    assert part.size == len(RUN)
    reading = asyncio.ensure_future(part.rewind())
    await asyncio.sleep(0.05)
    assert not reading.done()  # waits for the write
    gate.open.set()
    await reading
    assert await part.read(len(RUN) + 1) == RUN
    assert part.sha256.hexdigest() == hashlib.sha256(RUN).hexdigest()
    part.close()


async def test_a_failed_write_fails_every_later_step() -> None:
    part = FilePart("file", "v.mp4", "video/mp4")

    def full(chunks: list[Chunk], digest: Digest | None) -> None:
        raise OSError(28, "No space left on device")

    part._writer._write = full  # type: ignore[method-assign]
    await part.write([RUN])
    for step in (part.write([b"more"]), part.flush(), part.rewind()):
        with pytest.raises(OSError, match="No space"):
            await step
    part.close()


async def test_closing_during_a_write_closes_once_it_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The spool's file goes back to be reused: never while a thread still writes to it."""
    part = FilePart("file", "v.mp4", "video/mp4")
    gate = Gate(part, monkeypatch)
    await part.write([RUN])
    assert await asyncio.to_thread(gate.entered.wait, 5)
    part.close()
    assert not part.file.closed
    gate.open.set()
    for _ in range(100):
        if part.file.closed:
            break
        await asyncio.sleep(0.02)
    assert part.file.closed
