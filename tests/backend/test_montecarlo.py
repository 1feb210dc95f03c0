"""Monte Carlo: distributions against analytic moments and quantiles, copula, reproducibility, caching."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pel.backend import engine, runtime
from pel.ir import nodes as ir

from .irbuild import Names, dist, lit, mixture, param, parse, program, rule, var

REPO = Path(__file__).resolve().parents[2]
RUNS = 100_000


def ncdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def beta_cdf_int(x: float, a: int, b: int) -> float:
    """I_x(a, b) for integer a, b: a binomial tail (independent of the runtime's continued fraction)."""
    n = a + b - 1
    return sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))


S_LN = math.sqrt(math.log1p(0.04))
M_LN = math.log(100) - S_LN**2 / 2

# name -> (distribution, mean, sd, cdf)
CASES = {
    "normal": (dist("Normal", mu=3, sigma=1), 3.0, 1.0, lambda x: ncdf(x - 3)),
    "lognormal": (dist("LogNormal", mu=1, sigma=0.5), math.exp(1.125),
                  math.sqrt((math.exp(0.25) - 1) * math.exp(2.25)), lambda x: ncdf((math.log(x) - 1) / 0.5)),
    "lognormal_nat": (dist("LogNormalNat", mu=100, sigma=20), 100.0, 20.0,
                      lambda x: ncdf((math.log(x) - M_LN) / S_LN)),
    "beta": (dist("Beta", alpha=2, beta=6), 0.25, math.sqrt(12 / (64 * 9)), lambda x: beta_cdf_int(x, 2, 6)),
    "uniform": (dist("Uniform", low=2, high=4), 3.0, 2 / math.sqrt(12), lambda x: (x - 2) / 2),
    "triangular": (dist("Triangular", low=1, mode=2, high=6), 3.0, math.sqrt((1 + 4 + 36 - 2 - 6 - 12) / 18),
                   lambda x: (x - 1) ** 2 / 5 if x <= 2 else 1 - (6 - x) ** 2 / 20),
    # alpha = 8: the sample SD of a Pareto concentrates only with a finite fourth moment (alpha > 4)
    "pareto": (dist("Pareto", xm=2, alpha=8), 16 / 7, math.sqrt(32 / 294), lambda x: 1 - (2 / x) ** 8),
    "mixture": (mixture([dist("Normal", mu=0, sigma=1), dist("Normal", mu=10, sigma=1)], [0.3, 0.7]), 7.0,
                math.sqrt(22.0), lambda x: 0.3 * ncdf(x) + 0.7 * ncdf(x - 10)),
}


@pytest.fixture(scope="module")
def dist_result():
    names = Names(params=set(CASES))
    params = [param(name, dist=d) for name, (d, *_rest) in CASES.items()]
    vars_ = [var(f"x_{name}", rule("general", parse(name, names))) for name in CASES]
    return engine.run(program("Dists", params, vars_), mode="monte_carlo", runs=RUNS, steps=0, seed=7)


@pytest.mark.parametrize("name", list(CASES))
def test_distribution_moments_and_quantiles(dist_result, name: str) -> None:
    _, mean, sd, cdf = CASES[name]
    res = dist_result[f"x_{name}"]
    assert abs(res.mean[0] - mean) < 4 * sd / math.sqrt(RUNS), (res.mean[0], mean)
    assert res.std[0] == pytest.approx(sd, rel=0.05)
    for p in (5, 10, 25, 50, 75, 90, 95):
        q = getattr(res, f"p{p}")[0]
        assert abs(cdf(q) - p / 100) < 4 * math.sqrt(p / 100 * (1 - p / 100) / RUNS) + 1e-4, (p, q, cdf(q))


def test_special_functions() -> None:
    for p in (1e-10, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.9999):
        assert ncdf(runtime.nppf(p)) == pytest.approx(p, rel=1e-10)
    for x in (0.01, 0.2, 0.5, 0.9):
        assert runtime.betainc(2.0, 6.0, x) == pytest.approx(beta_cdf_int(x, 2, 6), rel=1e-10)
        assert runtime.betainc(3.5, 3.5, 0.5) == pytest.approx(0.5, abs=1e-14)
    for p in (1e-6, 0.05, 0.5, 0.95):
        x = runtime.betappf(p, 0.7, 2.5)
        assert runtime.betainc(0.7, 2.5, x) == pytest.approx(p, rel=1e-9)


def test_inline_draws_fresh_each_step() -> None:
    names = Names(vars={"w", "d"})
    prog = program("Inline", [], [
        var("w", rule("general", parse("Normal(mu=1, sigma=2)", names))),
        var("d", rule("general", parse("w[t] - w[t-1] if t > 0 else 0", names))),
    ])
    res = engine.run(prog, mode="monte_carlo", runs=20_000, steps=3, seed=3)
    assert np.all(np.abs(res["w"].mean - 1) < 4 * 2 / math.sqrt(20_000))
    assert res["d"].std[2] == pytest.approx(2 * math.sqrt(2), rel=0.05)  # independent draws per step
    det = engine.run(prog, steps=3)
    assert list(det["w"].value) == [1, 1, 1, 1]


