"""Benchmark session set-up: collect `bench_*.py` files and print each benchmark's throughput at the end."""

from __future__ import annotations

import pytest

# Lines appended by the benchmarks (e.g. "compile_source: 25,000 lines/s"), printed in the terminal summary.
REPORT: list[str] = []


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_terminal_summary(terminalreporter) -> None:
    if REPORT:
        terminalreporter.section("throughput")
        for line in REPORT:
            terminalreporter.write_line(line)
