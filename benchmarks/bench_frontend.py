"""Frontend throughput on a generated 5,000-line model (target: compile_source at 20,000 lines/s or more).

Run with `python -m pytest benchmarks --benchmark-only -p no:xdist`. The generated model has the corpus' mix
of constructs; its tokens per line are printed beside the real corpus' so the reader can check it is not
made artificially sparse. No wall-clock time is asserted: the numbers are reported, not tested.
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import REPORT
from benchmarks.modelgen import corpus_sources, generate, token_density
from pel.frontend.lexer import tokenize
from pel.frontend.parser import parse
from pel.pipeline import compile_source

SOURCE = generate(5000)
LINES, TOKENS, DENSITY = token_density([SOURCE])


def _report(benchmark, what: str) -> None:
    mean = benchmark.stats.stats.mean
    lines_per_s, tokens_per_s = LINES / mean, TOKENS / mean
    benchmark.extra_info.update(lines=LINES, tokens=TOKENS, lines_per_second=round(lines_per_s),
                                tokens_per_second=round(tokens_per_s))
    REPORT.append(f"{what:<32} {lines_per_s:>10,.0f} lines/s {tokens_per_s:>12,.0f} tokens/s  (mean {mean * 1e3:.1f} ms)")


@pytest.mark.benchmark(group="frontend")
def test_tokenize_5000_lines(benchmark) -> None:
    tokens = benchmark(tokenize, SOURCE, "gen.pel")
    assert len(tokens) == TOKENS
    c_lines, c_tokens, c_density = token_density(corpus_sources())
    REPORT.append(f"generated model: {LINES} lines, {TOKENS} tokens, {DENSITY:.2f} tokens/line")
    if c_lines:
        REPORT.append(f"real corpus:     {c_lines} lines, {c_tokens} tokens, {c_density:.2f} tokens/line")
    else:
        REPORT.append("real corpus:     ../shared/corpus/models not present")
    _report(benchmark, "tokenize")


@pytest.mark.benchmark(group="frontend")
def test_parse_5000_lines(benchmark) -> None:
    model = benchmark(parse, SOURCE, "gen.pel")
    assert model.items
    _report(benchmark, "lex + parse")


@pytest.mark.benchmark(group="frontend")
def test_compile_5000_lines(benchmark) -> None:
    comp = benchmark(compile_source, SOURCE, "gen.pel")
    assert comp.program.model.params
    _report(benchmark, "compile_source (target 20,000)")
