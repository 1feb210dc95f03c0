"""Lexer tests: every literal form, comments, positions, line starts, and the lexical errors E0001-E0004."""

from __future__ import annotations

import pytest

from pel.diagnostics import CompileError
from pel.frontend.dump import dump_tokens
from pel.frontend.lexer import tokenize
from tests.frontend.golden_util import check_golden


def kinds(src: str) -> list[tuple[str, object]]:
    return [(t.type, t.value) for t in tokenize(src)]


def errors(src: str) -> list[tuple[str, int, int]]:
    with pytest.raises(CompileError) as exc:
        tokenize(src)
    return [(d.code, d.span.line, d.span.col) for d in exc.value.diagnostics]


def test_numbers_with_underscores_and_exponents():
    assert kinds("1_000_000 3.14 1.602e-19 007") == [
        ("NUMBER", (1e6, "1_000_000", True)), ("NUMBER", (3.14, "3.14", False)),
        ("NUMBER", (1.602e-19, "1.602e-19", False)), ("NUMBER", (7.0, "007", True)),
    ]


def test_currency_literals_and_unary_minus():
    assert kinds("$1_250.50 €3 £4 ¥5") == [
        ("MONEY", (1250.5, "$", "$1_250.50")), ("MONEY", (3.0, "€", "€3")),
        ("MONEY", (4.0, "£", "£4")), ("MONEY", (5.0, "¥", "¥5")),
    ]
    assert [t for t, _ in kinds("-$20_000")] == ["MINUS", "MONEY"]


def test_percent_versus_modulo():
    assert kinds("25.5%") == [("PERCENT", (0.255, "25.5%"))]
    assert [t for t, _ in kinds("t % 12")] == ["NAME", "MOD", "NUMBER"]
    assert [t for t, _ in kinds("13%5")] == ["NUMBER", "MOD", "NUMBER"]
    assert [t for t, _ in kinds("x*5%)")] == ["NAME", "TIMES", "PERCENT", "RPAREN"]
    assert [t for t, _ in kinds("12%(x)")] == ["NUMBER", "MOD", "LPAREN", "NAME", "RPAREN"]


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [("30s", 30, "s"), ("2sec", 2, "s"), ("5m", 5, "min"), ("5min", 5, "min"), ("1.5h", 1.5, "h"),
     ("2hr", 2, "h"), ("30d", 30, "d"), ("7day", 7, "d"), ("14days", 14, "d"), ("2w", 2, "w"),
     ("4wk", 4, "w"), ("0mo", 0, "mo"), ("6mo", 6, "mo"), ("1q", 1, "q"), ("2.5y", 2.5, "y"), ("1yr", 1, "y")],
)
def test_durations(text, amount, unit):
    assert kinds(text) == [("DURATION", (amount, unit, text))]


def test_strings_and_escapes():
    assert kinds(r'"a\n\t\\\"b" ' + r'"\u{3BC}"') == [("STRING", 'a\n\t\\"b'), ("STRING", "μ")]
    assert kinds("'single'") == [("STRING", "single")]
    assert kinds('"""multi\nline "quoted" """') == [("STRING", 'multi\nline "quoted" ')]
    assert kinds('"$100 is {x}"') == [("STRING", "$100 is {x}")]


def test_comments_nest_and_are_skipped():
    assert kinds("a // line\n/// doc\nb /* x /* nested */ still comment */ c") == [
        ("NAME", "a"), ("NAME", "b"), ("NAME", "c"),
    ]


def test_bom_is_ignored():
    toks = tokenize("\ufeffmodel M {}")
    assert toks[0].type == "MODEL" and (toks[0].span.line, toks[0].span.col) == (1, 1)


def test_keywords_reserved_and_contextual_words():
    assert [t for t, _ in kinds("param var t all timesteps min max sum Boolean Array")] == [
        "PARAM", "VAR", "NAME", "NAME", "NAME", "NAME", "NAME", "NAME", "NAME", "NAME",
    ]
    assert [t for t, _ in kinds("Currency Rate TimeSeries")] == ["TYPENAME"] * 3
    assert [t for t, _ in kinds("implies changes and or not")] == ["IMPLIES", "CHANGES", "AND", "OR", "NOT"]
    assert [t for t, _ in kinds("type while")] == ["RESERVED", "RESERVED"]


def test_greek_identifiers():
    assert kinds("μ σ α β xₘ") == [("NAME", n) for n in ("μ", "σ", "α", "β", "xₘ")]


def test_operators():
    src = "** ^ == != <= >= < > && || ! = := += -= *= /= -> :: .. . ~ , ; : ( ) [ ] { } + - * / %"
    types = [t for t, _ in kinds(src)]
    assert types == ["POW", "POW", "EQ", "NE", "LE", "GE", "LT", "GT", "AND", "OR", "NOT", "ASSIGN",
                     "ASSIGN", "PLUSEQ", "MINUSEQ", "TIMESEQ", "DIVEQ", "ARROW", "DCOLON", "DOTDOT", "DOT",
                     "TILDE", "COMMA", "SEMI", "COLON", "LPAREN", "RPAREN", "LBRACKET", "RBRACKET", "LBRACE",
                     "RBRACE", "PLUS", "MINUS", "TIMES", "DIVIDE", "MOD"]
    assert [t for t, _ in kinds("0..12")] == ["NUMBER", "DOTDOT", "NUMBER"]


def test_spans_and_line_starts():
    toks = tokenize("var x =\n  μ + 1")
    assert [(t.span.line, t.span.col, t.span.end_col, t.line_start) for t in toks] == [
        (1, 1, 4, True), (1, 5, 6, False), (1, 7, 8, False), (2, 3, 4, True), (2, 5, 6, False), (2, 7, 8, False),
    ]


def test_invalid_character_e0001_collects_all():
    assert errors("a @ b\n  # c") == [("E0001", 1, 3), ("E0001", 2, 3)]


def test_unterminated_string_e0002():
    assert errors('x = "abc\ny = 1') == [("E0002", 1, 5)]
    assert errors('x = """abc') == [("E0002", 1, 5)]
    assert errors(r'"bad \q escape"') == [("E0002", 1, 6)]


def test_unterminated_block_comment_e0003():
    assert errors("a /* b /* c */ d") == [("E0003", 1, 3)]


def test_invalid_numeric_literal_e0004():
    assert errors("x = 12abc + $5k") == [("E0004", 1, 5), ("E0004", 1, 13)]


def test_several_lexical_errors_in_one_run():
    codes = [c for c, _, _ in errors('@ 3zz /* open "x')]
    assert codes == ["E0001", "E0004", "E0003"]


def test_golden_token_dump():
    src = (
        "model Tokens {\n"
        "  param growth: Rate per Month = 5% / 1mo { source: \"a\\tb\", method: \"fitted\", confidence: 0.8 }\n"
        "  var mrr: TimeSeries<Currency<USD>> mrr[0] = -$1_000.50\n"
        "  mrr[t+1] = mrr[t] * (1 + growth) + 1.5h / 7day  // trailing\n"
        "  /* nested /* comment */ */ constraint c: t % 12 == 0 && μ != 2.5e3\n"
        "}\n"
    )
    check_golden("tokens_small.txt", dump_tokens(tokenize(src, "tokens.pel")))
