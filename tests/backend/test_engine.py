"""Backend end to end on hand-built IR: values checked against hand computations."""

from __future__ import annotations

import json
import math

import pytest

from pel.backend import engine
from pel.diagnostics import RunError
from pel.ir import nodes as ir

from .irbuild import Names, constraint, dist, lit, message, param, parse, policy, program, rule, var

N = Names(params={"g", "price", "burn", "fee", "k"}, vars={"mrr", "cash", "rev", "x", "y", "ma", "hiring", "q"})


def growth_model() -> ir.Program:
    return program("Rev", [param("g", 0.15)], [
        var("mrr", rule("initial", lit(50_000)), rule("shifted", parse("mrr[t] * (1 + g)", N), shift=1)),
    ])


def cash_model() -> ir.Program:
    """cash falls by 150 a month from 1000: negative first at t=7 (-50)."""
    return program("Cash", [param("burn", 150.0)], [
        var("rev", rule("initial", lit(1000)), rule("shifted", parse("rev[t] * 1.05", N), shift=1)),
        var("cash", rule("initial", lit(1000)), rule("shifted", parse("cash[t] - burn", N), shift=1)),
    ], constraints=[
        constraint("rev_low", parse("rev[t] > 1100", N), severity="warning",
                   msg=message("Revenue low at t=", parse("t", N), ": ", parse("rev[t]", N))),
        constraint("cash_pos", parse("cash[t] >= 0", N),
                   msg=message("Cash negative at t=", parse("t", N), ": ", parse("cash[t]", N)), line=9),
    ])


@pytest.fixture(scope="module")
def growth() -> ir.Program:
    return growth_model()


def test_growth_initial_and_shifted(growth: ir.Program) -> None:
    res = engine.run(growth)
    assert res.status == "success" and res.exit_code == 0
    assert res["mrr"].value[12] == pytest.approx(50_000 * 1.15**12, rel=1e-12)
    assert len(res["mrr"].value) == 13
    data = json.loads(res.to_json())
    assert list(data)[:10] == ["status", "message", "model", "mode", "seed", "steps", "time_unit", "warnings",
                               "violations", "assumptions"]
    assert data["mrr"][12]["t"] == 12 and data["mrr"][0] == {"t": 0, "value": 50_000.0}
    assert data["model"] == {"name": "Rev", "hash": "sha256:test-Rev", "pel_version": "0.1.0"}
    assert data["assumptions"][0]["name"] == "g" and data["assumptions"][0]["value"] == 0.15


def test_steps_and_override(growth: ir.Program) -> None:
    res = engine.run(growth, steps=24, params={"g": 0.10})
    assert len(res["mrr"].value) == 25
    assert res["mrr"].value[24] == pytest.approx(50_000 * 1.10**24)
    assert res.assumptions[0]["value"] == 0.10
    with pytest.raises(RunError) as exc:
        engine.run(growth, params={"nope": 1.0})
    assert exc.value.code == "E0600"


def test_fatal_constraint_stops_run() -> None:
    res = engine.run(cash_model())
    assert res.status == "constraint_violation" and res.exit_code == 3
    assert res.message == "Cash negative at t=7: -50"
    assert res.violations == [{"constraint": "cash_pos", "t": 7, "severity": "fatal",
                               "message": "Cash negative at t=7: -50"}]
    assert len(res["cash"].value) == 8  # t = 0..7: later steps are not reported
    data = json.loads(res.to_json())
    assert data["status"] == "constraint_violation" and data["message"] == "Cash negative at t=7: -50"
    assert [w["t"] for w in data["warnings"]] == [0, 1]  # 1000, 1050 <= 1100 < 1102.5
    assert data["warnings"][1]["message"] == "Revenue low at t=1: 1050"


def test_monte_carlo_fatal_paths_excluded() -> None:
    res = engine.run(cash_model(), mode="monte_carlo", runs=100, seed=1)
    data = json.loads(res.to_json())
    assert data["success_rate"] == 0.0
    assert data["constraints"]["cash_pos"]["violations"] == 100
    assert data["constraints"]["cash_pos"]["first_violation_t"] == {"min": 7, "max": 7, "mean": 7.0}
    assert data["cash"][7]["n"] == 100 and data["cash"][8]["n"] == 0
    assert data["cash"][8]["value"] is None and data["cash"][8]["p50"] is None  # null, never NaN
    assert data["violations"][0]["message"] == "Cash negative at t=7: -50"


