"""Whole-run quantities (LANGUAGE.md §3, docs/language-notes.md): which variables are computed once and at which
step, what may read them (error table of source, code and the text under the span), and their IR form."""

from __future__ import annotations

import pytest

from pel.diagnostics import CompileError
from pel.ir import nodes as ir
from pel.ir.validate import validate
from pel.pipeline import compile_source

PROV = '{ source: "s", method: "observed", confidence: 0.9 }'


def model(body: str, horizon: str = "12mo") -> str:
    return f"""model M {{
  param p: Fraction = 0.1 {PROV}
  param cost: Currency<USD> = $1000 {PROV}
  var cf: TimeSeries<Currency<USD>>
  cf[0] = -cost * 10
  cf[t+1] = cost
  var rev: TimeSeries<Fraction>
  rev[t] = 1 + t
{body}
  simulate for {horizon}
}}
"""


def whole_run(body: str, horizon: str = "12mo") -> dict[str, int | None]:
    comp = compile_source(model(body, horizon), "m.pel")
    return {v.name: v.rules[0].at for v in comp.program.model.vars if v.rules[0].kind == "once"}


# -- what is whole-run, and when --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("  var total: Currency<USD> = sum(cf[k] for k in 0..12)", {"total": 12}),
        ("  var first_year = sum(cf[k] for k in 0..6)", {"first_year": 6}),
        ("  var v = cf[5]", {"v": 5}),
        ("  var v = cf[0] + cf[3] * 2", {"v": 3}),
        ("  var lowest = min(cf[k] for k in 0..12)", {"lowest": 12}),
        ("  var r: Fraction = irr(cf)", {"r": None}),
        ("  var value = npv(cf, p)", {"value": None}),
        ("  var s = sum(cf)", {"s": None}),
        ("  var m = max(cf) + min(cf)", {"m": None}),
        ("  var last = cf[t_max]", {"last": None}),
        ("  var whole = sum(cf[k] for k in 0..t_max)", {"whole": None}),
        ("  var a = cf[5]\n  var b = a * 2 + cf[7]", {"a": 5, "b": 7}),
        ("  var b = a * 2\n  var a = npv(cf, 0.01)", {"a": None, "b": None}),
        ("  var k = p * 2\n  var v = cf[4] * k", {"v": 4}),  # a constant variable changes nothing
        ("  var noisy = cf[4] * ~Normal(μ=1, σ=0.1)", {"noisy": 4}),  # drawn once, at step 4
        # per-step: reads t, a series at t, a running aggregate, or is indexed
        ("  var running = sum(cf[k] for k in 0..t)", {}),
        ("  var now = cf * 2", {}),
        ("  var c = cumsum(rev)", {}),
        ("  var x: TimeSeries<Fraction>\n  x[t] = npv(rev, 0.01)", {}),
        ("  var k = p * 2", {}),
        ("  var nums = [1, 2, 3]\n  var second = nums[1]", {}),
    ],
)
def test_whole_run_classification(body: str, expected: dict) -> None:
    assert whole_run(body) == expected


def test_whole_run_variables_are_one_value_and_ordered_after_what_they_read() -> None:
    comp = compile_source(model("  var total = sum(cf)\n  var ratio = total / cost\n  var v = cf[12]"), "m.pel")
    m = comp.program.model
    by_name = {v.name: v for v in m.vars}
    for name in ("total", "ratio", "v"):
        assert by_name[name].time_varying is False and by_name[name].series is False
    assert by_name["cf"].time_varying is True
    order = list(m.order)
    assert order.index("cf") < order.index("total") < order.index("ratio")
    assert order.index("cf") < order.index("v")
    validate(comp.program, check_hashes=False)


def test_whole_run_constraints_are_checked_once() -> None:
    body = (
        "  var total = sum(cf)\n"
        '  constraint a: total > $0 { severity: warning, message: "total {total}" }\n'
        "  constraint b: cf[12] > cf[1] for all t { severity: warning }\n"
        "  constraint c: min(cf[k] for k in 0..6) > -$20_000 { severity: warning }\n"
        "  constraint d: cf[t] > -$20_000 { severity: warning }\n"
    )
    scopes = {c.name: c.scope for c in compile_source(model(body), "m.pel").program.model.constraints}
    last = ir.Binary("==", ir.Ref("t", "time"), ir.Ref("t_max", "horizon"))
    assert scopes == {
        "a": ir.Scope("cond", condition=last),
        "b": ir.Scope("specific", timestep=12),
        "c": ir.Scope("specific", timestep=6),
        "d": ir.Scope("all"),
    }


