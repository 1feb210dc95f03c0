"""Every pass over IR is linear in its size: decoding (JSON and msgpack), validation, hashing, encoding and code
generation of a crafted program ten times larger cost at most about ten times more.

Costs are CPU seconds of this process (the best of a few tries), compared as a ratio with a generous bound (30
for 10x: a quadratic pass shows 100x); no test asserts a time. Each shape is one way of growing a file that a
pass once walked quadratically (`order.count` in a loop, a scope copied per `let`) or might.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from pel import limits
from pel.diagnostics import PelError
from pel.ir import hashing, serialize, validate
from pel.ir import nodes as ir
from tests.ir.ir_samples import RATE, USD_SERIES, T, lit, prov

RATIO_BOUND = 30.0  # for a 10x larger input


def _program(**fields: Any) -> ir.Program:
    base: dict[str, Any] = dict(name="M", time_unit="Month", time_horizon=12, days_per_month=30.4375, params=(),
                                vars=(), order=())
    base.update(fields)
    return hashing.with_hashes(ir.Program(ir.FORMAT_VERSION, ir.Model(**base), {"source_file": "big.pel"}))


def _series(name: str, expr: ir.Expr) -> ir.Var:
    return ir.Var(name, USD_SERIES, (ir.Rule("general", expr),), True, True)


def many_vars(n: int) -> dict:
    """A chain of n variables, each reading the previous one at the same step."""
    vs = [_series(f"v{i}", ir.Binary("+", ir.Index(f"v{i - 1}", "var", T) if i else lit(1.0), lit(1.0)))
          for i in range(n)]
    return serialize.to_dict(_program(vars=tuple(vs), order=tuple(v.name for v in vs)))


def long_order(n: int) -> dict:
    """The reported file: an evaluation order of 10n entries naming a few variables over and over (refused)."""
    data = many_vars(max(n // 100, 1))
    data["model"]["order"] = [f"v{i % max(n // 100, 1)}" for i in range(10 * n)]
    return data


def many_lets(n: int) -> dict:
    """One function of n `let`s, each followed by an `if` whose block binds a local of its own."""
    body: list[ir.Stmt] = []
    for i in range(n):
        body.append(ir.Let(f"a{i}", ir.Binary("+", ir.Ref(f"a{i - 1}", "local") if i else lit(0.0), lit(1.0))))
        body.append(ir.If(ir.Binary(">", ir.Ref(f"a{i}", "local"), lit(0.0)), (ir.Let("b", lit(2.0)),), ()))
    body.append(ir.Return(ir.Ref(f"a{n - 1}", "local")))
    return serialize.to_dict(_program(funcs=(ir.Func("f", ("x",), tuple(body)),)))


def many_correlations(n: int) -> dict:
    """n distribution parameters correlated in a chain: past limits.MAX_CORRELATED it is refused, in linear time."""
    normal = ir.Distribution("Normal", (("mu", lit(0.0)), ("sigma", lit(1.0))))
    params = tuple(ir.Param(f"p{i}", RATE, None, normal, prov()) for i in range(n))
    pairs = tuple((f"p{i}", f"p{i + 1}", 0.1) for i in range(n - 1))
    return serialize.to_dict(_program(params=params, correlations=pairs))


def long_chain(n: int) -> dict:
    """One sum of n terms (written flat as a BinaryChain)."""
    e: ir.Expr = lit(0.0)
    for i in range(n):
        e = ir.Binary("+", e, lit(float(i)))
    return serialize.to_dict(_program(vars=(_series("x", e),), order=("x",)))


def many_constraints(n: int) -> dict:
    cs = tuple(ir.Constraint(f"c{i}", f"c{i}", ir.Binary(">", ir.Index("x", "var", T), lit(0.0)), "warning",
                             (ir.MessagePart(text="low"),), ir.Scope()) for i in range(n))
    return serialize.to_dict(_program(vars=(_series("x", lit(1.0)),), order=("x",), constraints=cs))


def many_literal_rules(n: int) -> dict:
    """A recurrence x[t+n] = x[t] with n literal initial values (the horizon grows with it, up to the limit)."""
    rules = (ir.Rule("shifted", ir.Index("x", "var", T), shift=n),) + tuple(
        ir.Rule("literal" if i else "initial", lit(1.0), at=i) for i in range(n))
    x = ir.Var("x", USD_SERIES, rules, True, True)
    return serialize.to_dict(_program(vars=(x,), order=("x",), time_horizon=min(2 * n, limits.MAX_STEPS)))


def many_aggregations(n: int) -> dict:
    e: ir.Expr = lit(0.0)
    for _ in range(n):
        e = ir.Binary("+", e, ir.Aggregation("sum", "k", lit(0.0), T, ir.Index("x", "var", ir.Ref("k", "local"))))
    return serialize.to_dict(_program(vars=(_series("x", lit(1.0)), _series("y", e)), order=("x", "y")))


def big_mixture(n: int) -> dict:
    comps = tuple(ir.Distribution("Normal", (("mu", lit(float(i))), ("sigma", lit(1.0)))) for i in range(n))
    d = ir.Distribution("Mixture", (), components=comps, weights=(1.0 / n,) * n)
    return serialize.to_dict(_program(params=(ir.Param("p", RATE, None, d, prov()),)))


def big_metadata(n: int) -> dict:
    data = many_vars(1)
    data["metadata"]["warnings"] = [{"code": "W0101", "message": "rounded", "line": i} for i in range(n)]
    return data


SHAPES: dict[str, tuple[Callable[[int], dict], int]] = {  # shape, the smaller size
    "vars": (many_vars, 500),
    "order": (long_order, 1000),
    "lets": (many_lets, 800),
    "correlations": (many_correlations, limits.MAX_CORRELATED + 200),
    "chain": (long_chain, 2000),
    "constraints": (many_constraints, 500),
    "literal_rules": (many_literal_rules, 1000),
    "aggregations": (many_aggregations, 300),
    "mixture": (big_mixture, 800),
    "metadata": (big_metadata, 3000),
}


def _cpu(fn: Callable[[Any], object], arg: Any, tries: int) -> float:
    """The least CPU time of `tries` calls (coded refusals count: refusing must be linear too), the cyclic garbage
    collector paused (its full collections land in one try or another, whatever the pass)."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(tries):
            start = time.process_time()
            try:
                fn(arg)
            except PelError:
                pass
            best = min(best, time.process_time() - start)
    finally:
        gc.enable()
    return max(best, 1e-4)


