"""Where PEL keeps what it can rebuild: generated kernel modules, numba's cache, the parser's LALR tables."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """$PEL_CACHE_DIR, else $XDG_CACHE_HOME/pel, else ~/.cache/pel (never beside the user's model files)."""
    if os.environ.get("PEL_CACHE_DIR"):
        return Path(os.environ["PEL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pel"
