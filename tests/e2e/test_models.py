"""End to end from PEL source: results compared with values computed by hand in the test."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pel

PROV = '{ source: "test", method: "observed", confidence: 0.9 }'

GROWTH = f"""
model Growth {{
  param initial_mrr: Currency<USD> = $50_000 {PROV}
  param growth_rate: Rate per Month = 0.15 / 1mo {PROV}
  var mrr: TimeSeries<Currency<USD>>
  mrr[0] = initial_mrr
  mrr[t+1] = mrr[t] * (1 + growth_rate)
}}
"""

CASH = f"""
model Cash {{
  param opening: Currency<USD> = $100_000 {PROV}
  param burn: Currency<USD> = $15_000 {PROV}
  var cash: TimeSeries<Currency<USD>>
  cash[0] = opening
  cash[t+1] = cash[t] - burn
  constraint solvent: cash[t] >= $0 {{
    severity: fatal,
    message: "cash ran out at month {{t}}: {{cash[t]}}"
  }}
  constraint low_cash {{
    cash[t] >= $40_000 with severity(warning) with message("low cash at {{t}}")
  }}
}}
"""

YEARLY = f"""
model Yearly {{
  param salary: Currency<USD> per Year = $120_000 / 1y {PROV}
  param raise_rate: Rate per Year = 0.06 / 1y {PROV}
  var monthly_cost: TimeSeries<Currency<USD>>
  monthly_cost[0] = salary * 1mo
  monthly_cost[t+1] = monthly_cost[t] * (1 + raise_rate * 1mo)
  var total: TimeSeries<Currency<USD>>
  total[t] = sum(monthly_cost[k] for k in 0..t)
}}
"""

DISTRIBUTIONS = f"""
model Dists {{
  param n: Fraction ~ Normal(μ=10, σ=2) {PROV}
  param b: Fraction ~ Beta(α=2, β=8) {PROV}
  param u: Fraction ~ Uniform(low=1, high=3) {PROV}
  param ln: Fraction ~ LogNormal(μ=0.5, σ=0.25) {PROV}
  var x = n + 0 * b
  var y = b
  var z = u
  var w = ln
  simulate for 1mo
}}
"""


def test_compound_growth_closed_form() -> None:
    res = pel.compile_string(GROWTH).run(steps=12)
    values = res["mrr"].value
    expected = 50_000 * 1.15 ** np.arange(13)
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    assert res.status == "success"


def test_fatal_constraint_stops_at_known_month() -> None:
    res = pel.compile_string(CASH).run(steps=12)
    # cash[t] = 100k - 15k t goes negative first at t = 7 (-5k)
    assert res.status == "constraint_violation"
    assert res.exit_code == 3
    data = res.to_dict()
    assert data["violations"][0]["t"] == 7
    assert data["message"].startswith("cash ran out at month 7: -5")
    assert [p["t"] for p in data["cash"]][-1] == 7
    warned = sorted({w["t"] for w in data["warnings"]})
    # 25k and 10k are below 40k; at t=7 the fatal constraint, declared first, stops the step (LANGUAGE.md §4)
    assert warned == [5, 6]


def test_yearly_units_compile_to_monthly_steps() -> None:
    res = pel.compile_string(YEARLY).run(steps=24)
    cost = res["monthly_cost"].value
    expected = 10_000 * (1 + 0.06 / 12) ** np.arange(25)
    np.testing.assert_allclose(cost, expected, rtol=1e-12)
    np.testing.assert_allclose(res["total"].value, np.cumsum(expected), rtol=1e-12)


def test_monte_carlo_moments_match_analytic_values() -> None:
    res = pel.compile_string(DISTRIBUTIONS).run("monte_carlo", runs=100_000, seed=11)
    n = 100_000

    def check(name: str, mean: float, sd: float) -> None:
        got = res[name].mean[0]
        assert abs(got - mean) < 4 * sd / math.sqrt(n), (name, got, mean)
        assert abs(res[name].std[0] - sd) < 0.02 * sd, (name, res[name].std[0], sd)

    check("x", 10.0, 2.0)
    check("y", 0.2, math.sqrt(2 * 8 / (10**2 * 11)))
    check("z", 2.0, 2 / math.sqrt(12))
    mu, s = 0.5, 0.25
    check("w", math.exp(mu + s * s / 2), math.sqrt((math.exp(s * s) - 1) * math.exp(2 * mu + s * s)))
    assert abs(res["x"].p50[0] - 10.0) < 0.05
    assert abs(res["x"].p95[0] - (10 + 1.6448536 * 2)) < 0.08


def test_deterministic_mode_uses_central_values() -> None:
    res = pel.compile_string(DISTRIBUTIONS).run()
    assert res["x"].value[0] == pytest.approx(10.0)
    assert res["y"].value[0] == pytest.approx(0.2)
    assert res["z"].value[0] == pytest.approx(2.0)
    assert res["w"].value[0] == pytest.approx(math.exp(0.5))  # LogNormal log-space reading: the median


def test_override_with_units() -> None:
    model = pel.compile_string(GROWTH)
    res = model.run(steps=2, params={"growth_rate": "10%/1mo", "initial_mrr": "$1_000"})
    np.testing.assert_allclose(res["mrr"].value, [1000, 1100, 1210], rtol=1e-12)
    with pytest.raises(pel.RunError):
        model.run(params={"initial_mrr": "3mo"})


def _cli_run(model: Path, out: Path, *extra: str) -> bytes:
    subprocess.run([sys.executable, "-m", "pel.cli", "run", str(model), "--mode", "monte_carlo", "--runs", "20000",
                    "--seed", "5", "--quiet", "-o", str(out), *extra], check=True, capture_output=True, timeout=600)
    return out.read_bytes()


def test_results_byte_identical_across_processes_and_threads(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "examples" / "saas.pel"
    one = _cli_run(src, tmp_path / "a.json", "--threads", "1")
    two = _cli_run(src, tmp_path / "b.json", "--threads", "2")
    assert one == two
    data = json.loads(one)
    assert data["runs"] == 20000 and data["mode"] == "monte_carlo"


def test_ir_formats_run_identically(tmp_path: Path) -> None:
    model = pel.compile_string(CASH)
    json_path = model.save(tmp_path / "cash.ir.json")
    pack_path = model.save(tmp_path / "cash.ir.msgpack")
    a = pel.load(json_path).run(steps=12).to_json()
    b = pel.load(pack_path).run(steps=12).to_json()
    assert a == b == model.run(steps=12).to_json()


def test_library_results_to_pandas_and_json(tmp_path: Path) -> None:
    res = pel.compile_string(CASH).run("monte_carlo", runs=2000, seed=3, steps=5)
    frame = res.to_pandas()
    assert {"variable", "t", "statistic", "value"} <= set(frame.columns)
    p50 = frame[(frame.variable == "cash") & (frame.statistic == "p50")].sort_values("t")["value"].to_numpy()
    np.testing.assert_allclose(p50, res["cash"].p50)
    out = tmp_path / "r.json"
    res.to_json(str(out))
    assert out.read_text() == res.to_json()
