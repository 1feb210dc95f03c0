"""Run settings tell the truth: the model's `simulate` directive sets mode, seed, runs and steps; flags, `Model.run`
arguments and HTTP fields override it; the results record the values used and where each came from; the stderr
summary says whether --until-se converged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pel
from pel.cli import main

PROV = '{ source: "test", method: "observed", confidence: 0.9 }'
SIM = f"""model Sim {{
  param growth: Fraction ~ Normal(μ=0.05, σ=0.02) {PROV}
  var level: TimeSeries<Fraction>
  level[0] = 1
  level[t+1] = level[t] * (1 + growth)
  simulate monte_carlo with seed 7 with runs 300 for 4mo
}}
"""
PLAIN = SIM.replace("  simulate monte_carlo with seed 7 with runs 300 for 4mo\n", "")


@pytest.fixture
def sim(tmp_path: Path) -> Path:
    path = tmp_path / "sim.pel"
    path.write_text(SIM, encoding="utf-8")
    return path


def _run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, dict, str]:
    out = Path(args[0]).with_name("r.json")
    code = main(["run", *args, "-o", str(out)])
    return code, json.loads(out.read_text(encoding="utf-8")), capsys.readouterr().err


def test_the_directive_sets_mode_seed_runs_and_steps(sim: Path, capsys: pytest.CaptureFixture) -> None:
    code, res, err = _run(capsys, str(sim))
    assert code == 0, err
    assert (res["mode"], res["seed"], res["runs"], res["steps"]) == ("monte_carlo", 7, 300, 4)
    assert res["settings_from"] == {"mode": "model", "seed": "model", "runs": "model", "steps": "model"}
    assert "mode, seed, runs from the model's simulate directive" in err
    _, given, _ = _run(capsys, str(sim), "--mode", "monte_carlo", "--seed", "7", "--runs", "300")
    assert given["settings_from"] == {"mode": "given", "seed": "given", "runs": "given", "steps": "model"}
    assert given["level"] == res["level"]  # the directive's seed 7 is the seed used
    _, other, _ = _run(capsys, str(sim), "--seed", "42")
    assert other["level"] != res["level"] and other["settings_from"]["seed"] == "given"


def test_flags_override_the_directive(sim: Path, capsys: pytest.CaptureFixture) -> None:
    code, res, err = _run(capsys, str(sim), "--mode", "deterministic", "--seed", "3", "--steps", "2")
    assert code == 0, err
    assert (res["mode"], res["seed"], res["steps"], len(res["level"])) == ("deterministic", 3, 2, 3)
    assert "runs" not in res and res["settings_from"] == {"mode": "given", "seed": "given", "steps": "given"}
    assert "simulate directive" not in err


def test_library_arguments_override_the_directive_and_defaults_fill_the_rest(sim: Path) -> None:
    model = pel.compile(sim)
    res = model.run()
    assert (res.mode, res.seed, res.runs, res.steps) == ("monte_carlo", 7, 300, 4)
    res = model.run(seed=9, runs=100)
    assert (res.mode, res.seed, res.runs) == ("monte_carlo", 9, 100)
    assert res.settings_from == {"mode": "model", "seed": "given", "runs": "given", "steps": "model"}
    plain = pel.compile_string(PLAIN).run()
    assert (plain.mode, plain.seed, plain.steps) == ("deterministic", 42, 12)
    assert plain.to_dict()["settings_from"] == {"mode": "default", "seed": "default", "steps": "model"}
    assert pel.compile_string(PLAIN).settings("monte_carlo").runs == 1000


def test_ir_files_carry_the_directive_and_load_without_one(sim: Path, tmp_path: Path) -> None:
    with_directive = pel.compile(sim).save(tmp_path / "sim.ir.json")
    simulate = json.loads(with_directive.read_text(encoding="utf-8"))["model"]["simulate"]
    assert simulate == {"mode": "monte_carlo", "runs": 300, "seed": 7}
    assert pel.load(with_directive).run(runs=50).seed == 7
    without = pel.compile_string(PLAIN).save(tmp_path / "plain.ir.json")
    assert "simulate" not in json.loads(without.read_text(encoding="utf-8"))["model"]
    res = pel.load(without).run(steps=1)
    assert res.mode == "deterministic" and res.settings_from["mode"] == "default"


def test_until_se_on_a_deterministic_run_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "plain.pel"
    path.write_text(PLAIN, encoding="utf-8")
    assert main(["run", str(path), "--until-se", "0.01", "-o", str(tmp_path / "r.json")]) == 1
    err = capsys.readouterr().err
    assert "error[E0011]" in err and "deterministic (the default)" in err and "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


def test_http_fields_override_the_directive(sim: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx

    from tests.server.conftest import LiveServer, make_config

    with LiveServer(make_config(sim.parent)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        detail = client.get("/models/sim").json()
        assert detail["run_defaults"] == {"mode": "monte_carlo", "seed": 7, "runs": 300, "steps": 4}
        res = client.post("/models/sim/run", json={}).json()
        assert (res["mode"], res["seed"], res["runs"]) == ("monte_carlo", 7, 300)
        assert res["settings_from"]["seed"] == "model"
        res = client.post("/models/sim/run", json={"mode": "deterministic", "seed": 1, "steps": 2}).json()
        assert (res["mode"], res["seed"], res["steps"]) == ("deterministic", 1, 2)
        assert res["settings_from"] == {"mode": "given", "seed": "given", "steps": "given"}


# ---------------------------------------------------------------------------------------------
# The summary says whether --until-se converged
# ---------------------------------------------------------------------------------------------

NOISY = f"""model Noisy {{
  param divisor: Fraction = 1 {PROV}
  param noise: Fraction ~ Normal(μ=0.05, σ=0.5) {PROV}
  var x: TimeSeries<Fraction>
  x[t] = noise / divisor
  simulate for 2mo
}}
"""


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    path = tmp_path / "noisy.pel"
    path.write_text(NOISY, encoding="utf-8")
    return path


def test_until_se_not_reached_says_not_converged(noisy: Path, capsys: pytest.CaptureFixture) -> None:
    code, res, err = _run(capsys, str(noisy), "--mode", "monte_carlo", "--runs", "500", "--until-se", "0.001")
    assert code == 0 and res["convergence"]["stopped"] == "max_runs"
    assert "--until-se 0.001: NOT converged after all 500 paths (worst relative SE" in err
    assert ", x); raise --runs" in err


def test_until_se_met_says_converged(noisy: Path, capsys: pytest.CaptureFixture) -> None:
    code, res, err = _run(capsys, str(noisy), "--mode", "monte_carlo", "--runs", "500", "--until-se", "0.9")
    assert code == 0 and res["convergence"]["stopped"] == "converged"
    assert "--until-se 0.9: converged after 500 paths (worst relative SE" in err


def test_until_se_without_any_estimate_is_not_converged(noisy: Path, capsys: pytest.CaptureFixture) -> None:
    code, res, err = _run(capsys, str(noisy), "--mode", "monte_carlo", "--runs", "300", "--until-se", "0.01",
                          "--set", "divisor=0")
    assert code == 3 and res["status"] == "failed"
    assert res["convergence"]["stopped"] == "max_runs" and res["convergence"]["relative_se"] == {"x": None}
    assert "NOT converged after all 300 paths (no finite relative SE for x" in err
    assert " converged after" not in err.replace("NOT converged after", "")


def test_quiet_silences_the_summary(noisy: Path, capsys: pytest.CaptureFixture) -> None:
    code, _, err = _run(capsys, str(noisy), "--mode", "monte_carlo", "--runs", "300", "--until-se", "0.001",
                        "--quiet")
    assert code == 0 and err == ""