def test_policies_param_var_conditional_changes() -> None:
    names = Names(params={"price", "fee"}, vars={"rev", "hiring", "x"})
    prog = program("Pol", [param("price", 100.0), param("fee", 10.0)], [
        var("rev", rule("general", parse("price * 10", names))),
        var("x", rule("general", parse("fee + t", names))),
        var("hiring", rule("scalar", ir.Literal(True)), kind="Boolean", series=False),
    ], policies=[
        policy("raise", parse("t == 3", names), ir.Action("multiply", "price", "param", lit(1.5))),
        policy("bump", parse("t >= 5", names), ir.Action("add", "price", "param", lit(1.0))),
        policy("setx", parse("t == 2", names), ir.Action("assign", "x", "var", lit(-7))),
        policy("freeze", parse("t == 4", names), ir.Action("assign", "hiring", "var", ir.Literal(False))),
        policy("cond", parse("t == 6", names),
               ir.If(parse("price > 200", names), (ir.Action("assign", "fee", "param", lit(0)),),
                     (ir.Action("assign", "fee", "param", lit(1000)),))),
        policy("noticed", parse("changes(price)", names), ir.Emit("price_changed")),
    ])
    res = engine.run(prog, steps=8)
    rev = res["rev"].value
    # the multiply at t=3 applies after rev[3] was computed: rev[3] is recomputed only from t=4
    assert list(rev) == [1000, 1000, 1000, 1000, 1500, 1500, 1510, 1520, 1530]
    x = res["x"].value
    assert x[2] == -7 and x[1] == 11 and x[6] == 16 and x[7] == 1007  # fee set to 1000 at t=6 (price 152 <= 200)
    assert list(res["hiring"].value) == [1, 1, 1, 1, 0, 0, 0, 0, 0]  # an unindexed var's write persists
    assert [e["t"] for e in res.events] == [3, 5, 6, 7, 8]


def test_lazy_if_guards_index() -> None:
    names = Names(vars={"r", "ma"})
    prog = program("Lazy", [], [
        var("r", rule("general", parse("t * 3 + 1", names))),
        var("ma", rule("general", parse("r[t] if t < 2 else (r[t] + r[t-1] + r[t-2]) / 3", names))),
    ])
    ma = engine.run(prog, steps=5)["ma"].value
    r = [3 * t + 1 for t in range(6)]
    assert list(ma[:2]) == r[:2]
    assert ma[4] == pytest.approx((r[4] + r[3] + r[2]) / 3)
    # && is lazy too: a guarded read at t=0 never faults
    prog2 = program("Lazy2", [], [
        var("r", rule("general", parse("t + 1", names))),
        var("ma", rule("general", parse("(t >= 1 and r[t-1] > 0)", names)), kind="Boolean"),
    ])
    assert list(engine.run(prog2, steps=3)["ma"].value) == [0, 1, 1, 1]


def test_aggregation_and_builtins() -> None:
    names = Names(vars={"x", "s", "a", "c", "m", "b"})
    prog = program("Agg", [], [
        var("x", rule("general", parse("t * 2 - 3", names))),
        var("s", rule("general", parse("agg('sum', x[k], 'k', 0, t)", names))),
        var("a", rule("general", parse("agg('avg', x[k], 'k', 0, t)", names))),
        var("c", rule("general", parse("agg('count', 1, 'k', 0, t, x[k] > 0)", names))),
        var("m", rule("general", parse("agg('max', abs(x[k]), 'k', 0, t)", names))),
        var("b", rule("general", parse("clamp(round(sqrt(16) + max(1, 2, 3) + pow(2, 3) + floor(2.7) + "
                                       "ceil(0.2) + exp(0) + log(1) + sum(x) - cumsum(x) + lag(x, 1)), 0, 1e9) if t > 0 else 0",
                                       names))),
    ])
    res = engine.run(prog, steps=6)
    xs = [2 * t - 3 for t in range(7)]
    for t in range(7):
        assert res["s"].value[t] == sum(xs[: t + 1])
        assert res["a"].value[t] == pytest.approx(sum(xs[: t + 1]) / (t + 1))
        assert res["c"].value[t] == sum(1 for v in xs[: t + 1] if v > 0)
        assert res["m"].value[t] == max(abs(v) for v in xs[: t + 1])
    # lag(x, 1) faults at t=0 (index -1): the run must report it
    bad = program("Lag", [], [var("x", rule("general", parse("t", names))),
                              var("b", rule("general", parse("lag(x, 1)", names)))])
    with pytest.raises(RunError) as exc:
        engine.run(bad, steps=3)
    assert exc.value.code == "E0301" and "`b`" in str(exc.value) and "t=0" in str(exc.value)
    assert res["b"].value[3] == 4 + 3 + 8 + 2 + 1 + 1 + 0 + 0 + xs[2]


