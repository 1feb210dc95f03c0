"""PLY lexer for PEL: source text -> tokens with spans; collects every lexical error (E0001-E0004)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from ply import lex

from pel.diagnostics import CompileError, Diagnostic, Span

# ---------------------------------------------------------------------------------------------
# Token kinds
# ---------------------------------------------------------------------------------------------

# Reserved words with a grammar role (spec §0), mapped to their token type.
KEYWORDS: dict[str, str] = {
    "and": "AND", "or": "OR", "not": "NOT", "as": "AS", "constraint": "CONSTRAINT",
    "deterministic": "DETERMINISTIC", "monte_carlo": "MONTE_CARLO", "else": "ELSE", "emit": "EMIT",
    "enum": "ENUM", "event": "EVENT", "false": "FALSE", "true": "TRUE", "for": "FOR", "from": "FROM",
    "func": "FUNC", "if": "IF", "import": "IMPORT", "in": "IN", "let": "LET", "model": "MODEL",
    "mut": "MUT", "param": "PARAM", "per": "PER", "policy": "POLICY", "record": "RECORD",
    "return": "RETURN", "simulate": "SIMULATE", "then": "THEN", "var": "VAR", "when": "WHEN",
    "with": "WITH", "output": "OUTPUT",
}
# Reserved type names: one token type, the name is the value.
TYPE_KEYWORDS = frozenset(
    "Currency Capacity Count CohortSeries Distribution Duration Fraction Rate TimeSeries Scoped".split()
)
# Reserved words with no grammar role yet: using them as a name is a syntax error.
OTHER_RESERVED = frozenset(
    "async await bool break continue loop match module private public struct type where while yield".split()
)
# Contextual words: operators in some positions, plain names elsewhere.
CONTEXTUAL = {"implies": "IMPLIES", "changes": "CHANGES"}

OPERATORS: dict[str, str] = {
    "**": "POW", "^": "POW", "==": "EQ", "!=": "NE", "<=": "LE", ">=": "GE", "<": "LT", ">": "GT",
    "&&": "AND", "||": "OR", "!": "NOT", ":=": "ASSIGN", "=": "ASSIGN", "+=": "PLUSEQ",
    "-=": "MINUSEQ", "*=": "TIMESEQ", "/=": "DIVEQ", "->": "ARROW", "::": "DCOLON", "..": "DOTDOT",
    ".": "DOT", "~": "TILDE", "|": "PIPE", ",": "COMMA", ";": "SEMI", ":": "COLON", "(": "LPAREN",
    ")": "RPAREN", "[": "LBRACKET", "]": "RBRACKET", "{": "LBRACE", "}": "RBRACE", "+": "PLUS",
    "-": "MINUS", "*": "TIMES", "/": "DIVIDE", "%": "MOD",
}

tokens = tuple(
    sorted(
        {"NAME", "NUMBER", "MONEY", "PERCENT", "DURATION", "STRING", "TYPENAME", "RESERVED"}
        | set(KEYWORDS.values())
        | set(CONTEXTUAL.values())
        | set(OPERATORS.values())
    )
)

DURATION_UNITS: dict[str, str] = {
    "s": "s", "sec": "s", "m": "min", "min": "min", "h": "h", "hr": "h", "d": "d", "day": "d",
    "days": "d", "w": "w", "wk": "w", "mo": "mo", "q": "q", "y": "y", "yr": "y",
}
CURRENCY_SYMBOLS = "$€£¥"
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "0": "\0"}
_UNICODE_ESCAPE = re.compile(r"u\{([0-9A-Fa-f]{1,6})\}")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its type, its decoded value, where it was written, and whether it begins a line."""

    type: str
    value: object
    span: Span
    line_start: bool = False


class RawToken:
    """The mutable token object PLY's parser consumes (it sets attributes on tokens during recovery)."""

    __slots__ = ("type", "value", "lineno", "lexpos", "endpos", "span", "nl", "lexer")

    def __init__(self, type_: str, value: object, lexpos: int, endpos: int) -> None:
        self.type = type_
        self.value = value
        self.lexpos = lexpos
        self.endpos = endpos
        self.lineno = 0
        self.span: Span | None = None
        self.nl = False

    def __repr__(self) -> str:
        return f"RawToken({self.type}, {self.value!r}, {self.lexpos})"


