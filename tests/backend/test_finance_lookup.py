"""pmt, ipmt, ppmt, pv, fv, nper against numpy-financial (the reference of their conventions), lookup against
np.interp, their unit typing and their coded refusals."""

from __future__ import annotations

import numpy as np
import pytest

import pel
from pel.backend import runtime as rt
from pel.diagnostics import CompileError

npf = pytest.importorskip("numpy_financial")
PROV = '{ source: "t", method: "observed", confidence: 0.9 }'


def _err() -> np.ndarray:
    return np.zeros(1, np.int64)


@pytest.mark.parametrize("when", [0, 1])
@np.errstate(all="ignore")  # numpy-financial evaluates both branches of its rate == 0 cases
def test_runtime_equals_numpy_financial(when: int) -> None:
    rng = np.random.default_rng(4)
    for _ in range(200):
        r = float(rng.choice([0.0, rng.uniform(-0.02, 0.05)]))
        n = float(rng.integers(1, 480))
        pv, fv, pmt = (float(x) for x in rng.uniform(-1e6, 1e6, 3))
        per = float(rng.integers(1, int(n) + 1))
        err = _err()
        assert rt.f_pmt(r, n, pv, fv, when, err) == pytest.approx(npf.pmt(r, n, pv, fv, when), rel=1e-9, abs=1e-9)
        assert rt.f_pv(r, n, pmt, fv, when, err) == pytest.approx(npf.pv(r, n, pmt, fv, when), rel=1e-9, abs=1e-6)
        assert rt.f_fv(r, n, pmt, pv, when, err) == pytest.approx(npf.fv(r, n, pmt, pv, when), rel=1e-9, abs=1e-6)
        # ppmt = pmt - ipmt cancels: compare to the rounding of amounts of this size (1e6)
        assert rt.f_ipmt(r, per, n, pv, fv, when, err) == pytest.approx(
            float(npf.ipmt(r, per, n, pv, fv, when)), rel=1e-8, abs=1e-5)
        assert rt.f_ppmt(r, per, n, pv, fv, when, err) == pytest.approx(
            float(npf.ppmt(r, per, n, pv, fv, when)), rel=1e-8, abs=1e-5)
        assert err[0] == 0
        total = rt.f_pmt(r, n, pv, 0.0, when, err)
        if r != 0.0 and total != 0.0:
            got = rt.f_nper(r, total, pv, 0.0, when, err)
            assert got == pytest.approx(float(npf.nper(r, total, pv, 0.0, when)), rel=1e-8)
            assert got == pytest.approx(n, rel=1e-8)


def test_lookup_equals_np_interp() -> None:
    xs = np.array([0.0, 1.0, 2.5, 4.0])
    ys = np.array([10.0, 20.0, 5.0, 7.0])
    err = _err()
    for x in np.linspace(-2, 6, 81):
        assert rt.s_lookup(float(x), xs, 4, ys, 4, err) == pytest.approx(float(np.interp(x, xs, ys)), rel=1e-15)
    assert err[0] == 0
    rt.s_lookup(1.0, np.array([0.0, 0.0]), 2, ys[:2], 2, err)  # xs not increasing: a domain fault
    assert err[0] == rt.F_DOMAIN


LOAN = f"""model Loan {{
  param principal: Currency<USD> = $300_000 {PROV}
  param annual: Rate per Year = 6% / 1y {PROV}
  param prices: [Currency<USD>] = [$10, $20, $40] {PROV}
  var payment: TimeSeries<Currency<USD>>
  payment[t] = pmt(annual * 1mo, 360, principal)
  var interest: TimeSeries<Currency<USD>>
  interest[t] = ipmt(annual * 1mo, t + 1, 360, principal)
  var principal_part: TimeSeries<Currency<USD>>
  principal_part[t] = ppmt(annual * 1mo, t + 1, 360, principal)
  var balance: TimeSeries<Currency<USD>>
  balance[t] = fv(annual * 1mo, t, payment[t], principal)
  var months: TimeSeries<Fraction>
  months[t] = nper(0.005, payment[t], principal)
  var demand: TimeSeries<Fraction>
  demand[t] = lookup($15 + $5 * t, prices, [100, 80, 20])
  simulate for 12mo
}}
"""


@np.errstate(all="ignore")
def test_in_a_model() -> None:
    result = pel.compile_string(LOAN).run()
    r = 0.06 / 12
    assert result["payment"].value[0] == pytest.approx(npf.pmt(r, 360, 300_000), rel=1e-12)
    ts = np.arange(13)
    np.testing.assert_allclose(result["interest"].value, npf.ipmt(r, ts + 1, 360, 300_000), rtol=1e-10)
    np.testing.assert_allclose(result["principal_part"].value, npf.ppmt(r, ts + 1, 360, 300_000), rtol=1e-10)
    np.testing.assert_allclose(result["balance"].value, npf.fv(r, ts, npf.pmt(r, 360, 300_000), 300_000),
                               rtol=1e-10)
    assert result["months"].value[0] == pytest.approx(360.0, rel=1e-9)
    np.testing.assert_allclose(result["demand"].value, np.interp(15 + 5 * ts, [10, 20, 40], [100, 80, 20]))


@pytest.mark.parametrize(("expr", "code"), [
    ("pmt(annual, 360, principal)", "E0200"),  # a rate per year in a monthly model: multiply by its period
    ("pmt(annual * 1mo, 360 * 1mo, principal)", "E0200"),
    ("pmt(annual * 1mo, 360, principal, €5)", "E0201"),
    ("pmt(annual * 1mo, 360)", "E0100"),
    ("lookup(3, prices, [1, 2, 3])", "E0200"),
    ("lookup($3, 5, [1, 2, 3])", "E0100"),
])
def test_refusals(expr: str, code: str) -> None:
    src = LOAN.replace("payment[t] = pmt(annual * 1mo, 360, principal)", f"payment[t] = {expr}")
    with pytest.raises(CompileError) as exc:
        pel.compile_string(src)
    assert exc.value.diagnostics[0].code == code, [d.message for d in exc.value.diagnostics]