def test_npv_irr() -> None:
    names = Names(vars={"cf", "v", "r"})
    prog = program("Npv", [], [
        var("cf", rule("initial", lit(-1_000_000)), rule("literal", lit(300_000), at=1),
            rule("literal", lit(400_000), at=2), rule("literal", lit(500_000), at=3)),
        var("v", rule("general", parse("npv(cf, 0.1)", names))),
        var("r", rule("general", parse("irr(cf) if t == 3 else 0", names))),
    ])
    res = engine.run(prog, steps=3)
    assert res["v"].value[3] == pytest.approx(-1e6 + 3e5 / 1.1 + 4e5 / 1.21 + 5e5 / 1.331)
    r = res["r"].value[3]
    assert -1e6 + 3e5 / (1 + r) + 4e5 / (1 + r) ** 2 + 5e5 / (1 + r) ** 3 == pytest.approx(0, abs=1e-4)


def test_user_functions() -> None:
    names = Names(params={"price"}, vars={"m"}, funcs={"margin", "fact"})
    margin = ir.Func("margin", ("a", "b"), (
        ir.Let("d", parse("a - b", names)),
        ir.If(parse("d < 0", names), (ir.Return(lit(0)),)),
        ir.Return(parse("d / a", names)),
    ))
    fact = ir.Func("fact", ("n",), (
        ir.Let("acc", lit(1)),
        ir.For("k", lit(1), parse("n", names), (ir.Let("acc", parse("acc * k", names)),)),
        ir.Return(parse("acc", names)),
    ))
    prog = program("Fn", [param("price", 100.0)], [
        var("m", rule("general", parse("margin(price, t * 30) + fact(t)", names))),
    ], funcs=[margin, fact])
    m = engine.run(prog, steps=4)["m"].value
    assert list(m) == pytest.approx([1 + 1, 0.7 + 1, 0.4 + 2, 0.1 + 6, 0 + 24])


def test_division_by_zero_deterministic_and_mc() -> None:
    names = Names(params={"k"}, vars={"q"})
    prog = program("Div", [param("k", dist=dist("Uniform", low=0, high=1))], [
        var("q", rule("general", parse("1 / (k - 0.5) if t == 0 else 1 / (t - 3)", names), line=7)),
    ], source="models/div.pel")
    with pytest.raises(RunError) as exc:
        engine.run(prog, steps=5)  # central k = 0.5: division by zero at t=0
    err = exc.value
    assert err.code == "E0800"
    assert "division by zero" in str(err) and "`q`" in str(err) and "t=0" in str(err)
    span = err.diagnostics[0].span
    assert span.file == "models/div.pel" and span.line == 7
    with pytest.raises(RunError, match="t=3"):
        engine.run(prog, steps=5, params={"k": 0.7})
    res = engine.run(prog, mode="monte_carlo", runs=50, steps=2)
    assert res.success_rate == 1.0
    res = engine.run(prog, mode="monte_carlo", runs=50, steps=4)
    data = json.loads(res.to_json())
    assert data["failed_paths"]["count"] == 50 and data["failed_paths"]["by_kind"] == {"division_by_zero": 50}
    assert data["success_rate"] == 0.0 and data["q"][0]["n"] == 0 and data["q"][0]["value"] is None


def test_log_of_negative_and_sqrt() -> None:
    names = Names(vars={"q"})
    prog = program("Log", [], [var("q", rule("general", parse("log(2 - t)", names)))])
    with pytest.raises(RunError, match="logarithm") as exc:
        engine.run(prog, steps=3)
    assert exc.value.code == "E0800" and "t=2" in str(exc.value)


