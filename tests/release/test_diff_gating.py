"""`pel diff` as a CI gate: --atol near zero, and constraint behaviour (fires, stops, rate) counting toward the bump."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pel.cli import main
from pel.release import behaviour, diff
from pel.release.behaviour import Behaviour, ConstraintRuns
from pel.release.common import DEFAULT_ATOL
from tests.release.sources import PROV, write

MARGIN = f"""model Margin {{
  param price: Currency<USD> = $10.001 {PROV}
  param cost: Currency<USD> = $10 {PROV}
  var margin: TimeSeries<Currency<USD>>
  margin[t] = price - cost
  var revenue: TimeSeries<Currency<USD>>
  revenue[t] = price * 1000
  simulate for 3mo
}}
"""

# Cash burns an uncertain amount each month; `solvent` fires on the paths that run out within a year.
BURN = f"""model Burn {{
  param start: Currency<USD> = $1_000 {PROV}
  param burn: Currency<USD> ~ Normal(μ=$50, σ=$5) {PROV}
  var cash: TimeSeries<Currency<USD>>
  cash[0] = start
  cash[t+1] = cash[t] - burn
  constraint solvent: cash[t] >= $0 {{ severity: fatal, message: "out of cash at {{t}}" }}
  simulate for 12mo
}}
"""


def run_diff(old: Path, new: Path, *extra: str, capsys: pytest.CaptureFixture) -> tuple[int, dict]:
    code = main(["diff", str(old), str(new), "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------------------------------------
# Absolute tolerance
# ---------------------------------------------------------------------------------------------


def test_output_near_zero_reads_as_a_huge_move_without_atol(tmp_path: Path, capsys) -> None:
    old = write(tmp_path, "m1.pel", MARGIN)
    new = write(tmp_path, "m2.pel", MARGIN.replace("$10.001", "$10.0046"))
    code, data = run_diff(old, new, "--allow", "minor", capsys=capsys)
    margin = next(o for o in data["outputs"] if o["name"] == "margin")
    assert margin["max_rel_diff"] == pytest.approx(3.6, rel=1e-6)  # 0.001 -> 0.0046: +360%
    assert code == 4 and data["bump"] == "major"


def test_atol_in_the_outputs_unit_ignores_differences_near_zero(tmp_path: Path, capsys) -> None:
    old = write(tmp_path, "m1.pel", MARGIN)
    new = write(tmp_path, "m2.pel", MARGIN.replace("$10.001", "$10.0046"))
    code, data = run_diff(old, new, "--allow", "patch", "--atol", "0.01", capsys=capsys)
    assert code == 0 and data["bump"] == "patch" and data["options"]["atol"] == 0.01
    margin = next(o for o in data["outputs"] if o["name"] == "margin")
    assert margin["max_rel_diff"] == 0.0 and margin["max_abs_diff"] == pytest.approx(0.0036, rel=1e-6)
    revenue = next(o for o in data["outputs"] if o["name"] == "revenue")  # $3.60 on $10,001: beyond $0.01
    assert revenue["max_rel_diff"] == pytest.approx(3.6 / 10_001, rel=1e-6)
    assert {c["kind"] for c in data["changes"]} == {"param_default", "output_moved"}
    assert [c["subject"] for c in data["changes"] if c["kind"] == "output_moved"] == ["revenue"]
    main(["diff", str(old), str(new), "--atol", "0.01"])
    assert "margin   unchanged within atol" in capsys.readouterr().out


def test_largest_relative_with_atol() -> None:
    old, new = np.array([0.0, 0.001, 100.0]), np.array([1e-12, 0.0046, 100.5])
    assert diff.largest_relative(old, new) == (np.inf, 0)  # no tolerance: 0 -> 1e-12 is infinite
    rel, k = diff.largest_relative(old, new, DEFAULT_ATOL)  # the default floor absorbs rounding
    assert (rel, k) == (pytest.approx(3.6), 1)
    rel, k = diff.largest_relative(old, new, 0.01)
    assert (rel, k) == (pytest.approx(0.005), 2)
    assert diff.largest_relative(old, new, 1.0) == (0.0, 0)
    rel, _ = diff.largest_relative(np.array([np.nan, 1.0]), np.array([1.0, 1.0]), 10.0)
    assert rel == np.inf  # a value against no value is never within tolerance
    assert diff.largest_relative(np.array([np.inf]), np.array([np.inf]), 0.0) == (0.0, 0)


@pytest.mark.parametrize("bad", ["-1", "inf", "nan", "lots"])
def test_bad_atol_is_a_usage_error(tmp_path: Path, capsys, bad: str) -> None:
    model = write(tmp_path, "m.pel", MARGIN)
    assert main(["diff", str(model), str(model), "--atol", bad]) == 1
    err = capsys.readouterr().err
    assert "error[E0011]" in err and "--atol" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------
# Constraint behaviour
# ---------------------------------------------------------------------------------------------


def test_fatal_constraint_newly_firing_is_major(tmp_path: Path, capsys) -> None:
    """Monte Carlo with common random numbers: a heavier burn makes `solvent` fire on some paths. The output moves
    are kept below a huge threshold, so the major bump comes from the constraint alone."""
    old = write(tmp_path, "b1.pel", BURN)
    new = write(tmp_path, "b2.pel", BURN.replace("Normal(μ=$50, σ=$5)", "Normal(μ=$80, σ=$10)"))
    args = ["--mode", "monte_carlo", "--runs", "400", "--threshold", "1000%", "--allow", "minor"]
    code, data = run_diff(old, new, *args, capsys=capsys)
    assert code == 4 and data["bump"] == "major"
    fires = [c for c in data["changes"] if c["kind"] == "constraint_fires"]
    assert [(c["subject"], c["bump"]) for c in fires] == [("solvent", "major")]
    assert "now fires" in fires[0]["detail"] and any("solvent" in r for r in data["reasons"])
    assert all(c["bump"] == "patch" for c in data["changes"] if c["kind"] == "output_moved")
    solvent = data["constraints"][0]
    assert solvent["name"] == "solvent" and solvent["old"]["rate"] == 0.0 and 0.05 < solvent["new"]["rate"] < 0.95
    # back again: the constraint stops firing, a patch change
    code, data = run_diff(new, old, *args, capsys=capsys)
    quiet = [c for c in data["changes"] if c["kind"] == "constraint_quiet"]
    assert [(c["subject"], c["bump"]) for c in quiet] == [("solvent", "patch")]
    assert data["bump"] == "patch" and code == 0


def test_warning_newly_firing_is_reported_as_patch(tmp_path: Path, capsys) -> None:
    warn = BURN.replace("severity: fatal", "severity: warning")
    old = write(tmp_path, "w1.pel", warn)
    new = write(tmp_path, "w2.pel", warn.replace("Normal(μ=$50, σ=$5)", "Normal(μ=$80, σ=$10)"))
    code, data = run_diff(old, new, "--mode", "monte_carlo", "--runs", "400", "--threshold", "1000%",
                          "--allow", "patch", capsys=capsys)
    assert code == 0 and data["bump"] == "patch"
    assert [(c["kind"], c["bump"]) for c in data["changes"] if c["subject"] == "solvent"] == \
        [("constraint_fires", "patch")]
    main(["diff", str(old), str(new), "--mode", "monte_carlo", "--runs", "400"])
    out = capsys.readouterr().out
    assert "Constraint behaviour:\n  patch  constraint solvent (warning) now fires: on " in out


def test_deterministic_fatal_firing_names_the_constraint(tmp_path: Path, capsys) -> None:
    fixed = BURN.replace("~ Normal(μ=$50, σ=$5)", "= $50")
    old, new = write(tmp_path, "d1.pel", fixed), write(tmp_path, "d2.pel", fixed.replace("= $50", "= $100"))
    code, data = run_diff(old, new, "--allow", "minor", capsys=capsys)
    assert code == 4
    fires = next(c for c in data["changes"] if c["kind"] == "constraint_fires")
    assert fires["bump"] == "major" and fires["detail"] == "constraint solvent (fatal) now fires: first at t=11"
    assert data["constraints"] == [{"name": "solvent", "old": {"severity": "fatal", "rate": 0.0, "first_t": None},
                                    "new": {"severity": "fatal", "rate": 1.0, "first_t": 11}}]


def pair(old: tuple | None, new: tuple | None) -> list[ConstraintRuns]:
    return [ConstraintRuns("c", old and Behaviour(*old), new and Behaviour(*new))]


@pytest.mark.parametrize(("old", "new", "expected"), [
    (("fatal", 0.0, None), ("fatal", 0.2, 3), ("constraint_fires", "major")),
    (None, ("fatal", 1.0, 0), ("constraint_fires", "major")),  # a new fatal constraint that fires
    (("warning", 0.0, None), ("warning", 0.2, 3), ("constraint_fires", "patch")),
    (("fatal", 0.2, 3), ("fatal", 0.0, None), ("constraint_quiet", "patch")),
    (("fatal", 0.02, 3), ("fatal", 0.10, 3), ("constraint_rate", "major")),  # +8 points > 5%
    (("fatal", 0.02, 3), ("fatal", 0.06, 3), ("constraint_rate", "patch")),  # +4 points
    (("fatal", 0.10, 3), ("fatal", 0.02, 3), ("constraint_rate", "patch")),  # fewer paths stop
    (("warning", 0.02, 3), ("warning", 0.50, 3), ("constraint_rate", "patch")),
    (("fatal", 1.0, 5), ("fatal", 1.0, 4), ("constraint_rate", "patch")),  # fires earlier
    (("fatal", 0.2, 3), ("fatal", 0.2, 3), None),
    (("fatal", 0.0, None), None, None),
])
def test_behaviour_rules(old: tuple | None, new: tuple | None, expected: tuple | None) -> None:
    found = [(c.kind, c.bump) for c in behaviour.changes(pair(old, new), 0.05)]
    assert found == ([expected] if expected else [])
