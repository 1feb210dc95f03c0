"""Unit algebra of pel.frontend.types: display text, operator table, step normalization, time units."""

import pytest

from pel.frontend import types as T

USD = T.currency("USD")
EUR = T.currency("EUR")
RATE_M = T.rate("Month")
RATE_Y = T.rate("Year")
FLOW_USD_M = T.PelType("num", base="Currency", tag="USD", te=-1, time="Month")
CUST = T.PelType("num", base="Count", tag="Customer")


@pytest.mark.parametrize(
    ("t", "text"),
    [
        (USD, "Currency<USD>"),
        (RATE_M, "Rate per Month"),
        (FLOW_USD_M, "Currency<USD> per Month"),
        (T.FRACTION, "Fraction"),
        (T.BOOLEAN, "Boolean"),
        (T.DURATION, "Duration"),
        (CUST, "Count<Customer>"),
        (T.PelType("num", base="Currency", tag="USD", series=True), "TimeSeries<Currency<USD>>"),
        (T.PelType("num", base="Currency", tag="USD", scope="Customer"), "Currency<USD> per Customer"),
        (T.array(T.FRACTION), "Array<Fraction>"),
    ],
)
def test_type_text(t, text):
    assert T.type_text(t) == text


def test_steps_in_units():
    assert T.steps_in("Year") == 12
    assert T.steps_in("Quarter") == 3
    assert T.steps_in("Day") == pytest.approx(1 / 30)
    assert T.steps_in("Week") == pytest.approx(7 / 30)


def test_additive_rules():
    assert T.additive("+", USD, USD, "Month").type == USD
    assert T.additive("+", USD, EUR, "Month").code == "E0201"
    assert T.additive("+", USD, T.FRACTION, "Month").code == "E0200"
    assert T.additive("+", RATE_M, RATE_Y, "Month").code == "E0200"
    # step normalization: Rate per Month (the step unit) is a per-step Fraction
    assert T.additive("+", T.FRACTION, RATE_M, "Month").type == T.FRACTION
    assert T.additive("+", T.FRACTION, RATE_Y, "Month").code == "E0200"
    # literal zero compares against anything
    assert T.additive(">=", USD, T.FRACTION, "Month", zero_right=True).code is None


def test_multiplicative_rules():
    assert T.multiply(USD, T.FRACTION, "Month").type == USD
    assert T.multiply(USD, USD, "Month").code == "E0202"
    assert T.multiply(RATE_M, T.duration("Month"), "Month").type == T.FRACTION
    assert T.multiply(FLOW_USD_M, T.duration("Month"), "Month").type == USD
    assert T.multiply(USD, CUST, "Month").type == USD
    scoped = T.PelType("num", base="Currency", tag="USD", scope="Customer")
    assert T.multiply(scoped, T.PelType("num", base="Count", tag="Customers"), "Month").type == USD
    assert T.divide(USD, USD, "Month").type == T.FRACTION
    assert T.divide(USD, EUR, "Month").code == "E0201"
    assert T.type_text(T.divide(USD, T.duration("Month"), "Month").type) == "Currency<USD> per Month"
    assert T.type_text(T.divide(T.FRACTION, T.duration("Day"), "Month").type) == "Rate per Day"
    assert T.divide(FLOW_USD_M, RATE_M, "Month").type == USD
    assert T.divide(USD, RATE_M, "Month").type == USD  # step-normalized Currency x Duration
    assert T.type_text(T.divide(T.FRACTION, RATE_M, "Month").type) == "Duration"
    assert T.divide(T.FRACTION, USD, "Month").code == "E0202"
    assert T.type_text(T.divide(USD, CUST, "Month").type) == "Currency<USD> per Customer"


def test_power():
    assert T.power(T.FRACTION, T.FRACTION, "Month", False).type == T.FRACTION
    assert T.power(USD, T.FRACTION, "Month", False).code == "E0202"
    assert T.power(USD, T.FRACTION, "Month", True).type == USD
    assert T.power(T.FRACTION, USD, "Month", False).code == "E0100"


def test_unit_labels():
    assert T.unit_label(RATE_M) == "1/Month"
    assert T.unit_label(FLOW_USD_M) == "USD/Month"
    assert T.unit_label(USD) == "USD"
    assert T.unit_label(T.FRACTION) == ""
