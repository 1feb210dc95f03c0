"""The release folder of one model: its released versions, the lock that orders releases, and immutable writes."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from pel.diagnostics import simple
from pel.fileio import flocked, write_temp
from pel.release.common import ReleaseError
from pel.release.versions import Version, parse

SUFFIX = ".ir.json"


def released(folder: Path) -> list[tuple[Version, Path]]:
    """The releases in `folder` (files `X.Y.Z.ir.json`), oldest first; other files are not releases."""
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ReleaseError(simple("E0010", f"cannot read the release folder {folder}: {exc.strerror or exc}")) from None
    found = []
    for path in entries:
        version = parse(path.name[: -len(SUFFIX)]) if path.name.endswith(SUFFIX) else None
        if version is not None and path.is_file():
            found.append((version, path))
    return sorted(found)


def latest(folder: Path) -> tuple[Version, Path] | None:
    """The highest released version in `folder` and its file, or None before the first release."""
    found = released(folder)
    return found[-1] if found else None


def write_new(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Create `path` holding `data` only when no file of that name exists; False (nothing written) when one does.

    The data goes to a temporary file in the same folder, which is then hard-linked to its name: the link fails
    when the name exists, even when another process creates it at the same moment, and a reader never sees a
    partial file. Where the file system has no hard links, an exclusive create (O_EXCL) keeps the first rule."""
    tmp = write_temp(path, data, mode)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK):
                raise
            return _create_exclusive(path, data, mode)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def _create_exclusive(path: Path, data: bytes, mode: int) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return True


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Excludes other `pel release` runs on the same folder while one checks, writes and records a release (a POSIX
    advisory lock on the folder itself, so no lock file is left among the releases; elsewhere none: the exclusive
    write still refuses a second file of the same version)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        with flocked(fd):
            yield
    finally:
        os.close(fd)
