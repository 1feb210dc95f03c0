"""Monte Carlo throughput on benchmarks/models/saas_bench.pel: PEL vs a hand-written numba kernel and numpy.

Run with `python -m pytest benchmarks/bench_saas.py --benchmark-only -p no:xdist`; BENCH_PATHS (default 100,000;
1,000,000 for the DESIGN §7 target) sets the paths of the comparison, BENCH_ROUNDS (default 3) its rounds,
BENCH_SCALING_ROUNDS (default 2) the rounds of the scaling tables. Every timed call is warmed first (numba JIT and
PEL's kernel load happen outside the timings). Ratios use the minimum of the rounds of each benchmark measured in
the same session; they are printed, stored in `benchmark.extra_info`, and never asserted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pel
from benchmarks import baselines
from benchmarks.conftest import Timings, env_int

MODEL = Path(__file__).resolve().parent / "models" / "saas_bench.pel"
PATHS = env_int("BENCH_PATHS", 100_000)
ROUNDS = env_int("BENCH_ROUNDS", 3)
SCALING_ROUNDS = env_int("BENCH_SCALING_ROUNDS", 2)
STEPS = 60
SEED = 42
SCALING_PATHS = [n for n in (10_000, 30_000, 100_000, 300_000, 1_000_000) if n <= max(PATHS, 10_000)]
SCALING_STEPS = (12, 60, 120, 240)
SCALING_STEPS_PATHS = min(PATHS, 100_000)


@pytest.fixture(scope="module")
def model() -> pel.Model:
    """The compiled model with its kernel loaded (JIT or cache) by a run on both 1 and 2 threads."""
    m = pel.compile(MODEL)
    for threads in (1, 2):
        m.run("monte_carlo", runs=3 * baselines.BLOCK_SIZE, seed=SEED, steps=STEPS, threads=threads)
    return m


@pytest.fixture(scope="module")
def warm_baselines() -> None:
    baselines.warm_numba()
    baselines.run_numpy(1_000, steps=3)


def _check(summary: baselines.Summary, steps: int) -> None:
    """Correctness, not speed: every statistic finite, t=0 exactly the initial state, percentiles ordered."""
    for name in baselines.OUTPUTS:
        stats = summary.stats[name]
        for key, values in stats.items():
            assert values.shape == (steps + 1,), (name, key)
            assert np.isfinite(values).all(), (name, key)
        pct = np.stack([stats[f"p{q}"] for q in baselines.PERCENTILES])
        assert (np.diff(pct, axis=0) >= 0).all(), name
    first = {"customers": baselines.INITIAL_CUSTOMERS, "cash": baselines.STARTING_CASH, "mrr": None,
             "cumulative_revenue": 0.0, "deferred_revenue": 0.0}
    for name, value in first.items():
        if value is not None:
            assert summary.stats[name]["mean"][0] == value, name
            assert summary.stats[name]["std"][0] == 0.0, name


EXACT = 1 << 40  # a memory budget that keeps percentiles exact: the same work as the baselines


def _pel(model: pel.Model, runs: int, steps: int, threads: int) -> baselines.Summary:
    return baselines.pel_summary(model.run("monte_carlo", runs=runs, seed=SEED, steps=steps, threads=threads,
                                           memory_limit=EXACT))


def _fmt(x: float | None) -> str:
    return "n/a (not measured in this session)" if x is None else f"{x:.2f}x"


# ---------------------------------------------------------------------------------------------
# The comparison: numpy, numba and PEL at BENCH_PATHS x 60 steps, 1 and 2 threads
# ---------------------------------------------------------------------------------------------


def test_numpy_vectorized(benchmark, warm_baselines, timings: Timings) -> None:  # noqa: ARG001
    benchmark.group = f"saas {PATHS:,} paths x {STEPS} steps, 1 thread"
    summary = benchmark.pedantic(baselines.run_numpy, args=(PATHS, STEPS, SEED), rounds=ROUNDS, iterations=1)
    _check(summary, STEPS)
    timings.record(("numpy", 1), benchmark)


@pytest.mark.parametrize("threads", [1, 2])
def test_numba_handwritten(benchmark, warm_baselines, timings: Timings, threads: int) -> None:  # noqa: ARG001
    benchmark.group = f"saas {PATHS:,} paths x {STEPS} steps, {threads} thread{'s' if threads > 1 else ''}"
    summary = benchmark.pedantic(baselines.run_numba, args=(PATHS, STEPS, SEED, threads), rounds=ROUNDS,
                                 iterations=1)
    _check(summary, STEPS)
    timings.record(("numba", threads), benchmark)
    speedup = timings.ratio(("numba", 1), ("numba", 2))
    if threads == 2:
        benchmark.extra_info["numba_1_thread_over_2_threads"] = speedup
        timings.report(f"numba baseline, {PATHS:,} paths: 1 thread / 2 threads = {_fmt(speedup)}")


@pytest.mark.parametrize("threads", [1, 2])
def test_pel(benchmark, model: pel.Model, timings: Timings, threads: int) -> None:
    benchmark.group = f"saas {PATHS:,} paths x {STEPS} steps, {threads} thread{'s' if threads > 1 else ''}"
    summary = benchmark.pedantic(_pel, args=(model, PATHS, STEPS, threads), rounds=ROUNDS, iterations=1)
    _check(summary, STEPS)
    timings.record(("pel", threads), benchmark)
    ratios = {
        "pel_over_numba": timings.ratio(("pel", threads), ("numba", threads)),
        "numpy_over_pel": timings.ratio(("numpy", 1), ("pel", threads)),
    }
    if threads == 2:
        ratios["pel_1_thread_over_2_threads"] = timings.ratio(("pel", 1), ("pel", 2))
    benchmark.extra_info.update(paths=PATHS, steps=STEPS, threads=threads, **ratios)
    line = (f"PEL {PATHS:,} paths x {STEPS} steps, {threads} thread(s): "
            f"PEL / numba = {_fmt(ratios['pel_over_numba'])} (target <= 1.25x), "
            f"numpy / PEL = {_fmt(ratios['numpy_over_pel'])} (target >= 2x)")
    if threads == 2:
        line += f", PEL 1 thread / 2 threads = {_fmt(ratios['pel_1_thread_over_2_threads'])} (target >= 1.7x)"
    timings.report(line)


# ---------------------------------------------------------------------------------------------
# Scaling: PEL cost against paths (60 steps) and against steps, one thread (DESIGN §7: linear)
# ---------------------------------------------------------------------------------------------


def _scaling_report(benchmark, timings: Timings, key: tuple, runs: int, steps: int, kind: str,
                    sizes: list[tuple]) -> None:
    best = timings.record(key, benchmark)
    ns = best / (runs * (steps + 1)) * 1e9
    benchmark.extra_info.update(paths=runs, steps=steps, ns_per_path_step=round(ns, 2))
    timings.report(f"PEL scaling by {kind}: {runs:,} paths x {steps} steps: {best:.3f} s, {ns:.1f} ns per path-step")
    if key == sizes[-1]:  # the last size: relative cost per path-step of every size measured (1.00 = linear)
        measured = [(k, timings.best[k] / (k[1] * (k[2] + 1))) for k in sizes if k in timings.best]
        ref = measured[-1][1]
        table = ", ".join(f"{k[1]:,}x{k[2]}: {c / ref:.2f}" for k, c in measured)
        benchmark.extra_info["cost_per_path_step_relative_to_largest"] = {f"{k[1]}x{k[2]}": round(c / ref, 3)
                                                                          for k, c in measured}
        timings.report(f"PEL scaling by {kind}, cost per path-step relative to the largest (1.00 = linear): {table}")


@pytest.mark.parametrize("runs", SCALING_PATHS)
def test_pel_scaling_paths(benchmark, model: pel.Model, timings: Timings, runs: int) -> None:
    benchmark.group = f"scaling: paths ({STEPS} steps, 1 thread)"
    summary = benchmark.pedantic(_pel, args=(model, runs, STEPS, 1), rounds=SCALING_ROUNDS, iterations=1)
    _check(summary, STEPS)
    sizes = [("scale-paths", n, STEPS) for n in SCALING_PATHS]
    _scaling_report(benchmark, timings, ("scale-paths", runs, STEPS), runs, STEPS, "paths", sizes)


@pytest.mark.parametrize("steps", SCALING_STEPS)
def test_pel_scaling_steps(benchmark, model: pel.Model, timings: Timings, steps: int) -> None:
    benchmark.group = f"scaling: steps ({SCALING_STEPS_PATHS:,} paths, 1 thread)"
    runs = SCALING_STEPS_PATHS
    summary = benchmark.pedantic(_pel, args=(model, runs, steps, 1), rounds=SCALING_ROUNDS, iterations=1)
    _check(summary, steps)
    sizes = [("scale-steps", runs, s) for s in SCALING_STEPS]
    _scaling_report(benchmark, timings, ("scale-steps", runs, steps), runs, steps, "steps", sizes)
