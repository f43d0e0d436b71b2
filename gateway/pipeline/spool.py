"""Spooled bytes: uploads and downloads kept in memory up to a size, then on disk, in files
the process reuses; and how they are read where they lie.

Writing a new file costs far more than overwriting one kept from an earlier upload: its pages
are new memory to the kernel (and, on a virtual machine whose host takes back memory the
guest freed, new to the host as well), its blocks new to the filesystem. Measured here: 8 times
100 MB to new files 1.0 s of system time, to kept ones 0.12 to 0.18 s; it was most of what
eight 100 MB uploads at once cost beyond a direct upload (bench/README.md). So a spool that
ended gives its file back to `SpoolFiles`, which keeps some for the next uploads (at most
`KEEP_FILES`, GATEWAY_SPOOL_KEEP_BYTES in all, none unused for over GATEWAY_SPOOL_KEEP_S),
and a spool reads only up to its own length: what an earlier upload left past it is never
read.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import BinaryIO, Protocol, cast

# Bytes kept in memory before a spool moves to a file.
IN_MEMORY = 1 << 20
# Bytes handed to a spool at once once it is on disk: each write is a hop to a worker
# thread (so a slow disk never stalls the loop), and one hop per MiB costs far less than
# one per socket read of 64 KiB.
RUN = 1 << 20
KEEP_FILES = 8
KEEP_BYTES = 512 << 20  # GATEWAY_SPOOL_KEEP_BYTES
KEEP_IDLE_S = 600.0  # GATEWAY_SPOOL_KEEP_S
# Buffers one pwritev takes (Linux's IOV_MAX).
_IOV_MAX = 1024

Chunk = bytes | bytearray | memoryview


class SpoolFiles:
    """Temporary files (already unlinked: nothing else can open them) kept for reuse."""

    def __init__(
        self, *, keep_files: int = KEEP_FILES, keep_bytes: int = KEEP_BYTES,
        keep_idle_s: float = KEEP_IDLE_S,
    ) -> None:  # fmt: skip
        self._keep_files, self._keep_bytes, self._keep_idle_s = keep_files, keep_bytes, keep_idle_s
        self._lock = threading.Lock()
        self._idle: list[tuple[float, int, BinaryIO]] = []  # (since, size, file), newest last

    def take(self) -> BinaryIO:
        """A file to write from its start: a kept one, or a new one."""
        with self._lock:
            self._prune(time.monotonic())
            if self._idle:
                return self._idle.pop()[2]
        # Unbuffered: a spool writes and reads it at offsets (pwritev, pread), never through
        # a buffer. Kept or closed by `give`.
        return cast(BinaryIO, tempfile.TemporaryFile(buffering=0))

    def give(self, file: BinaryIO, size: int) -> None:
        """Back from a spool that wrote `size` bytes into it: kept, or closed."""
        now = time.monotonic()
        with self._lock:
            self._prune(now)
            kept = sum(s for _, s, _ in self._idle)
            if len(self._idle) < self._keep_files and kept + size <= self._keep_bytes:
                self._idle.append((now, size, file))
                return
        file.close()

    def configure(self, *, keep_bytes: int, keep_idle_s: float) -> None:
        """The operator's bounds (at startup)."""
        with self._lock:
            self._keep_bytes, self._keep_idle_s = keep_bytes, keep_idle_s

    @property
    def kept(self) -> int:
        """How many files are kept now."""
        with self._lock:
            return len(self._idle)

    def clear(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for _, _, file in idle:
            file.close()

    def _prune(self, now: float) -> None:
        while self._idle and now - self._idle[0][0] > self._keep_idle_s:
            self._idle.pop(0)[2].close()


FILES = SpoolFiles()


class Spool(io.BufferedIOBase):
    """Bytes written once, then read (and reread after a seek): in memory up to `in_memory`
    bytes, past that in a file from `files`, handed back when the spool is closed."""

    def __init__(self, *, in_memory: int = IN_MEMORY, files: SpoolFiles = FILES) -> None:
        super().__init__()
        self._in_memory, self._files = in_memory, files
        self._memory: io.BytesIO | None = io.BytesIO()
        self._file: BinaryIO | None = None
        self._length = 0  # bytes written
        self._pos = 0

    @property
    def on_disk(self) -> bool:
        return self._file is not None

    @property
    def in_memory(self) -> int:
        """Bytes it keeps in memory before it moves to a file."""
        return self._in_memory

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Chunk) -> int:  # type: ignore[override]
        """Append (a spool is written at its end only)."""
        return self.write_all([data])

    def write_all(self, chunks: Sequence[Chunk]) -> int:
        """Append each chunk, in order: on disk, in one system call for up to 1,024 of them
        (the bytes are copied once, by the kernel)."""
        size = sum(len(chunk) for chunk in chunks)
        if self._memory is not None and self._length + size > self._in_memory:
            self._roll_over()
        if self._file is not None:
            _write_at(self._file.fileno(), chunks, self._length)
        else:
            assert self._memory is not None
            self._memory.seek(self._length)
            for chunk in chunks:
                self._memory.write(chunk)
        self._length += size
        self._pos = self._length
        return size

    def read(self, size: int | None = -1) -> bytes:
        left = self._length - self._pos
        size = left if size is None or size < 0 else min(size, left)
        if size <= 0:
            return b""
        if self._file is not None:
            data = os.pread(self._file.fileno(), size, self._pos)
        else:
            assert self._memory is not None
            self._memory.seek(self._pos)
            data = self._memory.read(size)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if self.closed:
            return
        file, self._file, self._memory = self._file, None, None
        super().close()
        if file is not None:
            self._files.give(file, os.fstat(file.fileno()).st_size)

    def _roll_over(self) -> None:
        assert self._memory is not None
        file = self._files.take()
        try:
            with self._memory.getbuffer() as held:
                _write_at(file.fileno(), [held[: self._length]], 0)
        except BaseException:
            file.close()
            raise
        self._file, self._memory = file, None


