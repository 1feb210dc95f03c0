"""Helpers of the PEL parser's rule actions: spans, node construction, syntax-error reporting and recovery."""

from __future__ import annotations

import dataclasses

from pel.diagnostics import Diagnostic, Span
from pel.frontend import ast
from pel.frontend.lexer import KEYWORDS, OPERATORS, LineIndex, RawToken, new_span

# ---------------------------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------------------------


class Word:
    """A name (possibly dotted) produced by a grammar rule, with where it was written."""

    __slots__ = ("span", "value")

    def __init__(self, value: str, span: Span) -> None:
        self.value = value
        self.span = span


def _value_span(value: object, last: bool) -> Span | None:
    span = getattr(value, "span", None)
    if isinstance(span, Span):
        return span
    if isinstance(value, (list, tuple)):
        for item in reversed(value) if last else value:
            found = _value_span(item, last)
            if found is not None:
                return found
    return None


def _sym_span(p, k: int, last: bool):
    """The position of symbol k: a Span, or a RawToken (which has the same position attributes)."""
    sym = p.slice[k]
    if type(sym) is RawToken:
        return sym
    value = sym.value
    span = getattr(value, "span", None)
    return span if type(span) is Span else _value_span(value, last)


def span(p, i: int, j: int) -> Span:
    """The span from the first to the last symbol (among p[i..j]) that has one."""
    syms = p.slice
    # fast path: the end symbols are tokens or nodes with a span of their own (nearly always)
    first = syms[i]
    if type(first) is not RawToken:
        first = first.value
        if type(first) is not RawToken:  # a rule that passes a token on (`type_word : NAME`) counts as one
            first = getattr(first, "span", None)
            if type(first) is not Span:
                first = _first_span(p, i, j)
    if j == i:
        last = first
    else:
        last = syms[j]
        if type(last) is not RawToken:
            last = last.value
            if type(last) is not RawToken:
                last = getattr(last, "span", None)
                if type(last) is not Span:
                    last = _last_span(p, i, j)
    if first is None or last is None:
        return p.lexer.here()
    line = first.lineno if type(first) is RawToken else first.line
    return new_span(first.file, line, first.col, last.end_line, last.end_col)


def _first_span(p, i: int, j: int):
    first = _sym_span(p, i, False)
    k = i
    while first is None and k < j:
        k += 1
        first = _sym_span(p, k, False)
    return first


def _last_span(p, i: int, j: int):
    last = _sym_span(p, j, True)
    k = j
    while last is None and k > i:
        k -= 1
        last = _sym_span(p, k, True)
    return last


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def respan(node: ast.Node, where: Span) -> ast.Node:
    """A copy of `node` with another span (e.g. a parenthesized expression); dataclasses.replace is 10x slower."""
    cls = type(node)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES.setdefault(cls, tuple(f.name for f in dataclasses.fields(cls) if f.name != "span"))
    copy = object.__new__(cls)
    for name in names:
        object.__setattr__(copy, name, getattr(node, name))
    object.__setattr__(copy, "span", where)
    return copy


def append(items: list | None, item: object) -> list:
    items = items if items is not None else []
    if item is not None:
        items.append(item)
    return items


def stmts(action: ast.Stmt | tuple) -> tuple:
    return action if isinstance(action, tuple) else (action,)


# ---------------------------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------------------------


def model(p, name: str, items: list | None) -> ast.Model:
    items = items or []
    imports = tuple(i for i in items if isinstance(i, ast.ImportDecl))
    body = tuple(i for i in items if not isinstance(i, ast.ImportDecl))
    return ast.Model(span(p, 1, 5), name, body, imports, p.slice[2].span)


def model_with_imports(m: ast.Model, imports: list | None) -> ast.Model:
    if not imports:
        return m
    return dataclasses.replace(m, imports=(*imports, *m.imports))


def type_named(name: str, where: Span, args: tuple = ()) -> ast.TypeExpr:
    return ast.TypeExpr(where, "Array" if name in ("List", "Array") else name, args)


def type_per(p, base: ast.TypeExpr, word: str) -> ast.TypeExpr:
    return ast.TypeExpr(span(p, 1, 3), base.name, base.args, word)


