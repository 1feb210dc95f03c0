"""Lowering checked ASTs to IR: units compiled to per-step floats, rule kinds, refs, constraints, policies."""

from pathlib import Path

import pytest

from pel.diagnostics import DiagnosticBag
from pel.frontend import provenance
from pel.frontend.checker import check
from pel.frontend.lower import lower
from pel.ir import nodes as ir

parser = pytest.importorskip("pel.frontend.parser")

PROV = '{ source: "s", method: "observed", confidence: 0.9 }'

TUTORIAL = """model RevenueForecasting {
  param initial_mrr: Currency<USD> = $50_000 {
    source: "billing_system",
    method: "observed",
    confidence: 0.95
  }

  param growth_rate: Rate per Month = 0.15 / 1mo {
    source: "historical_analysis",
    method: "fitted",
    confidence: 0.75
  }

  var mrr: TimeSeries<Currency<USD>>
  mrr[0] = initial_mrr
  mrr[t+1] = mrr[t] * (1 + growth_rate)

  constraint positive_growth {
    mrr[t+1] > mrr[t]
      with severity(warning)
      with message("Revenue declining at t={t}")
  }
}
"""


def compile_ir(source: str, strict: bool = False) -> tuple[ir.Program, DiagnosticBag]:
    model = parser.parse(source, "m.pel")
    bag = DiagnosticBag()
    checked = check(model, bag, strict=strict)
    assert not bag.errors, [d.header() for d in bag.errors]
    prov = provenance.collect(model, bag, strict=strict)
    assert not bag.errors, [d.header() for d in bag.errors]
    program = lower(checked, prov, bag, source_file="m.pel")
    assert not bag.errors, [d.header() for d in bag.errors]
    return program, bag


def small(body: str) -> ir.Model:
    source = f"""model M {{
  param price: Currency<USD> = $100 {PROV}
  param growth: Rate per Month = 0.05 / 1mo {PROV}
{body}
}}
"""
    return compile_ir(source)[0].model


def var(model: ir.Model, name: str) -> ir.Var:
    return next(v for v in model.vars if v.name == name)


def param(model: ir.Model, name: str) -> ir.Param:
    return next(p for p in model.params if p.name == name)


# ---------------------------------------------------------------------------------------------


def test_tutorial_model():
    program, bag = compile_ir(TUTORIAL)
    m = program.model
    assert program.metadata["compiler_version"] == "pel-0.1.0"
    assert program.metadata["source_file"] == "m.pel" and program.metadata["model_hash"] == ""
    assert m.name == "RevenueForecasting" and m.time_unit == "Month" and m.time_horizon == 12
    g = param(m, "growth_rate")
    assert g.central == pytest.approx(0.15)
    assert g.value == ir.Literal(pytest.approx(0.15), g.value.loc)
    assert g.type.display == "Rate per Month" and g.type.unit == "1/Month"
    assert param(m, "initial_mrr").central == 50_000
    mrr = var(m, "mrr")
    assert [r.kind for r in mrr.rules] == ["initial", "shifted"]
    assert mrr.rules[0].expr == ir.Ref("initial_mrr", "param", mrr.rules[0].expr.loc)
    assert mrr.rules[1].shift == 1
    assert mrr.series and mrr.time_varying
    (c,) = m.constraints
    assert c.constraint_id == "constraint_0" and c.severity == "warning" and c.lookahead == 1
    assert c.message[0] == ir.MessagePart(text="Revenue declining at t=")
    assert isinstance(c.message[1].expr, ir.Ref) and c.message[1].expr.kind == "time"
    assert c.scope == ir.Scope("all")


def test_units_become_step_floats():
    m = small(f"""  param yearly: Rate per Year = 0.12 / 1y {PROV}
  param coerced: Rate per Year = 0.12 {PROV}
  param daily: Currency<USD> per Day = $30 / 1d {PROV}
  param wait: Duration = 2w {PROV}
  var v = $1000 / 30d""")
    assert param(m, "yearly").central == pytest.approx(0.01)
    assert param(m, "coerced").central == pytest.approx(0.01)
    assert param(m, "daily").central == pytest.approx(900.0)
    assert param(m, "wait").central == pytest.approx(14 / 30)
    rule = var(m, "v").rules[0]
    assert rule.kind == "scalar" and rule.expr.value == pytest.approx(1000.0)
    assert not var(m, "v").time_varying


def test_refs_and_indexes():
    m = small("""  var x: TimeSeries<Currency<USD>>
  x[t] = price * growth[t] + (if t > 0 then x[t-1] else $0)
  var y = x * 2
  var h = t_max""")
    expr = var(m, "x").rules[0].expr
    found = {(type(n).__name__, getattr(n, "name", None), getattr(n, "kind", None)) for n in _walk(expr)}
    assert ("Index", "growth", "param") in found
    assert ("Index", "x", "var") in found
    assert ("Ref", "t", "time") in found
    assert var(m, "y").rules[0].expr.left == ir.Ref("x", "var", var(m, "y").rules[0].expr.left.loc)
    assert var(m, "y").time_varying
    assert _walk(var(m, "h").rules[0].expr)[0].kind == "horizon"


def test_implies_and_if_and_aggregation():
    m = small("""  var s: TimeSeries<Fraction>
  s[t] = sum(k * 2 for k in 0..t if k > 1)
  constraint c { (s > 1) implies (s > 0) with severity(fatal) with message("bad") }""")
    agg = var(m, "s").rules[0].expr
    assert isinstance(agg, ir.Aggregation) and agg.aggregation_type == "sum" and agg.filter is not None
    assert agg.body.left == ir.Ref("k", "local", agg.body.left.loc)
    cond = m.constraints[0].condition
    assert cond.op == "||" and isinstance(cond.left, ir.Unary) and cond.left.op == "!"


