"""Checker: built-in argument kinds and counts (error table of source, code, text under the span), values that
would hold text, and the unit errors' hints (docs/language-notes.md)."""

from __future__ import annotations

import pytest

from pel.diagnostics import DiagnosticBag
from pel.frontend import parser
from pel.frontend.checker import BUILTINS, check, type_text

PROV = '{ source: "s", method: "observed", confidence: 0.9 }'
HEADER = f"""model M {{
  param p: Fraction = 0.1 {PROV}
  param label: String = "x" {PROV}
  param annual_rate: Rate per Year = 0.12 / 1y {PROV}
  param salary: Currency<USD> per Year = $120_000 / 1y {PROV}
  param customers: Count<Customer> = 100 {PROV}
  param ratio: Fraction = 0.1 {PROV}
  param nums: Array<Fraction> = [1, 2, 3] {PROV}
  var cf: TimeSeries<Fraction>
  cf[t] = 1
"""


def check_body(body: str) -> tuple[str, DiagnosticBag, object]:
    source = HEADER + body + "\n}\n"
    bag = DiagnosticBag()
    checked = check(parser.parse(source, "m.pel"), bag)
    return source, bag, checked


def under(source: str, span) -> str:
    line = source.splitlines()[span.line - 1]
    return line[span.col - 1:span.end_col - 1]


def test_every_builtin_of_the_table_has_a_kernel() -> None:
    from pel.backend.exprgen import ExprGen
    from pel.lang import functions

    assert BUILTINS == functions.NAMES
    missing = [name for name in functions.CANONICAL if not hasattr(ExprGen, f"c_{name}")]
    assert missing == []


# (body, code, text under the first error's span)
ERRORS = [
    # arguments in the wrong order, or of the wrong kind
    ("  var x = npv(0.01, [1, 2, 3])", "E0100", "npv(0.01, [1, 2, 3])"),
    ("  var x = npv(p, cf)", "E0100", "npv(p, cf)"),
    ("  var x = npv(cf, [1, 2])", "E0100", "[1, 2]"),
    ("  var x = npv(cf, \"a\")", "E0100", '"a"'),
    ("  var x = irr(p)", "E0100", "p"),
    ("  var x = sum(p)", "E0100", "p"),
    ("  var x = avg(3)", "E0100", "3"),
    ("  var x = count(p)", "E0100", "p"),
    ("  var x: TimeSeries<Fraction>\n  x[t] = sum(cf[t])", "E0100", "cf[t]"),
    ("  var x = lag(p, 1)", "E0100", "p"),
    ("  var x = cumsum(p)", "E0100", "p"),
    ("  var x = cumsum(nums)", "E0100", "nums"),
    ("  var x = percentChange(3)", "E0100", "3"),
    ("  var x = length([\"a\"])", "E0100", '["a"]'),
    ("  var x = abs(\"a\")", "E0100", '"a"'),
    ("  var x = abs(true)", "E0100", "true"),
    ("  func total(xs: [Fraction]) -> Fraction { return sum(xs) }", "E0100", "[Fraction]"),
    ("  var x = round(\"a\")", "E0100", '"a"'),
    ("  var x = sqrt(\"a\")", "E0100", '"a"'),
    ("  var x = min(\"a\")", "E0100", '"a"'),
    ("  var x = max(nums, 3)", "E0100", "nums"),
    ("  var x = abs(nums)", "E0100", "nums"),
    # argument counts
    ("  var x = abs()", "E0100", "abs()"),
    ("  var x = min()", "E0100", "min()"),
    ("  var x = max()", "E0100", "max()"),
    ("  var x = round(1, 2, 3, 4, 5)", "E0100", "round(1, 2, 3, 4, 5)"),
    ("  var x = npv(cf)", "E0100", "npv(cf)"),
    ("  var x = lag(cf)", "E0100", "lag(cf)"),
    # dimensions of the right kind of argument
    ("  var x = npv(cf, $5)", "E0200", "$5"),
    ("  var x = round(p, $1)", "E0200", "$1"),
    ("  var x = lag(cf, $1)", "E0200", "$1"),
    ("  var x = sqrt($5)", "E0200", "$5"),
    # text where the model computes
    ("  var x = \"a\" + 1", "E0100", '"a" + 1'),
    ("  policy q { when: t == 1, then: label = \"b\" }", "E0100", '"b"'),
    ("  constraint c: p > 0 { severity: warning, message: \"now {label}\" }", "E0100", "label"),
]


