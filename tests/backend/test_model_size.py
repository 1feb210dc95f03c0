"""Models of real size: every pass (parse, check, lower, validate, IR round trip, code generation) is linear in
its input and iterative in the length of an operator chain; the limit cases compile and run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

import pel
from pel.backend import codegen
from pel.ir import serialize
from pel.pipeline import compile_source

P = '{ source: "s", method: "observed", confidence: 0.9 }'


def vars_(n: int) -> str:
    return "model V {\n" + f"param a: Fraction = 2 {P}\n" + "".join(
        f"var x{k}: TimeSeries<Fraction>\nx{k}[t] = a * t + {k}\n" for k in range(n)) + "}\n"


def params(n: int) -> str:
    return "model Q {\n" + "".join(f"param p{k}: Fraction = {k} {P}\n" for k in range(n)) + \
        "var total = " + " + ".join(f"p{k}" for k in range(n)) + "\n}\n"


def chain(n: int) -> str:
    return "model C {\nvar x0 = 1\n" + "".join(f"var x{k} = x{k - 1} + 1\n" for k in range(1, n)) + "}\n"


def rchain(n: int) -> str:
    """A chain of untyped variables each naming the next one declared (inferred last-first, no recursion)."""
    return "model D {\n" + "".join(f"var x{k} = x{k + 1} + 1\n" for k in range(n - 1)) + f"var x{n - 1} = 1\n}}\n"


def flat(n: int) -> str:
    return "model F {\nvar total: Currency<USD> = " + " + ".join(["$1"] * n) + "\n}\n"


def andc(n: int) -> str:
    return "model A {\nvar ok = " + " && ".join(["t >= 0"] * n) + "\n}\n"


def array(n: int) -> str:
    return "model R {\nvar xs = [" + ", ".join(str(k % 97) for k in range(n)) + "]\nvar y = xs[t] + 1\n}\n"


def message(n: int) -> str:
    return ("model M {\nvar x[t] = t\nconstraint big { x[t] < 0 with severity(warning) with message(\""
            + " ".join("{x[t]}" for _ in range(n)) + "\") }\n}\n")


def _through_every_pass(source: str) -> None:
    comp = compile_source(source)
    assert comp.program is not None
    again = serialize.loads_json(serialize.dumps_json(comp.program))
    assert serialize.dumps_json(again) == serialize.dumps_json(comp.program)
    serialize.loads_msgpack(serialize.dumps_msgpack(comp.program))
    codegen.kernel_source(comp.program)


def _best(fn: Callable[[], None], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


# (shape, 1x size): the 10x input costs about 10x; quadratic would be 100x. The bound is generous for a noisy
# shared machine (and the small input's fixed costs), the absolute figures are in benchmarks/bench_modelsize.py.
SHAPES = [(vars_, 300), (params, 300), (chain, 300), (rchain, 300), (flat, 1000), (andc, 500), (array, 5000),
          (message, 1000)]
RATIO_BOUND = 30


@pytest.mark.parametrize(("shape", "n"), SHAPES, ids=[s.__name__.rstrip("_") for s, _ in SHAPES])
def test_every_pass_is_linear_in_the_input(shape: Callable[[int], str], n: int) -> None:
    small, big = shape(n), shape(10 * n)
    _through_every_pass(small)  # warm: parser tables, imports
    t_small = _best(lambda: _through_every_pass(small), 3)
    t_big = _best(lambda: _through_every_pass(big), 1)
    assert t_big / t_small < RATIO_BOUND, f"{shape.__name__}: 10x input took {t_big / t_small:.1f}x as long"


_PLAIN_RUN = r"""
import json, sys
import pel
out = {}
for name, source in json.loads(sys.stdin.read()).items():
    result = pel.compile_string(source).run(steps=3)
    out[name] = result.status
print(json.dumps(out))
"""


def test_limit_cases_run_in_generated_python_without_numba() -> None:
    """The generated code of the limit cases is valid Python of bounded nesting (PEL_JIT=0 runs it as is)."""
    cases = {"vars": vars_(3000), "params": params(3000), "chain": chain(3000), "rchain": rchain(3000),
             "flat": flat(10_000),
             "andc": andc(10_000), "array": array(100_000), "message": message(10_000)}
    env = dict(os.environ, PEL_JIT="0")
    proc = subprocess.run([sys.executable, "-c", _PLAIN_RUN], input=json.dumps(cases), capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == {name: "success" for name in cases}


def test_former_crash_sizes_compile_with_numba_and_give_the_right_values() -> None:
    """300-variable chains and 300-term sums crashed numba's SSA pass (RecursionError) before chunking."""
    res = pel.compile_string(chain(300)).run(steps=1)
    assert res["x299"].value[-1] == 300.0
    res = pel.compile_string(params(300)).run(steps=1)
    assert res["total"].value[-1] == sum(range(300))
    res = pel.compile_string(andc(400)).run(steps=1)
    assert res["ok"].value[-1] == 1.0
    warn = pel.compile_string(message(300)).run(steps=1).warnings
    assert warn and warn[0]["message"] == " ".join(["0"] * 300)


def test_a_long_index_chain_is_analysed_without_recursion() -> None:
    """`x[t + 1 - 1 + 1 - 1 ...]` (2,000 links) is still the static index t; one that overshoots is a coded error."""
    links = "".join(" + 1 - 1" for _ in range(1000))
    res = pel.compile_string(f"model I {{\nvar x[t] = t * 2\nvar y[t] = x[t{links}] + 1\n}}\n").run(steps=3)
    assert list(res["y"].value) == [1.0, 3.0, 5.0, 7.0]
    over = "model O {\nvar x[t] = t\nvar s = sum(x[k" + " + 1" * 1500 + "] for k in 0..3)\n}\n"
    with pytest.raises(pel.PelError) as exc:
        pel.compile_string(over).run(steps=3)
    assert exc.value.diagnostics[0].code == "E0301"
