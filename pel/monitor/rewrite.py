"""`pel calibrate --write`: put fitted values into a `.pel` source, with provenance saying so, changing nothing else.

The value and the `source` and `method` fields of each fitted parameter are found through the spans the frontend
keeps on the AST (ParamDecl.value, its provenance fields); only those byte ranges are replaced. A value keeps the
shape it was written in (`$120` stays money, `12% / 1y` a percentage per year) where that shape is a literal,
else it is written in the canonical literal of its type. The new text is compiled before it is written: it must
compile, hold exactly the fitted values and warn no more than before; then it replaces the file atomically."""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pel.diagnostics import PelError, Span, simple
from pel.frontend import ast
from pel.ir import nodes as ir
from pel.lang.units import LITERAL_UNITS, SYMBOL_OF_CURRENCY, UNIT_LITERALS
from pel.overrides import steps_per, to_steps

BOM = b"\xef\xbb\xbf"
_LITERAL = UNIT_LITERALS
_FROM_LITERAL = LITERAL_UNITS
_SYMBOL = SYMBOL_OF_CURRENCY
_DIGITS = 10  # significant digits written: the optimiser's precision (its tolerances are 1e-10)


class RewriteError(PelError):
    """`--write` was refused or failed: not a .pel source, an uncertain parameter, a result that would not compile."""

    phase = "calibrate"


def check_writable(model_path: str, program: ir.Program, names: list[str], source: str | None = None) -> None:
    """E0910 unless `--write` can update these parameters: the model is a `.pel` source and none of them is
    declared with a distribution. Checked before fitting."""
    check_source_path(model_path)
    _refuse_distributions(program, names, str(model_path), source)


def check_source_path(model_path: str) -> None:
    """E0910 unless the model is a `.pel` source (compiled IR has no source to update)."""
    if not str(model_path).endswith(".pel"):
        raise RewriteError(simple("E0910", f"--write updates a .pel source; {model_path} is compiled IR",
                                  hint="fit the .pel file the IR was compiled from, then compile it again"))


def _refuse_distributions(program: ir.Program, names: list[str], file: str, source: str | None) -> None:
    params = {p.name: p for p in program.model.params}
    errors = []
    for name in names:
        p = params.get(name)
        if p is not None and p.distribution is not None:
            errors.append(simple(
                "E0910", f"--write does not replace the distribution of {name} ({p.value_text})",
                Span(file, *p.loc) if p.loc else None,
                hint="the fit is a point estimate: it does not say what the spread should be. Fit without "
                     f"--write and edit the distribution, or declare `param {name}: {p.type.display} = …`"))
    if errors:
        raise RewriteError(errors, source)


def data_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fitted_source(data_file: str, sha256: str, date: dt.date) -> str:
    """The `source` a fitted parameter gets: the data file, its SHA-256 and the date of the fit."""
    return f"fitted to {data_file} (sha256:{sha256}) on {date.isoformat()}"


# ---------------------------------------------------------------------------------------------
# Literals
# ---------------------------------------------------------------------------------------------


def number_text(x: float) -> str:
    """|x| to 10 significant digits, positional (no exponent), as the lexer reads it: 0.0123, 1250, 0.00000015."""
    v = float(f"{abs(x):.{_DIGITS}g}")
    return str(np.format_float_positional(v, trim="-"))


@dataclass(frozen=True)
class _Shape:
    """A literal-shaped value: [-]core or [-]core / duration, where core is a number, %, money or duration."""

    start: ast.Node  # the first node replaced (the sign, else the core)
    core: ast.Expr
    divisor: ast.DurationLit | None


def _shape(expr: ast.Expr) -> _Shape | None:
    divisor = None
    e = expr
    if isinstance(e, ast.Binary) and e.op == "/" and isinstance(e.right, ast.DurationLit):
        divisor, e = e.right, e.left
    start: ast.Node = e
    if isinstance(e, ast.Unary) and e.op in "-+":
        e = e.operand
    if isinstance(e, (ast.Number, ast.Percent, ast.Money)) or (isinstance(e, ast.DurationLit) and divisor is None):
        return _Shape(start, e, divisor)
    return None


