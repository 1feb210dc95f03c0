"""Helpers shared by the frontend pass tests: the one diagnostic of a code, a corpus model parsed or skipped."""

from __future__ import annotations

import pytest

from pel.diagnostics import CompileError, Diagnostic, DiagnosticBag
from pel.frontend import ast
from pel.frontend.parser import parse
from tests.conftest import CORPUS_MODELS


def only(bag: DiagnosticBag, code: str) -> Diagnostic:
    """The one diagnostic with `code` in the bag (fails unless there is exactly one)."""
    found = [d for d in bag.items if d.code == code]
    assert len(found) == 1, bag.items
    return found[0]


def parse_corpus_model(name: str) -> ast.Model:
    """A corpus model parsed, or the test skipped when the parser refuses it."""
    source = (CORPUS_MODELS / name).read_text(encoding="utf-8-sig")
    try:
        return parse(source, name)
    except CompileError as exc:
        pytest.skip(f"the parser refuses {name}: {exc.diagnostics[0].header()}")
