"""`pel solve`: goal seek on models with closed-form answers (a linear deterministic output, a normal percentile, a
success rate), the budget of 25 simulations, an unreachable target, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pel
from pel.analysis.solve import MAX_SIMULATIONS, SolveError, parse_target, solve
from pel.cli import main

PROV = '{ source: "test", method: "assumption", confidence: 0.5 }'
MODEL = f"""model Buffer {{
  param base: Currency<USD> = $20 {PROV}
  param noise: Currency<USD> ~ Normal(μ = $0, σ = $10) {PROV}
  param rate: Fraction = 0.5 {PROV}
  var cash: TimeSeries<Currency<USD>>
  cash[t] = base + noise - $0 * t
  var lin: TimeSeries<Currency<USD>>
  lin[t] = $100 * rate + base * 2
  constraint solvent: cash[t] >= $0 {{ severity: fatal, message: "cash below zero" }}
  output cash, lin
  simulate for 3mo
}}
"""
Z90, Z95 = 1.2815515655446004, 1.6448536269514722


@pytest.fixture(scope="module")
def program():
    return pel.compile_string(MODEL).program


def test_a_linear_deterministic_output(program) -> None:
    sol = solve(program, "rate", parse_target("value(lin@3) = 90"), between=(0.0, 1.0))
    assert sol.status == "solved" and sol.mode == "deterministic"
    assert sol.value == pytest.approx(0.5, abs=1e-9) and sol.achieved == pytest.approx(90, abs=1e-6)
    assert len(sol.simulations) <= MAX_SIMULATIONS and sol.se == 0


def test_a_percentile_of_a_normal() -> None:
    free = pel.compile_string(MODEL.replace("severity: fatal", "severity: warning")).program  # no path stops
    sol = solve(free, "base", parse_target("p10(cash@3) >= 0"), between=(0.0, 50.0), runs=4000, seed=3)
    assert sol.status == "solved" and sol.mode == "monte_carlo"
    # the p10 of base + N(0, 10) is base - 12.82: zero at base = 12.82 (up to the sample quantile's error)
    assert abs(sol.value - 10 * Z90) < 4 * sol.se + 0.05
    assert sol.achieved == pytest.approx(0.0, abs=1e-6) and 0 < sol.se < 1
    assert sol.holds.startswith("base >= ")  # p10 rises with base
    assert len(sol.simulations) <= MAX_SIMULATIONS


def test_a_success_rate_under_a_fatal_constraint(program) -> None:
    sol = solve(program, "base", parse_target("success_rate(cash) >= 0.95"), between=(0.0, 60.0), runs=4000, seed=9)
    assert sol.status == "solved"
    assert abs(sol.value - 10 * Z95) < 1.0  # P(base + N(0,10) >= 0) = 0.95 at base = 16.45
    assert sol.achieved == pytest.approx(0.95, abs=1 / 4000 + 1e-12)


def test_unreachable_and_refusals(program, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sol = solve(program, "rate", parse_target("value(lin) = 1000000"), between=(0.0, 1.0))
    assert sol.status == "unreachable" and "not reached" in sol.message and len(sol.simulations) == 2
    for text in ["p10(cash) ~ 0", "median(cash) >= 0", "p10(cash) >= zero"]:
        with pytest.raises(SolveError):
            parse_target(text)
    path = tmp_path / "buffer.pel"
    path.write_text(MODEL)
    assert main(["solve", str(path), "--vary", "rate", "--target", "value(lin) = 1000000", "--between", "0,1"]) == 8
    assert "UNREACHABLE" in capsys.readouterr().out
    code = main(["solve", str(path), "--vary", "base", "--target", "mean(lin@3) = 120", "--runs", "2000",
                 "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "solved" and out["value"] == pytest.approx(35.0, abs=1e-6)
    assert out["simulations_used"] <= MAX_SIMULATIONS and out["between"] == [0.0, 40.0]  # [0, 2x] by default
    for args, code in [(["--vary", "nope", "--target", "mean(cash) = 1"], "E0600"),
                       (["--vary", "base", "--target", "mean(cash@99) = 1"], "E0011"),
                       (["--vary", "base", "--target", "p10(cash) = 1", "--mode", "deterministic"], "E0011")]:
        assert main(["solve", str(path), *args]) == 1
        err = capsys.readouterr().err
        assert f"error[{code}]" in err and "Traceback" not in err
