"""The distributions added from the language table (Exponential, Weibull, Gamma, StudentT, PERT, Poisson, Bernoulli,
Binomial): 100,000 paths against scipy.stats' moments and quantiles, the runtime's quantile against scipy's, the
table's central value against the runtime's, unit typing, coded refusals of bad parameters, reproducibility."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import pel
from pel.backend import runtime as rt
from pel.diagnostics import CompileError
from pel.lang import distributions as lang

PROV = '{ source: "t", method: "observed", confidence: 0.9 }'
# (declaration, output unit, the scipy distribution of the draws in step units, runtime (code, a, b, c))
CASES = {
    "wait": ("Duration<Month> ~ Exponential(λ = 0.5 / 1mo)", stats.expon(scale=2.0), (rt.D_EXPONENTIAL, 0.5, 0, 0)),
    "life": ("Duration<Month> ~ Weibull(k = 1.5, scale = 24mo)", stats.weibull_min(1.5, scale=24.0),
             (rt.D_WEIBULL, 1.5, 24.0, 0)),
    "claim": ("Currency<USD> ~ Gamma(shape = 2.5, θ = $400)", stats.gamma(2.5, scale=400.0),
              (rt.D_GAMMA, 2.5, 400.0, 0)),
    "ret": ("Fraction ~ StudentT(ν = 5, μ = 0.05, σ = 0.02)", stats.t(5, 0.05, 0.02), (rt.D_STUDENT_T, 5, 0.05, 0.02)),
    "cost": ("Currency<USD> ~ PERT(low = $100, mode = $150, high = $300)",
             stats.beta(1 + 4 * 50 / 200, 1 + 4 * 150 / 200, loc=100, scale=200), (rt.D_PERT, 100, 150, 300)),
    "arrivals": ("Count<Customer> ~ Poisson(lambda = 12)", stats.poisson(12), (rt.D_POISSON, 12, 0, 0)),
    "win": ("Fraction ~ Bernoulli(p = 0.3)", stats.bernoulli(0.3), (rt.D_BERNOULLI, 0.3, 0, 0)),
    "deals": ("Count<Deal> ~ Binomial(n = 20, p = 0.25)", stats.binom(20, 0.25), (rt.D_BINOMIAL, 20, 0.25, 0)),
}
RUNS = 100_000


def _model() -> str:
    params = "\n".join(f"  param {name}: {decl} {PROV}" for name, (decl, _, _) in CASES.items())
    outputs = ", ".join(f"o_{name} = {name}" for name in CASES)
    return f"model More {{\n{params}\n  output {outputs}\n  simulate for 1mo\n}}\n"


@pytest.fixture(scope="module")
def model() -> pel.Model:
    return pel.Model(pel.compile_string(_model()).program)


@pytest.fixture(scope="module")
def mc(model: pel.Model):
    return model.run("monte_carlo", runs=RUNS, seed=11)


@pytest.mark.parametrize("name", list(CASES))
def test_moments_and_quantiles_at_100k_paths(mc, name: str) -> None:
    ref = CASES[name][1]
    v = mc[f"o_{name}"]
    mean, sd = ref.mean(), ref.std()
    assert abs(v.mean[0] - mean) < 5 * sd / math.sqrt(RUNS), (v.mean[0], mean)
    assert v.std[0] == pytest.approx(sd, rel=0.02)
    for q in (10, 50, 90):
        got, want = float(getattr(v, f"p{q}")[0]), float(ref.ppf(q / 100))
        if CASES[name][2][0] in (rt.D_POISSON, rt.D_BERNOULLI, rt.D_BINOMIAL):
            assert got == want  # discrete: the same whole number
        else:  # within the sampling error of a quantile (a few density-scaled binomial SEs)
            se = math.sqrt(q / 100 * (1 - q / 100) / RUNS) / ref.pdf(want)
            assert abs(got - want) < 5 * se, (q, got, want)


@pytest.mark.parametrize("name", list(CASES))
def test_runtime_quantile_equals_scipy(name: str) -> None:
    code, a, b, c = CASES[name][2]
    ref = CASES[name][1]
    err = np.zeros(1, np.int64)
    for z in (-4.0, -1.5, -0.2, 0.0, 0.7, 2.0, 4.5):
        got = rt.from_z(code, float(a), float(b), float(c), z, err)
        want = ref.ppf(stats.norm.cdf(z)) if z <= 0 else ref.isf(stats.norm.sf(z))
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), (z, got, want)
        assert rt.cdf(code, float(a), float(b), float(c), got) == pytest.approx(ref.cdf(got), rel=1e-9, abs=1e-12)
    assert err[0] == 0


@pytest.mark.parametrize("name", list(CASES))
def test_table_central_value_is_the_runtimes(model: pel.Model, name: str) -> None:
    code, a, b, c = CASES[name][2]
    err = np.zeros(1, np.int64)
    p = next(q for q in model.program.model.params if q.name == name)
    values = {n: float(v.value) for n, v in p.distribution.parameters}
    assert lang.central(p.distribution.distribution_type, values) == pytest.approx(
        rt.central(code, float(a), float(b), float(c), err), rel=1e-12)
    det = model.run()
    assert det[f"o_{name}"].value[0] == pytest.approx(rt.central(code, float(a), float(b), float(c), err), rel=1e-12)


def test_units_of_draws() -> None:
    # a rate per month gives durations in months; declared in years, the draws are converted
    m = pel.compile_string(f"model U {{\n  param w: Duration<Year> ~ Exponential(rate = 6 / 1y) {PROV}\n"
                           "  output ow = w\n  simulate for 1mo\n}\n")
    mc = m.run("monte_carlo", runs=50_000, seed=2)
    assert mc["ow"].mean[0] == pytest.approx(2.0, rel=0.03)  # mean 1/6 year = 2 months (results are in steps)
    for decl, code in [("Currency<USD> ~ Exponential(λ = 0.5 / 1mo)", "E0100"),
                       ("Fraction ~ Gamma(shape = $2, scale = 1)", "E0431"),
                       ("Count<Deal> ~ Binomial(n = 2.5, p = 0.5)", "E0431"),
                       ("Fraction ~ Bernoulli(p = 1.5)", "E0431"),
                       ("Fraction ~ StudentT(ν = 0, μ = 0, σ = 1)", "E0431"),
                       ("Currency<USD> ~ PERT(low = $5, mode = $9, high = $8)", "E0431"),
                       ("Fraction ~ Poisson(λ = 2, μ = 3)", "E0431"),
                       ("Fraction ~ Weibul(k = 1, scale = 1)", "E0600")]:
        with pytest.raises(CompileError) as exc:
            pel.compile_string(f"model B {{\n  param x: {decl} {PROV}\n}}\n")
        assert exc.value.diagnostics[0].code == code, (decl, [d.message for d in exc.value.diagnostics])


def test_reproducible_per_parameter_streams(model: pel.Model) -> None:
    one = model.run("monte_carlo", runs=5000, seed=3, threads=1).to_json()
    two = model.run("monte_carlo", runs=5000, seed=3, threads=2).to_json()
    assert one == two
    # adding a parameter does not change the draws of the others (streams keyed by name)
    more = pel.compile_string(_model().replace("  output", f"  param extra: Fraction ~ Beta(α=2, β=3) {PROV}\n"
                                                           "  output"))
    again = more.run("monte_carlo", runs=5000, seed=3)
    base = model.run("monte_carlo", runs=5000, seed=3)
    assert np.array_equal(again["o_claim"].p50, base["o_claim"].p50)


DISCRETE = f"""model Deals {{
  param deal: Currency<USD> ~ Discrete(values = [$50_000, $0, $120_000, $50_000], weights = [3, 5, 1, 1]) {PROV}
  var pipeline: TimeSeries<Currency<USD>>
  pipeline[t] = deal + ~Discrete(values = [0, $10], weights = [0.5, 0.5])
  output pipeline, o_deal = deal
  simulate for 1mo
}}
"""


def test_discrete_over_listed_values() -> None:
    m = pel.compile_string(DISCRETE)
    d = next(p for p in m.program.model.params if p.name == "deal").distribution
    assert [x.value for x in d.param("values").elements] == [0.0, 50_000.0, 120_000.0]  # sorted, merged
    assert d.weights == pytest.approx((0.5, 0.4, 0.1))
    assert m.run()["o_deal"].value[0] == pytest.approx(32_000.0)  # the expected value
    ref = stats.rv_discrete(values=([0, 50_000, 120_000], [0.5, 0.4, 0.1]))
    mc = m.run("monte_carlo", runs=RUNS, seed=5)
    v = mc["o_deal"]
    assert abs(v.mean[0] - ref.mean()) < 5 * ref.std() / math.sqrt(RUNS)
    assert [float(getattr(v, f"p{q}")[0]) for q in (10, 25, 75, 95)] == [ref.ppf(q / 100) for q in (10, 25, 75, 95)]
    assert mc["pipeline"].mean[0] == pytest.approx(v.mean[0] + 5.0, abs=0.2)
    for bad, words in [("values = [$1, 2%], weights = [1, 1]", "share a unit"),
                       ("values = [$1, $2], weights = [1]", "2 values but 1 weights"),
                       ("values = [$1, $2], weights = [-1, 2]", "non-negative"),
                       ("values = [$1, $2], weights = [0, 0]", "not all be 0"),
                       ("values = $1, weights = [1]", "list of numbers")]:
        with pytest.raises(CompileError) as exc:
            pel.compile_string(DISCRETE.replace("values = [$50_000, $0, $120_000, $50_000], weights = [3, 5, 1, 1]",
                                                bad))
        assert exc.value.diagnostics[0].code == "E0431" and words in exc.value.diagnostics[0].message


def test_discrete_survives_the_ir(tmp_path) -> None:
    m = pel.compile_string(DISCRETE)
    path = m.save(tmp_path / "d.ir.json")
    again = pel.load(path)
    assert again.run("monte_carlo", runs=2000, seed=1).to_json() == m.run("monte_carlo", runs=2000, seed=1).to_json()
