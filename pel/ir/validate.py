"""Semantic validation of an IR program (LANGUAGE.md §7, V001–V015): run on every load, before any run.

`validate(program)` collects every problem and raises one IRError listing them all; each diagnostic has a
V-code, the path of the offending value (`model.vars[3].rules[0].expr: …`) and, where the IR kept it, the
source location. V000 marks structural problems (bad enum values, conflicting rules, duplicate ids).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal as Lit

import numpy as np

from pel import limits
from pel.diagnostics import Diagnostic, IRError, Span
from pel.ir import fold, timeflow
from pel.ir import nodes as ir
from pel.ir.hashing import assumption_hash, model_hash
from pel.lang import distributions as lang_dists
from pel.lang import functions as lang_funcs
from pel.lang import provenance as lang_prov
from pel.lang import units as lang_units

BUILTINS = lang_funcs.CANONICAL  # the language table's built-in functions (aliases resolved by lowering)
TIME_UNITS = frozenset(lang_units.TIME_UNITS)
BINARY_OPS = frozenset("+ - * / % ^ == != < <= > >= && ||".split())
UNARY_OPS = frozenset({"-", "!"})
AGGREGATIONS = frozenset({"sum", "avg", "min", "max", "count"})
RULE_KINDS = frozenset({"initial", "literal", "general", "shifted", "scalar", "once"})
SEVERITIES = frozenset({"fatal", "warning"})
SCOPE_TYPES = frozenset({"all", "range", "specific", "cond"})
TRIGGER_TYPES = frozenset({"time", "threshold", "event", "composite"})
ACTION_TYPES = frozenset({"assign", "multiply", "add"})
METHODS = lang_prov.ACCEPTED_METHODS
FRESHNESS = lang_prov.FRESHNESS
HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
# canonical parameter names of each distribution, in order (see ir.Distribution): the language table's (a Mixture's
# components and weights, a Discrete's weights, are fields of their own)
DIST_PARAMS: dict[str, tuple[str, ...]] = {
    name: () if name == "Mixture" else ("values",) if name == "Discrete" else d.names
    for name, d in lang_dists.DISTRIBUTIONS.items()
}
PSD_TOLERANCE = lang_prov.PSD_TOLERANCE

Mode = Lit["rule", "step", "free", "param"]


@dataclass(frozen=True)
class _Ctx:
    """Where an expression is evaluated, for name resolution (time is pel.ir.timeflow's): "rule" a variable's
    rule, "step" a constraint or policy, "free" functions and named outputs, "param" parameters only."""

    mode: Mode
    owner: str = ""  # the variable a rule defines, the function a body belongs to
    locals: dict[str, None] = field(default_factory=dict)  # locals in scope


def validate(program: ir.Program, *, check_hashes: bool = True) -> None:
    """Raise IRError listing every problem found in the program; return None when it is sound.

    `check_hashes=False` skips V012/V013 for a program whose hashes were computed a moment ago from this very
    model (the compiler's own output); anything loaded from a file is always checked.
    """
    diags = _Validator(program, check_hashes=check_hashes).run()
    if diags:
        raise IRError(diags)


class _Validator:
    def __init__(self, program: ir.Program, *, check_hashes: bool = True) -> None:
        self.program = program
        self.verify_hashes = check_hashes
        self.model = program.model
        meta = program.metadata if isinstance(program.metadata, dict) else {}
        source = meta.get("source_file")
        self.file = source if isinstance(source, str) and source else "<ir>"
        self.diags: list[Diagnostic] = []
        self.params = {p.name: p for p in self.model.params}
        self.vars = {v.name: v for v in self.model.vars}
        self.funcs = {f.name: f for f in self.model.funcs}
        self.horizon = self.model.time_horizon
        self.edges: dict[str, dict[str, ir.Loc]] = {}  # var -> vars it reads at the same step (time analysis)
        self.cycles = False
        self.param_edges: dict[str, set[str]] = {}
        self.sites: dict[int, str] = {}
        self.calls: dict[str, set[str]] = {}

    # -- reporting ----------------------------------------------------------------------------

    def err(self, code: str, path: str, message: str, loc: ir.Loc = None, hint: str | None = None) -> None:
        span = Span(self.file, *loc) if loc else Span(self.file, 0, 0, 0, 0)
        self.diags.append(Diagnostic("error", code, f"{path}: {message}", span, hint))

    def run(self) -> list[Diagnostic]:
        self.check_top()
        self.check_names()
        for i, p in enumerate(self.model.params):
            self.check_param(p, f"model.params[{i}]")
        self.check_correlations()
        self.check_scenarios()
        for i, v in enumerate(self.model.vars):
            self.check_var(v, f"model.vars[{i}]")
        self.check_time()
        self.check_order()
        for i, f in enumerate(self.model.funcs):
            self.check_func(f, f"model.funcs[{i}]")
        self.check_recursion()
        self.check_param_cycles()
        self.check_constraints()
        self.check_policies()
        self.check_outputs()
        if self.verify_hashes:
            self.check_hashes()
        return self.diags

    # -- top level ----------------------------------------------------------------------------

    def check_top(self) -> None:
        m = self.model
        if self.program.format_version != ir.FORMAT_VERSION:
            self.err(
                "V000",
                "format_version",
                f"IR format {self.program.format_version} is not supported "
                f"by this PEL (reads {ir.FORMAT_VERSION}); recompile the model",
            )
        if not isinstance(self.program.metadata, dict):
            self.err("V000", "metadata", "expected an object")
        if not m.name:
            self.err("V000", "model.name", "the model has no name")
        if m.time_unit not in TIME_UNITS:
            self.err(
                "V000",
                "model.time_unit",
                f"unknown time unit {m.time_unit!r} (one of {', '.join(sorted(TIME_UNITS))})",
            )
        if m.time_horizon < 0:
            self.err("V014", "model.time_horizon", f"time_horizon must be >= 0, got {m.time_horizon}")
        elif m.time_horizon > limits.MAX_STEPS:
            self.err("V014", "model.time_horizon",
                     f"time_horizon {m.time_horizon} is above PEL's limit of {limits.MAX_STEPS} steps")
        if not (math.isfinite(m.days_per_month) and m.days_per_month > 0):
            self.err("V000", "model.days_per_month", f"must be a positive number, got {m.days_per_month}")
        sim = m.simulate
        if sim.mode not in (None, "deterministic", "monte_carlo"):
            self.err("V000", "model.simulate.mode", f"unknown mode {sim.mode!r}")
        if sim.runs is not None and not 1 <= sim.runs <= limits.MAX_RUNS:
            self.err("V000", "model.simulate.runs", f"runs must be in 1..{limits.MAX_RUNS}, got {sim.runs}")
        if sim.seed is not None and not 0 <= sim.seed < limits.SEED_LIMIT:
            self.err("V000", "model.simulate.seed", f"seed must be in 0..2**63-1, got {sim.seed}")

    def check_names(self) -> None:
        seen: dict[str, str] = {}
        groups = (("params", self.model.params), ("vars", self.model.vars), ("funcs", self.model.funcs))
        for group, items in groups:
            for i, item in enumerate(items):
                path = f"model.{group}[{i}].name"
                if not item.name:
                    self.err("V000", path, "empty name")
                elif item.name in seen:
                    self.err("V002", path, f"{item.name!r} is already defined at {seen[item.name]}", item.loc)
                else:
                    seen[item.name] = path

    # -- parameters and provenance --------------------------------------------------------------

    def check_param(self, p: ir.Param, path: str) -> None:
        if (p.value is None) == (p.distribution is None):
            self.err("V000", path, f"param {p.name!r} needs exactly one of 'value' and 'distribution'", p.loc)
        ctx = _Ctx("param", owner=p.name)
        if p.value is not None:
            self.expr(p.value, ctx, f"{path}.value")
        if p.distribution is not None:
            self.distribution(p.distribution, ctx, f"{path}.distribution", top=True)
        if p.central is not None and not math.isfinite(p.central):
            self.err("V000", f"{path}.central", f"central value must be finite, got {p.central}", p.loc)
        self.check_provenance(p.provenance, f"{path}.provenance", p.loc)

    def check_scenarios(self) -> None:
        """Scenario names unique; each sets declared parameters once, with a whole valid Param of the same type."""
        seen: set[str] = set()
        for i, sc in enumerate(self.model.scenarios):
            path = f"model.scenarios[{i}]"
            if sc.name in seen:
                self.err("V000", f"{path}.name", f"scenario {sc.name!r} is defined twice", sc.loc)
            seen.add(sc.name)
            named: set[str] = set()
            for j, p in enumerate(sc.params):
                where = f"{path}.params[{j}]"
                base = self.params.get(p.name)
                if base is None:
                    self.err("V002", where, f"scenario {sc.name!r} sets {p.name!r}, which is not a parameter", p.loc)
                    continue
                if p.name in named:
                    self.err("V000", where, f"scenario {sc.name!r} sets {p.name!r} twice", p.loc)
                named.add(p.name)
                if p.type != base.type:
                    self.err("V008", f"{where}.type", f"scenario {sc.name!r}: {p.name!r} must keep its declared "
                                                      f"type {base.type.display}", p.loc)
                self.check_param(p, where)

    def check_provenance(self, prov: ir.Provenance, path: str, loc: ir.Loc) -> None:
        if not prov.source.strip():
            self.err("V003", f"{path}.source", "provenance source is empty", loc)
        if prov.method not in METHODS:
            self.err("V003", f"{path}.method", f"unknown provenance method {prov.method!r}", loc)
        if not (math.isfinite(prov.confidence) and 0.0 <= prov.confidence <= 1.0):
            self.err(
                "V003", f"{path}.confidence", f"confidence must be in [0, 1], got {prov.confidence}", loc
            )
        if prov.freshness is not None and not FRESHNESS.match(prov.freshness):
            self.err(
                "V003",
                f"{path}.freshness",
                f"freshness {prov.freshness!r} is not an ISO-8601 duration like P3M",
                loc,
            )
        for j, (name, rho) in enumerate(prov.correlated_with):
            where = f"{path}.correlated_with[{j}]"
            if name not in self.params:
                self.err("V002", where, f"correlated parameter {name!r} is not a parameter", loc)
            if not (math.isfinite(rho) and -1.0 <= rho <= 1.0):
                self.err("V005", where, f"correlation coefficient {rho} is outside [-1, 1]", loc)

    def check_correlations(self) -> None:
        names: dict[str, None] = {}  # the correlated parameters, in order of first mention
        pairs: dict[tuple[str, str], float] = {}
        order = {p.name: i for i, p in enumerate(self.model.params)}
        ok = True
        for i, (a, b, rho) in enumerate(self.model.correlations):
            path = f"model.correlations[{i}]"
            for n in (a, b):
                if n not in self.params:
                    self.err("V002", path, f"correlated parameter {n!r} is not a parameter")
                    ok = False
                elif self.params[n].distribution is None:
                    self.err("V002", path, f"correlated parameter {n!r} has no distribution")
                    ok = False
            if a == b:
                self.err("V004", path, f"a parameter cannot be correlated with itself ({a!r})")
                ok = False
            if not (math.isfinite(rho) and -1.0 <= rho <= 1.0):
                self.err("V005", path, f"correlation coefficient {rho} is outside [-1, 1]")
                ok = False
            if a in order and b in order and order[a] > order[b]:
                self.err("V000", path, f"pair ({a!r}, {b!r}) must name the earlier-declared parameter first")
            key = (min(a, b), max(a, b))
            if key in pairs and pairs[key] != rho:
                self.err("V004", path, f"conflicting coefficients for ({a!r}, {b!r}): {pairs[key]} and {rho}")
                ok = False
            pairs[key] = rho
            names.update(dict.fromkeys((a, b)))
        if len(names) > limits.MAX_CORRELATED:
            self.err("V004", "model.correlations", f"{len(names)} correlated parameters: PEL's limit is "
                     f"{limits.MAX_CORRELATED} (the matrix is checked and factored whole)")
        elif ok and pairs:
            self.check_psd(list(names), pairs)

    def check_psd(self, names: list[str], pairs: dict[tuple[str, str], float]) -> None:
        index = {n: i for i, n in enumerate(names)}
        matrix = np.eye(len(names))
        for (a, b), rho in pairs.items():
            matrix[index[a], index[b]] = matrix[index[b], index[a]] = rho
        smallest = float(np.linalg.eigvalsh(matrix).min())
        if smallest < PSD_TOLERANCE:
            self.err(
                "V004",
                "model.correlations",
                f"the correlation matrix of {', '.join(names)} is not "
                f"positive semi-definite (smallest eigenvalue {smallest:.6g})",
            )

    # -- variables --------------------------------------------------------------------------------

    def check_var(self, v: ir.Var, path: str) -> None:
        unguarded = [r for r in v.rules if r.kind in ("general", "shifted", "scalar", "once") and r.guard is None]
        if len(unguarded) > 1:
            self.err(
                "V000",
                f"{path}.rules",
                f"var {v.name!r} has {len(unguarded)} conflicting general rules "
                f"({', '.join(r.kind for r in unguarded)})",
                v.loc,
            )
        at_seen: set[int] = set()
        for j, rule in enumerate(v.rules):
            rpath = f"{path}.rules[{j}]"
            ctx = self.rule_shape(v, rule, rpath, at_seen)
            if ctx is None:
                continue
            self.expr(rule.expr, ctx, f"{rpath}.expr")
            if rule.guard is not None:
                self.expr(rule.guard, ctx, f"{rpath}.guard")

    def rule_shape(self, v: ir.Var, rule: ir.Rule, path: str, at_seen: set[int]) -> _Ctx | None:
        """Check a rule's kind/at/shift; return the context its expressions are evaluated in."""
        if rule.kind not in RULE_KINDS:
            self.err(
                "V000",
                f"{path}.kind",
                f"unknown rule kind {rule.kind!r} (one of {', '.join(sorted(RULE_KINDS))})",
                rule.loc,
            )
            return None
        if rule.kind in ("initial", "literal"):
            at = rule.at
            if at is None or (rule.kind == "initial" and at != 0):
                self.err(
                    "V000",
                    f"{path}.at",
                    f"a {rule.kind} rule needs at = "
                    f"{'0' if rule.kind == 'initial' else 'its step'}, got {at}",
                    rule.loc,
                )
                return None
            if at in at_seen:
                self.err("V000", f"{path}.at", f"var {v.name!r} is defined twice at step {at}", rule.loc)
            at_seen.add(at)
            return _Ctx("rule", owner=v.name)
        if rule.kind == "once":  # a whole-run value: computed once, at step `at` (None: the last step)
            if len(v.rules) != 1 or rule.guard is not None:
                self.err("V000", path, f"var {v.name!r}: a once rule is the variable's only rule, unguarded", rule.loc)
            if rule.at is not None and not 0 <= rule.at <= self.horizon:
                self.err("V014", f"{path}.at", f"step {rule.at} is outside 0..{self.horizon}", rule.loc)
            return _Ctx("rule", owner=v.name)
        if rule.at is not None:
            self.err("V000", f"{path}.at", f"a {rule.kind} rule has no 'at' (got {rule.at})", rule.loc)
        if rule.kind == "shifted" and rule.shift < 1:
            self.err("V000", f"{path}.shift", f"a shifted rule needs shift >= 1, got {rule.shift}", rule.loc)
            return None
        if rule.kind != "shifted" and rule.shift != 0:
            self.err("V000", f"{path}.shift", f"a {rule.kind} rule has shift 0, got {rule.shift}", rule.loc)
        return _Ctx("rule", owner=v.name)

    def check_order(self) -> None:
        order = self.model.order
        names = [v.name for v in self.model.vars]
        if sorted(order) != sorted(names):
            extra = sorted(set(order) - set(names))
            missing = sorted(set(names) - set(order))
            dup = sorted(n for n, count in Counter(order).items() if count > 1)
            detail = "; ".join(
                s
                for s in (
                    f"not variables: {', '.join(extra)}" if extra else "",
                    f"missing: {', '.join(missing)}" if missing else "",
                    f"listed twice: {', '.join(dup)}" if dup else "",
                )
                if s
            )
            self.err("V001", "model.order", f"the evaluation order must list every variable once ({detail})")
            return
        if self.cycles:
            return  # a cycle is reported by the time analysis: no order can satisfy it
        position = {n: i for i, n in enumerate(order)}
        for name in order:
            for dep in sorted(self.edges.get(name, ())):
                if dep in position and position[dep] > position[name]:
                    self.err(
                        "V001",
                        "model.order",
                        f"var {name!r} reads {dep!r} at the same step but comes before it in the evaluation order",
                        self.vars[name].loc,
                    )

    def check_time(self) -> None:
        """The time analysis every compiled model went through (pel.ir.timeflow), on the program as it is:
        future reads (V006), steps outside 0..T_max (V014), recurrences without initial values and variables
        without a rule (V000), same-step cycles (V001); its same-step edges check the stored order."""

        def report(kind: str, message: str, loc: ir.Loc, hint: str | None, path: str) -> None:
            self.cycles = self.cycles or kind == "cycle"
            self.err(timeflow.CODES[kind][1], path, message, loc, hint)

        self.edges = timeflow.analyze(self.model, report, classify=False).edges

    # -- functions ------------------------------------------------------------------------------

    def check_func(self, f: ir.Func, path: str) -> None:
        if len(set(f.params)) != len(f.params):
            self.err("V002", f"{path}.params", f"function {f.name!r} has duplicate parameter names", f.loc)
        self.calls.setdefault(f.name, set())
        ctx = _Ctx("free", owner=f.name, locals=dict.fromkeys(f.params))
        self.stmts(f.body, ctx, f"{path}.body", in_func=True)

    def check_recursion(self) -> None:
        for _name, cycle in _cycles(self.calls, self.calls):
            self.err("V001", "model.funcs", f"recursive functions are not supported: {' -> '.join(cycle)}")

    def check_param_cycles(self) -> None:
        for name, cycle in _cycles(self.params, self.param_edges):
            self.err(
                "V001",
                "model.params",
                f"parameters depend on each other in a cycle: {' -> '.join(cycle)}",
                self.params[name].loc,
            )

    # -- constraints, policies, outputs -----------------------------------------------------------

    def check_constraints(self) -> None:
        ids: set[str] = set()
        for i, c in enumerate(self.model.constraints):
            path = f"model.constraints[{i}]"
            if c.constraint_id in ids:
                self.err(
                    "V000", f"{path}.constraint_id", f"duplicate constraint id {c.constraint_id!r}", c.loc
                )
            ids.add(c.constraint_id)
            if c.severity not in SEVERITIES:
                self.err(
                    "V000",
                    f"{path}.severity",
                    f"severity must be fatal or warning, got {c.severity!r}",
                    c.loc,
                )
            if c.lookahead < 0:
                self.err("V006", f"{path}.lookahead", f"lookahead must be >= 0, got {c.lookahead}", c.loc)
            ctx = _Ctx("step")
            self.expr(c.condition, ctx, f"{path}.condition")
            for j, part in enumerate(c.message):
                if (part.text is None) == (part.expr is None):
                    self.err(
                        "V000",
                        f"{path}.message[{j}]",
                        "a message part has exactly one of text and expr",
                        c.loc,
                    )
                if part.expr is not None:
                    self.expr(part.expr, ctx, f"{path}.message[{j}].expr")
            self.check_scope(c.scope, f"{path}.scope", c.loc)

    def check_scope(self, scope: ir.Scope, path: str, loc: ir.Loc) -> None:
        T = self.horizon
        if scope.type not in SCOPE_TYPES:
            self.err("V011", f"{path}.type", f"unknown scope type {scope.type!r}", loc)
        elif scope.type == "range":
            if scope.start is None or scope.end is None:
                self.err("V011", path, "a range scope needs start and end", loc)
            elif not 0 <= scope.start <= scope.end <= T:
                self.err(
                    "V011",
                    path,
                    f"scope {scope.start}..{scope.end} must satisfy 0 <= start <= end <= {T}",
                    loc,
                )
        elif scope.type == "specific":
            if scope.timestep is None or not 0 <= scope.timestep <= T:
                self.err("V011", path, f"scope step {scope.timestep} is outside 0..{T}", loc)
        elif scope.type == "cond":
            if scope.condition is None:
                self.err("V011", path, "a conditional scope needs a condition", loc)
            else:
                self.expr(scope.condition, _Ctx("step"), f"{path}.condition")

    def check_policies(self) -> None:
        for i, pol in enumerate(self.model.policies):
            path = f"model.policies[{i}]"
            if pol.policy_id != f"policy_{i}":
                self.err(
                    "V015",
                    f"{path}.policy_id",
                    f"expected policy id 'policy_{i}', got {pol.policy_id!r}",
                    pol.loc,
                )
            if pol.trigger_type not in TRIGGER_TYPES:
                self.err(
                    "V000", f"{path}.trigger_type", f"unknown trigger type {pol.trigger_type!r}", pol.loc
                )
            ctx = _Ctx("step")
            self.expr(pol.trigger, ctx, f"{path}.trigger")
            self.stmts(pol.actions, ctx, f"{path}.actions", in_func=False)

    def check_outputs(self) -> None:
        seen: set[str] = set()
        for i, out in enumerate(self.model.outputs):
            path = f"model.outputs[{i}]"
            if out.name in seen:
                self.err("V000", f"{path}.name", f"output {out.name!r} is listed twice")
            seen.add(out.name)
            if out.expr is None:
                if out.name not in self.vars:
                    self.err("V002", f"{path}.name", f"output {out.name!r} is not a variable")
            else:
                if out.name in self.params or out.name in self.vars:
                    self.err("V002", f"{path}.name", f"named output {out.name!r} collides with a model name")
                self.expr(out.expr, _Ctx("free"), f"{path}.expr")

    def check_hashes(self) -> None:
        meta = self.program.metadata if isinstance(self.program.metadata, dict) else {}
        stored = meta.get("model_hash")
        if stored is None:
            self.err("V012", "metadata.model_hash", "the IR carries no model hash")
        elif not isinstance(stored, str) or not HASH.match(stored):
            self.err("V012", "metadata.model_hash", f"malformed model hash {stored!r}")
        elif stored != model_hash(self.model):
            self.err(
                "V012",
                "metadata.model_hash",
                "the model does not match its hash: the IR was edited or corrupted after compilation",
                hint="recompile the model from its source",
            )
        stored_a = meta.get("assumption_hash")
        if stored_a is not None and stored_a != assumption_hash(self.model):
            self.err(
                "V013",
                "metadata.assumption_hash",
                "the provenance does not match the assumption hash",
                hint="recompile the model from its source",
            )

    # -- statements -----------------------------------------------------------------------------

    def stmts(self, body: tuple[ir.Stmt, ...], ctx: _Ctx, path: str, *, in_func: bool) -> None:
        """A block: a `let` binds its local for the rest of the block. Bindings change `ctx.locals` in place
        and are undone when the block ends (no copy of the scope per statement: linear in the body)."""
        undo: list[tuple[str, object]] = []
        try:
            for j, s in enumerate(body):
                if isinstance(s, ir.Let) and in_func:
                    self.expr(s.value, ctx, f"{path}[{j}].value")
                    undo.append((s.name, ctx.locals.get(s.name, _UNBOUND)))
                    ctx.locals[s.name] = None
                else:
                    self.stmt(s, ctx, f"{path}[{j}]", in_func=in_func)
        finally:
            for name, old in reversed(undo):
                _restore(ctx.locals, name, old)

    def stmt(self, s: ir.Stmt, ctx: _Ctx, path: str, *, in_func: bool) -> None:
        if isinstance(s, ir.If):
            self.expr(s.condition, ctx, f"{path}.condition")
            self.stmts(s.then, ctx, f"{path}.then", in_func=in_func)
            self.stmts(s.else_, ctx, f"{path}.else_", in_func=in_func)
        elif isinstance(s, ir.For) and in_func:
            self.expr(s.start, ctx, f"{path}.start")
            self.expr(s.end, ctx, f"{path}.end")
            old = ctx.locals.get(s.var, _UNBOUND)
            ctx.locals[s.var] = None
            try:
                self.stmts(s.body, ctx, f"{path}.body", in_func=in_func)
            finally:
                _restore(ctx.locals, s.var, old)
        elif isinstance(s, ir.Return) and in_func:
            self.expr(s.value, ctx, f"{path}.value")
        elif isinstance(s, ir.Action) and not in_func:
            self.action(s, ctx, path)
        elif isinstance(s, ir.Emit):
            for j, (_key, value) in enumerate(s.args):
                self.expr(value, ctx, f"{path}.args[{j}]")
        else:
            where = "a function body" if in_func else "a policy"
            self.err("V000", path, f"{type(s).__name__} is not allowed in {where}", s.loc)

    def action(self, a: ir.Action, ctx: _Ctx, path: str) -> None:
        if a.action_type not in ACTION_TYPES:
            self.err("V000", f"{path}.action_type", f"unknown action type {a.action_type!r}", a.loc)
        table = {"param": self.params, "var": self.vars}.get(a.target_kind)
        if table is None:
            self.err("V002", f"{path}.target_kind", f"unknown target kind {a.target_kind!r}", a.loc)
        elif a.target not in table:
            self.err("V002", f"{path}.target", f"{a.target!r} is not a {a.target_kind}", a.loc)
        self.expr(a.value, ctx, f"{path}.value")

    # -- expressions ----------------------------------------------------------------------------

    def expr(self, e: ir.Expr, ctx: _Ctx, path: str) -> None:
        method = getattr(self, f"expr_{type(e).__name__}", None)
        if method is None:
            self.err("V000", path, f"{type(e).__name__} is not an expression")
            return
        method(e, ctx, path)

    def expr_Literal(self, e: ir.Literal, ctx: _Ctx, path: str) -> None:
        if isinstance(e.value, float) and not math.isfinite(e.value):
            self.err("V000", path, f"literal {e.value} is not finite", e.loc)

    def expr_Ref(self, e: ir.Ref, ctx: _Ctx, path: str) -> None:
        if e.kind in ("time", "horizon"):
            return
        if e.kind == "local":
            if e.name not in ctx.locals:
                self.err("V002", path, f"local {e.name!r} is not in scope", e.loc)
            return
        self.resolve(e.name, e.kind, ("param", "var"), ctx, path, e.loc)

    def expr_Index(self, e: ir.Index, ctx: _Ctx, path: str) -> None:
        self.expr(e.index, ctx, f"{path}.index")
        self.resolve(e.name, e.kind, ("param", "var", "array"), ctx, path, e.loc)

    def expr_SeriesRef(self, e: ir.SeriesRef, ctx: _Ctx, path: str) -> None:
        self.resolve(e.name, e.kind, ("param", "var", "array"), ctx, path, e.loc)

    def expr_Changes(self, e: ir.Changes, ctx: _Ctx, path: str) -> None:
        self.resolve(e.name, e.kind, ("param", "var"), ctx, path, e.loc)

    def expr_Binary(self, e: ir.Binary, ctx: _Ctx, path: str) -> None:
        """A chain in a loop: node k of it is `path.left[k]` (k levels down the left operands)."""
        first, nodes = ir.left_spine(e)
        depth = len(nodes)
        self.expr(first, ctx, f"{path}.left[{depth}]" if depth > 1 else f"{path}.left")
        for k, node in enumerate(nodes):
            at = path if k == depth - 1 else f"{path}.left[{depth - 1 - k}]"
            if node.op not in BINARY_OPS:
                self.err("V000", f"{at}.op", f"unknown binary operator {node.op!r}", node.loc)
            self.expr(node.right, ctx, f"{at}.right")

    def expr_Unary(self, e: ir.Unary, ctx: _Ctx, path: str) -> None:
        if e.op not in UNARY_OPS:
            self.err("V000", f"{path}.op", f"unknown unary operator {e.op!r}", e.loc)
        self.expr(e.operand, ctx, f"{path}.operand")

    def expr_Call(self, e: ir.Call, ctx: _Ctx, path: str) -> None:
        if e.function in self.funcs:
            expected = len(self.funcs[e.function].params)
            if len(e.args) != expected:
                self.err(
                    "V002",
                    path,
                    f"function {e.function!r} takes {expected} argument(s), got {len(e.args)}",
                    e.loc,
                )
            if ctx.mode == "free" and ctx.owner in self.funcs:
                self.calls.setdefault(ctx.owner, set()).add(e.function)
        elif e.function not in BUILTINS:
            self.err("V002", f"{path}.function", f"unknown function {e.function!r}", e.loc)
        for j, arg in enumerate(e.args):
            self.expr(arg, ctx, f"{path}.args[{j}]")

    def expr_IfThenElse(self, e: ir.IfThenElse, ctx: _Ctx, path: str) -> None:
        self.expr(e.condition, ctx, f"{path}.condition")
        self.expr(e.then_branch, ctx, f"{path}.then_branch")
        if e.else_branch is not None:
            self.expr(e.else_branch, ctx, f"{path}.else_branch")

    def expr_ArrayLiteral(self, e: ir.ArrayLiteral, ctx: _Ctx, path: str) -> None:
        for j, item in enumerate(e.elements):
            self.expr(item, ctx, f"{path}.elements[{j}]")

    def expr_Aggregation(self, e: ir.Aggregation, ctx: _Ctx, path: str) -> None:
        if e.aggregation_type not in AGGREGATIONS:
            self.err("V000", f"{path}.aggregation_type", f"unknown aggregation {e.aggregation_type!r}", e.loc)
        self.expr(e.start, ctx, f"{path}.start")
        self.expr(e.end, ctx, f"{path}.end")
        old = ctx.locals.get(e.var, _UNBOUND)
        ctx.locals[e.var] = None  # bound in place for the body and the filter (no copy of the scope)
        try:
            self.expr(e.body, ctx, f"{path}.body")
            if e.filter is not None:
                self.expr(e.filter, ctx, f"{path}.filter")
        finally:
            _restore(ctx.locals, e.var, old)

    def expr_Distribution(self, e: ir.Distribution, ctx: _Ctx, path: str) -> None:
        self.distribution(e, ctx, path, top=False)

    def distribution(self, d: ir.Distribution, ctx: _Ctx, path: str, *, top: bool) -> None:
        if not top:
            if d.site < 0:
                self.err("V000", f"{path}.site", "an inline distribution needs a site number >= 0", d.loc)
            elif d.site in self.sites:
                self.err("V000", f"{path}.site", f"site {d.site} is also used at {self.sites[d.site]}", d.loc)
            else:
                self.sites[d.site] = path
        self.dist_shape(d, ctx, path)

    def dist_shape(self, d: ir.Distribution, ctx: _Ctx, path: str) -> None:
        expected = DIST_PARAMS.get(d.distribution_type)
        if expected is None:
            self.err(
                "V007",
                f"{path}.distribution_type",
                f"unknown distribution {d.distribution_type!r} (one of {', '.join(DIST_PARAMS)})",
                d.loc,
            )
            return
        names = [k for k, _ in d.parameters]
        if sorted(names) != sorted(expected) or len(set(names)) != len(names):
            self.err(
                "V007",
                f"{path}.parameters",
                f"{d.distribution_type} takes parameters "
                f"({', '.join(expected) or 'none'}), got ({', '.join(names) or 'none'})",
                d.loc,
            )
            return
        for j, (key, value) in enumerate(d.parameters):
            self.expr(value, ctx, f"{path}.parameters[{j}].{key}")
        values = {k: fold.number(v) for k, v in d.parameters}
        for problem in _dist_problems(d.distribution_type, values):
            self.err("V007", f"{path}.parameters", f"{d.distribution_type}: {problem}", d.loc)
        if d.distribution_type == "Mixture":
            self.mixture(d, ctx, path)
        if d.distribution_type == "Discrete":
            self.discrete(d, path)

    def discrete(self, d: ir.Distribution, path: str) -> None:
        values = d.param("values")
        if not isinstance(values, ir.ArrayLiteral) or not values.elements or not all(
                isinstance(x, ir.Literal) and fold.number(x) is not None for x in values.elements):
            self.err("V007", f"{path}.parameters", "Discrete values must be a non-empty list of numbers", d.loc)
            return
        xs = [fold.number(x) for x in values.elements]
        if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):  # type: ignore[operator]
            self.err("V007", f"{path}.parameters", "Discrete values must be distinct and in increasing order", d.loc)
        if len(d.weights) != len(xs) or any(not (w >= 0) for w in d.weights) or \
                abs(math.fsum(d.weights) - 1.0) > 1e-6:
            self.err("V007", f"{path}.weights", f"Discrete weights must be >= 0, one per value and sum to 1, got "
                                                 f"{list(d.weights)}", d.loc)

    def mixture(self, d: ir.Distribution, ctx: _Ctx, path: str) -> None:
        if not d.components:
            self.err("V007", f"{path}.components", "a Mixture needs at least one component", d.loc)
        if len(d.weights) != len(d.components):
            self.err(
                "V007",
                f"{path}.weights",
                f"{len(d.weights)} weight(s) for {len(d.components)} component(s)",
                d.loc,
            )
        elif d.weights and (any(not (w >= 0) for w in d.weights) or abs(math.fsum(d.weights) - 1.0) > 1e-6):
            self.err(
                "V007", f"{path}.weights", f"weights must be >= 0 and sum to 1, got {list(d.weights)}", d.loc
            )
        for j, comp in enumerate(d.components):
            self.dist_shape(comp, ctx, f"{path}.components[{j}]")

    # -- names and causality --------------------------------------------------------------------

    def resolve(
        self, name: str, kind: str, kinds: tuple[str, ...], ctx: _Ctx, path: str, loc: ir.Loc
    ) -> bool:
        """Check that `name` is a model name of `kind`; record parameter dependencies of parameters."""
        if kind not in kinds:
            self.err(
                "V002",
                f"{path}.kind",
                f"unknown reference kind {kind!r} for {name!r} (one of {', '.join(kinds)})",
                loc,
            )
            return False
        if kind == "array":
            found = name in self.params or name in self.vars
        else:
            found = name in (self.params if kind == "param" else self.vars)
        if not found:
            self.err("V002", path, f"{name!r} is not a {'param or var' if kind == 'array' else kind}", loc)
            return False
        if ctx.mode == "param":
            if kind == "var" or (kind == "array" and name in self.vars):
                self.err("V002", path, f"parameter {ctx.owner!r} cannot read variable {name!r}", loc)
                return False
            self.param_edges.setdefault(ctx.owner, set()).add(name)
        return True

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


_UNBOUND = object()  # a local that was not bound before a binding (see _restore)


def _restore(scope: dict, name: str, old: object) -> None:
    """Undo one binding of `name` in `scope`: back to `old`, or unbound."""
    if old is _UNBOUND:
        scope.pop(name, None)
    else:
        scope[name] = old


def _cycles(nodes: Mapping[str, object], edges: Mapping[str, set[str]]) -> list[tuple[str, list[str]]]:
    """The back edges of a depth-first walk over `nodes` (sorted successors) as (node left, cycle closed); the
    walk keeps its own stack, so a chain of thousands of names is no deeper for Python than one of two."""
    found: list[tuple[str, list[str]]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    done = object()
    for root in nodes:
        if root in state:
            continue
        path, where = [root], {root: 0}
        state[root] = 1
        work = [iter(sorted(edges.get(root, ())))]
        while work:
            name = path[-1]
            dep = next(work[-1], done)  # type: ignore[call-overload]
            if dep is done:
                state[name] = 2
                work.pop()
                del where[path.pop()]
            elif state.get(dep) == 1:
                found.append((name, [*path[where[dep]:], dep]))
            elif state.get(dep) is None and dep in nodes:
                state[dep] = 1
                where[dep] = len(path)
                path.append(dep)
                work.append(iter(sorted(edges.get(dep, ()))))
    return found


def _dist_problems(kind: str, v: dict[str, float | None]) -> list[str]:
    """Violated parameter conditions of a distribution whose parameters are constants (V007)."""
    return lang_dists.problems(kind, v)
