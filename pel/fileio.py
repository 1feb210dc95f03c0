"""Atomic file writes (a reader, or a crash, sees the old file or the new one, never a part) and advisory locks."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_temp(path: Path, data: bytes, mode: int) -> str:
    """`data` written and synced to a new temporary file beside `path` (its name returned; the caller renames or
    links it into place, and removes it on failure)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` through a temporary file in the same folder and a rename: a reader sees the old
    file or the new one, never a part; a failed write (a full disk) leaves the old file and no temporary."""
    tmp = write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def flocked(fd: int) -> Iterator[None]:
    """An exclusive POSIX advisory lock on the open file `fd` while the block runs; none where the platform or the
    file system has no locks (a network file system: the callers' writes stay safe without it)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX)
    yield
