"""`pel fmt`: one canonical layout for a model, computed from the token stream so that only whitespace changes.

The formatter never adds, drops or reorders a token, and keeps every line break where it was written (PEL's
parser reads line starts: a `(`, `[` or `x[…] =` that begins a line starts something new). It re-indents by
bracket depth (two spaces; a line that continues an expression one level more), sets the spacing between the
tokens of a line, keeps comments, collapses blank lines to at most one and drops them just inside brackets.
It re-lexes its own output and refuses (E1202) when the tokens or comments would differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from pel.frontend.lexer import RawToken, lex_raw, strip_bom
from pel.tools.comments import gap_comments
from pel.tools.errors import tool_error

INDENT = "  "
OPENERS = {"LBRACE": "RBRACE", "LPAREN": "RPAREN", "LBRACKET": "RBRACKET"}
CLOSERS = frozenset(OPENERS.values())
# Tokens after which an operator is binary (`a - b`); after anything else it is unary (`= -b`, `~Normal`).
OPERAND_END = frozenset({"NAME", "NUMBER", "MONEY", "PERCENT", "DURATION", "STRING", "TYPENAME", "TRUE", "FALSE",
                         "RPAREN", "RBRACKET", "RBRACE"})
UNARY_SYMBOLS = frozenset({"-", "+", "~", "!"})
NO_SPACE_AFTER = frozenset({"LPAREN", "LBRACKET", "DOT", "DCOLON", "DOTDOT"})
NO_SPACE_BEFORE = frozenset({"RPAREN", "RBRACKET", "COMMA", "SEMI", "COLON", "DOT", "DCOLON", "DOTDOT"})
CALLABLE = frozenset({"NAME", "TYPENAME", "RPAREN", "RBRACKET"})
BINARY = frozenset({"PLUS", "MINUS", "TIMES", "DIVIDE", "MOD", "POW", "EQ", "NE", "LE", "GE", "LT", "GT", "AND",
                    "OR", "IMPLIES", "ASSIGN", "PLUSEQ", "MINUSEQ", "TIMESEQ", "DIVEQ", "TILDE", "ARROW", "PIPE"})
# A line continues the previous one (one more indent) when it starts with one of these, or when the previous
# line ended with a binary operator or a colon.
CONTINUES_LINE = frozenset({"WITH", "THEN", "ELSE", "TIMES", "DIVIDE", "MOD", "POW", "AND", "OR", "IMPLIES", "EQ",
                            "NE", "LE", "GE", "LT", "GT", "DOT", "ARROW", "PIPE"})


@dataclass
class Piece:
    """A token or a comment, with the source text as written and how it stood in the source."""

    kind: str  # "token", "line_comment" or "block_comment"
    type: str  # the token type; "COMMENT" for comments
    text: str
    newlines: int  # line breaks between the previous piece and this one
    glued: bool  # no whitespace at all between the previous piece and this one
    role: str = ""  # set by the layout: "unary", "generic_open", "generic_close", "tight"


def format_source(source: str, file: str = "<string>") -> str:
    """The canonical layout of `source`; raises ToolError when it does not tokenize."""
    text = strip_bom(source)
    raws = _tokens(text, file)
    out = _Layout().run(pieces(text, raws))
    _same_tokens(text, out, file)
    return out


def _tokens(text: str, file: str) -> list[RawToken]:
    raws, diags, _ = lex_raw(text, file)
    if diags:
        first = diags[0]
        raise tool_error("E1201", f"cannot format {file}: it does not tokenize ({first.header()})", file,
                         hint="fix the lexical error first (`pel check` lists them all)")
    return raws


def pieces(text: str, raws: list[RawToken]) -> list[Piece]:
    """Tokens and comments in source order, each with the line breaks and blanks written before it."""
    out: list[Piece] = []
    pos = 0
    for tok in [*raws, None]:
        end = tok.lexpos if tok is not None else len(text)
        comments, newlines = gap_comments(text[pos:end])
        for kind, comment, nl in comments:
            out.append(Piece(kind, "COMMENT", comment, nl, False))
        if tok is not None:
            out.append(Piece("token", tok.type, text[tok.lexpos:tok.endpos], newlines, end == pos))
            pos = tok.endpos
    return out


class _Layout:
    """Lays the pieces out line by line: indentation from the bracket stack, spacing from neighbouring pieces."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line: list[str] = []
        self.stack: list[tuple[str, int]] = []  # open brackets: (type, indent level of the line that opened it)
        self.level = 0
        self.angles = 0  # open `<` of a generic type on this line (`Currency<USD>`)
        self.prev: Piece | None = None  # the previous piece
        self.prev_token: Piece | None = None

    def run(self, items: list[Piece]) -> str:
        for p in items:
            if self.prev is None or p.newlines:
                self.new_line(p)
            else:
                self.line.append(self.space(self.prev, p) + p.text)
            if p.kind == "token":
                self.track(p)
                self.prev_token = p
            self.prev = p
        self.flush()
        return "\n".join(self.lines) + "\n" if self.lines else ""

    def new_line(self, p: Piece) -> None:
        last = self.prev_token
        self.flush()
        opened = bool(self.lines) and self.lines[-1].rstrip().endswith(("{", "(", "["))
        if p.newlines > 1 and self.lines and not opened and p.type not in CLOSERS:
            self.lines.append("")
        self.angles = 0
        if p.type in CLOSERS:
            self.level = self.stack[-1][1] if self.stack else 0
        else:
            self.level = (self.stack[-1][1] + 1 if self.stack else 0) + self.continues(last, p)
        self.classify(p, at_line_start=True)
        self.line = [INDENT * self.level + p.text]

    def continues(self, last: Piece | None, p: Piece) -> int:
        if p.kind != "token" or last is None:
            return 0
        if p.type in CONTINUES_LINE or (p.type in ("PLUS", "MINUS") and last.type in OPERAND_END):
            return 1
        ends = last.type in BINARY or last.type == "COLON"
        return int(ends and last.role not in ("unary", "generic_close", "generic_open"))

    def flush(self) -> None:
        if self.line:
            self.lines.append("".join(self.line).rstrip())
            self.line = []

    def track(self, p: Piece) -> None:
        if p.type in OPENERS:
            self.stack.append((p.type, self.level))
        elif p.type in CLOSERS and self.stack:
            self.stack.pop()

    def classify(self, p: Piece, at_line_start: bool = False) -> None:
        """Decide the role of an operator from its neighbours (unary, a generic's angle, tight in an index)."""
        prev = self.prev_token
        if p.kind != "token":
            return
        if p.text in UNARY_SYMBOLS and p.type in ("MINUS", "PLUS", "TILDE", "NOT"):
            if p.text == "!" or prev is None or (prev.type not in OPERAND_END and prev.role != "generic_close"):
                p.role = "unary"
                return
        if (p.type == "LT" and p.glued and not at_line_start and prev is not None
                and prev.type in ("TYPENAME", "NAME") and prev.text[:1].isupper()):
            p.role = "generic_open"
            self.angles += 1
        elif p.type == "GT" and self.angles and not at_line_start:
            p.role = "generic_close"
            self.angles -= 1
        elif p.type in ("PLUS", "MINUS") and self.inside("LBRACKET"):
            p.role = "tight"
        elif p.type == "ASSIGN" and self.inside("LPAREN"):
            p.role = "tight"  # a named argument: `Normal(μ=$120, σ=$10)`

    def inside(self, bracket: str) -> bool:
        return bool(self.stack) and self.stack[-1][0] == bracket

    def space(self, prev: Piece, p: Piece) -> str:
        """The whitespace between two pieces of one line."""
        self.classify(p)
        if p.kind == "line_comment":
            return "  "
        if p.kind == "block_comment" or prev.kind != "token":
            return " "
        if prev.type in NO_SPACE_AFTER or p.type in NO_SPACE_BEFORE:
            return ""
        if prev.role in ("unary", "generic_open", "tight") or p.role in ("generic_open", "generic_close", "tight"):
            return ""
        if p.type in ("LPAREN", "LBRACKET") and (prev.type in CALLABLE or prev.role == "generic_close"):
            return ""
        if prev.type == "LBRACE" and p.type == "RBRACE":
            return ""
        return " "


def _same_tokens(before: str, after: str, file: str) -> None:
    """Refuse (E1202) output whose tokens, line starts or comments differ from the input's."""
    def shape(text: str) -> tuple[list, list]:
        raws, diags, _ = lex_raw(text, file)
        toks = [(r.type, text[r.lexpos:r.endpos], r.nl) for r in raws]
        comments = [(p.kind, p.text.rstrip()) for p in pieces(text, raws) if p.kind != "token"]
        return toks, comments + [("lexical errors", len(diags))]

    if shape(before) != shape(after):
        raise tool_error("E1202", f"formatting {file} would change its tokens; the file is left as it is", file,
                         hint="this is a bug in `pel fmt`: please report it with the file")
