"""The `pel` command: one short function per subcommand; every user error is a coded message, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from pel import __version__
from pel.argtypes import non_negative_int
from pel.diagnostics import Diagnostic, PelError, RunError, render, simple

EXIT_OK, EXIT_ERROR, EXIT_INTERNAL, EXIT_CONSTRAINT = 0, 1, 2, 3


class UsageError(PelError):
    """A bad command line (unknown flag, missing argument, bad value)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would exit 2 with its own format
        raise UsageError(simple("E0011", message, hint=f"run `{self.prog} --help` for usage"))


def _print_diagnostics(diags: list[Diagnostic], source: str | None) -> None:
    for d in diags:
        print(render(d, source), file=sys.stderr)


def _ir_path_for(model_path: str, fmt: str) -> Path:
    base = model_path[:-4] if model_path.endswith(".pel") else model_path
    return Path(f"{base}.ir.{fmt}")


# ---------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------


def cmd_compile(args: argparse.Namespace) -> int:
    """Compile a model to IR (`x.pel` -> `x.ir.json`), or print a stage with --emit."""
    from pel import pipeline
    from pel.ir import serialize

    if args.emit == "tokens":
        from pel.frontend.dump import dump_tokens
        from pel.frontend.lexer import tokenize

        sys.stdout.write(dump_tokens(tokenize(pipeline.read_source(args.model), args.model)))
        return EXIT_OK
    if args.emit == "ast":
        return _emit_ast(args)
    comp = pipeline.compile_file(args.model, strict=args.strict)
    _print_diagnostics(comp.warnings, comp.source)
    if args.emit == "ir":
        sys.stdout.write(serialize.dumps_json(comp.program))
        return EXIT_OK
    if args.emit == "python":
        from pel.backend.codegen import generate

        sys.stdout.write(generate(comp.program))
        return EXIT_OK
    out = Path(args.output) if args.output else _ir_path_for(args.model, args.format)
    try:
        serialize.save(comp.program, out, args.format)
    except OSError as exc:
        raise UsageError(simple("E0010", f"cannot write {out}: {exc.strerror}")) from None
    print(f"compiled {comp.program.model.name} -> {out} ({comp.program.metadata['model_hash']})")
    return EXIT_OK


