"""The `pel backtest`, `pel calibrate` and `pel drift` subcommands, registered on the `pel` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pel.diagnostics import simple
from pel.release.common import percent_or_fraction

if TYPE_CHECKING:
    from pel.ir import nodes as ir
    from pel.monitor.actuals import Actuals

EXIT_MAPE_EXCEEDED = 6
EXIT_DRIFT = 6  # pel drift --fail-on-drift: a parameter drifted
EXIT_NOT_CONVERGED = 7  # pel calibrate / drift: the (latest) fit did not converge or does not identify its parameters


def cmd_backtest(args: argparse.Namespace) -> int:
    """Score a model's predictions against actuals (MAPE, RMSE, bias; coverage and CRPS in Monte Carlo); exit 6
    when a variable's MAPE is above --max-mape."""
    from pel import overrides
    from pel.cli import _print_diagnostics
    from pel.model import Model
    from pel.monitor.actuals import read_actuals
    from pel.monitor.backtest import compare, render_text
    from pel.pipeline import load_program
    from pel.progress import ProgressBar

    program, warnings = load_program(args.model, strict=args.strict)
    _print_diagnostics(warnings, None)
    sets = dict(overrides.parse_assignment(item) for item in args.set or [])
    model = Model(program, warnings)
    settings = model.settings(args.mode, seed=args.seed, runs=args.runs, steps=args.steps)
    actuals = read_actuals(args.actuals, program.model, steps=settings.steps, start=args.start)
    with ProgressBar(enabled=not args.quiet and sys.stderr.isatty()) as bar:
        result = model.run(args.mode, runs=args.runs, seed=args.seed, steps=args.steps, params=sets,
                           threads=args.threads, progress=bar.update, compile_progress=bar.stage)
    report = compare(result, actuals, program.model, max_mape=args.max_mape)
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    else:
        sys.stdout.write(render_text(report))
    return EXIT_MAPE_EXCEEDED if report.exceeded else result.exit_code


