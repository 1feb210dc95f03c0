"""Sobol indices on benchmarks/models/saas_bench.pel against a plain Monte Carlo run: time per model evaluation of
the Saltelli design (all uncertain parameters, N base samples, every output at the horizon) over the run's time
per path, measured in the same session (target: within 1.5x).

Run with `python -m pytest benchmarks/bench_sensitivity.py --benchmark-only -p no:xdist`; BENCH_SOBOL_N (default
2**14) sets N, BENCH_ROUNDS (default 3) the rounds. The two are timed alternately, round by round, and the ratio uses
the minimum of each; it is printed and stored in `benchmark.extra_info`, never asserted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import pel
from benchmarks.conftest import env_int
from pel.analysis import sensitivity as sa

MODEL = Path(__file__).resolve().parent / "models" / "saas_bench.pel"
N = env_int("BENCH_SOBOL_N", 2 ** 14)
ROUNDS = env_int("BENCH_ROUNDS", 3)
STEPS = 60
SEED = 42
THREADS = 2


def test_sobol_per_evaluation_against_monte_carlo_per_path(benchmark) -> None:
    model = pel.compile(MODEL)
    program = model.program
    targets = sa.parse_targets(None, program.model, STEPS)
    k = len([p for p in program.model.params if p.distribution is not None])
    evaluations = N * (k + 2)
    sa.sobol(program, targets, steps=STEPS, runs=256, seed=SEED, threads=THREADS, resamples=10)  # warm
    model.run("monte_carlo", runs=4096, seed=SEED, steps=STEPS, threads=THREADS)
    sobol_s, mc_s = [], []
    for _ in range(ROUNDS):  # interleaved: both see the same machine state
        t0 = time.perf_counter()
        sa.sobol(program, targets, steps=STEPS, runs=N, seed=SEED, threads=THREADS, resamples=100)
        sobol_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.run("monte_carlo", runs=evaluations, seed=SEED, steps=STEPS, threads=THREADS)
        mc_s.append(time.perf_counter() - t0)
    per_eval, per_path = min(sobol_s) / evaluations, min(mc_s) / evaluations
    ratio = per_eval / per_path
    benchmark.extra_info.update(n=N, k=k, evaluations=evaluations, outputs=len(targets),
                                sobol_seconds=min(sobol_s), monte_carlo_seconds=min(mc_s), ratio=ratio)
    print(f"\nSobol on saas_bench ({k} uncertain parameters, N = {N:,}, {evaluations:,} evaluations, "
          f"{len(targets)} outputs at t = {STEPS}, {THREADS} threads): {min(sobol_s):.2f} s; a Monte Carlo run of "
          f"{evaluations:,} paths: {min(mc_s):.2f} s; per evaluation / per path = {ratio:.2f}x (target <= 1.5x)")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "--benchmark-only", "-p", "no:xdist", "-s"])
