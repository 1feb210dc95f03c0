"""`pel fmt`: one canonical layout, only whitespace changes, idempotent, same IR before and after."""

from __future__ import annotations

from pathlib import Path

import pytest

from pel.cli import main
from pel.diagnostics import CompileError, PelError
from pel.ir import serialize
from pel.pipeline import compile_source, read_source
from pel.tools.fmt import format_source
from tests.conftest import CORPUS_MODELS, EXAMPLES, corpus_labels, shared_dir

MESSY = """\
// header comment



model   Messy{
    param price : Currency<USD> =$100{source:"crm",method:"observed",confidence:0.9}
      param churn: Rate per Month ~Normal(μ = 0.05/1mo,σ=0.01/1mo) {
          source: "cohorts",   // fitted monthly
          method: "fitted",
          confidence: 0.7
      }

   /* a block comment
      spanning lines */
   var revenue: TimeSeries<Currency<USD>>
   revenue[0]=price
   revenue[t + 1] = revenue[t]*(1-churn * 1mo)


   constraint positive: revenue[t]>$0 {severity: fatal}
   constraint soft {
   revenue[t] > $10
   with severity(warning) with message("low at {t}")
   }
}
"""

CANONICAL = """\
// header comment

model Messy {
  param price: Currency<USD> = $100 { source: "crm", method: "observed", confidence: 0.9 }
  param churn: Rate per Month ~ Normal(μ=0.05 / 1mo, σ=0.01 / 1mo) {
    source: "cohorts",  // fitted monthly
    method: "fitted",
    confidence: 0.7
  }

  /* a block comment
      spanning lines */
  var revenue: TimeSeries<Currency<USD>>
  revenue[0] = price
  revenue[t+1] = revenue[t] * (1 - churn * 1mo)

  constraint positive: revenue[t] > $0 { severity: fatal }
  constraint soft {
    revenue[t] > $10
      with severity(warning) with message("low at {t}")
  }
}
"""


def _ir(source: str) -> dict:
    """The IR as a dict without source locations (`loc`) and metadata (hashes, file name)."""
    def strip(x: object) -> object:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in ("loc", "metadata")}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return strip(serialize.to_dict(compile_source(source, "m.pel").program))


def test_canonical_layout() -> None:
    assert format_source(MESSY) == CANONICAL
    assert format_source(CANONICAL) == CANONICAL
    assert _ir(MESSY) == _ir(CANONICAL)


@pytest.mark.parametrize("source", [
    "model M {\n  param a: Fraction = -0.5 { source: \"s\", method: \"observed\", confidence: 1 }\n"
    "  var b = if a > 0 then -a else a % 2\n}\n",
    "model M {\r\n\tvar x: TimeSeries<Fraction>\r\n\tx[t] = t %12\r\n}",
    "\ufeffmodel M { var x = [1,2 , 3] }",
])
def test_idempotent_and_same_tokens(source: str) -> None:
    once = format_source(source)
    assert format_source(once) == once and once.endswith("\n") and "\r" not in once and "\t" not in once


def test_unlexable_file_is_a_coded_error() -> None:
    with pytest.raises(PelError) as info:
        format_source("model M { var x = 1 ? 2 }", "bad.pel")
    assert info.value.diagnostics[0].code == "E1201"


def test_cli_check_write_and_print(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    model = tmp_path / "m.pel"
    model.write_text(MESSY, encoding="utf-8")
    assert main(["fmt", str(model)]) == 0
    assert capsys.readouterr().out == CANONICAL
    assert main(["fmt", "--check", str(model)]) == 1
    assert capsys.readouterr().out == f"would reformat {model}\n"
    assert main(["fmt", "--write", str(model)]) == 0
    assert model.read_text(encoding="utf-8") == CANONICAL
    assert main(["fmt", "--check", str(model)]) == 0
    assert main(["fmt", "--check", "--write", str(model)]) == 1  # one mode at a time: a usage error


# --- every corpus model and the examples ------------------------------------------------------------------

CORPUS = [r["file"] for r in corpus_labels()]
EXAMPLE_MODELS = sorted(p.name for p in EXAMPLES.glob("*.pel"))


def _round_trip(path: Path) -> None:
    source = read_source(path)
    try:
        once = format_source(source, path.name)
    except PelError as exc:
        assert exc.diagnostics[0].code == "E1201"  # a model that does not tokenize is not formatted
        return
    assert format_source(once, path.name) == once, f"{path.name}: formatting is not idempotent"
    try:
        before = _ir(source)
    except CompileError:
        with pytest.raises(CompileError):
            compile_source(once, path.name)
        return
    assert _ir(once) == before, f"{path.name}: the formatted model compiles to another IR"


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_model_round_trips(name: str) -> None:
    _round_trip(shared_dir("corpus", "models") / name)


@pytest.mark.parametrize("name", EXAMPLE_MODELS)
def test_example_round_trips(name: str) -> None:
    _round_trip(EXAMPLES / name)


def test_corpus_counts() -> None:
    """Most of the corpus tokenizes and formats; every model that compiles keeps its IR."""
    shared_dir("corpus", "models", "LABELS.tsv")
    formatted = 0
    for name in CORPUS:
        try:
            format_source(read_source(CORPUS_MODELS / name), name)
            formatted += 1
        except PelError:
            pass
    assert formatted >= len(CORPUS) - 9
