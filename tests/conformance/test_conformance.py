"""Conformance corpus: one test per case (deviations xfail strictly) and a pass-rate floor for the frontend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conformance import runner

ROOT = runner.shared_root(Path(__file__))
DEVIATIONS_FILE = Path(__file__).with_name("DEVIATIONS.md")
MIN_FRONTEND_PASS_RATE = 0.90


def deviations() -> dict[str, str]:
    """case id -> the row's reason, from the table in DEVIATIONS.md."""
    rows: dict[str, str] = {}
    for line in DEVIATIONS_FILE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"\|\s*(CONF-[A-Z]+-\d+)\s*\|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = m.group(2).split("|")[-1].strip()
    return rows


DEVIATIONS = deviations()
CASES = runner.load_cases(ROOT) if ROOT is not None else []
_OUTCOMES: dict[str, runner.Outcome] = {}  # filled by test_case, reused by the summary


def outcome_of(case: runner.Case) -> runner.Outcome:
    if case.id not in _OUTCOMES:
        _OUTCOMES[case.id] = runner.evaluate(case)
    return _OUTCOMES[case.id]


def _param(case: runner.Case):
    marks = []
    if case.id in DEVIATIONS:
        marks.append(pytest.mark.xfail(strict=True, reason=f"deviation: {DEVIATIONS[case.id]}"))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.skipif(ROOT is None, reason="../shared not present")
@pytest.mark.parametrize("case", [_param(c) for c in CASES] or [pytest.param(None, id="no-cases")])
def test_case(case: runner.Case) -> None:
    outcome = outcome_of(case)
    if outcome.status == "skip":
        pytest.skip(outcome.detail)
    assert outcome.passed, f"{case.id} ({case.description}): {outcome.detail}"


@pytest.mark.skipif(ROOT is None, reason="../shared not present")
def test_frontend_pass_rate() -> None:
    outcomes = [outcome_of(c) for c in CASES if c.category in runner.FRONTEND_CATEGORIES]
    rates = runner.pass_rates(outcomes, exclude=DEVIATIONS)
    passed = sum(p for p, _ in rates.values())
    total = sum(n for _, n in rates.values())
    assert total == 230, rates
    assert passed / total >= MIN_FRONTEND_PASS_RATE, (rates, passed, total)


def test_deviations_are_known_cases() -> None:
    if ROOT is None:
        pytest.skip("../shared not present")
    ids = {c.id for c in CASES}
    assert set(DEVIATIONS) <= ids, sorted(set(DEVIATIONS) - ids)
    assert all(DEVIATIONS.values())


def test_type_name_mapping() -> None:
    assert runner.pel_type_name("Int") == "Fraction"
    assert runner.pel_type_name("[Int]") == "Array<Fraction>"
    assert runner.pel_type_name("Distribution<Int>") == "Fraction"
    assert runner.pel_type_name("TimeSeries<Currency<USD>>") == "TimeSeries<Currency<USD>>"
    assert runner.pel_type_name("Func(Int, Int) -> Int") == "Func(Fraction, Fraction) -> Fraction"
    assert runner.pel_type_name("Bool") == "Boolean"


def test_corpus_values() -> None:
    assert runner._number("$150") == 150
    assert runner._number("45d") == pytest.approx(1.5)
    assert runner._number("$33.33/d") == pytest.approx(999.9)


PROV = '{ source: "s", method: "observed", confidence: 0.9 }'


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("var x: Int = 3.14", "E0100"),
        ("var x: Int = -2.5", "E0100"),
        ("var nums: [Int] = [1, 2.5, 3]", "E0100"),
        (f"param p: Int = 1.5 {PROV}", "E0100"),
        ("func double(x: Int) -> Int { return x * 2 }\n var r = double(3.14)", "E0100"),
        ('var x = ~Normal(μ="invalid", σ=1)', "E0100"),
    ],
)
def test_checker_fixes_reject(source: str, code: str) -> None:
    from pel.diagnostics import CompileError
    from pel.pipeline import compile_source

    with pytest.raises(CompileError) as info:
        compile_source(f"model m {{\n  {source}\n}}\n")
    assert [d.code for d in info.value.diagnostics if d.level == "error"] == [code]


@pytest.mark.parametrize(
    "source",
    [
        "var x: Int = 42",
        "var x: Int = 3.0",
        "var x: TimeSeries<Int>\n x[0] = 1\n x[t+1] = x[t] * 1.5",
        f"param a: Int = ~Normal(μ=100, σ=10) {PROV}",
        "func double(x: Int) -> Int { return x * 2 }\n var r = double(5)",
    ],
)
def test_checker_fixes_accept(source: str) -> None:
    from pel.pipeline import compile_source

    compile_source(f"model m {{\n  {source}\n}}\n")


@pytest.mark.parametrize("kind", ["calibration", "drift"])
def test_analysis_mapping_fits_what_the_outputs_depend_on(kind: str) -> None:
    """The calibration/drift mapping fits a parameter an output depends on, and fails when it cannot recover it."""
    source = ('model m {\n  param growth: Rate per Month = 0.05 / 1mo\n  param base: Fraction ~ Normal(μ=0.5, σ=0.1)\n'
              '  param unused = 7\n  var mrr: TimeSeries<Currency<USD>>\n  mrr[0] = $100\n'
              '  mrr[t+1] = mrr[t] * (1 + growth * 1mo)\n  var level: TimeSeries<Fraction>\n  level[t] = base * 2\n'
              '  simulate for 12mo\n}\n')
    case = runner.Case("SELF-1", "runtime", "self test", source, {"type": "success", "analysis_type": kind}, Path("."))
    out = runner.evaluate(case)
    assert out.status == "pass", out.detail
    assert f"{kind}: fitted growth, base" == out.detail
    # a parameter the fit cannot take (text) is a mismatch, not a pass
    bad = runner.Case("SELF-2", "runtime", "self test", 'model m {\n  param flag = true\n}\n',
                      {"type": "success", "analysis_type": kind}, Path("."))
    out = runner.evaluate(bad)
    assert out.status == "fail" and "cannot be fitted" in out.detail