def _start(text: str) -> dt.date:
    """`YYYY-MM` (the first of that month) or `YYYY-MM-DD`."""
    raw = text.strip()
    try:
        return dt.date.fromisoformat(raw + "-01" if len(raw) == 7 else raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month YYYY-MM or a date YYYY-MM-DD, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `backtest` subcommand to the `pel` parser."""
    doc = cmd_backtest.__doc__
    p = sub.add_parser("backtest", help=doc, description=doc,
                       epilog="The actuals format, the metrics and their conventions: docs/monitoring.md.")
    p.add_argument("model", help=".pel, .ir.json or .ir.msgpack")
    p.add_argument("--actuals", required=True, metavar="FILE",
                   help="CSV of observed values: t,variable,value (long) or t,<variable>,… (wide)")
    p.add_argument("--start", type=_start, metavar="YYYY-MM",
                   help="the month (or day) of t = 0, to read a `date` column instead of `t`")
    from pel.cli import add_run_options  # the parser being built is pel.cli's

    add_run_options(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--max-mape", type=percent_or_fraction, metavar="X",
                   help="exit 6 when a variable's MAPE is above X (0.05 or 5%%)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")
    p.set_defaults(func=cmd_backtest)
    _register_calibrate(sub)
    _register_drift(sub)


# ---------------------------------------------------------------------------------------------
# pel calibrate, pel drift
# ---------------------------------------------------------------------------------------------


def _names(items: list[str] | None) -> list[str]:
    """NAME[,NAME…], the option given once or more."""
    return [n.strip() for item in items or [] for n in item.split(",") if n.strip()]


def _read_data(path: str, model: ir.Model, steps: int, start: dt.date | None) -> tuple[str, Actuals]:
    """The SHA-256 of the data file and its actuals (the reader's coded errors for a file it cannot read)."""
    from pathlib import Path

    from pel.monitor.actuals import parse_actuals, read_actuals
    from pel.monitor.rewrite import data_sha256

    try:
        data = Path(path).read_bytes()
    except OSError:
        read_actuals(path, model, steps=steps, start=start)  # raises E0900, with the reader's message
        raise
    return data_sha256(data), parse_actuals(data, path, model, steps=steps, start=start)


def _setup(args: argparse.Namespace) -> tuple:
    """The model, its program, the --set overrides, the fitted names, the data's hash and actuals, the bounds."""
    from pel import overrides
    from pel.cli import _print_diagnostics
    from pel.model import Model
    from pel.monitor.calibrate import DEFAULT_MODE, fittable, parse_bound
    from pel.pipeline import load_program

    program, warnings = load_program(args.model, strict=args.strict)
    _print_diagnostics(warnings, None)
    fit = _names(args.fit)
    fittable(program, fit)
    sets = dict(overrides.parse_assignment(item) for item in args.set or [])
    bounds = {}
    for item in args.bound or []:
        name, lo, hi = parse_bound(item)
        bounds[name] = (lo, hi)
    model = Model(program, warnings)
    settings = model.settings(args.mode or DEFAULT_MODE, seed=args.seed, runs=args.runs, steps=args.steps)
    sha, actuals = _read_data(args.data, program.model, settings.steps, args.start)
    return model, program, sets, fit, sha, actuals, bounds


def add_state_options(p: argparse.ArgumentParser, what: str) -> None:
    """--state DIR (default $PEL_STATE) and --name: the state folder shared with `pel serve --state`."""
    import os

    p.add_argument("--state", metavar="DIR", default=os.environ.get("PEL_STATE") or None,
                   help=f"a state folder (as `pel serve --state`; default $PEL_STATE): {what}")
    p.add_argument("--name", metavar="NAME",
                   help="the model's name in the state folder (default: the file name without its suffix, the "
                        "name `pel serve` serves it under)")


def _record(args: argparse.Namespace, fitted: list, notes: list[str]) -> None:
    """Append the estimates to the --state folder, with a note saying so (or why nothing was recorded)."""
    if not args.state:
        return
    from pel.monitor.state import StateStore
    from pel.pipeline import model_stem

    name = args.name or model_stem(args.model)
    if not fitted:
        notes.append(f"nothing recorded in {args.state}: the fit did not converge or does not identify every "
                     "parameter")
        return
    store = StateStore(args.state)
    try:
        store.record(name, fitted)
    finally:
        store.close()
    notes.append(f"recorded {len(fitted)} estimate(s) of {name!r} in {args.state}")


def _emit(args: argparse.Namespace, report: Any, render: Callable[[Any], str]) -> None:
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    else:
        sys.stdout.write(render(report))


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Fit parameters to actuals by least squares: estimates in their declared units with standard errors and
    95% intervals, the RMSE, convergence; --write puts the values into the .pel file (method "fitted"). Exit 7
    when the fit does not converge or does not identify its parameters."""
    from pathlib import Path

    from pel.monitor import rewrite
    from pel.monitor.calibrate import calibrate, render_text
    from pel.monitor.state import from_calibration, now_utc

    original = None
    if args.write:
        rewrite.check_source_path(args.model)
        try:
            original = Path(args.model).read_bytes()
        except OSError:
            original = None  # loading the model reports it
    model, program, sets, fit, sha, actuals, bounds = _setup(args)
    if args.write:
        text = original.decode("utf-8", errors="replace").removeprefix("\ufeff") if original else None
        rewrite.check_writable(args.model, program, fit, text)
    cal = calibrate(model, actuals, fit, mode=args.mode, seed=args.seed, runs=args.runs, steps=args.steps,
                    params=sets, variables=_names(args.variables) or None, objective=args.objective,
                    bounds=bounds, max_evals=args.max_evals, threads=args.threads)
    cal.settings.data_sha256 = sha
    if args.write and cal.ok:
        if original is None:
            raise rewrite.RewriteError(simple("E0912", f"cannot read {args.model} to rewrite it"))
        source = rewrite.fitted_source(args.data, sha, dt.date.today())
        rewrite.write_fitted(args.model, original, cal.values(), source, model_hash=cal.settings.model_hash,
                             strict=args.strict)
        cal.written = args.model
    elif args.write:
        cal.notes.append(f"{args.model} was not written: the fit "
                         + ("did not converge" if not cal.converged else "does not identify every parameter"))
    _record(args, from_calibration(cal, now_utc()), cal.notes)
    _emit(args, cal, render_text)
    if not cal.ok:
        return EXIT_NOT_CONVERGED
    return 3 if cal.run_status in ("constraint_violation", "failed") else 0


def cmd_drift(args: argparse.Namespace) -> int:
    """Calibrate on rolling windows of W steps: each parameter's estimates with their intervals, and a verdict
    on the latest (outside the declared distribution's P5-P95, or more than 3 standard errors from a fixed
    value). Exit 6 with --fail-on-drift when a parameter drifted; 7 when the latest window's fit failed."""
    from pel.monitor.drift import drift, render_text
    from pel.monitor.state import from_drift, now_utc

    model, program, sets, fit, sha, actuals, bounds = _setup(args)
    report = drift(model, actuals, fit, window=args.window, stride=args.stride, mode=args.mode, seed=args.seed,
                   runs=args.runs, steps=args.steps, params=sets, variables=_names(args.variables) or None,
                   objective=args.objective, bounds=bounds, max_evals=args.max_evals, threads=args.threads)
    report.settings.data_sha256 = sha
    _record(args, from_drift(report, now_utc()), report.notes)
    _emit(args, report, render_text)
    if args.fail_on_drift and report.drifted:
        return EXIT_DRIFT
    return 0 if report.latest_ok else EXIT_NOT_CONVERGED


def _fit_options(p: argparse.ArgumentParser) -> None:
    """The options `calibrate` and `drift` share: the data, what to fit, and the run options of `pel run`."""
    from pel.argtypes import positive_int
    from pel.monitor.calibrate import OBJECTIVES

    p.add_argument("model", help=".pel, .ir.json or .ir.msgpack")
    p.add_argument("--data", required=True, metavar="FILE",
                   help="CSV of observed values, as for `pel backtest --actuals`: t,variable,value or t,<var>,…")
    p.add_argument("--fit", required=True, action="append", metavar="NAME[,NAME…]",
                   help="the parameters to fit (numeric, scalar)")
    p.add_argument("--variables", action="append", metavar="NAME[,NAME…]",
                   help="fit to these observed variables only (default: every variable in the data file)")
    p.add_argument("--objective", choices=OBJECTIVES, default="scaled",
                   help="scaled (default): residuals divided by each variable's RMS actual; relative: by each "
                        "actual; absolute: as they are")
    p.add_argument("--bound", action="append", metavar="NAME=LO:HI",
                   help="bounds of a fitted parameter in its declared unit, either side may be empty (default: "
                        "from its type, e.g. >= 0 for a Rate or Fraction)")
    p.add_argument("--max-evals", type=positive_int, metavar="N",
                   help="stop the optimiser after N evaluations of the residuals, the Jacobian's not counted "
                        "(default: scipy's, 100 per parameter)")
    p.add_argument("--start", type=_start, metavar="YYYY-MM",
                   help="the month (or day) of t = 0, to read a `date` column instead of `t`")
    from pel.cli import add_run_options  # the parser being built is pel.cli's

    add_run_options(p, mode_help="default: deterministic (uncertain parameters at their central values), whatever "
                                 "the model's `simulate` directive says; monte_carlo fits the mean of the paths",
                    set_help="override a parameter (typed); on a fitted one, where its fit starts")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")
    add_state_options(p, "record the estimates there, for `pel assumptions --state` and `pel serve --state` "
                         "(only those of a fit that converged and identifies its parameters)")


def _register_calibrate(sub: argparse._SubParsersAction) -> None:
    doc = cmd_calibrate.__doc__ or ""
    p = sub.add_parser("calibrate", help=doc.replace("%", "%%"), description=doc,
                       epilog="The objective, the errors and --write: docs/monitoring.md.")
    _fit_options(p)
    p.add_argument("--write", action="store_true",
                   help="put the fitted values into the .pel file, with provenance method \"fitted\" and the "
                        "data file's SHA-256 (only when the fit converged)")
    p.set_defaults(func=cmd_calibrate)


def _register_drift(sub: argparse._SubParsersAction) -> None:
    from pel.argtypes import positive_int

    doc = cmd_drift.__doc__ or ""
    p = sub.add_parser("drift", help=doc.replace("%", "%%"), description=doc,
                       epilog="Windows, the verdict and its rule: docs/monitoring.md.")
    _fit_options(p)
    p.add_argument("--window", type=positive_int, required=True, metavar="W", help="steps per window")
    p.add_argument("--stride", type=positive_int, default=1, metavar="K",
                   help="steps between window starts (default 1); the last window always ends at the latest "
                        "observation")
    p.add_argument("--fail-on-drift", action="store_true", help="exit 6 when a parameter drifted")
    p.set_defaults(func=cmd_drift)
