"""`pel diff`: structural changes, output moves with common random numbers, the semver bump and exit code 4."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.cli import main
from pel.release import diff
from tests.release.sources import GROWTH, PROV, UNCERTAIN, write


def kinds(old: str, new: str) -> dict[str, str]:
    """change kind -> bump, from the structure alone (no run)."""
    a, b = pel.compile_string(old).program.model, pel.compile_string(new).program.model
    return {c.kind: c.bump for c in diff.structural(a, b)}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("diff")
    return {
        "old": write(d, "old.pel", GROWTH),
        "same": write(d, "same.pel", GROWTH.replace("model Growth", "// a comment\nmodel Growth")),
        "faster": write(d, "faster.pel", GROWTH.replace("0.10 / 1mo", "0.12 / 1mo")),
        "nudged": write(d, "nudged.pel", GROWTH.replace("$50_000", "$50_250")),
    }


def test_identical_models_need_no_bump(files: dict[str, Path], capsys: pytest.CaptureFixture) -> None:
    assert main(["diff", str(files["old"]), str(files["same"]), "--allow", "patch"]) == 0
    out = capsys.readouterr().out
    assert "Required version bump: NONE" in out
    assert "Structural changes: none" in out


def test_output_move_beyond_threshold_is_major_and_gated(files: dict[str, Path], capsys) -> None:
    assert main(["diff", str(files["old"]), str(files["faster"]), "--allow", "minor", "--format", "json"]) == 4
    data = json.loads(capsys.readouterr().out)
    assert data["bump"] == "major" and data["ok"] is False
    mrr = next(o for o in data["outputs"] if o["name"] == "mrr")
    assert mrr["t"] == 12  # compounding: the largest move is at the horizon
    assert mrr["max_rel_diff"] == pytest.approx((1.12 / 1.10) ** 12 - 1, rel=1e-9)
    assert {c["kind"] for c in data["changes"]} == {"param_default", "output_moved"}
    assert any("moves" in r for r in data["reasons"])
    assert main(["diff", str(files["old"]), str(files["faster"]), "--allow", "major"]) == 0


def test_threshold_flag_decides_patch_or_major(files: dict[str, Path], capsys) -> None:
    # $50_000 -> $50_250 moves every step by 0.5%
    assert main(["diff", str(files["old"]), str(files["nudged"]), "--allow", "patch"]) == 0
    assert "Required version bump: PATCH" in capsys.readouterr().out
    assert main(["diff", str(files["old"]), str(files["nudged"]), "--allow", "patch", "--threshold", "0.1%"]) == 4
    assert "Required version bump: MAJOR" in capsys.readouterr().out


def test_steps_option_limits_the_comparison(files: dict[str, Path], capsys) -> None:
    assert main(["diff", str(files["old"]), str(files["faster"]), "--steps", "3", "--format", "json"]) == 0
    mrr = next(o for o in json.loads(capsys.readouterr().out)["outputs"] if o["name"] == "mrr")
    assert (mrr["t"], mrr["steps_compared"]) == (3, 4)


def test_ir_files_diff_like_sources(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    ir_old = tmp_path / "old.ir.json"
    assert main(["compile", str(files["old"]), "-o", str(ir_old)]) == 0
    capsys.readouterr()
    assert main(["diff", str(ir_old), str(files["faster"]), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["bump"] == "major"


def test_subprocess_exit_code_gates_ci(files: dict[str, Path]) -> None:
    proc = subprocess.run([sys.executable, "-m", "pel.cli", "diff", str(files["old"]), str(files["faster"]),
                           "--allow", "minor"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 4, proc.stderr
    assert "Required version bump: MAJOR" in proc.stdout
    assert "NOT ALLOWED (exit 4)" in proc.stdout


def test_bad_inputs_are_coded_errors(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    assert main(["diff", str(files["old"]), str(tmp_path / "missing.pel")]) == 1
    assert "error[E0010]" in capsys.readouterr().err
    assert main(["diff", str(files["old"]), str(files["old"]), "--threshold", "lots"]) == 1
    err = capsys.readouterr().err
    assert "error[E0011]" in err and "Traceback" not in err
    assert main(["diff", str(files["old"]), str(files["old"]), "--allow", "huge"]) == 1


def test_monte_carlo_uses_common_random_numbers(tmp_path: Path, capsys) -> None:
    """A new, unrelated uncertain parameter leaves the other draws, hence the outputs, exactly as they were."""
    extra = UNCERTAIN.replace("  var sales", f"  param noise: Fraction ~ Normal(μ=1, σ=0.5) {PROV}\n  var sales")
    old, new = write(tmp_path, "u1.pel", UNCERTAIN), write(tmp_path, "u2.pel", extra)
    args = ["diff", str(old), str(new), "--mode", "monte_carlo", "--runs", "300", "--format", "json"]
    assert main([*args, "--allow", "minor"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["bump"] == "minor"
    assert [o["max_rel_diff"] for o in data["outputs"]] == [0.0]


# ---------------------------------------------------------------------------------------------
# Structural rules (no runs)
# ---------------------------------------------------------------------------------------------


def test_parameter_removed_added_retyped_reunited() -> None:
    removed = GROWTH.replace(f"  param growth_rate: Rate per Month = 0.10 / 1mo {PROV}\n", "").replace(
        "(1 + growth_rate)", "(1 + 0.1)")
    assert kinds(GROWTH, removed)["param_removed"] == "major"
    assert kinds(removed, GROWTH)["param_added"] == "minor"
    yearly = GROWTH.replace("Rate per Month = 0.10 / 1mo", "Rate per Year = 1.2 / 1y").replace(
        "(1 + growth_rate)", "(1 + growth_rate * 1mo)")
    assert kinds(GROWTH, yearly)["param_reunited"] == "major"
    fraction = GROWTH.replace("Rate per Month = 0.10 / 1mo", "Fraction = 0.10")
    assert kinds(GROWTH, fraction)["param_retyped"] == "major"
    normal = GROWTH.replace("= 0.10 / 1mo", "~ Normal(μ=0.10 / 1mo, σ=0.01 / 1mo)")
    assert kinds(GROWTH, normal) == {"param_distribution": "patch"}


def test_constraint_severity_and_outputs() -> None:
    fatal = GROWTH.replace("severity(warning)", "severity(fatal)")
    assert kinds(GROWTH, fatal)["constraint_severity"] == "major"
    assert kinds(fatal, GROWTH)["constraint_severity"] == "patch"
    dropped = GROWTH.replace('  constraint grows {\n    mrr[t+1] > mrr[t] with severity(warning) with message('
                             '"MRR fell at {t}")\n  }\n', "")
    assert kinds(GROWTH, dropped) == {"constraint_removed": "patch"}
    assert kinds(dropped, GROWTH) == {"constraint_added": "patch"}
    with_arr = GROWTH.replace("  simulate", "  var arr: TimeSeries<Currency<USD>>\n  arr[t] = mrr[t] * 12\n  simulate")
    assert kinds(GROWTH, with_arr) == {"output_added": "minor"}
    assert kinds(with_arr, GROWTH) == {"output_removed": "major"}
    only_mrr = with_arr.replace("  simulate", "  output mrr\n  simulate")
    assert kinds(with_arr, only_mrr)["output_removed"] == "major"
    provenance = GROWTH.replace('confidence: 0.9, owner: "finance" }\n  param growth',
                                'confidence: 0.8, owner: "finance" }\n  param growth')
    assert kinds(GROWTH, provenance) == {"param_provenance": "patch"}


def test_largest_relative_difference_edges() -> None:
    rel, k = diff.largest_relative(np.array([0.0, 10.0, 20.0]), np.array([0.0, 11.0, 21.0]))
    assert (rel, k) == (pytest.approx(0.1), 1)
    rel, k = diff.largest_relative(np.array([0.0, 1.0]), np.array([2.0, 1.0]))
    assert math.isinf(rel) and k == 0
    rel, _ = diff.largest_relative(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))
    assert rel == 0.0
    assert diff.largest_relative(np.array([]), np.array([])) == (0.0, None)
