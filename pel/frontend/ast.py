"""AST of a PEL program: frozen dataclasses, each with a span, walked uniformly through `children()`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

from pel.diagnostics import Span


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """Base of every AST node. Identity equality: two nodes are equal only if they are the same node."""

    span: Span  # where the node came from; synthesized nodes copy their origin's span

    def children(self) -> Iterator[Node]:
        """Direct child nodes, in field order (tuples are flattened)."""
        for f in fields(self):
            if f.name == "span":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Node):
                        yield item

    def walk(self) -> Iterator[Node]:
        """This node and all its descendants, depth first, pre-order."""
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))


def left_spine(e: Binary, ops: frozenset[str] | set[str] | tuple[str, ...] | None = None) -> tuple[Expr, list[Binary]]:
    """A left-nested chain `((a op b) op c) ...` as its leftmost operand and its nodes bottom-up, found without
    recursion: a flat sum of ten thousand terms is ten thousand levels deep, and every pass walks chains with
    this so that none recurses in the length of an operator chain. With `ops`, the chain stops at a node whose
    operator is not one of them (that node is then the leftmost operand)."""
    nodes: list[Binary] = []
    x: Expr = e
    while isinstance(x, Binary) and (ops is None or x.op in ops):
        nodes.append(x)
        x = x.left
    nodes.reverse()
    return x, nodes


# ---------------------------------------------------------------------------------------------
# Types as written
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class TypeExpr(Node):
    """`Currency<USD>`, `Rate per Month`, `TimeSeries<Currency<USD>>`, `Count<Customer> per Month`, `[Fraction]`.

    A bare identifier argument (`USD`, `Customer`) is a TypeExpr with no args.
    `[T]` and `List<T>` are written as name "Array" with one arg.
    """

    name: str  # "Currency", "Rate", "TimeSeries", "Fraction", "USD", ...
    args: tuple[TypeExpr, ...] = ()  # angle-bracket arguments
    per: str | None = None  # the word after `per` ("Month", "Customer"), if any


# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Expr(Node):
    """Base of expressions."""


@dataclass(frozen=True, slots=True, eq=False)
class Number(Expr):
    value: float  # underscores removed; `1e-3` -> 0.001
    text: str  # as written
    integral: bool = False  # written without a decimal point or exponent


@dataclass(frozen=True, slots=True, eq=False)
class Money(Expr):
    """`$1_250.50`: a currency literal (the sign is a separate unary minus)."""

    value: float
    symbol: str  # "$", "€", "£", "¥"
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Percent(Expr):
    """`25.5%`: a Fraction with value already divided by 100 (0.255)."""

    value: float
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class DurationLit(Expr):
    """`30d`, `1.5h`, `6mo`, `2y`: amount and canonical unit."""

    amount: float
    unit: str  # canonical: "s", "min", "h", "d", "w", "mo", "q", "y"
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class String(Expr):
    value: str  # escapes already decoded


@dataclass(frozen=True, slots=True, eq=False)
class Bool(Expr):
    value: bool


@dataclass(frozen=True, slots=True, eq=False)
class Name(Expr):
    """An identifier reference (including `t`, `t_max`, and Greek argument names where they appear)."""

    id: str


@dataclass(frozen=True, slots=True, eq=False)
class Member(Expr):
    """`econ.ltv_simple`, `plan.Premium`, `Tier::Gold` (both `.` and `::`)."""

    base: Expr
    attr: str


@dataclass(frozen=True, slots=True, eq=False)
class Index(Expr):
    """`x[t]`, `x[t-1]`, `prices[0]`, `matrix[i][j]` (nested)."""

    base: Expr
    index: Expr


@dataclass(frozen=True, slots=True, eq=False)
class KwArg(Node):
    """A named argument `name = value` or `name: value` (calls, distributions, emit, record literals)."""

    name: str
    value: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Call(Expr):
    """`f(a, b, x: 1)`; `func` is a Name or a Member (dotted stdlib call)."""

    func: Expr
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Binary(Expr):
    """Binary operator, spelled canonically: + - * / % ^ == != < <= > >= && || implies."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Unary(Expr):
    """Unary operator: "-", "+", "!"."""

    op: str
    operand: Expr


@dataclass(frozen=True, slots=True, eq=False)
class IfExpr(Expr):
    """`if c then a else b`; `else_` is None for the constraint form `if c then cond` (true when c is false)."""

    cond: Expr
    then: Expr
    else_: Expr | None


