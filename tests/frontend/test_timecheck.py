"""Time checks (pel.ir.timeflow, run by the frontend on the IR it lowers): causality, initial values, same-step
cycles, horizon bounds, undefined vars, order, lookahead."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from pel.diagnostics import DiagnosticBag, Span
from pel.frontend import ast, checker, lower, provenance
from pel.frontend.parser import parse
from pel.ir import nodes as ir
from tests.conftest import corpus_labels
from tests.frontend.pass_util import only, parse_corpus_model

PROV = '{ source: "test", method: "observed", confidence: 1.0 }'


@dataclass
class Info:
    """What the time analysis settled in the IR."""

    model: ir.Model | None

    @property
    def order(self) -> list[str]:
        return list(self.model.order) if self.model else []

    @property
    def whole_run(self) -> dict[str, int | None]:
        return {v.name: r.at for v in self.model.vars for r in v.rules if r.kind == "once"} if self.model else {}

    @property
    def lookahead(self) -> dict[str, int]:
        return {c.name: c.lookahead for c in self.model.constraints} if self.model else {}

    def kinds(self, name: str) -> list[str]:
        return [r.kind for v in self.model.vars if v.name == name for r in v.rules] if self.model else []


def run(body: str, horizon: int = 36) -> tuple[Info, DiagnosticBag, str]:
    """Check and lower a model (parameters get a provenance block); the time findings are in the bag."""
    body = re.sub(r"^(param [^\n]*)$", lambda m: f"{m.group(1)} {PROV}", body, flags=re.M)
    source = "model M {\n" + body + f"\nsimulate for {horizon}mo\n}}\n"
    bag = DiagnosticBag()
    model = parse(source, "m.pel")
    checked = checker.check(model, bag)
    prov = provenance.collect(model, bag)
    assert not bag.errors, [d.header() for d in bag.errors]
    program = lower.lower(checked, prov, bag, source_file="m.pel")
    return Info(program.model), bag, source


def errors(bag: DiagnosticBag) -> list[str]:
    return [d.code for d in bag.errors]


def text_at(source: str, span: Span) -> str:
    line = source.splitlines()[span.line - 1]
    return line[span.col - 1 : span.end_col - 1] if span.end_line == span.line else line[span.col - 1 :]


SERIES = "var {n}: TimeSeries<Fraction>"


def series(*names: str) -> str:
    return "\n".join(SERIES.format(n=n) for n in names)


# -- causality (E0300) -----------------------------------------------------------------------------


def test_future_reference_is_E0300_at_the_index() -> None:
    _, bag, source = run(series("x") + "\nx[t] = x[t+1] * 0.9")
    diag = only(bag, "E0300")
    assert text_at(source, diag.span) == "t+1"


def test_ema_reading_the_defined_step_is_legal() -> None:
    body = (
        series("x", "y")
        + "\nparam a: Fraction = 0.3\ny[t] = 1.0\nx[0] = 0.0\nx[t+1] = a * y[t+1] + (1 - a) * x[t]"
    )
    info, bag, _ = run(body)
    assert errors(bag) == []
    assert info.order == ["y", "x"]


def test_shifted_rule_reading_two_ahead_is_E0300() -> None:
    _, bag, _ = run(series("x", "y") + "\ny[t] = 1.0\nx[0] = 0.0\nx[t+1] = y[t+2]")
    assert errors(bag) == ["E0300"]


def test_literal_rule_reading_later_step_is_E0300() -> None:
    _, bag, _ = run(series("x") + "\nx[0] = x[1]\nx[t] = 1.0")
    assert errors(bag) == ["E0300"]


def test_policy_reading_the_future_is_E0300() -> None:
    body = series("x") + "\nx[t] = 1.0\npolicy p { when: x[t+1] > 0, then: x[t] = 2.0 }"
    _, bag, _ = run(body)
    assert errors(bag) == ["E0300"]


def test_comprehension_up_to_t_is_causal_and_whole_run_ranges_are_allowed() -> None:
    body = (
        series("y")
        + "\ny[t] = 1.0\nvar total = sum(y[k] for k in 0..t)\nvar whole = sum(y[k] for k in 0..36)"
    )
    info, bag, _ = run(body)
    assert errors(bag) == []
    assert info.order.index("y") < info.order.index("total")


def test_comprehension_var_named_t_shadows_time() -> None:
    body = series("y") + "\ny[t] = 1.0\nvar low = min(y[t] for t in [0..24])"
    _, bag, _ = run(body)
    assert errors(bag) == []


# -- initial values (E0303) ------------------------------------------------------------------------


def test_recurrence_without_initial_value_is_E0303() -> None:
    _, bag, source = run(series("r") + "\nr[t+1] = r[t] * 2")
    diag = only(bag, "E0303")
    assert text_at(source, diag.span).startswith("r[t+1] = r[t] * 2")
    assert diag.hint == "add r[0] = …"


def test_recurrence_with_initial_value_or_general_rule_is_fine() -> None:
    _, bag, _ = run(series("r") + "\nr[0] = 1.0\nr[t+1] = r[t] * 2")
    assert errors(bag) == []
    _, bag, _ = run("var r[0] = 1.0\nr[t+1] = r[t]\nvar r2[t] = 1.0")
    assert "E0303" not in errors(bag)


def test_two_step_recurrence_needs_two_initial_values() -> None:
    _, bag, _ = run(series("f") + "\nf[0] = 1.0\nf[t+2] = f[t+1] + f[t]")
    assert "f[1]" in only(bag, "E0303").message


# -- cycles (E0304) ----------------------------------------------------------------------------------


def test_self_reference_is_E0304() -> None:
    _, bag, _ = run(series("x") + "\nx[t] = x[t] + 1")
    assert "x -> x" in only(bag, "E0304").message


def test_cycle_among_variables_is_E0304_listing_it() -> None:
    _, bag, source = run("var p = q + 1\nvar q = r * 2\nvar r = p - 1")
    diag = only(bag, "E0304")
    assert "p -> q -> r -> p" in diag.message
    assert text_at(source, diag.span) == "q"


def test_lagged_references_break_cycles() -> None:
    body = series("a", "b") + "\na[0] = 1.0\na[t+1] = b[t]\nb[t] = a[t] * 2"
    info, bag, _ = run(body)
    assert errors(bag) == []
    assert info.order == ["a", "b"]


# -- horizon (E0301) ---------------------------------------------------------------------------------


def test_literal_index_beyond_horizon_is_E0301() -> None:
    _, bag, source = run(series("x") + "\nx[t] = 1.0\nvar late = x[40]", horizon=36)
    diag = only(bag, "E0301")
    assert text_at(source, diag.span) == "40"


def test_literal_rule_beyond_horizon_and_constraint_index() -> None:
    body = (
        series("x")
        + '\nx[t] = 1.0\nx[50] = 2.0\nconstraint c: x[t_max + 1] > 0 { severity: fatal, message: "m" }'
    )
    _, bag, _ = run(body, horizon=12)
    assert errors(bag) == ["E0301", "E0301"]


# -- definitions (E0305) and rules -------------------------------------------------------------------


def test_declared_but_never_defined_is_E0305() -> None:
    _, bag, source = run("var never: Fraction\nparam a: Fraction = 1.0")
    diag = only(bag, "E0305")
    assert text_at(source, diag.span) == "never"
    assert diag.hint is not None and "param" in diag.hint


def test_bare_assignment_after_declaration_defines_the_var() -> None:
    info, bag, _ = run("var x: Fraction\nx = 1.0")
    assert errors(bag) == []
    assert info.kinds("x") == ["scalar"]


def test_rules_are_collected_per_variable() -> None:
    info, _, _ = run("var x[0] = 1.0\nx[t+1] = x[t]\nvar y = x")
    assert info.kinds("x") == ["initial", "shifted"]
    assert info.kinds("y") == ["scalar"]


def test_guarded_rule_form() -> None:
    _, bag, _ = run("var g[0] = 0.0\nvar g2[t] = g2[t-1] + 1 for t > 0")
    assert errors(bag) == []


def test_order_follows_dependencies_then_declaration() -> None:
    info, bag, _ = run("var c = b + a\nvar b = a * 2\nvar a = 1.0\nvar d = 5.0")
    assert errors(bag) == []
    assert info.order == ["a", "b", "c", "d"]


def test_names_that_are_not_variables_create_no_edges() -> None:
    body = (
        "param p: Fraction = 0.5\nfunc f(x: Fraction) -> Fraction { return x * 2 }\n"
        "var y = f(p) + sum(k for k in 0..t) + t\nvar z = y"
    )
    info, bag, _ = run(body)
    assert errors(bag) == [] and info.order == ["y", "z"]


def test_whole_series_arguments_create_no_edge() -> None:
    """In a per-step rule a whole-series argument is the running value (steps so far): no same-step edge."""
    body = series("cash", "npv_value") + "\ncash[t] = npv_value[t] + 1\nnpv_value[t] = npv(cash, 0.1)"
    info, bag, _ = run(body)
    assert errors(bag) == []
    assert info.order == ["npv_value", "cash"]


def test_unindexed_whole_series_aggregate_is_whole_run_and_per_step_readers_are_E0300() -> None:
    info, bag, source = run(series("cash") + "\ncash[t] = npv_value + 1\nvar npv_value = npv(cash, 0.1)")
    diag = only(bag, "E0300")
    assert text_at(source, diag.span) == "npv_value"
    assert info.whole_run == {"npv_value": None}


# -- lookahead ----------------------------------------------------------------------------------------


def test_constraint_lookahead_is_the_largest_future_offset() -> None:
    body = (
        series("x")
        + "\nx[t] = 1.0\n"
        + 'constraint ahead { x[t+2] > 0 with severity(warning) with message("m")\n'
        + '  x[t+1] > 0 with severity(fatal) with message("n") }\n'
        + 'constraint now: x[t] > x[t-1] { severity: warning, message: "m" }'
    )
    info, bag, _ = run(body)
    assert errors(bag) == []
    assert info.lookahead == {"ahead_1": 2, "ahead_2": 1, "now": 0}  # each clause is a constraint of its own


# -- the shared corpus ---------------------------------------------------------------------------------

VALID = [r["file"] for r in corpus_labels() if r["label"] == "valid"]


@pytest.mark.skipif(not VALID, reason="../shared/corpus is not present")
@pytest.mark.parametrize("name", VALID)
def test_corpus_valid_models_have_no_time_errors(name: str) -> None:
    model = parse_corpus_model(name)
    bag = DiagnosticBag()
    checked = checker.check(model, bag)
    prov = provenance.collect(model, bag)
    program = lower.lower(checked, prov, bag, source_file=name)
    assert errors(bag) == []
    assert sorted(program.model.order) == sorted({v.name for v in model.of(ast.VarDecl)})
