"""Parse every corpus model: the valid ones (and those whose expected error is not a syntax error) must parse;
the ones labelled E0005 must fail with E0005 first; nothing may raise anything but CompileError."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pel.diagnostics import CompileError
from pel.frontend.parser import parse

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
MODELS = SHARED / "corpus" / "models"

def _labels() -> dict[str, dict[str, str]]:
    if not MODELS.is_dir():
        return {}
    with open(MODELS / "LABELS.tsv", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh, delimiter="\t")}


LABELS = _labels()
FILES = sorted(LABELS)


def _expect_syntax_error(row: dict[str, str]) -> bool | None:
    """True: must fail with E0005 first; False: must parse; None: not checked (exercise stubs with `???`)."""
    if row["label"] in ("exercise",):
        return None
    return row["label"] == "error" and row["expected_code"] == "E0005"


@pytest.mark.skipif(not MODELS.is_dir(), reason="../shared not present")
@pytest.mark.parametrize("name", FILES or ["<none>"])
def test_corpus_model_parses_as_labelled(name):
    row = LABELS[name]
    source = (MODELS / name).read_text(encoding="utf-8")
    expect = _expect_syntax_error(row)
    try:
        parse(source, name)
    except CompileError as exc:
        if expect is None:
            return
        assert expect, f"{name} ({row['label']}) must parse:\n{exc.render()}"
        assert exc.diagnostics[0].code == "E0005", exc.render()
        return
    assert expect is not True, f"{name} is labelled E0005 but parsed"


@pytest.mark.skipif(not MODELS.is_dir(), reason="../shared not present")
def test_corpus_counts():
    """Summary: how many corpus models parse, and how many fail as labelled."""
    parsed = failed = 0
    for name in FILES:
        try:
            parse((MODELS / name).read_text(encoding="utf-8"), name)
            parsed += 1
        except CompileError:
            failed += 1
    print(f"\ncorpus: {len(FILES)} models, {parsed} parse, {failed} refused")
    assert parsed + failed == len(FILES)