def test_not_yet_computed_is_e0301() -> None:
    names = Names(vars={"x", "y"})
    prog = program("Fut", [], [
        var("x", rule("general", parse("y[t] + 1", names))),
        var("y", rule("general", parse("t", names))),
    ])
    with pytest.raises(RunError) as exc:
        engine.run(prog, steps=2)
    assert exc.value.code == "E0301" and "`x`" in str(exc.value)


def test_warning_constraint_every_step_with_scope_and_lookahead() -> None:
    names = Names(vars={"x"})
    prog = program("Warn", [], [var("x", rule("general", parse("10 - t", names)))], constraints=[
        constraint("grows", parse("x[t+1] > x[t]", names), severity="warning", lookahead=1,
                   msg=message("down at ", parse("t", names))),
        constraint("late", parse("x[t] > 100", names), severity="warning",
                   scope=ir.Scope("range", start=2, end=3)),
    ])
    res = engine.run(prog, steps=4)
    grows = [w["t"] for w in res.warnings if w["constraint"] == "grows"]
    assert grows == [0, 1, 2, 3]  # instance t=4 would read x[5]: skipped
    assert [w["t"] for w in res.warnings if w["constraint"] == "late"] == [2, 3]
    assert res.warnings[0]["message"] == "down at 0"
    assert res.status == "success"
    assert [w["message"] for w in res.warnings if w["constraint"] == "late"][0] == "constraint 'late' violated at t=2"


def test_output_directive_and_constant_var() -> None:
    names = Names(params={"price"}, vars={"x", "c"})
    prog = program("Out", [param("price", 3.0)], [
        var("x", rule("general", parse("t * price", names))),
        var("c", rule("scalar", parse("price * 2", names)), series=False, time_varying=False),
    ], outputs=[ir.Output("c"), ir.Output("double", parse("x[t] * 2", names))])
    data = json.loads(engine.run(prog, steps=2).to_json())
    assert data["c"] == {"value": 6.0}
    assert data["double"] == [{"t": 0, "value": 0.0}, {"t": 1, "value": 6.0}, {"t": 2, "value": 12.0}]
    assert "x" not in data


def test_to_pandas_without_pandas_is_clear(growth: ir.Program) -> None:
    res = engine.run(growth)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(RunError, match="pandas"):
            res.to_pandas()
    else:
        df = res.to_pandas()
        assert list(df.columns) == ["variable", "t", "statistic", "value"]


def test_names_cannot_inject_code() -> None:
    evil = 'x"); import os\nos.system("echo pwned") #\r\u2028'
    names = Names(params={evil}, vars={"v"})
    prog = program("M'\nimport os", [param(evil, 2.0)], [
        var("v", rule("general", ir.Binary("*", ir.Ref(evil, "param"), parse("t", names))))])
    res = engine.run(prog, steps=2)
    assert list(res["v"].value) == [0, 2, 4]
    assert math.isclose(res.assumptions[0]["value"], 2.0)
    from pel.backend.codegen import generate

    src = generate(prog)
    compile(src, "gen.py", "exec")
    assert not any(line.strip().startswith(("import os", "os.system")) for line in src.splitlines())


def test_deterministic_central_values() -> None:
    from .irbuild import mixture

    ps = [
        param("a", dist=dist("Normal", mu=3, sigma=1)),
        param("b", dist=dist("LogNormal", mu=1, sigma=0.5)),
        param("c", dist=dist("LogNormalNat", mu=100, sigma=20)),
        param("d", dist=dist("Beta", alpha=2, beta=6)),
        param("e", dist=dist("Uniform", low=2, high=4)),
        param("f", dist=dist("Triangular", low=1, mode=2, high=6)),
        param("h", dist=dist("Pareto", xm=2, alpha=3)),
        param("m", dist=mixture([dist("Normal", mu=0, sigma=1), dist("Normal", mu=10, sigma=1)], [0.3, 0.7])),
    ]
    prog = program("Central", ps, [var("v", rule("general", lit(0)))])
    vals = {a["name"]: a["value"] for a in engine.run(prog, steps=0).assumptions}
    assert vals == pytest.approx({"a": 3, "b": math.exp(1), "c": 100, "d": 0.25, "e": 3, "f": 2,
                                  "h": 2 * 2 ** (1 / 3), "m": 7})
    assert engine.run(prog, mode="monte_carlo", runs=10).assumptions[0]["value"] == 3
