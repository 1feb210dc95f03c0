"""Typed parameter overrides (`--set NAME=VALUE`, `params={...}`): parse, unit-check, convert to step units; and the
way back, a step-unit value shown in its declared unit (the assumption register, results `assumptions`)."""

from __future__ import annotations

import math

from pel.diagnostics import PelError, RunError, simple
from pel.ir import fold
from pel.ir import nodes as ir
from pel.lang.units import CURRENCY_SYMBOLS, LITERAL_UNITS

# Length of each time unit in days, with a month of `days_per_month` days (LANGUAGE.md §1.3: calendar units are
# exact multiples of the month, clock units of the second; the two families meet at days_per_month).
_CLOCK_DAYS = {"Second": 1 / 86400, "Minute": 1 / 1440, "Hour": 1 / 24, "Day": 1.0, "Week": 7.0}
_CALENDAR_MONTHS = {"Month": 1.0, "Quarter": 3.0, "Year": 12.0}
_LITERAL_UNITS = LITERAL_UNITS
_SYMBOLS = CURRENCY_SYMBOLS


def unit_days(unit: str, days_per_month: float) -> float:
    """Length of one `unit` (Second … Year) in days."""
    if unit in _CLOCK_DAYS:
        return _CLOCK_DAYS[unit]
    if unit in _CALENDAR_MONTHS:
        return _CALENDAR_MONTHS[unit] * days_per_month
    raise KeyError(unit)


def steps_per(unit: str, model: ir.Model) -> float:
    """How many model steps one `unit` lasts."""
    return unit_days(unit, model.days_per_month) / unit_days(model.time_unit, model.days_per_month)


class _Value:
    """A constant with its dimension: "number", "currency", "duration" (in steps) or "rate" (per step)."""

    def __init__(self, value: float | bool, dim: str, currency: str | None = None) -> None:
        self.value = value
        self.dim = dim
        self.currency = currency


def _evaluate(expr: object, model: ir.Model, name: str) -> _Value:
    from pel.frontend import ast

    if isinstance(expr, ast.Number):
        return _Value(expr.value, "number")
    if isinstance(expr, ast.Percent):
        return _Value(expr.value, "number")
    if isinstance(expr, ast.Bool):
        return _Value(expr.value, "boolean")
    if isinstance(expr, ast.Money):
        return _Value(expr.value, "currency", _SYMBOLS.get(expr.symbol))
    if isinstance(expr, ast.DurationLit):
        return _Value(expr.amount * steps_per(_LITERAL_UNITS[expr.unit], model), "duration")
    if isinstance(expr, ast.Unary) and expr.op in "-+":
        inner = _evaluate(expr.operand, model, name)
        if inner.dim == "boolean":
            raise _bad(name, "a Boolean cannot be negated")
        return _Value(fold.unary(expr.op, inner.value), inner.dim, inner.currency)  # type: ignore[arg-type]
    if isinstance(expr, ast.Binary) and expr.op in ("/", "*"):
        left = _evaluate(expr.left, model, name)
        right = _evaluate(expr.right, model, name)
        v = fold.binary(expr.op, left.value, right.value)  # the one constant folder: None for a division by 0
        if v is not None and expr.op == "*" and "number" in (left.dim, right.dim):
            other = right if left.dim == "number" else left
            return _Value(v, other.dim, other.currency)
        divide = v is not None and expr.op == "/"
        if divide and right.dim == "number":
            return _Value(v, left.dim, left.currency)
        if divide and left.dim == "number" and right.dim == "duration":
            return _Value(v, "rate")
        if divide and left.dim == "currency" and right.dim == "duration":
            return _Value(v, "currency_flow", left.currency)
    raise _bad(name, "expected a constant such as 0.1, 12%, $120, 0.05/1mo or 6mo")


def _bad(name: str, why: str, code: str = "E0100") -> RunError:
    return RunError(simple(code, f"--set {name}: {why}"))


def _time_part(t: ir.TypeInfo) -> tuple[int, str] | None:
    """The time exponent and unit of a declared type: (-1, "Year") for `Rate per Year` or `Currency<USD> per Year`,
    (1, "Hour") for `Duration<Hour>` or `Currency<USD> * Duration<Hour>` (unit label "USD*Hour"), None for a type
    without time. Arrays carry their elements' unit."""
    if t.per in _CLOCK_DAYS or t.per in _CALENDAR_MONTHS:
        return -1, t.per
    unit = t.unit.split("/")[0].rpartition("*")[2]
    if unit in _CLOCK_DAYS or unit in _CALENDAR_MONTHS:
        return 1, unit
    return None


