"""Small pieces the code generator is built from: indented line buffers and number/boolean spellings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from pel.diagnostics import IRError, Span, simple
from pel.ir import fold
from pel.ir import nodes as ir


class Emitter:
    """Indented lines of Python."""

    def __init__(self, indent: int = 0) -> None:
        self.lines: list[str] = []
        self.ind = indent

    def line(self, text: str) -> None:
        self.lines.append("    " * self.ind + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.ind += 1
        yield
        self.ind -= 1


def as_f(code: str, typ: str) -> str:
    """A value as a float (booleans are 1.0 / 0.0)."""
    return f"(1.0 if {code} else 0.0)" if typ == "b" else code


def as_b(code: str, typ: str) -> str:
    """A value as a boolean (a number is true when non-zero)."""
    return code if typ == "b" else f"({code} != 0.0)"


SIMPLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*(?:\[i\])?|-?[0-9.e+-]+|\(-?[0-9.e+-]+\))$")


def num(value: float) -> str:
    """A float literal of generated code (repr round-trips every finite double)."""
    value = float(value)
    if value != value:
        return "np.nan"
    if value in (float("inf"), float("-inf")):
        return "np.inf" if value > 0 else "(-np.inf)"
    return repr(value)


def unsupported(what: str, program: ir.Program | None = None, loc: ir.Loc = None) -> IRError:
    """The IR uses something this backend cannot run: refused like any invalid IR file (V000), located; a file
    can hold anything, so this is not an internal error (for compiled source, validation should have caught it)."""
    span = None
    if program is not None and loc:
        span = Span.from_list(str(program.metadata.get("source_file", "<model>")), list(loc))
    return IRError(simple("V000", f"the backend cannot run this IR: {what}", span))


def is_const(e: ir.Expr) -> bool:
    """Whether `e` is a constant number (pel.ir.fold, the one constant folder)."""
    return fold.number(e) is not None


def const_value(e: ir.Expr, program: ir.Program | None) -> float:
    """The number a constant array element denotes."""
    v = fold.number(e)
    if v is not None:
        return v
    raise unsupported("a non-constant array element", program, getattr(e, "loc", None))
