"""`pel calibrate --write`: only the value and the `source`/`method` of the fitted parameters change (diffed against
the AST's spans), the result compiles and reproduces the fitted run, and what cannot be written is refused."""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.cli import main
from pel.frontend import ast, parser
from pel.frontend.lexer import LineIndex
from pel.monitor.rewrite import RewriteError, canonical_text, fitted_source, number_text, rewrite
from tests.monitor.fit_models import compounding, csv, growth_model
from tests.monitor.models import TINY, write


def allowed_ranges(text: str, names: list[str]) -> list[tuple[int, int]]:
    """Character ranges of `text` that --write may change: the value and the source/method values of `names`."""
    model = parser.parse(text, "m.pel")
    index = LineIndex(text, "m.pel")
    out = []
    for d in model.of(ast.ParamDecl):
        if d.name in names:
            for node in (d.value, d.provenance.get("source").value, d.provenance.get("method").value):
                s = node.span
                out.append((index.offset(s.line, s.col), index.offset(s.end_line, s.end_col)))
    return out


def assert_only_allowed_changes(before: str, after: str, names: list[str]) -> None:
    ranges = allowed_ranges(before, names)
    changed = [op for op in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
               if op[0] != "equal"]
    assert changed
    for _, i1, i2, _, _ in changed:
        assert any(a <= i1 and i2 <= b for a, b in ranges), f"changed outside the fitted fields: {before[i1:i2]!r}"


def run_cli(model: Path, data: Path, *args: str) -> int:
    return main(["calibrate", str(model), "--data", str(data), "--format", "json", *args])


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def test_write_changes_only_the_fitted_fields_and_reproduces_the_fit(tmp_path: Path, capsys) -> None:
    text = growth_model()
    model = write(tmp_path, "growth.pel", text)
    os.chmod(model, 0o644)
    data_text = csv({"mrr": compounding(48_000, [0.031] * 24)}, noise=0.002)
    data = write(tmp_path, "mrr.csv", data_text)
    assert run_cli(model, data, "--fit", "growth,initial_mrr", "--write") == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["written"] == str(model)
    after = model.read_text(encoding="utf-8")
    assert_only_allowed_changes(text, after, ["growth", "initial_mrr"])
    assert os.stat(model).st_mode & 0o777 == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".growth.pel.")]  # no temporary left

    fitted = pel.load(model)  # compiles
    params = {p.name: p for p in fitted.parameters}
    sha = hashlib.sha256(data_text.encode()).hexdigest()
    for name in ("growth", "initial_mrr"):
        prov = params[name].provenance
        assert prov.method == "fitted"
        assert prov.source == fitted_source(str(data), sha, dt.date.today())
        assert prov.confidence == 0.9  # the other fields as they were
    assert params["churn"].provenance.method == "observed"
    # the rewritten model's run is the fitted run
    values = {k: v["value"] for k, v in rep["parameters"].items()}
    expected = pel.Model(pel.compile_string(text).program).run(params=values)["mrr"].value
    got = fitted.run()["mrr"].value
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    register = {a["name"]: a["value"] for a in fitted.run().assumptions}
    assert register["growth"] == pytest.approx(values["growth"], rel=1e-11)


def test_write_keeps_bom_crlf_comments_and_other_text(tmp_path: Path, capsys) -> None:
    text = TINY.replace("model Tiny {", "// Modèle — μ\nmodel Tiny {  /* keep */").replace("\n", "\r\n")
    raw = b"\xef\xbb\xbf" + text.encode("utf-8")
    model = tmp_path / "tiny.pel"
    model.write_bytes(raw)
    data = write(tmp_path, "d.csv", "t,revenue\n0,95\n1,108\n2,121\n3,134\n")
    assert run_cli(model, data, "--fit", "start,step", "--write") == 0
    capsys.readouterr()
    new = model.read_bytes()
    assert new.startswith(b"\xef\xbb\xbf") and new.count(b"\r\n") == raw.count(b"\r\n")
    assert_only_allowed_changes(text, new[3:].decode("utf-8"), ["start", "step"])
    assert b"= $95 {" in new and b"= $13 {" in new
    assert pel.load(model).run()["revenue"].value[3] == pytest.approx(134)


