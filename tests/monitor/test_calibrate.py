"""`pel calibrate`: parameters recovered from data the model generated (exactly, and with noise against the
closed-form least-squares errors), declared units, bounds, the objectives, convergence and the coded refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.cli import main
from pel.monitor.actuals import parse_actuals
from pel.monitor.calibrate import Calibration, CalibrationError, calibrate, default_bounds, render_text
from tests.monitor.fit_models import compounding, csv, growth_model
from tests.monitor.models import TINY, write


@pytest.fixture(scope="module")
def tiny() -> pel.Model:
    return pel.Model(pel.compile_string(TINY).program)


@pytest.fixture(scope="module")
def growth() -> pel.Model:
    return pel.Model(pel.compile_string(growth_model()).program)


def actuals(model: pel.Model, text: str):
    return parse_actuals(text, "data.csv", model.program.model)


def fit(model: pel.Model, text: str, names: list[str], **kw) -> Calibration:
    return calibrate(model, actuals(model, text), names, **kw)


def cli(folder: Path, model_text: str, data: str, *args: str, capsys: pytest.CaptureFixture) -> tuple[int, dict, str]:
    """`pel calibrate --format json` on a model and data written to `folder`: exit code, report, stderr."""
    model = write(folder, "model.pel", model_text)
    path = write(folder, "data.csv", data)
    code = main(["calibrate", str(model), "--data", str(path), "--format", "json", *args])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out else {}), captured.err


# ---------------------------------------------------------------------------------------------
# Recovering known parameters
# ---------------------------------------------------------------------------------------------


def test_recovers_parameters_from_data_the_model_generated(tiny: pel.Model) -> None:
    truth = tiny.run(params={"start": 90, "step": 12.5})["revenue"].value
    cal = fit(tiny, csv({"revenue": list(truth)}), ["start", "step"])
    assert cal.ok and cal.converged and cal.identified and cal.optimizer_status > 0
    values = cal.values()
    assert values["start"] == pytest.approx(90, rel=1e-9) and values["step"] == pytest.approx(12.5, rel=1e-9)
    assert cal.variables[0].rmse == pytest.approx(0, abs=1e-6)
    assert cal.variables[0].rmse_initial == pytest.approx(np.sqrt(np.mean((10 - 2.5 * np.arange(7)) ** 2)))
    for e in cal.estimates:
        assert e.std_error == pytest.approx(0, abs=1e-6) and e.ci95[0] <= e.value <= e.ci95[1]
    assert [e.initial for e in cal.estimates] == [100.0, 10.0]  # the declared values


def test_noisy_fit_matches_ordinary_least_squares(tiny: pel.Model) -> None:
    """revenue = start + step·t is linear: estimates, standard errors and t-intervals equal the OLS formulas."""
    from scipy.stats import t as student

    rng = np.random.default_rng(3)
    steps = np.arange(7)
    y = 90 + 12.5 * steps + rng.normal(0, 3, 7)
    cal = fit(tiny, csv({"revenue": list(y)}), ["start", "step"])
    X = np.column_stack([np.ones(7), steps])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    s2 = resid @ resid / (7 - 2)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)))
    start, step = cal.estimates
    assert (start.value, step.value) == (pytest.approx(beta[0], rel=1e-7), pytest.approx(beta[1], rel=1e-7))
    assert (start.std_error, step.std_error) == (pytest.approx(se[0], rel=1e-5), pytest.approx(se[1], rel=1e-5))
    q = student.ppf(0.975, 5)
    assert step.ci95 == (pytest.approx(beta[1] - q * se[1], rel=1e-5), pytest.approx(beta[1] + q * se[1], rel=1e-5))
    assert cal.dof == 5 and cal.n == 7
    assert cal.variables[0].rmse == pytest.approx(np.sqrt(np.mean(resid**2)), rel=1e-6)
    assert cal.rmse == cal.variables[0].rmse and cal.rmse_unit == "USD"
    assert cal.correlation[0][1] == pytest.approx(-0.8320502943, rel=1e-6)  # of the OLS design


def test_compounding_growth_with_noise_lands_within_its_interval(growth: pel.Model) -> None:
    data = csv({"mrr": compounding(48_000, [0.03] * 24)}, noise=0.01, seed=5)
    cal = fit(growth, data, ["growth", "initial_mrr"])
    g, m0 = cal.estimates
    assert cal.ok
    assert g.ci95[0] < 0.03 < g.ci95[1] and abs(g.value - 0.03) < 0.002
    assert m0.ci95[0] < 48_000 < m0.ci95[1]
    assert (g.unit, g.type, m0.unit) == ("1/Month", "Rate per Month", "USD")


def test_values_are_in_the_declared_unit(growth: pel.Model) -> None:
    """A Rate per Year is fitted and shown per year, though the model and the data step in months."""
    model = pel.Model(pel.compile_string(growth_model("= 0.6 / 1y").replace(
        "Rate per Month = 0.6", "Rate per Year = 0.6")).program)
    data = csv({"mrr": compounding(50_000, [0.03] * 24)})
    cal = fit(model, data, ["growth"])
    e = cal.estimates[0]
    assert e.value == pytest.approx(0.36, rel=1e-8) and e.unit == "1/Year" and e.declared == pytest.approx(0.6)
    run = model.run(params=cal.values())  # what Model.run takes: the declared unit
    assert run["mrr"].value[24] == pytest.approx(50_000 * 1.03**24, rel=1e-9)


def test_two_variables_of_different_scales_are_fitted_together(tiny: pel.Model) -> None:
    run = tiny.run(params={"step": 7, "base_users": 80})
    data = csv({"revenue": list(run["revenue"].value), "users": list(run["users"].value)})
    cal = fit(tiny, data, ["step", "base_users"])
    assert cal.values() == {"step": pytest.approx(7, rel=1e-9), "base_users": pytest.approx(80, rel=1e-9)}
    assert {v.name: v.unit for v in cal.variables} == {"revenue": "USD", "users": "Customer"}
    assert cal.rmse is None and cal.rmse_unit is None  # no pooled RMSE across units
    scales = {v.name: v.scale for v in cal.variables}
    assert scales["users"] == pytest.approx(160)  # the RMS of its actuals


def test_variables_option_restricts_the_fit(tiny: pel.Model) -> None:
    data = "t,revenue,users\n0,100,100\n1,112,100\n2,124,100\n"
    cal = fit(tiny, data, ["step"], variables=["revenue"])
    assert [v.name for v in cal.variables] == ["revenue"] and cal.n == 3
    assert cal.values()["step"] == pytest.approx(12, rel=1e-9)


def test_relative_and_absolute_objectives(tiny: pel.Model) -> None:
    data = "t,revenue\n0,100\n1,120\n2,130\n"
    rel = fit(tiny, data, ["step"], objective="relative")
    absolute = fit(tiny, data, ["step"], objective="absolute")
    # closed forms with y' = actual - 100 (start is fixed): absolute Σ t·y' / Σ t²; relative the same weighted by 1/actual²
    y, t = np.array([20.0, 30.0]), np.array([1.0, 2.0])
    assert absolute.values()["step"] == pytest.approx((t @ y) / (t @ t), rel=1e-8)
    w = 1 / np.array([120.0, 130.0]) ** 2
    assert rel.values()["step"] == pytest.approx((w * t) @ y / ((w * t) @ t), rel=1e-8)
    with pytest.raises(CalibrationError) as info:
        fit(tiny, "t,revenue\n0,0\n1,120\n", ["step"], objective="relative")
    assert info.value.diagnostics[0].code == "E0911" and info.value.diagnostics[0].span.line == 2


def test_set_on_a_fitted_parameter_is_its_start_and_on_others_fixes_them(tiny: pel.Model) -> None:
    data = "t,revenue\n0,50\n1,62\n2,74\n"
    cal = fit(tiny, data, ["step"], params={"step": "$11", "start": "$50"})
    e = cal.estimates[0]
    assert e.initial == 11 and e.declared == 10 and e.value == pytest.approx(12, rel=1e-9)


def test_monte_carlo_fits_the_mean_of_the_paths(tiny: pel.Model) -> None:
    data = "t,noisy\n0,103\n1,113\n2,123\n3,133\n"
    cal = fit(tiny, data, ["start"], mode="monte_carlo", runs=50, seed=3)
    mean_noise = tiny.run("monte_carlo", runs=50, seed=3)["noisy"].value[0] - 100
    assert cal.settings.mode == "monte_carlo" and cal.settings.runs == 50
    assert cal.values()["start"] == pytest.approx(103 - mean_noise, rel=1e-7)


def test_a_distribution_parameter_is_fitted_at_its_central_value_start(tiny: pel.Model) -> None:
    cal = fit(tiny, "t,noisy\n0,105\n1,115\n2,125\n", ["noise"])
    e = cal.estimates[0]
    assert e.declared == 0 and e.distribution == "Normal(μ=$0, σ=$10)" and e.value == pytest.approx(5, rel=1e-8)


# ---------------------------------------------------------------------------------------------
# Bounds, identification, convergence
# ---------------------------------------------------------------------------------------------


def test_bounds_from_the_type_and_from_the_command_line(tiny: pel.Model) -> None:
    params = {p.name: p for p in tiny.parameters}
    assert default_bounds(params["churn"]) == (0.0, np.inf)
    assert default_bounds(params["growth"]) == (0.0, np.inf)
    assert default_bounds(params["step"]) == (-np.inf, np.inf)
    data = "t,churn_rate\n0,-0.02\n1,-0.02\n"
    at_bound = fit(tiny, data, ["churn"])
    e = at_bound.estimates[0]
    assert e.value == pytest.approx(0, abs=1e-9) and e.at_bound == "lower" and e.lower == 0
    assert any("stopped at its lower bound 0" in n for n in at_bound.notes)
    free = fit(tiny, data, ["churn"], bounds={"churn": (-1, None)})
    assert free.values()["churn"] == pytest.approx(-0.02, rel=1e-8) and free.estimates[0].at_bound is None


def test_a_parameter_the_data_do_not_depend_on_is_not_identified(tiny: pel.Model, tmp_path: Path, capsys) -> None:
    cal = fit(tiny, "t,revenue\n0,100\n1,111\n2,122\n", ["step", "churn"])
    assert cal.converged and not cal.identified and not cal.ok
    assert all(e.std_error is None for e in cal.estimates)
    assert any("churn does not change the fitted values" in n for n in cal.notes)
    code, rep, _ = cli(tmp_path, TINY, "t,revenue\n0,100\n1,111\n2,122\n", "--fit", "step,churn", capsys=capsys)
    assert code == 7 and rep["identified"] is False and rep["ok"] is False


def test_a_fit_that_does_not_converge_says_so_and_exits_7(tmp_path: Path, capsys) -> None:
    data = csv({"mrr": compounding(48_000, [0.03] * 24)})
    code, rep, _ = cli(tmp_path, growth_model(), data, "--fit", "growth,initial_mrr", "--max-evals", "1",
                       capsys=capsys)
    assert code == 7 and rep["converged"] is False and rep["optimizer"]["status"] == 0
    assert "maximum number of function evaluations" in rep["optimizer"]["message"]
    assert rep["parameters"]["growth"]["std_error"] is None
    main(["calibrate", str(tmp_path / "model.pel"), "--data", str(tmp_path / "data.csv"), "--fit", "growth",
          "--max-evals", "1"])
    assert "NOT CONVERGED" in capsys.readouterr().out


def test_exact_fit_has_no_standard_errors(tiny: pel.Model) -> None:
    cal = fit(tiny, "t,revenue\n0,100\n1,112\n", ["start", "step"])
    assert cal.ok and cal.dof == 0 and cal.residual_std is None
    assert all(e.std_error is None and e.ci95 is None for e in cal.estimates)


# ---------------------------------------------------------------------------------------------
# The command, its output and its refusals
# ---------------------------------------------------------------------------------------------


def test_cli_json_and_text(tmp_path: Path, capsys) -> None:
    data = "t,revenue\n0,100\n1,112\n2,124\n3,136\n"
    code, rep, err = cli(tmp_path, TINY, data, "--fit", "step", capsys=capsys)
    assert code == 0 and err == ""
    p = rep["parameters"]["step"]
    assert p["value"] == pytest.approx(12) and p["unit"] == "USD" and p["type"] == "Currency<USD>"
    assert rep["objective"]["name"] == "scaled" and rep["mode"] == "deterministic" and rep["ok"] is True
    import hashlib

    assert rep["data"]["sha256"] == hashlib.sha256(data.encode()).hexdigest()
    assert main(["calibrate", str(tmp_path / "model.pel"), "--data", str(tmp_path / "data.csv"), "--fit", "step"]) == 0
    out = capsys.readouterr().out
    assert "pel calibrate: Tiny against" in out and "95% interval" in out and "converged after" in out


def test_ir_input_fits(tmp_path: Path, capsys) -> None:
    ir_path = tmp_path / "tiny.ir.json"
    pel.Model(pel.compile_string(TINY).program).save(ir_path)
    write(tmp_path, "data.csv", "t,revenue\n0,100\n1,112\n2,124\n")
    code = main(["calibrate", str(ir_path), "--data", str(tmp_path / "data.csv"), "--fit", "step", "--format", "json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["parameters"]["step"]["value"] == pytest.approx(12)


@pytest.mark.parametrize(("args", "code", "text"), [
    (["--fit", "nope"], "E0909", "has no parameter 'nope'"),
    (["--fit", "step,step"], "E0909", "twice"),
    (["--fit", "step", "--bound", "step"], "E0911", "NAME=LO:HI"),
    (["--fit", "step", "--bound", "step=5:1"], "E0911", "not below"),
    (["--fit", "step", "--bound", "start=0:1"], "E0911", "'start' is not fitted"),
    (["--fit", "step", "--variables", "users"], "E0911", "no observations of 'users'"),
    (["--fit", "start,step,churn,growth"], "E0911", "cannot fit 4 parameter(s)"),
])
def test_refusals_are_coded(tmp_path: Path, capsys, args: list[str], code: str, text: str) -> None:
    rc, rep, err = cli(tmp_path, TINY, "t,revenue\n0,100\n1,112\n2,124\n", *args, capsys=capsys)
    assert rc == 1 and rep == {} and f"error[{code}]" in err and text in err and "Traceback" not in err


def test_a_parameter_that_is_not_a_number_is_refused(tmp_path: Path, capsys) -> None:
    model = TINY.replace("  var label", '  param flag: Boolean = true { source: "t", method: "observed", '
                                        "confidence: 1 }\n  var label")
    rc, _, err = cli(tmp_path, model, "t,revenue\n0,100\n", "--fit", "flag", capsys=capsys)
    assert rc == 1 and "error[E0909]" in err and "only a parameter holding one number" in err


def test_missing_data_file_is_the_readers_error(tmp_path: Path, capsys) -> None:
    model = write(tmp_path, "model.pel", TINY)
    rc = main(["calibrate", str(model), "--data", str(tmp_path / "none.csv"), "--fit", "step"])
    assert rc == 1 and "error[E0900]" in capsys.readouterr().err


def test_report_is_json_safe_and_text_renders(tiny: pel.Model) -> None:
    cal = fit(tiny, "t,revenue\n0,100\n1,111\n2,122\n", ["step", "churn"])
    json.dumps(cal.to_dict(), allow_nan=False)
    assert "NOT IDENTIFIED" in render_text(cal)


def test_help_lists_the_commands(capsys) -> None:
    for argv in (["--help"], ["calibrate", "--help"], ["drift", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
    out = capsys.readouterr().out
    assert "calibrate" in out and "drift" in out and "95% intervals" in out


def test_a_start_where_the_run_stops_before_the_data_is_refused(tmp_path: Path, capsys) -> None:
    model = TINY.replace("  simulate for 6mo", "  constraint cap {\n    revenue[t] < $125\n      with severity(fatal)\n"
                                               "      with message(\"over\")\n  }\n  simulate for 6mo")
    rc, _, err = cli(tmp_path, model, "t,revenue\n0,100\n1,105\n2,110\n3,115\n4,120\n", "--fit", "step",
                     capsys=capsys)
    assert rc == 1 and "error[E0911]" in err and "has no value of revenue at t=4" in err and "data.csv:6:" in err
    # started where the run goes through, the fit converges (the data stay below the cap)
    rc, rep, _ = cli(tmp_path, model, "t,revenue\n0,100\n1,105\n2,110\n3,115\n4,120\n", "--fit", "step",
                     "--set", "step=$1", capsys=capsys)
    assert rc == 3 and rep["ok"] is True and rep["parameters"]["step"]["value"] == pytest.approx(5, rel=1e-8)
    assert rep["run_status"] == "constraint_violation"  # the run goes on past the data and stops at t = 5
