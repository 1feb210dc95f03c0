"""Frontend throughput: lex, parse, check and lower a generated 5,000-line model (target: 20,000 lines/s)."""

from __future__ import annotations

import pytest

from benchmarks.modelgen import generate
from pel.frontend.lexer import tokenize
from pel.pipeline import compile_source

SOURCE = generate(5000)
LINES = SOURCE.count("\n")


@pytest.mark.benchmark(group="frontend")
def test_lex_5000_lines(benchmark) -> None:
    tokens = benchmark(tokenize, SOURCE, "gen.pel")
    assert len(tokens) > LINES


@pytest.mark.benchmark(group="frontend")
def test_compile_5000_lines(benchmark) -> None:
    comp = benchmark(compile_source, SOURCE, "gen.pel")
    assert comp.program.model.params
    lines_per_s = LINES / benchmark.stats.stats.mean
    benchmark.extra_info["lines_per_second"] = round(lines_per_s)
    print(f"\nfrontend: {LINES} lines, {lines_per_s:,.0f} lines/s (target 20,000)")
    assert lines_per_s > 0
