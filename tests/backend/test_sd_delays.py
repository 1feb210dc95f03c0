"""smooth, delay1 and delay3 against a plain numpy recurrence of their system-dynamics definitions (stages of
first-order delays, Euler steps of one model step, starting in equilibrium), the conservation of a material delay,
their typing and their refusals."""

from __future__ import annotations

import numpy as np
import pytest

import pel
from pel.diagnostics import CompileError, RunError

MODEL = """model SD {
  var demand: TimeSeries<Count<Unit>>
  demand[t] = if t == 5 then 1100 else 100
  var smoothed: TimeSeries<Count<Unit>>
  smoothed[t] = smooth(demand, 4mo)
  var shipped: TimeSeries<Count<Unit>>
  shipped[t] = delay1(demand, 4)
  var arrived: TimeSeries<Count<Unit>>
  arrived[t] = delay3(demand, 6mo)
  simulate for 200mo
}
"""


def reference(x: np.ndarray, tau: float, stages: int) -> np.ndarray:
    """out[t] for every t: `stages` first-order stages of tau / stages each, Euler steps from equilibrium."""
    levels = np.full(stages, x[0])
    out = [levels[-1]]
    for k in range(len(x) - 1):
        inputs = np.concatenate([[x[k]], levels[:-1]])
        levels = levels + (inputs - levels) * stages / tau
        out.append(levels[-1])
    return np.array(out)


def test_against_the_recurrence_and_conservation() -> None:
    r = pel.compile_string(MODEL).run()
    x = r["demand"].value
    np.testing.assert_allclose(r["smoothed"].value, reference(x, 4.0, 1), rtol=1e-13)
    np.testing.assert_allclose(r["shipped"].value, reference(x, 4.0, 1), rtol=1e-13)
    np.testing.assert_allclose(r["arrived"].value, reference(x, 6.0, 3), rtol=1e-13)
    # a material delay passes the whole pulse through: 1,000 extra units in, 1,000 extra units out
    for name in ("shipped", "arrived"):
        assert (r[name].value - 100).sum() == pytest.approx(1000.0, rel=1e-9)
    assert r["arrived"].value[6] == pytest.approx(100.0)  # a third-order delay responds later than a first-order


@pytest.mark.parametrize(("rule", "code"), [
    ("smooth(demand, $4)", "E0200"),
    ("smooth(4, 4)", "E0100"),
    ("delay3(demand)", "E0100"),
])
def test_refusals(rule: str, code: str) -> None:
    src = MODEL.replace("smoothed[t] = smooth(demand, 4mo)", f"smoothed[t] = {rule}")
    with pytest.raises(CompileError) as exc:
        pel.compile_string(src)
    assert exc.value.diagnostics[0].code == code


def test_a_delay_time_of_zero_faults_at_run_time() -> None:
    src = MODEL.replace("delay1(demand, 4)", "delay1(demand, 0)")
    with pytest.raises(RunError) as exc:
        pel.compile_string(src).run()
    assert "E0800" in str(exc.value) or exc.value.diagnostics[0].code.startswith("E08")
