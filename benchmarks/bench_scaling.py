"""Scaling of Monte Carlo runs of the benchmark SaaS model: time against paths, steps and threads (tables).

Run with `pytest benchmarks/bench_scaling.py -s` or `python benchmarks/bench_scaling.py`. Sizes are capped by
BENCH_SCALING_MAX_PATHS (default 10_000_000) and BENCH_SCALING_MAX_STEPS (default 240); e.g.
BENCH_SCALING_MAX_PATHS=200000 for a quick look. Each sweep is timed in BENCH_SWEEP_ROUNDS rounds (default 3)
of every size once (10 million paths only in the first; short runs repeated within a round), with a warm
kernel cache, and each size's best time is kept: this machine's neighbours slow runs by up to half for
stretches of seconds, never speed them up.

Targets (DESIGN.md §7), each against the largest run of its sweep:
* paths (10^4 ... 10^7, 60 steps, default memory limit: exact percentiles up to 1 GiB of values, the
  sketch beyond): the cost per path-step within 15% at every size;
* steps (12 ... 240, 100,000 paths): the cost is linear in the steps, cost per path = a + b * (steps + 1),
  every size within 15% of the fitted line. The cost per path-step against the largest run is reported
  too: a run of 12 steps also pays each path's fixed cost a (drawing its parameters, starting its
  recurrences, about a third of what its 13 steps cost), so its cost per path-step is higher by design;
* threads (10^6 paths x 60 steps): 2 threads at least 1.7x faster than 1 (timed alternately).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
MODEL = BENCH_DIR / "models" / "saas_bench.pel"
PATHS = (10_000, 100_000, 1_000_000, 10_000_000)
STEPS = (12, 24, 60, 120, 240)
STEPS_PATHS = 100_000  # paths of the steps sweep: exact percentiles at every size (240 steps: 0.96 GB)
LINEAR_TOLERANCE = 0.15
MIN_SPEEDUP = 1.7


def _env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").strip()
    return int(float(raw)) if raw else default


def _model():  # noqa: ANN202 - pel.Model
    import pel

    return pel.compile(str(MODEL))


MIN_ROUND_SECONDS = 0.7  # within a round, a short run repeats until timed this long (at most 20 times)


def _rounds() -> int:
    return max(1, _env("BENCH_SWEEP_ROUNDS", 3))


def _timed_all(model, sizes: list[tuple[int, int]], threads: int | None = None) -> list[tuple[float, str]]:  # noqa: ANN001
    """Best time of each (runs, steps) and how its percentiles were computed ("exact" or "sketch"). The sizes
    are timed in rounds, every size once per round (10 million paths in the first round only), so that a slow
    stretch of this shared machine spoils one sample of each size rather than every sample of one."""
    best = [float("inf")] * len(sizes)
    method = [""] * len(sizes)
    for r in range(_rounds()):
        for k, (runs, steps) in enumerate(sizes):
            if r and runs >= 10_000_000:
                continue
            total, count = 0.0, 0
            while count == 0 or (total < MIN_ROUND_SECONDS and count < 20):
                t0 = time.perf_counter()
                res = model.run("monte_carlo", runs=runs, steps=steps, seed=42, threads=threads)
                secs = time.perf_counter() - t0
                best[k] = min(best[k], secs)
                total += secs
                count += 1
                method[k] = res.percentiles["method"]
    return list(zip(best, method, strict=True))


def _table(title: str, head: str, rows: list[tuple[int, int, float, str]], key: str) -> tuple[str, list[float]]:
    """Rows (size, path_steps, seconds, method) -> a text table and each row's cost per path-step / the last's."""
    ref = rows[-1][2] / rows[-1][1]
    lines = [title, f"{head:>12} {'seconds':>9} {'ns/path-step':>13} {'vs largest':>10} {'percentiles':>11}"]
    ratios = []
    for size, work, secs, method in rows:
        ratio = (secs / work) / ref
        ratios.append(ratio)
        lines.append(f"{size:>12,} {secs:9.3f} {secs / work * 1e9:13.2f} {ratio:10.2f} {method:>11}")
    lines.append(f"({key})")
    return "\n".join(lines), ratios


def paths_sweep(model, steps: int = 60) -> tuple[str, list[float]]:  # noqa: ANN001
    cap = _env("BENCH_SCALING_MAX_PATHS", PATHS[-1])
    sizes = [n for n in PATHS if n <= cap] or [cap]
    timed = _timed_all(model, [(n, steps) for n in sizes])
    rows = [(n, n * (steps + 1), secs, method) for n, (secs, method) in zip(sizes, timed, strict=True)]
    return _table(f"time against paths ({steps} steps, all threads)", "paths", rows,
                  "linear: every ratio within 1 +- 0.15")


def steps_sweep(model) -> tuple[str, list[float], list[float], list[int]]:  # noqa: ANN001
    """The table, each size's cost per path-step against the largest's, each size's deviation from the fitted
    line cost/path = a + b (steps + 1), and the sizes."""
    cap = _env("BENCH_SCALING_MAX_STEPS", STEPS[-1])
    runs = min(STEPS_PATHS, _env("BENCH_SCALING_MAX_PATHS", PATHS[-1]))
    sizes = [s for s in STEPS if s <= cap] or [cap]
    timed = _timed_all(model, [(runs, s) for s in sizes])
    rows = [(s, runs * (s + 1), secs, method) for s, (secs, method) in zip(sizes, timed, strict=True)]
    text, ratios = _table(f"time against steps ({runs:,} paths, all threads)", "steps", rows,
                          "per path-step, which includes each path's fixed cost spread over its steps")
    deviations = [0.0] * len(rows)
    if len(rows) >= 2:
        x = np.array([s + 1.0 for s in sizes])
        y = np.array([secs / runs for _, _, secs, _ in rows])  # seconds per path
        b, a = np.polyfit(x, y, 1, w=1 / y)  # relative residuals weigh alike
        deviations = list(y / (a + b * x) - 1)
        text += (f"\nfitted line: {a * 1e9:.0f} ns per path + {b * 1e9:.2f} ns per path-step; deviations "
                 + ", ".join(f"{s}: {d:+.1%}" for s, d in zip(sizes, deviations, strict=True))
                 + " (linear: every deviation within +-15%)")
    return text, ratios, deviations, sizes


def threads_speedup(model) -> tuple[str, float]:  # noqa: ANN001
    runs = min(1_000_000, _env("BENCH_SCALING_MAX_PATHS", PATHS[-1]))
    best = {1: float("inf"), 2: float("inf")}
    for _ in range(_rounds()):  # alternately, so that a noisy stretch hits both
        for threads in (1, 2):
            t0 = time.perf_counter()
            model.run("monte_carlo", runs=runs, steps=60, seed=42, threads=threads)
            best[threads] = min(best[threads], time.perf_counter() - t0)
    one, two = best[1], best[2]
    text = (f"threads ({runs:,} paths x 60 steps)\n{'threads':>12} {'seconds':>9}\n{1:>12} {one:9.3f}\n"
            f"{2:>12} {two:9.3f}\nspeedup {one / two:.2f}x (target >= {MIN_SPEEDUP}x)")
    return text, one / two


# ---------------------------------------------------------------------------------------------
# pytest entry points (collected by benchmarks/conftest.py; not part of the test suite)
# ---------------------------------------------------------------------------------------------


def _warm(model) -> None:  # noqa: ANN001
    model.run("monte_carlo", runs=4096, steps=12, seed=1)


def test_scaling_paths() -> None:
    model = _model()
    _warm(model)
    text, ratios = paths_sweep(model)
    print("\n" + text)
    assert all(abs(r - 1.0) <= LINEAR_TOLERANCE for r in ratios), text


def test_scaling_steps() -> None:
    model = _model()
    _warm(model)
    text, _, deviations, _ = steps_sweep(model)
    print("\n" + text)
    assert all(abs(d) <= LINEAR_TOLERANCE for d in deviations), text


def test_scaling_threads() -> None:
    if (os.cpu_count() or 1) < 2:
        import pytest

        pytest.skip("needs 2 cores")
    model = _model()
    _warm(model)
    text, speedup = threads_speedup(model)
    print("\n" + text)
    assert speedup >= MIN_SPEEDUP, text


def main() -> int:
    model = _model()
    _warm(model)
    text, _ = paths_sweep(model)
    print(text + "\n", flush=True)
    text, _, _, _ = steps_sweep(model)
    print(text + "\n", flush=True)
    text, _ = threads_speedup(model)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
