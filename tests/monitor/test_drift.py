"""`pel drift`: rolling-window estimates on synthetic data whose growth rate changes half way, the verdict for
fixed and uncertain parameters (exit 6 with --fail-on-drift), and the declared distributions' P5–P95."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from scipy import stats

import pel
from pel.cli import main
from pel.monitor.actuals import parse_actuals
from pel.monitor.calibrate import CalibrationError
from pel.monitor.drift import declared_range, drift, render_text, windows_of
from tests.monitor.fit_models import compounding, csv, growth_model

NORMAL = "~ Normal(μ=0.05/1mo, σ=0.01/1mo)"
# 24 months: 5% a month for the first 12, then 1% (a regime change half way), 0.5% noise.
CHANGED = csv({"mrr": compounding(50_000, [0.05] * 12 + [0.01] * 12)}, noise=0.005, seed=2)
STEADY = csv({"mrr": compounding(50_000, [0.05] * 24)}, noise=0.005, seed=2)


def run(tmp_path: Path, model_text: str, data: str, *args: str, capsys) -> tuple[int, dict]:
    model = tmp_path / "growth.pel"
    model.write_text(model_text, encoding="utf-8")
    (tmp_path / "mrr.csv").write_text(data, encoding="utf-8")
    code = main(["drift", str(model), "--data", str(tmp_path / "mrr.csv"), "--format", "json", *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out else {})


def test_growth_change_half_way_is_drift_for_a_fixed_rate(tmp_path: Path, capsys) -> None:
    code, rep = run(tmp_path, growth_model(), CHANGED, "--fit", "growth,initial_mrr", "--window", "8",
                    "--fail-on-drift", capsys=capsys)
    assert code == 6 and "growth" in rep["drifted"]
    g = rep["parameters"]["growth"]
    series = g["estimates"]
    assert [e["window"] for e in series][:2] == [[0, 7], [1, 8]] and series[-1]["window"] == [17, 24]
    assert len(series) == 18 == len(rep["windows"])
    assert series[0]["value"] == pytest.approx(0.05, abs=0.003)  # the first regime
    assert series[-1]["value"] == pytest.approx(0.01, abs=0.003)  # the second
    assert series[-1]["ci95"][0] < 0.01 < series[-1]["ci95"][1]
    assert g["verdict"] == "drift" and "standard errors from the declared 0.05" in g["reason"]
    assert g["latest"] == series[-1] and g["unit"] == "1/Month"
    # without --fail-on-drift the verdict is reported and the exit is 0
    code, rep = run(tmp_path, growth_model(), CHANGED, "--fit", "growth,initial_mrr", "--window", "8",
                    capsys=capsys)
    assert code == 0 and "growth" in rep["drifted"]


def test_steady_data_do_not_drift(tmp_path: Path, capsys) -> None:
    code, rep = run(tmp_path, growth_model(), STEADY, "--fit", "growth,initial_mrr", "--window", "8",
                    "--stride", "4", "--fail-on-drift", capsys=capsys)
    assert code == 0 and rep["drifted"] == []
    assert rep["windows"] == [[0, 7], [4, 11], [8, 15], [12, 19], [16, 23], [17, 24]]
    assert rep["parameters"]["growth"]["verdict"] == "ok"


def test_uncertain_parameter_drifts_outside_its_p5_p95(tmp_path: Path, capsys) -> None:
    code, rep = run(tmp_path, growth_model(NORMAL), CHANGED, "--fit", "growth,initial_mrr", "--window", "8",
                    "--stride", "3", "--fail-on-drift", capsys=capsys)
    g = rep["parameters"]["growth"]
    z = stats.norm.ppf(0.95)
    assert g["p5"] == pytest.approx(0.05 - z * 0.01, rel=1e-12) and g["p95"] == pytest.approx(0.05 + z * 0.01)
    assert g["distribution"] == "Normal(μ=0.05 / 1mo, σ=0.01 / 1mo)" and g["declared"] == pytest.approx(0.05)
    assert code == 6 and g["verdict"] == "drift" and "below P5" in g["reason"]
    code, rep = run(tmp_path, growth_model(NORMAL), STEADY, "--fit", "growth,initial_mrr", "--window", "8",
                    "--stride", "3", "--fail-on-drift", capsys=capsys)
    assert code == 0 and rep["parameters"]["growth"]["verdict"] == "ok"


def test_library_and_text(tmp_path: Path) -> None:
    model = pel.Model(pel.compile_string(growth_model()).program)
    actuals = parse_actuals(CHANGED, "mrr.csv", model.program.model)
    report = drift(model, actuals, ["growth", "initial_mrr"], window=12, stride=6)
    assert report.windows == [(0, 11), (6, 17), (12, 23), (13, 24)] and report.latest_ok
    json.dumps(report.to_dict(), allow_nan=False)
    text = render_text(report)
    assert "pel drift: Growth against mrr.csv" in text and "DRIFT:" in text and "drift: growth" in text


def test_windows() -> None:
    assert windows_of(0, 9, 4, 1) == [(s, s + 3) for s in range(7)]
    assert windows_of(0, 9, 4, 4) == [(0, 3), (4, 7), (6, 9)]  # the last ends at the latest observation
    assert windows_of(2, 5, 4, 1) == [(2, 5)]


def test_window_longer_than_the_data_is_refused(tmp_path: Path, capsys) -> None:
    code, rep = run(tmp_path, growth_model(), CHANGED, "--fit", "growth", "--window", "30", capsys=capsys)
    err = capsys.readouterr().err
    assert code == 1 and rep == {}
    model = pel.Model(pel.compile_string(growth_model()).program)
    with pytest.raises(CalibrationError) as info:
        drift(model, parse_actuals(CHANGED, "m.csv", model.program.model), ["growth"], window=30)
    d = info.value.diagnostics[0]
    assert d.code == "E0913" and "longer than the data" in d.message and err == ""


def test_latest_window_that_does_not_converge_exits_7(tmp_path: Path, capsys) -> None:
    code, rep = run(tmp_path, growth_model(), CHANGED, "--fit", "growth,initial_mrr", "--window", "8",
                    "--stride", "8", "--max-evals", "1", capsys=capsys)
    assert code == 7 and rep["latest_ok"] is False
    assert rep["parameters"]["growth"]["verdict"] == "unknown"


# ---------------------------------------------------------------------------------------------
# P5–P95 of the declared distributions
# ---------------------------------------------------------------------------------------------


def declared(decl: str, type_: str = "Fraction") -> tuple[float, float] | None:
    text = f"""model D {{
  param x: {type_} {decl} {{ source: "t", method: "observed", confidence: 1 }}
  var y: TimeSeries<{type_}>
  y[t] = x
}}"""
    program = pel.compile_string(text).program
    return declared_range(program.model.params[0], program.model)


@pytest.mark.parametrize(("decl", "type_", "p5", "p95"), [
    ("~ Normal(μ=10, σ=2)", "Fraction", 10 - 2 * stats.norm.ppf(0.95), 10 + 2 * stats.norm.ppf(0.95)),
    ("~ LogNormal(μ=1, σ=0.5)", "Fraction", math.exp(1 - 0.5 * stats.norm.ppf(0.95)),
     math.exp(1 + 0.5 * stats.norm.ppf(0.95))),
    ("~ Beta(α=2, β=8)", "Fraction", stats.beta.ppf(0.05, 2, 8), stats.beta.ppf(0.95, 2, 8)),
    ("~ Uniform(low=1, high=3)", "Fraction", 1.1, 2.9),
    ("~ Triangular(low=0, mode=1, high=4)", "Fraction", math.sqrt(0.05 * 4 * 1), 4 - math.sqrt(0.05 * 4 * 3)),
    ("~ Pareto(xm=2, α=3)", "Fraction", 2 * 0.95 ** (-1 / 3), 2 * 0.05 ** (-1 / 3)),
    ("~ Normal(μ=0.12/1y, σ=0.012/1y)", "Rate per Year", 0.12 - 0.012 * stats.norm.ppf(0.95),
     0.12 + 0.012 * stats.norm.ppf(0.95)),  # per year, though the model steps in months
])
def test_declared_quantiles(decl: str, type_: str, p5: float, p95: float) -> None:
    assert declared(decl, type_) == (pytest.approx(p5, rel=1e-9), pytest.approx(p95, rel=1e-9))


def test_declared_quantiles_of_money_lognormal_and_mixture() -> None:
    lo, hi = declared("~ LogNormal(μ=$100, σ=$20)", "Currency<USD>")  # natural-scale mean and sd
    s = math.sqrt(math.log1p(0.04))
    m = math.log(100) - s * s / 2
    assert (lo, hi) == (pytest.approx(math.exp(m - s * stats.norm.ppf(0.95))),
                        pytest.approx(math.exp(m + s * stats.norm.ppf(0.95))))
    lo, hi = declared("~ Mixture([Normal(μ=0, σ=1), Normal(μ=10, σ=1)], [0.5, 0.5])")

    def cdf(x: float) -> float:
        return 0.5 * stats.norm.cdf(x) + 0.5 * stats.norm.cdf(x - 10)

    assert cdf(lo) == pytest.approx(0.05, abs=1e-9) and cdf(hi) == pytest.approx(0.95, abs=1e-9)
    assert declared("= 0.5") is None
