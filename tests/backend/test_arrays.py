"""Constant arrays bound to variables and parameters: indexing with bounds checks, length/sum/min/max/avg."""

from __future__ import annotations

import json

import pytest

import pel
from pel.backend.codegen import generate
from pel.diagnostics import IRError, RunError
from pel.pipeline import compile_source

PROV = '{ source: "test", method: "observed", confidence: 1.0 }'


def model(body: str) -> pel.Model:
    return pel.compile_string("model test {\n" + body + "\n}\n")


def test_index_of_array_var() -> None:  # CONF-RUN-022
    r = model("var nums = [10, 20, 30];\nvar x = nums[1];").run("deterministic", steps=2)
    assert list(r["x"].mean) == [20.0, 20.0, 20.0]


def test_length_of_array_var() -> None:  # CONF-RUN-023
    r = model("var nums = [1, 2, 3, 4, 5];\nvar len = length(nums);").run("deterministic", steps=1)
    assert list(r["len"].mean) == [5.0, 5.0]


def test_constant_index_out_of_range_is_e0301() -> None:  # CONF-RUN-042
    with pytest.raises(RunError) as info:
        model("var nums = [1, 2, 3];\nvar x = nums[10];").run("deterministic", steps=1)
    diag = info.value.diagnostics[0]
    assert diag.code == "E0301"
    assert "array index out of range" in diag.message and "`x`" in diag.message


def test_aggregates_and_param_arrays() -> None:
    body = f"""var nums = [1, 2, 3, 4, 5]
var s = sum(nums)
var mn = min(nums)
var mx = max(nums) + avg(nums)
param ps: Array<Fraction> = [1, 2] {PROV}
var y = ps[0] + length(ps) + nums[t]
var neg = [-1.5, 2]
var z = neg[0] + nums[t * 2]"""
    r = model(body).run("deterministic", steps=2)
    assert list(r["s"].mean) == [15.0] * 3
    assert list(r["mn"].mean) == [1.0] * 3
    assert list(r["mx"].mean) == [8.0] * 3
    assert list(r["y"].mean) == [4.0, 5.0, 6.0]
    assert list(r["z"].mean) == [-0.5, 1.5, 3.5]


def test_time_index_past_the_end_faults_at_that_step() -> None:
    m = model("var nums = [1, 2, 3]\nvar x = nums[t]")
    assert list(m.run("deterministic", steps=2)["x"].mean) == [1.0, 2.0, 3.0]
    with pytest.raises(RunError) as info:
        m.run("deterministic", steps=3)
    assert info.value.diagnostics[0].code == "E0301" and "t=3" in info.value.diagnostics[0].message


@pytest.mark.parametrize("index", ["0.5", "t - 1", "2 * t - 1"])
def test_bad_dynamic_indices_fault(index: str) -> None:
    with pytest.raises(RunError) as info:
        model(f"var nums = [1, 2, 3]\nvar x = nums[{index}]").run("deterministic", steps=1)
    assert info.value.diagnostics[0].code == "E0301"


def test_monte_carlo_counts_array_faults_as_path_failures() -> None:
    r = model("var nums = [1, 2, 3]\nvar x = nums[t]").run("monte_carlo", runs=50, steps=4, seed=1)
    data = json.loads(r.to_json())
    assert data["success_rate"] == 0.0
    assert data["failed_paths"]["count"] == 50
    assert data["failed_paths"]["by_kind"] == {"array_index_out_of_range": 50}
    assert data["failed_paths"]["first"]["code"] == "E0301" and data["failed_paths"]["first"]["t"] == 3


def test_constant_index_folds_to_the_element() -> None:
    src = generate(compile_source("model test {\nvar nums = [10, 20, 30]\nvar x = nums[2] + 1\n}\n").program)
    assert "(30.0 + 1.0)" in src
    assert "20.0" not in src  # the elements are data (the kernel's K array), never source text


def test_array_var_used_as_a_number_is_refused() -> None:
    try:
        program = compile_source("model test {\nvar nums = [1, 2]\nvar x = nums + 1\n}\n").program
    except pel.CompileError:  # the checker may refuse it first: either way no traceback and no wrong number
        return
    with pytest.raises(IRError):
        generate(program)


def test_array_of_parameters_and_variables() -> None:
    """Elements that are not constants are evaluated each step into a per-path buffer."""
    body = f"""param a: Fraction ~ Normal(μ=0.5, σ=0.1) {PROV}
param b: Fraction = 0.25 {PROV}
var rev: TimeSeries<Fraction>
rev[0] = 1
rev[t+1] = rev[t] * 2 + rates[2]
var rates = [a, b, rev[t]]
var x = rates[0] + rates[2] + sum(rates) + length(rates) + max(rates)
var y = rates[t]"""
    m = model(body)
    r = m.run("deterministic", steps=2)
    assert list(r["rev"].mean) == [1.0, 3.0, 9.0]
    assert list(r["x"].mean) == [7.25, 13.25, 31.25]
    assert list(r["y"].mean) == [0.5, 0.25, 9.0]
    with pytest.raises(RunError) as info:
        m.run("deterministic", steps=3)
    assert info.value.diagnostics[0].code == "E0301"
    mc = m.run("monte_carlo", runs=64, steps=2, seed=5)
    assert json.loads(mc.to_json())["success_rate"] == 1.0
    assert mc["x"].mean[0] != 7.25 and abs(mc["x"].mean[0] - 7.25) < 0.2  # `a` is sampled per path
