"""The hand-written baselines compute the same model as saas_bench.pel: PEL and both agree within standard errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pel
from benchmarks import baselines

MODEL = Path(__file__).resolve().parent / "models" / "saas_bench.pel"
RUNS = 20_000
STEPS = 60
Z = 5.0  # tolerance in standard errors (305 correlated cells per comparison: a false alarm is very unlikely)


@pytest.fixture(scope="module")
def summaries() -> dict[str, baselines.Summary]:
    model = pel.compile(MODEL)
    res = model.run("monte_carlo", runs=RUNS, seed=7, steps=STEPS, threads=2)
    return {
        "pel": baselines.pel_summary(res),
        "numba": baselines.run_numba(RUNS, STEPS, seed=11, threads=2),
        "numpy": baselines.run_numpy(RUNS, STEPS, seed=13),
    }


@pytest.mark.parametrize("other", ["numba", "numpy"])
def test_means_agree_with_pel(summaries: dict[str, baselines.Summary], other: str) -> None:
    a, b = summaries["pel"], summaries[other]
    for name in baselines.OUTPUTS:
        sa, sb = a.stats[name], b.stats[name]
        se = np.sqrt((sa["std"] ** 2 + sb["std"] ** 2) / RUNS)
        gap = np.abs(sa["mean"] - sb["mean"])
        assert (gap <= Z * se + 1e-9 * np.abs(sa["mean"])).all(), (name, int(np.argmax(gap / np.maximum(se, 1e-300))))
        # spread and median: same distributions, so within a few standard errors too (loose, not the point)
        np.testing.assert_allclose(sb["std"][1:], sa["std"][1:], rtol=0.1, err_msg=name)
        p50_gap = np.abs(sb["p50"] - sa["p50"])
        assert (p50_gap <= Z * 1.5 * se + 1e-9 * np.abs(sa["p50"])).all(), name


@pytest.mark.parametrize("impl", ["pel", "numba", "numpy"])
def test_first_step_matches_the_formulas(summaries: dict[str, baselines.Summary], impl: str) -> None:
    """E[customers[1]] = 1000 (1 + E[acq] - E[churn]); E[cash[1]] = cash0 - fixed - 1000 E[acq] E[cac] + margin E[mrr]."""
    s = summaries[impl]
    expected = {
        "customers": 1000 * (1 + baselines.ACQ_MU - baselines.CHURN_A / (baselines.CHURN_A + baselines.CHURN_B)),
        "cash": baselines.STARTING_CASH - baselines.FIXED_COSTS - 1000 * baselines.ACQ_MU * baselines.CAC_MEAN
        + baselines.GROSS_MARGIN * 1000 * baselines.ARPU_MU,
        "cumulative_revenue": 1000 * baselines.ARPU_MU,
    }
    for name, value in expected.items():
        se = s.stats[name]["std"][1] / math.sqrt(RUNS)
        assert abs(s.stats[name]["mean"][1] - value) <= Z * se, (impl, name, s.stats[name]["mean"][1], value)


@pytest.mark.parametrize("other", ["numba", "numpy"])
def test_constraint_rate_agrees(summaries: dict[str, baselines.Summary], other: str) -> None:
    a, b = summaries["pel"], summaries[other]
    pa, pb = a.violations / RUNS, b.violations / RUNS
    assert 0.01 < pa < 0.99  # the warning does fire on some paths, not all: the check is exercised
    assert abs(pa - pb) <= Z * math.sqrt(2 * pa * (1 - pa) / RUNS)
    assert abs(a.first_t_mean - b.first_t_mean) <= 2.0


def test_numba_is_thread_count_independent() -> None:
    one = baselines.run_numba(3 * baselines.BLOCK_SIZE + 17, 12, seed=3, threads=1)
    two = baselines.run_numba(3 * baselines.BLOCK_SIZE + 17, 12, seed=3, threads=2)
    for name in baselines.OUTPUTS:
        for key, values in one.stats[name].items():
            np.testing.assert_array_equal(values, two.stats[name][key])
    assert (one.violations, one.first_t_mean) == (two.violations, two.first_t_mean)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 100, 4097, 100_003])
def test_exact_percentiles_is_numpy_percentile(n: int) -> None:
    rng = np.random.default_rng(n)
    for row in (rng.normal(size=n), np.round(rng.lognormal(size=n), 1), np.full(n, 2.5)):
        np.testing.assert_array_equal(baselines.exact_percentiles(row), np.percentile(row, baselines.PERCENTILES))
