"""Property-based robustness of the whole frontend: any text either compiles or fails with coded diagnostics.

Two generators feed `compile_source`: random sequences drawn from PEL's token vocabulary, and random mutations
(delete, duplicate or swap a token or a line, insert a character, truncate) of real models — the corpus in
<repo>/../shared/corpus/models when present, and the project's own examples/*.pel always. Any exception other
than CompileError, or a diagnostic without a code or with a span before line 1, fails. PEL_FUZZ_EXAMPLES raises
the example count for a long local run (e.g. PEL_FUZZ_EXAMPLES=5000).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pel.diagnostics import CompileError
from pel.frontend.lexer import CONTEXTUAL, KEYWORDS, OPERATORS, OTHER_RESERVED, TYPE_KEYWORDS, lex_raw
from pel.pipeline import compile_source

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / ".." / "shared" / "corpus" / "models"
EXAMPLES = REPO / "examples"

EXAMPLE_COUNT = int(os.environ.get("PEL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLE_COUNT,
    deadline=None,
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def _check(source: str, strict: bool) -> None:
    """The property: success, or a CompileError whose every diagnostic has a code and a sane position."""
    try:
        compile_source(source, "fuzz.pel", strict=strict)
    except CompileError as exc:
        assert exc.diagnostics, "CompileError without diagnostics"
        for d in exc.diagnostics:
            assert isinstance(d.code, str) and d.code, f"diagnostic without a code: {d}"
            if d.span is not None:
                assert d.span.line >= 1, f"diagnostic before line 1: {d.header()}"
                assert d.span.col >= 1, f"diagnostic before column 1: {d.header()}"
        exc.render()  # rendering a diagnostic against its source must not fail either


# ---------------------------------------------------------------------------------------------
# (a) random token sequences
# ---------------------------------------------------------------------------------------------

_NAMES = ("t", "x", "revenue", "cash", "growth", "μ", "σ", "α", "all", "timesteps", "Month", "USD", "Customer",
          "Normal", "Beta", "Mixture", "max", "min", "sum", "severity", "message", "source", "method",
          "confidence", "fatal", "warning", "String", "Boolean", "Array", "List")
_WORDS = sorted({*KEYWORDS, *TYPE_KEYWORDS, *OTHER_RESERVED, *CONTEXTUAL, *_NAMES})
_LITERALS = ("0", "1", "12", "007", "1_000", "3.14", "1.5e3", "2e-3", "1e", "12abc", "$100", "$1_250.50", "€3",
             "£4", "¥5", "$5k", "5%", "12.5%", "1mo", "30d", "1.5h", "2yr", "6q", "0mo", "1zz", '"text"', '""',
             '"a\\n\\t\\"b"', '"\\q"', '"\\u{3BC}"', '"{t} at {cash[t]}"', '"{"', "'single'", '"""multi\nline"""',
             '"unterminated', "true", "false")
_TRIVIA = ("\n", "\n\n", " ", "\t", "// comment\n", "/* block */", "/* nested /* c */ */", "/*", "\r\n", ";")
_PUNCT = tuple(OPERATORS) + ("@", "#", "$", "`", "\\", "\u00a0", "\x00")

_token_text = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_LITERALS),
    st.sampled_from(tuple(OPERATORS)),
    st.sampled_from(("{", "}", "(", ")", "[", "]", "{", "}")),
    st.sampled_from(_TRIVIA),
    st.sampled_from(_PUNCT),
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
    st.integers(min_value=0, max_value=10**20).map(str),
)
_separator = st.sampled_from((" ", " ", "\n", ""))


@st.composite
def token_soup(draw) -> str:
    """Random tokens; half of the time wrapped in a model header so the parser gets past the first item."""
    parts: list[str] = []
    for tok in draw(st.lists(_token_text, max_size=60)):
        parts.append(tok)
        parts.append(draw(_separator))
    body = "".join(parts)
    if draw(st.booleans()):
        return f"model Fuzz {{\n{body}\n}}\n"
    return body


_ITEM_STARTS = ("param p: Currency<USD> = ", "var v: TimeSeries<Fraction>\n  v[t] = ", "var w = ",
                "constraint c: ", "policy q { when: ", "simulate for ", "v[t+1] = ", "param d ~ Normal(μ=")


@st.composite
def item_soup(draw) -> str:
    """Random token tails behind the start of a real model item (reaches the checker more often)."""
    lines = ["model Fuzz {"]
    for _ in range(draw(st.integers(1, 5))):
        tail = "".join(f"{tok}{draw(_separator)}" for tok in draw(st.lists(_token_text, max_size=12)))
        lines.append("  " + draw(st.sampled_from(_ITEM_STARTS)) + tail)
    lines.append("}")
    return "\n".join(lines) + "\n"


# Well-formed models with random expressions: these get past the parser and exercise the checker, the
# provenance and time checks, the lowering, hashing and IR validation.
_REFS = ("price", "growth", "share", "units", "cash", "t", "n", "missing")
_ATOMS = st.one_of(
    st.sampled_from(_REFS),
    st.sampled_from(("units[t]", "units[t-1]", "units[t+1]", "cash[t]", "cash[0]", "units[t-12]", "cash[t+2]")),
    st.sampled_from(("0", "1", "2.5", "1e9", "1e308", "0.0", "$100", "€5", "-$3", "15%", "0%", "1mo", "12mo", "7d",
                     "true", "false", '"s"', "1_000_000")),
)
_BINOPS = ("+", "-", "*", "/", "%", "^", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "implies", "..")


def _combine(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.tuples(children, st.sampled_from(_BINOPS), children).map(lambda x: f"({x[0]} {x[1]} {x[2]})"),
        st.tuples(st.sampled_from(("-", "!", "not ")), children).map(lambda x: f"{x[0]}{x[1]}"),
        st.tuples(children, children, children).map(lambda x: f"(if {x[0]} then {x[1]} else {x[2]})"),
        st.tuples(st.sampled_from(("max", "min", "abs", "sqrt", "sum", "avg", "round", "clamp", "lag", "f")),
                  st.lists(children, max_size=3)).map(lambda x: f"{x[0]}({', '.join(x[1])})"),
        st.tuples(children, st.sampled_from(("Fraction", "Currency<USD>", "Currency<EUR>", "Count<Customer>",
                                             "Rate per Month", "Duration"))).map(lambda x: f"({x[0]} as {x[1]})"),
        st.tuples(st.sampled_from(("Normal(μ=", "Beta(α=", "Uniform(low=", "LogNormal(μ=")), children, children)
        .map(lambda x: f"~{x[0]}{x[1]}, {'σ' if 'μ' in x[0] else 'β' if 'α' in x[0] else 'high'}={x[2]})"),
    )


_EXPR = st.recursive(_ATOMS, _combine, max_leaves=12)
_TYPES = st.sampled_from(("", ": Fraction", ": Currency<USD>", ": Count<Customer>", ": Rate per Month",
                          ": TimeSeries<Fraction>", ": TimeSeries<Currency<USD>>", ": Duration", ": Boolean"))
_PROV = st.sampled_from(("", ' { source: "s", method: "observed", confidence: 0.9 }',
                         ' { source: "s", method: "assumption", confidence: 2 }', " { confidence: 0.5 }"))


@st.composite
def random_model(draw) -> str:
    lines = ["model Fuzz {"]
    for name in draw(st.lists(st.sampled_from(_REFS[:-1]), max_size=7, unique=True)):
        kind = draw(st.integers(0, 6))
        e = draw(_EXPR)
        if kind == 0:
            lines.append(f"  param {name}{draw(_TYPES)} = {e}{draw(_PROV)}")
        elif kind == 1:
            lines.append(f"  var {name}{draw(_TYPES)} = {e}")
        elif kind == 2:
            lines += [f"  var {name}{draw(_TYPES)}", f"  {name}[0] = {e}", f"  {name}[t+1] = {draw(_EXPR)}"]
        elif kind == 3:
            lines.append(f'  constraint c_{name}: {e} {{ severity: fatal, message: "{name} {{{draw(_EXPR)}}}" }}')
        elif kind == 4:
            lines.append(f"  policy p_{name} {{ when: {e}, then: {name} = {draw(_EXPR)} }}")
        elif kind == 5:
            lines.append(f"  {name}[t] = {e}")
        else:
            lines.append(f"  simulate for {draw(st.sampled_from(('12mo', '0mo', '5y', '1000d', 'x')))}")
    lines.append("}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(source=random_model(), strict=st.booleans())
def test_random_wellformed_models(source: str, strict: bool) -> None:
    _check(source, strict)


@FUZZ
@given(source=token_soup(), strict=st.booleans())
def test_random_token_sequences(source: str, strict: bool) -> None:
    _check(source, strict)


@FUZZ
@given(source=item_soup(), strict=st.booleans())
def test_random_item_tails(source: str, strict: bool) -> None:
    _check(source, strict)


@FUZZ
@given(depth=st.integers(0, 3000), op=st.sampled_from(("(", "-", "[", "{", "!", "if x then ", "2 ^ ", "x implies ")))
def test_deep_nesting(depth: int, op: str) -> None:
    close = {"(": ")", "[": "]", "{": "}"}.get(op, "")
    _check(f"model M {{\n  var v = {op * depth}1{close * depth}\n}}\n", False)


@pytest.mark.parametrize("op", ["(", "-", "[", "{", "if x then ", "2 ^ "])
def test_too_deep_nesting_is_a_syntax_error(op: str) -> None:
    """Found by fuzzing: 500 nested `-` overflowed the checker's recursion; the parser now refuses it."""
    close = {"(": ")", "[": "]", "{": "}"}.get(op, "")
    with pytest.raises(CompileError) as exc:
        compile_source(f"model M {{\n  var v = {op * 2000}1{close * 2000}\n}}\n", "deep.pel")
    assert exc.value.code == "E0005" and "nested too deeply" in exc.value.diagnostics[0].message


