"""The one constant folder (pel.ir.fold): its rules, their agreement with the kernels, and that every stage reads it."""

from __future__ import annotations

import math

import pytest

import pel
from pel.frontend.constants import literal_value
from pel.frontend.parser import parse
from pel.ir import fold
from pel.ir import nodes as ir

PROV = '{ source: "test", method: "observed", confidence: 1.0 }'


def lit(v: float | bool) -> ir.Literal:
    return ir.Literal(v)


@pytest.mark.parametrize(("op", "a", "b", "want"), [
    ("+", 2.0, 3.0, 5.0), ("-", 2.0, 3.0, -1.0), ("*", 2.0, 3.0, 6.0), ("/", 3.0, 2.0, 1.5),
    ("%", 7.0, -3.0, -2.0), ("%", -7.0, 3.0, 2.0), ("^", 2.0, 10.0, 1024.0), ("^", -2.0, 3.0, -8.0),
    ("<", 1.0, 2.0, True), (">=", 1.0, 2.0, False), ("==", True, True, True), ("&&", True, False, False),
])
def test_operators_fold_as_the_kernels_compute(op: str, a: float, b: float, want: object) -> None:
    assert fold.binary(op, a, b) == want


@pytest.mark.parametrize(("op", "a", "b"), [
    ("/", 1.0, 0.0), ("%", 1.0, 0.0), ("^", 0.0, -1.0), ("^", -8.0, 1 / 3), ("^", 10.0, 400.0), ("*", 1e308, 10.0),
    ("+", True, 1.0), ("&&", 1.0, True),
])
def test_what_would_be_a_run_time_error_is_left_to_run_time(op: str, a: object, b: object) -> None:
    assert fold.binary(op, a, b) is None  # type: ignore[arg-type]


def test_value_decides_logic_with_one_known_side_and_walks_long_chains() -> None:
    unknown = ir.Ref("x", "param")
    assert fold.value(ir.Binary("&&", lit(False), unknown)) is False
    assert fold.value(ir.Binary("||", unknown, lit(True))) is True
    assert fold.value(ir.Binary("&&", lit(True), unknown)) is None
    assert fold.value(ir.IfThenElse(lit(True), lit(1.0), unknown)) == 1.0
    assert fold.value(ir.IfThenElse(unknown, lit(2.0), lit(2.0))) == 2.0
    chain: ir.Expr = lit(0.0)
    for _ in range(20_000):  # far deeper than Python's recursion limit
        chain = ir.Binary("+", chain, lit(1.0))
    assert fold.value(chain) == 20_000.0


def test_fold_is_shallow_and_keeps_the_location() -> None:
    assert fold.fold(ir.Binary("*", lit(2.0), lit(3.0), (1, 2, 1, 7))) == ir.Literal(6.0, (1, 2, 1, 7))
    deep = ir.Binary("+", ir.Binary("+", lit(1.0), lit(1.0)), lit(1.0))
    assert fold.fold(deep) is deep  # its operands are taken as folded already (lowering builds bottom-up)
    assert fold.fold(ir.Binary("/", lit(1.0), lit(0.0))).op == "/"  # type: ignore[attr-defined]


def test_the_checker_reads_constants_through_the_folder() -> None:
    model = parse("model M {\n var a = -(2 + 3) * 4 ^ 2 / 8\n var d = 2 * 3mo\n var z = 1 / 0\n}\n", "m.pel")
    values = [literal_value(v.value, "Month") for v in model.items]
    assert values == [-10.0, 6.0, None]


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%", "^"])
def test_folded_constants_equal_the_kernels_on_the_same_numbers(op: str) -> None:
    """A constant expression is folded at compile time; the same expression on parameters (not foldable) runs in
    the kernels. Both must give the same number, bit for bit."""
    pairs = [(7.5, 2.0), (-7.5, 2.0), (7.5, -2.0), (0.1, 3.0), (2.0, 0.5), (1e-3, 7.0)]
    for a, b in pairs:
        body = (f"param a: Fraction = {a!r} {PROV}\nparam b: Fraction = {b!r} {PROV}\n"
                f"var folded = ({a!r}) {op} ({b!r})\nvar computed = a {op} b")
        program = pel.compile_string("model m {\n" + body + "\n}\n")
        rules = {v.name: v.rules[0].expr for v in program.program.model.vars}
        assert isinstance(rules["folded"], ir.Literal), "the constant was not folded"
        assert not isinstance(rules["computed"], ir.Literal)
        r = program.run("deterministic", steps=0)
        folded, computed = float(r["folded"].mean[0]), float(r["computed"].mean[0])
        assert folded == computed or math.isnan(folded) and math.isnan(computed), (a, op, b)
