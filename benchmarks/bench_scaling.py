"""Scaling of Monte Carlo runs of the benchmark SaaS model: time against paths, steps and threads (tables).

Run with `pytest benchmarks/bench_scaling.py -s` or `python benchmarks/bench_scaling.py`. Sizes are capped by
BENCH_SCALING_MAX_PATHS (default 10_000_000) and BENCH_SCALING_MAX_STEPS (default 240); e.g.
BENCH_SCALING_MAX_PATHS=200000 for a quick look. Each size is timed once (best of BENCH_SCALING_REPEAT, default 1)
with a warm kernel cache. Targets (DESIGN.md §7): cost linear in paths and in steps within 15% (the cost per
path-step of each size against the largest; sizes under 100,000 paths are reported, not held to it, since their
fixed costs are a visible share) and 2 threads at least 1.7x faster than 1 on the largest run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
MODEL = BENCH_DIR / "models" / "saas_bench.pel"
PATHS = (10_000, 100_000, 1_000_000, 10_000_000)
STEPS = (12, 24, 60, 120, 240)
STEPS_PATHS = 200_000  # paths of the steps sweep
LINEAR_TOLERANCE = 0.15
MIN_SPEEDUP = 1.7
MIN_HELD_PATHS = 100_000


def _env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").replace("_", "").strip()
    return int(float(raw)) if raw else default


def _model():  # noqa: ANN202 - pel.Model
    import pel

    return pel.compile(str(MODEL))


def _timed(model, runs: int, steps: int, threads: int | None) -> tuple[float, str]:  # noqa: ANN001
    """Best time of a run, and how its percentiles were computed ("exact" or "sketch": beyond the default
    1 GiB memory limit the per-block sketch compaction adds its own cost per path-step)."""
    best = float("inf")
    method = ""
    for _ in range(max(1, _env("BENCH_SCALING_REPEAT", 1))):
        t0 = time.perf_counter()
        res = model.run("monte_carlo", runs=runs, steps=steps, seed=42, threads=threads)
        best = min(best, time.perf_counter() - t0)
        method = res.percentiles["method"]
    return best, method


def _time(model, runs: int, steps: int, threads: int | None) -> float:  # noqa: ANN001
    return _timed(model, runs, steps, threads)[0]


def _table(title: str, head: str, rows: list[tuple[int, int, float]], key: str,
           methods: list[str] | None = None) -> tuple[str, list[float]]:
    """Rows (size, path_steps, seconds) -> a text table and each row's cost per path-step / the last row's
    (with `methods`: the last row's of the same percentile method)."""
    methods = methods or [""] * len(rows)
    ref = {m: secs / work for (_, work, secs), m in zip(rows, methods, strict=True)}  # the last of each method
    lines = [title, f"{head:>12} {'seconds':>9} {'ns/path-step':>13} {'vs largest':>10} {'percentiles':>11}"]
    ratios = []
    for (size, work, secs), method in zip(rows, methods, strict=True):
        ratio = (secs / work) / ref[method]
        ratios.append(ratio)
        lines.append(f"{size:>12,} {secs:9.3f} {secs / work * 1e9:13.2f} {ratio:10.2f} {method:>11}")
    lines.append(f"({key})")
    return "\n".join(lines), ratios


def paths_sweep(model, steps: int = 60) -> tuple[str, list[float], list[int]]:  # noqa: ANN001
    cap = _env("BENCH_SCALING_MAX_PATHS", PATHS[-1])
    sizes = [n for n in PATHS if n <= cap] or [cap]
    timed = [_timed(model, n, steps, None) for n in sizes]
    rows = [(n, n * (steps + 1), secs) for n, (secs, _) in zip(sizes, timed, strict=True)]
    text, ratios = _table(f"time against paths ({steps} steps, all threads)", "paths", rows,
                          "linear: ratio ~1 against the largest run of the same percentile method",
                          [m for _, m in timed])
    return text, ratios, sizes


def steps_sweep(model) -> tuple[str, list[float]]:  # noqa: ANN001
    cap = _env("BENCH_SCALING_MAX_STEPS", STEPS[-1])
    runs = min(STEPS_PATHS, _env("BENCH_SCALING_MAX_PATHS", PATHS[-1]))
    sizes = [s for s in STEPS if s <= cap] or [cap]
    rows = [(s, runs * (s + 1), _time(model, runs, s, None)) for s in sizes]
    text, ratios = _table(f"time against steps ({runs:,} paths, all threads)", "steps", rows, "linear: ratio ~1")
    return text, ratios


def threads_speedup(model) -> tuple[str, float]:  # noqa: ANN001
    runs = min(1_000_000, _env("BENCH_SCALING_MAX_PATHS", PATHS[-1]))
    one = _time(model, runs, 60, 1)
    two = _time(model, runs, 60, 2)
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
    text, ratios, sizes = paths_sweep(model)
    print("\n" + text)
    held = [r for r, n in zip(ratios, sizes, strict=True) if n >= MIN_HELD_PATHS]
    assert all(abs(r - 1.0) <= LINEAR_TOLERANCE for r in held), text


def test_scaling_steps() -> None:
    model = _model()
    _warm(model)
    text, ratios = steps_sweep(model)
    print("\n" + text)
    assert all(abs(r - 1.0) <= LINEAR_TOLERANCE for r in ratios[1:]), text  # 12 steps: fixed costs show


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
    text, _, _ = paths_sweep(model)
    print(text + "\n", flush=True)
    text, _ = steps_sweep(model)
    print(text + "\n", flush=True)
    text, _ = threads_speedup(model)
    print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
