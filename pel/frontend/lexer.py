"""Hand-written PEL scanner: source text -> tokens with positions; collects every lexical error (E0001-E0004)."""

from __future__ import annotations

import bisect
import math
import re
from operator import itemgetter

from pel.diagnostics import CompileError, Diagnostic, Span
from pel.lang.units import LITERAL_SYMBOLS, SUFFIX_SPELLINGS

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

DURATION_UNITS: dict[str, str] = SUFFIX_SPELLINGS  # the language table's (pel.lang.units)
CURRENCY_SYMBOLS = LITERAL_SYMBOLS
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "0": "\0"}
_UNICODE_ESCAPE = re.compile(r"u\{([0-9A-Fa-f]{1,6})\}")
_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: no character of its own, not UTF-8 text

# Every word's token type (keywords, type names, reserved and contextual words); other words are NAME.
_WORD_TYPES: dict[str, str] = {
    **dict.fromkeys(CONTEXTUAL), **CONTEXTUAL, **dict.fromkeys(OTHER_RESERVED, "RESERVED"),
    **dict.fromkeys(TYPE_KEYWORDS, "TYPENAME"), **KEYWORDS,
}


class Token(tuple):
    """One token: its type, its decoded value, where it was written, and whether it begins a line.

    Immutable (a tuple); `span` is built on first access from the position the scanner recorded, so that
    tokenizing a large file does not pay for thousands of Span objects nobody looks at.
    """

    __slots__ = ()

    def __new__(cls, type: str, value: object, span: Span, line_start: bool = False) -> Token:  # noqa: A002
        return tuple.__new__(cls, (type, value, span, line_start))

    @classmethod
    def _at(cls, type_: str, value: object, position: tuple, line_start: bool) -> Token:
        """A token whose span is given as (file, line, col, end_line, end_col), made into a Span on access."""
        return tuple.__new__(cls, (type_, value, position, line_start))

    type = property(itemgetter(0), doc="the token type, e.g. NAME, NUMBER, LBRACE")
    value = property(itemgetter(1), doc="the decoded value (see dump.py for the literal forms)")
    line_start = property(itemgetter(3), doc="whether the token is the first of its line")

    @property
    def span(self) -> Span:
        where = tuple.__getitem__(self, 2)
        return where if type(where) is Span else Span(*where)

    def _key(self) -> tuple:
        return (self.type, self.value, self.span, self.line_start)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Token(type={self.type!r}, value={self.value!r}, span={self.span!r}, line_start={self.line_start!r})"


_SPAN_SETTERS = tuple(getattr(Span, name).__set__ for name in Span.__slots__)


def new_span(file: str, line: int, col: int, end_line: int, end_col: int) -> Span:
    """`Span(...)` built by setting its slots directly: the frozen dataclass `__init__` is about twice as slow,
    and the parser makes a span for nearly every node."""
    span = object.__new__(Span)
    set_file, set_line, set_col, set_end_line, set_end_col = _SPAN_SETTERS
    set_file(span, file)
    set_line(span, line)
    set_col(span, col)
    set_end_line(span, end_line)
    set_end_col(span, end_col)
    return span


class RawToken:
    """The mutable token object PLY's parser consumes (it sets attributes on tokens during recovery).

    It carries its position as plain integers (`line`/`col`/`end_line`/`end_col`, 1-based, end exclusive)
    so that it can stand in for a Span when a node's span is computed; `span` builds the Span on demand.
    """

    __slots__ = ("type", "value", "lexpos", "endpos", "lineno", "col", "end_line", "end_col", "nl", "file",
                 "lexer")

    def __init__(self, type_: str, value: object, lexpos: int, endpos: int, line: int = 1, col: int = 1,
                 end_line: int = 1, end_col: int = 1, nl: bool = False, file: str = "<string>") -> None:
        self.type = type_
        self.value = value
        self.lexpos = lexpos
        self.endpos = endpos
        self.lineno = line
        self.col = col
        self.end_line = end_line
        self.end_col = end_col
        self.nl = nl
        self.file = file

    @property
    def line(self) -> int:
        return self.lineno

    @property
    def span(self) -> Span:
        return new_span(self.file, self.lineno, self.col, self.end_line, self.end_col)

    def __repr__(self) -> str:
        return f"RawToken({self.type}, {self.value!r}, {self.lexpos})"


