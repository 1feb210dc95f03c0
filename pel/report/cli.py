"""The `pel report` and `pel plot` subcommands, registered on the `pel` command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pel.report.errors import report_error

if TYPE_CHECKING:
    from pel.backend.results import Result
    from pel.report.page import ReportContext

RUN_OPTIONS = ("mode", "seed", "steps", "runs", "set", "threads")


def cmd_report(args: argparse.Namespace) -> int:
    """Write a self-contained HTML report of a run (a model, run with the options of `pel run`, or a results
    file): outputs, fan charts, histograms, constraints, assumptions, lint findings and warnings."""
    from pel.report import build, charts, page

    _check_suffix(args.output, (".html", ".htm"), "an .html file")
    if args.sensitivity and build.is_results_file(args.input):
        raise report_error("E1006", f"--sensitivity {args.sensitivity}: a tornado runs the model, and "
                                    f"{args.input} is a results file", args.input,
                           hint="give the model (.pel or IR) instead")
    charts.require()
    started = time.perf_counter()
    if build.is_results_file(args.input):
        given = [f"--{name}" for name in RUN_OPTIONS if getattr(args, name) is not None]
        if given:
            raise report_error("E1005", f"{', '.join(given)} given with a results file: its run is already done",
                               args.input, hint="give the model instead to run it with these options")
        from pel.report.resultsfile import read_results

        result = read_results(args.input)
        context = page.ReportContext(source=args.input, max_charts=args.charts)
        ran = 0.0
    else:
        result, context, ran = _run_model(args)
    text = build.report_html(result, context)
    build.write_report(args.output, text)
    if not args.quiet:
        spent = time.perf_counter() - started - ran
        print(f"pel: report of {result.model_name} ({result.status}) -> {args.output} "
              f"({len(text.encode('utf-8')) / 1e6:.2f} MB, {spent:.1f} s beyond the run)", file=sys.stderr)
    return 0


def _run_model(args: argparse.Namespace) -> tuple[Result, ReportContext, float]:
    """Run the model as `pel run` does; its result, the report context and the seconds the compile and the run
    took."""
    from pel import overrides, pipeline
    from pel.cli import _print_diagnostics
    from pel.model import Model
    from pel.progress import ProgressBar
    from pel.report import build

    t0 = time.perf_counter()
    program, warnings = pipeline.load_program(args.input, strict=args.strict)
    _print_diagnostics(warnings, None)
    sets = dict(overrides.parse_assignment(item) for item in args.set or [])
    with ProgressBar(enabled=not args.quiet and sys.stderr.isatty()) as bar:
        result = Model(program, warnings).run(args.mode, runs=args.runs, seed=args.seed, steps=args.steps,
                                              params=sets, threads=args.threads, progress=bar.update,
                                              compile_progress=bar.stage)
    ran = time.perf_counter() - t0
    text = pipeline.read_source(args.input) if args.input.endswith(".pel") else None
    rows, base = None, None
    if args.sensitivity:  # the tornado's runs are deterministic: part of the report, not of the run
        rows, base = build.tornado_rows(program, args.sensitivity, steps=result.steps, seed=result.seed,
                                        params=overrides.resolve(program, sets))
    context = build.model_context(program, args.input, source_text=text, warnings=warnings,
                                  overrides=args.set or [], lint=not args.no_lint, max_charts=args.charts,
                                  tornado=rows, tornado_output=args.sensitivity if rows is not None else None,
                                  tornado_base=base)
    return result, context, ran


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw one chart of a results file to a PNG or SVG file: fan charts of the variables over time, or their
    histograms at the horizon (--histogram)."""
    from pel.report import build, charts
    from pel.report.histograms import horizon_histogram
    from pel.report.resultsfile import checked_variable, read_results

    _check_suffix(args.output, (".png", ".svg"), "a .png or .svg file")
    if not build.is_results_file(args.results):
        raise report_error("E1001", "pel plot reads a results file (.json), not a model", args.results,
                           hint="run the model first: pel run MODEL -o results.json (or pel report MODEL)")
    charts.require()
    result = read_results(args.results)
    names = [checked_variable(result, name, args.results) for name in args.vars]
    mc = result.mode == "monte_carlo"
    with charts.style():
        fig, axes = charts.figure(6.4, 2.6 * len(names) + 0.4, rows=len(names), fitted=True)
        for ax, name in zip(axes, names, strict=True):
            if args.histogram:
                hist = horizon_histogram(result, name)
                if hist is None:
                    raise report_error("E1003", f"{name!r} has no histogram: it needs a Monte Carlo run and "
                                                "numbers at the horizon", args.results)
                charts.histogram(ax, hist)
            else:
                charts.fan(ax, result.variables[name], mc, "", result.time_unit)
        data = charts.save(fig, Path(args.output))
    try:
        from pel.fileio import write_atomic

        write_atomic(Path(args.output), data, 0o644)
    except OSError as exc:
        raise report_error("E1007", f"cannot write {args.output}: {exc.strerror or exc}", args.output) from None
    return 0


def _check_suffix(path: str, suffixes: tuple[str, ...], what: str) -> None:
    if not path.lower().endswith(suffixes):
        raise report_error("E1004", f"the output must be {what}, got {path!r}",
                           hint=f"name it with {' or '.join(suffixes)}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `report` and `plot` subcommands to the `pel` parser."""
    from pel.cli import _out_path, add_run_options  # the parser being built is pel.cli's
    from pel.report import DEFAULT_MAX_CHARTS

    doc = cmd_report.__doc__
    p = sub.add_parser("report", help=doc, description=doc, epilog="Contents, choices and limits: docs/report.md.")
    p.add_argument("input", metavar="MODEL|RESULTS.json",
                   help=".pel, .ir.json or .ir.msgpack (run now), or a results file of `pel run -o`")
    p.add_argument("-o", "--output", type=_out_path, required=True, metavar="REPORT.html")
    add_run_options(p)
    p.add_argument("--sensitivity", metavar="VAR", help="add a tornado chart of output VAR at the horizon (as "
                                                          "`pel sensitivity --method tornado`)")
    p.add_argument("--charts", type=_positive_int, default=DEFAULT_MAX_CHARTS, metavar="N",
                   help=f"fan charts and histograms drawn, at most N of each (default {DEFAULT_MAX_CHARTS})")
    p.add_argument("--no-lint", action="store_true", help="leave out the pel lint findings")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")
    p.set_defaults(func=cmd_report)

    doc = cmd_plot.__doc__
    p = sub.add_parser("plot", help=doc, description=doc)
    p.add_argument("results", metavar="RESULTS.json")
    p.add_argument("vars", nargs="+", metavar="VAR")
    p.add_argument("-o", "--output", type=_out_path, required=True, metavar="FILE.png|FILE.svg")
    p.add_argument("--histogram", action="store_true", help="the distribution at the horizon (Monte Carlo)")
    p.set_defaults(func=cmd_plot)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value