def param(p, name: str, typ, value_pair, prov) -> ast.ParamDecl:
    value, form = None, None
    if value_pair is not None:
        op, value = value_pair
        form = "~" if op == "~" else ("=~" if isinstance(value, ast.Dist) else None)
    return ast.ParamDecl(span(p, 1, 5), name, typ, value, prov, form, p.slice[2].span)


def scenario(p, word: str, name: str, entries: list) -> ast.ScenarioDecl:
    """`scenario NAME { … }` (`scenario` is a plain name everywhere else)."""
    if word != "scenario":
        p.lexer.error(p.slice[1].span, f"unexpected {word!r}: a model item starts with param, var, scenario, "
                                       "constraint, policy, …", "did you mean `scenario`?")
    return ast.ScenarioDecl(span(p, 1, len(p) - 1), name, tuple(entries), p.slice[2].span)


def var(p, name: str, typ, value, mutable: bool, prov=None, index=None, guard=None) -> ast.VarDecl:
    return ast.VarDecl(span(p, 1, len(p) - 1), name, typ, value, bool(mutable), index, guard, prov,
                       p.slice[3].span)


def provenance(where: Span, fields: list | None) -> ast.Provenance:
    return ast.Provenance(where, tuple(ast.ProvField(f.span, f.name, f.value) for f in fields or ()))


def index_pattern(p, expr: ast.Expr) -> ast.IndexPattern:
    """`x[0]`, `x[t]`, `x[t+1]`, `x[t-1]` on the left of a rule.

    Any other index (`x[3.14]`, `x["a"]`, `x[2*t]`) is kept as written in `expr`: it is a type or shape
    problem of the index, which the checker reports with the index's span.
    """
    where = expr.span
    if isinstance(expr, ast.Number) and expr.integral:
        return ast.IndexPattern(where, int(expr.value))
    if isinstance(expr, ast.Name):
        return ast.IndexPattern(where, None, 0, expr.id)
    if (isinstance(expr, ast.Binary) and expr.op in "+-" and isinstance(expr.left, ast.Name)
            and isinstance(expr.right, ast.Number) and expr.right.integral):
        offset = int(expr.right.value)
        return ast.IndexPattern(where, None, offset if expr.op == "+" else -offset, expr.left.id)
    return ast.IndexPattern(where, None, expr=expr)


# ---------------------------------------------------------------------------------------------
# Constraints
# ---------------------------------------------------------------------------------------------


def scope_all(p, word: str, tail: tuple) -> ast.Scope:
    """`for all t in [a..b]`, `for all t > 0`, `for all t`, `for all employee` (after a condition)."""
    if word != "all":
        p.lexer.error(p.slice[2].span, f"expected 'all' after 'for' in a constraint scope, found '{word}'")
    where = span(p, 1, 3)
    kind, var_name, expr, _ = tail
    if kind == "in":
        rng = range_of(expr)
        if var_name == "t" and rng is not None:
            return ast.Scope(where, "range", rng.start, rng.end)
        return ast.Scope(where, "entity", text=p.lexer.text(where))
    if isinstance(expr, ast.Name):
        return ast.Scope(where, "all" if expr.id == "t" else "entity", text=p.lexer.text(where))
    return ast.Scope(where, "cond", cond=expr)


def scope_cond(expr: ast.Expr) -> ast.Scope:
    """`for: t >= 6` inside a constraint block (a range for `for: [0..12]`)."""
    rng = range_of(expr)
    if rng is not None:
        return ast.Scope(expr.span, "range", rng.start, rng.end)
    if isinstance(expr, ast.Name) and expr.id in ("all", "t"):
        return ast.Scope(expr.span, "all", text=expr.id)
    return ast.Scope(expr.span, "cond", cond=expr)


def scope_words(p, first: str, second: str) -> ast.Scope:
    """`for: all timesteps` (and other two-word scopes, kept as written)."""
    where = span(p, 3, 4)
    kind = "all" if first == "all" and second in ("timesteps", "t", "steps") else "entity"
    return ast.Scope(where, kind, text=f"{first} {second}")