# ---------------------------------------------------------------------------------------------
# Position bookkeeping
# ---------------------------------------------------------------------------------------------


class LineIndex:
    """Maps character offsets to 1-based (line, column) pairs; the line table is built on first use.

    `first_line`/`first_col` place offset 0 elsewhere than 1:1 (an expression cut out of a larger file).
    """

    def __init__(self, source: str, file: str, first_line: int = 1, first_col: int = 1) -> None:
        self.file = file
        self.source = source
        self.first_line = first_line
        self.first_col = first_col
        self._starts: list[int] | None = None

    @property
    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = [0] + [m.end() for m in re.finditer("\n", self.source)]
        return self._starts

    def pos(self, offset: int) -> tuple[int, int]:
        starts = self.starts
        line = bisect.bisect_right(starts, offset)
        col = offset - starts[line - 1] + 1
        if line == 1:
            col += self.first_col - 1
        return line + self.first_line - 1, col

    def span(self, start: int, end: int) -> Span:
        line, col = self.pos(start)
        end_line, end_col = self.pos(end)
        return Span(self.file, line, col, end_line, end_col)

    def offset(self, line: int, col: int) -> int:
        line -= self.first_line - 1
        if line == 1:
            col -= self.first_col - 1
        starts = self.starts
        line = min(max(line, 1), len(starts))
        return starts[line - 1] + col - 1


# ---------------------------------------------------------------------------------------------
# The scanner: one master regex; finditer skips blanks, every other character starts some group.
# ---------------------------------------------------------------------------------------------

# Two-character operators first, then the one-character ones as a class (same tokens as OPERATORS).
_OPERATOR_RE = "|".join(re.escape(op) for op in sorted(OPERATORS, key=len, reverse=True) if len(op) > 1) + (
    "|[" + "".join(re.escape(op) for op in OPERATORS if len(op) == 1) + "]"
)
# Blanks before a token are eaten by the (possessive) prefix, so every match starts where the last one ended
# and finditer never has to search; `eof` matches the blanks at the very end.
_MASTER = re.compile(
    r"[ \t\r\f\v]*+(?:"
    r"(?P<name>[^\W\d]\w*)"
    r"|(?P<nl>\n(?:[ \t\r\f\v]*\n)*)"  # newlines (and the blank lines after them)
    r"|(?P<number>(?P<num>[$€£¥]?\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?)(?P<sfx>[^\W\d]\w*)?)"
    r"|(?P<lc>//[^\n]*)"
    r"|(?P<bc>/\*)"
    rf"|(?P<op>{_OPERATOR_RE})"
    r'|(?P<tq>"""[^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*""")'  # a complete triple-quoted string
    r'|(?P<open3>""")'  # an unterminated one
    r'|(?P<dq>"[^"\\\n]*(?:\\[\s\S][^"\\\n]*)*")'
    r"|(?P<sq>'[^'\\\n]*(?:\\[\s\S][^'\\\n]*)*')"
    r"|(?P<open>[\"'])"  # an unterminated single-line string
    r"|(?P<eof>\Z)"
    r"|(?P<err>.)"
    r")",
    re.S,
)
_COMMENT_MARK = re.compile(r"/\*|\*/")


class _Scan:
    """The state of one scan: the text, the tokens produced so far, the lexical errors."""

    __slots__ = ("data", "file", "errors", "tokens", "line", "line_start", "first_col", "first_line")

    def __init__(self, data: str, file: str, first_line: int, first_col: int) -> None:
        self.data = data
        self.file = file
        self.errors: list[tuple[str, str, int, int, str | None]] = []
        self.tokens: list[RawToken] = []
        self.first_line = first_line
        self.first_col = first_col

    def error(self, code: str, message: str, start: int, end: int, hint: str | None = None) -> None:
        self.errors.append((code, message, start, end, hint))


