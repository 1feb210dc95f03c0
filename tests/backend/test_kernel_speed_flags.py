"""The generated kernel keeps its fault flag in a local (no memory traffic in the time loop), and the first
fault of an evaluation is still the one reported when inline checks and runtime helpers both fault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pel
from pel.backend.codegen import generate
from pel.diagnostics import RunError
from pel.pipeline import compile_file

ROOT = Path(__file__).resolve().parents[2]
PROV = '{ source: "test", method: "observed", confidence: 1.0 }'


def time_loop(source: str) -> str:
    """The per-path loops of every step chunk (what runs at each step for each path)."""
    loops = []
    for part in source.split("\ndef step(")[1:]:
        loops.append(part.split("for i in range(st.shape[1]):", 1)[1].split("\n# =====", 1)[0])
    assert loops
    return "\n".join(loops)


def outside_det(loop: str) -> list[str]:
    """The lines of the loop that a Monte Carlo run executes on a path that does not fault (not inside an
    `if det:` block or the fault exit)."""
    out, det_indent = [], None
    for line in loop.splitlines():
        indent = len(line) - len(line.lstrip())
        if det_indent is not None and indent > det_indent:
            continue
        det_indent = indent if line.strip() in ("if det:", "if fsite >= 0:") else None  # (and the fault exit)
        out.append(line)
    return out


def test_saas_bench_time_loop_never_touches_the_err_array() -> None:
    src = generate(compile_file(ROOT / "benchmarks" / "models" / "saas_bench.pel").program)
    lines = outside_det(time_loop(src))
    assert any("ferr" in line for line in lines)
    assert not [line for line in lines if "err[" in line.replace("ferr", "")]


def model(expr: str, extra: str = "") -> pel.Model:
    return pel.compile_string(
        "model test {\n"
        f"param z: Fraction = 0 {PROV}\n"
        f"param r: Fraction = -2 {PROV}\n"
        "var e = [1, 2]\n"
        f"var x = {expr}\n{extra}}}\n")


@pytest.mark.parametrize(("expr", "text"), [
    ("1 / z + npv(e, r)", "division by zero"),  # the inline check faults first
    ("npv(e, r) + 1 / z", "outside the function's domain"),  # the helper faults first
])
def test_first_fault_wins(expr: str, text: str) -> None:
    with pytest.raises(RunError) as info:
        model(expr).run("deterministic", steps=1)
    assert text in info.value.diagnostics[0].message


def test_a_skipped_constraint_leaves_no_stale_fault() -> None:
    """The constraint's condition faults in a helper (so the instance is skipped) at every step; the helper
    calls of the next step must not see that fault."""
    m = model("npv(e, 0.1)", "constraint c: npv(e, r) > 0 { severity: warning }\n")
    r = m.run("deterministic", steps=3)
    assert list(r["x"].mean) == pytest.approx([1.0 + 2.0 / 1.1] * 4)
    data = json.loads(m.run("monte_carlo", runs=20, steps=3).to_json())
    assert data["success_rate"] == 1.0
