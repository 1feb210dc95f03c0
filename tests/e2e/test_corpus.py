"""The shared corpus: valid models compile and run, error models fail with their labelled first code, no tracebacks."""

from __future__ import annotations

import math

import pytest

import pel
from pel.diagnostics import CompileError, PelError, RunError
from tests.conftest import CORPUS_MODELS as MODELS
from tests.conftest import corpus_labels

LABELS = corpus_labels()
VALID = [r["file"] for r in LABELS if r["label"] == "valid"]
ERRORS = [(r["file"], r["expected_code"]) for r in LABELS if r["label"] == "error"]
OTHER = [r["file"] for r in LABELS if r["label"] not in ("valid", "error", "needs-stdlib")]
# needs-stdlib models call the shipped standard library (pel/stdlib) without an import; these still fail:
STDLIB_GAPS: dict[str, str] = {}  # none left: each one compiles and runs, or is refused below for its own reason
# needs-stdlib models whose refusal is the right outcome: (phase, first code, words of the report)
STDLIB_REFUSED = {
    # a sketch of how modules combine: arpu, churn, cac and the other inputs are never declared, and inventing
    # them would not be the tutorial's model
    "tutorial_07_stdlib_functions_block_11.pel": ("compile", "E0600", "undefined identifier 'arpu'"),
    # cohort_retention(initial_size:, retention_rates: [...]) gives an array as long as the curve (6 months);
    # the model reads retention_curve[t] over the default 12-month horizon, so step 6 is out of range (it runs
    # over the steps its data covers: test_cohort_curve_runs_over_the_steps_it_covers)
    "tutorial_07_stdlib_functions_block_30.pel": ("run", "E0301", "at t=6"),
}
STDLIB = [
    pytest.param(r["file"], marks=pytest.mark.xfail(strict=True, raises=CompileError, reason=STDLIB_GAPS[r["file"]]))
    if r["file"] in STDLIB_GAPS else r["file"]
    for r in LABELS if r["label"] == "needs-stdlib" and r["file"] not in STDLIB_REFUSED
]
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
        pass  # a diagnostic is a clean outcome for unsure/exercise/future models


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


@needs_shared
@pytest.mark.parametrize("name", STDLIB)
def test_needs_stdlib_model_compiles_and_runs(name: str) -> None:
    model = pel.compile(MODELS / name)
    _finite_or_reported(model.run("deterministic").to_dict())
    _finite_or_reported(model.run("monte_carlo", runs=200, seed=7).to_dict())


@needs_shared
@pytest.mark.parametrize("name", sorted(STDLIB_REFUSED))
def test_needs_stdlib_model_refused_with_code(name: str) -> None:
    phase, code, where = STDLIB_REFUSED[name]
    with pytest.raises(CompileError if phase == "compile" else RunError) as info:
        pel.compile(MODELS / name).run("deterministic")
    assert info.value.diagnostics[0].code == code, info.value.render()
    assert where in info.value.render()
    if phase == "compile":  # every stdlib function it calls resolves: what is missing is the model's own inputs
        errors = [d for d in info.value.diagnostics if d.level == "error"]
        assert all(d.code == "E0600" and d.message.startswith("undefined identifier") for d in errors), \
            info.value.render()


@needs_shared
def test_cohort_curve_runs_over_the_steps_it_covers() -> None:
    """tutorial_07 block 30 reads a 6-point retention curve by t: within its data it runs, with the tutorial's
    values (retention_curve[t] = 1000 * rate[t], revenue = that * $99)."""
    rates = [1.0, 0.60, 0.40, 0.30, 0.25, 0.22]
    result = pel.compile(MODELS / "tutorial_07_stdlib_functions_block_30.pel").run("deterministic", steps=5)
    assert list(result["monthly_revenue"].mean) == pytest.approx([1000 * r * 99 for r in rates], rel=1e-12)
    assert result.to_dict()["warnings"] == []  # 220 at t = 5: the cohort stays at or above 200 within its data
