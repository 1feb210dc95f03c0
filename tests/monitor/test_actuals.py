"""The actuals reader: long and wide CSV, dates, values with units, and every refused input (code, line, column)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

import pel
from pel.ir import nodes as ir
from pel.monitor.actuals import MAX_ERRORS, Actuals, ActualsError, parse_actuals, read_actuals
from tests.monitor.models import TINY, write

JAN = dt.date(2026, 1, 1)


@pytest.fixture(scope="module")
def model() -> ir.Model:
    return pel.compile_string(TINY).program.model


def values(actuals: Actuals) -> dict[tuple[str, int], float]:
    return {(o.variable, o.t): o.value for o in actuals.observations}


def refused(data: str | bytes, model: ir.Model, **kw: object) -> ActualsError:
    with pytest.raises(ActualsError) as info:
        parse_actuals(data, "a.csv", model, **kw)  # type: ignore[arg-type]
    return info.value


# ---------------------------------------------------------------------------------------------
# Good files
# ---------------------------------------------------------------------------------------------


def test_long_layout(model: ir.Model) -> None:
    got = parse_actuals("t,variable,value\n0,revenue,100\n1,revenue,111.5\n0,users,98\n", "a.csv", model)
    assert got.layout == "long"
    assert values(got) == {("revenue", 0): 100.0, ("revenue", 1): 111.5, ("users", 0): 98.0}
    assert got.variables() == ["revenue", "users"]
    assert [o.t for o in got.series("revenue")] == [0, 1]


def test_long_layout_columns_in_any_order_and_case(model: ir.Model) -> None:
    got = parse_actuals("Value,Variable,T\n5,revenue,2\n", "a.csv", model)
    assert values(got) == {("revenue", 2): 5.0}


def test_wide_layout_with_gaps(model: ir.Model) -> None:
    got = parse_actuals("t,revenue,users\n0,100,\n1,,101\n2,120,102\n", "a.csv", model)
    assert got.layout == "wide"
    assert values(got) == {("revenue", 0): 100.0, ("users", 1): 101.0, ("revenue", 2): 120.0, ("users", 2): 102.0}


def test_spans_point_at_the_value_cell(model: ir.Model) -> None:
    got = parse_actuals('t,revenue\n0, "$1,000"\n', "a.csv", model)
    span = got.observations[0].span
    assert (span.file, span.line, span.col, span.end_col) == ("a.csv", 2, 4, 12)


def test_bom_crlf_comments_and_blank_lines(model: ir.Model) -> None:
    text = "\ufeff# exported 2026-07-01\r\n\r\nt,revenue\r\n# a comment\r\n0,100\r\n\r\n1,110\r\n"
    assert values(parse_actuals(text.encode("utf-8"), "a.csv", model)) == {("revenue", 0): 100.0,
                                                                          ("revenue", 1): 110.0}


@pytest.mark.parametrize(("cell", "variable", "expected"), [
    ("50000", "revenue", 50000.0),
    ('"50,000"', "revenue", 50000.0),
    ("50_000", "revenue", 50000.0),
    ('"$50,000.50"', "revenue", 50000.5),
    ("$50000", "revenue", 50000.0),
    ("-$5", "revenue", -5.0),
    ("$-5", "revenue", -5.0),
    ("50000 USD", "revenue", 50000.0),
    ("$50000 USD", "revenue", 50000.0),
    ("-1.5e3", "revenue", -1500.0),
    (".5", "revenue", 0.5),
    ("5%", "churn_rate", 0.05),
    ("4.5 %", "churn_rate", 0.045),
    ("0.05", "churn_rate", 0.05),
    ("100 customers", "users", 100.0),
    ("100 Customer", "users", 100.0),
    ("0.01", "yearly", 0.01),  # a bare number is in the results' units: per model step (Month)
    ("12%/1y", "yearly", 0.01),
    ("0.12 / year", "yearly", 0.01),
    ("1%/mo", "yearly", 0.01),
])
def test_values_with_units(model: ir.Model, cell: str, variable: str, expected: float) -> None:
    got = parse_actuals(f"t,{variable}\n0,{cell}\n", "a.csv", model)
    assert values(got)[(variable, 0)] == pytest.approx(expected, rel=1e-12)


def test_output_expressions_take_bare_numbers(model: ir.Model) -> None:
    assert values(parse_actuals("t,doubled\n0,200\n", "a.csv", model)) == {("doubled", 0): 200.0}
    err = refused("t,doubled\n0,$200\n", model)
    assert (err.code, err.diagnostics[0].span.col) == ("E0906", 3) and "expression" in err.diagnostics[0].message


def test_dates_map_to_calendar_months(model: ir.Model) -> None:
    got = parse_actuals("date,revenue\n2026-01,1\n2026-02-28,2\n2026-07-01,3\n", "a.csv", model, start=JAN)
    assert values(got) == {("revenue", 0): 1.0, ("revenue", 1): 2.0, ("revenue", 6): 3.0}


def test_dates_in_quarter_and_day_models(model: ir.Model) -> None:
    quarterly = dataclasses.replace(model, time_unit="Quarter")
    got = parse_actuals("date,revenue\n2026-03-31,1\n2026-04,2\n2027-01-15,3\n", "a.csv", quarterly,
                        start=JAN)
    assert values(got) == {("revenue", 0): 1.0, ("revenue", 1): 2.0, ("revenue", 4): 3.0}
    daily = dataclasses.replace(model, time_unit="Day")
    got = parse_actuals("date,revenue\n2026-01-15,1\n2026-01-20,2\n", "a.csv", daily, start=dt.date(2026, 1, 15))
    assert values(got) == {("revenue", 0): 1.0, ("revenue", 5): 2.0}


def test_steps_widen_the_horizon(model: ir.Model) -> None:
    assert values(parse_actuals("t,revenue\n20,1\n", "a.csv", model, steps=24)) == {("revenue", 20): 1.0}


def test_read_actuals_from_a_file(tmp_path, model: ir.Model) -> None:
    path = write(tmp_path, "a.csv", "t,revenue\n0,100\n")
    got = read_actuals(path, model)
    assert got.file == str(path) and values(got) == {("revenue", 0): 100.0}


# ---------------------------------------------------------------------------------------------
# Refused files: (content, code, line, column) of the first diagnostic
# ---------------------------------------------------------------------------------------------


BAD = [
    # unknown variable, in a long file and in a wide header; not an output; a text variable
    ("t,variable,value\n0,revenu,1\n", "E0903", 2, 3),
    ("t,revenue,bogus\n0,1,2\n", "E0903", 1, 11),
    ("t,helper\n0,1\n", "E0903", 1, 3),
    ("t,label\n0,1\n", "E0903", 1, 3),
    ("t,variable,value\n0,,1\n", "E0903", 2, 3),
    # t outside the horizon, negative, not whole; a bad date, a date before the start
    ("t,revenue\n0,1\n7,1\n", "E0904", 3, 1),
    ("t,revenue\n-1,1\n", "E0904", 2, 1),
    ("t,revenue\n1.5,1\n", "E0904", 2, 1),
    ("date,revenue\n2026-02-30,1\n", "E0904", 2, 1),
    ("date,revenue\n2025-12,1\n", "E0904", 2, 1),
    ("date,revenue\n2026-08,1\n", "E0904", 2, 1),
    # values that are not numbers
    ("t,revenue\n0,abc\n", "E0905", 2, 3),
    ("t,variable,value\n0,revenue,\n", "E0905", 2, 11),
    ("t,revenue\n0,nan\n", "E0905", 2, 3),
    ("t,revenue\n0,1e999\n", "E0905", 2, 3),
    ("t,revenue\n0,--5\n", "E0905", 2, 3),
    # units that do not fit the declared type
    ("t,users\n0,$5\n", "E0906", 2, 3),
    ("t,revenue\n0,12 EUR\n", "E0906", 2, 3),
    ("t,revenue\n0,€12\n", "E0906", 2, 3),
    ("t,revenue\n0,$12 EUR\n", "E0906", 2, 3),
    ("t,users\n0,5%\n", "E0906", 2, 3),
    ("t,revenue\n0,6mo\n", "E0906", 2, 3),
    ("t,revenue\n0,5 bananas\n", "E0906", 2, 3),
    ("t,churn_rate\n0,5%/1y\n", "E0906", 2, 3),
    ("t,yearly\n0,12%\n", "E0906", 2, 3),  # per year or per month? ambiguous
    # the same variable and step twice (also two dates in one month)
    ("t,revenue\n0,1\n0,2\n", "E0907", 3, 1),
    ("t,variable,value\n0,revenue,1\n0,revenue,2\n", "E0907", 3, 11),
    ("date,revenue\n2026-01-01,1\n2026-01-31,2\n", "E0907", 3, 1),
    # empty file, no header, bad header
    ("", "E0901", 1, 1),
    ("# only a comment\n\n", "E0901", 1, 1),
    ("0,100\n1,110\n", "E0901", 1, 1),
    ("revenue,users\n1,2\n", "E0901", 1, 1),
    ("t,date,revenue\n0,2026-01,1\n", "E0901", 1, 3),
    ("t,revenue,revenue\n0,1,2\n", "E0901", 1, 11),
    ("t,,revenue\n0,1,2\n", "E0901", 1, 3),
    ("t,variable,value,note\n0,revenue,1,x\n", "E0901", 1, 18),
    ("t,variable\n0,revenue\n", "E0901", 1, 3),
    ("t\n0\n", "E0901", 1, 1),
    # ragged rows, quotes
    ("t,revenue\n0,1,2\n", "E0902", 2, 1),
    ("t,revenue,users\n0,1\n", "E0902", 2, 1),
    ("t,revenue\n0,$50,000\n", "E0902", 2, 1),
    ('t,revenue\n0,"1\n', "E0902", 2, 3),
    ('t,revenue\n0,"1"x\n', "E0902", 2, 6),
    # undecodable bytes
    (b"t,revenue\n0,\xff1\n", "E0900", 2, 3),
    (b"t,revenue\n0,\xc3\xa9\xff\n", "E0900", 2, 4),
    # a header and no values
    ("t,revenue\n", "E0908", 1, 1),
    ("t,revenue,users\n0,,\n", "E0908", 1, 1),
]


@pytest.mark.parametrize(("data", "code", "line", "col"), BAD)
def test_bad_input_is_refused_with_code_line_and_column(model: ir.Model, data: str | bytes, code: str, line: int,
                                                        col: int) -> None:
    err = refused(data, model, start=JAN)
    first = err.diagnostics[0]
    assert (first.code, first.span.file, first.span.line, first.span.col) == (code, "a.csv", line, col), err.render()
    assert first.span.file in err.render()


def test_date_column_needs_a_start(model: ir.Model) -> None:
    err = refused("date,revenue\n2026-01,1\n", model)
    assert err.code == "E0904" and "--start" in (err.diagnostics[0].hint or "")


def test_calendar_start_must_be_the_first_of_a_month(model: ir.Model) -> None:
    err = refused("date,revenue\n2026-01,1\n", model, start=dt.date(2026, 1, 15))
    assert err.code == "E0011" and "--start 2026-01" in (err.diagnostics[0].hint or "")


def test_dates_need_steps_of_a_day_or_longer(model: ir.Model) -> None:
    err = refused("date,revenue\n2026-01-01,1\n", dataclasses.replace(model, time_unit="Hour"), start=JAN)
    assert err.code == "E0904" and err.diagnostics[0].span.line == 1


def test_every_bad_row_is_reported_up_to_a_cap(model: ir.Model) -> None:
    err = refused("t,revenue\n0,x\n1,1,1\n9,1\n", model)
    assert [(d.code, d.span.line) for d in err.diagnostics] == [("E0905", 2), ("E0902", 3), ("E0904", 4)]
    many = "t,revenue\n" + "".join(f"{k},x\n" for k in range(MAX_ERRORS + 5))
    err = refused(many, model, steps=100)
    assert len(err.diagnostics) == MAX_ERRORS + 1
    assert err.diagnostics[-1].level == "note" and "5 more" in err.diagnostics[-1].message


def test_render_shows_the_line_and_a_caret(model: ir.Model) -> None:
    text = refused("t,users\n0,$5\n", model).render()
    assert text.splitlines()[:3] == ["a.csv:2:3: error[E0906]: '$5' is an amount of USD, but users is "
                                     "TimeSeries<Count<Customer>>", "   2 | 0,$5", "         ^^"]


def test_unquoted_thousands_get_a_hint(model: ir.Model) -> None:
    assert "quoted" in (refused("t,revenue\n0,$50,000\n", model).diagnostics[0].hint or "")


def test_unknown_variable_suggests_a_close_name(model: ir.Model) -> None:
    assert refused("t,revenu\n0,1\n", model).diagnostics[0].hint == "did you mean 'revenue'?"


@pytest.mark.parametrize("make", ["missing", "folder"])
def test_unreadable_files(tmp_path, model: ir.Model, make: str) -> None:
    path = tmp_path / "a.csv"
    if make == "folder":
        path.mkdir()
    with pytest.raises(ActualsError) as info:
        read_actuals(path, model)
    assert info.value.code == "E0900" and str(path) in info.value.render()
