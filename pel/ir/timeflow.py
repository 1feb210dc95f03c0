"""The one time analysis (LANGUAGE.md §3), on IR: causality, initial values, same-step cycles, the horizon, whole-run
quantities and the evaluation order. The frontend runs it on the IR it has just lowered (its findings are the
E03xx diagnostics, and `settle` writes what it found into the IR); IR validation runs it on every loaded program
(its findings are V-codes). A finding's kind maps to both codes in `CODES`.

Every index is read relative to the step its rule defines: in `x[t+k] = e`, a read `y[t+c]` is `c - k` steps from
that step (0 = same step, > 0 = future). An unindexed reference to a variable means "at t". Same-step reads are the
edges of the dependency graph; lagged reads create none.

Whole-run quantities: an unindexed variable that reads series only at fixed steps (`cf[12]`, `sum(cf[k] for k in
0..36)`, a whole series `npv(cf, r)`, `irr(cf)`, or another whole-run variable) and nothing that changes with t is
computed ONCE per path, at the last step it reads (the last step of the run when it reads the whole series or
`t_max`), and is one value. A constraint whose condition is whole-run is checked once, at that step. Per-step
contexts (rules of series, unindexed variables that change with t, policies, named outputs) cannot read a whole-run
variable before it exists.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from pel.ir import nodes as ir
from pel.ir.affine import Affine, combine
from pel.lang import functions as lang_funcs

# kind of finding -> (frontend code, IR validation code)
CODES: dict[str, tuple[str, str]] = {
    "future": ("E0300", "V006"),  # a read of a step not computed yet
    "whole_read": ("E0300", "V006"),  # a per-step context reads a whole-run value before it exists
    "whole_target": ("E0300", "V006"),  # a policy assigns a whole-run value
    "mixed": ("E0300", "V006"),  # a per-step variable aggregates the whole run
    "output_fixed": ("E0300", "V006"),  # a per-step named output reads a fixed later step
    "not_series": ("E0100", "V006"),  # a whole-run value used as a series
    "range": ("E0301", "V014"),  # a step outside 0..T_max
    "no_initial": ("E0303", "V000"),  # a recurrence without initial values
    "cycle": ("E0304", "V001"),  # variables that read each other at the same step
    "undefined": ("E0305", "V000"),  # a variable without a rule
    "once_scope": ("E0502", "V011"),  # a constraint checked once has a `for` scope
}
END = None  # the step of a whole-run quantity that reads the whole series: the last step of the run
_END = 1 << 62  # END while analyzing: later than every literal step
_FAR_PAST = -(10**9)
_AFFINE_DEPTH = 64  # an index of the form t ± c ± c ... is affine up to this nesting
WHOLE_SERIES = lang_funcs.WHOLE_SERIES  # a bare-name argument is the whole series (no same-step read)
AGGREGATES = lang_funcs.AGGREGATES  # aggregate a whole series named as their only or first argument
PER_STEP = lang_funcs.PER_STEP  # read their series argument relative to the current step

Report = Callable[[str, str, ir.Loc, "str | None", str], None]  # (kind, message, loc, hint, IR path)


@dataclass
class Flow:
    """What the analysis found: the evaluation order, the whole-run variables (name -> step, END the last), each
    constraint's lookahead and the step of those checked once (by position in `model.constraints`), the
    same-step edges (var -> the vars it reads at its own step), and the names some policy assigns."""

    order: list[str] = field(default_factory=list)
    whole_run: dict[str, int | None] = field(default_factory=dict)
    lookahead: dict[int, int] = field(default_factory=dict)
    checked_once: dict[int, int | None] = field(default_factory=dict)
    edges: dict[str, dict[str, ir.Loc]] = field(default_factory=dict)
    policy_targets: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Frame:
    """Where an expression is evaluated.

    mode "rule": defines `owner` at step t+`shift` (per-step) or at step `absolute`;
    "step": a constraint or policy at step t (future reads allowed up to `lookahead`; None = any, measured);
    "free": outputs and scopes (only horizon checks).
    """

    mode: str
    owner: str = ""
    shift: int = 0
    absolute: int | None = None
    lookahead: int | None = 0
    locals: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # local -> relative range
    whole: bool = False  # a whole-run variable or constraint: evaluated once, may read whole-run values
    bounds: dict[str, tuple[int, int, ir.Loc, ir.Loc]] = field(default_factory=dict)  # local -> constant range
    path: str = ""

    def with_local(self, name: str, span: tuple[int, int] | None,
                   bounds: tuple[int, int, ir.Loc, ir.Loc] | None = None) -> _Frame:
        fixed = {k: v for k, v in self.bounds.items() if k != name}
        if bounds is not None:
            fixed[name] = bounds
        return replace(self, locals={**self.locals, name: span}, bounds=fixed)


@dataclass
class _Reach:
    """When an expression's value can be known: the last fixed step it reads (`step`, _END for the whole run;
    None when it reads no series at a fixed step), and whether it reads anything that changes with t."""

    step: int | None = None
    where: tuple[str, ir.Loc] | None = None  # the read that sets `step`
    per_step: tuple[str, ir.Loc] | None = None  # the first read of something that changes with t
    end_read: tuple[str, ir.Loc, str] | None = None  # a whole-series, `t_max` or to-the-end read: (what, loc, series)
    draws: bool = False  # an inline distribution (drawn afresh at every step it is evaluated)
    names_whole: bool = False  # reads a whole-run variable by name

    def fixed(self, step: int, what: str, loc: ir.Loc) -> None:
        if self.step is None or step > self.step:
            self.step, self.where = step, (what, loc)

    def per(self, what: str, loc: ir.Loc) -> None:
        if self.per_step is None:
            self.per_step = (what, loc)

    @property
    def whole_run(self) -> bool:
        return self.step is not None and self.per_step is None


def analyze(model: ir.Model, report: Report, *, classify: bool, incomplete: frozenset[str] = frozenset()) -> Flow:
    """Check the time structure of `model`, report each finding, and return what the analysis found.

    classify=True (the frontend, on freshly lowered IR): the whole-run variables are found from the rules (their
    unindexed rules are still `scalar`) and the constraints checked once from their conditions. classify=False (IR
    validation): they are what the program says, `once` rules and constraints with a fixed-step or conditional
    scope, and each constraint may read as far ahead as its stored lookahead. `incomplete`: variables whose rules
    could not be lowered (a model with other errors): not reported as undefined."""
    return _Analyzer(model, report, classify, incomplete).run()


def settle(model: ir.Model, flow: Flow) -> ir.Model:
    """`model` with what the analysis found written in: the order, `once` rules for whole-run variables, which
    variables change from step to step, the constraints' lookahead, and the step of each constraint checked
    once."""
    varlist = []
    for v in model.vars:
        if v.name in flow.whole_run:
            rules = tuple(ir.Rule("once", r.expr, at=flow.whole_run[v.name], guard=r.guard, loc=r.loc)
                          if r.kind == "scalar" else r for r in v.rules)
            v = replace(v, rules=rules)
        varlist.append(v)
    varying = time_varying(varlist, flow.policy_targets)
    varlist = [replace(v, time_varying=v.name in varying) for v in varlist]
    constraints = []
    for i, c in enumerate(model.constraints):
        c = replace(c, lookahead=flow.lookahead.get(i, 0))
        if i in flow.checked_once and c.scope.type == "all":
            step = flow.checked_once[i]
            scope = ir.Scope("specific", timestep=step) if step is not None else ir.Scope(
                "cond", condition=ir.Binary("==", ir.Ref("t", "time"), ir.Ref("t_max", "horizon")))
            c = replace(c, scope=scope)
        constraints.append(c)
    return replace(model, vars=tuple(varlist), order=tuple(flow.order), constraints=tuple(constraints))


def time_varying(varlist: list[ir.Var], targets: set[str]) -> set[str]:
    """The variables whose value changes from step to step (code generation keeps the others out of the loop over
    steps): series, policy targets, and what reads t, a series, a draw, a change, a policy-changed parameter or one
    of them at the current step (a whole-run value is one value). Spread over a worklist of readers, so the cost
    stays linear however long a chain is."""
    varying = {v.name for v in varlist if v.series or v.name in targets}
    once = {v.name for v in varlist if any(r.kind == "once" for r in v.rules)}
    readers: dict[str, list[str]] = {}  # var -> the unindexed variables that read it at the current step
    for v in varlist:
        if v.name in varying or v.name in once:
            continue
        if any(r.guard is not None or _reads_varying(r.expr, targets) for r in v.rules):
            varying.add(v.name)
            continue
        for r in v.rules:
            for x in _walk(r.expr):
                if isinstance(x, ir.Ref) and x.kind == "var":
                    readers.setdefault(x.name, []).append(v.name)
    work = list(varying)
    while work:
        for reader in readers.get(work.pop(), ()):
            if reader not in varying:
                varying.add(reader)
                work.append(reader)
    return varying


def _reads_varying(e: ir.Expr, targets: set[str]) -> bool:
    for x in _walk(e):
        if isinstance(x, ir.Ref) and (x.kind == "time" or x.kind == "param" and x.name in targets):
            return True
        if isinstance(x, ir.Index) and (x.kind == "var" or x.kind == "param" and x.name in targets):
            return True
        if isinstance(x, ir.SeriesRef) and x.kind == "var":
            return True
        if isinstance(x, ir.Distribution | ir.Changes):
            return True
    return False


def _policy_targets(model: ir.Model) -> set[str]:
    """The names some policy assigns (parameters and variables)."""
    names: set[str] = set()
    stack = [a for p in model.policies for a in p.actions]
    while stack:
        a = stack.pop()
        if isinstance(a, ir.Action):
            names.add(a.target)
        elif isinstance(a, ir.If):
            stack += [*a.then, *a.else_]
    return names


class _Analyzer:
    def __init__(self, model: ir.Model, report: Report, classify: bool, incomplete: frozenset[str]) -> None:
        self.model = model
        self.incomplete = incomplete
        self.report = report
        self.classify_rules = classify
        self.horizon = model.time_horizon
        self.var_index: dict[str, int] = {}
        for i, v in enumerate(model.vars):
            self.var_index.setdefault(v.name, i)
        self.edges: dict[str, dict[str, ir.Loc]] = {v.name: {} for v in model.vars}
        self.max_future = 0
        self.arrays: set[str] = set()
        self.whole: dict[str, int] = {}
        self.varying: set[str] = set()

    def run(self) -> Flow:
        self.targets = _policy_targets(self.model)
        flow = Flow(edges=self.edges, policy_targets=self.targets)
        self.classify()
        if not self.classify_rules:
            self.whole = {v.name: (_END if r.at is None else r.at) for v in self.model.vars for r in v.rules
                          if r.kind == "once"}
            self.varying -= set(self.whole)
        flow.whole_run = {n: (END if s == _END else s) for n, s in self.whole.items()}
        for i, v in enumerate(self.model.vars):
            if self.var_index[v.name] != i:
                continue  # a duplicate declaration: reported by its own check
            for j, rule in enumerate(v.rules):
                self.rule(v, rule, f"model.vars[{i}].rules[{j}]")
            self.check_initial(v, f"model.vars[{i}].rules")
            if not v.rules and v.name not in self.incomplete:
                self.report("undefined", f"variable '{v.name}' is declared but never defined", v.loc,
                            f"define it (`{v.name}[t] = …` or `var {v.name} = …`) or make it a `param`",
                            f"model.vars[{i}]")
        for i, c in enumerate(self.model.constraints):
            self.constraint(i, c, flow)
        for i, p in enumerate(self.model.policies):
            frame = _Frame("step", lookahead=0, path=f"model.policies[{i}]")
            self.expr(p.trigger, frame)
            self.stmts(p.actions, frame)
        for i, out in enumerate(self.model.outputs):
            if out.expr is not None:
                self.output(out, f"model.outputs[{i}].expr")
        flow.order = self.order()
        return flow

    # -- whole-run quantities ---------------------------------------------------------------------------

    def classify(self) -> None:
        """Find the whole-run variables and the unindexed ones that change with t: a fixed point over a worklist.
        An unindexed variable starts as "constant"; reading something that changes with t makes it varying,
        reading fixed steps (and nothing varying) makes it whole-run at the last of them. Classes only rise, so a
        variable is looked at again only when one it names changes class and the work stays linear."""
        for v in self.model.vars:
            if v.type.kind in ("Array", "List") or any(isinstance(r.expr, ir.ArrayLiteral) for r in v.rules):
                self.arrays.add(v.name)
        targets = self.targets
        unindexed: dict[str, ir.Expr] = {}
        for i, v in enumerate(self.model.vars):
            if v.name in self.arrays or not v.rules or self.var_index[v.name] != i:
                continue
            if any(r.kind not in ("scalar", "once") or r.guard is not None for r in v.rules):
                self.varying.add(v.name)  # a series
            else:
                unindexed[v.name] = v.rules[0].expr
        readers: dict[str, list[str]] = {}
        for name, value in unindexed.items():
            for used in {x.name for x in _walk(value) if isinstance(x, _NAMED) and x.name in unindexed}:
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

    def reach(self, e: ir.Expr) -> _Reach:
        """When the value of `e` (an unindexed variable, a constraint condition, an output) can be known."""
        out = _Reach()
        self._reach(e, {}, out)
        return out

    def _reach(self, e: object, scope: dict[str, tuple[int, int] | None], out: _Reach) -> None:  # noqa: C901
        """`scope`: comprehension locals -> their constant range (lo, hi), or None when it moves with t."""
        if isinstance(e, ir.Literal):
            return
        if isinstance(e, ir.Binary):
            first, nodes = ir.left_spine(e)
            self._reach(first, scope, out)
            for node in nodes:
                self._reach(node.right, scope, out)
        elif isinstance(e, ir.Ref):
            if e.kind == "time":
                out.per("t", e.loc)
            elif e.kind == "var" and e.name in self.whole:
                out.fixed(self.whole[e.name], e.name, e.loc)
                out.names_whole = True
            elif e.kind == "var" and e.name in self.varying:
                out.per(e.name, e.loc)
        elif isinstance(e, ir.Index):
            self._reach(e.index, scope, out)
            if self.is_series(e):
                self.reach_index(e, scope, out)
        elif isinstance(e, ir.Aggregation):
            self._reach(e.start, scope, out)
            self._reach(e.end, scope, out)
            inner = {**scope, e.var: self.const_range(e.start, e.end, scope)}
            self._reach(e.body, inner, out)
            if e.filter is not None:
                self._reach(e.filter, inner, out)
        elif isinstance(e, ir.Call) and e.function in PER_STEP:
            out.per(f"{e.function}(…)", e.loc)
            for arg in e.args[1:]:
                self._reach(arg, scope, out)
        elif isinstance(e, ir.Call) and (arg := self.aggregate_arg(e)) is not None:
            what = f"{e.function}({arg.name}{', …' if len(e.args) > 1 else ''})"
            out.fixed(self.whole.get(arg.name, _END), what, e.loc)
            if arg.name in self.whole:
                out.names_whole = True
            else:
                out.end_read = out.end_read or (what, e.loc, arg.name)
            for arg in e.args[1:]:
                self._reach(arg, scope, out)
        elif isinstance(e, ir.Changes):
            out.per("changes", e.loc)
        else:
            if isinstance(e, ir.Distribution):
                out.draws = True
            for child in _children(e):
                self._reach(child, scope, out)

    def reach_index(self, e: ir.Index, scope: dict[str, tuple[int, int] | None], out: _Reach) -> None:
        name = e.name
        form = self.affine(e.index, scope)
        if name in self.whole:
            out.fixed(self.whole[name], name, e.loc)
            out.names_whole = True
        elif form is not None and form[0] == "t" or self.moves(e.index, scope):
            out.per(f"{name}[…]", e.loc)
        elif form is not None and form[0] is None:
            step = _END if _mentions_horizon(e.index) else form[1]
            out.fixed(step, f"{name}[{'t_max' if step == _END else step}]", e.loc)
            if step == _END:
                out.end_read = out.end_read or (f"{name}[t_max]", e.loc, name)
        elif form is not None and scope.get(form[0]) is not None:
            hi = scope[form[0]][1]  # type: ignore[index]
            if hi != _END and hi + form[1] > self.horizon:  # a filtered range reaching past T_max: to the end
                hi = _END
            out.fixed(_END if hi == _END else hi + form[1], f"{name}[{form[0]}]", e.loc)
            if hi == _END:
                out.end_read = out.end_read or (f"{name}[{form[0]}] up to the last step", e.loc, name)
        else:  # an index known only while running (`cf[p]`): every step exists at the end of the run
            out.fixed(_END, f"{name}[…]", e.loc)

    def const_range(self, start: ir.Expr, end: ir.Expr, scope: dict[str, tuple[int, int] | None]
                    ) -> tuple[int, int] | None:
        """A comprehension's (lo, hi) when its bounds do not move with t (hi _END: to the last step)."""
        if self.moves(start, scope) or self.moves(end, scope):
            return None
        lo, hi = self.affine(start, scope), self.affine(end, scope)
        low = lo[1] if lo is not None and lo[0] is None else _FAR_PAST
        if hi is None or hi[0] is not None or _mentions_horizon(end):
            return low, _END
        return low, hi[1]

    @staticmethod
    def moves(e: ir.Expr, scope: dict[str, tuple[int, int] | None]) -> bool:
        """Whether `e` mentions t or a comprehension local whose range moves with t."""
        return any(isinstance(x, ir.Ref) and (x.kind == "time" or x.kind == "local" and scope.get(x.name, 0) is None)
                   for x in _walk(e))

    def is_series(self, e: ir.Index | ir.SeriesRef | ir.Ref) -> bool:
        return e.kind == "var" and e.name in self.var_index and e.name not in self.arrays

    def aggregate_arg(self, e: ir.Call) -> ir.SeriesRef | ir.Ref | None:
        """The series `sum(cf)`, `npv(cf, r)`, `min(cf)` … aggregate over the whole run, or None."""
        if e.function not in AGGREGATES or not e.args:
            return None
        if e.function in ("min", "max") and len(e.args) != 1:
            return None
        arg = e.args[0]
        if isinstance(arg, ir.SeriesRef) and self.is_series(arg):
            return arg
        if isinstance(arg, ir.Ref) and arg.kind == "var" and arg.name in self.whole:
            return arg  # `sum(total)` of a whole-run value: refused where it is read (not_series)
        return None

    # -- reads of whole-run values ----------------------------------------------------------------------

    def whole_read(self, name: str, frame: _Frame, loc: ir.Loc) -> None:
        """A read of whole-run variable `name` (computed once, at step self.whole[name])."""
        step = self.whole[name]
        when = "at the end of the run" if step == _END else f"from step {step}"
        if frame.whole:
            if frame.mode == "rule":
                self.edges[frame.owner].setdefault(name, loc)
            return
        first = frame.absolute if frame.absolute is not None else 0  # the earliest t it is read at
        if step != _END and step <= first:  # it exists at every step it is read at (`base = cf[0]`: always)
            self.read(name, self.relative(("t", 0), frame), frame, loc)
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
        self.report("whole_read", f"{where} reads '{name}', a whole-run value that exists only {when}", loc, hint,
                    frame.path)

    def output(self, out: ir.Output, path: str) -> None:
        assert out.expr is not None
        reach = self.reach(out.expr)
        if reach.whole_run and reach.step > 0 and reach.where is not None and not reach.names_whole:  # type: ignore[operator]
            what, loc = reach.where
            self.report("output_fixed", f"output '{out.name}' is reported at every step but reads {what}, which "
                        f"exists only {'at the end of the run' if reach.step == _END else f'from step {reach.step}'}",
                        loc, f"declare a variable instead of the named output (`var {out.name} = …`): an "
                        "unindexed variable that reads only fixed steps is computed once, as one value", path)
        self.expr(out.expr, _Frame("free", owner=out.name, path=path))

    # -- rules ------------------------------------------------------------------------------------------

    def rule(self, v: ir.Var, rule: ir.Rule, path: str) -> None:
        name = v.name
        if rule.kind in ("scalar", "once") and name in self.whole:  # computed once, at its step
            step = self.whole[name]
            frame = _Frame("rule", owner=name, absolute=self.horizon if step == _END else step, whole=True,
                           path=path)
        elif rule.kind in ("scalar", "once"):
            frame = _Frame("rule", owner=name, path=path)
            if name in self.varying:
                self.mixed(name, rule.expr, path)
        elif rule.kind in ("initial", "literal"):
            at = rule.at if rule.at is not None else 0
            if not 0 <= at <= self.horizon:
                self.out_of_range(at, rule.loc, path)
            frame = _Frame("rule", owner=name, absolute=at, path=path)
        else:
            frame = _Frame("rule", owner=name, shift=rule.shift, path=path)
        self.expr(rule.expr, frame)
        if rule.guard is not None:
            self.expr(rule.guard, frame)

    def mixed(self, name: str, value: ir.Expr, path: str) -> None:
        """An unindexed variable that changes with t cannot also aggregate the whole run."""
        reach = self.reach(value)
        if reach.per_step is None or reach.end_read is None:
            return
        what, loc, series = reach.end_read
        self.report(
            "mixed",
            f"'{name}' is computed at every step (it reads {reach.per_step[0]}), but {what} needs the whole run: "
            "its value exists only at the end",
            loc,
            f"for the value up to each step write `sum({series}[k] for k in 0..t)` (or `cumsum({series})`); "
            "for the whole-run value use a variable that reads nothing that changes with t",
            path,
        )

    def check_initial(self, v: ir.Var, path: str) -> None:
        """A recurrence `x[t+k] = …` needs x[0..k-1] unless a general rule covers those steps."""
        literal: set[int] = set()
        shifted: list[ir.Rule] = []
        for rule in v.rules:
            if rule.kind in ("initial", "literal"):
                literal.add(rule.at if rule.at is not None else 0)
            elif rule.kind == "shifted":
                shifted.append(rule)
            else:
                return  # an unindexed or x[t] rule defines every step
        for rule in shifted:
            missing = []
            s = 0
            while s < min(rule.shift, self.horizon + 1) and len(missing) < 5:  # the first few missing steps
                if s not in literal:
                    missing.append(s)
                s += 1
            if missing:
                steps = ", ".join(f"{v.name}[{s}]" for s in missing)
                self.report("no_initial", f"the recurrence for '{v.name}' has no initial value ({steps} is never "
                            "defined)", rule.loc, f"add {v.name}[{missing[0]}] = …", path)

    # -- constraints --------------------------------------------------------------------------------------

    def constraint(self, i: int, c: ir.Constraint, flow: Flow) -> None:
        path = f"model.constraints[{i}]"
        self.max_future = 0
        parts = [c.condition, *(m.expr for m in c.message if m.expr is not None)]
        if self.classify_rules:
            reach = self.reach(c.condition)
            once = reach.whole_run
            frame = _Frame("step", lookahead=None, whole=once, path=f"{path}.condition")
            if once:
                step = reach.step
                flow.checked_once[i] = END if step == _END else step
                if c.scope.type != "all":
                    when = "at the end of the run" if step == _END else f"at step {step}"
                    self.report("once_scope", f"constraint '{c.name}' reads only whole-run values: it is checked "
                                f"once, {when}, and takes no `for` scope", c.loc,
                                "remove the scope, or index the series with t to check every step", f"{path}.scope")
        else:
            frame = _Frame("step", lookahead=max(c.lookahead, 0), whole=c.scope.type in ("specific", "cond"),
                           path=f"{path}.condition")
        for part in parts:
            self.expr(part, frame)
        if c.scope.condition is not None:
            self.expr(c.scope.condition, _Frame("free", path=f"{path}.scope.condition"))
        flow.lookahead[i] = self.max_future

    # -- statements and expressions -----------------------------------------------------------------------

    def stmts(self, body: tuple[ir.Stmt, ...], frame: _Frame) -> None:
        for s in body:
            if isinstance(s, ir.Action):
                if s.target_kind == "var" and s.target in self.whole:
                    at = s.loc and (s.loc[0], s.loc[1], s.loc[0], s.loc[1] + len(s.target))  # the target begins it
                    self.report("whole_target", f"a policy cannot change '{s.target}': a whole-run value is "
                                "computed once, from series the policy may still change", at,
                                "change the series it is computed from instead", frame.path)
                self.expr(s.value, frame)
            elif isinstance(s, ir.If):
                self.expr(s.condition, frame)
                self.stmts(s.then, frame)
                self.stmts(s.else_, frame)
            elif isinstance(s, ir.Emit):
                for _key, value in s.args:
                    self.expr(value, frame)

    def expr(self, e: object, frame: _Frame) -> None:
        if isinstance(e, ir.Literal):
            return
        if isinstance(e, ir.Binary):
            first, nodes = ir.left_spine(e)  # left to right, in a loop
            self.expr(first, frame)
            for node in nodes:
                self.expr(node.right, frame)
        elif isinstance(e, ir.Ref):
            if e.kind == "var" and e.name in self.whole:
                self.whole_read(e.name, frame, e.loc)
            elif e.kind == "var" and e.name in self.var_index:
                self.read(e.name, self.relative(("t", 0), frame), frame, e.loc)
        elif isinstance(e, ir.Changes):
            if e.kind == "var" and e.name in self.var_index:
                self.read(e.name, self.relative(("t", 0), frame), frame, e.loc)
        elif isinstance(e, ir.Index):
            self.index(e, frame)
        elif isinstance(e, ir.Aggregation):
            self.aggregation(e, frame)
        elif isinstance(e, ir.Call):
            self.call(e, frame)
        elif isinstance(e, ir.SeriesRef):
            self.series_arg(e.name, e.kind, frame, e.loc)
        else:
            for child in _children(e):
                self.expr(child, frame)

    def call(self, e: ir.Call, frame: _Frame) -> None:
        whole = e.function in WHOLE_SERIES
        for arg in e.args:
            if whole and isinstance(arg, ir.Ref) and arg.kind == "var" and arg.name in self.whole:
                self.series_arg(arg.name, "var", frame, arg.loc)
            else:
                self.expr(arg, frame)

    def series_arg(self, name: str, kind: str, frame: _Frame, loc: ir.Loc) -> None:
        """A whole series named as an argument (`npv(cash_flow, r)`): no same-step read."""
        if kind != "var" or name not in self.var_index:
            return
        if name in self.whole:
            self.report("not_series", f"'{name}' is one value for the whole run, not a series", loc,
                        f"aggregate the series '{name}' is computed from", frame.path)
        elif frame.whole and frame.mode == "rule":  # computed after the last step of the series
            self.edges[frame.owner].setdefault(name, loc)

    def aggregation(self, e: ir.Aggregation, frame: _Frame) -> None:
        self.expr(e.start, frame)
        self.expr(e.end, frame)
        first, last = self.affine(e.start, frame.locals), self.affine(e.end, frame.locals)
        lo, hi = self.relative(first, frame), self.relative(last, frame)
        # An unknown start reaches back; an unknown end is a whole-run aggregate (no same-step edge).
        span = None if hi is None else (_FAR_PAST if lo is None else lo[0], hi[1])
        bounds = None  # constant bounds: every step the range reads must lie in 0..T_max (unless filtered)
        if first is not None and last is not None and first[0] is None and last[0] is None and e.filter is None:
            bounds = (first[1], last[1], e.start.loc, e.end.loc)
        inner = frame.with_local(e.var, span, bounds)
        self.expr(e.body, inner)
        if e.filter is not None:
            self.expr(e.filter, inner)

    def index(self, e: ir.Index, frame: _Frame) -> None:
        self.expr(e.index, frame)
        if not (e.kind == "var" and e.name in self.var_index and e.name not in self.arrays):
            return
        if e.name in self.whole:
            self.report("not_series", f"'{e.name}' is one value for the whole run: it takes no index",
                        e.index.loc or e.loc, f"write '{e.name}' alone", frame.path)
            return
        form = self.affine(e.index, frame.locals)
        where = e.index.loc or e.loc
        if form is not None and form[0] is None and not 0 <= form[1] <= self.horizon:
            self.out_of_range(form[1], where, frame.path)
        elif form is not None and form[0] in frame.bounds:
            lo, hi, first, last = frame.bounds[form[0]]  # type: ignore[index]
            if lo <= hi and not 0 <= lo + form[1] <= hi + form[1] <= self.horizon:
                step, at = (lo + form[1], first) if lo + form[1] < 0 else (hi + form[1], last)
                self.out_of_range(step, at, frame.path,
                                  f" ({e.name}[{_text(e.index)}] with {form[0]} in {lo}..{hi})")
        if frame.whole and frame.mode == "rule":  # computed once: after every step it reads
            self.edges[frame.owner].setdefault(e.name, where)
        offsets = self.relative(form, frame)
        if offsets is not None:
            self.read(e.name, offsets, frame, where)

    # -- index arithmetic ---------------------------------------------------------------------------------

    def affine(self, e: ir.Expr, locals_: dict[str, object], depth: int = 0) -> Affine | None:
        """An index as (base, offset), or None when it is not `t ± c`, `local ± c` or a constant (or nests deeper
        than an index plausibly does: it is then checked at run time)."""
        if depth > _AFFINE_DEPTH:
            return None
        if isinstance(e, ir.Literal):
            v = e.value
            if isinstance(v, int | float) and not isinstance(v, bool) and abs(v) < 1e15 and float(v).is_integer():
                return None, int(v)
            return None
        if isinstance(e, ir.Ref):
            if e.kind == "local":
                return (e.name, 0) if e.name in locals_ else None
            if e.kind == "time":
                return "t", 0
            if e.kind == "horizon":
                return None, self.horizon
            return None
        if isinstance(e, ir.Unary) and e.op == "-":
            inner = self.affine(e.operand, locals_, depth + 1)
            return None if inner is None or inner[0] is not None else (None, -inner[1])
        if isinstance(e, ir.Binary) and e.op in ("+", "-"):
            return combine(self.affine(e.left, locals_, depth + 1), self.affine(e.right, locals_, depth + 1), e.op)
        return None

    @staticmethod
    def relative(form: Affine | None, frame: _Frame) -> tuple[int, int] | None:
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

    def read(self, name: str, offsets: tuple[int, int] | None, frame: _Frame, loc: ir.Loc) -> None:
        if offsets is None:
            return
        lo, hi = offsets
        if frame.mode == "rule":
            if lo <= 0 <= hi:
                self.edges[frame.owner].setdefault(name, loc)
            if lo > 0:
                self.report("future", f"the definition of '{frame.owner}' reads '{name}' {lo} step(s) ahead of the "
                            "step it defines", loc,
                            "a value may depend only on the same or earlier steps (e.g. x[t+1] = … x[t] …)", frame.path)
        elif frame.mode == "step":
            if frame.lookahead is None:
                self.max_future = max(self.max_future, lo)
            elif lo > frame.lookahead:
                what = "a policy" if frame.lookahead == 0 and frame.path.startswith("model.policies") else \
                    f"a constraint (lookahead {frame.lookahead})"
                self.report("future", f"{what} cannot read '{name}' {lo} step(s) ahead: it runs before that step "
                            "is computed", loc, None, frame.path)

    def out_of_range(self, step: int, loc: ir.Loc, path: str, detail: str = "") -> None:
        shown = step if abs(step) < 10**15 else f"{float(step):.6g}"
        self.report("range", f"time index {shown}{detail} is outside the simulated steps 0..{self.horizon}", loc,
                    f"the model runs t = 0..{self.horizon}; lengthen `simulate for …` or use a smaller index", path)

    # -- ordering -----------------------------------------------------------------------------------------

    def order(self) -> list[str]:
        """Topological order of same-step edges, ties by declaration order; cycles are reported."""
        names = list(self.var_index)
        for cycle in self.cycles():
            first, second = cycle[0], cycle[1 % len(cycle)]
            shown = " -> ".join([*cycle, cycle[0]])
            self.report("cycle", f"variables depend on each other within the same step: {shown}",
                        self.edges[first][second], "break the cycle with a lagged reference (x[t-1]) or an initial "
                        "value", "model.order")
        pending = {n: {d for d in self.edges[n] if d != n and d in self.var_index} for n in names}
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
        """Strongly connected components that are cycles (Tarjan, with an explicit stack: a chain may be very
        long), each starting at its first-declared variable, listed in the order the edges go."""
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        found: list[list[str]] = []
        key = self.var_index.__getitem__
        done = object()
        succ = {v: sorted((w for w in ws if w in self.var_index), key=key) for v, ws in self.edges.items()}

        def enter(v: str) -> tuple[str, object]:
            index[v] = low[v] = len(index)
            stack.append(v)
            on_stack.add(v)
            return v, iter(succ[v])

        for root in sorted(self.edges, key=key):
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
                        found.append(self.cycle_path(set(component), succ))
        return sorted(found, key=lambda c: self.var_index[c[0]])

    def cycle_path(self, component: set[str], succ: dict[str, list[str]]) -> list[str]:
        """The shortest cycle through the component's first-declared variable, following the edges."""
        start = min(component, key=self.var_index.__getitem__)
        if start in self.edges[start]:
            return [start]
        parent: dict[str, str] = {start: start}
        frontier = [start]
        while frontier:
            nxt: list[str] = []
            for v in frontier:
                for w in succ[v]:
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


