"""The parser keeps no global state: parses on several threads at once, good sources and bad ones (which take
PLY's error-recovering driver), give exactly the diagnostics and trees that the same parses give one at a time."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from pel.diagnostics import CompileError
from pel.frontend import parser
from pel.frontend.dump import dump_ast

SOURCES = [
    "model Good {\n  var x = 1\n  var y = x + 2\n}\n",
    "model Missing {\n  var x = (1 +\n  var y = 2\n}\n",
    "model Two {\n  var = 3\n  param p: Fraction = ) {\n  }\n}\n",
    "model Lexical {\n  var s = \"open\n  var n = 12abc\n  var z = 1e400\n}\n",
    "model Deep {\n  var x = " + "(" * 300 + "1" + ")" * 300 + "\n}\n",
    "model Series {\n  var r: TimeSeries<Currency<USD>>\n  r[0] = $1\n  r[t+1] = r[t] * 1.1\n}\n",
    "model Braces {\n  constraint c {\n    x > \n  }\n  var y = [1, 2,, 3]\n}\n",
    "model Tail { var x = 1 } trailing words here\n",
]


def _outcome(source: str) -> tuple:
    """What a parse gives: the tree's dump, or every diagnostic with its position and message."""
    try:
        return ("ok", dump_ast(parser.parse(source, "m.pel")))
    except CompileError as exc:
        return ("error", tuple((d.code, d.span.line if d.span else 0, d.span.col if d.span else 0, d.message)
                               for d in exc.diagnostics))


def test_concurrent_parses_match_serial_parses() -> None:
    serial = [_outcome(s) for s in SOURCES]
    assert {kind for kind, _ in serial} == {"ok", "error"}
    work = SOURCES * 12
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch every few bytecodes: parses interleave inside PLY's driver
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            concurrent = list(pool.map(_outcome, work))
    finally:
        sys.setswitchinterval(interval)
    for k, got in enumerate(concurrent):
        assert got == serial[k % len(SOURCES)], SOURCES[k % len(SOURCES)]


def test_no_parser_object_is_shared_between_parses() -> None:
    assert not hasattr(parser, "_PARSER_HOLDER")
    names = {name for name, value in vars(parser).items() if isinstance(value, parser.yacc.LRParser)}
    assert names == set(), f"module-level parser objects: {names}"
