"""Stdlib overloads of one name and arity told apart by their argument types (the checker picks the one whose
parameters take the arguments; none or several is a coded error listing the forms)."""

from __future__ import annotations

import pytest

import pel
from pel.diagnostics import CompileError

PROV = '{ source: "test", method: "observed", confidence: 0.9 }'


def _run(body: str) -> tuple[pel.Model, dict[str, float]]:
    model = pel.compile_string("model T {\n" + body + "\n}\n")
    out = model.run("deterministic", steps=1).to_dict()
    return model, {k: v["value"] for k, v in out.items() if isinstance(v, dict) and isinstance(v.get("value"), float)}


@pytest.mark.parametrize(("total", "tenure", "ramp"), [(50, 18, 3), (12, 24, 24), (8, 4, 10)])
def test_tenure_form_is_chosen_by_its_types_and_computes_the_steady_state_fte(total: int, tenure: int,
                                                                               ramp: int) -> None:
    body = (f"param total: Count<Person> = {total} {PROV}\nparam tenure: Duration = {tenure}mo {PROV}\n"
            f"param ramp: Duration = {ramp}mo {PROV}\nvar fte: Fraction = effective_headcount(total, tenure, ramp)")
    model, values = _run(body)
    # each person ramps over `ramp` of every `tenure`, at half productivity on average (a ramp longer than the
    # tenure is cut short by the departure)
    expected = total * (1 - ramp / (2 * tenure)) if ramp <= tenure else total * tenure / (2 * ramp)
    assert values["fte"] == pytest.approx(expected, rel=1e-12)
    called = {f.name for f in model.program.model.funcs if "effective_headcount" in f.name}
    assert any(name.endswith("#2") for name in called)


def test_progress_form_is_still_chosen_for_counts_and_a_fraction() -> None:
    body = (f"param ramped: Count<Person> = 40 {PROV}\nparam ramping: Count<Person> = 10 {PROV}\n"
            "var eff: Count<Person> = effective_headcount(ramped, ramping, 0.5)")
    _, values = _run(body)
    assert values["eff"] == 45.0


def test_no_form_taking_the_arguments_is_a_located_error_listing_the_forms() -> None:
    source = ("model T {\n"
              f"  param cost: Currency<USD> = $5 {PROV}\n"
              "  var x: Fraction = effective_headcount(cost, cost, cost)\n}\n")
    with pytest.raises(CompileError) as info:
        pel.compile_string(source)
    diag = next(d for d in info.value.diagnostics if d.level == "error")
    assert diag.code == "E0100" and diag.span.line == 3
    assert "no form of 'effective_headcount'" in diag.message
    assert "avg_tenure" in diag.hint and "progress" in diag.hint