# ---------------------------------------------------------------------------------------------
# (b) random mutations of real models
# ---------------------------------------------------------------------------------------------


def _read(folder: Path) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.pel"))] if folder.is_dir() else []


SEEDS = _read(EXAMPLES)
CORPUS_MODELS = _read(CORPUS)


def _token_bounds(source: str) -> list[tuple[int, int]]:
    raws, _, _ = lex_raw(source)
    return [(r.lexpos, r.endpos) for r in raws] or [(0, len(source))]


def _mutate(source: str, data: st.DataObject) -> str:
    kind = data.draw(st.sampled_from(("del_tok", "dup_tok", "swap_tok", "del_line", "dup_line", "swap_line",
                                      "insert_char", "truncate", "several")))
    if kind == "several":
        for _ in range(data.draw(st.integers(2, 4))):
            source = _mutate(source, data)
        return source
    if kind.endswith("_tok"):
        bounds = _token_bounds(source)
        i = data.draw(st.integers(0, len(bounds) - 1))
        a, b = bounds[i]
        if kind == "del_tok":
            return source[:a] + source[b:]
        if kind == "dup_tok":
            return source[:b] + " " + source[a:b] + source[b:]
        j = data.draw(st.integers(0, len(bounds) - 1))
        (a, b), (c, d) = sorted((bounds[i], bounds[j]))
        if c < b:
            return source
        return source[:a] + source[c:d] + source[b:c] + source[a:b] + source[d:]
    if kind.endswith("_line"):
        lines = source.split("\n")
        i = data.draw(st.integers(0, len(lines) - 1))
        if kind == "del_line":
            del lines[i]
        elif kind == "dup_line":
            lines.insert(i, lines[i])
        else:
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    pos = data.draw(st.integers(0, len(source)))
    if kind == "truncate":
        return source[:pos]
    ch = data.draw(st.one_of(st.sampled_from("{}()[]\"'/*%$.,:;=<>!&|~^@#\\\n\t 0a_μ€"), st.characters()))
    return source[:pos] + ch + source[pos:]


@FUZZ
@given(data=st.data(), strict=st.booleans())
def test_mutated_example_models(data: st.DataObject, strict: bool) -> None:
    assert SEEDS, "examples/*.pel missing"
    source = data.draw(st.sampled_from(SEEDS))
    _check(_mutate(source, data), strict)


@pytest.mark.skipif(not CORPUS_MODELS, reason="../shared not present")
@FUZZ
@given(data=st.data(), strict=st.booleans())
def test_mutated_corpus_models(data: st.DataObject, strict: bool) -> None:
    source = data.draw(st.sampled_from(CORPUS_MODELS))
    _check(_mutate(source, data), strict)


def test_unmutated_seeds_compile_or_fail_cleanly() -> None:
    for source in SEEDS + CORPUS_MODELS:
        _check(source, False)
