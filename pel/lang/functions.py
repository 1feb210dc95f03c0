"""The built-in functions of the language, one record each: names and aliases, the kind of each argument, the
words hints use, and how a function reads a series (the time checks). The checker, the time checks, lowering and
IR validation read this table; the checker's `builtin_type` holds each function's type rule and code generation
its kernel (`ExprGen.c_<name>`), and a test checks that every record has both."""

from __future__ import annotations

from dataclasses import dataclass

# Argument kinds:
#   num      a number (a series named without an index is its value at the current step)
#   series   a whole series or array: a variable's name, an array parameter or variable, `[…]`, `a..b`
#   var      a model variable's name (its series, read at and before the current step)
#   tracked  a variable's or a parameter's name
NUM, SERIES, VAR, TRACKED = "num", "series", "var", "tracked"
KIND_TEXT = {
    NUM: "a number",
    SERIES: "a series or an array (a variable's name, `[…]`)",
    VAR: "a variable's series (its name)",
    TRACKED: "a variable's or parameter's name",
}


@dataclass(frozen=True)
class Func:
    """One built-in function.

    `reads`: how the time checks see the series named as its first argument -- "whole" (every step of the run:
    the call is a whole-run quantity when it aggregates), "relative" (steps at or before the current one), or
    "" (a per-step value)."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # argument names for hints (default: from the kinds)
    aliases: tuple[str, ...] = ()
    variadic: bool = False  # also takes two or more numbers (min, max)
    aggregate: bool = False  # reduces a whole series to one value (sum, npv, min(series), …)
    reads: str = ""

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.required + self.optional


_FUNCS = (
    Func("abs", (NUM,)), Func("floor", (NUM,)), Func("ceil", (NUM,)), Func("round", (NUM,), (NUM,), ("x", "digits")),
    Func("clamp", (NUM, NUM, NUM), words=("x", "low", "high")), Func("sqrt", (NUM,)), Func("exp", (NUM,)),
    Func("ln", (NUM,)), Func("log", (NUM,), (NUM,), ("x", "base")), Func("pow", (NUM, NUM), words=("base", "exponent")),
    Func("min", (SERIES,), variadic=True, aggregate=True), Func("max", (SERIES,), variadic=True, aggregate=True),
    Func("sum", (SERIES,), aggregate=True, reads="whole"),
    Func("avg", (SERIES,), aliases=("mean",), aggregate=True, reads="whole"),
    Func("count", (SERIES,), aggregate=True, reads="whole"),
    Func("product", (SERIES,), aggregate=True, reads="whole"),
    Func("length", (SERIES,), aliases=("len",), aggregate=True, reads="whole"),
    Func("npv", (SERIES, NUM), words=("cash_flows", "rate"), aggregate=True, reads="whole"),
    Func("irr", (SERIES,), aggregate=True, reads="whole"),
    Func("cumsum", (VAR,), reads="relative"),
    Func("lag", (VAR, NUM), words=("series", "steps"), reads="whole+relative"),
    Func("percentChange", (TRACKED,), reads="relative"),
    # time value of money, numpy-financial's conventions (rate per period, when: 0 end / 1 start of the period)
    Func("pmt", (NUM, NUM, NUM), (NUM, NUM), ("rate", "nper", "pv", "fv", "when")),
    Func("ipmt", (NUM, NUM, NUM, NUM), (NUM, NUM), ("rate", "per", "nper", "pv", "fv", "when")),
    Func("ppmt", (NUM, NUM, NUM, NUM), (NUM, NUM), ("rate", "per", "nper", "pv", "fv", "when")),
    Func("pv", (NUM, NUM, NUM), (NUM, NUM), ("rate", "nper", "pmt", "fv", "when")),
    Func("fv", (NUM, NUM, NUM), (NUM, NUM), ("rate", "nper", "pmt", "pv", "when")),
    Func("nper", (NUM, NUM, NUM), (NUM, NUM), ("rate", "pmt", "pv", "fv", "when")),
    # piecewise-linear table lookup, clamped at the ends
    Func("lookup", (NUM, SERIES, SERIES), words=("x", "xs", "ys")),
    # system dynamics: exponential smoothing and material delays (Euler steps of one model step)
    Func("smooth", (VAR, NUM), words=("series", "time"), reads="relative"),
    Func("delay1", (VAR, NUM), words=("series", "time"), reads="relative"),
    Func("delay3", (VAR, NUM), words=("series", "time"), reads="relative"),
)
FUNCTIONS: dict[str, Func] = {f.name: f for f in _FUNCS}
ALIASES: dict[str, str] = {a: f.name for f in _FUNCS for a in f.aliases}
NAMES = frozenset(FUNCTIONS) | frozenset(ALIASES)  # every spelling a model may call
CANONICAL = frozenset(FUNCTIONS)  # the names the IR holds (aliases resolved by lowering)
FINANCE = frozenset({"pmt", "ipmt", "ppmt", "pv", "fv", "nper"})
DELAYS = {"smooth": 1, "delay1": 1, "delay3": 3}  # stages of each system-dynamics delay


def get(name: str) -> Func:
    """The record of a built-in called `name` (an alias resolved); KeyError for a name that is none."""
    return FUNCTIONS[ALIASES.get(name, name)]


def arg_kinds(name: str, n: int) -> tuple[str, ...] | None:
    """The kinds of the `n` arguments of built-in `name`, or None when `n` is not an arity it takes (two or more
    arguments of a variadic function are numbers: `min(a, b)`; one is a series: `min(xs)`)."""
    f = get(name)
    if f.variadic and n >= 2:
        return (NUM,) * n
    if not len(f.required) <= n <= len(f.kinds):
        return None
    return f.kinds[:n]


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def names_where(pred) -> frozenset[str]:  # noqa: ANN001 - a predicate on Func
    """Every spelling (aliases included) of the functions for which `pred(func)` holds."""
    return frozenset(n for n in NAMES if pred(get(n)))


# The sets the stages use, derived from the records
SERIES_ARG = names_where(lambda f: f.kinds[0] in (SERIES, VAR, TRACKED) and not f.variadic)
WHOLE_SERIES = names_where(lambda f: "whole" in f.reads)  # a bare-name first argument is the whole series
PER_STEP = names_where(lambda f: "relative" in f.reads)  # reads the series relative to the current step
AGGREGATES = names_where(lambda f: f.aggregate)
VARIADIC = names_where(lambda f: f.variadic)
