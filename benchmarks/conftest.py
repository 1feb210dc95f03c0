"""Benchmark session set-up: collect bench_*.py, a private kernel cache, sizes from the environment, reports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# A private, per-session kernel cache unless the caller chose one: timings never depend on a stale user cache,
# and nothing is written to ~/.cache. Set before pel is imported by any benchmark module.
if not os.environ.get("PEL_CACHE_DIR"):
    os.environ["PEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="pel-bench-cache-")

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

# Lines appended by the frontend benchmarks (e.g. "compile_source: 25,000 lines/s"), printed in the summary.
REPORT: list[str] = []


def env_int(name: str, default: int) -> int:
    """A positive integer from the environment (BENCH_PATHS=1_000_000 is accepted), else `default`."""
    raw = os.environ.get(name, "").replace("_", "").strip()
    if not raw:
        return default
    try:
        value = int(float(raw))
    except ValueError:
        raise pytest.UsageError(f"{name} must be a positive integer, got {os.environ[name]!r}") from None
    if value < 1:
        raise pytest.UsageError(f"{name} must be a positive integer, got {value}")
    return value


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Module | None:
    """pytest's default pattern is test_*.py: also collect this folder's bench_*.py suites."""
    if parent.session.isinitpath(file_path):  # named on the command line: pytest collects it already
        return None
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


class Timings:
    """Best (minimum) seconds per benchmark key, measured in this session, and the ratios derived from them."""

    def __init__(self) -> None:
        self.best: dict[tuple, float] = {}
        self.lines: list[str] = []

    def record(self, key: tuple, benchmark: object) -> float:
        stats = benchmark.stats.stats  # type: ignore[attr-defined]
        self.best[key] = float(stats.min)
        return self.best[key]

    def ratio(self, num: tuple, den: tuple) -> float | None:
        """best[num] / best[den], or None when either was not measured in this session (deselected)."""
        if num in self.best and den in self.best and self.best[den] > 0:
            return self.best[num] / self.best[den]
        return None

    def report(self, line: str) -> None:
        self.lines.append(line)
        print("\n" + line)


_TIMINGS = Timings()


@pytest.fixture(scope="session")
def timings() -> Timings:
    return _TIMINGS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the frontend throughput lines and every ratio measured in this session at the end of the run."""
    if REPORT:
        terminalreporter.section("throughput")
        for line in REPORT:
            terminalreporter.write_line(line)
    if _TIMINGS.lines:
        terminalreporter.section("PEL benchmark ratios (same session, minimum of the rounds)")
        for line in _TIMINGS.lines:
            terminalreporter.write_line(line)
