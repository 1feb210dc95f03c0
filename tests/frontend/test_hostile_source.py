"""Sources a user can write that once ended in an internal error (E9999) or ran out of memory: each is refused with
a coded error located at what caused it (LANGUAGE.md §9)."""

from __future__ import annotations

import pytest

from pel import limits
from pel.diagnostics import CompileError
from pel.pipeline import compile_source

TEMPLATE = """model M {{
  param p: {ptype} = {pvalue} {{
    source: "{source}",
    method: "observed",
    confidence: 0.9
  }}
  var x: TimeSeries<Fraction>
  x[0] = 1
  x[t+1] = {rule}
  simulate for {horizon}
}}
"""


def _source(pvalue: str = "0.5", rule: str = "x[t]", horizon: str = "12mo", source: str = "s",
            ptype: str = "Fraction") -> str:
    return TEMPLATE.format(ptype=ptype, pvalue=pvalue, rule=rule, horizon=horizon, source=source)


CASES = [
    # (what, source, code, line, col)
    ("money beyond float64", _source(ptype="Currency<USD>", pvalue="$1e400"), "E0004", 2, 28),
    ("index offset beyond float64", _source(rule="x[t - 1e400]"), "E0004", 9, 18),
    ("horizon literal beyond float64", _source(horizon="1e400mo"), "E0004", 10, 16),
    ("horizon overflowing in steps", _source(horizon="1e308y"), "E0502", 10, 16),
    ("horizon of 10^9 steps", _source(horizon="1000000000mo"), "E0502", 10, 16),
    ("horizon of 10^8 steps", _source(horizon="100000000mo"), "E0502", 10, 16),
    ("horizon just past the limit", _source(horizon=f"{limits.MAX_STEPS + 1}mo"), "E0502", 10, 16),
    ("Pareto median overflowing", _source(pvalue="~ Pareto(xm=1e-308, α=1e-308)").replace("= ~", "~"),
     "E0431", 2, 23),
    ("escaped lone surrogate", _source(source="s\\u{D800}"), "E0002", 3, 15),
    ("escaped code point past Unicode", _source(source="s\\u{110000}"), "E0002", 3, 15),
    ("lone surrogate in the text itself", _source(source="s\ud800"), "E0001", 3, 15),
]


@pytest.mark.parametrize(("what", "source", "code", "line", "col"), CASES, ids=[c[0] for c in CASES])
def test_refused_with_a_located_code(what: str, source: str, code: str, line: int, col: int) -> None:
    with pytest.raises(CompileError) as info:
        compile_source(source, "m.pel")
    first = info.value.diagnostics[0]
    assert all(d.code != "E9999" for d in info.value.diagnostics), info.value.render()
    assert (first.code, first.span.line, first.span.col) == (code, line, col), info.value.render()
    info.value.render().encode("utf-8")  # printable: no lone surrogate reaches the output


def test_a_horizon_at_the_limit_compiles() -> None:
    program = compile_source(_source(horizon=f"{limits.MAX_STEPS}mo"), "m.pel").program
    assert program.model.time_horizon == limits.MAX_STEPS


def test_the_largest_finite_literal_is_a_number() -> None:
    compile_source(_source(rule="x[t] * 1.7e308 / 1.7e308"), "m.pel")


@pytest.mark.parametrize(("clause", "col"), [(f"runs {limits.MAX_RUNS + 1}", 34), ("seed 9223372036854775808", 34)])
def test_simulate_runs_and_seed_beyond_the_limits_are_refused(clause: str, col: int) -> None:
    source = _source().replace("simulate for 12mo", f"simulate monte_carlo with {clause} for 12mo")
    with pytest.raises(CompileError) as info:
        compile_source(source, "m.pel")
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line, first.span.col) == ("E0100", 10, col), info.value.render()
    assert "limit" in first.message


def test_too_many_correlated_parameters_are_refused_before_any_matrix_is_built() -> None:
    n = limits.MAX_CORRELATED + 1
    params = "".join(
        f'  param p{i}: Fraction ~ Normal(μ=0.5, σ=0.1) {{\n    source: "s",\n    method: "observed",\n'
        f'    confidence: 0.9{f", correlated_with: [(p{i - 1}, 0.1)]" if i else ""}\n  }}\n'
        for i in range(n))
    with pytest.raises(CompileError) as info:
        compile_source(f"model Big {{\n{params}}}\n", "m.pel")
    codes = {d.code for d in info.value.diagnostics if d.level == "error"}
    assert codes == {"E0430"}, info.value.render()[:2000]
    assert "limit" in info.value.diagnostics[0].message