def test_inline_distribution_sites_and_central_values():
    m = small(f"""  param n: Fraction ~ Normal(μ = 0.1, σ = 0.02) {PROV}
  param ln: Currency<USD> ~ LogNormal(μ = $500, σ = $150) {PROV}
  param lg: Fraction ~ LogNormal(μ = 0, σ = 0.5) {PROV}
  param b: Fraction ~ Beta(α = 2, β = 6) {PROV}
  param u: Fraction ~ Uniform(min = 1, max = 3) {PROV}
  param tr: Fraction ~ Triangular(1, 2, 5) {PROV}
  param pa: Fraction ~ Pareto(xm = 1, alpha = 2) {PROV}
  param mx: Fraction ~ Mixture([Normal(μ=1, σ=1), Normal(μ=5, σ=1)], [0.25, 0.75]) {PROV}
  var d: TimeSeries<Fraction>
  d[t] = ~Normal(μ = 1, σ = 0.1) + ~Uniform(low = 0, high = 1)
  var e: TimeSeries<Fraction>
  e[t] = ~Normal(μ = 2, σ = 0.1)""")
    expect = {"n": 0.1, "ln": 500.0, "lg": 1.0, "b": 0.25, "u": 2.0, "tr": 2.0, "pa": 2 ** 0.5, "mx": 4.0}
    for name, central in expect.items():
        assert param(m, name).central == pytest.approx(central), name
        assert param(m, name).value is None and param(m, name).distribution is not None
    assert param(m, "ln").distribution.log_space is False
    assert param(m, "lg").distribution.log_space is True
    assert param(m, "u").distribution.param("low") == ir.Literal(1.0, param(m, "u").distribution.param("low").loc)
    sites = [n.site for v in ("d", "e") for n in _walk(var(m, v).rules[0].expr) if isinstance(n, ir.Distribution)]
    assert len(set(sites)) == 3 and all(s >= 0 for s in sites)


def test_policies_and_actions():
    m = small("""  var mut cash: TimeSeries<Currency<USD>>
  cash[t] = price
  policy cut { when: cash < $50, then: { cash -= $10, price /= 2, emit event("cut") } }
  policy yearly { when: t % 12 == 0 && t > 0, then: price *= 1.1 }
  policy both { when: t > 3 && cash > $0, then: if t > 5 then cash = $1 else cash += $2 }""")
    cut, yearly, both = m.policies
    assert [p.policy_id for p in m.policies] == ["policy_0", "policy_1", "policy_2"]
    assert (cut.trigger_type, yearly.trigger_type, both.trigger_type) == ("threshold", "time", "composite")
    sub, div, emit = cut.actions
    assert (sub.action_type, sub.target_kind, sub.value.value) == ("add", "var", -10.0)
    assert (div.action_type, div.target_kind, div.value.value) == ("multiply", "param", 0.5)
    assert isinstance(emit, ir.Emit) and emit.event_name == "cut"
    assert isinstance(both.actions[0], ir.If)
    assert var(m, "cash").time_varying  # a policy target


def test_funcs_outputs_simulate():
    m = small("""  func double(x: Fraction) -> Fraction {
    var y = x * 2
    return y
  }
  var d = double(3)
  output [d]
  simulate monte_carlo with runs 500 with seed 7 for 2y""")
    (f,) = m.funcs
    assert f.params == ("x",) and isinstance(f.body[0], ir.Let) and isinstance(f.body[1], ir.Return)
    assert var(m, "d").rules[0].expr.function == "double"
    assert m.outputs == (ir.Output("d"),)
    assert m.simulate == ir.Simulate("monte_carlo", 500, 7) and m.time_horizon == 24


def test_constraint_scopes():
    m = small("""  var r: TimeSeries<Currency<USD>>
  r[t] = price
  constraint a: r[12] > r[0] { severity: warning }
  constraint b: r >= $0 for all t in [0..6] { severity: fatal }
  constraint c { r[t] > $0 with severity(fatal) with message("x") r[t] < $1e9 with severity(warning) }""")
    a, b, c1, c2 = m.constraints
    assert a.scope == ir.Scope("specific", timestep=12)
    assert b.scope == ir.Scope("range", start=0, end=6)
    assert (c1.name, c2.name, c2.constraint_id) == ("c_1", "c_2", "constraint_3")


def _walk(e):
    out, stack = [], [e]
    while stack:
        x = stack.pop()
        if isinstance(x, ir.Expr):
            out.append(x)
            stack.extend(getattr(x, s) for s in x.__slots__)
        elif isinstance(x, tuple):
            stack.extend(x)
    return out


CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "models"


def _valid_corpus() -> list[str]:
    if not (CORPUS / "LABELS.tsv").exists():
        return []
    rows = [line.split("\t") for line in (CORPUS / "LABELS.tsv").read_text().splitlines()[1:]]
    return [r[0] for r in rows if len(r) > 2 and r[2] == "valid"]


@pytest.mark.parametrize("name", _valid_corpus() or ["<absent>"])
def test_valid_corpus_models_check_and_lower(name):
    if name == "<absent>":
        pytest.skip("../shared not present")
    program, _ = compile_ir((CORPUS / name).read_text())
    assert program.model.name
