"""A small progress bar on stderr (paths done, paths per second, ETA), shown only for runs longer than ~1 s."""

from __future__ import annotations

import sys
import time
from types import TracebackType


class ProgressBar:
    """Call `update(done, total)` from any thread; draws at most 10 times a second, after a 1 s grace period."""

    def __init__(self, enabled: bool = True, delay: float = 1.0, stream=None) -> None:
        self.enabled = enabled
        self.delay = delay
        self.stream = stream or sys.stderr
        self.start = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False
        self.paths_start: float | None = None

    def update(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if self.paths_start is None:
            self.paths_start = now  # the rate counts from the first path report, not from a compile before it
        elapsed = now - self.paths_start
        if now - self.start < self.delay or (now - self.last_draw < 0.1 and done < total):
            return
        self.last_draw = now
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("inf")
        width = 30
        filled = int(width * done / total)
        bar = "#" * filled + "-" * (width - filled)
        eta_text = f"{eta:5.1f}s" if eta != float("inf") else "  ?  "
        self.stream.write(f"\r[{bar}] {done:,}/{total:,} paths  {rate:,.0f} paths/s  ETA {eta_text}".ljust(72))
        self.stream.flush()
        self.drawn = True

    def stage(self, name: str, done: int, total: int) -> None:
        """A step of work before the paths run (compiling kernels: model items done of total)."""
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if now - self.start < self.delay or (now - self.last_draw < 0.1 and done < total):
            return
        self.last_draw = now
        self.stream.write(f"\r{name}: {done:,}/{total:,} model items ({100 * done // total}%)".ljust(72))
        self.stream.flush()
        self.drawn = True

    def __enter__(self) -> ProgressBar:
        self.start = time.monotonic()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