def clause(p, cond: ast.Expr, withs: list) -> ast.ConstraintClause:
    """`cond with severity(fatal) with message("…")` (tutorial form)."""
    severity = message = sev_span = msg_span = None
    extras = []
    for name, args, where in withs:
        value = args[0] if args else None
        if name == "severity" and value is not None:
            severity, sev_span = _word(value), value.span
        elif name == "message" and isinstance(value, ast.String):
            message, msg_span = value.value, value.span
        else:
            extras.append(ast.ProvField(where, name, value if isinstance(value, ast.Expr) else ast.Bool(where, True)))
    end = withs[-1][2] if withs else cond.span
    c = ast.ConstraintClause(cond.span.merge(end), cond, severity, message, sev_span, msg_span)
    p.lexer.clause_extras[id(c)] = extras
    return c


def _word(value: ast.Node) -> str:
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, ast.String):
        return value.value
    if isinstance(value, ast.KwArg):
        return _word(value.value)
    return type(value).__name__


def constraint(p, name: str, cond: ast.Expr | None, scope: ast.Scope | None, entries: list | None):
    """Both constraint forms; fields may come in any order, clauses may repeat."""
    fields: dict[str, tuple[ast.Expr, Span]] = {}
    clauses: list[ast.ConstraintClause] = []
    extras: list[ast.ProvField] = []
    for kind, key, value, where in entries or ():
        if kind == "clause":
            clauses.append(value)
            extras.extend(p.lexer.clause_extras.pop(id(value), ()))
        elif kind == "for":
            scope = value
        elif key in ("severity", "message", "condition"):
            fields[key] = (value, where)
        else:
            extras.append(ast.ProvField(where, key, value))
    severity, message = fields.get("severity"), fields.get("message")
    if "condition" in fields:
        cond = fields["condition"][0]
    if cond is not None:
        clauses.insert(0, ast.ConstraintClause(cond.span, cond, None, None))
    clauses = [_with_block_fields(c, severity, message) for c in clauses]
    where = span(p, 1, len(p) - 1)
    if not clauses:
        p.lexer.error(where, f"constraint '{name}' has no condition",
                      "write `constraint name: condition { severity: fatal }`")
    return ast.ConstraintDecl(where, name, tuple(clauses), scope, entries is not None, tuple(extras))


def _with_block_fields(c: ast.ConstraintClause, severity, message) -> ast.ConstraintClause:
    changes = {}
    if c.severity is None and severity is not None:
        changes.update(severity=_word(severity[0]), severity_span=severity[0].span)
    if c.message is None and message is not None:
        text = message[0].value if isinstance(message[0], ast.String) else None
        changes.update(message=text, message_span=message[0].span)
    return dataclasses.replace(c, **changes) if changes else c


# ---------------------------------------------------------------------------------------------
# Policies, statements, simulate
# ---------------------------------------------------------------------------------------------


def policy(p, name: str, entries: list) -> ast.PolicyDecl:
    where = span(p, 1, 5)
    trigger, actions, metadata, has_then = None, [], [], False
    for kind, value in entries:
        if kind == "when":
            trigger = value
        elif kind == "then":
            actions.extend(stmts(value))
            has_then = True
        elif value.key == "metadata" and isinstance(value.value, ast.RecordLit):
            metadata.extend(ast.ProvField(f.span, f.name, f.value) for f in value.value.fields)
        else:
            metadata.append(value)
    if trigger is None:
        p.lexer.error(where, f"policy '{name}' has no `when:` trigger")
        trigger = ast.Bool(where, False)
    if not has_then:  # `then: { }` is accepted (the checker warns that the policy does nothing)
        p.lexer.error(where, f"policy '{name}' has no `then:` action")
    return ast.PolicyDecl(where, name, trigger, tuple(actions), tuple(metadata))


def emit(p, args: list) -> ast.EmitStmt:
    where = span(p, 1, 5)
    positional = [a for a in args if not isinstance(a, ast.KwArg)]
    if len(positional) != 1 or not isinstance(positional[0], ast.String):
        p.lexer.error(where, "emit needs the event name as its first argument: emit event(\"name\", key: value)")
        return ast.EmitStmt(where, "")
    return ast.EmitStmt(where, positional[0].value, tuple(a for a in args if isinstance(a, ast.KwArg)))


def action_block(where: Span, actions: list | None) -> tuple:
    out: list = []
    for a in actions or ():
        out.extend(stmts(a))
    return tuple(out)


