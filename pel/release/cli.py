"""Subcommands of the release workflow, registered on the `pel` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

from pel.argtypes import non_negative_int
from pel.release.common import BUMPS, DEFAULT_ATOL, percent_or_fraction, tolerance
from pel.release.versions import version_arg

EXIT_OK, EXIT_BUMP_NOT_ALLOWED, EXIT_LINT_FAILED = 0, 4, 5


def cmd_diff(args: argparse.Namespace) -> int:
    """Compare two versions of a model (.pel or IR): structure, outputs, and the semver bump they require."""
    from pel.release import diff
    from pel.release.common import load

    report = diff.compare(load(args.old), load(args.new), **_compare_options(args))
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_dict(args.allow), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(diff.render_text(report, args.allow))
    return EXIT_OK if report.allowed(args.allow) else EXIT_BUMP_NOT_ALLOWED


def cmd_release(args: argparse.Namespace) -> int:
    """Release a model: diff it against its latest release, take the bump it requires (or --version), write
    DIR/<name>/<X.Y.Z>.ir.json once (never overwritten) and a CHANGELOG.md entry; --tag makes the git tag."""
    from pathlib import Path

    from pel.release import publish

    opts = publish.Options(Path(args.dir), args.release_version, args.tag, _compare_options(args))
    outcome = publish.release(args.model, opts)
    if args.format == "json":
        sys.stdout.write(json.dumps(outcome.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(outcome.render_text())
    return EXIT_OK


def _compare_options(args: argparse.Namespace) -> dict:
    return {"mode": args.mode, "seed": args.seed, "steps": args.steps, "runs": args.runs,
            "threshold": args.threshold, "atol": args.atol}


def cmd_init(args: argparse.Namespace) -> int:
    """Create a model repository: models/, tests/, docs/assumptions.md, CI workflow, .gitignore."""
    from pel.release import scaffold

    written = scaffold.write(args.dir, force=args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"next: cd {args.dir} && python -m pytest tests/ -v")
    return EXIT_OK


def cmd_lint(args: argparse.Namespace) -> int:
    """Audit models against the production checklist (rules L001-L014); exit 5 when a rule fails."""
    from pel.release import lint
    from pel.release.common import load

    opts = lint.Options(as_of=args.as_of, min_share=args.min_high_confidence, high=args.confidence,
                        run=not args.no_run)
    findings = [f for path in args.models for f in lint.lint(load(path), opts)]
    failing = {"error", "warning"} if args.strict else {"error"}
    failed = any(f.level in failing for f in findings)
    counts = lint.summary(findings)
    if args.format == "json":
        out = {"as_of": opts.as_of.isoformat(), "models": args.models, "findings": lint.to_dicts(findings),
               "summary": counts, "ok": not failed}
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    else:
        for f in findings:
            print(f.header())
        verdict = "FAILED" if failed else "ok"
        print(f"pel lint: {len(args.models)} model(s), {counts['error']} error(s), {counts['warning']} "
              f"warning(s), {counts['note']} note(s) (as of {opts.as_of}): {verdict}")
    return EXIT_LINT_FAILED if failed else EXIT_OK


def cmd_assumptions(args: argparse.Namespace) -> int:
    """Print the assumption register of a model (every parameter's value and provenance)."""
    from pel.release import register
    from pel.release.common import load

    loaded = load(args.model)
    fitted = None
    if args.state:
        from pel.monitor.state import StateStore
        from pel.pipeline import model_stem

        store = StateStore(args.state)
        try:
            fitted = store.latest(args.name or model_stem(args.model))
        finally:
            store.close()
    sys.stdout.write(register.markdown(loaded, fitted) if args.format == "md" else register.to_json(loaded, fitted))
    return EXIT_OK


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _add(sub: argparse._SubParsersAction, name: str, func: object) -> argparse.ArgumentParser:
    doc = func.__doc__
    p = sub.add_parser(name, help=doc, description=doc)
    p.set_defaults(func=func)
    return p


def _add_compare_options(p: argparse.ArgumentParser) -> None:
    """How two versions are compared (pel diff, pel release): the runs, the threshold and the tolerance."""
    p.add_argument("--mode", choices=["deterministic", "monte_carlo"], default="deterministic")
    p.add_argument("--seed", type=non_negative_int, default=42, help="the seed of both runs (common random numbers)")
    p.add_argument("--steps", type=non_negative_int, help="compare t = 0..N (default: the shorter horizon)")
    p.add_argument("--runs", type=non_negative_int, help="Monte Carlo paths (default 1000)")
    p.add_argument("--threshold", type=percent_or_fraction, default=0.05,
                   help="an output moving more than this, or a fatal constraint's violation rate rising by more, is "
                        "a major change (0.05 or 5%%; default 5%%)")
    p.add_argument("--atol", type=tolerance, default=DEFAULT_ATOL,
                   help=f"differences up to this, in each output's unit, are no change (default {DEFAULT_ATOL:g})")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the release subcommands (diff, release, init, lint, assumptions) to the `pel` parser."""
    p = _add(sub, "diff", cmd_diff)
    p.add_argument("old", help="the released version (.pel, .ir.json or .ir.msgpack)")
    p.add_argument("new", help="the candidate version")
    _add_compare_options(p)
    p.add_argument("--allow", choices=BUMPS[1:], default="major",
                   help="the largest bump this release may make; exit 4 beyond it (default major)")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = _add(sub, "release", cmd_release)
    p.add_argument("model", help="the model to release (.pel, .ir.json or .ir.msgpack)")
    p.add_argument("--dir", default="releases", help="the releases folder (default releases/): releases go to "
                                                     "DIR/<model name>/<X.Y.Z>.ir.json")
    p.add_argument("--version", dest="release_version", type=version_arg, metavar="X.Y.Z",
                   help="the version to release (refused when it is a smaller bump than the changes require); "
                        "default: the latest release bumped as the diff requires, or 1.0.0 for the first")
    p.add_argument("--tag", action="store_true", help="create the git tag vX.Y.Z (inside a git work tree)")
    _add_compare_options(p)
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = _add(sub, "init", cmd_init)
    p.add_argument("dir", help="the repository directory (created if missing)")
    p.add_argument("--force", action="store_true", help="overwrite files that already exist")

    p = _add(sub, "lint", cmd_lint)
    p.add_argument("models", nargs="+", metavar="MODEL", help=".pel or IR files")
    p.add_argument("--as-of", type=_date, default=dt.date.today(), help="judge staleness on this date (default today)")
    p.add_argument("--min-high-confidence", type=percent_or_fraction, default=0.70,
                   help="L001: least share of high-confidence parameters (default 70%%)")
    p.add_argument("--confidence", type=float, default=0.70, help="confidence counted as high (default 0.7)")
    p.add_argument("--no-run", action="store_true", help="skip the deterministic run (rules L010, L014)")
    p.add_argument("--strict", action="store_true", help="warnings fail too")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = _add(sub, "assumptions", cmd_assumptions)
    p.add_argument("model", help=".pel or IR file")
    p.add_argument("--format", choices=["md", "json"], default="md")
    from pel.monitor.cli import add_state_options

    add_state_options(p, "show beside each parameter the latest estimate the folder holds for it (from "
                         "`pel calibrate`, `pel drift` or `pel serve`)")
