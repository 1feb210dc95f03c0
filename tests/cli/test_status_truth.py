"""Run status tells the truth: partial and failed Monte Carlo runs, exit codes, --min-success-rate, the stderr
summary, refused output names, atomic result files, and the server's failure metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pel
from tests.cli.test_cli import run_cli

PROV = '{ source: "test", method: "observed", confidence: 0.9 }'
MODEL = f"""model Gate {{
  param divisor: Fraction = 1 {PROV}
  param demand: Fraction ~ Normal(μ=1, σ=1) {PROV}
  var ratio: TimeSeries<Fraction>
  ratio[t] = demand / divisor
  constraint positive {{ ratio[t] > 0 with severity(fatal) with message("ratio {{ratio[t]}} at {{t}}") }}
}}
"""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "gate.pel"
    path.write_text(MODEL, encoding="utf-8")
    return path


def _run(model: Path, out: Path, *extra: str):  # noqa: ANN202
    proc = run_cli("run", str(model), "--mode", "monte_carlo", "--runs", "400", "--steps", "3", "-o", str(out),
                   *extra)
    return proc, json.loads(out.read_text(encoding="utf-8"))


def test_some_paths_stopped_is_partial_not_success(model: Path, tmp_path: Path) -> None:
    proc, res = _run(model, tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    assert res["status"] == "partial"
    assert 0 < res["success_rate"] < 1
    assert "stopped by a fatal constraint" in res["message"]
    assert "partial" in proc.stderr and "results:" in proc.stderr and "constraint positive (fatal)" in proc.stderr


def test_no_path_completed_is_failed_and_exits_3(model: Path, tmp_path: Path) -> None:
    proc, res = _run(model, tmp_path / "r.json", "--set", "divisor=0")
    assert proc.returncode == 3, proc.stderr
    assert res["status"] == "failed" and res["success_rate"] == 0.0
    assert res["failed_paths"]["count"] == 400
    assert "division_by_zero" in proc.stderr and "Traceback" not in proc.stderr


def test_min_success_rate_gates_the_exit_code(model: Path, tmp_path: Path) -> None:
    low, res = _run(model, tmp_path / "a.json", "--min-success-rate", "0.5")
    assert low.returncode == 0, low.stderr  # about 84% of the paths complete
    high, _ = _run(model, tmp_path / "b.json", "--min-success-rate", "0.99")
    assert high.returncode == 3 and "below --min-success-rate 0.99" in high.stderr
    bad = run_cli("run", str(model), "--min-success-rate", "1.5")
    assert bad.returncode == 1 and "from 0 to 1" in bad.stderr


def test_every_path_completing_is_success_and_quiet_prints_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ok.pel"
    path.write_text(MODEL.replace("ratio[t] > 0", "ratio[t] > -1e9"), encoding="utf-8")
    proc, res = _run(path, tmp_path / "r.json", "--quiet")
    assert proc.returncode == 0 and res["status"] == "success" and res["success_rate"] == 1.0
    assert proc.stderr == ""


def test_empty_output_name_is_refused(model: Path) -> None:
    proc = run_cli("run", str(model), "-o", "")
    assert proc.returncode == 1 and "E0011" in proc.stderr and proc.stdout == ""


def test_result_files_are_replaced_atomically(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    out.write_text("previous", encoding="utf-8")
    result = pel.load(model).run("monte_carlo", runs=50, steps=2)
    result.to_json(str(out))
    assert json.loads(out.read_text(encoding="utf-8"))["status"] in ("partial", "success", "failed")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind
    with pytest.raises(OSError):
        result.to_json(str(tmp_path / "missing" / "r.json"))
    assert not (tmp_path / "missing").exists()


def test_library_result_says_whether_it_succeeded(model: Path) -> None:
    result = pel.load(model).run("monte_carlo", runs=200, steps=2, params={"divisor": 0})
    assert not result.ok and result.status == "failed" and result.exit_code == 3