def for_stmt(p, name: str, iterable: ast.Expr, body: tuple) -> ast.ForStmt:
    rng = range_of(iterable)
    if rng is None:
        p.lexer.error(iterable.span, "a for loop iterates over a range a..b")
        rng = ast.RangeExpr(iterable.span, iterable, iterable)
    return ast.ForStmt(span(p, 1, 5), name, rng.start, rng.end, body)


def simulate(p, mode: str | None, clauses: list) -> ast.SimulateDecl:
    where = span(p, 1, 3)
    opts: dict[str, ast.Expr] = {}
    for key, value in clauses:
        if key not in ("for", "runs", "seed"):
            p.lexer.error(value.span, f"unknown simulate option '{key}'", "use `with runs N`, `with seed N`, `for 36mo`")
        opts[key] = value
    return ast.SimulateDecl(where, mode, opts.get("for"), opts.get("runs"), opts.get("seed"))


# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------

_CANONICAL_OPS = {"and": "&&", "or": "||", "**": "^"}
_RELATIONAL = frozenset(("<", "<=", ">", ">="))


def binary(p, op: str, left: ast.Expr, right: ast.Expr) -> ast.Binary:
    return ast.Binary(span(p, 1, 3), _CANONICAL_OPS.get(op, op), left, right)


def compare(p, op: str, left: ast.Expr, right: ast.Expr) -> ast.Binary:
    """`a <= x <= b` (unparenthesized chain) becomes `a <= x && x <= b`."""
    where = span(p, 1, 3)
    if isinstance(left, ast.Binary) and left.op in _RELATIONAL and id(left) not in p.lexer.parens:
        tail = ast.Binary(left.right.span.merge(right.span), op, left.right, right)
        return ast.Binary(where, "&&", left, tail)
    return ast.Binary(where, op, left, right)


def parenthesized(p, expr: ast.Expr) -> ast.Expr:
    p.lexer.parens.add(id(expr))
    return expr


def lambda_params(p) -> list:
    if len(p) == 4:
        return [ast.FuncParam(span(p, 1, 3), p[1], p[3])]
    return [*p[1], ast.FuncParam(span(p, 3, 5), p[3], p[5])]


def range_of(expr: ast.Expr) -> ast.RangeExpr | None:
    if isinstance(expr, ast.RangeExpr):
        return expr
    return None


def array(where: Span, elements: list) -> ast.Expr:
    """`[a, b]`; `[a..b]` is the range itself."""
    if len(elements) == 1 and isinstance(elements[0], ast.RangeExpr):
        return ast.RangeExpr(where, elements[0].start, elements[0].end)
    return ast.ArrayLit(where, tuple(elements))


def _split_args(args: list) -> tuple[tuple, tuple]:
    return (tuple(a for a in args if not isinstance(a, ast.KwArg)),
            tuple(a for a in args if isinstance(a, ast.KwArg)))


def call(where: Span, func: ast.Expr, args: list) -> ast.Call:
    positional, named = _split_args(args)
    return ast.Call(where, func, positional, named)


def dist(where: Span, name: str, args: list) -> ast.Dist:
    """A distribution; inner distribution calls (Mixture components written without `~`) become Dist too."""
    positional, named = _split_args([_as_dist(a) for a in args])
    return ast.Dist(where, name, positional, named)


def _as_dist(node: ast.Node) -> ast.Node:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id[:1].isupper():
        return ast.Dist(node.span, node.func.id, tuple(_as_dist(a) for a in node.args),
                        tuple(_as_dist(k) for k in node.kwargs))
    if isinstance(node, ast.ArrayLit):
        return ast.ArrayLit(node.span, tuple(_as_dist(e) for e in node.elements))
    if isinstance(node, ast.KwArg):
        return ast.KwArg(node.span, node.name, _as_dist(node.value))
    return node


def comprehension(p, func: ast.Expr, body: ast.Expr, var_name: str, iterable: ast.Expr, cond) -> ast.Expr:
    where = span(p, 1, 9)
    rng = range_of(iterable)
    if not isinstance(func, ast.Name) or rng is None:
        p.lexer.error(where, "a comprehension is `f(expr for k in a..b [if cond])` with a function name and a range")
        rng = rng or ast.RangeExpr(iterable.span, iterable, iterable)
    name = func.id if isinstance(func, ast.Name) else "?"
    return ast.Comprehension(where, name, body, var_name, rng.start, rng.end, cond)