def test_validator_accepts_once_rules_and_refuses_them_beside_other_rules() -> None:
    from pel.diagnostics import IRError
    from pel.ir import hashing

    comp = compile_source(model("  var total = sum(cf[k] for k in 0..12)"), "m.pel")
    m = comp.program.model
    total = next(v for v in m.vars if v.name == "total")
    bad = ir.Var(total.name, total.type, (*total.rules, ir.Rule("initial", ir.Literal(0.0), at=0)), False, False)
    vars_ = tuple(bad if v.name == "total" else v for v in m.vars)
    program = hashing.with_hashes(ir.Program(comp.program.format_version, _replace(m, vars=vars_),
                                             comp.program.metadata))
    with pytest.raises(IRError, match="once rule"):
        validate(program)
    late = ir.Var(total.name, total.type, (ir.Rule("once", total.rules[0].expr, at=40),), False, False)
    program = hashing.with_hashes(ir.Program(comp.program.format_version,
                                             _replace(m, vars=tuple(late if v.name == "total" else v
                                                                    for v in m.vars)), comp.program.metadata))
    with pytest.raises(IRError, match="V014"):
        validate(program)


def _replace(m: ir.Model, **changes: object) -> ir.Model:
    import dataclasses

    return dataclasses.replace(m, **changes)


# -- what may read a whole-run value, and what can never be computed: (body, code, text under the span) ------

ERRORS = [
    # never satisfiable: a step outside 0..12
    ("  var v = cf[99]", "E0301", "99"),
    ("  var total = sum(cf[k] for k in 0..36)", "E0301", "36"),
    ("  var total = sum(cf[k + 1] for k in 0..12)", "E0301", "12"),
    ("  var total = sum(cf[k - 1] for k in 0..12)", "E0301", "0"),
    ("  var y: TimeSeries<Fraction>\n  y[t] = sum(rev[k] for k in 0..20)", "E0301", "20"),
    # per-step readers of a whole-run value: non-causal
    ("  var total = sum(cf)\n  var y: TimeSeries<Currency<USD>>\n  y[t] = total * 2", "E0300", "total"),
    ("  var total = sum(cf)\n  var y = total + cf", "E0300", "total"),
    ("  var v = cf[12]\n  var y: TimeSeries<Currency<USD>>\n  y[11] = v", "E0300", "v"),
    ("  var v = cf[2]\n  var y: TimeSeries<Currency<USD>>\n  y[0] = $0\n  y[1] = $0\n  y[t+2] = v", "E0300", "v"),
    ("  var total = sum(cf)\n  policy q { when: total > $0, then: p = 1 }", "E0300", "total"),
    ("  var total = sum(cf)\n  policy q { when: t == 3, then: total = $1 }", "E0300", "total"),
    ("  var total = sum(cf)\n  constraint c: cf[t] > total { severity: warning }", "E0300", "total"),
    ("  var total = sum(cf)\n  output o = total * 2", "E0300", "total"),
    ("  output o = sum(cf)", "E0300", "sum(cf)"),
    ("  output o = cf[5]", "E0300", "cf[5]"),
    # an unindexed variable that changes with t cannot aggregate the whole run
    ("  var x = sum(cf) + cf", "E0300", "sum(cf)"),
    ("  var x = cf / cf[t_max]", "E0300", "cf[t_max]"),
    # a whole-run value is no series
    ("  var total = sum(cf)\n  var x = sum(total)", "E0100", "total"),
    ("  var total = sum(cf)\n  var x = total[3]", "E0100", "3"),
    # a whole-run constraint is checked once: no `for` scope
    ("  var total = sum(cf)\n  constraint c: total > $0 for all t in [0..5] { severity: warning }", "E0502",
     "for all t in [0..5]"),
]


@pytest.mark.parametrize(("body", "code", "text"), ERRORS)
def test_whole_run_errors(body: str, code: str, text: str) -> None:
    source = model(body)
    with pytest.raises(CompileError) as exc:
        compile_source(source, "m.pel")
    first = exc.value.diagnostics[0]
    assert first.code == code, [d.header() for d in exc.value.diagnostics]
    lines = source.splitlines()
    span = first.span
    assert span is not None and span.line == span.end_line
    assert lines[span.line - 1][span.col - 1:span.end_col - 1] == text
    assert first.hint


@pytest.mark.parametrize(
    "body",
    [
        "  var v = cf[12]\n  var y: TimeSeries<Currency<USD>>\n  y[12] = v\n  y[t] = cf",
        "  var total = sum(cf)\n  constraint c: total > $0 { severity: warning }",
        # a value of step 0 exists at every step: per-step contexts may read it
        "  var base = cf[0]\n  var y: TimeSeries<Fraction>\n  y[t] = cf[t] / base\n"
        "  policy q { when: cf < base * 0.5, then: p = 1 }\n"
        "  constraint c: cf[t] >= base { severity: warning }",
        "  var y: TimeSeries<Currency<USD>>\n  y[t] = if t >= 5 then cf[5] else $0",  # guarded: checked at run time
        "  var running: TimeSeries<Currency<USD>>\n  running[t] = sum(cf)",  # the steps so far
        "  var x = sum(rev[k] for k in 0..36 if k <= t_max)",  # a filter may keep the range inside
    ],
)
def test_whole_run_reads_that_are_fine(body: str) -> None:
    compile_source(model(body), "m.pel")
