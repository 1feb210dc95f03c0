"""Whole-run quantities end to end (LANGUAGE.md §3, docs/language-notes.md): computed once per path when the last
step they read exists, reported as one value; deterministic values by hand, Monte Carlo statistics over paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pel
from pel.backend import codegen
from pel.diagnostics import RunError

PROV = '{ source: "s", method: "observed", confidence: 0.9 }'

PROJECT = f"""
model Project {{
  param cost: Currency<USD> = $1000 {PROV}
  param r: Fraction = 0.01 {PROV}
  var cash_flow: TimeSeries<Currency<USD>>
  cash_flow[0] = -$10_000
  cash_flow[t+1] = cost
  var total: Currency<USD> = sum(cash_flow[k] for k in 0..12)
  var first_half = sum(cash_flow[k] for k in 0..6)
  var lowest = min(cash_flow[k] for k in 0..12)
  var project_irr: Fraction = irr(cash_flow)
  var value = npv(cash_flow, r)
  var s = sum(cash_flow)
  var v = cash_flow[12]
  var ratio = value / total
  constraint positive_npv: value > $0 {{ severity: warning, message: "npv {{value}} at {{t}}" }}
  constraint half_positive: first_half > $0 {{ severity: warning, message: "first half {{first_half}}" }}
  simulate for 12mo
}}
"""


def irr_by_hand(flows: list[float]) -> float:
    lo, hi = -0.99, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        npv = sum(c / (1 + mid) ** i for i, c in enumerate(flows))
        lo, hi = (mid, hi) if npv > 0 else (lo, mid)
    return (lo + hi) / 2


@pytest.fixture(scope="module")
def project() -> pel.Model:
    return pel.compile_string(PROJECT)


def test_deterministic_whole_run_values_are_one_value_each(project: pel.Model) -> None:
    res = project.run()
    data = res.to_dict()
    flows = [-10_000.0] + [1000.0] * 12
    npv = sum(c / 1.01 ** i for i, c in enumerate(flows))
    expected = {
        "total": 2000.0, "first_half": -4000.0, "lowest": -10_000.0, "s": 2000.0, "v": 1000.0,
        "value": npv, "project_irr": irr_by_hand(flows), "ratio": npv / 2000.0,
    }
    for name, value in expected.items():
        assert set(data[name]) == {"value"}, name
        assert data[name]["value"] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert isinstance(data["cash_flow"], list) and len(data["cash_flow"]) == 13
    # each whole-run constraint is checked once, at the step its values exist
    assert [(w["constraint"], w["t"]) for w in data["warnings"]] == [("half_positive", 6)]
    assert data["warnings"][0]["message"] == "first half -4000"


def test_value_is_held_after_its_step_and_undefined_before(project: pel.Model) -> None:
    res = project.run()
    first_half = res["first_half"].value
    assert np.isnan(first_half[:6]).all()
    np.testing.assert_allclose(first_half[6:], -4000.0)
    assert np.isnan(res["value"].value[:12]).all() and res["value"].value[12] == pytest.approx(
        res.to_dict()["value"]["value"])


def test_steps_move_the_end_of_the_run_but_not_a_fixed_step(project: pel.Model) -> None:
    res = project.run(steps=24)
    data = res.to_dict()
    assert data["total"]["value"] == 2000.0  # steps 0..12, whatever the run's length
    assert data["s"]["value"] == 14_000.0  # the whole series: steps 0..24
    assert data["v"]["value"] == 1000.0


def test_a_run_shorter_than_the_step_a_value_needs_fails_with_E0301(project: pel.Model) -> None:
    with pytest.raises(RunError) as exc:
        project.run(steps=6)
    diag = exc.value.diagnostics[0]
    assert diag.code == "E0301"
    assert "`total`" in diag.message and "t=6" in diag.message


def test_monte_carlo_each_path_computes_it_once() -> None:
    source = PROJECT.replace("param cost: Currency<USD> = $1000", "param cost: Currency<USD> ~ Normal(μ=$1000, σ=$100)")
    res = pel.compile_string(source).run("monte_carlo", runs=400, seed=7)
    data = res.to_dict()
    cost = res["cash_flow"]  # cash_flow[1] = cost on every path
    # total = 12 * cost - 10000 on every path: its statistics are those of cost, transformed
    for stat in ("mean", "p5", "p50", "p95"):
        assert data["total"][stat] == pytest.approx(12 * getattr(cost, stat)[1] - 10_000, rel=1e-9), stat
    assert data["total"]["std"] == pytest.approx(12 * cost.std[1], rel=1e-9)
    assert data["total"]["n"] == 400 and "t" not in data["total"]
    # irr and npv are monotone in cost: their medians are those of the median path
    median_cost = cost.p50[1]
    flows = [-10_000.0] + [median_cost] * 12
    assert data["value"]["p50"] == pytest.approx(sum(c / 1.01 ** i for i, c in enumerate(flows)), rel=1e-9)
    assert data["project_irr"]["p50"] == pytest.approx(irr_by_hand(flows), rel=1e-6)
    # checked once per path, at the last step
    npv_constraint = next(w for w in data["warnings"] if w["constraint"] == "positive_npv")
    assert npv_constraint["first_violation_t"] == {"min": 12, "max": 12, "mean": 12.0}
    assert 0 < npv_constraint["count"] < 400


def test_a_whole_run_value_with_an_inline_draw_draws_once() -> None:
    source = """model Draw {
  var x: TimeSeries<Fraction>
  x[t] = 1
  var total = sum(x[k] for k in 0..4) * ~Normal(μ=1, σ=0.1)
  simulate for 4mo
}"""
    res = pel.compile_string(source).run("monte_carlo", runs=2000, seed=1)
    data = res.to_dict()["total"]
    assert data["mean"] == pytest.approx(5.0, abs=0.05) and data["std"] == pytest.approx(0.5, rel=0.1)
    assert pel.compile_string(source).run().to_dict()["total"] == {"value": 5.0}


def test_generated_code_says_when_a_value_is_computed(project: pel.Model) -> None:
    text = codegen.generate(project.program)
    assert "total (once, at step 12)" in text
    assert "project_irr (once, at the last step)" in text
    assert text.count("if s == 12:") >= 2 and "if s == T:" in text


def test_fatal_stop_before_the_step_reports_null() -> None:
    source = PROJECT.replace(
        "constraint positive_npv: value > $0 { severity: warning,",
        "constraint early: cash_flow[t] < $500 { severity: fatal, message: \"stop\" }\n"
        "  constraint positive_npv: value > $0 { severity: warning,")
    res = pel.compile_string(source).run()
    data = res.to_dict()
    assert data["status"] == "constraint_violation"
    assert data["total"] == {"value": None} and math.isnan(res["total"].value[-1])


def test_a_value_of_step_zero_is_read_at_every_step() -> None:
    source = f"""model Base {{
  param g: Fraction = 0.1 {PROV}
  var revenue: TimeSeries<Fraction>
  revenue[0] = 50
  revenue[t+1] = revenue[t] * (1 + g)
  var base = revenue[0]
  var indexed: TimeSeries<Fraction>
  indexed[t] = revenue[t] / base
  var doubled = revenue[3] > 2 * base
  simulate for 6mo
}}"""
    data = pel.compile_string(source).run().to_dict()
    assert data["base"] == {"value": 50.0}
    np.testing.assert_allclose([p["value"] for p in data["indexed"]], 1.1 ** np.arange(7), rtol=1e-12)
    assert data["doubled"] == {"value": False}
