"""Time checks on the AST (LANGUAGE.md §3): causality, initial values, same-step cycles, horizon, evaluation order.

Every index is read relative to the step its rule defines: in `x[t+k] = e`, a read `y[t+c]` is `c - k` steps
from that step (0 = same step, > 0 = future: E0300). Unindexed references to a series mean "at t". Same-step
reads are the edges of the dependency graph; lagged reads create none. Codes: E0300 non-causal reference,
E0301 literal index outside 0..T_max, E0303 recurrence without initial value, E0304 same-step cycle,
E0305 variable declared but never defined.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from pel.diagnostics import DiagnosticBag, Span
from pel.frontend import ast
from pel.ir.affine import Affine, combine

HORIZON_NAMES = frozenset({"t_max", "time_horizon"})
# builtins whose bare-name argument is the whole series (no same-step read of it)
WHOLE_SERIES_FUNCS = frozenset({"npv", "irr", "sum", "avg", "mean", "length", "len", "count", "lag"})
_FAR_PAST = -(10**9)
_AFFINE_DEPTH = 64  # an index of the form t ± c ± c ... is affine up to this nesting


@dataclass
class TimeInfo:
    """What the lowering needs from the time analysis."""

    order: list[str] = field(default_factory=list)  # variables in same-step dependency order
    lookahead: dict[str, int] = field(default_factory=dict)  # constraint name -> max k of x[t+k] read
    rules: dict[str, list[ast.Node]] = field(default_factory=dict)  # var -> defining VarDecl/SeriesRule nodes


@dataclass(frozen=True)
class _Frame:
    """Where an expression is evaluated.

    mode "rule": defines `owner` at step t+`shift` (per-step) or at step `absolute`;
    "step": a constraint or policy at step t (future reads allowed up to `lookahead`; None = any);
    "free": outputs and functions (only horizon checks).
    """

    mode: str
    owner: str = ""
    shift: int = 0
    absolute: int | None = None
    lookahead: int | None = 0
    locals: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # local -> relative range

    def with_local(self, name: str, span: tuple[int, int] | None) -> _Frame:
        return _Frame(
            self.mode, self.owner, self.shift, self.absolute, self.lookahead, {**self.locals, name: span}
        )


def analyze(model: ast.Model, bag: DiagnosticBag, horizon: int) -> TimeInfo:
    """Check the time structure of the model, report into `bag`, and compute the evaluation order."""
    return _Analyzer(model, bag, horizon).run()


_LITERALS = frozenset({ast.Number, ast.Money, ast.Percent, ast.DurationLit, ast.String, ast.Bool})


class _Analyzer:
    def __init__(self, model: ast.Model, bag: DiagnosticBag, horizon: int) -> None:
        self.model = model
        self.bag = bag
        self.horizon = horizon
        self.decls = model.of(ast.VarDecl)
        self.var_index: dict[str, int] = {}  # first declaration wins (duplicates are the checker's E0601)
        for i, v in enumerate(self.decls):
            self.var_index.setdefault(v.name, i)
        self.edges: dict[str, dict[str, Span]] = {v.name: {} for v in self.decls}
        self.max_future = 0  # largest future offset read in the constraint being analyzed

    def run(self) -> TimeInfo:
        info = TimeInfo()
        info.rules = self.collect_rules()
        for name, nodes in info.rules.items():
            for node in nodes:
                self.rule(name, node)
            self.check_initial(name, nodes)
        for decl in self.decls:
            if not info.rules[decl.name] and self.decls[self.var_index[decl.name]] is decl:
                self.bag.error(
                    "E0305",
                    f"variable '{decl.name}' is declared but never defined",
                    decl.name_span or decl.span,
                    hint=f"define it (`{decl.name}[t] = …` or `var {decl.name} = …`) or make it a `param`",
                )
        for c in self.model.of(ast.ConstraintDecl):
            info.lookahead[c.name] = self.constraint(c)
        for p in self.model.of(ast.PolicyDecl):
            frame = _Frame("step", lookahead=0)
            self.expr(p.trigger, frame)
            self.stmts(p.actions, frame)
        for out in self.model.of(ast.OutputDecl):
            for item in out.items:
                if item.value is not None:
                    self.expr(item.value, _Frame("free"))
        info.order = self.order()
        return info

    # -- rules ------------------------------------------------------------------------------------

    def collect_rules(self) -> dict[str, list[ast.Node]]:
        rules: dict[str, list[ast.Node]] = {v.name: [] for v in self.decls}
        for item in self.model.items:
            if isinstance(item, ast.VarDecl) and item.value is not None:
                rules[item.name].append(item)
            elif isinstance(item, ast.SeriesRule) and item.name in rules:
                rules[item.name].append(item)
        return rules

    def rule(self, name: str, node: ast.Node) -> None:
        assert isinstance(node, (ast.VarDecl, ast.SeriesRule))
        pattern = node.index
        if pattern is None:
            frame = _Frame("rule", owner=name)
        elif pattern.literal is not None:
            if not 0 <= pattern.literal <= self.horizon:
                self.out_of_range(pattern.literal, pattern.span)
            frame = _Frame("rule", owner=name, absolute=pattern.literal)
        else:
            frame = _Frame("rule", owner=name, shift=pattern.offset)
        if pattern is not None and pattern.literal is None and pattern.var != "t":
            frame = frame.with_local(pattern.var, None)  # `x[s+1] = …` written with another index name
        if node.value is not None:
            self.expr(node.value, frame)
        if node.guard is not None:
            self.expr(node.guard, frame)

    def check_initial(self, name: str, nodes: list[ast.Node]) -> None:
        """A recurrence `x[t+k] = …` needs x[0..k-1] unless a general rule covers those steps."""
        literal: set[int] = set()
        shifted: list[ast.Node] = []
        for node in nodes:
            pattern = node.index  # type: ignore[attr-defined]
            if pattern is None or (pattern.literal is None and pattern.offset <= 0):
                return  # an unindexed or x[t] rule defines every step
            if pattern.literal is not None:
                literal.add(pattern.literal)
            else:
                shifted.append(node)
        for node in shifted:
            k = node.index.offset  # type: ignore[attr-defined]
            missing = [s for s in range(min(k, self.horizon + 1)) if s not in literal]
            if missing:
                steps = ", ".join(f"{name}[{s}]" for s in missing)
                self.bag.error(
                    "E0303",
                    f"the recurrence for '{name}' has no initial value ({steps} is never defined)",
                    node.span,
                    hint=f"add {name}[{missing[0]}] = …",
                )

    def constraint(self, c: ast.ConstraintDecl) -> int:
        self.max_future = 0
        frame = _Frame("step", lookahead=None)
        for clause in c.clauses:
            self.expr(clause.condition, frame)
        if c.scope is not None:
            for part in (c.scope.start, c.scope.end, c.scope.cond):
                if part is not None:
                    self.expr(part, _Frame("free"))
        return self.max_future

    # -- statements and expressions ------------------------------------------------------------------

    def stmts(self, body: tuple[ast.Stmt, ...], frame: _Frame) -> _Frame:
        for s in body:
            frame = self.stmt(s, frame)
        return frame

    def stmt(self, s: ast.Stmt, frame: _Frame) -> _Frame:
        if isinstance(s, ast.LetStmt):
            if s.value is not None:
                self.expr(s.value, frame)
            return frame.with_local(s.name, None)
        if isinstance(s, ast.AssignStmt):
            if not isinstance(s.target, ast.Name):
                self.expr(s.target, frame)
            self.expr(s.value, frame)
        elif isinstance(s, ast.IfStmt):
            self.expr(s.cond, frame)
            self.stmts(s.then, frame)
            self.stmts(s.else_, frame)
        elif isinstance(s, ast.ForStmt):
            self.expr(s.start, frame)
            self.expr(s.end, frame)
            self.stmts(s.body, frame.with_local(s.var, None))
        elif isinstance(s, (ast.ReturnStmt, ast.ExprStmt)):
            value = s.value if isinstance(s, ast.ReturnStmt) else s.expr
            if value is not None:
                self.expr(value, frame)
        elif isinstance(s, ast.EmitStmt):
            for kw in s.args:
                self.expr(kw.value, frame)
        return frame

    def expr(self, e: ast.Node, frame: _Frame) -> None:
        kind = type(e)
        if kind in _LITERALS:  # the commonest nodes first: no reads below a literal
            return
        if kind is ast.Binary:
            first, nodes = ast.left_spine(e)  # left to right, as the recursion would, in a loop
            self.expr(first, frame)
            for node in nodes:
                self.expr(node.right, frame)
        elif isinstance(e, ast.Name):
            if e.id not in frame.locals and e.id in self.var_index:
                self.read(e.id, self.relative(("t", 0), frame), frame, e.span)
        elif isinstance(e, ast.Index):
            self.index(e, frame)
        elif isinstance(e, ast.Comprehension):
            self.comprehension(e, frame)
        elif isinstance(e, ast.Call):
            self.call(e, frame)
        elif isinstance(e, ast.Lambda):
            inner = frame
            for p in e.params:
                inner = inner.with_local(p.name, None)
            self.expr(e.body, inner)
        elif isinstance(e, ast.BlockExpr):
            self.stmts(e.body, frame)
        elif isinstance(e, ast.Member):
            self.expr(e.base, frame)
        else:
            for child in e.children():
                self.expr(child, frame)

    def call(self, e: ast.Call, frame: _Frame) -> None:
        whole = isinstance(e.func, ast.Name) and e.func.id in WHOLE_SERIES_FUNCS
        if not isinstance(e.func, ast.Name):
            self.expr(e.func, frame)
        for arg in e.args:
            if (
                whole
                and isinstance(arg, ast.Name)
                and arg.id in self.var_index
                and arg.id not in frame.locals
            ):
                continue  # the whole series, e.g. npv(cash_flow, r): not a same-step read
            self.expr(arg, frame)
        for kw in e.kwargs:
            self.expr(kw.value, frame)

    def comprehension(self, e: ast.Comprehension, frame: _Frame) -> None:
        self.expr(e.start, frame)
        self.expr(e.end, frame)
        lo = self.relative(self.affine(e.start, frame), frame)
        hi = self.relative(self.affine(e.end, frame), frame)
        # An unknown start reaches back; an unknown end is a whole-run aggregate (no same-step edge).
        span = None if hi is None else (_FAR_PAST if lo is None else lo[0], hi[1])
        inner = frame.with_local(e.var, span)
        self.expr(e.body, inner)
        if e.cond is not None:
            self.expr(e.cond, inner)

    def index(self, e: ast.Index, frame: _Frame) -> None:
        self.expr(e.index, frame)
        base = e.base
        if not (isinstance(base, ast.Name) and base.id in self.var_index and base.id not in frame.locals):
            self.expr(base, frame)
            return
        form = self.affine(e.index, frame)
        if form is not None and form[0] is None and not 0 <= form[1] <= self.horizon:
            self.out_of_range(form[1], e.index.span)
        offsets = self.relative(form, frame)
        if offsets is not None:
            self.read(base.id, offsets, frame, e.index.span)

    # -- index arithmetic -------------------------------------------------------------------------------

    def affine(self, e: ast.Expr, frame: _Frame, depth: int = 0) -> Affine | None:
        """An index as (base, offset), or None when it is not `t ± c`, `local ± c` or a constant (or nests
        deeper than an index plausibly does: it is then checked at run time)."""
        if depth > _AFFINE_DEPTH:
            return None
        if isinstance(e, ast.Number):
            return (None, int(e.value)) if float(e.value).is_integer() else None
        if isinstance(e, ast.Name):
            if e.id in frame.locals:
                return e.id, 0
            if e.id == "t":
                return "t", 0
            if e.id in HORIZON_NAMES:
                return None, self.horizon
            return None
        if isinstance(e, ast.Unary) and e.op in ("-", "+"):
            inner = self.affine(e.operand, frame, depth + 1)
            if inner is None or inner[0] is not None:
                return None
            return None, -inner[1] if e.op == "-" else inner[1]
        if isinstance(e, ast.Binary) and e.op in ("+", "-"):
            return combine(self.affine(e.left, frame, depth + 1), self.affine(e.right, frame, depth + 1), e.op)
        return None

    def relative(self, form: Affine | None, frame: _Frame) -> tuple[int, int] | None:
        """The steps an index form reads, relative to the step being defined (None: unknown)."""
        if form is None or frame.mode == "free":
            return None
        base, c = form
        if base == "t":
            return (c, c) if frame.absolute is not None else (c - frame.shift, c - frame.shift)
        if base is None:
            return None if frame.absolute is None else (c - frame.absolute, c - frame.absolute)
        span = frame.locals.get(base)
        return None if span is None else (span[0] + c, span[1] + c)

    def read(self, name: str, offsets: tuple[int, int] | None, frame: _Frame, span: Span) -> None:
        if offsets is None:
            return
        lo, hi = offsets
        if frame.mode == "rule":
            if lo <= 0 <= hi:
                self.edges[frame.owner].setdefault(name, span)
            if lo > 0:
                self.bag.error(
                    "E0300",
                    f"the definition of '{frame.owner}' reads '{name}' {lo} step(s) ahead of the step it defines",
                    span,
                    hint="a value may depend only on the same or earlier steps (e.g. x[t+1] = … x[t] …)",
                )
        elif frame.mode == "step":
            if frame.lookahead is None:
                self.max_future = max(self.max_future, lo)
            elif lo > frame.lookahead:
                self.bag.error(
                    "E0300",
                    f"a policy cannot read '{name}' {lo} step(s) ahead: it runs before that step is computed",
                    span,
                )

    def out_of_range(self, step: int, span: Span) -> None:
        self.bag.error(
            "E0301",
            f"time index {step} is outside the simulated steps 0..{self.horizon}",
            span,
            hint=f"the model runs t = 0..{self.horizon}; lengthen `simulate for …` or use a smaller index",
        )

    # -- ordering -------------------------------------------------------------------------------------

    def order(self) -> list[str]:
        """Topological order of same-step edges, ties by declaration order; cycles are E0304."""
        names = list(self.var_index)
        for cycle in self.cycles():
            first, second = cycle[0], cycle[1 % len(cycle)]
            shown = " -> ".join([*cycle, cycle[0]])
            self.bag.error(
                "E0304",
                f"variables depend on each other within the same step: {shown}",
                self.edges[first][second],
                hint="break the cycle with a lagged reference (x[t-1]) or an initial value",
            )
        pending = {n: {d for d in self.edges[n] if d != n} for n in names}
        users: dict[str, list[str]] = {n: [] for n in names}
        for n, deps in pending.items():
            for d in deps:
                users[d].append(n)
        ready = [(self.var_index[n], n) for n in names if not pending[n]]
        heapq.heapify(ready)
        order: list[str] = []
        placed: set[str] = set()
        while len(order) < len(names):
            if not ready:  # a cycle (already reported): release its first variable
                rest = min((self.var_index[n], n) for n in names if n not in placed)
                pending[rest[1]] = set()
                ready.append(rest)
            _, n = heapq.heappop(ready)
            if n in placed:
                continue
            placed.add(n)
            order.append(n)
            for u in users[n]:
                pending[u].discard(n)
                if not pending[u] and u not in placed:
                    heapq.heappush(ready, (self.var_index[u], u))
        return order

    def cycles(self) -> list[list[str]]:
        """Strongly connected components that are cycles (Tarjan), each starting at its first-declared var,
        listed in the order the edges go."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []
        key = self.var_index.__getitem__
        done = object()

        def enter(v: str) -> tuple[str, object]:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            return v, iter(sorted(self.edges[v], key=key))

        for root in sorted(self.edges, key=key):  # Tarjan, with an explicit stack (a chain may be very long)
            if root in index:
                continue
            work = [enter(root)]
            while work:
                v, successors = work[-1]
                w = next(successors, done)  # type: ignore[call-overload]
                if w is not done:
                    if w not in index:
                        work.append(enter(w))
                    elif w in on_stack:
                        low[v] = min(low[v], index[w])
                    continue
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        x = stack.pop()
                        on_stack.discard(x)
                        component.append(x)
                        if x == v:
                            break
                    if len(component) > 1 or v in self.edges[v]:
                        found.append(self.cycle_path(set(component)))
        return sorted(found, key=lambda c: self.var_index[c[0]])

    def cycle_path(self, component: set[str]) -> list[str]:
        """The shortest cycle through the component's first-declared variable, following the edges."""
        start = min(component, key=self.var_index.__getitem__)
        if start in self.edges[start]:
            return [start]
        parent: dict[str, str] = {start: start}
        frontier = [start]
        while frontier:
            nxt: list[str] = []
            for v in frontier:
                for w in sorted(self.edges[v], key=self.var_index.__getitem__):
                    if w == start:
                        path = [v]
                        while path[-1] != start:
                            path.append(parent[path[-1]])
                        return path[::-1]
                    if w in component and w not in parent:
                        parent[w] = v
                        nxt.append(w)
            frontier = nxt
        return sorted(component, key=self.var_index.__getitem__)
