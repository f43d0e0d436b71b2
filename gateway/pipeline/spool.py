"""Spooled uploads: where they go past memory, and how they are read where they lie."""

from __future__ import annotations

import io
import tempfile
from typing import BinaryIO, cast


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
