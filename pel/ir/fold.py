"""The one constant folder: what an IR expression made of constants evaluates to, by the runtime's own rules.

Every stage that needs the value of a constant reads it here: the checker (through an IR form of its literals),
`--set` overrides, lowering (which replaces a constant subexpression by its literal), IR validation, lint and code
generation. An operator folds only where the kernels would give the same finite value without an error: a
division or modulo by zero, `0 ^ -1`, a negative base to a fractional power and any result that is not finite are
left to run time, where they are errors (LANGUAGE.md §1.6), so folding never hides one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pel.ir import nodes as ir

Value = float | bool
Known = Callable[[ir.Expr], "Value | None"]  # a caller's extra knowledge of a node (lint: `x >= x` is true)

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}
ARITHMETIC = frozenset(("+", "-", "*", "/", "%", "^"))


def is_number(v: object) -> bool:
    """A number (a Boolean is not one)."""
    return isinstance(v, int | float) and not isinstance(v, bool)


def binary(op: str, a: Value | None, b: Value | None) -> Value | None:
    """`a op b` as the kernels compute it, or None when it does not fold (an unknown operand, a type the operator
    does not take, or a result the kernels would report as an error)."""
    if a is None or b is None:
        return None
    if op in ("&&", "||"):
        if isinstance(a, bool) and isinstance(b, bool):
            return (a and b) if op == "&&" else (a or b)
        return None
    if op in ("==", "!=") and isinstance(a, bool) and isinstance(b, bool):
        return _COMPARE[op](a, b)
    if not (is_number(a) and is_number(b)):
        return None
    x, y = float(a), float(b)
    if op in _COMPARE:
        return _COMPARE[op](x, y)
    try:
        if op == "+":
            r = x + y
        elif op == "-":
            r = x - y
        elif op == "*":
            r = x * y
        elif op == "/" and y != 0:
            r = x / y
        elif op == "%" and y != 0:
            r = x - y * math.floor(x / y)  # the kernels' modulo (the sign of the divisor)
        elif op == "^" and not (x == 0 and y < 0) and not (x < 0 and y != math.floor(y)):
            r = float(x ** y)
        else:
            return None
    except (OverflowError, ZeroDivisionError, ValueError):
        return None
    return r if math.isfinite(r) else None


def unary(op: str, a: Value | None) -> Value | None:
    """`op a` for `-`, `+` and `!`, or None."""
    if op == "!":
        return (not a) if isinstance(a, bool) else None
    if is_number(a) and op in ("-", "+"):
        return -float(a) if op == "-" else float(a)  # type: ignore[arg-type]
    return None


def value(e: ir.Expr | None, known: Known | None = None) -> Value | None:
    """The value of `e` when it is a constant (numbers, Booleans, arithmetic, comparisons, `&&`/`||` (a false
    or true side decides alone), `!`, `if` with a constant condition or equal branches), else None. A chain of
    operators is walked in a loop, however long."""
    if e is None:
        return None
    if known is not None:
        v = known(e)
        if v is not None:
            return v
    if isinstance(e, ir.Literal):
        return e.value if isinstance(e.value, bool) else float(e.value) if is_number(e.value) else None
    if isinstance(e, ir.Unary):
        return unary(e.op, value(e.operand, known))
    if isinstance(e, ir.Binary):
        first, nodes = ir.left_spine(e)
        a = value(first, known)
        for node in nodes:
            v = known(node) if known is not None else None
            if v is not None:
                a = v
                continue
            b = value(node.right, known)
            if node.op == "&&" and (a is False or b is False):
                a = False
            elif node.op == "||" and (a is True or b is True):
                a = True
            else:
                a = binary(node.op, a, b)
        return a
    if isinstance(e, ir.IfThenElse):
        then = value(e.then_branch, known)
        other = True if e.else_branch is None else value(e.else_branch, known)
        if then is not None and then == other and type(then) is type(other):
            return then
        cond = value(e.condition, known)
        if not isinstance(cond, bool):
            return None
        return then if cond else other
    return None


def number(e: ir.Expr | None) -> float | None:
    """The value of `e` when it is a constant number (not a Boolean), else None."""
    v = value(e)
    return float(v) if is_number(v) else None


def fold(e: ir.Expr) -> ir.Expr:
    """`e`, or the literal it folds to when it is a constant (located where `e` is). Shallow: `e`'s operands are
    taken as already folded (lowering folds each node as it builds it, bottom-up), so a node costs O(1) and a
    long chain stays linear."""
    if isinstance(e, ir.Unary) and isinstance(e.operand, ir.Literal):
        v = unary(e.op, value(e.operand))
    elif isinstance(e, ir.Binary) and isinstance(e.left, ir.Literal) and isinstance(e.right, ir.Literal):
        v = value(e)
    elif isinstance(e, ir.IfThenElse) and all(isinstance(x, ir.Literal | None) for x in (
            e.condition, e.then_branch, e.else_branch)):
        v = value(e)
    else:
        return e
    if v is None:
        return e
    return ir.Literal(v if isinstance(v, bool) else float(v), getattr(e, "loc", None))
