"""The error type of reports and charts, and a helper for its one-off diagnostics (codes E1000-E1007)."""

from __future__ import annotations

from pel.diagnostics import PelError, Span, simple


class ReportError(PelError):
    """A report or chart could not be made: no matplotlib, a broken results file, an unknown variable."""

    phase = "report"


def report_error(code: str, message: str, file: str | None = None, line: int = 0, col: int = 0,
                 hint: str | None = None) -> ReportError:
    """A ReportError with one diagnostic, located at `file` (and line:col when known)."""
    span = Span(file, line, col, line, col + 1) if file is not None else None
    return ReportError(simple(code, message, span, hint))


def no_matplotlib() -> ReportError:
    """E1000: charts need the `plot` extra."""
    return report_error("E1000", "charts need matplotlib, which is not installed",
                        hint="install PEL's plot extra: pip install 'pel-lang[plot]' (or pip install matplotlib)")
