"""`pel backtest`: figures against hand-computed values, Monte Carlo coverage and CRPS, the MAPE gate (exit 6),
the JSON shape, IR input and the metric functions on their own."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

import pel
from pel.cli import main
from pel.monitor.backtest import QUANTILE_LEVELS, crps_from_quantiles, score
from tests.conftest import EXAMPLES
from tests.monitor.models import TINY, write

MC = ["--mode", "monte_carlo", "--runs", "200", "--seed", "7"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("backtest"), "tiny.pel", TINY)


def backtest(model_file: Path, csv: str, *args: str, capsys: pytest.CaptureFixture) -> tuple[int, dict]:
    """Run `pel backtest --format json` on `csv` (written beside the model); the exit code and the report."""
    path = write(model_file.parent, "actuals.csv", csv)
    code = main(["backtest", str(model_file), "--actuals", str(path), "--format", "json", "--quiet", *args])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out else {})


# ---------------------------------------------------------------------------------------------
# Deterministic figures (revenue is 100, 110, 120, … ; users 100; zero 0)
# ---------------------------------------------------------------------------------------------


def test_actuals_equal_to_predictions_score_zero(model_file: Path, capsys) -> None:
    code, rep = backtest(model_file, "t,revenue,users\n0,100,100\n3,130,100\n6,$160,100 customers\n", capsys=capsys)
    assert code == 0
    for name in ("revenue", "users"):
        v = rep["variables"][name]
        assert (v["n"], v["mape"], v["rmse"], v["mae"], v["bias"]) == (3, 0.0, 0.0, 0.0, 0.0)


def test_known_offset_gives_known_bias_and_rmse(model_file: Path, capsys) -> None:
    code, rep = backtest(model_file, "t,revenue\n0,90\n1,100\n2,110\n3,120\n", capsys=capsys)
    v = rep["variables"]["revenue"]
    assert code == 0 and v["n"] == 4
    assert v["bias"] == pytest.approx(10.0) and v["rmse"] == pytest.approx(10.0) and v["mae"] == pytest.approx(10.0)
    assert v["mape"] == pytest.approx(np.mean([10 / 90, 10 / 100, 10 / 110, 10 / 120]), rel=1e-12)
    assert [p["error"] for p in v["points"]] == [10.0, 10.0, 10.0, 10.0]
    assert rep["overall"]["rmse"] == pytest.approx(10.0) and rep["overall"]["unit"] == "USD"


def test_output_expressions_are_scored(model_file: Path, capsys) -> None:
    _, rep = backtest(model_file, "t,doubled\n1,200\n", capsys=capsys)  # doubled = revenue * 2 = 220 at t = 1
    assert rep["variables"]["doubled"]["bias"] == 20.0 and rep["variables"]["doubled"]["unit"] == ""


def test_mixed_errors(model_file: Path, capsys) -> None:
    _, rep = backtest(model_file, "t,variable,value\n0,revenue,110\n1,revenue,90\n", capsys=capsys)
    v = rep["variables"]["revenue"]
    assert v["bias"] == pytest.approx(5.0)  # (-10 + 20) / 2: predicted - actual
    assert v["rmse"] == pytest.approx(math.sqrt((100 + 400) / 2))
    assert v["mae"] == pytest.approx(15.0)
    assert v["mape"] == pytest.approx((10 / 110 + 20 / 90) / 2)


def test_zero_actuals_are_left_out_of_mape_and_said(model_file: Path, capsys) -> None:
    _, rep = backtest(model_file, "t,revenue,zero\n0,100,0\n1,0,0\n2,120,\n", capsys=capsys)
    rev, zero = rep["variables"]["revenue"], rep["variables"]["zero"]
    assert (rev["n"], rev["mape_points"], rev["zero_actuals"], rev["mape"]) == (3, 2, 1, 0.0)
    assert rev["rmse"] == pytest.approx(math.sqrt(110**2 / 3))  # the zero actual still counts for RMSE
    assert (zero["n"], zero["mape"], zero["mape_points"], zero["rmse"]) == (2, None, 0, 0.0)
    assert any("revenue: MAPE leaves out 1 point(s) whose actual is 0 (t = 1)" in n for n in rep["notes"])
    assert any("zero: has no MAPE: every actual is 0" in n for n in rep["notes"])


def test_overall_pools_units_only_when_they_agree(model_file: Path, capsys) -> None:
    _, rep = backtest(model_file, "t,revenue,users\n0,90,110\n", capsys=capsys)
    overall = rep["overall"]
    assert overall["n"] == 2 and overall["unit"] is None and overall["rmse"] is None and overall["bias"] is None
    assert overall["mape"] == pytest.approx((10 / 90 + 10 / 110) / 2)
    assert any("different units" in n for n in rep["notes"])


def test_set_steps_and_dates(model_file: Path, capsys) -> None:
    csv = "date,revenue\n2026-01,100\n2026-11-30,300\n"
    code, rep = backtest(model_file, csv, "--set", "step=$20", "--steps", "10", "--start", "2026-01", capsys=capsys)
    v = rep["variables"]["revenue"]
    assert code == 0 and rep["steps"] == 10 and [p["t"] for p in v["points"]] == [0, 10] and v["rmse"] == 0.0


def test_a_run_stopped_early_leaves_points_uncompared(tmp_path: Path, capsys) -> None:
    stopped = TINY.replace("  simulate for", '  constraint cap: revenue[t] < $135 { severity: fatal, message: "cap" }\n'
                                             "  simulate for")
    path = write(tmp_path, "stopped.pel", stopped)
    code, rep = backtest(path, "t,revenue\n0,100\n5,150\n", capsys=capsys)
    v = rep["variables"]["revenue"]
    assert code == 3 and rep["status"] == "constraint_violation"  # the run's own exit code
    assert v["n"] == 1 and v["points"][1]["predicted"] is None
    assert any("1 point(s) not compared" in n for n in rep["notes"])


# ---------------------------------------------------------------------------------------------
# Monte Carlo: coverage and CRPS
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def medians(model_file: Path) -> list[float]:
    res = pel.compile(model_file).run("monte_carlo", runs=200, seed=7)
    return [float(x) for x in res["noisy"].p50]


def test_actuals_at_the_median_are_covered(model_file: Path, medians: list[float], capsys) -> None:
    csv = "t,noisy,revenue\n" + "".join(f"{t},{m!r},{100 + 10 * t}\n" for t, m in enumerate(medians))
    code, rep = backtest(model_file, csv, *MC, capsys=capsys)
    noisy, rev = rep["variables"]["noisy"], rep["variables"]["revenue"]
    assert code == 0 and rep["mode"] == "monte_carlo" and rep["runs"] == 200
    assert noisy["n"] == 7 and noisy["coverage_p5_p95"] == 1.0 and noisy["coverage_p25_p75"] == 1.0
    assert 0 < noisy["crps"] < 10  # σ = $10: a forecast centred on the actual scores about 0.23 σ
    assert rev["coverage_p5_p95"] == 1.0 and rev["crps"] == 0.0  # no spread: CRPS is the absolute error
    point = noisy["points"][0]
    assert point["p50"] == medians[0] and point["predicted"] == pytest.approx(medians[0], abs=3.0)


def test_actuals_far_outside_are_not_covered(model_file: Path, medians: list[float], capsys) -> None:
    csv = "t,noisy\n" + "".join(f"{t},{m + 1e6!r}\n" for t, m in enumerate(medians))
    code, rep = backtest(model_file, csv, *MC, capsys=capsys)
    noisy = rep["variables"]["noisy"]
    assert noisy["coverage_p5_p95"] == 0.0 and noisy["coverage_p25_p75"] == 0.0
    assert noisy["crps"] == pytest.approx(1e6, rel=1e-4)  # far from the forecast, CRPS is the distance
    assert noisy["bias"] == pytest.approx(-1e6, rel=1e-4)


# ---------------------------------------------------------------------------------------------
# The MAPE gate, JSON shape, text, IR input, errors
# ---------------------------------------------------------------------------------------------


def test_max_mape_exit_6(model_file: Path, capsys) -> None:
    csv = "t,revenue,users\n0,90,100\n"  # revenue MAPE 11.1%, users 0%
    code, rep = backtest(model_file, csv, "--max-mape", "5%", capsys=capsys)
    assert code == 6 and rep["exceeded"] == ["revenue"] and rep["ok"] is False and rep["max_mape"] == 0.05
    code, rep = backtest(model_file, csv, "--max-mape", "0.2", capsys=capsys)
    assert code == 0 and rep["exceeded"] == [] and rep["ok"] is True


def test_json_shape(model_file: Path, medians: list[float], capsys) -> None:
    _, det = backtest(model_file, "t,revenue\n0,90\n", capsys=capsys)
    assert list(det) == ["model", "actuals", "mode", "seed", "steps", "status", "error", "predicted", "variables",
                         "overall", "max_mape", "exceeded", "ok", "notes"]
    assert det["error"] == "predicted - actual" and det["model"]["name"] == "Tiny"
    assert det["model"]["hash"].startswith("sha256:")
    assert list(det["variables"]["revenue"]) == ["unit", "n", "mape", "mape_points", "zero_actuals", "rmse", "mae",
                                                 "bias", "points"]
    assert det["variables"]["revenue"]["points"] == [{"t": 0, "actual": 90.0, "predicted": 100.0, "error": 10.0}]
    _, mc = backtest(model_file, "t,noisy\n0,100\n", *MC, capsys=capsys)
    assert {"runs", "crps_method"} <= set(mc)
    assert {"coverage_p5_p95", "coverage_p25_p75", "crps"} <= set(mc["variables"]["noisy"])
    assert {"p5", "p10", "p25", "p50", "p75", "p90", "p95"} <= set(mc["variables"]["noisy"]["points"][0])
    assert {"coverage_p5_p95", "crps"} <= set(mc["overall"])


def test_text_report(model_file: Path, capsys) -> None:
    path = write(model_file.parent, "text.csv", "t,revenue,zero\n0,90,0\n1,100,0\n")
    code = main(["backtest", str(model_file), "--actuals", str(path), "--max-mape", "1%", "--quiet"])
    out = capsys.readouterr().out
    assert code == 6
    assert "error = predicted - actual" in out
    assert out.splitlines()[2].split() == ["variable", "n", "MAPE", "RMSE", "MAE", "bias", "unit"]
    revenue = next(line for line in out.splitlines() if line.startswith("revenue"))
    assert revenue.split() == ["revenue", "2", "10.56%", "10.00", "10.00", "+10.00", "USD"]
    assert "note: zero: has no MAPE: every actual is 0 (t = 0, 1)" in out
    assert "max MAPE 1.00%: EXCEEDED by revenue 10.56%" in out


def test_compiled_ir_works_as_the_model(model_file: Path, tmp_path: Path, capsys) -> None:
    ir_path = tmp_path / "tiny.ir.json"
    assert main(["compile", str(model_file), "-o", str(ir_path)]) == 0
    capsys.readouterr()
    code, rep = backtest(ir_path, "t,revenue\n0,90\n", capsys=capsys)
    assert code == 0 and rep["variables"]["revenue"]["bias"] == 10.0


def test_the_example_actuals_file(capsys) -> None:
    example = EXAMPLES / "revenue_forecast_actuals.csv"
    code = main(["backtest", str(EXAMPLES / "revenue_forecast.pel"), "--actuals", str(example), "--start", "2026-10",
                 "--format", "json", "--quiet"])
    rep = json.loads(capsys.readouterr().out)
    assert code == 0 and rep["variables"]["mrr"]["n"] == 7 and rep["variables"]["arr"]["n"] == 2
    assert rep["variables"]["mrr"]["points"][0] == {"t": 0, "actual": 80000.0, "predicted": 80000.0, "error": 0.0}


def test_bad_actuals_are_a_coded_error_not_a_traceback(model_file: Path, capsys) -> None:
    path = write(model_file.parent, "actuals.csv", "t,revenue\n0,$5,000\n")
    code = main(["backtest", str(model_file), "--actuals", str(path), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "actuals.csv:2:1: error[E0902]" in err and "Traceback" not in err


def test_bad_options_are_usage_errors(model_file: Path, capsys) -> None:
    path = write(model_file.parent, "ok.csv", "t,revenue\n0,100\n")
    assert main(["backtest", str(model_file), "--actuals", str(path), "--start", "2026-13"]) == 1
    assert "error[E0011]" in capsys.readouterr().err
    assert main(["backtest", str(model_file), "--actuals", str(path), "--max-mape", "x"]) == 1
    assert "error[E0011]" in capsys.readouterr().err
    assert main(["backtest", str(model_file)]) == 1
    assert "--actuals" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The metric functions
# ---------------------------------------------------------------------------------------------


def test_score_without_points_is_undefined() -> None:
    s = score([], [])
    assert (s.n, s.mape, s.rmse, s.bias, s.crps) == (0, None, None, None, None)


def test_crps_of_a_point_forecast_is_the_absolute_error() -> None:
    q = np.full((3, 7), 5.0)
    assert crps_from_quantiles(q, np.array([5.0, 2.0, 9.0])).tolist() == [0.0, 3.0, 4.0]


def test_crps_estimate_of_a_normal_forecast_is_within_3_percent() -> None:
    nd = NormalDist()
    ys = np.linspace(-4, 4, 33)
    q = np.array([[nd.inv_cdf(level) for level in QUANTILE_LEVELS]] * len(ys))
    exact = np.array([y * (2 * nd.cdf(y) - 1) + 2 * nd.pdf(y) - 1 / math.sqrt(math.pi) for y in ys])
    assert np.max(np.abs(crps_from_quantiles(q, ys) / exact - 1)) < 0.03
    # with many quantiles the same formula converges on the exact CRPS
    levels = np.linspace(0.0005, 0.9995, 1000)
    fine = np.array([[nd.inv_cdf(level) for level in levels]] * len(ys))
    assert np.max(np.abs(crps_from_quantiles(fine, ys, levels) / exact - 1)) < 1e-3
