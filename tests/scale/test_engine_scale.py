"""The engine's scale features: exact vs sketch percentiles, standard errors, --until-se, cancellation, CLI flags."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.backend import sampling, sketch
from pel.cli import main

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "saas.pel"
RUNS = 6 * 4096 + 123
STEPS = 12


@pytest.fixture(scope="module")
def model() -> pel.Model:
    return pel.compile(str(MODEL))


@pytest.fixture(scope="module")
def exact(model: pel.Model) -> pel.Result:
    return model.run("monte_carlo", runs=RUNS, steps=STEPS, seed=5)


def test_exact_by_default_with_se(exact: pel.Result) -> None:
    assert exact.percentiles == {"method": "exact", "rank_error_bound": 0.0}
    var = next(iter(exact.variables.values()))
    ok = var.n > 1
    assert np.allclose(var.se[ok], var.std[ok] / np.sqrt(var.n[ok]), equal_nan=True)
    point = json.loads(exact.to_json())[var.name][STEPS]
    assert list(point)[:5] == ["t", "value", "mean", "std", "se"]
    assert exact.convergence is None and exact.runs == RUNS


def test_sketch_beyond_the_memory_limit_within_its_rank_bound(model: pel.Model, exact: pel.Result) -> None:
    small = model.run("monte_carlo", runs=RUNS, steps=STEPS, seed=5, memory_limit=1)
    assert small.percentiles["method"] == "sketch"
    bound = small.percentiles["rank_error_bound"]
    assert 0 < bound <= sketch.RELATIVE_BOUND < 0.005
    # the values themselves, to measure true ranks of the sketch's answers
    values = np.empty((len(exact.variables), STEPS + 1, RUNS))
    from pel.backend import engine

    plan = engine._plan(model.program, STEPS, {})
    plan.btab = engine._beta_tables(model.program, plan.src)
    cop = sampling.copula(model.program.model, plan.src.dist_columns, [])
    pool = engine.BlockPool(plan)
    for b in range(-(-RUNS // sampling.BLOCK_SIZE)):
        start = b * sampling.BLOCK_SIZE
        engine._run_block(plan, 5, RUNS, b, cop, values[:, :, start:start + sampling.BLOCK_SIZE], pool)
    worst = 0.0
    for k, (name, var) in enumerate(small.variables.items()):
        assert np.array_equal(var.mean, exact[name].mean, equal_nan=True)  # moments stay exact
        assert np.array_equal(var.std, exact[name].std, equal_nan=True)
        for t in range(STEPS + 1):
            row = np.sort(values[k, t][~np.isnan(values[k, t])])
            if row.size == 0:
                continue
            for q in (5, 10, 25, 50, 75, 90, 95):
                got = getattr(var, f"p{q}")[t]
                target = q / 100 * (row.size - 1)
                lo = np.searchsorted(row, got, side="left")
                hi = np.searchsorted(row, got, side="right") - 1
                miss = max(0.0, lo - target - 1, target - hi - 1)  # within the interpolation's unit step
                worst = max(worst, miss / row.size)
    assert worst <= bound + 1e-12


@pytest.mark.parametrize("memory_limit", [None, 1], ids=["exact", "sketch"])
def test_same_bytes_for_one_and_two_threads(model: pel.Model, memory_limit: int | None) -> None:
    kw = {"runs": 70_000, "steps": 24, "seed": 9, "memory_limit": memory_limit}  # 18 blocks: one merge
    one = model.run("monte_carlo", threads=1, **kw).to_json()
    assert one == model.run("monte_carlo", threads=2, **kw).to_json()


def test_sketch_merges_on_the_pool_give_the_same_bytes(model: pel.Model) -> None:
    kw = {"runs": 260 * 4096 + 5, "steps": 2, "seed": 4, "memory_limit": 1}  # merges at levels 1 and 2
    one = model.run("monte_carlo", threads=1, **kw)
    assert one.percentiles["method"] == "sketch"
    assert one.to_json() == model.run("monte_carlo", threads=2, **kw).to_json()


def test_until_se_stops_early_the_same_way_on_any_thread_count(model: pel.Model) -> None:
    kw = {"runs": 400 * 4096, "steps": STEPS, "seed": 3, "until_se": 0.005}
    one = model.run("monte_carlo", threads=1, **kw)
    two = model.run("monte_carlo", threads=2, **kw)
    assert one.to_json() == two.to_json()
    conv = one.convergence
    assert conv["stopped"] == "converged" and conv["paths"] == one.runs < 400 * 4096
    assert one.runs % 4096 == 0 and one.runs >= 8192
    assert all(v is None or v < 0.005 for v in conv["relative_se"].values())
    data = json.loads(one.to_json())
    assert data["runs"] == one.runs and data["convergence"]["until_se"] == 0.005


def test_until_se_not_reached_says_max_runs(model: pel.Model) -> None:
    res = model.run("monte_carlo", runs=9000, steps=STEPS, seed=3, until_se=1e-9)
    assert res.runs == 9000 and res.convergence["stopped"] == "max_runs"


@pytest.mark.parametrize("bad", [{"until_se": 0}, {"until_se": -1.0}, {"memory_limit": 0}, {"memory_limit": 1.5}])
def test_bad_options_are_coded_errors(model: pel.Model, bad: dict) -> None:
    with pytest.raises(pel.RunError) as err:
        model.run("monte_carlo", runs=10, **bad)
    assert err.value.code == "E0011"


class Stop(Exception):
    """What the server's deadline raises from the progress callback."""


def test_raising_progress_stops_a_parallel_run_promptly(model: pel.Model) -> None:
    from pel.backend import engine

    started: list[int] = []
    lock = threading.Lock()
    real = engine._block_summary

    def counting(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        with lock:
            started.append(args[2])
        return real(*args, **kw)

    def progress(done: int, total: int) -> None:
        raise Stop()

    engine._block_summary = counting
    try:
        t0 = time.perf_counter()
        with pytest.raises(Stop):
            model.run("monte_carlo", runs=500 * 4096, steps=STEPS, seed=1, threads=2, progress=progress)
        elapsed = time.perf_counter() - t0
    finally:
        engine._block_summary = real
    assert len(started) <= 6  # a bounded window of blocks, not all 500
    assert elapsed < 30


def test_cli_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    code = main(["run", str(MODEL), "--mode", "monte_carlo", "--runs", "200000", "--steps", "6", "--quiet",
                 "--until-se", "0.01", "--memory-limit", "1KiB", "-o", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert data["percentiles"]["method"] == "sketch" and data["convergence"]["stopped"] == "converged"
    assert data["runs"] < 200_000
    for bad in (["--until-se", "0"], ["--memory-limit", "lots"], ["--memory-limit", "0"]):
        assert main(["run", str(MODEL), "--mode", "monte_carlo", *bad]) == 1
        assert "E0011" in capsys.readouterr().err