def test_copula_correlation() -> None:
    names = Names(params={"a", "b", "u", "v"}, vars={"prod", "uv"})
    prog = program("Cop", [
        param("a", dist=dist("Normal", mu=0, sigma=1)), param("b", dist=dist("Normal", mu=0, sigma=1)),
        param("u", dist=dist("Uniform", low=0, high=1)), param("v", dist=dist("Uniform", low=0, high=1)),
    ], [var("prod", rule("general", parse("a * b", names))), var("uv", rule("general", parse("u * v", names)))],
        correlations=[("a", "b", 0.6), ("u", "v", -0.5)])
    res = engine.run(prog, mode="monte_carlo", runs=RUNS, steps=0, seed=11)
    assert abs(res["prod"].mean[0] - 0.6) < 4 * math.sqrt(1.36 / RUNS)
    # uniforms from a Gaussian copula with rho: Pearson = (6/pi) asin(rho/2); E[uv] = 1/4 + r/12
    r = 6 / math.pi * math.asin(-0.25)
    assert abs(res["uv"].mean[0] - (0.25 + r / 12)) < 0.002


def test_non_psd_correlation_refused() -> None:
    from pel.diagnostics import RunError

    ps = [param(n, dist=dist("Normal", mu=0, sigma=1)) for n in "abc"]
    prog = program("Psd", ps, [var("x", rule("general", lit(0)))],
                   correlations=[("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", -0.9)])
    with pytest.raises(RunError) as exc:
        engine.run(prog, mode="monte_carlo", runs=10)
    assert exc.value.code == "E0430"


def saas_model(extra_param: bool = False) -> ir.Program:
    """A 4-stock SaaS model: customers, mrr, cash, cumulative churned; per-step noise on growth."""
    names = Names(params={"growth", "churn", "arpu", "burn", "extra"},
                  vars={"customers", "mrr", "cash", "churned"})
    params = [
        param("growth", dist=dist("Normal", mu=0.08, sigma=0.02)),
        param("churn", dist=dist("Beta", alpha=2, beta=60)),
        param("arpu", dist=dist("LogNormalNat", mu=100, sigma=15)),
        param("burn", 20_000.0),
    ]
    if extra_param:
        params.insert(1, param("extra", dist=dist("Uniform", low=0, high=1)))
    return program("Saas", params, [
        var("customers", rule("initial", lit(100)),
            rule("shifted", parse("customers[t] * (1 + growth + Normal(mu=0, sigma=0.01) - churn)", names), shift=1)),
        var("churned", rule("initial", lit(0)), rule("shifted", parse("churned[t] + customers[t] * churn", names), shift=1)),
        var("mrr", rule("general", parse("customers[t] * arpu", names))),
        var("cash", rule("initial", lit(100_000)), rule("shifted", parse("cash[t] + mrr[t+1] - burn", names), shift=1)),
    ], horizon=60, correlations=[("growth", "churn", -0.3)])


def test_threads_give_identical_bytes() -> None:
    prog = saas_model()
    one = engine.run(prog, mode="monte_carlo", runs=20_000, threads=1).to_json()
    two = engine.run(prog, mode="monte_carlo", runs=20_000, threads=2).to_json()
    assert one == two
    assert engine.run(prog, mode="monte_carlo", runs=20_000, seed=43, threads=2).to_json() != two


def test_unrelated_param_leaves_draws_unchanged() -> None:
    a = engine.run(saas_model(), mode="monte_carlo", runs=5000, steps=12)
    b = engine.run(saas_model(extra_param=True), mode="monte_carlo", runs=5000, steps=12)
    for name in ("customers", "mrr", "cash"):
        assert np.array_equal(a[name].mean, b[name].mean) and np.array_equal(a[name].p90, b[name].p90)


SCRIPT = """
import hashlib, json, sys
from tests.backend.test_montecarlo import saas_model
from pel.backend import cache, engine
res = engine.run(saas_model(), mode="monte_carlo", runs=3000, steps=24, seed=5)
stats = cache.load(saas_model()).cache_stats()
print(json.dumps({"sha": hashlib.sha256(res.to_json().encode()).hexdigest(), "json": res.to_json(),
                  "hits": stats[0] if stats else -1, "misses": stats[1] if stats else -1}))
"""


def _subprocess(env_extra: dict[str, str]) -> dict:
    env = {**os.environ, **env_extra}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_two_processes_identical_and_second_hits_cache() -> None:
    first = _subprocess({})
    second = _subprocess({})
    assert first["sha"] == second["sha"]
    assert second["hits"] > 0 and second["misses"] == 0
    same_here = engine.run(saas_model(), mode="monte_carlo", runs=3000, steps=24, seed=5).to_json()
    assert same_here == first["json"]


def test_pel_jit_0_gives_same_numbers() -> None:
    jit = _subprocess({})
    plain = _subprocess({"PEL_JIT": "0"})
    assert plain["hits"] == -1  # really ran without numba
    a, b = json.loads(jit["json"]), json.loads(plain["json"])
    for name in ("customers", "mrr", "cash"):
        for pa, pb in zip(a[name], b[name], strict=True):
            for key in ("mean", "std", "p5", "p50", "p95"):
                assert pa[key] == pytest.approx(pb[key], rel=1e-9)