def _scan(sc: _Scan) -> None:
    """Tokenize sc.data into sc.tokens. Line/column are tracked as the scan goes: no per-token lookups."""
    data, file = sc.data, sc.file
    append = sc.tokens.append
    new_token = object.__new__
    word_types = _WORD_TYPES
    ops = OPERATORS
    n = len(data)
    line = sc.first_line
    ls = -(sc.first_col - 1)  # offset of the current line's first character (shifted for the first line)
    prev_line = line - 1
    pos = 0
    while pos < n:
        jumped = False
        for m in _MASTER.finditer(data, pos):
            kind = m.lastgroup
            if kind == "name" or kind == "op":  # most tokens: built inline, cheaper than calling __init__
                start, end = m.span(kind)
                text = data[start:end]
                tok = new_token(RawToken)
                tok.type = word_types.get(text, "NAME") if kind == "name" else ops[text]
                tok.value = text
                tok.lexpos = start
                tok.endpos = end
                tok.lineno = tok.end_line = line
                tok.col = start - ls + 1
                tok.end_col = end - ls + 1
                tok.nl = line != prev_line
                tok.file = file
                append(tok)
                prev_line = line
            elif kind == "nl":
                start, end = m.span(kind)
                line += 1 if end - start == 1 else data.count("\n", start, end)
                ls = end
            elif kind == "number":
                start, mend = m.span(kind)
                type_, value, end = _number(sc, m, start, mend)
                append(RawToken(type_, value, start, end, line, start - ls + 1, line, end - ls + 1,
                                line != prev_line, file))
                prev_line = line
                if end != mend:  # a percent sign was taken: resume after it
                    pos, jumped = end, True
                    break
            elif kind == "lc" or kind == "eof":
                continue
            elif kind == "bc":
                start = m.start(kind)
                end = _block_comment_end(sc, start)
                nls = data.count("\n", start, end)
                if nls:
                    line += nls
                    ls = data.rfind("\n", start, end) + 1
                pos, jumped = end, True
                break
            elif kind == "err":
                start, end = m.span(kind)
                ch = data[start]
                shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
                hint = "a currency symbol must be followed by a number, e.g. $1_000" if ch in CURRENCY_SYMBOLS else None
                sc.error("E0001", f"invalid character '{shown}'", start, end, hint)
            else:  # a string: dq, sq, tq complete; open, open3 unterminated
                start, end = m.span(kind)
                unterminated = kind == "open" or kind == "open3"
                if unterminated:
                    quote = data[start:end]
                    end = n if kind == "open3" else _line_end(data, start)
                    sc.error("E0002", "unterminated string literal", start, end, f"close the string with {quote}")
                    value = data[start + len(quote):end]
                else:
                    q = 3 if kind == "tq" else 1
                    body = data[start + q:end - q]
                    value = body if "\\" not in body else _decode_string(sc, body, start + q)
                lone = _SURROGATE.search(data, start, end)
                if lone is not None:  # only text given as a Python str can hold one (files are decoded UTF-8)
                    sc.error("E0001", f"invalid character U+{ord(lone.group()):04X} in string (a lone surrogate)",
                             lone.start(), lone.end())
                nls = data.count("\n", start, end)
                end_line, end_ls = line, ls
                if nls:
                    end_line, end_ls = line + nls, data.rfind("\n", start, end) + 1
                append(RawToken("STRING", value, start, end, line, start - ls + 1, end_line, end - end_ls + 1,
                                line != prev_line, file))
                prev_line = line = end_line
                ls = end_ls
                if unterminated:
                    pos, jumped = end, True
                    break
        if not jumped:
            return


def _block_comment_end(sc: _Scan, start: int) -> int:
    """Offset just after the `*/` closing the (nested) block comment opened at `start`."""
    data, pos, depth = sc.data, start + 2, 1
    while depth:
        nxt = _COMMENT_MARK.search(data, pos)
        if nxt is None:
            sc.error("E0003", "unterminated block comment", start, start + 2, "close it with */ (block comments nest)")
            return len(data)
        depth += 1 if nxt.group() == "/*" else -1
        pos = nxt.end()
    return pos