def test_shapes_are_kept_where_they_are_literals() -> None:
    P = '{ source: "x", method: "observed", confidence: 0.9 }'
    text = f"""model M {{
  param a: Currency<USD> = -$5 {P}
  param g: Rate per Year = 12% / 1y {P}
  param f: Fraction = 5% {P}
  param d: Duration<Month> = 2.5y {P}
  param y: Currency<USD> per Year = $1_200 / 1y {P}
  param e: Currency<USD> = a * 2 {P}
  param r: Rate per Month = 0.01 / 1mo {P}
  param n: Count<Customer> = 50 {P}
  var x: TimeSeries<Fraction>
  x[t] = a / $1 + g * 1mo + f + d / 1mo + y / $1 * 1mo + e / $1 + r * 1mo
  var c: TimeSeries<Count<Customer>>
  c[t] = n
}}"""
    values = {"a": 7.25, "g": 0.1834, "f": 0.0712, "d": 13.5, "y": 1500.5, "e": -3.3, "r": -0.0123, "n": 812.5}
    new = rewrite(text, "m.pel", values, "fitted")
    for written in ("= $7.25 {", "= 18.34% / 1y {", "= 7.12% {", "= 1.125y {", "= $1500.5 / 1y {", "= -$3.3 {",
                    "= -0.0123 / 1mo {", "= 812.5 {"):
        assert written in new
    assert_only_allowed_changes(text, new, list(values))
    program = pel.compile_string(new).program
    register = {a["name"]: a["value"] for a in pel.Model(program).run().assumptions}
    assert register == pytest.approx(values, rel=1e-12)


def test_literal_helpers() -> None:
    assert number_text(0.1 + 0.2) == "0.3" and number_text(1.5e-7) == "0.00000015" and number_text(-2e20) == \
        "200000000000000000000"
    params = {p.name: p for p in pel.compile_string(TINY).program.model.params}
    model = pel.compile_string(TINY).program.model
    assert canonical_text(params["growth"], 0.18, model) == "0.18 / 1y"
    assert canonical_text(params["step"], -4.5, model) == "-$4.5"
    assert canonical_text(params["churn"], 0.07, model) == "0.07"


def test_write_is_refused_for_a_distribution(tmp_path: Path, capsys) -> None:
    model = write(tmp_path, "tiny.pel", TINY)
    data = write(tmp_path, "d.csv", "t,noisy\n0,103\n1,113\n")
    assert run_cli(model, data, "--fit", "noise", "--write") == 1
    err = capsys.readouterr().err
    assert "error[E0910]" in err and "does not replace the distribution of noise" in err and "tiny.pel:4:3" in err
    assert model.read_text(encoding="utf-8") == TINY


def test_write_is_refused_for_ir(tmp_path: Path, capsys) -> None:
    ir_path = tmp_path / "tiny.ir.json"
    pel.Model(pel.compile_string(TINY).program).save(ir_path)
    data = write(tmp_path, "d.csv", "t,revenue\n0,100\n1,112\n")
    assert run_cli(ir_path, data, "--fit", "step", "--write") == 1
    assert "error[E0910]" in capsys.readouterr().err


def test_a_fit_that_fails_writes_nothing(tmp_path: Path, capsys) -> None:
    model = write(tmp_path, "g.pel", growth_model())
    data = write(tmp_path, "d.csv", csv({"mrr": compounding(48_000, [0.03] * 24)}))
    assert run_cli(model, data, "--fit", "growth,initial_mrr", "--write", "--max-evals", "1") == 7
    rep = json.loads(capsys.readouterr().out)
    assert rep["written"] is None and any("was not written" in n for n in rep["notes"])
    assert model.read_text(encoding="utf-8") == growth_model()


def test_a_model_changed_since_the_fit_is_not_overwritten(tmp_path: Path) -> None:
    from pel.monitor.rewrite import write_fitted

    path = write(tmp_path, "tiny.pel", TINY)
    original = path.read_bytes()
    path.write_text(TINY.replace("$10", "$11"), encoding="utf-8")
    with pytest.raises(RewriteError) as info:
        write_fitted(path, original, {"step": 12.0}, "fitted")
    assert info.value.diagnostics[0].code == "E0912"
    assert "$11" in path.read_text(encoding="utf-8")