# ---------------------------------------------------------------------------------------------
# The token stream fed to PLY: line-start marks, brace depth, syntax errors and recovery
# ---------------------------------------------------------------------------------------------

ITEM_KEYWORDS = frozenset(("PARAM", "VAR", "CONSTRAINT", "POLICY", "FUNC", "SIMULATE", "OUTPUT", "RECORD", "ENUM"))
_EXPR_STARTERS = frozenset((
    "NUMBER", "MONEY", "PERCENT", "DURATION", "STRING", "TRUE", "FALSE", "NAME", "CHANGES", "LPAREN",
    "NL_LPAREN", "LBRACKET", "NL_LBRACKET", "TILDE", "LBRACE", "MINUS", "PLUS", "NOT", "IF",
))
_BINARY_OPS = frozenset((
    "PLUS", "MINUS", "TIMES", "DIVIDE", "MOD", "POW", "EQ", "NE", "LT", "LE", "GT", "GE", "AND", "OR",
    "IMPLIES", "DOTDOT", "AS", "CHANGES", "DOT", "DCOLON", "LPAREN", "LBRACKET",
))
_DESCRIPTIONS = {
    "NAME": "a name", "NUMBER": "a number", "MONEY": "a currency amount", "PERCENT": "a percentage",
    "DURATION": "a duration", "STRING": "a string", "TYPENAME": "a type name", "$end": "end of input",
    "NL_LPAREN": "'('", "NL_LBRACKET": "'['", "NL_FROM": "'from'",
}
_SPELLING = {v: f"'{k}'" for k, v in KEYWORDS.items()}
_SPELLING.update({v: f"'{k}'" for k, v in sorted(OPERATORS.items(), key=lambda kv: -len(kv[0]))
                  if v not in ("AND", "OR", "NOT", "ASSIGN", "POW")})
_SPELLING.update({"AND": "'&&'", "OR": "'||'", "NOT": "'!'", "ASSIGN": "'='", "POW": "'^'",
                  "IMPLIES": "'implies'", "CHANGES": "'changes'"})
_SKIP_EXPECTED = frozenset(("error", "EXPR_START", "RESERVED"))


def describe_token(tok: RawToken | None) -> str:
    if tok is None:
        return "end of input"
    kind = tok.type if tok.type != "ERRSKIP" else "?"
    if kind in ("NAME", "TYPENAME"):
        return f"name '{tok.value}'"
    if kind == "RESERVED":
        return f"reserved word '{tok.value}'"
    if kind == "STRING":
        text = str(tok.value)
        return f'string "{text[:30]}{"…" if len(text) > 30 else ""}"'
    if kind in ("NUMBER", "MONEY", "PERCENT", "DURATION"):
        return f"{_DESCRIPTIONS[kind].split(' ', 1)[1]} {tok.value[-1] if kind != 'NUMBER' else tok.value[1]}"
    if kind in ("NL_LPAREN", "NL_LBRACKET", "NL_FROM"):
        return _DESCRIPTIONS[kind]
    return _SPELLING.get(kind, f"'{tok.value}'")


def describe_expected(types: list[str]) -> str:
    kinds = set(types) - _SKIP_EXPECTED
    parts: list[str] = []
    if {"NUMBER", "NAME", "STRING"} <= kinds:
        parts.append("an expression")
        kinds -= _EXPR_STARTERS
    if {"PARAM", "VAR", "CONSTRAINT"} <= kinds:
        parts.append("a model item (param, var, constraint, policy, …)")
        kinds -= ITEM_KEYWORDS | {"IMPORT", "FROM", "NL_FROM", "SEMI", "NAME"}
    if {"PLUS", "TIMES", "EQ"} <= kinds:
        parts.append("an operator")
        kinds -= _BINARY_OPS
    if "NL_FROM" in kinds and "FROM" in kinds:
        kinds.discard("NL_FROM")
    if "NL_LPAREN" in kinds and "LPAREN" in kinds:
        kinds.discard("NL_LPAREN")
    if "NL_LBRACKET" in kinds and "LBRACKET" in kinds:
        kinds.discard("NL_LBRACKET")
    names = sorted(_DESCRIPTIONS.get(k) or _SPELLING.get(k, k) for k in kinds)
    shown = parts + names[: 8 - len(parts)]
    if len(parts) + len(names) > len(shown):
        shown.append("…")
    if not shown:
        return "something else"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


