"""Resolved PEL types and the unit algebra of LANGUAGE.md §1 (operator table, step normalization, time units).

A numeric type is a *base* (Currency<X>, Count<E>, Capacity<R>, or dimensionless) with a time exponent
(`te`: -1 for "per <time unit>", 0, +1 for Duration) and an optional scope entity (`X per Customer`):

    Fraction                 base None,      te 0
    Rate per Month           base None,      te -1, time "Month"
    Duration                 base None,      te +1
    Currency<USD>            base Currency,  te 0
    Currency<USD> per Month  base Currency,  te -1, time "Month"
    Currency<USD> per Cust.  base Currency,  te 0,  scope "Customer"

Non-numeric kinds: Boolean, String, Enum, Record, Array (with `inner`), Func, Unknown (an error was already
reported; it absorbs further checks so one mistake gives one diagnostic).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from pel.lang.units import LITERAL_UNITS as LIT_UNITS  # noqa: F401 - the table's, re-exported for the checker
from pel.lang.units import TIME_UNITS, UNIT_SPELLINGS  # noqa: F401 - the table's, re-exported for the checker

DAYS_PER_MONTH = 30.0


def months_in(unit: str, days_per_month: float = DAYS_PER_MONTH) -> float:
    """Length of one `unit` in months: calendar family exact (q=3, y=12), clock family via days_per_month."""
    calendar = {"Month": 1.0, "Quarter": 3.0, "Year": 12.0}
    if unit in calendar:
        return calendar[unit]
    days = {"Second": 1 / 86400, "Minute": 1 / 1440, "Hour": 1 / 24, "Day": 1.0, "Week": 7.0}[unit]
    return days / days_per_month


def steps_in(unit: str, step_unit: str = "Month", days_per_month: float = DAYS_PER_MONTH) -> float:
    """How many model steps one `unit` lasts."""
    return months_in(unit, days_per_month) / months_in(step_unit, days_per_month)


_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def replace(obj, /, **changes):  # noqa: ANN001, ANN201 - same contract as dataclasses.replace
    """`dataclasses.replace` for the checker's frozen values, without its per-call introspection (a hot path:
    types are derived thousands of times per model). Unknown field names are refused as dataclasses does."""
    cls = type(obj)
    known = _FIELDS.get(cls)
    if known is None:
        names = tuple(f.name for f in fields(cls))
        known = _FIELDS.setdefault(cls, (names, frozenset(names)))
    if not known[1].issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(set(changes) - known[1])}")
    new = object.__new__(cls)
    for name in known[0]:
        object.__setattr__(new, name, changes[name] if name in changes else getattr(obj, name))
    return new


@dataclass(frozen=True, slots=True)
class PelType:
    """A resolved type. See the module docstring for the numeric encoding."""

    kind: str  # "num" | "Boolean" | "String" | "Enum" | "Record" | "Array" | "Func" | "Unknown"
    base: str | None = None  # "Currency" | "Count" | "Capacity" | None (dimensionless), kind "num" only
    tag: str | None = None  # currency code / entity / resource of the base
    te: int = 0  # time exponent: -1 per time, +1 duration
    time: str | None = None  # the time unit of a flow/rate (te -1) or of a Duration<U> (te +1)
    scope: str | None = None  # `per Customer` entity
    series: bool = False  # declared TimeSeries<...>
    inner: PelType | None = None  # Array element type
    name: str | None = None  # Enum/Record name
    integral: bool = False  # Int alias / integer literal (informational)

    @property
    def is_num(self) -> bool:
        return self.kind == "num"

    @property
    def unknown(self) -> bool:
        return self.kind == "Unknown"

    @property
    def dimensionless(self) -> bool:
        return self.kind == "num" and self.base is None and self.te == 0 and self.scope is None

    def element(self) -> PelType:
        """The per-step value type (drops TimeSeries)."""
        return replace(self, series=False) if self.series else self


FRACTION = PelType("num")
INTEGER = PelType("num", integral=True)
BOOLEAN = PelType("Boolean")
STRING = PelType("String")
UNKNOWN = PelType("Unknown")
DURATION = PelType("num", te=1)


def currency(code: str) -> PelType:
    return PelType("num", base="Currency", tag=code)


def rate(unit: str) -> PelType:
    return PelType("num", te=-1, time=unit)


def duration(unit: str | None = None) -> PelType:
    return PelType("num", te=1, time=unit)


def array(inner: PelType) -> PelType:
    return PelType("Array", inner=inner)


def entity_key(name: str | None) -> str | None:
    """Entities match singular/plural (`per Customer` vs `Count<Customers>`)."""
    if name is None:
        return None
    return name[:-1] if name.endswith("s") and len(name) > 1 else name


def _base_text(t: PelType) -> str:
    if t.base is None:
        return "Fraction"
    return f"{t.base}<{t.tag}>" if t.tag else t.base


def type_text(t: PelType) -> str:
    """Canonical display of a type: `Currency<USD> per Month`, `Rate per Month`, `TimeSeries<Fraction>`."""
    if t.series:
        return f"TimeSeries<{type_text(replace(t, series=False))}>"
    if t.kind == "Array":
        return f"Array<{type_text(t.inner) if t.inner else '?'}>"
    if t.kind in ("Enum", "Record"):
        return t.name or t.kind
    if t.kind != "num":
        return {"Unknown": "<unknown>", "Func": "Function"}.get(t.kind, t.kind)
    if t.te == 1:
        text = "Duration" if t.base is None else f"{_base_text(t)} * Duration"
    elif t.te == -1:
        text = f"Rate per {t.time}" if t.base is None else f"{_base_text(t)} per {t.time}"
    else:
        text = _base_text(t)
    if t.scope:
        text = f"{text} per {t.scope}"
    return text


def unit_label(t: PelType, step_unit: str = "Month") -> str:
    """Unit label for results: "USD", "1/Month", "USD/Month", "Month", "Customer", "" (dimensionless)."""
    if t.kind != "num":
        return ""
    base = t.tag or "" if t.base else ""
    if t.te == -1:
        label = f"{base or '1'}/{t.time}"
    elif t.te == 1:
        label = f"{base}*{t.time or step_unit}" if base else (t.time or step_unit)
    else:
        label = base
    if t.scope:
        label = f"{label or '1'}/{t.scope}"
    return label


def same_dimension(a: PelType, b: PelType) -> bool:
    """Equal up to series-ness, Duration units, integrality and entity plural."""
    return (
        a.kind == b.kind == "num"
        and a.base == b.base
        and (a.tag == b.tag or a.base in ("Count", "Capacity") and entity_key(a.tag) == entity_key(b.tag))
        and a.te == b.te
        and (a.te != -1 or a.time == b.time)
        and entity_key(a.scope) == entity_key(b.scope)
    )


def step_normalize(t: PelType, step_unit: str) -> PelType | None:
    """`X per <step unit>` read as a per-step X (LANGUAGE.md §1.4 [R]); None when not applicable."""
    if t.kind == "num" and t.te == -1 and t.time == step_unit:
        return replace(t, te=0, time=None, series=False)
    return None


# ---------------------------------------------------------------------------------------------
# Operator table (LANGUAGE.md §1.4)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpResult:
    """Result of typing one operator application: a type, or an error code and message."""

    type: PelType
    code: str | None = None
    message: str = ""


def _err(code: str, message: str) -> OpResult:
    return OpResult(UNKNOWN, code, message)


def _mismatch(op: str, a: PelType, b: PelType) -> OpResult:
    if a.base == b.base == "Currency" and a.tag != b.tag:
        return _err("E0201", f"cannot {_verb(op)} {type_text(a)} and {type_text(b)}: different currencies")
    return _err("E0200", f"cannot {_verb(op)} {type_text(a)} and {type_text(b)}: incompatible dimensions")


def _verb(op: str) -> str:
    return {"+": "add", "-": "subtract"}.get(op, f"compare ({op})")


def additive(op: str, a: PelType, b: PelType, step_unit: str, *, zero_left: bool = False,
             zero_right: bool = False) -> OpResult:
    """`+ -` and comparisons between numeric types: same dimension, with step normalization and literal 0."""
    a, b = a.element(), b.element()
    if same_dimension(a, b):
        time = a.time if a.time == b.time else None
        return OpResult(replace(a, time=time, integral=a.integral and b.integral))
    if op not in ("+", "-") and (zero_left or zero_right):
        return OpResult(b if zero_left else a)
    if op not in ("+", "-") and _count_vs_number(a, b):
        return OpResult(a if a.base else b)  # `users > 100`: a bare number reads as a count (§1.5)
    na, nb = step_normalize(a, step_unit) or a, step_normalize(b, step_unit) or b
    if (na is not a or nb is not b) and same_dimension(na, nb):
        return OpResult(na)
    return _mismatch(op, a, b)


def _count_vs_number(a: PelType, b: PelType) -> bool:
    """A plain count/capacity and a dimensionless number, in either order: comparable, as a bare number may be
    declared a Count<E> or Capacity<R> (LANGUAGE.md §1.5)."""
    def plain_count(x: PelType) -> bool:
        return x.base in ("Count", "Capacity") and x.te == 0 and x.scope is None

    return plain_count(a) and b.dimensionless or plain_count(b) and a.dimensionless


def _combine_time(a: PelType, b: PelType, te: int, step_unit: str) -> tuple[int, str | None] | None:
    """Time exponent and unit of a product/quotient; None when not representable."""
    if te == 0:
        return 0, None
    if te in (-1, 1):
        units = [x.time for x in (a, b) if x.te == te and x.time] or [x.time for x in (a, b) if x.time]
        return te, units[0] if units else (step_unit if te == -1 else None)
    # te = +-2: step normalization of a rate in the step unit
    if te == -2 and all(x.time == step_unit for x in (a, b) if x.te == -1):
        return -1, step_unit
    return None


def _scoped_by(x: PelType, y: PelType) -> PelType | None:
    """x when it is `X per E` and y counts E (`Count<E>`): their product is X (LANGUAGE.md §1.4)."""
    if x.scope and y.base in ("Count", "Capacity") and entity_key(x.scope) == entity_key(y.tag):
        return x
    return None


def multiply(a: PelType, b: PelType, step_unit: str) -> OpResult:
    a, b = a.element(), b.element()
    scope = a.scope or b.scope
    if a.base and b.base:
        if a.base == b.base == "Currency":
            return _err("E0202", f"{type_text(a)} * {type_text(b)} is not representable")
        main = _scoped_by(a, b) or _scoped_by(b, a) or (a if a.base == "Currency" else b if b.base == "Currency"
                                                          else a)
        other = b if main is a else a
        base, tag = main.base, main.tag
        if main.scope and entity_key(main.scope) == entity_key(other.tag):
            scope = other.scope  # Scoped<T,E> x Count<E> -> T
    else:
        src = a if a.base else b
        base, tag = src.base, src.tag
    te = a.te + b.te
    if base is not None and te == 1:
        return _err("E0202", f"{type_text(a)} * {type_text(b)} is not representable")
    combined = _combine_time(a, b, te, step_unit)
    if combined is None:
        return _err("E0202", f"{type_text(a)} * {type_text(b)} is not representable")
    te, time = combined
    return OpResult(PelType("num", base=base, tag=tag, te=te, time=time, scope=scope,
                            integral=a.integral and b.integral))


def divide(a: PelType, b: PelType, step_unit: str) -> OpResult:
    a, b = a.element(), b.element()
    scope = a.scope
    if b.scope and entity_key(b.scope) == entity_key(a.scope):
        scope = None
    base, tag = a.base, a.tag
    if b.base:
        if a.base == b.base:
            if a.base == "Currency" and a.tag != b.tag:
                return _err("E0201", f"cannot divide {type_text(a)} by {type_text(b)}: different currencies")
            base, tag = None, None
        elif a.base == "Currency" and b.base in ("Count", "Capacity"):
            scope = b.tag  # Currency / Count<E> -> Currency per E
        elif a.base is None or b.base == "Currency":
            return _err("E0202", f"{type_text(a)} / {type_text(b)} is not representable")
        else:
            base, tag = a.base, a.tag
    te = a.te - b.te
    if te == 1 and base is not None:
        # X / (Rate per U) = X * Duration<U>: step normalization gives X (LANGUAGE.md §1.4 [R] item 6)
        if (a.te == 0 and b.time == step_unit) or (a.te == 1 and b.te == 0):
            return OpResult(PelType("num", base=base, tag=tag, scope=scope))
        return _err("E0202", f"{type_text(a)} / {type_text(b)} is not representable")
    if te == -1:
        unit = b.time if b.te == 1 else a.time
        return OpResult(PelType("num", base=base, tag=tag, te=-1, time=unit or step_unit, scope=scope))
    if te == 1:
        return OpResult(PelType("num", te=1, time=b.time if b.te == -1 else a.time, scope=scope))
    if te == 0:
        return OpResult(PelType("num", base=base, tag=tag, scope=scope))
    if te == -2 and a.time == step_unit:
        return OpResult(PelType("num", base=base, tag=tag, te=-1, time=b.time or step_unit, scope=scope))
    return _err("E0202", f"{type_text(a)} / {type_text(b)} is not representable")


def power(a: PelType, b: PelType, step_unit: str, exponent_is_one: bool) -> OpResult:
    a, b = a.element(), b.element()
    nb = step_normalize(b, step_unit) or b
    if not nb.dimensionless:
        return _err("E0100", f"exponent must be dimensionless, found {type_text(b)}")
    if a.dimensionless or exponent_is_one:
        return OpResult(a)
    na = step_normalize(a, step_unit)
    if na is not None and na.dimensionless:
        return OpResult(na)
    return _err("E0202", f"{type_text(a)} raised to a power is not representable")
