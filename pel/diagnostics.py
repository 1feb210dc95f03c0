"""Diagnostics shared by every stage: spans, coded messages, rendering with a caret, and the error types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Level = Literal["error", "warning", "note"]


@dataclass(frozen=True, slots=True)
class Span:
    """A source region: 1-based line and column of the first character, end is exclusive."""

    file: str  # path as the user gave it, or "<string>"
    line: int
    col: int
    end_line: int
    end_col: int

    def to_list(self) -> list[int]:
        """Compact form stored in the IR (the file name is kept once, at model level)."""
        return [self.line, self.col, self.end_line, self.end_col]

    @staticmethod
    def from_list(file: str, data: list[int] | None) -> Span | None:
        if not data:
            return None
        return Span(file, int(data[0]), int(data[1]), int(data[2]), int(data[3]))

    def merge(self, other: Span | None) -> Span:
        """The span covering self and other (other may be None)."""
        if other is None:
            return self
        start = min((self.line, self.col), (other.line, other.col))
        end = max((self.end_line, self.end_col), (other.end_line, other.end_col))
        return Span(self.file, start[0], start[1], end[0], end[1])


UNKNOWN_SPAN = Span("<unknown>", 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One coded message about the user's model or input."""

    level: Level
    code: str  # e.g. "E0200", "W0700", "V004"
    message: str
    span: Span | None = None
    hint: str | None = None

    def header(self) -> str:
        where = ""
        if self.span is not None and self.span.line > 0:
            where = f"{self.span.file}:{self.span.line}:{self.span.col}: "
        elif self.span is not None:
            where = f"{self.span.file}: "
        return f"{where}{self.level}[{self.code}]: {self.message}"

    def to_dict(self) -> dict:
        out: dict = {"level": self.level, "code": self.code, "message": self.message}
        if self.span is not None:
            out["file"] = self.span.file
            out["line"] = self.span.line
            out["col"] = self.span.col
        if self.hint:
            out["hint"] = self.hint
        return out


def render(diag: Diagnostic, source: str | None = None) -> str:
    """`file:line:col: error[CODE]: message`, the source line, a caret under the span, and the hint."""
    lines = [diag.header()]
    span = diag.span
    if span is not None and span.file in _MODULE_SOURCES:
        source = _MODULE_SOURCES[span.file]  # a module the model imported: its own text
    if source is not None and span is not None and span.line > 0:
        src_lines = source.splitlines()
        if 0 < span.line <= len(src_lines):
            text = src_lines[span.line - 1].replace("\t", " ")
            gutter = f"{span.line:>4} | "
            lines.append(gutter + text)
            start = max(span.col - 1, 0)
            if span.end_line == span.line and span.end_col > span.col:
                width = span.end_col - span.col
            else:
                width = max(len(text) - start, 1)
            lines.append(" " * len(gutter) + " " * start + "^" * max(width, 1))
    if diag.hint:
        lines.append(f"  = hint: {diag.hint}")
    return _LONE_SURROGATE.sub("\ufffd", "\n".join(lines))  # text from a Python str may hold them: not UTF-8


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class DiagnosticBag:
    """Collects every diagnostic of one compile so that all errors of a file are reported together."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic("error", code, message, span, hint))

    def warning(self, code: str, message: str, span: Span | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic("warning", code, message, span, hint))

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def extend(self, diags: list[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level == "warning"]

    def has_errors(self) -> bool:
        return any(d.level == "error" for d in self.items)


class PelError(Exception):
    """Base of every error PEL reports to a user: carries diagnostics, never shown as a traceback."""

    phase = "pel"

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic, source: str | None = None) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        self.source = source
        first = self.diagnostics[0].header() if self.diagnostics else "error"
        super().__init__(first)

    @property
    def code(self) -> str:
        errs = [d for d in self.diagnostics if d.level == "error"]
        return (errs or self.diagnostics)[0].code if self.diagnostics else "E9999"

    def render(self) -> str:
        return "\n".join(render(d, self.source) for d in self.diagnostics)


_MODULE_SOURCES: dict[str, str] = {}  # file name in spans -> text, for modules a model imported


def register_source(file: str, text: str) -> None:
    """Remember the text of an imported module (`<stdlib.NAME>` or an imported file's path), so that a diagnostic
    located in it shows its own line, not the line of the same number in the importing model."""
    _MODULE_SOURCES[file] = text


class CompileError(PelError):
    """The model source was refused (lexing, parsing, checking)."""

    phase = "compile"


class IRError(PelError):
    """An IR file could not be loaded: corrupted, hand-broken, or of another format version."""

    phase = "ir"


class RunError(PelError):
    """A run could not start or failed (bad options, overrides, runtime arithmetic fault)."""

    phase = "run"


def simple(code: str, message: str, span: Span | None = None, hint: str | None = None) -> Diagnostic:
    """A one-off error diagnostic."""
    return Diagnostic("error", code, message, span, hint)
