"""The `pel fix` and `pel fmt` subcommands, registered on the `pel` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pel.diagnostics import render

BOM = "\ufeff"


def cmd_fix(args: argparse.Namespace) -> int:
    """Repair models written for the earlier PEL implementation: a provenance stub on each parameter without
    one, `severity(error)` -> `fatal`. Prints each change as a diff; --write applies it. Exit 1 when errors
    remain that need a person (they are listed)."""
    from pel.tools.errors import write_text
    from pel.tools.fix import fix_source, unified_diff

    status = 0
    for path in args.models:
        text, bom = _read(path)
        result = fix_source(text, path)
        sys.stdout.write(unified_diff(result, path))
        if not result.changed:
            print(f"pel fix: {path}: nothing to fix", file=sys.stderr)
        if result.remaining:
            status = 1
            print(f"pel fix: {path}: {len(result.remaining)} error(s) remain that are not mechanical:",
                  file=sys.stderr)
            for d in result.remaining:
                print(render(d, result.fixed), file=sys.stderr)
        if args.write and result.changed:
            # Written when the repairs leave strictly fewer errors: a partial repair still saves work.
            if len(result.remaining) < result.errors_before:
                write_text(path, (BOM if bom else "") + result.fixed)
                print(f"pel fix: wrote {path} ({len(result.changes)} change(s))", file=sys.stderr)
            else:
                print(f"pel fix: {path} not written: the repairs leave as many errors as before", file=sys.stderr)
    return status


def cmd_fmt(args: argparse.Namespace) -> int:
    """Print models in PEL's canonical layout (indentation, spacing, comments kept; only whitespace changes).
    --check exits 1 and names each file that would change (for CI); --write rewrites the files."""
    from pel.tools.errors import write_text
    from pel.tools.fmt import format_source

    status = 0
    for path in args.models:
        text, bom = _read(path)
        out = format_source(text, path)
        changed = bom or out != text
        if args.check:
            if changed:
                print(f"would reformat {path}")
                status = 1
        elif args.write:
            if changed:
                write_text(path, out)
                print(f"pel fmt: reformatted {path}", file=sys.stderr)
        else:
            sys.stdout.write(out)
    return status


def _read(path: str) -> tuple[str, bool]:
    """The model's text without its byte-order mark, and whether it had one (missing files: E0010)."""
    from pel.pipeline import read_source

    text = read_source(path)
    return text, Path(path).read_bytes().startswith(BOM.encode("utf-8"))


def register(sub: argparse._SubParsersAction) -> None:
    """Add `pel fix` and `pel fmt` to the `pel` command line."""
    p = sub.add_parser("fix", help=cmd_fix.__doc__, description=cmd_fix.__doc__)
    p.add_argument("models", nargs="+", metavar="MODEL")
    p.add_argument("--write", action="store_true", help="apply the changes to the files (atomically)")
    p.set_defaults(func=cmd_fix)

    p = sub.add_parser("fmt", help=cmd_fmt.__doc__, description=cmd_fmt.__doc__)
    p.add_argument("models", nargs="+", metavar="MODEL")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 and name the files that would change")
    mode.add_argument("--write", action="store_true", help="rewrite the files in place (atomically)")
    p.set_defaults(func=cmd_fmt)
