"""PEL: a typed language for business and economic models — the library API (`pel.compile`, `pel.load`)."""

from __future__ import annotations

from pathlib import Path

from pel.diagnostics import CompileError, IRError, PelError, RunError
from pel.model import Model

__version__ = "0.1.0"
__all__ = ["CompileError", "IRError", "Model", "PelError", "RunError", "compile", "compile_string", "load"]


def compile(path: str | Path, *, strict: bool = False) -> Model:  # noqa: A001 - the documented API name
    """Compile a `.pel` file into a runnable Model (raises CompileError with every diagnostic)."""
    from pel.pipeline import compile_file

    comp = compile_file(path, strict=strict)
    return Model(comp.program, comp.warnings)


def compile_string(source: str, *, name: str = "<string>", strict: bool = False) -> Model:
    """Compile PEL source text into a runnable Model."""
    from pel.pipeline import compile_source

    comp = compile_source(source, name, strict=strict)
    return Model(comp.program, comp.warnings)


def load(path: str | Path) -> Model:
    """Load a model from `.pel`, `.ir.json` or `.ir.msgpack` (IR is validated on load)."""
    from pel.pipeline import load_program

    program, warnings = load_program(path)
    return Model(program, warnings)
