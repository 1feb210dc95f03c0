"""The stdlib modules give the hand-computed values, stay unit-checked, and imports resolve, refuse and hash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pel
from pel.diagnostics import CompileError
from pel.frontend.imports import STDLIB_MODULES, stdlib_functions
from pel.ir import serialize

PROV = '{ source: "test", method: "observed", confidence: 0.9 }'


def _model(body: str, head: str = "") -> str:
    return f"{head}\nmodel T {{\n{body}\n}}\n"


def _param(name: str, type_: str, value: str) -> str:
    return f"  param {name}: {type_} = {value} {PROV}\n"


def _value(source: str, name: str, file: str | None = None) -> float:
    model = pel.compile(file) if file else pel.compile_string(source)
    return model.run("deterministic").to_dict()[name]["value"]


def _codes(source: str) -> list[str]:
    with pytest.raises(CompileError) as info:
        pel.compile_string(source)
    return [d.code for d in info.value.diagnostics if d.level == "error"]


# (module, call, result type, expected value) on the inputs below
INPUTS = (
    _param("arpu", "Currency<USD> per Month", "$100 / 1mo") + _param("churn", "Rate per Month", "0.05 / 1mo")
    + _param("disc", "Rate per Month", "0.01 / 1mo") + _param("cac", "Currency<USD>", "$450")
    + _param("margin", "Currency<USD> per Month", "$90 / 1mo") + _param("people", "Count<Person>", "40")
    + _param("attr", "Rate per Year", "0.15 / 1yr") + _param("demand", "Rate per Month", "900 / 1mo")
    + _param("cap", "Rate per Month", "1000 / 1mo")
)
CASES = [
    ("unit_econ", "ltv_simple(arpu, churn)", "Currency<USD>", 2000.0),
    ("unit_econ", "ltv_with_discount(arpu, churn, disc)", "Currency<USD>", 100 / 0.06),
    ("unit_econ", "payback_period(cac, margin)", "Duration<Month>", 5.0),
    ("unit_econ", "ltv_to_cac_ratio($2000, cac)", "Fraction", 2000 / 450),
    ("unit_econ", "customer_lifetime(churn)", "Duration<Month>", 20.0),
    ("unit_econ", "rule_of_40(0.3, 0.15)", "Fraction", 0.45),
    ("retention", "cohort_retention(1000.0, churn, 12mo)", "Fraction", 548.8116360940264),
    ("retention", "net_dollar_retention($1000, $150, $30, $80)", "Fraction", 1.04),
    ("retention", "gross_dollar_retention($1000, $80, $30)", "Fraction", 0.89),
    ("cashflow", "runway_months($2000, $50 / 1mo)", "Duration<Month>", 40.0),
    ("cashflow", "runway_months($2000, -$50 / 1mo)", "Duration<Month>", 1200.0),
    ("cashflow", "free_cash_flow($500, $120)", "Currency<USD>", 380.0),
    ("cashflow", "accounts_payable($300, 2mo)", "Currency<USD>", 600.0),
    ("capacity", "calculate_utilization(demand, cap)", "Fraction", 0.9),
    ("capacity", "capacity_gap(cap, demand)", "Rate per Month", 100.0),
    ("capacity", "capacity_gap(demand, cap)", "Rate per Month", 0.0),
    ("capacity", "capacity_increment(12.5, 10.0)", "Fraction", 2.0),
    ("hiring", "attrition_replacement(people, attr)", "Count<Person>", 6.0),
    ("hiring", "effective_headcount(people, 10, 0.5)", "Count<Person>", 45.0),
    ("hiring", "ramp_curve(1mo, 4mo)", "Fraction", 0.25),
    ("hiring", "ramp_curve(6mo, 4mo)", "Fraction", 1.0),
    ("funnel", "conversion_funnel(1000.0, 0.5, 0.2, 0.1)", "Fraction", 10.0),
]


@pytest.mark.parametrize(("module", "call", "type_", "expected"), CASES)
def test_namespaced_call_gives_hand_computed_value(module: str, call: str, type_: str, expected: float) -> None:
    source = _model(INPUTS + f"  var out: {type_} = m.{call}", f"import stdlib.{module} as m")
    assert _value(source, "out") == pytest.approx(expected)


@pytest.mark.parametrize(("module", "call", "type_", "expected"), CASES[:3])
def test_bare_and_from_imported_calls_resolve(module: str, call: str, type_: str, expected: float) -> None:
    bare = _model(INPUTS + f"  var out: {type_} = {call}")
    assert _value(bare, "out") == pytest.approx(expected)
    name = call.split("(")[0]
    picked = _model(INPUTS + f"  var out: {type_} = {call}", f"from stdlib.{module} import {name}")
    assert _value(picked, "out") == pytest.approx(expected)


def test_every_module_is_shipped_and_names_are_unique() -> None:
    names = stdlib_functions()
    assert set(names.values()) == set(STDLIB_MODULES)
    for module in STDLIB_MODULES:
        pel.compile_string(_model(INPUTS, f"import stdlib.{module}"), strict=True)


def test_unit_errors_are_coded() -> None:
    source = _model(INPUTS + "  var out: Currency<USD> = econ.ltv_simple(3mo, churn)", "import stdlib.unit_econ as econ")
    with pytest.raises(CompileError) as info:
        pel.compile_string(source)
    assert info.value.diagnostics[0].code.startswith("E0")
    assert "econ.ltv_simple" in info.value.render()
    wrong_result = _model(INPUTS + "  var out: Fraction = econ.ltv_simple(arpu, churn)", "import stdlib.unit_econ as econ")
    assert _codes(wrong_result)[0] in ("E0100", "E0200")


@pytest.mark.parametrize(("head", "body", "code"), [
    ("import stdlib.nope", "", "E0610"),
    ('import "missing.pel" as m', "", "E0610"),
    ('import "https://example.com/x.pel" as m', "", "E0610"),
    ("import stdlib.unit_econ as econ", "  var out: Fraction = econ.ltv_simpel(arpu, churn)", "E0600"),
    ("from stdlib.unit_econ import nope", "", "E0600"),
    ("import stdlib.unit_econ as m\nimport stdlib.hiring as m", "", "E0601"),
    ("import stdlib.unit_econ as arpu", "", "E0601"),
    ("", "  var out: Fraction = nomod.f(arpu)", "E0600"),
])
def test_bad_imports_are_refused(head: str, body: str, code: str) -> None:
    assert code in _codes(_model(INPUTS + body, head))


def test_unknown_name_suggests_the_close_one() -> None:
    with pytest.raises(CompileError) as info:
        pel.compile_string(_model(INPUTS + "  var out: Fraction = econ.ltv_simpel(arpu, churn)",
                                  "import stdlib.unit_econ as econ"))
    assert "did you mean 'ltv_simple'" in info.value.render()


HELPER = "model helpers {\n  func double(x: Currency<USD>) -> Currency<USD> = twice(x)\n" \
         "  func twice(x: Currency<USD>) -> Currency<USD> = x * FACTOR\n}\n"


def _write_pair(tmp_path: Path, factor: str = "2") -> Path:
    (tmp_path / "lib").mkdir(exist_ok=True)
    (tmp_path / "lib" / "helpers.pel").write_text(HELPER.replace("FACTOR", factor))
    main = tmp_path / "main.pel"
    main.write_text(_model(_param("price", "Currency<USD>", "$10") + "  var out: Currency<USD> = h.double(price)",
                           'import "lib/helpers.pel" as h'))
    return main


def test_file_import_resolves_relative_to_the_importer(tmp_path: Path) -> None:
    main = _write_pair(tmp_path)
    assert _value("", "out", str(main)) == 20.0


def test_import_cycle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.pel").write_text('import "b.pel" as b\nmodel a {\n  func f(x: Fraction) -> Fraction = x\n}\n')
    (tmp_path / "b.pel").write_text('import "a.pel" as a\nmodel b {\n  func g(x: Fraction) -> Fraction = x\n}\n')
    main = tmp_path / "main.pel"
    main.write_text(_model("  var out: Fraction = a.f(1.0)", 'import "a.pel" as a'))
    with pytest.raises(CompileError) as info:
        pel.compile(main)
    assert "E0611" in [d.code for d in info.value.diagnostics]


def test_imported_file_with_a_param_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.pel").write_text(f"model p {{\n{_param('x', 'Fraction', '1.0')}}}\n")
    main = tmp_path / "main.pel"
    main.write_text(_model("  var out: Fraction = 1.0", 'import "p.pel" as p'))
    with pytest.raises(CompileError) as info:
        pel.compile(main)
    assert "E0612" in [d.code for d in info.value.diagnostics]


def test_ir_runs_without_the_sources_and_hash_covers_imports(tmp_path: Path) -> None:
    main = _write_pair(tmp_path)
    first = pel.compile(main)
    ir_file = tmp_path / "main.ir.json"
    serialize.save(first.program, ir_file)
    (tmp_path / "lib" / "helpers.pel").unlink()
    main.unlink()
    code = f"import pel; print(pel.load({str(ir_file)!r}).run('deterministic').to_dict()['out']['value'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert float(out.stdout) == 20.0
    changed = pel.compile(_write_pair(tmp_path, "3"))
    assert changed.run("deterministic").to_dict()["out"]["value"] == 30.0
    assert changed.hash != first.hash


def test_an_error_in_an_imported_file_shows_that_file_s_line(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "h.pel").write_text("model h {\n  // a comment line\n  func double(x: Fraction) -> Fraction =\n"
                                           "    x * $2\n}\n")
    main = tmp_path / "main.pel"
    main.write_text('model M {\n  import "lib/h.pel" as h\n  var a: Fraction = h.double(2)\n  var b = 1\n}\n')
    with pytest.raises(CompileError) as info:
        pel.compile(main)
    shown = info.value.render()
    assert "h.pel:4:5: error[E0100]" in shown and "   4 |     x * $2" in shown, shown  # not main.pel's line 4