# ---------------------------------------------------------------------------------------------
# Literal helpers
# ---------------------------------------------------------------------------------------------


def _line_end(data: str, pos: int) -> int:
    nl = data.find("\n", pos)
    return len(data) if nl < 0 else nl


def _decode_string(sc: _Scan, body: str, offset: int) -> str:
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
            code = int(m.group(1), 16)
            if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                sc.error("E0002", f"'\\{m.group()}' is not a Unicode character", offset + i, offset + m.end(),
                         "code points are 0..10FFFF, except the surrogates D800..DFFF")
                code = 0xFFFD
            out.append(chr(code))
            i = m.end()
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            sc.error("E0002", f"unknown escape sequence '\\{nxt}' in string", offset + i, offset + i + 2,
                     r"valid escapes: \n \t \\ \" \u{XXXX}")
            out.append(nxt)
            i += 2
    return "".join(out)


_OPERAND_START = frozenset("_($€£¥")


def _number(sc: _Scan, m: re.Match, start: int, end: int) -> tuple[str, object, int]:
    """NUMBER, MONEY, PERCENT or DURATION (or E0004) for a numeric match; returns (type, value, end)."""
    digits = m.group("num")
    suffix = m.group("sfx")
    text = sc.data[start:end]
    symbol = ""
    if digits[0] in CURRENCY_SYMBOLS:
        symbol, digits = digits[0], digits[1:]
    value = float(digits.replace("_", "")) if "_" in digits else float(digits)
    if value == math.inf:
        _bad_number(sc, text, start, "a number is a 64-bit float: at most about 1.8e308")
        value = 0.0
    if symbol:
        if suffix:
            _bad_number(sc, text, start, "a currency amount takes no suffix")
        return "MONEY", (value, symbol, text), end
    if suffix:
        unit = DURATION_UNITS.get(suffix)
        if unit is None:
            _bad_number(sc, text, start, "duration units are s, min, h, d, w, mo, q, y")
            return "NUMBER", (value, text, False), end
        return "DURATION", (value, unit, text), end
    data = sc.data
    if end < len(data) and data[end] == "%" and not _starts_operand(data, end + 1):
        return "PERCENT", (value / 100.0, text + "%"), end + 1
    integral = "." not in digits and "e" not in digits and "E" not in digits
    return "NUMBER", (value, text, integral), end


def _starts_operand(data: str, pos: int) -> bool:
    if pos >= len(data):
        return False
    ch = data[pos]
    return ch.isalnum() or ch in _OPERAND_START


def _bad_number(sc: _Scan, text: str, start: int, hint: str) -> None:
    sc.error("E0004", f"invalid numeric literal '{text}'", start, start + len(text), hint)


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def strip_bom(source: str) -> str:
    return source[1:] if source.startswith("\ufeff") else source


def lex_raw(
    source: str, file: str = "<string>", first_line: int = 1, first_col: int = 1
) -> tuple[list[RawToken], list[Diagnostic], LineIndex]:
    """Tokens for the parser (with positions and the begins-a-line flag), the lexical errors, the line index.

    `first_line`/`first_col` say where the text's first character stands (1:1 for a whole file).
    """
    source = strip_bom(source)
    sc = _Scan(source, file, first_line, first_col)
    _scan(sc)
    index = LineIndex(source, file, first_line, first_col)
    diags = [Diagnostic("error", code, msg, index.span(s, e), hint) for code, msg, s, e, hint in sc.errors]
    return sc.tokens, diags, index


def tokenize(source: str, file: str = "<string>") -> list[Token]:
    """All tokens of `source`; raises CompileError carrying every lexical error (E0001-E0004)."""
    raws, diags, _ = lex_raw(source, file)
    if diags:
        raise CompileError(diags, source)
    at = Token._at
    return [at(r.type, r.value, (file, r.lineno, r.col, r.end_line, r.end_col), r.nl) for r in raws]
