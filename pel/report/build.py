"""Assemble a report: the Result (a model run, or a results file read back) and what the model adds (units,
parameters, constraints, lint findings), then the HTML written atomically."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from pel.backend.results import Result
from pel.diagnostics import Diagnostic
from pel.fileio import write_atomic
from pel.ir import nodes as ir
from pel.report import DEFAULT_MAX_CHARTS, page
from pel.report.charts import TornadoRow
from pel.report.errors import report_error

MODEL_SUFFIXES = (".pel", ".ir.json", ".ir.msgpack")


def is_results_file(path: str) -> bool:
    """Whether `path` names a results file rather than a model: a .json that is not IR (`.ir.json`)."""
    return path.endswith(".json") and not path.endswith(".ir.json")


def model_context(program: ir.Program, source: str, *, source_text: str | None = None,
                  warnings: Sequence[Diagnostic] = (), overrides: Sequence[str] = (), lint: bool = True,
                  tornado: list[TornadoRow] | None = None, tornado_output: str | None = None,
                  tornado_base: float | None = None, max_charts: int = DEFAULT_MAX_CHARTS) -> page.ReportContext:
    """The report context of a model: units of its variables, parameters, constraints, lint findings."""
    model = program.model
    findings = _lint(program, source, list(warnings), source_text) if lint else None
    return page.ReportContext(
        source=source, units={v.name: v.type.unit for v in model.vars}, params=model.params,
        constraints=model.constraints, lint=findings, compile_warnings=list(warnings), overrides=list(overrides),
        tornado=tornado, tornado_output=tornado_output, tornado_base=tornado_base, max_charts=max_charts,
    )


def tornado_rows(program: ir.Program, output: str, *, steps: int, seed: int, params: dict[str, float]
                 ) -> tuple[list[TornadoRow], float | None]:
    """`pel sensitivity --method tornado` of `output` at step `steps`: the bars (largest swing first) and the base
    value; E0600 for an output the model does not have."""
    from pel.analysis import sensitivity as sa

    targets = sa.parse_targets([output], program.model, steps)
    report = sa.tornado(program, targets, steps=steps, seed=seed, params=params)
    rows = [TornadoRow(r.param, float(r.figures["output_low"]), float(r.figures["output_high"]))
            for r in report.targets[0].rows
            if r.figures["output_low"] is not None and r.figures["output_high"] is not None]
    return rows, report.targets[0].summary.get("base")


def _lint(program: ir.Program, source: str, warnings: list[Diagnostic], source_text: str | None) -> list:
    """`pel lint`'s findings as of today (its run checks included)."""
    from pel.release import lint
    from pel.release.common import Loaded

    return lint.lint(Loaded(source, program, warnings, source_text), lint.Options(as_of=dt.date.today()))


def report_html(result: Result, context: page.ReportContext | None = None) -> str:
    """The HTML report of `result` (a results file's context when none is given: no units, lint or model)."""
    return page.render(result, context or page.ReportContext(source="(library)"))


def write_report(path: str | Path, text: str) -> None:
    """Write the report atomically (a reader sees the old file or the new one); E1007 on an OS error."""
    target = Path(path)
    try:
        write_atomic(target, text.encode("utf-8"), 0o644)
    except OSError as exc:
        raise report_error("E1007", f"cannot write {target}: {exc.strerror or exc}", str(target),
                           hint="the previous file, if any, is unchanged") from None
