"""Time checks on the AST (LANGUAGE.md §3): causality, initial values, same-step cycles, horizon, evaluation order.

Every index is read relative to the step its rule defines: in `x[t+k] = e`, a read `y[t+c]` is `c - k` steps
from that step (0 = same step, > 0 = future: E0300). Unindexed references to a series mean "at t". Same-step
reads are the edges of the dependency graph; lagged reads create none.

Whole-run quantities (LANGUAGE.md §3, last bullet; docs/language-notes.md): an unindexed variable that reads
series only at fixed steps (`cf[12]`, `sum(cf[k] for k in 0..36)`, a whole series `npv(cf, r)`, `irr(cf)`, or
another whole-run variable) and nothing that changes with t is computed ONCE per path, at the last step it reads
(at the last step of the run when it reads the whole series or `t_max`), and is one value. A constraint clause
whose condition is whole-run is checked once, at that step. Per-step contexts (indexed rules, unindexed variables
that change with t, policies, named outputs) cannot read a whole-run variable: its value does not exist at every
step (E0300).

Codes: E0300 non-causal reference, E0301 index outside 0..T_max (literal, or a comprehension range that can never
be inside it), E0303 recurrence without initial value, E0304 same-step cycle, E0305 variable declared but never
defined; also E0100 for a whole-run variable used as a series (`sum(total)`, `total[3]`) and E0502 for a `for`
scope on a constraint checked once.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from pel.diagnostics import DiagnosticBag, Span
from pel.frontend import ast
from pel.frontend.checker import DISTS
from pel.ir.affine import Affine, combine
from pel.lang import functions as lang_funcs

HORIZON_NAMES = frozenset({"t_max", "time_horizon"})
# builtins whose bare-name argument is the whole series (no same-step read of it), that aggregate a whole series
# named as their only or first argument (min/max: the one-argument form), that read their series argument
# relative to the current step: the language table's (pel.lang.functions)
WHOLE_SERIES_FUNCS = lang_funcs.WHOLE_SERIES
AGGREGATES = lang_funcs.AGGREGATES
PER_STEP_FUNCS = lang_funcs.PER_STEP
END = None  # the step of a whole-run quantity that reads the whole series: the last step of the run
_END = 1 << 62  # END while analyzing: later than every literal step
_FAR_PAST = -(10**9)
_AFFINE_DEPTH = 64  # an index of the form t ± c ± c ... is affine up to this nesting


@dataclass
class TimeInfo:
    """What the lowering needs from the time analysis."""

    order: list[str] = field(default_factory=list)  # variables in same-step dependency order
    lookahead: dict[str, int] = field(default_factory=dict)  # constraint name -> max k of x[t+k] read
    rules: dict[str, list[ast.Node]] = field(default_factory=dict)  # var -> defining VarDecl/SeriesRule nodes
    whole_run: dict[str, int | None] = field(default_factory=dict)  # whole-run var -> its step (END: the last)
    checked_once: dict[tuple[str, int], int | None] = field(default_factory=dict)  # (constraint, clause) -> step


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
    whole: bool = False  # a whole-run variable or constraint clause: evaluated once, may read whole-run values
    bounds: dict[str, tuple[int, int, Span, Span]] = field(default_factory=dict)  # local -> range, its bounds' spans

    def with_local(self, name: str, span: tuple[int, int] | None,
                   bounds: tuple[int, int, Span, Span] | None = None) -> _Frame:
        fixed = {k: v for k, v in self.bounds.items() if k != name}
        if bounds is not None:
            fixed[name] = bounds
        return _Frame(self.mode, self.owner, self.shift, self.absolute, self.lookahead,
                      {**self.locals, name: span}, self.whole, fixed)


@dataclass
class _Reach:
    """When an expression's value can be known: the last fixed step it reads (`step`, _END for the whole run;
    None when it reads no series at a fixed step), and whether it reads anything that changes with t."""

    step: int | None = None
    where: tuple[str, Span] | None = None  # the read that sets `step`: (description, span)
    per_step: tuple[str, Span] | None = None  # the first read of something that changes with t
    end_read: tuple[str, Span, str] | None = None  # a whole-series, `t_max` or to-the-end read: (what, span, series)
    draws: bool = False  # an inline distribution (drawn afresh at every step it is evaluated)

    def fixed(self, step: int, what: str, span: Span) -> None:
        if self.step is None or step > self.step:
            self.step, self.where = step, (what, span)

    def per(self, what: str, span: Span) -> None:
        if self.per_step is None:
            self.per_step = (what, span)

    @property
    def whole_run(self) -> bool:
        return self.step is not None and self.per_step is None


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
        self.funcs = {f.name for f in model.of(ast.FuncDecl)}
        self.arrays: set[str] = set()  # array variables (`var nums = [1, 2]`): no time series
        self.whole: dict[str, int] = {}  # whole-run variable -> its step (_END: the last step of the run)
        self.varying: set[str] = set()  # unindexed variables whose value changes with t

    def run(self) -> TimeInfo:
        info = TimeInfo()
        info.rules = self.collect_rules()
        self.classify(info.rules)
        info.whole_run = {n: (END if s == _END else s) for n, s in self.whole.items()}
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
            info.lookahead[c.name] = self.constraint(c, info.checked_once)
        for p in self.model.of(ast.PolicyDecl):
            frame = _Frame("step", lookahead=0)
            self.expr(p.trigger, frame)
            self.stmts(p.actions, frame)
        for out in self.model.of(ast.OutputDecl):
            for item in out.items:
                if item.value is not None:
                    self.output(item)
        info.order = self.order()
        return info

    # -- whole-run quantities ---------------------------------------------------------------------------

    def classify(self, rules: dict[str, list[ast.Node]]) -> None:
        """Find the whole-run variables (see the module docstring) and the unindexed ones that change with t.

        A fixed point over a worklist: an unindexed variable starts as "constant"; reading something that changes
        with t makes it varying, reading fixed steps (and nothing varying) makes it whole-run at the last of them.
        A variable is looked at again only when one it names changes class; classes only rise (constant <
        whole-run at an earlier step < at a later one < varying), so the work stays linear in the model."""
        for v in self.decls:
            if isinstance(v.type, ast.TypeExpr) and v.type.name in ("Array", "List"):
                self.arrays.add(v.name)
        for name, nodes in rules.items():
            if any(isinstance(n.value, ast.ArrayLit | ast.RangeExpr) for n in nodes):
                self.arrays.add(name)
        targets = self.policy_targets()  # a policy may change them at any step (unless whole-run: E0300)
        unindexed: dict[str, ast.Expr] = {}
        for name, nodes in rules.items():
            if name in self.arrays or not nodes:
                continue
            if any(n.index is not None or n.guard is not None for n in nodes):
                self.varying.add(name)  # a series
            else:
                unindexed[name] = nodes[0].value
        readers: dict[str, list[str]] = {}
        for name, value in unindexed.items():
            for used in {n.id for n in value.walk() if isinstance(n, ast.Name) and n.id in unindexed}:
                readers.setdefault(used, []).append(name)
        work = list(reversed(unindexed))
        queued = set(work)
        while work:
            name = work.pop()
            queued.discard(name)
            if name in self.varying:
                continue
            reach = self.reach(unindexed[name])
            if reach.per_step is not None or reach.step is None and (reach.draws or name in targets):
                self.varying.add(name)
                self.whole.pop(name, None)
            elif reach.step is not None and self.whole.get(name) != reach.step:
                self.whole[name] = reach.step
            else:
                continue
            for reader in readers.get(name, ()):
                if reader not in queued and reader not in self.varying:
                    work.append(reader)
                    queued.add(reader)

    def policy_targets(self) -> set[str]:
        names: set[str] = set()
        stack = [a for p in self.model.of(ast.PolicyDecl) for a in p.actions]
        while stack:
            a = stack.pop()
            if isinstance(a, ast.AssignStmt):
                target = a.target.base if isinstance(a.target, ast.Index) else a.target
                if isinstance(target, ast.Name):
                    names.add(target.id)
            elif isinstance(a, ast.IfStmt):
                stack += [*a.then, *a.else_]
        return names

    def reach(self, e: ast.Expr) -> _Reach:
        """When the value of `e` (an unindexed variable, a constraint condition, an output) can be known."""
        out = _Reach()
        self._reach(e, {}, out)
        return out

    def _reach(self, e: ast.Node, scope: dict[str, tuple[int, int] | None], out: _Reach) -> None:  # noqa: C901
        """`scope`: comprehension locals -> their constant range (lo, hi), or None when it moves with t."""
        kind = type(e)
        if kind in _LITERALS:
            return
        if kind is ast.Binary:
            first, nodes = ast.left_spine(e)
            self._reach(first, scope, out)
            for node in nodes:
                self._reach(node.right, scope, out)
        elif isinstance(e, ast.Name):
            if e.id in scope:
                return
            if e.id == "t":
                out.per("t", e.span)
            elif e.id in self.whole:
                out.fixed(self.whole[e.id], e.id, e.span)
            elif e.id in self.varying:
                out.per(e.id, e.span)
        elif isinstance(e, ast.Index):
            self._reach(e.index, scope, out)
            if self.is_series(e.base, scope):
                self.reach_index(e, scope, out)
            else:
                self._reach(e.base, scope, out)
        elif isinstance(e, ast.Comprehension):
            self._reach(e.start, scope, out)
            self._reach(e.end, scope, out)
            inner = {**scope, e.var: self.const_range(e.start, e.end, scope)}
            self._reach(e.body, inner, out)
            if e.cond is not None:
                self._reach(e.cond, inner, out)
        elif isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id in PER_STEP_FUNCS:
            out.per(f"{e.func.id}(…)", e.span)
            for arg in e.args[1:]:
                self._reach(arg, scope, out)
        elif isinstance(e, ast.Call) and self.aggregate_arg(e, scope) is not None:
            arg = self.aggregate_arg(e, scope)
            what = f"{e.func.id}({arg.id}{', …' if len(e.args) > 1 else ''})"  # type: ignore[attr-defined]
            out.fixed(self.whole.get(arg.id, _END), what, e.span)
            if arg.id not in self.whole:
                out.end_read = out.end_read or (what, e.span, arg.id)
            for arg in e.args[1:]:
                self._reach(arg, scope, out)
        elif isinstance(e, ast.Changes):
            out.per("changes", e.span)
        else:
            if isinstance(e, ast.Dist) or isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and \
                    e.func.id in DISTS and e.func.id not in self.funcs:
                out.draws = True
            for child in e.children():
                self._reach(child, scope, out)

    def reach_index(self, e: ast.Index, scope: dict[str, tuple[int, int] | None], out: _Reach) -> None:
        name = e.base.id  # type: ignore[attr-defined]
        frame = _Frame("free", locals=dict.fromkeys(scope))
        form = self.affine(e.index, frame)
        if name in self.whole:
            out.fixed(self.whole[name], name, e.span)
        elif form is not None and form[0] == "t" and "t" not in scope or self.moves(e.index, scope):
            out.per(f"{name}[…]", e.span)
        elif form is not None and form[0] is None:
            step = _END if _mentions(e.index, HORIZON_NAMES) else form[1]
            out.fixed(step, f"{name}[{'t_max' if step == _END else step}]", e.span)
            if step == _END:
                out.end_read = out.end_read or (f"{name}[t_max]", e.span, name)
        elif form is not None and scope.get(form[0]) is not None:
            hi = scope[form[0]][1]  # type: ignore[index]
            if hi != _END and hi + form[1] > self.horizon:  # a filtered range reaching past T_max: to the end
                hi = _END
            out.fixed(_END if hi == _END else hi + form[1], f"{name}[{form[0]}]", e.span)
            if hi == _END:
                out.end_read = out.end_read or (f"{name}[{form[0]}] up to the last step", e.span, name)
        else:  # an index known only while running (`cf[p]`): every step exists at the end of the run
            out.fixed(_END, f"{name}[…]", e.span)

    def const_range(self, start: ast.Expr, end: ast.Expr, scope: dict[str, tuple[int, int] | None]
                    ) -> tuple[int, int] | None:
        """A comprehension's (lo, hi) when its bounds do not move with t (hi _END: to the last step)."""
        if self.moves(start, scope) or self.moves(end, scope):
            return None
        frame = _Frame("free", locals=dict.fromkeys(scope))
        lo, hi = self.affine(start, frame), self.affine(end, frame)
        low = lo[1] if lo is not None and lo[0] is None else _FAR_PAST
        if hi is None or hi[0] is not None or _mentions(end, HORIZON_NAMES):
            return low, _END
        return low, hi[1]

    def moves(self, e: ast.Expr, scope: dict[str, tuple[int, int] | None]) -> bool:
        """Whether `e` mentions t or a comprehension local whose range moves with t."""
        return any(isinstance(n, ast.Name) and (n.id == "t" and "t" not in scope or scope.get(n.id, 0) is None)
                   for n in e.walk())

    def is_series(self, e: ast.Expr, scope: dict[str, object]) -> bool:
        return isinstance(e, ast.Name) and e.id in self.var_index and e.id not in scope and e.id not in self.arrays

    def aggregate_arg(self, e: ast.Call, scope: dict[str, object]) -> ast.Name | None:
        """The series `sum(cf)`, `npv(cf, r)`, `min(cf)` … aggregate over the whole run, or None."""
        if not isinstance(e.func, ast.Name) or e.func.id not in AGGREGATES or not e.args:
            return None
        if e.func.id in ("min", "max") and len(e.args) != 1:
            return None
        arg = e.args[0]
        return arg if self.is_series(arg, scope) else None  # type: ignore[return-value]

    def whole_read(self, name: str, frame: _Frame, span: Span) -> None:
        """A read of whole-run variable `name` (computed once, at step self.whole[name])."""
        step = self.whole[name]
        when = "at the end of the run" if step == _END else f"from step {step}"
        if frame.whole:
            if frame.mode == "rule":
                self.edges[frame.owner].setdefault(name, span)
            return
        first = frame.absolute if frame.absolute is not None else 0  # the earliest t it is read at
        if step != _END and step <= first:  # it exists at every step it is read at (`base = cf[0]`: always)
            self.read(name, self.relative(("t", 0), frame), frame, span)
            return
        if frame.mode == "rule":
            where = f"the definition of '{frame.owner}'"
            hint = (f"use '{name}' in another unindexed variable that reads no per-step value, or in a constraint; "
                    f"for a value at every step, define '{frame.owner}' from the series themselves")
        elif frame.mode == "step":
            where = "a policy" if frame.lookahead == 0 else "a constraint checked at every step"
            hint = (f"check '{name}' in a constraint of its own (`constraint c: {name} > …`), which runs once "
                    f"{'at the end of the run' if step == _END else f'at step {step}'}")
        elif frame.owner:
            where = f"output '{frame.owner}' (reported at every step)"
            hint = f"declare a variable instead of the named output (`var {frame.owner} = …`): an unindexed " \
                   "variable that reads only whole-run values is computed once"
        else:
            where = "a constraint's `for` scope (evaluated at every step)"
            hint = f"put the condition on '{name}' in the constraint itself"
        self.bag.error("E0300", f"{where} reads '{name}', a whole-run value that exists only {when}", span,
                       hint=hint)

    def output(self, item: ast.OutputItem) -> None:
        reach = self.reach(item.value)  # type: ignore[arg-type]
        if reach.whole_run and reach.step > 0 and reach.where is not None and not \
                any(isinstance(n, ast.Name) and n.id in self.whole for n in item.value.walk()):  # type: ignore[union-attr]
            what, span = reach.where
            self.bag.error("E0300", f"output '{item.name}' is reported at every step but reads {what}, which "
                           f"exists only {'at the end of the run' if reach.step == _END else f'from step {reach.step}'}",
                           span, hint=f"declare a variable instead of the named output (`var {item.name} = …`): an "
                           "unindexed variable that reads only fixed steps is computed once, as one value")
        self.expr(item.value, _Frame("free", owner=item.name))  # type: ignore[arg-type]

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
        if pattern is None and name in self.whole:  # computed once, at its step
            step = self.whole[name]
            frame = _Frame("rule", owner=name, absolute=self.horizon if step == _END else step, whole=True)
        elif pattern is None:
            frame = _Frame("rule", owner=name)
            if name in self.varying and node.value is not None:
                self.mixed(name, node.value)
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

    def mixed(self, name: str, value: ast.Expr) -> None:
        """An unindexed variable that changes with t cannot also aggregate the whole run (E0300)."""
        reach = self.reach(value)
        if reach.per_step is None or reach.end_read is None:
            return
        what, span, series = reach.end_read
        self.bag.error(
            "E0300",
            f"'{name}' is computed at every step (it reads {reach.per_step[0]}), but {what} needs the whole run: "
            "its value exists only at the end",
            span,
            hint=f"for the value up to each step write `sum({series}[k] for k in 0..t)` (or `cumsum({series})`); "
                 "for the whole-run value use a variable that reads nothing that changes with t",
        )

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

    def constraint(self, c: ast.ConstraintDecl, once: dict[tuple[str, int], int | None]) -> int:
        self.max_future = 0
        frame = _Frame("step", lookahead=None)
        for k, clause in enumerate(c.clauses):
            reach = self.reach(clause.condition)
            if not reach.whole_run:
                self.expr(clause.condition, frame)
                continue
            step = reach.step
            once[(c.name, k)] = END if step == _END else step
            self.expr(clause.condition, _Frame("step", lookahead=None, whole=True))
            if c.scope is not None and c.scope.kind not in ("all", "entity"):
                when = "at the end of the run" if step == _END else f"at step {step}"
                self.bag.error("E0502", f"constraint '{c.name}' reads only whole-run values: it is checked once, "
                               f"{when}, and takes no `for` scope", c.scope.span,
                               hint="remove the scope, or index the series with t to check every step")
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
            elif s.target.id in self.whole and s.target.id not in frame.locals:
                self.bag.error("E0300", f"a policy cannot change '{s.target.id}': a whole-run value is computed "
                               "once, from series the policy may still change", s.target.span,
                               hint="change the series it is computed from instead")
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
            if e.id not in frame.locals and e.id in self.whole:
                self.whole_read(e.id, frame, e.span)
            elif e.id not in frame.locals and e.id in self.var_index:
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
                if arg.id in self.whole:
                    self.bag.error("E0100", f"'{arg.id}' is one value for the whole run, not a series", arg.span,
                                   hint=f"aggregate the series '{arg.id}' is computed from")
                elif frame.whole and frame.mode == "rule":  # computed after the last step of the series
                    self.edges[frame.owner].setdefault(arg.id, arg.span)
                continue  # the whole series, e.g. npv(cash_flow, r): not a same-step read
            self.expr(arg, frame)
        for kw in e.kwargs:
            self.expr(kw.value, frame)

    def comprehension(self, e: ast.Comprehension, frame: _Frame) -> None:
        self.expr(e.start, frame)
        self.expr(e.end, frame)
        first, last = self.affine(e.start, frame), self.affine(e.end, frame)
        lo, hi = self.relative(first, frame), self.relative(last, frame)
        # An unknown start reaches back; an unknown end is a whole-run aggregate (no same-step edge).
        span = None if hi is None else (_FAR_PAST if lo is None else lo[0], hi[1])
        bounds = None  # constant bounds: every step the range reads must lie in 0..T_max (unless filtered)
        if first is not None and last is not None and first[0] is None and last[0] is None and e.cond is None:
            bounds = (first[1], last[1], e.start.span, e.end.span)
        inner = frame.with_local(e.var, span, bounds)
        self.expr(e.body, inner)
        if e.cond is not None:
            self.expr(e.cond, inner)

    def index(self, e: ast.Index, frame: _Frame) -> None:
        self.expr(e.index, frame)
        base = e.base
        if not (isinstance(base, ast.Name) and base.id in self.var_index and base.id not in frame.locals):
            self.expr(base, frame)
            return
        if base.id in self.whole:
            self.bag.error("E0100", f"'{base.id}' is one value for the whole run: it takes no index", e.index.span,
                           hint=f"write '{base.id}' alone")
            return
        form = self.affine(e.index, frame)
        if form is not None and form[0] is None and not 0 <= form[1] <= self.horizon:
            self.out_of_range(form[1], e.index.span)
        elif form is not None and form[0] in frame.bounds:
            lo, hi, first, last = frame.bounds[form[0]]
            if lo <= hi and not 0 <= lo + form[1] <= hi + form[1] <= self.horizon:
                step, where = (lo + form[1], first) if lo + form[1] < 0 else (hi + form[1], last)
                self.out_of_range(step, where, f" ({base.id}[{_text(e.index)}] with {form[0]} in {lo}..{hi})")
        if frame.whole and frame.mode == "rule":  # computed once: after every step it reads
            self.edges[frame.owner].setdefault(base.id, e.index.span)
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

    def out_of_range(self, step: int, span: Span, detail: str = "") -> None:
        self.bag.error(
            "E0301",
            f"time index {step}{detail} is outside the simulated steps 0..{self.horizon}",
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


def _mentions(e: ast.Node, names: frozenset[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in e.walk())


def _text(e: ast.Expr) -> str:
    """An index as written, for messages (`k`, `k+1`)."""
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Number):
        return e.text
    if isinstance(e, ast.Binary):  # a chain walked in a loop, as every pass walks one (no recursion in its length)
        first, nodes = ast.left_spine(e)
        return _text(first) + "".join(f"{n.op}{_text(n.right)}" for n in nodes)
    return "…"