# ---------------------------------------------------------------------------------------------------------------
# Walking IR expressions
# ---------------------------------------------------------------------------------------------------------------

_NAMED = (ir.Ref, ir.Index, ir.SeriesRef, ir.Changes)


def _children(e: object) -> list[object]:
    """The expressions directly under `e` (a distribution's parameters and components included)."""
    if isinstance(e, ir.Distribution):
        return [v for _k, v in e.parameters] + list(e.components)
    if isinstance(e, ir.Expr):
        out: list[object] = []
        for name in e.__slots__:  # type: ignore[attr-defined]
            x = getattr(e, name)
            if isinstance(x, ir.Expr):
                out.append(x)
            elif isinstance(x, tuple):
                out.extend(y for y in x if isinstance(y, ir.Expr))
        return out
    return []


def _walk(e: object):  # noqa: ANN202 - a generator of IR expressions
    """Every IR expression node under `e`, iteratively."""
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, ir.Expr):
            yield x
            stack.extend(_children(x))


def _mentions_horizon(e: ir.Expr) -> bool:
    return any(isinstance(x, ir.Ref) and x.kind == "horizon" for x in _walk(e))


def _text(e: ir.Expr) -> str:
    """An index as written, for messages (`k`, `k+1`)."""
    if isinstance(e, ir.Ref):
        return e.name
    if isinstance(e, ir.Literal) and isinstance(e.value, int | float) and not isinstance(e.value, bool):
        return f"{e.value:g}"
    if isinstance(e, ir.Binary):
        first, nodes = ir.left_spine(e)
        return _text(first) + "".join(f"{n.op}{_text(n.right)}" for n in nodes)
    return "…"
