"""Functions over arrays and texts: stdlib values against numpy, per-call specialisation, coded refusals."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import pel
from pel.backend.codegen import generate
from pel.diagnostics import CompileError

PROV = '{ source: "test", method: "observed", confidence: 0.9 }'
LEAD_DAYS = {"cloud_servers": 7, "on_prem_servers": 45, "equipment": 90, "production_line": 180, "facility": 365}
TERMS_DAYS = {"due_on_receipt": 0, "net_15": 15, "net_30": 30, "net_45": 45, "net_60": 60, "net_90": 90}


def _model(body: str, head: str = "") -> str:
    return f"{head}\nmodel T {{\n{body}\n}}\n"


def _param(name: str, type_: str, value: str) -> str:
    return f"  param {name}: {type_} = {value} {PROV}\n"


def _array(values: np.ndarray, unit: str = "") -> str:
    return "[" + ", ".join(f"{v!r}{unit}" for v in values.tolist()) + "]"


def _values(source: str) -> dict[str, float]:
    out = pel.compile_string(source).run("deterministic").to_dict()
    return {k: v["value"] for k, v in out.items() if isinstance(v, dict) and isinstance(v.get("value"), float)}


def _refusal(source: str) -> tuple[str, str]:
    """(code, rendered report) of the first error; never an internal error."""
    with pytest.raises(CompileError) as info:
        pel.compile_string(source)
    errors = [d for d in info.value.diagnostics if d.level == "error"]
    assert errors and all(d.code != "E9999" for d in errors), info.value.render()
    return errors[0].code, info.value.render()


# ---------------------------------------------------------------------------------------------- stdlib vs numpy


@pytest.mark.parametrize("n", [1, 3, 6])
def test_array_functions_match_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    rates, prio, hist = rng.uniform(0.05, 1.0, n), rng.uniform(0.1, 1.0, n), rng.uniform(0.5, 1.2, n)
    heads, caps, demands = rng.integers(1, 40, n).astype(float), rng.uniform(1, 20, n), rng.uniform(100, 900, n)
    total = float(0.6 * demands.sum())
    source = _model(
        _param("applicants", "Count<Applicant>", "250") + _param("rates", "Array<Fraction>", _array(rates))
        + _param("heads", "Array<Count<Person>>", _array(heads)) + _param("total", "Rate per Month", f"{total!r} / 1mo")
        + _param("caps", "Array<Rate per Month>", f"[{', '.join(f'{c!r} / 1mo' for c in caps.tolist())}]")
        + _param("demands", "Array<Rate per Month>", f"[{', '.join(f'{d!r} / 1mo' for d in demands.tolist())}]")
        + _param("prio", "Array<Fraction>", _array(prio)) + _param("hist", "Array<Fraction>", _array(hist))
        + "  var hires: Count<Person> = hiring_funnel(applicants, rates)\n"
        + "  var capacity: Rate per Month = team_capacity(heads, caps)\n"
        + "  var alloc: Array<Rate per Month> = allocate_capacity(total, demands, prio)\n"
        + "  var peak: Fraction = peak_utilization(hist)\n  var mean: Fraction = average_utilization(hist)\n"
        + "  var spread: Fraction = utilization_variability(hist)\n"
        + "  var cohort = cohort_retention(initial_size: 1000.0, retention_rates: rates)\n"
        + "".join(f"  var alloc_{k}: Rate per Month = alloc[{k}]\n  var cohort_{k}: Fraction = cohort[{k}]\n"
                  for k in range(n))
    )
    got = _values(source)
    assert got["hires"] == pytest.approx(250 * np.prod(rates), rel=1e-12)
    assert got["capacity"] == pytest.approx(np.dot(heads, caps), rel=1e-12)
    assert got["peak"] == pytest.approx(hist.max()) and got["mean"] == pytest.approx(hist.mean(), rel=1e-12)
    assert got["spread"] == pytest.approx(np.std(hist), rel=1e-9, abs=1e-12)
    np.testing.assert_allclose([got[f"alloc_{k}"] for k in range(n)], np.minimum(demands, total * prio / prio.sum()),
                               rtol=1e-12)
    np.testing.assert_allclose([got[f"cohort_{k}"] for k in range(n)], 1000.0 * rates, rtol=1e-12)


@pytest.mark.parametrize("shape", ["linear", "s_curve", "s-curve", "step"])
def test_ramp_curve_shapes_match_their_formulas(shape: str) -> None:
    elapsed = np.array([0.0, 0.5, 1.0, 2.0, 2.9, 3.0, 7.0])
    body = "".join(f"  var r{k}: Fraction = ramp_curve({e!r} * 1mo, 3mo, \"{shape}\")\n"
                   for k, e in enumerate(elapsed.tolist()))
    got = _values(_model(body))
    x = np.clip(elapsed / 3.0, 0.0, 1.0)
    expected = {"linear": x, "s_curve": 3 * x**2 - 2 * x**3, "s-curve": 3 * x**2 - 2 * x**3, "step": np.floor(x)}
    np.testing.assert_allclose([got[f"r{k}"] for k in range(len(elapsed))], expected[shape], rtol=1e-12, atol=1e-15)


def test_capacity_lead_time_is_its_table_times_whole_batches() -> None:
    cases = [(kind, q) for kind in LEAD_DAYS for q in (0.5, 1.0, 2.5)]
    body = "".join(f"  var d{k}: Fraction = capacity_lead_time(\"{kind}\", {q!r}) / 1d\n"
                   for k, (kind, q) in enumerate(cases))
    got = _values(_model(body))
    np.testing.assert_allclose([got[f"d{k}"] for k in range(len(cases))],
                               [LEAD_DAYS[kind] * math.ceil(q) for kind, q in cases], rtol=1e-12)


def test_accounts_receivable_with_terms_floors_the_dso_and_the_two_argument_form_stays() -> None:
    cases = [(terms, dso) for terms in TERMS_DAYS for dso in (10, 45)]
    body = _param("revenue", "Currency<USD>", "$500_000") + "".join(
        f"  var ar{k}: Currency<USD> = accounts_receivable(revenue, {dso}d, \"{terms}\")\n"
        for k, (terms, dso) in enumerate(cases)) + "  var plain: Currency<USD> = accounts_receivable(revenue, 45d)\n"
    got = _values(_model(body))
    np.testing.assert_allclose([got[f"ar{k}"] for k in range(len(cases))],
                               [500_000 * max(dso, TERMS_DAYS[terms]) / 30 for terms, dso in cases], rtol=1e-12)
    assert got["plain"] == pytest.approx(750_000.0)


def test_hiring_costs_are_their_sums() -> None:
    source = _model(_param("hires", "Count<Person>", "12") + _param("per_hire", "Currency<USD> per Person", "$4_000")
                    + "  var recruiting: Currency<USD> = recruiting_cost(3000, $50, 400, $500)\n"
                    + "  var talent: Currency<USD> = total_talent_cost(hires, per_hire, $120_000, 6mo)\n")
    got = _values(source)
    assert got["recruiting"] == pytest.approx(np.dot([3000, 400], [50, 500]))
    assert got["talent"] == pytest.approx(12 * (4_000 + 120_000 * 6 / 12))


def test_text_from_a_parameter_a_variable_and_an_aliased_import() -> None:
    source = _model(_param("shape", "String", '"s-curve"') + '  var linear_name = "linear"\n'
                    "  var a: Fraction = h.ramp_curve(1mo, 4mo, shape)\n"
                    "  var b: Fraction = h.ramp_curve(1mo, 4mo, linear_name)\n"
                    "  var c: Fraction = h.ramp_curve(1mo, 4mo)\n", "import stdlib.hiring as h")
    got = _values(source)
    assert (got["a"], got["b"], got["c"]) == pytest.approx((3 / 16 - 2 / 64, 0.25, 0.25))


def test_no_text_reaches_the_kernels() -> None:
    model = pel.compile_string(_model(_param("shape", "String", '"s-curve"')
                                      + "  var a: Fraction = ramp_curve(1mo, 4mo, shape)\n"
                                      + '  var b: Currency<USD> = accounts_receivable($10, 1mo, "net_60")\n'))
    code = [line.split("#")[0] for line in generate(model.program).splitlines()]
    assert not any(re.search(r"s-curve|s_curve|net_60|linear", line) for line in code)


def test_monte_carlo_paths_go_through_the_specialised_copies() -> None:
    source = _model("  param applicants: Count<Applicant> ~ Normal(200, 20) " + PROV + "\n"
                    + "  param progress: Fraction ~ Uniform(0.2, 0.8) " + PROV + "\n"
                    + "  var pool: Count<Applicant> = applicants\n  var x: Fraction = progress\n"
                    + "  var hires: Count<Person> = hiring_funnel(applicants, [0.4, 0.5, 0.6, 0.8])\n"
                    + "  var ramp: Fraction = ramp_curve(progress * 1mo, 1mo, \"s_curve\")\n")
    out = pel.compile_string(source).run("monte_carlo", runs=200, seed=3).to_dict()
    assert out["hires"]["n"] == 200
    assert out["hires"]["mean"] == pytest.approx(out["pool"]["mean"] * 0.4 * 0.5 * 0.6 * 0.8, rel=1e-12)
    assert 0.0 < out["ramp"]["p5"] < out["ramp"]["mean"] < out["ramp"]["p95"] < 1.0
    assert out["ramp"]["p50"] == pytest.approx(3 * out["x"]["p50"] ** 2 - 2 * out["x"]["p50"] ** 3, rel=1e-3)


def test_product_builtin_multiplies_plain_numbers_only() -> None:
    assert _values(_model("  var p: Fraction = product([0.5, 4, 1.5])\n"))["p"] == pytest.approx(3.0)
    code, text = _refusal(_model("  var p = product([$1, $2])\n"))
    assert code == "E0200" and "plain numbers" in text


# ---------------------------------------------------------------------------------------------- user templates

USER = (
    _param("w", "Array<Fraction>", "[0.2, 0.3, 0.5]") + _param("x", "Array<Currency<USD>>", "[$10, $20, $30]")
    + _param("mode", "String", '"fast"')
    + "  func dot(a: Array<Fraction>, b: Array<Currency<USD>>) -> Currency<USD> =\n"
    + "    sum(a[i] * b[i] for i in 0..length(a) - 1)\n"
    + "  func wavg(a: Array<Fraction>, b: Array<Currency<USD>>) -> Currency<USD> = sum(a * b) / sum(a)\n"
    + "  func scaled(a: Array<Currency<USD>>, k: Fraction) -> Array<Currency<USD>> = a * k + a[0]\n"
    + "  func speed(m: String) -> Fraction = if m == \"fast\" then 2.0 else if m == \"slow\" then 0.5 else 0.0\n"
    + "  func top(m: String, a: Array<Fraction>) -> Fraction = speed(m) * max(a)\n"
)


def test_user_templates_broadcast_unroll_index_and_dispatch_on_text() -> None:
    w, x = np.array([0.2, 0.3, 0.5]), np.array([10.0, 20.0, 30.0])
    got = _values(_model(USER + "  var d: Currency<USD> = dot(w, x)\n  var v: Currency<USD> = wavg(w, x)\n"
                         "  var sc: Array<Currency<USD>> = scaled(x, 2)\n  var sc2: Currency<USD> = sc[2]\n"
                         "  var tot: Currency<USD> = sum(scaled([$1, $2], 3))\n"
                         "  var fast: Fraction = top(mode, [1, 4, 2])\n  var slow: Fraction = top(\"slow\", w)\n"))
    assert got["d"] == pytest.approx(np.dot(w, x)) and got["v"] == pytest.approx(np.dot(w, x) / w.sum())
    assert got["sc2"] == pytest.approx((x * 2 + x[0])[2])
    assert got["tot"] == pytest.approx(np.sum(np.array([1.0, 2.0]) * 3 + 1.0))
    assert (got["fast"], got["slow"]) == pytest.approx((8.0, 0.25))


# ---------------------------------------------------------------------------------------------- refusals

ARRAYS = (_param("hc", "Array<Count<Person>>", "[1, 2, 3]")
          + _param("cap", "Array<Rate per Month>", "[1 / 1mo, 2 / 1mo]")
          + _param("n", "Fraction", "2") + _param("shape", "String", '"cubic"'))
BAD = (
    "  func third(a: Array<Fraction>) -> Fraction = a[3]\n"
    "  func walk(a: Array<Fraction>) -> Fraction {\n    var acc = 0.0\n    for i in 0..2 { acc = acc + a[i] }\n"
    "    return acc\n  }\n"
    "  func bad(a: Array<Fraction>) -> Fraction = a + 1\n"
    "  func arr(a: Array<Fraction>, k: Fraction) -> Array<Fraction> = a * k\n"
    "  func again(a: Array<Fraction>) -> Fraction = again(a)\n"
    "  func held(m: String) -> Fraction {\n    var k = m\n    return 1.0\n  }\n"
)


@pytest.mark.parametrize(("line", "code", "at", "words"), [
    ("var a: Fraction = ramp_curve(1mo, 3mo, shape)", "E0621", "shape)", 'it accepts "linear", "s-curve"'),
    ("var a: Fraction = ramp_curve(1mo, 3mo, if n > 1 then \"linear\" else \"step\")", "E0620", "if n",
     "known when the model compiles"),
    ('var a: Currency<USD> = accounts_receivable($1, 1mo, "net_31")', "E0621", '"net_31"', '"net_30"'),
    ("var a: Rate per Month = team_capacity(hc, cap)", "E0622", "team_capacity", "arrays of 3 and 2 elements"),
    ("var a: Rate per Month = team_capacity(n, cap)", "E0622", "n, cap", "length is known when the model compiles"),
    ("var a: Fraction = peak_utilization(revenue)\n  var revenue: Fraction = 1", "E0622", "revenue)",
     "must be an array"),
    ("var a: Fraction = third([1, 2, 3])", "E0301", "third", "index 3 is outside the 3 elements"),
    ("var a: Fraction = walk([1, 2, 3])", "E0622", "walk", "indexed with a constant"),
    ("var a: Fraction = bad([1, 2])", "E0622", "bad", "returns an array but is declared to return a number"),
    ("var a: Array<Fraction> = arr([1, 2], Normal(1, 0.1))", "E0622", "arr", "draw a distribution"),
    ("var a: Fraction = again([1, 2])", "E0622", "again", "cannot be recursive"),
    ("var a: Fraction = held(\"x\")", "E0620", "held", "local 'k' would hold a text"),
    ("var a: Fraction = ramp_curve(1mo, 3mo, \"linear\", 4)", "E0100", "ramp_curve", "takes 3 arguments, 4 given"),
])
def test_bad_calls_are_coded_at_the_call(line: str, code: str, at: str, words: str) -> None:
    first = line.splitlines()[0]
    source = _model(ARRAYS + BAD + f"  {line}\n")
    got, text = _refusal(source)
    assert got == code, text
    assert f"<string>:{source.splitlines().index('  ' + first) + 1}:{first.index(at) + 3}:" in text, text
    assert words in text


def test_a_scenario_cannot_change_a_text_chosen_at_compile_time() -> None:
    source = _model(_param("shape", "String", '"linear"') + "  var a: Fraction = ramp_curve(1mo, 3mo, shape)\n"
                    + '  scenario other { shape = "step" }\n')
    code, text = _refusal(source)
    assert code == "E0620" and "a scenario cannot change it" in text


def test_imported_overloads_are_picked_by_arity() -> None:
    source = _model("  var a: Currency<USD> = accounts_receivable($300, 20d, \"net_30\")\n"
                    "  var b: Currency<USD> = accounts_receivable($300, 20d)\n"
                    "  var c: Currency<USD> = cf.accounts_receivable($300, 20d, \"due_on_receipt\")\n",
                    "from stdlib.cashflow import accounts_receivable\nimport stdlib.cashflow as cf")
    assert _values(source) == pytest.approx({"a": 300.0, "b": 200.0, "c": 200.0})


def test_a_function_cannot_return_text() -> None:
    code, text = _refusal(_model('  func pick(m: String) -> String = m\n  var x = pick("a")\n'))
    assert code == "E0100" and "returns String" in text


def test_overloads_of_one_arity_in_an_imported_file_are_refused(tmp_path) -> None:  # noqa: ANN001
    lib = tmp_path / "lib.pel"
    lib.write_text("model lib {\n  func f(a: Fraction) -> Fraction = a\n  func f(b: Fraction) -> Fraction = b\n}\n")
    main = tmp_path / "main.pel"
    main.write_text(_model("  var y: Fraction = l.f(1)\n", 'import "lib.pel" as l'))
    with pytest.raises(CompileError) as info:
        pel.compile(main)
    assert info.value.diagnostics[0].code == "E0601"
