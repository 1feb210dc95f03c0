"""The value of a constant written in the source (a literal with signs and arithmetic), through the one constant
folder (pel.ir.fold): what the checker, lowering and the specialiser ask of rule indices, ranges and options."""

from __future__ import annotations

from pel.frontend import ast
from pel.frontend.types import LIT_UNITS, steps_in
from pel.ir import fold
from pel.ir import nodes as ir


def literal_value(e: ast.Expr | None, step_unit: str = "Month") -> float | None:
    """Numeric value of a constant made of literals (with signs and arithmetic), in step units; None otherwise.
    Evaluated by the one constant folder (pel.ir.fold) on the literals' IR form."""
    form = _literal_ir(e, step_unit) if e is not None else None
    return None if form is None else fold.number(form)


def _literal_ir(e: ast.Expr, step_unit: str) -> ir.Expr | None:
    """The IR of an expression made of number, money, percent and duration literals, signs and binary
    operators (durations in steps, as lowering writes them), else None. A chain is built in a loop."""
    if isinstance(e, ast.Number | ast.Money | ast.Percent):
        return ir.Literal(float(e.value))
    if isinstance(e, ast.DurationLit):
        return ir.Literal(float(e.amount * steps_in(LIT_UNITS[e.unit], step_unit)))
    if isinstance(e, ast.Unary) and e.op in "+-":
        inner = _literal_ir(e.operand, step_unit)
        return None if inner is None else ir.Unary(e.op, inner)
    if isinstance(e, ast.Binary) and e.op in fold.ARITHMETIC:
        first, nodes = ast.left_spine(e, fold.ARITHMETIC)
        out = _literal_ir(first, step_unit)
        for node in nodes:
            right = _literal_ir(node.right, step_unit)
            if out is None or right is None:
                return None
            out = ir.Binary(node.op, out, right)
        return out
    return None


def whole_value(e: ast.Expr | None) -> int | None:
    """The whole number a constant denotes (`2`, `1 + 2`, `-1`), else None."""
    v = literal_value(e)
    return int(v) if v is not None and float(v).is_integer() else None
