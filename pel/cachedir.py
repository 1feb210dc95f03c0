"""Where PEL keeps what it can rebuild: generated kernel modules, numba's cache, the parser's LALR tables."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def cache_dir() -> Path:
    """$PEL_CACHE_DIR, else $XDG_CACHE_HOME/pel, else ~/.cache/pel (never beside the user's model files)."""
    if os.environ.get("PEL_CACHE_DIR"):
        return Path(os.environ["PEL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pel"


def make_private(directory: Path) -> str | None:
    """Create `directory` private (0700), or make an existing one of ours private; return why it cannot hold
    PEL's cache (it cannot be made, another user owns it, others could write in it), or None when it can.

    A folder others can write in could hand PEL their code or their pickles under names PEL trusts."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = directory.stat()
        uid = os.getuid() if hasattr(os, "getuid") else info.st_uid
        if info.st_uid != uid:
            return "it belongs to another user"
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(directory, 0o700)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
