"""The backend's fast paths give exactly the results of their plain definitions (index checks inline,
registers, percentiles, block moments, tabulated Beta quantiles)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pel.backend import engine, runtime, stats
from pel.diagnostics import RunError
from pel.ir import nodes as ir

from .irbuild import Names, lit, param, parse, policy, program, rule, var


def _run_fault(expr: str, steps: int = 3) -> str:
    names = Names(vars={"x", "y"})
    prog = program("F", [], [
        var("y", rule("general", parse("t + 1", names))),
        var("x", rule("general", parse(expr, names))),
    ])
    with pytest.raises(RunError) as exc:
        engine.run(prog, steps=steps)
    return exc.value.code


@pytest.mark.parametrize("expr", ["y[t-1]", "y[t+1]", "y[5]", "y[-1]", "y[t/2]", "lag(y, 1)", "x[t]"])
def test_static_and_dynamic_index_faults(expr: str) -> None:
    assert _run_fault(expr) == "E0301"


def test_static_indices_read_the_right_steps() -> None:
    names = Names(vars={"x", "y", "z"})
    prog = program("Idx", [], [
        var("y", rule("general", parse("t * t", names))),
        var("x", rule("initial", lit(0)), rule("shifted", parse("y[t] + y[t+1] + y[0] + x[t] + lag(y, 0)", names),
                                                shift=1)),
        var("z", rule("general", parse("y[t - 2] + y[t / 2] if t >= 2 and t % 2 == 0 else 0", names))),
    ])
    res = engine.run(prog, steps=4)
    x = [0.0]
    for s in range(1, 5):
        x.append((s - 1) ** 2 + s * s + x[-1] + (s - 1) ** 2)
    assert list(res["x"].value) == x
    assert list(res["z"].value) == [0, 0, 0 + 1, 0, 4 + 4]


def test_policy_write_is_seen_by_later_reads_in_the_step() -> None:
    names = Names(vars={"a", "b"})
    prog = program("Pol", [], [
        var("a", rule("general", parse("t + 1", names))),
        var("b", rule("general", parse("a[t] * 10", names))),
    ], policies=[policy("p", parse("t == 1", names), ir.Action("assign", "a", "var", lit(100)))])
    res = engine.run(prog, steps=2)
    assert list(res["a"].value) == [1, 100, 3]


def test_division_and_power_guards() -> None:
    assert _run_fault("1 / (y[t] - 1)") == "E0800"
    assert _run_fault("(0 - y[t]) ** 0.5") == "E0800"
    assert _run_fault("ln(0 - y[t])") == "E0800"
    assert _run_fault("sqrt(0 - y[t])") == "E0800"
    assert _run_fault("y[t] % 0") == "E0800"


def test_percentiles_match_numpy_bits() -> None:
    rng = np.random.default_rng(0)
    for n in [*range(1, 40), 99, 1000, 4097, 50_001]:
        for data in (rng.normal(size=n), rng.integers(0, 4, n).astype(float), -rng.lognormal(size=n)):
            assert np.array_equal(stats.percentiles_inplace(data.copy()), np.percentile(data, stats.PERCENTILES))


def test_sorted_rows_percentiles_match_numpy_bits() -> None:
    rng = np.random.default_rng(1)
    for n in (1, 2, 7, 100, 4097):
        rows = rng.normal(size=(6, n))
        rows[1, : n // 2] = np.nan  # a row with NaN (failed paths), one without values at all
        rows[2, :] = np.nan
        rows[3] = rng.integers(0, 3, n)  # ties
        valid = np.count_nonzero(~np.isnan(rows), axis=1)
        want = [np.percentile(r[~np.isnan(r)], stats.PERCENTILES) if v else np.full(7, np.nan)
                for r, v in zip(rows, valid, strict=True)]
        out = np.empty((6, len(stats.PERCENTILES)))
        stats.sorted_rows_percentiles(rows, valid, out)
        assert np.array_equal(out, np.array(want), equal_nan=True), n


def test_block_moments_match_numpy_on_masked_values() -> None:
    rng = np.random.default_rng(1)
    B, T1 = 300, 7
    collector = rng.normal(size=(2, T1, B + 10)) * 1e3
    out = collector[:, :, 10:]  # the kernel writes into a strided slice of the run's collector
    st = np.zeros((4, B), np.int64)
    st[0, 5] = runtime.S_FAULT
    st[0, 9], st[1, 9] = runtime.S_FATAL, 3
    st[0, 12], st[1, 12] = runtime.S_FATAL, 0
    x = out.transpose(0, 2, 1).copy()  # (V, B, T+1)
    m = stats.Moments.of_kernel_block(out, st)
    x[:, 5, :] = np.nan
    x[:, 9, 4:] = np.nan
    x[:, 12, 1:] = np.nan
    ref = stats.Moments.of_block(x)
    assert np.array_equal(m.n, ref.n) and np.array_equal(m.mean, ref.mean) and np.array_equal(m.m2, ref.m2)
    assert np.array_equal(collector[:, :, 10:], x.transpose(0, 2, 1), equal_nan=True)


@pytest.mark.parametrize(("a", "b"), [(3.0, 97.0), (2.0, 6.0), (0.7, 2.5), (0.3, 0.4), (50.0, 50.0), (0.05, 0.05),
                                    (500.0, 3.0)])
def test_tabulated_beta_quantile_agrees_with_solver(a: float, b: float) -> None:
    tab = np.empty(runtime.BTAB_LEN)
    runtime.beta_table(a, b, tab)
    err = np.zeros(1, np.int64)
    grid = np.concatenate([np.linspace(-8.5, 8.5, 3001), np.random.default_rng(7).standard_normal(1000)])
    for z in grid:  # interpolated: within 1e-13 of the solver but for extreme shapes
        fast = runtime.from_z_beta(tab, a, b, z, err)
        assert fast == pytest.approx(runtime.from_z(runtime.D_BETA, a, b, 0.0, z, err), rel=1e-9, abs=1e-300), z
    for z in (-9.0, -7.99, -3.2, -1e-9, 0.0, 0.4, 2.5, 7.9, 8.5):
        fast = runtime.from_z_beta(tab, a, b, z, err)
        slow = runtime.from_z(runtime.D_BETA, a, b, 0.0, z, err)
        assert fast == pytest.approx(slow, rel=1e-9, abs=1e-300), z
        p = 0.5 * math.erfc(-z / math.sqrt(2))
        representable = p > 1e-12 and 0.0 < fast < 1.0  # else the quantile rounds to 0 or 1
        assert runtime.betainc(a, b, fast) == pytest.approx(p, rel=1e-9) if representable else True
    other = runtime.from_z_beta(tab, a + 1.0, b, 0.3, err)  # a table for other shapes is not used
    assert other == runtime.from_z(runtime.D_BETA, a + 1.0, b, 0.0, 0.3, err)
    assert err[0] == 0


def test_inline_normal_draw_with_invalid_sigma_faults_in_monte_carlo() -> None:
    names = Names(params={"s"}, vars={"x"})
    prog = program("D", [param("s", -1.0)], [var("x", rule("general", parse("Normal(mu=0, sigma=s)", names)))])
    res = engine.run(prog, mode="monte_carlo", runs=10, steps=1)
    assert res.failed_paths["count"] == 10


_TABLED = """
model Tab {{
  param s: Fraction = 0.2 {{ source: "s", method: "observed", confidence: 0.9 }}
  param g: Fraction ~ Normal(μ=0.5, σ={sd}) {{ source: "s", method: "observed", confidence: 0.9 }}
  param c: Fraction ~ Beta(α=2, β={beta}) {{ source: "s", method: "observed", confidence: 0.9 }}
  param u: Fraction ~ Uniform(min=1, max={hi}) {{ source: "s", method: "observed", confidence: 0.9 }}
  var y[t] = g * t + c + u
}}
"""


@pytest.mark.parametrize("mode", ["deterministic", "monte_carlo"])
def test_parameters_sampled_from_the_table_equal_the_generated_code(mode: str) -> None:
    """Distributions with constant arguments are sampled as data (rt.sample_table, no code); the same model with
    an argument that names a parameter goes through generated code: the draws are the same bits."""
    import pel
    from pel.backend import codegen

    tabled = pel.compile_string(_TABLED.format(sd="0.2", beta="5", hi="3"))
    coded = pel.compile_string(_TABLED.format(sd="s", beta="5 * 1", hi="3 + s - s"))
    src = codegen.kernel_source(tabled.program)
    assert [name for name, _, _ in src.tabled] == ["g", "c", "u"]
    assert "rt.from_z" not in src.text() and "rt.central" not in src.text()
    assert "g" not in [name for name, _, _ in codegen.kernel_source(coded.program).tabled]
    a = tabled.run(mode, runs=3000, seed=5, steps=4)
    b = coded.run(mode, runs=3000, seed=5, steps=4)
    assert np.array_equal(a["y"].value, b["y"].value)
    over = tabled.run(mode, runs=50, seed=5, steps=2, params={"g": 2.0})  # an override replaces the draw
    assert np.allclose(np.diff(over["y"].value), 2.0)