@dataclass(frozen=True, slots=True, eq=False)
class Dist(Expr):
    """A distribution `Normal(μ=…, σ=…)` / `~Normal(…)`: name as written, positional and named arguments.

    Appears as a param's value (declared with `~` or `= ~`) and inline in formulas (drawn each step).
    """

    dist: str  # "Normal", "LogNormal", "Beta", "Uniform", "Triangular", "Pareto", "Mixture", ...
    args: tuple[Expr, ...]
    kwargs: tuple[KwArg, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Comprehension(Expr):
    """`sum(e for k in a..b if c)`, `min(x[t] for t in [0..24])`."""

    func: str  # sum, min, max, avg, mean, count, ...
    body: Expr
    var: str
    start: Expr
    end: Expr  # inclusive
    cond: Expr | None = None


@dataclass(frozen=True, slots=True, eq=False)
class RangeExpr(Expr):
    """`0..10` or `[0..12]` (inclusive both ends)."""

    start: Expr
    end: Expr


@dataclass(frozen=True, slots=True, eq=False)
class ArrayLit(Expr):
    elements: tuple[Expr, ...]


@dataclass(frozen=True, slots=True, eq=False)
class TupleLit(Expr):
    """`("name", 0.5)` — used in `correlated_with`."""

    elements: tuple[Expr, ...]


@dataclass(frozen=True, slots=True, eq=False)
class RecordLit(Expr):
    """`{ param: "x", coefficient: 0.7 }`."""

    fields: tuple[KwArg, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Lambda(Expr):
    """`(x: T) -> expr`."""

    params: tuple[FuncParam, ...]
    body: Expr


@dataclass(frozen=True, slots=True, eq=False)
class BlockExpr(Expr):
    """`{ stmt* }` used as an expression; its value is the first `return` executed."""

    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Cast(Expr):
    """`x as Currency<EUR> with exchangeRate(1.08)`."""

    value: Expr
    type: TypeExpr
    with_: Expr | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Changes(Expr):
    """`price changes` — event trigger: true at t >= 1 when the value differs from the previous step."""

    operand: Expr


# ---------------------------------------------------------------------------------------------
# Statements (function bodies, block expressions, policy actions)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Stmt(Node):
    """Base of statements."""


@dataclass(frozen=True, slots=True, eq=False)
class LetStmt(Stmt):
    """`var [mut] x [: T] = e` / `let x = e` inside a body."""

    name: str
    type: TypeExpr | None
    value: Expr | None
    mutable: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class AssignStmt(Stmt):
    """`x = e`, `x[t] = e`, `x *= e`, `x += e`, `x -= e`, `x /= e`, `a.b = e`."""

    target: Expr  # Name, Index or Member
    op: str  # "=", "+=", "-=", "*=", "/="
    value: Expr


@dataclass(frozen=True, slots=True, eq=False)
class IfStmt(Stmt):
    """`if c { … } else if … else { … }` and the policy form `if c then action else action`."""

    cond: Expr
    then: tuple[Stmt, ...]
    else_: tuple[Stmt, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class ForStmt(Stmt):
    """`for k in a..b { … }` (inclusive)."""

    var: str
    start: Expr
    end: Expr
    body: tuple[Stmt, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ReturnStmt(Stmt):
    value: Expr | None


@dataclass(frozen=True, slots=True, eq=False)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(frozen=True, slots=True, eq=False)
class EmitStmt(Stmt):
    """`emit event("name", key: value, …)`."""

    event: str
    args: tuple[KwArg, ...] = ()


# ---------------------------------------------------------------------------------------------
# Declarations (model items)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Item(Node):
    """Base of model items."""


@dataclass(frozen=True, slots=True, eq=False)
class ProvField(Node):
    """One `key: value` entry of a provenance block (value is any expression: string, number, list…)."""

    key: str
    value: Expr


@dataclass(frozen=True, slots=True, eq=False)
class Provenance(Node):
    """The `{ source: …, method: …, confidence: … }` block after a param (or var); fields in written order."""

    fields: tuple[ProvField, ...]

    def get(self, key: str) -> ProvField | None:
        for f in self.fields:
            if f.key == key:
                return f
        return None


@dataclass(frozen=True, slots=True, eq=False)
class ParamDecl(Item):
    """`param x: T = e {prov}`, `param x: T ~ D(…) {prov}`, `param x: T = ~D(…) {prov}`."""

    name: str
    type: TypeExpr | None  # None only when the annotation is missing (an error the checker reports)
    value: Expr | None  # a Dist for the `~` forms
    provenance: Provenance | None
    dist_form: str | None = None  # "~" or "=~" when declared as a distribution, else None
    name_span: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class IndexPattern(Node):
    """The index on the left of a time-series rule: a literal step (`x[5]`) or `t + offset` (`x[t+1]`)."""

    literal: int | None  # set for `x[0]`, `x[5]`
    offset: int = 0  # for `t`, `t+1`, `t-1`; ignored when literal is set
    var: str = "t"  # the index variable name as written
    expr: Expr | None = None  # the index as written when it is none of these forms (the checker reports it)


@dataclass(frozen=True, slots=True, eq=False)
class VarDecl(Item):
    """`var [mut] x [: T] [= e] [{prov}]`; the inline rule forms `var x[t] = e [for t > 0]` set `index`."""

    name: str
    type: TypeExpr | None
    value: Expr | None
    mutable: bool = False
    index: IndexPattern | None = None
    guard: Expr | None = None  # the `for t > 0` suffix of the formal-semantics form
    provenance: Provenance | None = None
    name_span: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SeriesRule(Item):
    """A bare definition after a declaration: `x[0] = e`, `x[t+1] = e`, `x[t] = e`, or unindexed `x = e`."""

    name: str
    index: IndexPattern | None  # None for the unindexed `x = e`
    value: Expr
    guard: Expr | None = None
    provenance: Provenance | None = None  # a `{…}` block written after the rule (tutorial 05 does this)


@dataclass(frozen=True, slots=True, eq=False)
class FuncParam(Node):
    name: str
    type: TypeExpr | None


@dataclass(frozen=True, slots=True, eq=False)
class FuncDecl(Item):
    """`func f(a: T, b: U) -> R { statements }` or `func f(a: T) -> R = expr`."""

    name: str
    params: tuple[FuncParam, ...]
    returns: TypeExpr | None
    body: tuple[Stmt, ...]  # an expression body is one ReturnStmt


@dataclass(frozen=True, slots=True, eq=False)
class Scope(Node):
    """A constraint scope: `for all t in [0..36]`, `for: all timesteps`, `for: t >= 6`, `for all t > 0`."""

    kind: str  # "all" | "range" | "cond" | "entity"
    start: Expr | None = None  # range start (inclusive)
    end: Expr | None = None  # range end (inclusive)
    cond: Expr | None = None  # for kind "cond": a Boolean expression of t
    text: str = ""  # entity scopes and other forms kept as written


@dataclass(frozen=True, slots=True, eq=False)
class ConstraintClause(Node):
    """One checked condition of a constraint with its own severity and message."""

    condition: Expr
    severity: str | None  # as written ("fatal", "warning", "error", …); None when not given
    message: str | None  # the template, `{expr}` parts not yet parsed
    severity_span: Span | None = None
    message_span: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ConstraintDecl(Item):
    """Both forms: `constraint n: e { severity: …, message: …, for: … }` and
    `constraint n { e with severity(…) with message("…") }` (several clauses allowed), and the
    block form `constraint n { condition: e  severity: …  message: … }`."""

    name: str
    clauses: tuple[ConstraintClause, ...]
    scope: Scope | None = None
    has_block: bool = True  # False for the bare `constraint n: e` form (defaults to fatal)
    extras: tuple[ProvField, ...] = ()  # other fields (`slack: true`, `subordinate_to: x`)


@dataclass(frozen=True, slots=True, eq=False)
class PolicyDecl(Item):
    """`policy n { when: trigger, then: action(s) [, metadata: {...}] }`."""

    name: str
    trigger: Expr
    actions: tuple[Stmt, ...]  # AssignStmt / EmitStmt / IfStmt
    metadata: tuple[ProvField, ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioEntry(Node):
    """`name = expr` or `name ~ D(…)` in a scenario: a parameter's value under the scenario."""

    name: str
    value: Expr  # a Dist for the `~` form
    name_span: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioDecl(Item):
    """`scenario bear { growth = 0.02 / 1mo, churn ~ Beta(α = 5, β = 95) }`: named parameter values."""

    name: str
    entries: tuple[ScenarioEntry, ...]
    name_span: Span | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SimulateDecl(Item):
    """`simulate [deterministic|monte_carlo] [with seed N] [with runs N] [for 36mo]`."""

    mode: str | None
    horizon: Expr | None  # usually a DurationLit
    runs: Expr | None = None
    seed: Expr | None = None


@dataclass(frozen=True, slots=True, eq=False)
class OutputItem(Node):
    name: str
    value: Expr | None = None  # `output total = expr` form


@dataclass(frozen=True, slots=True, eq=False)
class OutputDecl(Item):
    """`output [a, b]`, `output a, b`, or `output name = expr`."""

    items: tuple[OutputItem, ...]


@dataclass(frozen=True, slots=True, eq=False)
class RecordDecl(Item):
    name: str
    fields: tuple[FuncParam, ...]


@dataclass(frozen=True, slots=True, eq=False)
class EnumDecl(Item):
    name: str
    variants: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ImportDecl(Node):
    """`import stdlib.unit_econ as econ`, `import "lib/helpers.pel" as h`, `from stdlib.x import f` (resolved
    by pel.frontend.imports, kept in the IR as a record)."""

    module: str  # dotted module name, or the path as written when is_file
    alias: str | None = None
    names: tuple[str, ...] = ()
    is_file: bool = False  # `import "path.pel"`: module is a file path


@dataclass(frozen=True, slots=True, eq=False)
class Model(Node):
    name: str
    items: tuple[Item, ...]
    imports: tuple[ImportDecl, ...] = ()
    name_span: Span | None = None
    # a call of one of these names picks among its functions by the types of its arguments (the checker does):
    # stdlib overloads of one name and arity, e.g. effective_headcount(ramped, ramping, progress) and
    # effective_headcount(total, avg_tenure, ramp_time)
    overloads: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def of(self, cls: type) -> list:
        """Items of one class, in declaration order."""
        return [i for i in self.items if isinstance(i, cls)]


# ---------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------


def shown_name(name: str) -> str:
    """A function's name as a model calls it: a bare stdlib call's copy `stdlib.hiring.ramp_curve/3` is
    `ramp_curve`, an aliased one `econ.ltv_simple` stays as written (an overload's `/3` or `/3#2` dropped)."""
    name = name.split("/", 1)[0]
    return name.split(".", 2)[2] if name.startswith("stdlib.") and name.count(".") >= 2 else name


def source_text(e: Expr | None) -> str:
    """The right-hand side as written (reconstructed from the AST)."""
    if e is None:
        return ""
    return _text(e)


def _text(e: Node) -> str:  # noqa: C901
    if isinstance(e, Number | Money | Percent | DurationLit):
        return e.text if not isinstance(e, Money) else e.symbol + e.text.lstrip(e.symbol)
    if isinstance(e, String):
        return '"' + e.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(e, Bool):
        return "true" if e.value else "false"
    if isinstance(e, Name):
        return e.id
    if isinstance(e, Member):
        return f"{_text(e.base)}.{e.attr}"
    if isinstance(e, Index):
        return f"{_text(e.base)}[{_text(e.index)}]"
    if isinstance(e, Binary):  # ((a + b) + c): the same text as the recursion gave, built in a loop
        first, nodes = left_spine(e)
        pieces = ["(" * (len(nodes) - 1), _wrap(first)]
        for k, node in enumerate(nodes):
            pieces.append(f"{') ' if k else ' '}{node.op} {_wrap(node.right)}")
        return "".join(pieces)
    if isinstance(e, Unary):
        return f"{e.op}{_wrap(e.operand)}"
    if isinstance(e, Dist | Call):
        head = e.dist if isinstance(e, Dist) else _text(e.func)
        args = [_text(a) for a in e.args] + [f"{k.name}={_text(k.value)}" for k in e.kwargs]
        return f"{head}({', '.join(args)})"
    if isinstance(e, IfExpr):
        tail = f" else {_text(e.else_)}" if e.else_ is not None else ""
        return f"if {_text(e.cond)} then {_text(e.then)}{tail}"
    if isinstance(e, ArrayLit):
        return "[" + ", ".join(_text(x) for x in e.elements) + "]"
    if isinstance(e, RangeExpr):
        return f"{_text(e.start)}..{_text(e.end)}"
    if isinstance(e, Comprehension):
        cond = f" if {_text(e.cond)}" if e.cond is not None else ""
        return f"{e.func}({_text(e.body)} for {e.var} in {_text(e.start)}..{_text(e.end)}{cond})"
    return type(e).__name__


def _wrap(e: Node) -> str:
    return f"({_text(e)})" if isinstance(e, Binary | IfExpr) else _text(e)
