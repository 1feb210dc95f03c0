"""`pel lint`: the production checklist as rules with locations; exit 5 when an error-level rule fails."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pel.cli import main
from pel.release import lint
from tests.release.sources import AUDIT, GROWTH, UNCERTAIN, write


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("lint"), "audit.pel", AUDIT)


@pytest.fixture(scope="module")
def report(audit: Path) -> dict:
    """One in-process JSON lint of the audit model, shared by the rule checks."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["lint", str(audit), "--as-of", "2026-06-01", "--format", "json"])
    return {"code": code, **json.loads(buf.getvalue())}


def find(report: dict, rule: str) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == rule]


def test_every_rule_fires_with_its_location(report: dict, audit: Path) -> None:
    assert report["code"] == 5 and report["ok"] is False
    by_rule = {f["rule"]: f for f in report["findings"]}
    assert set(by_rule) == {"L001", "L002", "L003", "L004", "L005", "L006", "L007", "L008", "L009", "L010",
                            "L011", "L013"}
    assert (by_rule["L001"]["line"], by_rule["L001"]["col"]) == (1, 1)  # the model header
    assert by_rule["L001"]["level"] == "error" and "40%" in by_rule["L001"]["message"]
    assert {f["subject"] for f in find(report, "L002")} == {"guess", "hunch", "spare"}
    assert (by_rule["L003"]["subject"], by_rule["L003"]["line"], by_rule["L003"]["col"]) == ("price", 2, 3)
    assert "due 2026-04-15" in by_rule["L003"]["message"]
    assert by_rule["L005"]["subject"] == "guess"
    assert by_rule["L006"]["subject"] == "hunch"
    assert by_rule["L007"]["subject"] == "spare"
    assert (by_rule["L008"]["subject"], by_rule["L008"]["line"]) == ("scratch", 20)
    assert (by_rule["L009"]["subject"], by_rule["L009"]["line"]) == ("tautology", 23)
    assert by_rule["L010"]["subject"] == "positive"
    assert by_rule["L011"]["subject"] == "odd"
    assert all(f["file"] == str(audit) for f in report["findings"])
    assert report["summary"] == {"note": 6, "warning": 5, "error": 4}


def test_staleness_depends_on_as_of(audit: Path) -> None:
    from pel.release.common import load

    loaded = load(str(audit))
    fresh = lint.lint(loaded, lint.Options(as_of=dt.date(2026, 4, 15), run=False))
    assert not [f for f in fresh if f.rule == "L003"]
    early = lint.lint(loaded, lint.Options(as_of=dt.date(2025, 12, 1), run=False))
    assert [f.subject for f in early if f.rule == "L012"] == ["price"]


def test_add_duration_calendar_months() -> None:
    assert lint.add_duration(dt.date(2026, 1, 31), "P1M") == dt.date(2026, 2, 28)
    assert lint.add_duration(dt.date(2026, 1, 15), "P1Y2W") == dt.date(2027, 1, 29)
    assert lint.add_duration(dt.date(2026, 11, 30), "P3M") == dt.date(2027, 2, 28)


def test_clean_model_passes_and_thresholds_are_flags(tmp_path: Path, capsys) -> None:
    clean = write(tmp_path, "clean.pel", UNCERTAIN)
    assert main(["lint", str(clean), "--no-run"]) == 0
    out = capsys.readouterr().out
    assert "0 error(s), 0 warning(s)" in out and out.rstrip().endswith(": ok")
    assert main(["lint", str(clean), "--no-run", "--confidence", "0.95"]) == 5
    assert "error[L001]" in capsys.readouterr().out
    assert main(["lint", str(clean), "--no-run", "--confidence", "0.95", "--min-high-confidence", "0%"]) == 0


def test_deterministic_constraint_is_flagged_only_with_run(tmp_path: Path, capsys) -> None:
    growth = write(tmp_path, "growth.pel", GROWTH)
    assert main(["lint", str(growth)]) == 0
    assert "warning[L010]: constraint 'grows'" in capsys.readouterr().out
    assert main(["lint", str(growth), "--strict"]) == 5
    capsys.readouterr()
    assert main(["lint", str(growth), "--no-run"]) == 0
    assert "L010" not in capsys.readouterr().out


def test_fatal_central_case_is_an_error(tmp_path: Path, capsys) -> None:
    broke = write(tmp_path, "broke.pel", GROWTH.replace("0.10 / 1mo", "-0.10 / 1mo").replace(
        "severity(warning)", "severity(fatal)"))
    assert main(["lint", str(broke)]) == 5
    assert "error[L014]: the deterministic run stops on fatal constraint 'grows' at t=0" in capsys.readouterr().out


def test_static_truth() -> None:
    from pel.ir import nodes as ir

    x = ir.Ref("x", "var")
    assert lint.always_true(ir.Literal(True))
    assert lint.always_true(ir.Binary(">=", x, ir.Ref("x", "var", loc=(1, 2, 1, 3))))
    assert lint.always_true(ir.Binary("<", ir.Literal(1.0), ir.Literal(2.0)))
    assert lint.always_true(ir.Binary("||", x, ir.Literal(True)))
    assert lint.always_true(ir.IfThenElse(x, ir.Literal(True), None))
    assert not lint.always_true(ir.Binary(">", x, ir.Literal(0.0)))
    assert not lint.always_true(ir.Literal(False))


def test_subprocess_lint_and_bad_input(audit: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pel.cli", "lint", str(audit), "--as-of", "2026-06-01",
                           "--no-run"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 5, proc.stderr
    assert f"{audit}:2:3: error[L003]: 'price' is stale" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "pel.cli", "lint", str(audit), "--as-of", "June"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "error[E0011]" in proc.stderr and "Traceback" not in proc.stderr