# ---------------------------------------------------------------------------------------------
# Position bookkeeping
# ---------------------------------------------------------------------------------------------


class LineIndex:
    """Maps character offsets to 1-based (line, column) pairs."""

    def __init__(self, source: str, file: str) -> None:
        self.file = file
        self.starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def pos(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, offset)
        return line, offset - self.starts[line - 1] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.pos(start)
        end_line, end_col = self.pos(end)
        return Span(self.file, line, col, end_line, end_col)

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col - 1


# ---------------------------------------------------------------------------------------------
# Lexer rules (PLY). Function rules are tried in definition order.
# ---------------------------------------------------------------------------------------------

t_ignore = " \t\r\f\v"


def _error(lexer: lex.Lexer, code: str, message: str, start: int, end: int, hint: str | None = None) -> None:
    lexer.pel_errors.append((code, message, start, end, hint))


def t_newline(t: lex.LexToken) -> None:
    r"\n+"
    t.lexer.lineno += len(t.value)


def t_comment_block(t: lex.LexToken) -> None:
    r"/\*"
    data, pos, depth = t.lexer.lexdata, t.lexer.lexpos, 1
    while depth:
        nxt = re.compile(r"/\*|\*/").search(data, pos)
        if nxt is None:
            _error(t.lexer, "E0003", "unterminated block comment", t.lexpos, t.lexpos + 2,
                   "close it with */ (block comments nest)")
            pos = len(data)
            break
        depth += 1 if nxt.group() == "/*" else -1
        pos = nxt.end()
    t.lexer.lexpos = pos


def t_comment_line(t: lex.LexToken) -> None:
    r"//[^\n]*"


def t_STRING(t: lex.LexToken) -> lex.LexToken:
    r"\"\"\"|\"|'"
    data, start = t.lexer.lexdata, t.lexpos
    quote = t.value
    end = _string_end(data, t.lexer.lexpos, quote)
    if end < 0:
        stop = len(data) if quote == '"""' else _line_end(data, start)
        _error(t.lexer, "E0002", "unterminated string literal", start, stop,
               f"close the string with {quote}")
        t.lexer.lexpos = stop
        t.value = data[start + len(quote):stop]
        return t
    t.lexer.lexpos = end + len(quote)
    t.value = _decode_string(t.lexer, data[start + len(quote):end], start + len(quote))
    return t


def t_NUMBER(t: lex.LexToken) -> lex.LexToken:
    r"[$€£¥]?\d[\d_]*(\.\d[\d_]*)?([eE][+-]?\d+)?(?:[^\W\d]\w*)?"
    return _classify_number(t)


def t_NAME(t: lex.LexToken) -> lex.LexToken:
    r"[^\W\d]\w*"
    word = t.value
    if word in KEYWORDS:
        t.type = KEYWORDS[word]
    elif word in TYPE_KEYWORDS:
        t.type = "TYPENAME"
    elif word in OTHER_RESERVED:
        t.type = "RESERVED"
    elif word in CONTEXTUAL:
        t.type = CONTEXTUAL[word]
    return t


_OPERATOR_RE = "|".join(re.escape(op) for op in sorted(OPERATORS, key=len, reverse=True))


@lex.TOKEN(_OPERATOR_RE)
def t_OPERATOR(t: lex.LexToken) -> lex.LexToken:
    t.type = OPERATORS[t.value]
    return t


def t_error(t: lex.LexToken) -> None:
    ch = t.value[0]
    shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
    hint = "a currency symbol must be followed by a number, e.g. $1_000" if ch in CURRENCY_SYMBOLS else None
    _error(t.lexer, "E0001", f"invalid character '{shown}'", t.lexpos, t.lexpos + 1, hint)
    t.lexer.skip(1)


# ---------------------------------------------------------------------------------------------
# Literal helpers
# ---------------------------------------------------------------------------------------------


def _line_end(data: str, pos: int) -> int:
    nl = data.find("\n", pos)
    return len(data) if nl < 0 else nl


def _string_end(data: str, pos: int, quote: str) -> int:
    """Offset of the closing quote, or -1 (single-quoted strings end at the line's end)."""
    i, n = pos, len(data)
    while i < n:
        ch = data[i]
        if ch == "\\":
            i += 2
            continue
        if data.startswith(quote, i):
            return i
        if ch == "\n" and len(quote) == 1:
            return -1
        i += 1
    return -1