@pytest.mark.parametrize(("body", "code", "text"), ERRORS)
def test_builtin_and_text_errors(body: str, code: str, text: str) -> None:
    source, bag, _ = check_body(body)
    assert bag.errors, f"expected {code}"
    first = bag.errors[0]
    assert first.code == code, [d.header() for d in bag.errors]
    assert under(source, first.span).startswith(text), first.header()


def test_builtin_errors_say_the_signature() -> None:
    _, bag, _ = check_body("  var x = npv(0.01, [1, 2, 3])")
    assert bag.errors[0].message == "'npv' takes the cash flows first, then the rate"
    assert bag.errors[0].hint == "write `npv(cash_flows, rate)`"
    _, bag, _ = check_body("  var x = lag(p, 1)")
    assert "parameter 'p' (one value per run)" in bag.errors[0].message
    assert bag.errors[0].hint == "write `lag(series, steps)`"
    _, bag, _ = check_body("  var x = round(1, 2, 3, 4, 5)")
    assert bag.errors[0].message == "'round' takes 1-2 argument(s), 5 given"
    assert bag.errors[0].hint == "write `round(x[, digits])`"


@pytest.mark.parametrize(
    "expr",
    ["npv(cf, p)", "npv(cf, annual_rate)", "npv(nums, 1%)", "irr(cf)", "sum(nums)", "sum([1, 2])", "avg(0..3)",
     "min(cf)", "max(nums)", "min(p, 2)", "max(cf, p, 0)", "lag(cf, 1)", "lag(cf, 3mo)", "cumsum(cf)",
     "percentChange(p)", "percentChange(cf)", "round(p, 2)", "log(p, 10)", "clamp(p, 0, 1)", "count(cf)",
     "length(nums)"],
)
def test_builtin_calls_that_are_fine(expr: str) -> None:
    _, bag, _ = check_body(f"  var x = {expr}")
    assert not bag.errors, [d.header() for d in bag.errors]


# -- unit hints ---------------------------------------------------------------------------------------------

HINTS = [
    ("  var x = 1 + annual_rate", "E0200", "`annual_rate * 1mo`"),
    ("  var x = 1 - annual_rate", "E0200", "`annual_rate * 1mo`"),
    ("  var x = annual_rate > 0.1", "E0200", "`0.1 / 1y`"),
    ("  var x: Currency<USD> = salary", "E0100", "declare it `Currency<USD> per Year`"),
    ("  var x: Currency<USD> = $1000 / 1y", "E0100", "declare it `Currency<USD> per Year`"),
    ("  var x = salary + $5", "E0200", "`salary * 1mo`"),
    ("  var x: Count<Engineer> = customers * ratio", "E0100",
     "declare the factor `ratio` as `Count<Engineer> per Customer`"),
    ("  var x: Count<Engineer> = ratio * customers", "E0100",
     "declare the factor `ratio` as `Count<Engineer> per Customer`"),
    ("  var x: Count<Engineer> = customers", "E0100", "a factor declared `Count<Engineer> per Customer`"),
    ("  var x = $100 + 5", "E0200", "`$5`"),
    ("  var x: Currency<USD> = 0.25", "E0100", "$0.25"),
]


@pytest.mark.parametrize(("body", "code", "hint"), HINTS)
def test_unit_errors_say_how_to_fix_them(body: str, code: str, hint: str) -> None:
    _, bag, _ = check_body(body)
    first = bag.errors[0]
    assert first.code == code, first.header()
    assert first.hint is not None and hint in first.hint, first.hint


def test_the_count_factor_hint_is_the_fix() -> None:
    """Declaring the factor as the hint says types the product as the declared count, in either order."""
    body = (f"  param per_customer: Count<Engineer> per Customer = 0.1 {PROV}\n"
            "  var a: Count<Engineer> = customers * per_customer\n"
            "  var b: Count<Engineer> = per_customer * customers\n"
            "  var c = customers * per_customer")
    _, bag, checked = check_body(body)
    assert not bag.errors, [d.header() for d in bag.errors]
    assert type_text(checked.decl_types["c"]) == "Count<Engineer>"


@pytest.mark.parametrize("expr", ["customers > 100", "100 <= customers", "customers == 5", "customers != 0.5"])
def test_a_count_compares_with_a_bare_number(expr: str) -> None:
    _, bag, checked = check_body(f"  var x = {expr}")
    assert not bag.errors, [d.header() for d in bag.errors]
    assert type_text(checked.decl_types["x"]) == "Boolean"


def test_a_count_still_does_not_add_a_bare_number_or_compare_with_money() -> None:
    for expr in ("customers > $5", "customers + 5"):
        _, bag, _ = check_body(f"  var x = {expr}")
        assert [d.code for d in bag.errors] == ["E0200"], expr