def _shaped_text(shape: _Shape, param: ir.Param, value: float, model: ir.Model) -> str | None:
    """The core literal in the shape it was written, holding `value` (declared unit); None where it cannot."""
    core = shape.core
    unit = 0.01 if isinstance(core, ast.Percent) else 1.0
    if isinstance(core, ast.DurationLit):
        factor = steps_per(_FROM_LITERAL[core.unit], model)
    elif shape.divisor is None:
        factor = unit * to_steps(param.type, 1.0, model)  # a bare amount is read in the declared unit
    else:
        d = shape.divisor
        factor = unit / (d.amount * steps_per(_FROM_LITERAL[d.unit], model))
    if factor == 0 or not math.isfinite(factor):
        return None
    written = to_steps(param.type, value, model) / factor
    sign = "-" if written < 0 else ""
    number = number_text(written)
    if isinstance(core, ast.Percent):
        return f"{sign}{number}%"
    if isinstance(core, ast.Money):
        return f"{sign}{core.symbol}{number}"
    if isinstance(core, ast.DurationLit):
        return f"{sign}{number}{core.unit}"
    return f"{sign}{number}"


def canonical_text(param: ir.Param, value: float, model: ir.Model) -> str:
    """`value` (declared unit) as the plain literal of the parameter's type: `$120`, `0.12 / 1y`, `$1200 / 1y`,
    `6mo`, `0.05`."""
    t = param.type
    sign = "-" if value < 0 else ""
    number = number_text(value)
    per = f" / 1{_LITERAL[t.per]}" if t.per in _LITERAL else ""
    if t.kind == "Duration":
        return f"{sign}{number}{_LITERAL.get(t.unit, _LITERAL[model.time_unit])}"
    if t.currency is not None:
        return f"{sign}{_SYMBOL.get(t.currency, '¥')}{number}{per}"
    return f"{sign}{number}{per}"


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


# ---------------------------------------------------------------------------------------------
# The rewrite
# ---------------------------------------------------------------------------------------------


def rewrite(text: str, file: str, values: Mapping[str, float], source: str, *, strict: bool = False) -> str:
    """`text` (a .pel source, without a byte-order mark) with each parameter of `values` holding its value
    (declared unit) and provenance `source: <source>`, `method: "fitted"`; every other character unchanged.
    Raises RewriteError (E0910, E0912) when a parameter cannot be rewritten or the result would not compile to
    exactly these values."""
    from pel.frontend.lexer import LineIndex
    from pel.pipeline import compile_source

    comp = compile_source(text, file, strict=strict)
    model_ast: ast.Model = comp.model_ast  # type: ignore[assignment]
    program = comp.program
    decls = {d.name: d for d in model_ast.of(ast.ParamDecl)}
    params = {p.name: p for p in program.model.params}
    _refuse_distributions(program, list(values), file, text)
    index = LineIndex(text, file)

    def offsets(span: Span) -> tuple[int, int]:
        return index.offset(span.line, span.col), index.offset(span.end_line, span.end_col)

    fixed: list[tuple[int, int, str]] = []  # provenance edits
    shaped: dict[str, tuple[int, int, str] | None] = {}
    plain: dict[str, tuple[int, int, str]] = {}
    for name, value in values.items():
        decl, param = decls.get(name), params.get(name)
        if decl is None or param is None or decl.value is None or decl.provenance is None:
            raise RewriteError(simple("E0912", f"{file} declares no parameter {name!r} with a value and provenance"))
        if not math.isfinite(value):
            raise RewriteError(simple("E0912", f"{name}: {value!r} cannot be written"))
        for key, new in (("source", _string(source)), ("method", '"fitted"')):
            f = decl.provenance.get(key)
            if f is None:
                raise RewriteError(simple("E0912", f"{name} has no `{key}` in its provenance", decl.provenance.span),
                                   text)
            fixed.append((*offsets(f.value.span), new))
        start, end = offsets(decl.value.span)
        plain[name] = (start, end, canonical_text(param, value, program.model))
        shape = _shape(decl.value)
        literal = _shaped_text(shape, param, value, program.model) if shape is not None else None
        shaped[name] = None if literal is None or shape is None else (
            offsets(shape.start.span)[0], offsets(shape.core.span)[1], literal)

    # First each value in its own shape; what does not compile to the value (or warns more) goes canonical.
    choice = {name: shaped[name] or plain[name] for name in values}
    for attempt in range(2):
        new_text = _apply(text, fixed + list(choice.values()))
        wrong = _verify(new_text, file, values, strict, len(comp.warnings))
        if not wrong:
            return new_text
        if attempt == 0 and any(choice[n] != plain[n] for n in wrong):
            choice.update({n: plain[n] for n in wrong})
            continue
        raise RewriteError(simple("E0912", f"--write: the rewritten {file} {wrong[next(iter(wrong))]}",
                                  hint="nothing was written; write the values by hand (the report has them)"))
    raise AssertionError("unreachable")


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    edits = sorted(edits)
    for (_, e1, _), (s2, _, _) in zip(edits, edits[1:], strict=False):
        if s2 < e1:
            raise RewriteError(simple("E0912", "--write: two edits of the source overlap"))
    out, pos = [], 0
    for s, e, new in edits:
        out.append(text[pos:s])
        out.append(new)
        pos = e
    out.append(text[pos:])
    return "".join(out)