def _emit_ast(args: argparse.Namespace) -> int:
    """Print the AST with each expression's inferred type; errors after it."""
    from pel.diagnostics import DiagnosticBag
    from pel.frontend import checker, parser
    from pel.frontend.dump import dump_ast
    from pel.pipeline import read_source

    source = read_source(args.model)
    model = parser.parse(source, args.model)
    bag = DiagnosticBag()
    checked = checker.check(model, bag, strict=args.strict)
    types = {key: checker.type_text(t) for key, t in checked.types.items()}
    sys.stdout.write(dump_ast(model, types=types))
    _print_diagnostics(bag.items, source)
    return EXIT_ERROR if bag.has_errors() else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    """Report every diagnostic of a model; exit 1 if any is an error."""
    from pel import pipeline

    comp = pipeline.compile_file(args.model, strict=args.strict)
    _print_diagnostics(comp.warnings, comp.source)
    n = len(comp.warnings)
    print(f"{args.model}: ok ({n} warning{'s' if n != 1 else ''})")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run a model (.pel, .ir.json or .ir.msgpack) and write or print the results JSON."""
    from pel import overrides
    from pel.model import Model
    from pel.pipeline import load_program
    from pel.progress import ProgressBar

    program, warnings = load_program(args.model, strict=args.strict)
    _print_diagnostics(warnings, None)
    sets = dict(overrides.parse_assignment(item) for item in args.set or [])
    show = not args.quiet and sys.stderr.isatty()
    model = Model(program, warnings)
    conn = None
    if args.dask and model.settings(args.mode).mode == "monte_carlo":
        from pel.backend.distributed import connect

        conn = connect(args.dask)
    try:
        with ProgressBar(enabled=show) as bar:
            result = model.run(
                args.mode, runs=args.runs, seed=args.seed, steps=args.steps, params=sets,
                threads=args.threads, progress=bar.update, until_se=args.until_se,
                memory_limit=args.memory_limit, client=conn.client if conn else None, compile_progress=bar.stage,
                scenario=args.scenario,
            )
    finally:
        if conn is not None:
            conn.close()
    where = "stdout"
    if args.output is not None:
        try:
            result.to_json(args.output)
        except OSError as exc:
            raise UsageError(simple("E0010", f"cannot write {args.output}: {exc.strerror or exc}",
                                    hint="the previous file, if any, is unchanged")) from None
        where = args.output
    else:
        text = result.to_json()
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as exc:
            raise UsageError(simple("E0010", f"cannot write the results to stdout: {exc.strerror or exc}",
                                    hint="use -o FILE")) from None
    code = result.exit_code
    gate = args.min_success_rate
    rate = result.success_rate if result.mode == "monte_carlo" else (1.0 if result.ok else 0.0)
    below = gate is not None and (rate is None or rate < gate)
    if below:
        code = 3
    if not args.quiet:
        from pel.summary import run_summary

        print(run_summary(result, where, gate if below else None), file=sys.stderr)
    return code


# ---------------------------------------------------------------------------------------------
# Argument parsing and the error boundary
# ---------------------------------------------------------------------------------------------


_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def _size(text: str) -> int:
    """A memory size: bytes, or a number with a unit (512MiB, 2GB, 1.5GiB)."""
    raw = text.strip().replace("_", "").lower()
    digits = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(digits):]
    try:
        value = float(digits) * _SIZE_UNITS[unit]
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"expected a size like 1GiB, 512MB or 1000000, got {text!r}") from None
    if not value >= 1 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return int(value)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def _out_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file name, got an empty one (leave -o out for stdout)")
    return text


def add_run_options(p: argparse.ArgumentParser,
                    mode_help: str = "default: the model's `simulate` directive, else deterministic",
                    set_help: str = "override a parameter (typed)") -> None:
    """The options of a run, the same for `pel run` and every command that runs a model (backtest, calibrate,
    drift): --mode --seed --steps --runs --set --threads."""
    p.add_argument("--mode", choices=["deterministic", "monte_carlo"], help=mode_help)
    p.add_argument("--seed", type=non_negative_int, help="default: the model's `simulate ... with seed N`, else 42")
    p.add_argument("--steps", type=non_negative_int,
                   help="last time step T (runs t = 0..T); default: the model's `simulate for` horizon, else 12")
    p.add_argument("--runs", type=non_negative_int, help="Monte Carlo paths (default: the model's, else 1000)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help=set_help)
    p.add_argument("--threads", type=non_negative_int, help="worker threads (default: all cores)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pel", description="PEL: typed economic models, compiled and run fast.")
    parser.add_argument("--version", action="version", version=f"pel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("compile", help=cmd_compile.__doc__, description=cmd_compile.__doc__)
    p.add_argument("model")
    p.add_argument("-o", "--output", type=_out_path, help="IR file to write (default: beside the source)")
    p.add_argument("--format", choices=["json", "msgpack"], default="json")
    p.add_argument("--emit", choices=["tokens", "ast", "ir", "python"], help="print a stage instead of writing IR")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("check", help=cmd_check.__doc__, description=cmd_check.__doc__)
    p.add_argument("model")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("run", help=cmd_run.__doc__, description=cmd_run.__doc__)
    p.add_argument("model")
    add_run_options(p)
    p.add_argument("--scenario", metavar="NAME", help="run under the model's `scenario NAME { … }` block "
                                                     "(--set still overrides its values)")
    p.add_argument("-o", "--output", type=_out_path, help="write the results JSON here instead of stdout")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--until-se", type=_positive_float, metavar="REL",
                   help="Monte Carlo: add blocks of paths until every output's relative standard error is "
                        "below REL (e.g. 0.001); --runs is the cap")
    p.add_argument("--memory-limit", type=_size, metavar="SIZE",
                   help="memory for exact percentiles (default 1GiB); beyond it a quantile sketch "
                        "(rank error < 0.4%%)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run the paths on a Dask cluster: tcp://HOST:PORT, or local:N worker processes")
    p.add_argument("--strict", action="store_true", help="turn coercion warnings into errors")
    p.add_argument("--min-success-rate", type=_fraction, metavar="R",
                   help="exit 3 when fewer than R (0..1) of the paths completed (a CI gate)")
    p.set_defaults(func=cmd_run)

    from pel.analysis.cli import register as register_analysis
    from pel.monitor.cli import register as register_monitor
    from pel.release.cli import register as register_release
    from pel.report.cli import register as register_report
    from pel.server.cli import register as register_server
    from pel.tools.cli import register as register_tools

    register_release(sub)
    register_server(sub)
    register_monitor(sub)
    register_analysis(sub)
    register_report(sub)
    register_tools(sub)
    return parser


def _guarded(func: Callable[[], int]) -> int:
    """Run a subcommand: PEL errors print as diagnostics (exit 1), anything unexpected as E9999 (exit 2)."""
    try:
        return func()
    except PelError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("pel: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the boundary of the program: report a bug without a traceback
        if os.environ.get("PEL_DEBUG"):
            raise
        print(f"error[E9999]: internal error: {type(exc).__name__}: {exc}\n"
              "  = hint: this is a bug in PEL; rerun with PEL_DEBUG=1 for details and report it", file=sys.stderr)
        return EXIT_INTERNAL


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pel` command."""

    def go() -> int:
        args = build_parser().parse_args(argv)
        if getattr(args, "runs", None) == 0:
            raise RunError(simple("E0011", "--runs must be at least 1"))
        return args.func(args)

    code = _guarded(go)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())

