"""`pel sensitivity`: Sobol's G-function against its analytic indices, PEL's estimates against SALib's on the same
evaluations, a linear model's tornado against its analytic swings, Spearman on a monotone model, design evaluations
equal to a Monte Carlo run's paths, and bit-reproducibility across thread counts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.analysis import sensitivity as sa
from pel.backend.design import Design
from pel.cli import main

PROV = '{ source: "test", method: "assumption", confidence: 0.5 }'
A = (0.0, 0.5, 3.0, 9.0, 99.0, 99.0)


def g_function() -> str:
    params = "\n".join(f"  param x{i}: Fraction ~ Uniform(low = 0, high = 1) {PROV}" for i in range(1, 7))
    factors = " * ".join(f"((abs(4 * x{i} - 2) + {a}) / (1 + {a}))" for i, a in enumerate(A, 1))
    return f"model GFunction {{\n{params}\n  var y: TimeSeries<Fraction>\n  y[t] = {factors}\n  simulate for 1mo\n}}\n"


def analytic_g() -> tuple[np.ndarray, np.ndarray]:
    v = np.array([1 / (3 * (1 + a) ** 2) for a in A])
    total = np.prod(1 + v) - 1
    first = v / total
    tot = np.array([v[i] * np.prod(np.delete(1 + v, i)) for i in range(len(A))]) / total
    return first, tot


LINEAR = f"""model Linear {{
  param a: Currency<USD> ~ Normal(μ = $100, σ = $10) {PROV}
  param b: Fraction ~ Uniform(low = 0.1, high = 0.3) {PROV}
  param c: Count<Customer> = 50 {PROV}
  var y: TimeSeries<Currency<USD>>
  y[t] = 3 * a + $1000 * b - $2 * c / 1
  output y
  simulate for 2mo
}}
"""


@pytest.fixture(scope="module")
def gfun() -> pel.Model:
    return pel.Model(pel.compile_string(g_function()).program)


def test_g_function_indices_are_the_analytic_ones(gfun: pel.Model) -> None:
    rep = sa.sobol(gfun.program, [("y", 1)], steps=1, runs=2 ** 14, seed=7, threads=2, resamples=200)
    rows = {r.param: r.figures for r in rep.targets[0].rows}
    first, total = analytic_g()
    for i in range(6):
        f = rows[f"x{i + 1}"]
        assert abs(f["S1"] - first[i]) < 0.02, (i, f["S1"], first[i])
        assert abs(f["ST"] - total[i]) < 0.02, (i, f["ST"], total[i])
        assert f["S1_ci95"][0] <= f["S1"] <= f["S1_ci95"][1]
    assert [r.param for r in rep.targets[0].rows][:2] == ["x1", "x2"]
    assert rep.evaluations == 2 ** 14 * 8


def test_estimates_equal_salib_on_the_same_evaluations(gfun: pel.Model) -> None:
    salib = pytest.importorskip("SALib.analyze.sobol")
    n, k, seed = 2 ** 10, 6, 3
    design = Design(gfun.program, [("y", 1)], steps=1)
    from scipy.special import ndtri

    A_, B_ = sa.saltelli_design(k, n, seed)
    f = lambda u: design.evaluate(ndtri(np.clip(u, 2.0 ** -53, 1 - 2.0 ** -53)), seed).targets[:, 0]  # noqa: E731
    fA, fB = f(A_), f(B_)
    fAB = np.column_stack([f(np.where(np.arange(k) == i, B_, A_)) for i in range(k)])
    s1, st = sa.sobol_indices(fA, fB, fAB)
    # SALib's layout: per base row, A, AB_1..AB_k, B
    Y = np.column_stack([fA, fAB, fB]).ravel()
    problem = {"num_vars": k, "names": [f"x{i}" for i in range(1, 7)], "bounds": [[0, 1]] * k}
    ref = salib.analyze(problem, Y, calc_second_order=False, num_resamples=10, seed=1)
    np.testing.assert_allclose(s1, ref["S1"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(st, ref["ST"], rtol=0, atol=1e-9)
    # and the report computes the same figures from the same design
    rep = sa.sobol(gfun.program, [("y", 1)], steps=1, runs=n, seed=seed, resamples=10)
    got = {r.param: r.figures for r in rep.targets[0].rows}
    for i in range(k):
        assert got[f"x{i + 1}"]["S1"] == pytest.approx(s1[i], abs=1e-12)
        assert got[f"x{i + 1}"]["ST"] == pytest.approx(st[i], abs=1e-12)


def test_sobol_is_bit_reproducible_across_threads(gfun: pel.Model) -> None:
    one = sa.sobol(gfun.program, [("y", 1)], steps=1, runs=2 ** 13, seed=11, threads=1, resamples=50).to_dict()
    two = sa.sobol(gfun.program, [("y", 1)], steps=1, runs=2 ** 13, seed=11, threads=2, resamples=50).to_dict()
    assert json.dumps(one) == json.dumps(two)


def test_a_linear_models_tornado_is_its_analytic_swings() -> None:
    program = pel.compile_string(LINEAR).program
    rep = sa.tornado(program, [("y", 2)], steps=2)
    rows = {r.param: r for r in rep.targets[0].rows}
    z = 1.2815515655446004  # the standard normal's P90
    assert rows["a"].figures["low"] == pytest.approx(100 - 10 * z, rel=1e-12)
    assert rows["a"].figures["delta"] == pytest.approx(3 * 2 * 10 * z, rel=1e-9)
    assert rows["b"].figures["swing"] == "low-high"  # a Uniform swings over its whole range
    assert rows["b"].figures["delta"] == pytest.approx(1000 * 0.2, rel=1e-9)
    assert rows["c"].figures["swing"] == "±10%"
    assert rows["c"].figures["delta"] == pytest.approx(-2 * 10, rel=1e-9)
    assert [r.param for r in rep.targets[0].rows] == ["b", "a", "c"]  # |200| > |76.9| > |-20|
    assert rep.targets[0].summary["base"] == pytest.approx(3 * 100 + 1000 * 0.2 - 100)
    register = {e["name"]: e["sensitivity_rank"] for e in rep.assumptions}
    assert register == {"b": 1, "a": 2, "c": 3}


def test_spearman_ranks_a_monotone_model_and_uses_the_run_s_paths() -> None:
    program = pel.compile_string(LINEAR).program
    rep = sa.spearman(program, [("y", 2)], steps=2, runs=5000, seed=5)
    rows = {r.param: r.figures for r in rep.targets[0].rows}
    # y = 3a + 1000b + const: var(3a) = 900, var(1000 b) = 1e6 * 0.04 / 12 = 3333
    assert rows["b"]["rho"] > rows["a"]["rho"] > 0.3
    assert rows["a"]["prcc"] > 0.9 and rows["b"]["prcc"] > 0.9  # no noise: the others explain the rest
    # the evaluations are the paths of `pel run --mode monte_carlo` with the same seed
    design = Design(program, [("y", 2)], steps=2)
    ev = design.evaluate(design.random_scores(5, 5000), 5)
    from scipy.stats import spearmanr

    names = list(design.param_names)
    for p in ("a", "b"):
        ref = spearmanr(ev.params[:, names.index(p)], ev.targets[:, 0]).statistic
        assert rows[p]["rho"] == pytest.approx(ref, abs=1e-12)
    mc = pel.Model(program).run("monte_carlo", runs=5000, seed=5)
    assert ev.targets[:, 0].mean() == pytest.approx(mc["y"].mean[2], rel=1e-12)


def test_cli_and_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "linear.pel"
    path.write_text(LINEAR)
    assert main(["sensitivity", str(path), "--target", "y", "--method", "tornado", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "tornado" and out["targets"]["y@2"]["rows"][0]["param"] == "b"
    assert out["targets"]["y@2"]["rows"][0]["rank"] == 1
    assert main(["sensitivity", str(path), "--method", "sobol", "--runs", "256"]) == 0
    text = capsys.readouterr().out
    assert "y@2 (USD)" in text and "S1 95%" in text
    for args, code in [(["--target", "nope"], "E0600"), (["--target", "y@9"], "E0011")]:
        assert main(["sensitivity", str(path), *args]) == 1
        err = capsys.readouterr().err
        assert f"error[{code}]" in err and "Traceback" not in err
    assert math.isfinite(out["targets"]["y@2"]["base"])


@pytest.mark.slow
def test_on_a_dask_cluster_the_figures_are_the_same(gfun: pel.Model) -> None:
    pytest.importorskip("distributed")
    from pel.backend.distributed import connect

    local = sa.sobol(gfun.program, [("y", 1)], steps=1, runs=2 ** 13, seed=5, resamples=20).to_dict()
    with connect("local:2") as conn:
        remote = sa.sobol(gfun.program, [("y", 1)], steps=1, runs=2 ** 13, seed=5, resamples=20,
                          client=conn.client).to_dict()
        program = pel.compile_string(LINEAR).program
        rho_local = sa.spearman(program, [("y", 2)], steps=2, runs=10_000, seed=2).to_dict()
        rho_remote = sa.spearman(program, [("y", 2)], steps=2, runs=10_000, seed=2, client=conn.client).to_dict()
    assert json.dumps(local) == json.dumps(remote)
    assert json.dumps(rho_local) == json.dumps(rho_remote)