def _verify(text: str, file: str, values: Mapping[str, float], strict: bool, warnings: int) -> dict[str, str]:
    """{name: what is wrong} for the parameters the rewritten text does not hold (all, when it does not compile)."""
    from pel.pipeline import compile_source

    try:
        comp = compile_source(text, file, strict=strict)
    except PelError as exc:
        d = exc.diagnostics[0]
        where = f" (line {d.span.line})" if d.span is not None else ""
        return dict.fromkeys(values, f"does not compile: {d.code} {d.message}{where}")
    model = comp.program.model
    params = {p.name: p for p in model.params}
    wrong = {}
    for name, value in values.items():
        p = params[name]
        expected = to_steps(p.type, value, model)
        got = p.value.value if isinstance(p.value, ir.Literal) else p.central
        if not isinstance(got, (int, float)) or not math.isclose(float(got), expected, rel_tol=1e-9,
                                                                  abs_tol=1e-300):
            wrong[name] = f"holds {got!r} for {name}, not {expected!r} (in model steps)"
    if not wrong and len(comp.warnings) > warnings:
        w = comp.warnings[-1]
        return dict.fromkeys(values, f"warns: {w.code} {w.message}")
    return wrong


def write_fitted(path: str | Path, original: bytes, values: Mapping[str, float], source: str, *,
                 model_hash: str | None = None, strict: bool = False) -> Path:
    """Rewrite the .pel file at `path`, whose bytes were `original` when it was fitted, atomically. Refused
    (E0912) when the file changed since (its bytes, or the model `model_hash` fitted), or cannot be written."""
    from pel.fileio import write_atomic
    from pel.pipeline import compile_source

    file = str(path)
    bom = original.startswith(BOM)
    try:
        text = original[len(BOM) if bom else 0:].decode("utf-8")
    except UnicodeDecodeError:
        raise RewriteError(simple("E0912", f"{file} is not UTF-8 text")) from None
    if model_hash is not None:
        digest = compile_source(text, file, strict=strict).program.metadata.get("model_hash")
        if digest != model_hash:
            raise RewriteError(simple("E0912", f"{file} is not the model that was fitted (it changed meanwhile)",
                                      hint="fit again"))
    new_text = rewrite(text, file, values, source, strict=strict)
    target = Path(os.path.realpath(path))
    try:
        if target.read_bytes() != original:
            raise RewriteError(simple("E0912", f"{file} changed while it was being fitted; nothing was written",
                                      hint="fit again"))
        mode = target.stat().st_mode & 0o7777
        write_atomic(target, (BOM if bom else b"") + new_text.encode("utf-8"), mode=mode)
    except OSError as exc:
        raise RewriteError(simple("E0912", f"cannot write {file}: {exc.strerror or exc}")) from None
    return Path(path)
