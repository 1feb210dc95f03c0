"""`pel fix`: mechanical repairs driven by the compiler's diagnostics, and the command around them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pel.cli import main
from pel.pipeline import compile_source
from pel.tools.fix import STUB_SOURCE, compile_errors, fix_source, unified_diff
from tests.conftest import corpus_labels, shared_dir

OLD_MODEL = """\
// written for the earlier implementation
model Old {
  param price: Currency<USD> = $100  // list price
  param churn: Fraction = 5% {
    source: "crm", method: "observed", confidence: 0.9
  }

  var revenue: TimeSeries<Currency<USD>>
  revenue[t] = price * (1 - churn)

  constraint positive: revenue[t] > $0 {
    severity: error,
    message: "no revenue"
  }
  constraint soft {
    revenue[t] > $10 with severity(critical) with message("low")
  }
}
"""

FIXED_MODEL = OLD_MODEL.replace(
    "= $100  // list price",
    '= $100 {\n    source: "' + STUB_SOURCE + '",\n    method: "assumption",\n    confidence: 0.5\n  }  // list price',
).replace("severity: error", "severity: fatal").replace("severity(critical)", "severity(fatal)")

STUB = re.compile(r' \{\r?\n[ \t]*source: "' + re.escape(STUB_SOURCE) + r'",\r?\n[ \t]*method: "assumption",\r?\n'
                  r"[ \t]*confidence: 0\.5\r?\n[ \t]*\}")


def test_repairs_stub_and_severity_and_leaves_the_rest() -> None:
    result = fix_source(OLD_MODEL, "old.pel")
    assert result.fixed == FIXED_MODEL
    assert result.errors_before == 3 and result.remaining == []
    assert result.changes == [
        "line 3: provenance stub for 'price' (method \"assumption\", confidence 0.5)",
        "line 12: severity error -> fatal",
        "line 16: severity critical -> fatal",
    ]
    compiled = compile_source(result.fixed, "old.pel")
    assert [w.code for w in compiled.warnings] == ["W0403"]  # the stub keeps being reported


def test_stub_follows_crlf_line_endings() -> None:
    source = "model M {\r\n  param a: Fraction = 0.5\r\n  var b = a\r\n}\r\n"
    fixed = fix_source(source).fixed
    assert compile_errors(fixed, "<string>") == []
    assert "\r\n" in fixed and "\n" not in fixed.replace("\r\n", "")


def test_nothing_to_fix_and_non_mechanical_errors() -> None:
    clean = fix_source(FIXED_MODEL)
    assert not clean.changed and clean.remaining == []
    broken = fix_source("model M {\n  param a: Fraction = 0.5\n  var b = undefined_name\n}\n")
    assert [d.code for d in broken.remaining] == ["E0600"]
    assert broken.changed  # the stub was still added
    syntax = fix_source("model M {\n  param = \n}\n")
    assert not syntax.changed and syntax.remaining[0].code == "E0005"


def test_diff_is_unified_and_names_the_file() -> None:
    diff = unified_diff(fix_source(OLD_MODEL, "old.pel"), "old.pel")
    assert diff.startswith("--- old.pel\n+++ old.pel\n")
    assert "-    severity: error,\n+    severity: fatal,\n" in diff


def test_cli_prints_diff_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "old.pel"
    model.write_text(OLD_MODEL, encoding="utf-8")
    assert main(["fix", str(model)]) == 0
    assert "+    severity: fatal," in capsys.readouterr().out
    assert model.read_text(encoding="utf-8") == OLD_MODEL  # without --write nothing changes
    assert main(["fix", str(model), "--write"]) == 0
    assert model.read_text(encoding="utf-8") == FIXED_MODEL
    capsys.readouterr()
    assert main(["fix", str(model)]) == 0
    out = capsys.readouterr()
    assert "nothing to fix" in out.err and out.out == ""


def test_cli_keeps_a_byte_order_mark(tmp_path: Path) -> None:
    model = tmp_path / "bom.pel"
    model.write_bytes(b"\xef\xbb\xbf" + OLD_MODEL.encode("utf-8"))
    assert main(["fix", str(model), "--write"]) == 0
    assert model.read_bytes() == b"\xef\xbb\xbf" + FIXED_MODEL.encode("utf-8")


def test_cli_exit_1_lists_what_remains(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "half.pel"
    model.write_text("model M {\n  param a: Fraction = 0.5\n  var b = nope\n}\n", encoding="utf-8")
    assert main(["fix", str(model), "--write"]) == 1
    err = capsys.readouterr().err
    assert "1 error(s) remain that are not mechanical" in err and "error[E0600]" in err
    assert STUB_SOURCE in model.read_text(encoding="utf-8")  # strictly fewer errors: written


def test_cli_missing_file_is_a_coded_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["fix", str(tmp_path / "absent.pel")]) == 1
    assert "error[E0010]" in capsys.readouterr().err


# --- the corpus: error models whose only errors are mechanical ones --------------------------------------

MECHANICAL = frozenset({"E0400", "E0504"})
ERROR_MODELS = [r["file"] for r in corpus_labels() if r["label"] == "error"]


def _mechanical_only(name: str) -> tuple[str, bool]:
    source = (shared_dir("corpus", "models") / name).read_text(encoding="utf-8")
    codes = {d.code for d in compile_errors(source, name)}
    return source, bool(codes) and codes <= MECHANICAL


def test_corpus_has_mechanical_error_models() -> None:
    shared_dir("corpus", "models", "LABELS.tsv")
    assert sum(_mechanical_only(name)[1] for name in ERROR_MODELS) >= 16


@pytest.mark.parametrize("name", ERROR_MODELS)
def test_corpus_error_models_are_repaired_where_mechanical(name: str) -> None:
    source, mechanical = _mechanical_only(name)
    result = fix_source(source, name)
    if not mechanical:  # the repairs never add an error; what needs a person remains, reported
        before = {d.code for d in compile_errors(source, name)}
        assert {d.code for d in result.remaining} <= before and len(result.remaining) <= result.errors_before
        return
    assert result.remaining == [], [d.header() for d in result.remaining]
    compile_source(result.fixed, name)
    # the rest of the file is untouched: without the stubs, lines differ only by the severity word
    before, after = source.splitlines(), STUB.sub("", result.fixed).splitlines()
    assert len(before) == len(after)
    for old, new in zip(before, after, strict=True):
        assert old == new or re.sub(r"\b(error|critical|severe|high)\b", "fatal", old) == new, (old, new)
