"""The shared corpus: valid models compile and run, error models fail with their labelled first code, no tracebacks."""

from __future__ import annotations

import math

import pytest

import pel
from pel.diagnostics import CompileError, PelError
from tests.conftest import CORPUS_MODELS as MODELS
from tests.conftest import corpus_labels

LABELS = corpus_labels()
VALID = [r["file"] for r in LABELS if r["label"] == "valid"]
ERRORS = [(r["file"], r["expected_code"]) for r in LABELS if r["label"] == "error"]
OTHER = [r["file"] for r in LABELS if r["label"] not in ("valid", "error")]
needs_shared = pytest.mark.skipif(not LABELS, reason="../shared/corpus is not present")


def _first_error(exc: CompileError) -> str:
    return next(d.code for d in exc.diagnostics if d.level == "error")


@needs_shared
@pytest.mark.parametrize("name", VALID)
def test_valid_model_compiles(name: str) -> None:
    try:
        pel.compile(MODELS / name)
    except CompileError as exc:
        pytest.fail(f"{name} should compile:\n{exc.render()}")


@needs_shared
@pytest.mark.parametrize(("name", "code"), ERRORS)
def test_error_model_refused_with_code(name: str, code: str) -> None:
    with pytest.raises(CompileError) as info:
        pel.compile(MODELS / name)
    assert _first_error(info.value) == code, info.value.render()


@needs_shared
@pytest.mark.parametrize("name", OTHER)
def test_other_models_give_a_clean_outcome(name: str) -> None:
    try:
        pel.compile(MODELS / name)
    except PelError:
        pass  # a diagnostic is a clean outcome for unsure/exercise/future/needs-stdlib models


def _finite_or_reported(result: dict) -> None:
    if result["status"] == "constraint_violation":
        assert result["violations"], "a constraint_violation status must name the violation"
        return
    for key, value in result.items():
        points = value if isinstance(value, list) else [value]
        for point in points:
            if isinstance(point, dict) and "value" in point and isinstance(point["value"], float):
                assert math.isfinite(point["value"]), f"{key}: non-finite value {point}"


@needs_shared
@pytest.mark.parametrize("name", VALID)
def test_valid_model_runs_both_modes(name: str) -> None:
    model = pel.compile(MODELS / name)
    det = model.run("deterministic")
    _finite_or_reported(det.to_dict())
    mc = model.run("monte_carlo", runs=1000, seed=7)
    _finite_or_reported(mc.to_dict())
