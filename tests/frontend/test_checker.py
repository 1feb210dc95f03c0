"""Checker: typing table (snippet -> type text), error table (snippet -> code at line:col), coercions, strict."""

import pytest

from pel.diagnostics import DiagnosticBag
from pel.frontend import ast
from pel.frontend.checker import check, type_text

parser = pytest.importorskip("pel.frontend.parser")

PROV = '{ source: "s", method: "observed", confidence: 0.9 }'
HEADER = f"""model M {{
  param price: Currency<USD> = $100 {PROV}
  param growth: Rate per Month = 0.05 / 1mo {PROV}
  param yearly: Rate per Year = 0.12 / 1y {PROV}
  param share: Fraction = 25% {PROV}
  param users: Count<Customer> = 1000 {PROV}
  param euros: Currency<EUR> = €50 {PROV}
"""


def run(body: str, strict: bool = False, header: str = HEADER):
    source = header + body + "\n}\n"
    model = parser.parse(source, "m.pel")
    bag = DiagnosticBag()
    checked = check(model, bag, strict=strict)
    return model, checked, bag


def var_type(body: str) -> str:
    model, checked, bag = run(body)
    assert not bag.errors, [d.header() for d in bag.errors]
    last = [i for i in model.items if isinstance(i, ast.VarDecl)][-1]
    return type_text(checked.decl_types[last.name])


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("price + price", "Currency<USD>"),
        ("price * share", "Currency<USD>"),
        ("share * price", "Currency<USD>"),
        ("price / price", "Fraction"),
        ("price / 1mo", "Currency<USD> per Month"),
        ("$1000 / 30d", "Currency<USD> per Day"),
        ("0.05 / 1mo", "Rate per Month"),
        ("2.5% / 1d", "Rate per Day"),
        ("1 + growth", "Fraction"),
        ("growth * 12mo", "Fraction"),
        ("price / growth", "Currency<USD>"),
        ("1 / growth", "Duration"),
        ("6mo / 2w", "Fraction"),
        ("6mo + 4w", "Duration"),
        ("price * users", "Currency<USD>"),
        ("price / users", "Currency<USD> per Customer"),
        ("price > $0", "Boolean"),
        ("price >= 0", "Boolean"),
        ("share > 0.1 && growth > 0.01", "Boolean"),
        ("if share > 0.5 then price else $0", "Currency<USD>"),
        ("sqrt(share)", "Fraction"),
        ("max(price, $10)", "Currency<USD>"),
        ("abs(-price)", "Currency<USD>"),
        ("t % 12", "Fraction"),
        ("~Normal(μ = $10, σ = $2)", "Currency<USD>"),
        ("~Beta(α = 2, β = 5)", "Fraction"),
        ("[1, 2, 3]", "Array<Fraction>"),
    ],
)
def test_expression_types(expr, text):
    assert var_type(f"  var v = {expr}") == text


def test_types_are_recorded_for_every_expression():
    model, checked, bag = run("  var v = price * (1 + growth)")
    decl = [i for i in model.items if isinstance(i, ast.VarDecl)][-1]
    exprs = [n for n in decl.walk() if isinstance(n, ast.Expr)]
    missing = [type(n).__name__ for n in exprs if id(n) not in checked.types]
    assert missing == []


def test_series_rules_and_inference():
    body = """  var mrr: TimeSeries<Currency<USD>>
  mrr[0] = price
  mrr[t+1] = mrr[t] * (1 + growth)
  var total = mrr * 2"""
    model, checked, bag = run(body)
    assert not bag.errors, [d.header() for d in bag.errors]
    assert type_text(checked.decl_types["mrr"]) == "TimeSeries<Currency<USD>>"
    assert type_text(checked.decl_types["total"]) == "Currency<USD>"


ERRORS = [
    ("  var v = price + euros", "E0201", (8, 11)),
    ("  var v = price + share", "E0200", (8, 11)),
    ("  var v = price * price", "E0202", (8, 11)),
    ("  var v = growth + yearly", "E0200", (8, 11)),
    ("  var v = share / 0", "E0800", (8, 19)),
    ("  var v = nope + 1", "E0600", (8, 11)),
    ("  var v = share && true", "E0100", (8, 11)),
    ("  var v = if share > 0 then price else share", "E0100", (8, 11)),
    ("  var v: Currency<USD> = 0.25", "E0100", (8, 26)),
    ("  var v: Wibble = 1", "E0101", (8, 10)),
    ("  var price = 1", "E0601", (8, 7)),
    ("  var status = 1", "E0601", (8, 7)),
    ("  var v = ¥100", "E0102", (8, 11)),
    ("  var v = ltv_simple(price, growth)", "E0600", (8, 11)),
    ("  var v = ~Normal(μ = 10, σ = -1)", "E0431", (8, 11)),
    ("  var v = ~Uniform(low = 5, high = 1)", "E0431", (8, 11)),
    ("  var v = ~Triangular(1, 9, 5)", "E0431", (8, 11)),
    ("  var v = ~Beta(alpha: 0, beta: 2)", "E0431", (8, 11)),
    ("  var x: TimeSeries<Fraction>\n  x[t] = 1\n  x[t+1] = 2\n  x[0] = 0", "E0601", (10, 3)),
    ("  constraint c: share { severity: fatal }", "E0501", (8, 17)),
    ("  constraint c: share > 0 { severity: error }", "E0504", None),
    ("  policy p { when: share, then: share = 0.1 }", "E0700", (8, 20)),
    ("  var x = 1\n  policy p { when: t > 1, then: x = price }", "E0701", (9, 37)),
    ("  policy p { when: 42, then: { } }", "E0700", (8, 20)),
    ("  var x: TimeSeries<Fraction>\n  x[3.14] = 1", "E0100", (9, 5)),
    ("  var x[2.5] = 1", "E0100", (8, 9)),
    ("  var x: TimeSeries<Fraction>\n  x[t + 0.5] = 1", "E0100", (9, 5)),
    ("  var x: TimeSeries<Fraction>\n  x[price] = 1", "E0100", (9, 5)),
    ("  var x: TimeSeries<Fraction>\n  x[\"a\"] = 1", "E0100", (9, 5)),
    ("  var x: TimeSeries<Fraction>\n  x[2 * t] = 1", "E0005", (9, 5)),
    ("  func f(b: Boolean) -> Fraction {\n    if b then return 42 else return \"e\"\n  }", "E0100", (9, 37)),
]


