"""The `pel sensitivity`, `pel compare` and `pel solve` subcommands, registered on the `pel` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_NOT_CONVERGED = 7
EXIT_UNREACHABLE = 8


def _load(args: argparse.Namespace) -> tuple[Any, dict[str, float], int, int, int]:
    """The program, the --set overrides in step units, the seed, the last step and the Monte Carlo paths (--runs,
    else the model's, else PEL's default)."""
    from pel import overrides
    from pel.cli import _print_diagnostics
    from pel.model import Model
    from pel.pipeline import load_program

    program, warnings = load_program(args.model, strict=args.strict)
    _print_diagnostics(warnings, None)
    sets = dict(overrides.parse_assignment(item) for item in args.set or [])
    steps_params = overrides.resolve(program, sets)
    settings = Model(program, warnings).settings("monte_carlo", seed=args.seed, runs=args.runs, steps=args.steps)
    return program, steps_params, settings.seed, settings.steps, settings.runs


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Which assumptions drive an output: tornado (P10/P90 swings), spearman (rank correlation over a Monte Carlo
    run) or sobol (first-order and total indices from a Saltelli design), for --target VAR[@T] or every output."""
    from pel.analysis import sensitivity as sa
    from pel.progress import ProgressBar

    program, params, seed, steps, paths = _load(args)
    targets = sa.parse_targets(args.target, program.model, steps)
    runs = paths if args.method == "spearman" else args.runs or 2 ** 12  # sobol: base samples
    conn = None
    if args.dask and args.method != "tornado":
        from pel.backend.distributed import connect

        conn = connect(args.dask)
    client = conn.client if conn is not None else None
    try:
        with ProgressBar(enabled=not args.quiet and sys.stderr.isatty()) as bar:
            if args.method == "tornado":
                report = sa.tornado(program, targets, steps=steps, seed=seed, swing=args.swing, params=params)
            elif args.method == "spearman":
                report = sa.spearman(program, targets, steps=steps, runs=runs, seed=seed,
                                     threads=args.threads or 1, params=params, progress=bar.update, client=client)
            else:
                report = sa.sobol(program, targets, steps=steps, runs=runs, seed=seed, threads=args.threads or 1,
                                  params=params, progress=bar.update, client=client)
    finally:
        if conn is not None:
            conn.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    else:
        sys.stdout.write(sa.render_text(report))
    return 0


def cmd_solve(args: argparse.Namespace) -> int:
    """Goal seek: the value of --vary at which STAT(VAR[@T]) meets a target, by Brent's method under common random
    numbers in at most 25 simulations. Exit 8 when the target is not reached in --between, 7 when not converged."""
    from pel.analysis import solve as gs

    program, params, seed, steps, runs = _load(args)
    target = gs.parse_target(args.target)
    sol = gs.solve(program, args.vary, target, between=args.between, mode=args.mode, seed=seed, runs=runs,
                   steps=steps, params=params, threads=args.threads or 1)
    if args.format == "json":
        sys.stdout.write(json.dumps(sol.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    else:
        sys.stdout.write(gs.render_text(sol))
    return {"solved": 0, "unreachable": EXIT_UNREACHABLE}.get(sol.status, EXIT_NOT_CONVERGED)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run a model under several of its scenarios with common random numbers and print the outputs at the horizon
    side by side (value, or mean with p5-p95), with differences to the first scenario."""
    from pel import overrides
    from pel.analysis.compare import compare, render_text
    from pel.cli import _print_diagnostics
    from pel.model import Model
    from pel.pipeline import load_program

    program, warnings = load_program(args.model, strict=args.strict)
    _print_diagnostics(warnings, None)
    sets = dict(overrides.parse_assignment(item) for item in args.set or [])
    names = [n.strip() for item in args.scenarios for n in item.split(",") if n.strip()]
    c = compare(Model(program, warnings), names, mode=args.mode, seed=args.seed, runs=args.runs, steps=args.steps,
                params=sets, threads=args.threads)
    if args.format == "json":
        sys.stdout.write(json.dumps(c.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    else:
        sys.stdout.write(render_text(c))
    return c.exit_code


def _range(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        lo, hi = (float(x.strip().replace("_", "")) for x in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI (two numbers in the parameter's unit), got {text!r}") \
            from None
    return lo, hi


def _fraction(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.1 or 10%, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"the swing must lie between 0 and 1 (0%-100%), got {text}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    from pel.argtypes import non_negative_int, positive_int

    p.add_argument("model", help=".pel, .ir.json or .ir.msgpack")
    p.add_argument("--seed", type=non_negative_int, help="random seed (default: the model's, else 42)")
    p.add_argument("--runs", type=positive_int, help="Monte Carlo paths (spearman, solve) or base samples (sobol: "
                                                     "N, N·(k+2) evaluations; default 4096)")
    p.add_argument("--steps", type=non_negative_int, help="last time step (default: the model's horizon)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="fix a parameter (typed), repeatable")
    p.add_argument("--threads", type=positive_int, help="threads for the blocks of evaluations (default 1)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")


def register(sub: argparse._SubParsersAction) -> None:
    """Add `sensitivity`, `compare` and `solve` to the `pel` parser."""
    from pel.analysis.sensitivity import METHODS

    doc = cmd_sensitivity.__doc__ or ""
    p = sub.add_parser("sensitivity", help=doc.replace("%", "%%"), description=doc,
                       epilog="Methods, estimators and their conventions: docs/analysis.md.")
    _common(p)
    p.add_argument("--target", action="append", metavar="VAR[@T]",
                   help="an output at step T (default the horizon); repeatable or comma-separated; default: every "
                        "numeric output at the horizon")
    p.add_argument("--method", choices=METHODS, default="tornado")
    p.add_argument("--swing", type=_fraction, default=0.10, metavar="X",
                   help="tornado: the relative swing of a fixed parameter (default 10%%)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="spearman, sobol: run the evaluations on a Dask cluster (tcp://HOST:PORT, or local:N worker "
                        "processes); the same figures as a local run")
    p.set_defaults(func=cmd_sensitivity)

    doc = cmd_compare.__doc__ or ""
    p = sub.add_parser("compare", help=doc, description=doc,
                       epilog="`declared` names the model as written; docs/analysis.md.")
    p.add_argument("model", help=".pel, .ir.json or .ir.msgpack")
    p.add_argument("--scenarios", required=True, action="append", metavar="A,B,…|all",
                   help="the scenarios, the first the baseline; `all`: the model as written, then every scenario")
    from pel.cli import add_run_options

    add_run_options(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")
    p.set_defaults(func=cmd_compare)

    doc = cmd_solve.__doc__ or ""
    p = sub.add_parser("solve", help=doc, description=doc, epilog="The statistics and the method: docs/analysis.md.")
    _common(p)
    p.add_argument("--vary", required=True, metavar="PARAM", help="the parameter to solve for")
    p.add_argument("--target", required=True, metavar="\"STAT(VAR[@T]) OP VALUE\"",
                   help="STAT: value, mean, p5…p95, success_rate; OP: =, >=, <=; e.g. \"p10(cash@24) >= 0\"")
    p.add_argument("--between", type=_range, metavar="LO,HI",
                   help="the range of the parameter, in its declared unit (default [0, 2x] around its value x)")
    p.add_argument("--mode", choices=["deterministic", "monte_carlo"],
                   help="default: deterministic for STAT value, else monte_carlo")
    p.set_defaults(func=cmd_solve)
