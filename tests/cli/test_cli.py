"""The `pel` command end to end: outputs, files written, exit codes, and clean errors for bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pel.cli import main
from tests.conftest import EXAMPLES

REVENUE = EXAMPLES / "revenue_forecast.pel"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed entry point in a subprocess (what users and the tutorial's tests do)."""
    return subprocess.run([sys.executable, "-m", "pel.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    target = tmp_path / "models" / "revenue.pel"
    target.parent.mkdir()
    shutil.copy(REVENUE, target)
    return target


BROKEN = """model Broken {
  param rate: Rate per Month = 0.1 / 1mo {
    source: "x", method: "observed", confidence: 0.9
  }
  param price: Currency<USD> = $10
  var total = price + 5%
}
"""


def test_compile_writes_ir_beside_source(model_copy: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compile", str(model_copy)]) == 0
    ir_file = model_copy.with_name("revenue.ir.json")
    data = json.loads(ir_file.read_text())
    assert data["format_version"] == "0.1.0"
    assert data["metadata"]["model_hash"].startswith("sha256:")
    assert "revenue.ir.json" in capsys.readouterr().out


def test_compile_msgpack_and_output_option(model_copy: Path, tmp_path: Path) -> None:
    assert main(["compile", str(model_copy), "--format", "msgpack"]) == 0
    assert model_copy.with_name("revenue.ir.msgpack").stat().st_size > 0
    out = tmp_path / "elsewhere.ir.json"
    assert main(["compile", str(model_copy), "-o", str(out)]) == 0
    assert out.exists()


@pytest.mark.parametrize("stage", ["tokens", "ast", "ir"])
def test_emit_stages_are_deterministic(stage: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["compile", str(REVENUE), "--emit", stage]) == 0
    first = capsys.readouterr().out
    assert main(["compile", str(REVENUE), "--emit", stage]) == 0
    assert capsys.readouterr().out == first
    assert first.strip()


def test_emit_ast_shows_inferred_types(capsys: pytest.CaptureFixture) -> None:
    assert main(["compile", str(REVENUE), "--emit", "ast"]) == 0
    out = capsys.readouterr().out
    assert "Currency<USD>" in out and "Rate per Month" in out


def test_check_reports_all_errors_with_caret(tmp_path: Path) -> None:
    src = tmp_path / "broken.pel"
    src.write_text(BROKEN)
    proc = run_cli("check", str(src))
    assert proc.returncode == 1
    err = proc.stderr
    assert f"{src}:5:9: error[E0400]" in err  # price has no provenance
    assert "error[E0200]" in err  # Currency + Fraction
    assert "^" in err and "Traceback" not in err


def test_check_ok_exits_zero() -> None:
    proc = run_cli("check", str(REVENUE))
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["check", "does/not/exist.pel"], "E0010"),
        (["run", "x.txt"], "E0010"),
        (["run", str(REVENUE), "--mode", "fast"], "E0011"),
        (["run", str(REVENUE), "--runs", "-3"], "E0011"),
        (["run", str(REVENUE), "--set", "nonsense"], "E0011"),
        (["run", str(REVENUE), "--set", "unknown=1"], "E0600"),
        (["run", str(REVENUE), "--set", "starting_mrr=6mo"], "E0200"),
        (["run", str(REVENUE), "--set", "starting_mrr=€5"], "E0201"),
        (["frobnicate"], "E0011"),
    ],
)
def test_user_errors_are_coded_never_tracebacks(args: list[str], code: str, capsys: pytest.CaptureFixture) -> None:
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err, err
    assert "Traceback" not in err


def test_garbage_files_are_refused_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    binary = tmp_path / "binary.pel"
    binary.write_bytes(b"\x00\xff\xfe garbage \x80")
    assert main(["check", str(binary)]) == 1
    bad_json = tmp_path / "bad.ir.json"
    bad_json.write_text('{"format_version": "0.1.0", "model": ')
    assert main(["run", str(bad_json)]) == 1
    bad_pack = tmp_path / "bad.ir.msgpack"
    bad_pack.write_bytes(b"\x93\x01\x02")
    assert main(["run", str(bad_pack)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error[") >= 3


def test_other_format_version_is_refused(model_copy: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compile", str(model_copy)]) == 0
    ir_file = model_copy.with_name("revenue.ir.json")
    data = json.loads(ir_file.read_text())
    data["format_version"] = "9.0.0"
    ir_file.write_text(json.dumps(data))
    assert main(["run", str(ir_file)]) == 1
    assert "9.0.0" in capsys.readouterr().err


def test_hand_edited_ir_is_refused(model_copy: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["compile", str(model_copy)]) == 0
    ir_file = model_copy.with_name("revenue.ir.json")
    ir_file.write_text(ir_file.read_text().replace("80000.0", "90000.0"))
    assert main(["run", str(ir_file)]) == 1
    assert "V012" in capsys.readouterr().err


GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("stage", ["tokens", "ast", "ir"])
def test_emit_matches_golden_file(stage: str, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--emit` dumps are golden files; regenerate with PEL_REGEN_GOLDEN=1, never by hand."""
    import os

    monkeypatch.chdir(REVENUE.parents[1])
    assert main(["compile", "examples/revenue_forecast.pel", "--emit", stage]) == 0
    out = capsys.readouterr().out
    golden = GOLDEN / f"revenue_forecast.{stage}.txt"
    if os.environ.get("PEL_REGEN_GOLDEN"):
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8"), f"{stage} dump changed; regenerate with PEL_REGEN_GOLDEN=1"
