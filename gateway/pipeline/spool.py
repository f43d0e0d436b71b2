"""Where uploads past the in-memory spool go: the temporary directory."""

from __future__ import annotations

import tempfile


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