def _ratio(small: tuple[Callable[[Any], object], Any], large: tuple[Callable[[Any], object], Any]) -> float:
    """cost(large) / cost(small); a ratio past the bound is measured again with more tries before it counts."""
    ratio = 0.0
    for tries in (1, 3):
        small_cost = _cpu(*small, tries + 1)  # first: a first call's one-time costs fall in its worse try
        ratio = _cpu(*large, tries) / small_cost
        if ratio <= RATIO_BOUND:
            break
    return ratio


def _decode(text: str) -> ir.Program:
    return serialize.loads_json(text, validate=False)


def _validate(program: ir.Program) -> None:
    validate.validate(program, check_hashes=False)  # hashing is a stage of its own


def _codegen(program: ir.Program) -> None:
    from pel.backend import codegen

    codegen.kernel_source(program)


def _stages(data: dict) -> dict[str, tuple[Callable[[Any], object], Any]]:
    text = json.dumps(data)
    stages: dict[str, tuple[Callable[[Any], object], Any]] = {"decode json": (_decode, text)}
    try:
        program = _decode(text)
    except PelError:
        return stages
    stages["decode msgpack"] = (lambda b: serialize.loads_msgpack(b, validate=False),
                                serialize.dumps_msgpack(program))
    stages["validate"] = (_validate, program)
    stages["hash"] = (hashing.model_hash, program)
    stages["encode json"] = (serialize.dumps_json, program)
    try:
        validate.validate(program)
    except PelError:
        return stages
    stages["codegen"] = (_codegen, program)
    return stages


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_ten_times_larger_ir_costs_about_ten_times_more(shape: str) -> None:
    build, n = SHAPES[shape]
    small, large = _stages(build(n)), _stages(build(10 * n))
    assert small.keys() == large.keys()
    ratios = {stage: _ratio(small[stage], large[stage]) for stage in small}
    worst = max(ratios, key=ratios.__getitem__)
    assert ratios[worst] <= RATIO_BOUND, f"{shape}: {worst} grew {ratios[worst]:.0f}x for 10x the IR ({ratios})"


def test_a_million_order_entries_are_refused_with_a_code() -> None:
    data = many_vars(10)
    data["model"]["order"] = ["v0"] * 1_000_000
    with pytest.raises(PelError) as info:
        serialize.loads_json(json.dumps(data))
    assert info.value.code == "V001"
    assert "listed twice: v0" in info.value.diagnostics[0].message


def test_too_many_correlated_parameters_are_refused_before_the_matrix_is_built() -> None:
    program = serialize.from_dict(many_correlations(limits.MAX_CORRELATED + 1))
    with pytest.raises(PelError) as info:
        validate.validate(program)
    assert info.value.code == "V004"
    assert "limit" in info.value.diagnostics[0].message