def to_steps(t: ir.TypeInfo, value: float, model: ir.Model) -> float:
    """A value in the declared unit of `t` in step units (0.12 for a `Rate per Year` is 0.01 a month; 2 for a
    `Duration<Year>` is 24 months); unchanged for a type without time."""
    part = _time_part(t)
    if part is None:
        return value
    exponent, unit = part
    n = steps_per(unit, model)
    return value * n if exponent > 0 else value / n


def to_declared(t: ir.TypeInfo, value: float, model: ir.Model) -> float:
    """The inverse of `to_steps`, rounded to 15 significant digits so that a value converted there and back shows
    as written (0.01 a month is 0.12 for a `Rate per Year`, not 0.12000000000000001)."""
    part = _time_part(t)
    if part is None or not math.isfinite(value):
        return value
    exponent, unit = part
    n = steps_per(unit, model)
    if n == 1.0:
        return value
    return float(f"{(value / n if exponent > 0 else value * n):.15g}")


def param_value(param: ir.Param, value: object, model: ir.Model) -> object:
    """What the assumption register shows for `param` holding `value` (step units): a number, or a list for an
    array, in the declared unit; strings, Booleans and None as they are. Every view of the register (results
    `assumptions`, `pel assumptions`, the server's parameters) shows values through this function."""
    if isinstance(value, (list, tuple)):
        return [param_value(param, v, model) for v in value]
    if value is None or isinstance(value, (bool, str)) or param.type.kind == "Boolean":
        return value
    return to_declared(param.type, float(value), model)  # type: ignore[arg-type]


def convert(param: ir.Param, expr: object, model: ir.Model) -> float:
    """The override's value in step units, checked against the parameter's declared type.

    A bare number is read in the declared unit (`--set growth=0.1` on a `Rate per Year` is 10% a year);
    a literal with a unit must have the parameter's dimension (and currency).
    """
    v = _evaluate(expr, model, param.name)
    t = param.type
    if (t.kind == "Boolean") != (v.dim == "boolean"):
        raise _bad(param.name, f"{param.name} is {t.display}; got {'a Boolean' if v.dim == 'boolean' else 'a number'}")
    if v.dim == "boolean":
        return 1.0 if v.value else 0.0
    value = float(v.value)
    if not math.isfinite(value):
        raise _bad(param.name, "the value must be finite", "E0004")
    if v.dim == "number":
        return to_steps(t, value, model)
    if v.dim == "currency":
        if t.currency is None:
            raise _bad(param.name, f"{param.name} is {t.display}; a currency amount does not fit", "E0200")
        if v.currency != t.currency:
            raise _bad(param.name, f"{param.name} is in {t.currency}; got {v.currency or '¥ (ambiguous)'}", "E0201")
        return to_steps(t, value, model)
    expected = {"duration": ("Duration",), "rate": ("Rate", "Fraction")}.get(v.dim, ())
    part = _time_part(t)
    if v.dim == "currency_flow" and t.currency is not None and part is not None and part[0] == -1:
        if v.currency != t.currency:
            raise _bad(param.name, f"{param.name} is in {t.currency}; got {v.currency}", "E0201")
        return value
    if t.kind not in expected:
        raise _bad(param.name, f"{param.name} is {t.display}; a {v.dim.replace('_', ' ')} does not fit", "E0200")
    return value


def parse_assignment(text: str) -> tuple[str, str]:
    """Split `NAME=VALUE` (the --set syntax)."""
    name, sep, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not sep or not name or not value:
        raise RunError(simple("E0011", f"--set expects NAME=VALUE, got {text!r}"))
    return name, value


def resolve(program: ir.Program, overrides: dict[str, object]) -> dict[str, float]:
    """Map {name: value} (numbers, or strings of PEL literals) to step-unit floats; unknown names are errors."""
    from pel.frontend.parser import parse_expression

    model = program.model
    params = {p.name: p for p in model.params}
    out: dict[str, float] = {}
    for name, raw in overrides.items():
        param = params.get(name)
        if param is None:
            known = ", ".join(sorted(params)) or "none"
            raise RunError(simple("E0600", f"--set {name}: the model has no parameter {name!r}",
                                  hint=f"parameters: {known}"))
        if isinstance(raw, bool):
            text = "true" if raw else "false"
        elif isinstance(raw, int | float):
            text = repr(float(raw))
        elif isinstance(raw, str):
            text = raw
        else:
            raise _bad(name, f"unsupported value {raw!r}")
        try:
            expr = parse_expression(text, "<--set>", 1, 1)
        except PelError as exc:
            raise _bad(name, f"cannot read {text!r}: {exc.diagnostics[0].message}", "E0005") from None
        out[name] = convert(param, expr, model)
    return out