class TokenStream:
    """Feeds tokens to PLY and holds the per-parse state the rule actions need."""

    def __init__(self, raws: list[RawToken], index: LineIndex, source: str, diags: list[Diagnostic]) -> None:
        for tok in raws:
            if tok.nl and tok.type in ("LPAREN", "LBRACKET", "FROM"):
                tok.type = "NL_" + tok.type
        self.raws = raws
        self.pos = 0
        self.index = index
        self.source = source
        self.diags = diags
        self.parens: set[int] = set()
        self.clause_extras: dict[int, list] = {}
        self.depth = 0
        self.body_depth: int | None = None
        self.model_closed = False
        self.last_state: tuple[int, int | None, bool] = (0, None, False)

    # --- feeding -------------------------------------------------------------------------------

    def token(self) -> RawToken | None:
        if self.pos >= len(self.raws):
            return None
        tok = self.raws[self.pos]
        self.last_state = (self.depth, self.body_depth, self.model_closed)
        self._consume(tok)
        return tok

    def _consume(self, tok: RawToken) -> None:
        self.pos += 1
        if tok.type == "LBRACE":
            self.depth += 1
            if self.body_depth is None and not self.model_closed and self._after_model_header():
                self.body_depth = self.depth
        elif tok.type == "RBRACE":
            self.depth -= 1
            if self.body_depth is not None and self.depth < self.body_depth:
                self.body_depth, self.model_closed = None, True

    def _after_model_header(self) -> bool:
        i = self.pos - 1
        return i >= 2 and self.raws[i - 1].type == "NAME" and self.raws[i - 2].type == "MODEL"

    # --- helpers for actions -------------------------------------------------------------------

    def here(self) -> Span:
        tok = self.raws[min(self.pos, len(self.raws)) - 1] if self.raws else None
        return tok.span if tok is not None else Span(self.index.file, 1, 1, 1, 1)

    def text(self, where: Span) -> str:
        start = self.index.offset(where.line, where.col)
        return self.source[start:self.index.offset(where.end_line, where.end_col)]

    def error(self, where: Span, message: str, hint: str | None = None) -> None:
        self.diags.append(Diagnostic("error", "E0005", message, where, hint))

    # --- syntax errors and recovery ------------------------------------------------------------

    def syntax_error(self, tok: RawToken | None, parser) -> None:
        expected = describe_expected(list(parser.action[parser.state].keys()))
        where = tok.span if tok is not None else self._end_span()
        hint = None
        if tok is not None and tok.type in ("RESERVED", "TYPENAME"):
            hint = f"'{tok.value}' is a reserved word and cannot be used as a name"
        self.error(where, f"unexpected {describe_token(tok)}, expected {expected}", hint)
        if tok is None:
            return
        if not self._is_sync(self.pos - 1, *self.last_state):
            tok.type = "ERRSKIP"
            while self.pos < len(self.raws) and not self._is_sync(self.pos, self.depth, self.body_depth,
                                                                  self.model_closed):
                self._consume(self.raws[self.pos])

    def _is_sync(self, i: int, depth: int, body_depth: int | None, closed: bool) -> bool:
        """Is token i a place to resume: the next item of the model body, its `}`, or the model itself?"""
        tok = self.raws[i]
        if body_depth is not None:
            if depth != body_depth:
                return False
            if tok.type == "RBRACE" or (tok.nl and tok.type in ITEM_KEYWORDS):
                return True
            nxt = self.raws[i + 1].type if i + 1 < len(self.raws) else None
            return tok.nl and tok.type == "NAME" and nxt in ("LBRACKET", "ASSIGN")
        return not closed and depth == 0 and tok.type in ("MODEL", "IMPORT", "NL_FROM")

    def _end_span(self) -> Span:
        if not self.raws:
            return Span(self.index.file, 1, 1, 1, 1)
        s = self.raws[-1].span
        return Span(s.file, s.end_line, s.end_col, s.end_line, s.end_col)
