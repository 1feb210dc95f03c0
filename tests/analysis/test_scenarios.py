"""Scenarios in the language: `scenario NAME { param = value, param ~ D(…) }` checked like `--set`, kept in the IR
(and its hash), run with `pel run --scenario` / `Model.run(scenario=…)`, compared with common random numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.analysis.compare import compare
from pel.cli import main
from pel.diagnostics import CompileError, RunError
from pel.ir import serialize

PROV = '{ source: "t", method: "observed", confidence: 0.9 }'
MODEL = f"""model Sc {{
  param growth: Rate per Month = 0.05 / 1mo {PROV}
  param churn: Fraction ~ Beta(α = 2, β = 98) {PROV}
  param start: Currency<USD> = $1000 {PROV}
  param noise: Fraction ~ Normal(μ = 0, σ = 0.01) {PROV}
  scenario bear {{ growth = 0.01 / 1mo, churn ~ Beta(α = 5, β = 95) }}
  scenario bull {{ growth = 12% / 1y, start = $1200, }}
  scenario fixed_churn {{ churn = 3% }}
  scenario empty {{}}
  var mrr: TimeSeries<Currency<USD>>
  mrr[0] = start
  mrr[t+1] = mrr[t] * (1 + growth * 1mo - churn + noise)
  simulate for 12mo
}}
"""


@pytest.fixture(scope="module")
def model() -> pel.Model:
    return pel.Model(pel.compile_string(MODEL).program)


def _codes(text: str) -> list[str]:
    with pytest.raises(CompileError) as exc:
        pel.compile_string(text)
    return [d.code for d in exc.value.diagnostics if d.level == "error"]


def test_scenarios_are_checked_like_set() -> None:
    body = MODEL.split("  scenario bear")[0]
    assert _codes(body + "  scenario x { growth = $5 }\n}\n") == ["E0200"]  # --set growth=$5 is E0200 too
    assert _codes(body + "  scenario x { start = €5 }\n}\n") == ["E0201"]
    assert _codes(body + "  scenario x { nope = 1 }\n}\n") == ["E0600"]
    assert _codes(body + "  var v = 1\n  scenario x { v = 2 }\n}\n") == ["E0600"]
    assert _codes(body + "  scenario x { growth = 0.1 / 1mo, growth = 0.2 / 1mo }\n}\n") == ["E0601"]
    assert _codes(body + "  scenario x {}\n  scenario x {}\n}\n") == ["E0601"]
    assert _codes(body + "  scenarioo x { growth = 0.1 / 1mo }\n}\n") == ["E0005"]
    # `scenario` stays a plain name elsewhere
    pel.compile_string(body + "  var scenario = 2\n}\n")


def test_scenarios_are_kept_in_the_ir_and_its_hash(model: pel.Model, tmp_path: Path) -> None:
    sc = {s.name: s for s in model.program.model.scenarios}
    assert list(sc) == ["bear", "bull", "fixed_churn", "empty"]
    assert [p.name for p in sc["bear"].params] == ["growth", "churn"]
    assert sc["bear"].params[1].distribution.distribution_type == "Beta"
    assert sc["bull"].params[0].central == pytest.approx(0.01)  # 12% a year is 1% a month
    for fmt in ("json", "msgpack"):
        path = tmp_path / f"m.ir.{fmt}"
        model.save(path)
        again = pel.load(path)
        assert again.program.model.scenarios == model.program.model.scenarios
    other = pel.compile_string(MODEL.replace("growth = 0.01 / 1mo", "growth = 0.02 / 1mo"))
    assert other.hash != model.hash
    plain = pel.compile_string(MODEL.replace("  scenario empty {}\n", ""))
    assert "scenarios" in serialize.to_dict(plain.program)["model"]
    none = pel.compile_string("model M {\n  param a: Fraction = 0.5 " + PROV + "\n}\n")
    assert "scenarios" not in serialize.to_dict(none.program)["model"]  # no field: IR of old models unchanged


def test_runs_under_a_scenario(model: pel.Model) -> None:
    base = model.run()
    bull = model.run(scenario="bull")
    assert bull["mrr"].value[0] == 1200.0 and base["mrr"].value[0] == 1000.0
    assert bull.to_dict()["model"]["scenario"] == "bull" and "scenario" not in base.to_dict()["model"]
    # --set wins over the scenario's value
    assert model.run(scenario="bull", params={"start": 1500})["mrr"].value[0] == 1500.0
    # a distribution replaced: the deterministic run uses its central value (5%)
    bear = model.run(scenario="bear")
    expected = 1000 * (1 + 0.01 - 0.05) ** 12
    assert bear["mrr"].value[12] == pytest.approx(expected, rel=1e-12)
    # a number where the declaration has a distribution: every path has it
    mc = model.run("monte_carlo", runs=2000, seed=4, scenario="fixed_churn")
    ref = model.run("monte_carlo", runs=2000, seed=4, params={"churn": 0.03})
    assert np.array_equal(mc["mrr"].mean, ref["mrr"].mean)
    assert np.array_equal(model.run(scenario="empty")["mrr"].value, base["mrr"].value)
    with pytest.raises(RunError, match="no scenario 'nope'"):
        model.run(scenario="nope")


def test_compare_uses_common_random_numbers(model: pel.Model) -> None:
    c = compare(model, ["declared", "bull", "fixed_churn"], mode="monte_carlo", runs=3000, seed=8)
    assert c.scenarios == ["declared", "bull", "fixed_churn"] and c.statuses["bull"] == "success"
    # bull changes fixed numbers only: its paths have the declared run's draws of churn and noise, so it equals a
    # run with the same overrides and seed
    explicit = model.run("monte_carlo", runs=3000, seed=8, params={"growth": 0.01, "start": 1200})
    assert c.stats["bull"]["mrr"]["mean"] == pytest.approx(float(explicit["mrr"].mean[12]), rel=1e-12)
    diff, rel = c.difference("bull", "mrr")
    assert diff == pytest.approx(c.stats["bull"]["mrr"]["mean"] - c.stats["declared"]["mrr"]["mean"])
    everything = compare(model, ["all"], runs=100, seed=8)
    assert everything.scenarios == ["declared", "bear", "bull", "fixed_churn", "empty"]
    with pytest.raises(RunError):
        compare(model, ["bull", "nope"])


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sc.pel"
    path.write_text(MODEL)
    assert main(["run", str(path), "--scenario", "bull", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["scenario"] == "bull"
    assert main(["run", str(path), "--scenario", "nope", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "error[E0600]" in err and "scenarios: bear, bull, fixed_churn, empty" in err
    assert main(["compare", str(path), "--scenarios", "declared,bear", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["baseline"] == "declared" and out["scenarios"]["bear"]["outputs"]["mrr"]["relative_difference"] < 0
    assert main(["compare", str(path), "--scenarios", "all", "--mode", "monte_carlo", "--runs", "500"]) == 0
    text = capsys.readouterr().out
    assert "differences to declared" in text and "bear" in text and "Δ" in text
    stopped = tmp_path / "stopped.pel"  # a scenario that breaks a fatal constraint: exit 3, as `pel run`
    stopped.write_text(MODEL.replace("  simulate for 12mo", "  constraint floor: mrr[t] >= $900 { severity: fatal, "
                                                           "message: \"below\" }\n  simulate for 12mo"))
    capsys.readouterr()
    assert main(["compare", str(stopped), "--scenarios", "declared,bear"]) == 3
    assert "bear: constraint_violation" in capsys.readouterr().out