@pytest.mark.parametrize(("body", "code", "where"), ERRORS)
def test_error_table(body, code, where):
    _, _, bag = run(body)
    assert bag.errors, f"expected {code}"
    first = bag.errors[0]
    assert first.code == code, [d.header() for d in bag.errors]
    if where is not None:
        assert (first.span.line, first.span.col) == where, first.header()


def test_policy_without_actions_warns():
    _, _, bag = run("  var x = 1\n  policy p { when: t > 1, then: { } }")
    assert not bag.errors and [d.code for d in bag.warnings] == ["W0703"]


def test_if_then_else_statement_in_a_function_checks():
    _, _, bag = run("  func f(x: Fraction) -> Fraction {\n    if x < 0 then return -x else return x;\n  }")
    assert not bag.errors, [d.header() for d in bag.errors]


def test_invalid_severity_hint_suggests_fatal():
    _, _, bag = run("  constraint c: share > 0 { severity: error }")
    assert "fatal" in bag.errors[0].hint


def test_stdlib_hint_names_module():
    _, _, bag = run("  var v = ltv_simple(price, growth)")
    assert "unit_econ" in bag.errors[0].hint


def test_did_you_mean():
    _, _, bag = run("  var v = prices * 2")
    assert "price" in bag.errors[0].hint


def test_constraint_undefined_is_e0503():
    _, _, bag = run("  constraint c: cash >= $0 { severity: fatal }")
    assert bag.errors[0].code == "E0503"


def test_coercions_warn_and_strict_errors():
    body = f"""  param g: Rate per Month = 0.15 {PROV}
  param y: Rate per Year = 0.12 {PROV}
  param r: Currency<USD> per Month = $10_000 {PROV}"""
    _, checked, bag = run(body)
    assert not bag.errors
    assert [d.code for d in bag.warnings] == ["W0100", "W0100", "W0100"]
    factors = sorted(checked.coercions.values())
    assert factors == pytest.approx([1 / 12])  # only non-unit factors are recorded
    _, _, strict_bag = run(body, strict=True)
    assert [d.code for d in strict_bag.errors] == ["E0100", "E0100", "E0100"]


def test_policy_modifying_param_warns_or_errors_in_strict():
    body = "  policy p { when: t == 12, then: price *= 1.05 }"
    _, checked, bag = run(body)
    assert not bag.errors and [d.code for d in bag.warnings] == ["W0702"]
    assert checked.policy_targets == {"price"}
    _, _, strict_bag = run(body, strict=True)
    assert [d.code for d in strict_bag.errors] == ["E0702"]


def test_horizon_from_simulate():
    _, checked, bag = run("  simulate for 5y")
    assert checked.horizon == 60 and checked.horizon_set
    _, checked, bag = run("  simulate monte_carlo with runs 100 for 1000d")
    assert checked.horizon == 34 and [d.code for d in bag.warnings] == ["W0101"]
    _, checked, _ = run("")
    assert checked.horizon == 12 and checked.time_unit == "Month"


def test_mixture_weights():
    good = "  var v = ~Mixture([Normal(μ=1, σ=1), Normal(μ=5, σ=1)], [0.3, 0.7])"
    _, _, bag = run(good)
    assert not bag.errors, [d.header() for d in bag.errors]
    _, _, bag = run(good.replace("0.7", "0.6"))
    assert [d.code for d in bag.errors] == ["E0431"]


def test_message_interpolation_parsed_and_checked():
    body = """  var x: TimeSeries<Fraction>
  x[t] = share
  constraint c { x[t] > 0 with severity(warning) with message("x={x[t]} at {t} {{lit}}") }"""
    model, checked, bag = run(body)
    assert not bag.errors, [d.header() for d in bag.errors]
    parts = next(iter(checked.messages.values()))
    assert parts[0] == "x=" and isinstance(parts[1], ast.Index) and parts[-1] == " {lit}"
    _, _, bag = run(body.replace("{x[t]}", "{nothing}"))
    assert bag.errors and bag.errors[0].code == "E0503"
