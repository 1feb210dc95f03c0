"""One time analysis (pel.ir.timeflow) for the frontend's E03xx checks and IR validation: the same finding, with the
same words, whichever stage meets it."""

from __future__ import annotations

import pytest

from pel.diagnostics import DiagnosticBag, IRError
from pel.frontend import checker, lower, provenance
from pel.frontend.parser import parse
from pel.ir import nodes as ir
from pel.ir import timeflow
from pel.ir.hashing import with_hashes
from pel.ir.validate import validate

SERIES = "var x: TimeSeries<Fraction>\nvar y: TimeSeries<Fraction>\n"
CASES = [  # (body, the frontend's code, IR validation's)
    (SERIES + "x[t] = x[t+1] * 0.9\ny[t] = 1.0", "E0300", "V006"),
    (SERIES + "x[t] = y[t] + 1\ny[t] = x[t] * 2", "E0304", "V001"),
    (SERIES + "x[t] = y[40]\ny[t] = 1.0", "E0301", "V014"),
    (SERIES + "x[t+1] = x[t] * 2\ny[t] = 1.0", "E0303", "V000"),
    (SERIES + "x[t] = 1.0\ny[t] = 1.0\nvar total = sum(x)\npolicy p { when: t == 3, then: total = 1.0 }",
     "E0300", "V006"),
    (SERIES + "x[t] = 1.0\ny[t] = 1.0\nvar w = x[12]\nvar z = w[3]", "E0100", "V006"),
]


def lowered(body: str) -> tuple[ir.Program, DiagnosticBag]:
    source = "model M {\n" + body + "\nsimulate for 36mo\n}\n"
    bag = DiagnosticBag()
    model = parse(source, "m.pel")
    checked = checker.check(model, bag)
    prov = provenance.collect(model, bag)
    assert not bag.errors, [d.header() for d in bag.errors]
    return lower.lower(checked, prov, bag, source_file="m.pel"), bag


@pytest.mark.parametrize(("body", "code", "vcode"), CASES)
def test_the_frontend_and_validation_report_the_same_finding(body: str, code: str, vcode: str) -> None:
    assert (code, vcode) in timeflow.CODES.values()
    program, bag = lowered(body)
    assert [d.code for d in bag.errors] == [code]
    front = bag.errors[0]
    with pytest.raises(IRError) as info:  # the same IR, loaded as a file would be
        validate(with_hashes(program))
    found = [d for d in info.value.diagnostics if d.code == vcode]
    assert found, [d.message for d in info.value.diagnostics]
    assert any(front.message in d.message for d in found), (front.message, [d.message for d in found])
    assert found[0].span.line == front.span.line


def test_settle_writes_what_the_analysis_found() -> None:
    body = (SERIES + "x[t] = y[t] + 1\ny[t] = 2.0\nvar total = sum(x)\nvar first = x[3]\n"
            'constraint c: total > 0 { severity: warning, message: "m" }\n'
            'constraint ahead: x[t+2] > 0 { severity: warning, message: "n" }')
    program, bag = lowered(body)
    assert not bag.errors
    model = program.model
    assert model.order.index("y") < model.order.index("x")
    rules = {v.name: v.rules for v in model.vars}
    assert [(r.kind, r.at) for r in rules["total"]] == [("once", None)]  # the whole series: the last step
    assert [(r.kind, r.at) for r in rules["first"]] == [("once", 3)]
    c, ahead = model.constraints
    assert c.scope.type == "cond" and ahead.scope.type == "all"  # checked once, at the end; at every step
    assert ahead.lookahead == 2 and c.lookahead == 0
    validate(with_hashes(program))  # what the frontend settled passes the same analysis as loaded IR


def test_time_errors_are_listed_beside_a_type_error() -> None:
    """A model the checker refuses still gets its time analysis: `pel check` lists everything at once."""
    from pel.diagnostics import CompileError
    from pel.pipeline import compile_source

    source = "model M {\n  var a: Fraction = $5\n  var never: Fraction\n  var x[t] = x[t+1]\n}\n"
    with pytest.raises(CompileError) as info:
        compile_source(source, "m.pel")
    assert sorted(d.code for d in info.value.diagnostics if d.level == "error") == ["E0100", "E0300", "E0305"]
