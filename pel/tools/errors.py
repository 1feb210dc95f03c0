"""The error type of `pel fix` and `pel fmt` (codes E1200-E1209)."""

from __future__ import annotations

from pathlib import Path

from pel.diagnostics import PelError, Span, simple
from pel.fileio import write_atomic

# E1200 a file cannot be written; E1201 a file does not tokenize, so it cannot be formatted;
# E1202 formatting would change the tokens (a bug in the formatter: the file is left alone).


class ToolError(PelError):
    """`pel fix` or `pel fmt` cannot do its work on a file."""

    phase = "tools"


def tool_error(code: str, message: str, file: str | None = None, hint: str | None = None) -> ToolError:
    """A ToolError with one diagnostic, located at `file` when given."""
    span = Span(file, 0, 0, 0, 0) if file is not None else None
    return ToolError(simple(code, message, span, hint))


def write_text(path: str, text: str) -> None:
    """Replace `path` with `text` (UTF-8) atomically, keeping its permission bits; E1200 when it fails."""
    p = Path(path)
    try:
        mode = p.stat().st_mode & 0o777
        write_atomic(p, text.encode("utf-8"), mode)
    except OSError as exc:
        raise tool_error("E1200", f"cannot write {path}: {exc.strerror}", path) from None
