"""`pel fix`: mechanical repairs of models written for the earlier public implementation, driven by diagnostics.

The compiler says what is wrong and where (code, span, hint); a repair is applied only when it follows from
that alone: E0400 (a parameter without provenance) gets a stub block, E0504 `severity(error)` and the other
severity spellings become the word the hint names (`fatal` or `warning`). The edits touch only those byte
ranges, so the rest of the file is left as it was; the file is recompiled and repaired again until nothing
repairable is left.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from pel.diagnostics import CompileError, Diagnostic
from pel.frontend import ast, parser
from pel.frontend.lexer import LineIndex
from pel.pipeline import compile_source

# The stub carries no `notes` on purpose: `assumption` without notes is W0403 at every compile and an error of
# `pel lint` (L005), so the stub keeps being reported until someone writes the real provenance.
STUB_SOURCE = "TODO: stub added by pel fix, replace it with where the value comes from"
STUB_FIELDS = (f'source: "{STUB_SOURCE}"', 'method: "assumption"', "confidence: 0.5")
MAX_ROUNDS = 8  # every round removes at least one diagnostic; a guard against a repair that does not stick

_SEVERITY = re.compile(r"invalid severity '([^']+)'")
_USE = re.compile(r"^use `(fatal|warning)`$")


@dataclass(frozen=True)
class Edit:
    """Replace source[start:end] (character offsets) with `text`; `what` describes the change."""

    start: int
    end: int
    text: str
    what: str


@dataclass
class FixResult:
    """The source before and after, the changes made, and the errors no repair addresses."""

    original: str
    fixed: str
    changes: list[str] = field(default_factory=list)
    errors_before: int = 0
    remaining: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.fixed != self.original


def fix_source(source: str, file: str = "<string>") -> FixResult:
    """Apply every mechanical repair to `source` (BOM-less text) until none is left."""
    errors = compile_errors(source, file)
    result = FixResult(source, source, errors_before=len(errors))
    text = source
    for _ in range(MAX_ROUNDS):
        edits = repairs(text, file, errors)
        if not edits:
            break
        new = apply(text, edits)
        if new == text:
            break
        text = new
        result.changes.extend(e.what for e in sorted(edits, key=lambda e: e.start))
        errors = compile_errors(text, file)
    result.fixed = text
    result.remaining = errors
    return result


def compile_errors(source: str, file: str) -> list[Diagnostic]:
    """The errors of compiling `source` ([] when it compiles)."""
    try:
        compile_source(source, file)
    except CompileError as exc:
        return [d for d in exc.diagnostics if d.level == "error"]
    return []


def repairs(source: str, file: str, errors: list[Diagnostic]) -> list[Edit]:
    """The edits that mechanically repair some of `errors`, at most one per byte range."""
    index = LineIndex(source, file)
    params: dict[tuple[int, int], ast.ParamDecl] | None = None
    edits: dict[tuple[int, int], Edit] = {}
    for d in errors:
        if d.span is None or d.span.line <= 0:
            continue
        edit = None
        if d.code == "E0400":
            if params is None:
                params = _params_by_name_position(source, file)
            decl = params.get((d.span.line, d.span.col))
            edit = _stub(source, index, decl) if decl is not None else None
        elif d.code == "E0504":
            edit = _severity(source, index, d)
        if edit is not None:
            edits.setdefault((edit.start, edit.end), edit)
    return list(edits.values())


def apply(source: str, edits: list[Edit]) -> str:
    """`source` with the (non-overlapping) edits applied; an edit overlapping an earlier one is skipped."""
    out, pos = [], 0
    for e in sorted(edits, key=lambda e: (e.start, e.end)):
        if e.start < pos:
            continue
        out.append(source[pos:e.start])
        out.append(e.text)
        pos = e.end
    out.append(source[pos:])
    return "".join(out)


def unified_diff(result: FixResult, path: str) -> str:
    """The change as a unified diff (empty when nothing changed)."""
    return "".join(difflib.unified_diff(result.original.splitlines(keepends=True),
                                        result.fixed.splitlines(keepends=True),
                                        fromfile=path, tofile=path))


def _params_by_name_position(source: str, file: str) -> dict[tuple[int, int], ast.ParamDecl]:
    model = parser.parse(source, file)  # it parsed in the compile that reported E0400
    out = {}
    for p in model.of(ast.ParamDecl):
        at = p.name_span or p.span
        out[(at.line, at.col)] = p
    return out


def _stub(source: str, index: LineIndex, decl: ast.ParamDecl) -> Edit:
    """A provenance stub right after the declaration, laid out as the examples write blocks."""
    end = index.offset(decl.span.end_line, decl.span.end_col)
    line_start = source.rfind("\n", 0, end) + 1
    indent = re.match(r"[ \t]*", source[line_start:]).group()
    nl = "\r\n" if "\r\n" in source else "\n"
    body = ("," + nl).join(f"{indent}  {f}" for f in STUB_FIELDS)
    text = f" {{{nl}{body}{nl}{indent}}}"
    return Edit(end, end, text, f"line {decl.span.line}: provenance stub for '{decl.name}' (method \"assumption\", "
                                f"confidence 0.5)")


def _severity(source: str, index: LineIndex, d: Diagnostic) -> Edit | None:
    """`severity(error)` -> `severity(fatal)` (and the other spellings the E0504 hint maps)."""
    written, use = _SEVERITY.search(d.message), _USE.match(d.hint or "")
    if written is None or use is None:
        return None
    start = index.offset(d.span.line, d.span.col)
    end = index.offset(d.span.end_line, d.span.end_col)
    word = re.search(rf"(?<!\w){re.escape(written.group(1))}(?!\w)", source[start:end])
    if word is None:
        return None
    return Edit(start + word.start(), start + word.end(), use.group(1),
                f"line {d.span.line}: severity {written.group(1)} -> {use.group(1)}")
