"""The compiler pipeline in one screen: source -> tokens -> ast.Model -> CheckedModel -> ir.Program."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path

from pel.diagnostics import CompileError, Diagnostic, DiagnosticBag, IRError, simple
from pel.ir import nodes as ir


@dataclass
class Compilation:
    """What one compile produced: the IR, the warnings, and each stage's output for `--emit` and debugging."""

    program: ir.Program
    warnings: list[Diagnostic]
    source: str
    model_ast: object  # pel.frontend.ast.Model
    checked: object  # pel.frontend.checker.CheckedModel
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


# Whole-model checks that can only conclude once every item has been read; reported after the others.
_END_OF_MODEL_CODES = frozenset({"E0305"})


def _position(d: Diagnostic) -> tuple[int, int, int]:
    """Report order: diagnostics in source order, whole-model conclusions (E0305) last."""
    line, col = (d.span.line, d.span.col) if d.span is not None else (0, 0)
    return (d.code in _END_OF_MODEL_CODES, line, col)


def compile_source(source: str, file: str = "<string>", *, strict: bool = False) -> Compilation:
    """Compile PEL source text; raises CompileError carrying every error of the file (sorted by position)."""
    # The stages allocate many small, acyclic objects: the cyclic garbage collector only costs time here.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _compile(source, file, strict)
    finally:
        if gc_was_enabled:
            gc.enable()


def _compile(source: str, file: str, strict: bool) -> Compilation:
    from pel.frontend import checker, imports, lower, parser, provenance
    from pel.ir import hashing, validate

    timings: dict[str, float] = {}
    start = time.perf_counter()
    # source -> tokens -> ast.Model   (syntax errors stop here: the whole file is parsed first)
    model = parser.parse(source, file)
    timings["parse"] = time.perf_counter() - start

    # ast.Model -> ast.Model   (imported functions copied in under dotted names) -> CheckedModel
    # (names, types and units, provenance; all errors collected)
    start = time.perf_counter()
    bag = DiagnosticBag()
    model = imports.resolve(model, file, bag)
    checked = checker.check(model, bag, strict=strict)
    prov = provenance.collect(model, bag, strict=strict)
    timings["check"] = time.perf_counter() - start
    if bag.has_errors():
        lower.time_errors(checked, prov, bag, source_file=file)  # listed with the others
        raise CompileError(sorted(bag.errors, key=_position) + bag.warnings, source)

    # CheckedModel -> ir.Program   (units compiled away; the time analysis on the IR: causality, cycles, the
    # horizon, whole-run values, the order (E03xx); hashed, validated as any loaded IR is)
    start = time.perf_counter()
    program = lower.lower(checked, prov, bag, source_file=file)
    if bag.has_errors():
        raise CompileError(sorted(bag.errors, key=_position) + bag.warnings, source)
    program = hashing.with_hashes(program)
    try:
        validate.validate(program, check_hashes=False)  # hashes were computed from this model just above
    except IRError as exc:  # the lowering produced IR its own validator refuses: a compiler bug
        raise CompileError(
            [simple("E9999", f"internal error: generated IR is invalid: {d.message}", d.span) for d in exc.diagnostics],
            source,
        ) from exc
    timings["lower"] = time.perf_counter() - start
    return Compilation(program, bag.warnings, source, model, checked, timings)


def read_source(path: str | Path) -> str:
    """Read a .pel file as UTF-8 (BOM dropped); unreadable files become a coded error, not a traceback."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise CompileError(simple("E0010", f"no such file: {path}")) from None
    except IsADirectoryError:
        raise CompileError(simple("E0010", f"is a directory, not a model file: {path}")) from None
    except OSError as exc:
        raise CompileError(simple("E0010", f"cannot read {path}: {exc.strerror}")) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CompileError(
            simple("E0001", f"{path} is not UTF-8 text (byte {exc.start}: invalid {exc.reason})")
        ) from None
    return text.removeprefix("\ufeff")


def compile_file(path: str | Path, *, strict: bool = False) -> Compilation:
    """Compile a .pel file."""
    return compile_source(read_source(path), str(path), strict=strict)


# The files a model can be loaded from, the source first (`pel serve` prefers it over IR written beside it).
MODEL_SUFFIXES = (".pel", ".ir.json", ".ir.msgpack")


def is_ir_path(path: str | Path) -> bool:
    name = str(path)
    return name.endswith(".ir.json") or name.endswith(".ir.msgpack")


def model_stem(path: str | Path) -> str:
    """A model file's name without its suffix (`models/revenue.ir.json` -> `revenue`): the name `pel serve`
    serves it under and the key of its records in a state folder."""
    name = Path(path).name
    for suffix in MODEL_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def load_program(path: str | Path, *, strict: bool = False) -> tuple[ir.Program, list[Diagnostic]]:
    """A runnable program from a .pel source (compiled) or an .ir.json / .ir.msgpack file (validated)."""
    from pel.ir import serialize

    if is_ir_path(path):
        return serialize.load(path), []
    if not str(path).endswith(".pel"):
        raise CompileError(
            simple("E0010", f"unknown model file type: {path}", hint="expected a .pel, .ir.json or .ir.msgpack file")
        )
    comp = compile_file(path, strict=strict)
    return comp.program, comp.warnings