def _decode_string(lexer: lex.Lexer, body: str, offset: int) -> str:
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1]
        m = _UNICODE_ESCAPE.match(body, i + 1)
        if m:
            out.append(chr(min(int(m.group(1), 16), 0x10FFFF)))
            i = m.end()
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            _error(lexer, "E0002", f"unknown escape sequence '\\{nxt}' in string", offset + i, offset + i + 2,
                   r"valid escapes: \n \t \\ \" \u{XXXX}")
            out.append(nxt)
            i += 2
    return "".join(out)


_NUMBER_PARTS = re.compile(r"([$€£¥]?)(\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)(.*)", re.S)


def _classify_number(t: lex.LexToken) -> lex.LexToken:
    """Turn the matched text into NUMBER, MONEY, PERCENT or DURATION (or report E0004)."""
    text = t.value
    symbol, digits, suffix = _NUMBER_PARTS.match(text).groups()
    value = float(digits.replace("_", ""))
    if symbol:
        t.type, t.value = "MONEY", (value, symbol, text)
        if suffix:
            _bad_number(t, text, "a currency amount takes no suffix")
        return t
    if suffix:
        unit = DURATION_UNITS.get(suffix)
        if unit is None:
            _bad_number(t, text, "duration units are s, min, h, d, w, mo, q, y")
            t.type, t.value = "NUMBER", (value, text, False)
            return t
        t.type, t.value = "DURATION", (value, unit, text)
        return t
    data, end = t.lexer.lexdata, t.lexer.lexpos
    if end < len(data) and data[end] == "%" and not _starts_operand(data, end + 1):
        t.lexer.lexpos = end + 1
        t.type, t.value = "PERCENT", (value / 100.0, text + "%")
        return t
    integral = not any(c in digits for c in ".eE")
    t.value = (value, text, integral)
    return t


def _starts_operand(data: str, pos: int) -> bool:
    if pos >= len(data):
        return False
    ch = data[pos]
    return ch.isalnum() or ch in "_($€£¥"


def _bad_number(t: lex.LexToken, text: str, hint: str) -> None:
    _error(t.lexer, "E0004", f"invalid numeric literal '{text}'", t.lexpos, t.lexpos + len(text), hint)


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------

_LEXER: lex.Lexer | None = None


def _base_lexer() -> lex.Lexer:
    global _LEXER
    if _LEXER is None:
        import sys

        _LEXER = lex.lex(module=sys.modules[__name__], optimize=False, errorlog=lex.NullLogger())
    return _LEXER


def strip_bom(source: str) -> str:
    return source[1:] if source.startswith("\ufeff") else source


def lex_raw(source: str, file: str = "<string>") -> tuple[list[RawToken], list[Diagnostic], LineIndex]:
    """Tokens for the parser (with spans and the begins-a-line flag), the lexical errors, the line index."""
    source = strip_bom(source)
    lexer = _base_lexer().clone()
    lexer.pel_errors = []
    lexer.input(source)
    index = LineIndex(source, file)
    out: list[RawToken] = []
    starts, nstarts, file = index.starts, len(index.starts), index.file
    prev_line, line = 0, 1  # line: 1-based line of the current position (tokens come in order)
    for tok in iter(lexer.token, None):
        start, end = tok.lexpos, lexer.lexpos
        while line < nstarts and starts[line] <= start:
            line += 1
        end_line = line
        while end_line < nstarts and starts[end_line] <= end:
            end_line += 1
        raw = RawToken(tok.type, tok.value, start, end)
        raw.span = Span(file, line, start - starts[line - 1] + 1, end_line, end - starts[end_line - 1] + 1)
        raw.lineno = line
        raw.nl = line != prev_line
        prev_line = end_line
        out.append(raw)
    diags = [Diagnostic("error", code, msg, index.span(s, e), hint) for code, msg, s, e, hint in lexer.pel_errors]
    return out, diags, index


def tokenize(source: str, file: str = "<string>") -> list[Token]:
    """All tokens of `source`; raises CompileError carrying every lexical error (E0001-E0004)."""
    raws, diags, _ = lex_raw(source, file)
    if diags:
        raise CompileError(diags, source)
    return [Token(r.type, r.value, r.span, r.nl) for r in raws]