class Digest(Protocol):
    """A running hash (what `hashlib.sha256()` returns)."""

    def update(self, data: Chunk, /) -> None: ...

    def hexdigest(self) -> str: ...


class SpoolWriter:
    """A spool filled while its bytes go on elsewhere (a form's file part, a download).

    Once the spool is past memory, each write runs in a worker thread, behind: `write`
    waits for the write before it, not for its own, so the bytes go on being read and sent
    while they are written (and hashed: hashlib lets go of the GIL for all but tiny chunks).
    Reading flushes first; a write that failed is raised by every later step (the spool has
    a hole); `close` gives the file back only once the last write ended."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.size = 0  # bytes handed to the spool so far
        self._writing: asyncio.Future[None] | None = None  # the write in its thread
        self._broken: BaseException | None = None

    @property
    def on_disk(self) -> bool:
        """Whether the bytes handed so far go to a file (the spool's own `on_disk` lags
        while a write is behind)."""
        return self.size > self.spool.in_memory

    async def write(self, chunks: list[Chunk], digest: Digest | None = None) -> None:
        """Append `chunks` (updating `digest` with them, when given)."""
        await self.flush()
        size = sum(len(chunk) for chunk in chunks)
        if self.size + size > self.spool.in_memory:
            self._writing = asyncio.ensure_future(asyncio.to_thread(self._write, chunks, digest))
        else:
            self._write(chunks, digest)
        self.size += size

    async def flush(self) -> None:
        """Wait for the write still running; a write that failed is raised, now and by every
        later step. Cancelling the wait does not cancel the write."""
        if self._broken is not None:
            raise self._broken
        writing = self._writing
        if writing is None:
            return
        try:
            await asyncio.shield(writing)
        except asyncio.CancelledError:
            if not writing.done() or writing.cancelled():
                raise
            # The wait was cancelled as the write ended: its outcome still counts.
        finally:
            if writing.done():
                self._writing = None
                if not writing.cancelled() and writing.exception() is not None:
                    self._broken = writing.exception()
        if self._broken is not None:
            raise self._broken

    async def rewind(self) -> None:
        await self.flush()
        if self.on_disk:
            await asyncio.to_thread(self.spool.seek, 0)
        else:
            self.spool.seek(0)

    async def read(self, size: int) -> bytes:
        await self.flush()
        if self.on_disk:
            return await asyncio.to_thread(self.spool.read, size)
        return self.spool.read(size)

    def close(self) -> None:
        """Close the spool, once the write still running in its thread (if any) ended: its
        file goes back to be reused, and must not be written to any more."""
        writing = self._writing
        if writing is not None and not writing.done():
            writing.add_done_callback(lambda _: self.spool.close())
        else:
            self.spool.close()

    def _write(self, chunks: list[Chunk], digest: Digest | None) -> None:
        if digest is not None:
            for chunk in chunks:
                digest.update(chunk)
        self.spool.write_all(chunks)


class Shielded:
    """A producer's next step (read a chunk, spool it), run to its end even when whoever
    waits for it is cancelled (an upload call cut short, an early answer): a chunk given up
    half-way would leave a hole in the spool a resend reads. The next call waits for the
    step still running instead of starting another."""

    def __init__(self, step: Callable[[], Awaitable[bool]]) -> None:
        self._step = step
        self._running: asyncio.Future[bool] | None = None

    async def __call__(self) -> bool:
        if self._running is None:
            self._running = asyncio.ensure_future(self._step())
            self._running.add_done_callback(_retrieved)
        running = self._running
        try:
            return await asyncio.shield(running)
        finally:
            if running.done():
                self._running = None

    async def cancel(self) -> None:
        """Stop the step still running, if any (the producer is closed), and wait for it."""
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
            with contextlib.suppress(BaseException):
                await running


def _retrieved(step: asyncio.Future[bool]) -> None:
    # A step whose waiter was cancelled may fail with nobody left to ask: not an error for
    # asyncio to report; the next call raises it.
    if not step.cancelled():
        step.exception()


def _write_at(fd: int, chunks: Sequence[Chunk], offset: int) -> None:
    views = [memoryview(chunk) for chunk in chunks if len(chunk)]
    i = 0
    while i < len(views):
        written = os.pwritev(fd, views[i : i + _IOV_MAX], offset)
        if written == 0:
            raise OSError("the spool's file took no bytes")
        offset += written
        while written:
            if written >= len(views[i]):
                written -= len(views[i])
                i += 1
            else:
                views[i] = views[i][written:]
                written = 0


def spool_writable() -> bool:
    """Whether an upload past the in-memory spool can be written to the temporary directory
    (TMPDIR, else /tmp): a read-only root filesystem with no tmpfs cannot."""
    try:
        with tempfile.TemporaryFile() as probe:
            probe.write(b"x")
            probe.flush()
    except OSError:
        return False
    return True


class _InPlace(io.BufferedIOBase):
    """A spooled file, read where it lies. httpx learns a file's length from `fileno()` when
    there is one, and asking a SpooledTemporaryFile for it moves the bytes from memory to a
    new file on disk: one file created, written and removed per send (bench/README.md). With
    no `fileno()`, httpx measures by seeking."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self._file = file

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._file.read(-1 if size is None else size)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


def in_place(file: BinaryIO) -> BinaryIO:
    return cast(BinaryIO, _InPlace(file))
