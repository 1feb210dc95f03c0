"""Lowering of a checked AST to the unit-free IR (`pel.ir.nodes.Program`): every value becomes a per-step float."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from pel.diagnostics import CompileError, DiagnosticBag, PelError, Span, simple
from pel.frontend import ast
from pel.frontend.checker import BUILTINS, CheckedModel, DistInfo
from pel.frontend.constants import literal_value
from pel.frontend.types import LIT_UNITS, PelType, steps_in, type_text, unit_label
from pel.ir import nodes as ir
from pel.ir import timeflow
from pel.ir.fold import fold, is_number
from pel.lang import distributions as lang_dists
from pel.lang import functions as lang_funcs

COMPILER_VERSION = "pel-0.1.0"
SITE_STRIDE = 1000  # inline draw sites: owner index * SITE_STRIDE + order within the owner
# owners: variables 0.. (declaration order); constraints, policies, outputs and funcs in their own ranges
CONSTRAINT_OWNER, POLICY_OWNER, OUTPUT_OWNER, FUNC_OWNER = 100_000, 200_000, 300_000, 400_000


def lower(checked: CheckedModel, prov, bag: DiagnosticBag, *, source_file: str = "<string>") -> ir.Program:
    """Lower `checked` (with its provenance) to an IR program, and run the time analysis (pel.ir.timeflow) on it:
    its findings go into `bag` as E03xx errors (the caller stops on them), and what it found (the evaluation
    order, the whole-run variables, the constraints' lookahead and the steps of those checked once) is written
    into the program it returns."""
    lowerer = _Lowerer(checked, prov, bag, source_file)
    program = lowerer.program()
    flow = _time_analysis(lowerer, program.model, bag)
    return dataclasses.replace(program, model=timeflow.settle(program.model, flow))


def time_errors(checked: CheckedModel, prov, bag: DiagnosticBag, *, source_file: str = "<string>") -> None:
    """The time analysis of a model the checker refused (a type, name or provenance error), so that its time
    errors are listed with the others: the variables, constraints, policies and outputs are lowered one by one, and
    what cannot be lowered is left out (a variable left out is neither "never defined" nor missing an initial
    value). Lowering's own complaints are not repeated: the checker has reported the cause."""
    lowerer = _Lowerer(checked, prov, DiagnosticBag(), source_file)
    model, incomplete = lowerer.partial_model()
    _time_analysis(lowerer, model, bag, incomplete)


def _time_analysis(lowerer: _Lowerer, model: ir.Model, bag: DiagnosticBag,
                   incomplete: frozenset[str] = frozenset()) -> timeflow.Flow:
    """Run pel.ir.timeflow on freshly lowered IR; its findings go into `bag` with their E-codes."""

    def report(kind: str, message: str, loc: ir.Loc, hint: str | None, path: str) -> None:
        span = Span.from_list(lowerer.source_file, list(loc) if loc else None)
        # where the IR keeps no location precise enough (a scope; a variable's name): the source's own
        bag.error(timeflow.CODES[kind][0], message, lowerer.source_spans.get(path, span), hint)

    return timeflow.analyze(model, report, classify=True, incomplete=incomplete)


# What lowering a model the checker refused may raise (names it could not resolve, types it does not have)
_PARTIAL_FAILURES = (PelError, LookupError, AttributeError, TypeError, ValueError)


def loc_of(node: ast.Node | None) -> ir.Loc:
    if node is None or node.span is None:
        return None
    s = node.span
    return (s.line, s.col, s.end_line, s.end_col)


def type_info(t: PelType, step_unit: str = "Month") -> ir.TypeInfo:
    """IR metadata for a checker type."""
    if t.kind == "num":
        if t.base is None:
            kind = {-1: "Rate", 0: "Fraction", 1: "Duration"}[t.te]
        else:
            kind = t.base
        if t.scope and t.te == 0:
            kind = "Scoped"
    else:
        kind = {"Unknown": "Fraction"}.get(t.kind, t.kind)
    u = t.inner if t.kind == "Array" and t.inner is not None else t  # an array carries its elements' unit
    return ir.TypeInfo(
        kind=kind,
        display=type_text(t),
        unit=unit_label(u, step_unit),
        currency=u.tag if u.base == "Currency" else None,
        per=u.time if u.te == -1 else u.scope,
        entity=u.tag if u.base in ("Count", "Capacity") else None,
        series=t.series,
    )


@dataclass
class _Ctx:
    """Names in scope while lowering one expression."""

    locals: frozenset[str] = frozenset()
    time_names: tuple[str, ...] = ("t",)
    owner: int = 0  # site numbering owner
    sites: list[int] = field(default_factory=lambda: [0])

    def with_locals(self, *names: str) -> _Ctx:
        return _Ctx(self.locals | frozenset(names), self.time_names, self.owner, self.sites)


class _Lowerer:
    def __init__(self, checked: CheckedModel, prov, bag: DiagnosticBag, source_file: str) -> None:
        self.c = checked
        self.prov = prov
        self.source_spans: dict[str, Span] = {}  # IR path -> its source span, where the IR keeps a coarser one
        self.bag = bag
        self.source_file = source_file
        self.step = checked.time_unit
        self.syms = checked.symbols
        self.array_names = {n for n, t in checked.decl_types.items() if t.kind == "Array"}

    # ------------------------------------------------------------------ program
    def program(self) -> ir.Program:
        m = self.c.model
        params = tuple(self.param(p, i) for i, p in enumerate(self.params_in_order()))
        var_decls, varlist, constraints, policies, outputs, _ = self.timed_parts(partial=False)
        model = ir.Model(
            name=m.name,
            time_unit=self.step,
            time_horizon=self.c.horizon,
            days_per_month=self.c.days_per_month,
            params=params,
            vars=tuple(varlist),
            order=tuple(var_decls),  # the time analysis settles the order
            constraints=tuple(constraints),
            policies=tuple(policies),
            funcs=tuple(self.func(f, i) for i, f in enumerate(m.of(ast.FuncDecl))),
            outputs=tuple(outputs),
            correlations=tuple((a, b, float(r)) for a, b, r in self.prov.correlations),
            simulate=self.simulate(),
            scenarios=self.scenarios(),
            imports=tuple(ir.Import(i.module, i.alias, tuple(i.names)) for i in m.imports),
        )
        meta = {
            "model_hash": "",
            "compiler_version": COMPILER_VERSION,
            "source_file": self.source_file,
            "warnings": [d.to_dict() for d in self.bag.warnings],
        }
        return ir.Program(format_version=ir.FORMAT_VERSION, model=model, metadata=meta)

    def params_in_order(self) -> list[ast.ParamDecl]:
        return [p for p in self.c.model.of(ast.ParamDecl) if self.syms[p.name].node is p]

    def internal(self, msg: str, node: ast.Node | None = None) -> CompileError:
        return CompileError(simple("E9999", f"internal: {msg}", node.span if node else None))

    def partial_model(self) -> tuple[ir.Model, frozenset[str]]:
        """What the time analysis reads of a model with errors (see `time_errors`), and the variables that could
        not be lowered."""
        var_decls, varlist, constraints, policies, outputs, incomplete = self.timed_parts(partial=True)
        model = ir.Model(self.c.model.name, self.step, self.c.horizon, self.c.days_per_month, (), tuple(varlist),
                         tuple(var_decls), tuple(constraints), tuple(policies), outputs=tuple(outputs))
        return model, frozenset(incomplete)

    def timed_parts(self, *, partial: bool) -> tuple[list[str], list[ir.Var], list[ir.Constraint],
                                                     list[ir.Policy], list[ir.Output], set[str]]:
        """The parts the time analysis reads: the variables (with their names in declaration order), constraint
        clauses, policies and outputs; and the variables that could not be lowered. `partial` (a model the
        checker refused): an item that cannot be lowered is left out instead of stopping, a variable kept without
        rules. Records the source spans the IR does not keep (`source_spans`)."""
        m = self.c.model

        def attempt(lower_one, *args):  # noqa: ANN001, ANN202 - one item's lowering, or None when partial fails
            if not partial:
                return lower_one(*args)
            try:
                return lower_one(*args)
            except _PARTIAL_FAILURES:
                return None

        var_decls = [n for n, s in self.syms.items() if s.kind == "var"]
        self.rules = self.collect_rules(var_decls)
        varlist, incomplete = [], set()
        for i, name in enumerate(var_decls):
            node = self.syms[name].node
            self.source_spans[f"model.vars[{i}]"] = getattr(node, "name_span", None) or node.span
            v = attempt(self.var, name, i)
            if v is None:
                v = ir.Var(name, ir.TypeInfo("Fraction", "Fraction"), (), False, True)
                incomplete.add(name)
            varlist.append(v)
        constraints: list[ir.Constraint] = []
        number = 0
        for decl in m.of(ast.ConstraintDecl):
            for k, clause in enumerate(decl.clauses):
                c = attempt(self.constraint, decl, clause, k, number)
                number += 1
                if c is None:
                    continue
                if decl.scope is not None:
                    self.source_spans[f"model.constraints[{len(constraints)}].scope"] = decl.scope.span
                constraints.append(c)
        policies = [p for i, d in enumerate(m.of(ast.PolicyDecl)) if (p := attempt(self.policy, d, i)) is not None]
        outputs = [o for d in m.of(ast.OutputDecl) for item in d.items if (o := attempt(self.output, item)) is not None]
        return var_decls, varlist, constraints, policies, outputs, incomplete

    # ------------------------------------------------------------------ params
    def param(self, p: ast.ParamDecl, index: int) -> ir.Param:
        t = self.c.decl_types[p.name]
        provenance = self.prov.by_name.get(p.name)
        if provenance is None:
            raise self.internal(f"parameter '{p.name}' reached lowering without provenance", p)
        factor = self.c.coercions.get(id(p.value), 1.0)
        ctx = _Ctx(owner=-1)
        value_text = ast.source_text(p.value)
        if id(p.value) in self.c.dists:
            dist = self.distribution(self.c.dists[id(p.value)], ctx, factor, site=-1)
            return ir.Param(p.name, type_info(t, self.step), None, dist, provenance,
                            central=self.central(dist), value_text=value_text, loc=loc_of(p))
        value = self.scale(self.expr(p.value, ctx), factor)
        central = value.value if isinstance(value, ir.Literal) and is_number(value.value) else None
        return ir.Param(p.name, type_info(t, self.step), value, None, provenance,
                        central=None if central is None else float(central), value_text=value_text,
                        loc=loc_of(p))

    def scenarios(self) -> tuple[ir.Scenario, ...]:
        """Each scenario's entries lowered as their parameters' declarations would be with that value."""
        decls = {p.name: p for p in self.params_in_order()}
        out = []
        for sc in self.c.model.of(ast.ScenarioDecl):
            params = []
            for e in sc.entries:
                decl = decls[e.name]
                form = "~" if isinstance(e.value, ast.Dist) else None
                stand_in = ast.ParamDecl(e.span, e.name, decl.type, e.value, decl.provenance, form, e.name_span)
                params.append(self.param(stand_in, -1))
            out.append(ir.Scenario(sc.name, tuple(params), loc_of(sc)))
        return tuple(out)

    def scale(self, e: ir.Expr, factor: float) -> ir.Expr:
        if factor == 1.0:
            return e
        return fold(ir.Binary("*", e, ir.Literal(float(factor)), getattr(e, "loc", None)))

    # ------------------------------------------------------------------ distributions
    def distribution(self, info: DistInfo, ctx: _Ctx, factor: float, site: int) -> ir.Distribution:
        loc = loc_of(info.node)
        if info.dist == "Mixture":
            comps = tuple(self.distribution(c, ctx, factor, site=-1) for c in info.components)
            return ir.Distribution("Mixture", (), True, comps, tuple(info.weights), site, loc)
        if info.dist == "Discrete":  # sorted by value, so that the quantile function is monotone
            lit = self.expr(info.params[0][1], ctx)
            assert isinstance(lit, ir.ArrayLiteral)
            merged: dict[float, float] = {}  # a value listed twice has the sum of its weights
            for x, w in zip(lit.elements, info.weights, strict=True):
                v = float(fold(self.scale(x, factor)).value)  # type: ignore[attr-defined]
                merged[v] = merged.get(v, 0.0) + w
            pairs = sorted(merged.items())
            values = ir.ArrayLiteral(tuple(ir.Literal(v) for v, _ in pairs), lit.loc)
            return ir.Distribution("Discrete", (("values", values),), True, (), tuple(w for _, w in pairs), site,
                                   loc)
        params = [(n, self.expr(v, ctx)) for n, v in info.params]
        log_space = info.log_space if info.dist == "LogNormal" else True
        if factor != 1.0:
            params = self.scale_params(info.dist, params, factor, log_space)
        return ir.Distribution(info.dist, tuple(params), log_space, (), (), site, loc)

    def scale_params(self, dist: str, params: list[tuple[str, ir.Expr]], factor: float,
                     log_space: bool) -> list[tuple[str, ir.Expr]]:
        """The parameters of a distribution whose draws are converted by `factor` (the language table says how
        each parameter scales)."""
        if dist == "LogNormal" and log_space:
            return [(n, fold(ir.Binary("+", v, ir.Literal(math.log(factor)))) if n == "mu" else v)
                    for n, v in params]
        spec = lang_dists.DISTRIBUTIONS[dist]
        if not spec.rescalable:
            raise self.internal(f"{dist} distribution cannot be rescaled")
        how = {p.name: p.scales for p in spec.params}
        return [(n, self.scale(v, factor) if how[n] == "linear"
                 else self.scale(v, 1.0 / factor) if how[n] == "inverse" else v) for n, v in params]

    def central(self, d: ir.Distribution) -> float | None:
        """The deterministic-mode value of a distribution with constant arguments (the language table's)."""
        if d.distribution_type == "Mixture":
            vals = [self.central(c) for c in d.components]
            if any(v is None for v in vals):
                return None
            return float(sum(w * v for w, v in zip(d.weights, vals, strict=True)))
        if d.distribution_type == "Discrete":  # the expected value
            values = d.param("values")
            return float(math.fsum(w * float(x.value) for x, w in zip(values.elements, d.weights, strict=True)))
        p = {}
        for name, value in d.parameters:
            if not isinstance(value, ir.Literal) or not is_number(value.value):
                return None
            p[name] = float(value.value)
        return lang_dists.central(d.distribution_type, p, d.log_space)

    # ------------------------------------------------------------------ vars
    def collect_rules(self, names: list[str]) -> dict[str, list[ast.Node]]:
        """Each variable's defining nodes, in source order: its declaration's value, then its series rules."""
        rules: dict[str, list[ast.Node]] = {n: [] for n in names}
        for item in self.c.model.items:
            if isinstance(item, ast.VarDecl) and item.value is not None and item.name in rules:
                rules[item.name].append(item)
            elif isinstance(item, ast.SeriesRule) and item.name in rules:
                rules[item.name].append(item)
        return rules

    def var(self, name: str, index: int) -> ir.Var:
        sym = self.syms[name]
        t = self.c.decl_types[name]
        nodes = self.rules.get(name, [])
        rules = tuple(self.rule(name, n, _Ctx(owner=index, time_names=_time_names(n))) for n in nodes)
        series = t.series or any(r.kind not in ("scalar", "once") for r in rules)
        mutable = bool(getattr(sym.node, "mutable", False))
        return ir.Var(name, type_info(t, self.step), rules, series, True, mutable, loc_of(sym.node))

    def rule(self, name: str, node: ast.Node, ctx: _Ctx) -> ir.Rule:
        value = self.scale(self.expr(node.value, ctx), self.c.coercions.get(id(node.value), 1.0))
        guard = self.expr(node.guard, ctx) if getattr(node, "guard", None) is not None else None
        pattern = node.index
        loc = loc_of(node)
        if pattern is None:  # per step, or once for a whole-run value (the time analysis settles which)
            return ir.Rule("scalar", value, guard=guard, loc=loc)
        if pattern.literal is not None:
            kind = "initial" if pattern.literal == 0 else "literal"
            return ir.Rule(kind, value, at=pattern.literal, guard=guard, loc=loc)
        if pattern.offset == 0:
            return ir.Rule("general", value, guard=guard, loc=loc)
        if pattern.offset < 0:
            raise CompileError(simple("E0300", f"rule `{name}[t{pattern.offset}]` defines a past step",
                                      node.span, f"write `{name}[t] = …` with the right side shifted"))
        return ir.Rule("shifted", value, shift=pattern.offset, guard=guard, loc=loc)

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ast.Expr, ctx: _Ctx) -> ir.Expr:  # noqa: C901
        loc = loc_of(e)
        if isinstance(e, ast.Number | ast.Money | ast.Percent):
            return ir.Literal(float(e.value), loc)
        if isinstance(e, ast.DurationLit):
            return ir.Literal(float(e.amount * steps_in(LIT_UNITS[e.unit], self.step, self.c.days_per_month)),
                              loc)
        if isinstance(e, ast.String | ast.Bool):
            return ir.Literal(e.value, loc)
        if isinstance(e, ast.Name):
            return self.ref(e.id, ctx, loc)
        if isinstance(e, ast.Index):
            return self.index(e, ctx)
        if isinstance(e, ast.Member):
            return self.member(e)
        if isinstance(e, ast.Binary):
            first, nodes = ast.left_spine(e)  # a chain, bottom-up in a loop
            left = self.expr(first, ctx)
            for node in nodes:
                right, at = self.expr(node.right, ctx), loc_of(node)
                if node.op == "implies":
                    left = fold(ir.Binary("||", fold(ir.Unary("!", left, at)), right, at))
                else:
                    left = fold(ir.Binary(node.op, left, right, at))
            return left
        if isinstance(e, ast.Unary):
            operand = self.expr(e.operand, ctx)
            return operand if e.op == "+" else fold(ir.Unary(e.op, operand, loc))
        if isinstance(e, ast.IfExpr):
            return fold(ir.IfThenElse(self.expr(e.cond, ctx), self.expr(e.then, ctx),
                                      self.expr(e.else_, ctx) if e.else_ is not None else None, loc))
        if id(e) in self.c.dists:
            ctx.sites[0] += 1
            site = ctx.owner * SITE_STRIDE + ctx.sites[0] - 1 if ctx.owner >= 0 else ctx.owner
            return self.distribution(self.c.dists[id(e)], ctx, 1.0, site)
        if isinstance(e, ast.Call):
            return self.call(e, ctx)
        if isinstance(e, ast.Comprehension):
            inner = ctx.with_locals(e.var)
            func = "avg" if e.func == "mean" else ("count" if e.func == "length" else e.func)
            return ir.Aggregation(func, e.var, self.expr(e.start, ctx), self.expr(e.end, ctx),
                                  self.expr(e.body, inner),
                                  self.expr(e.cond, inner) if e.cond is not None else None, loc)
        if isinstance(e, ast.ArrayLit):
            return ir.ArrayLiteral(tuple(self.expr(x, ctx) for x in e.elements), loc)
        if isinstance(e, ast.RangeExpr):
            lo, hi = literal_value(e.start), literal_value(e.end)
            if lo is None or hi is None:
                raise CompileError(simple("E0100", "a range used as a value needs literal bounds", e.span))
            return ir.ArrayLiteral(tuple(ir.Literal(float(i)) for i in range(int(lo), int(hi) + 1)), loc)
        if isinstance(e, ast.Cast):
            value = self.expr(e.value, ctx)
            if e.with_ is not None:
                return fold(ir.Binary("*", value, self.expr(e.with_.args[0], ctx), loc))
            return value
        if isinstance(e, ast.Changes):
            name = e.operand.id
            return ir.Changes(name, self.syms[name].kind, loc)
        if isinstance(e, ast.BlockExpr):
            return self.block(e, ctx)
        raise self.internal(f"cannot lower {type(e).__name__}", e)

    def ref(self, name: str, ctx: _Ctx, loc: ir.Loc) -> ir.Expr:
        if name in ctx.locals:
            return ir.Ref(name, "local", loc)
        if name in ctx.time_names:
            return ir.Ref("t", "time", loc)
        sym = self.syms.get(name)
        if sym is not None and sym.kind in ("param", "var"):
            return ir.Ref(name, sym.kind, loc)
        if name in ("t_max", "time_horizon"):
            return ir.Ref(name, "horizon", loc)
        raise self.internal(f"unresolved name '{name}'")

    def index(self, e: ast.Index, ctx: _Ctx) -> ir.Expr:
        loc = loc_of(e)
        idx = self.expr(e.index, ctx)
        if isinstance(e.base, ast.Name):
            name = e.base.id
            if name in ctx.locals:
                return ir.Index(name, "array", idx, loc)
            sym = self.syms.get(name)
            if sym is not None and sym.kind in ("param", "var"):
                if name in self.array_names:
                    return ir.Index(name, "array", idx, loc)
                return ir.Index(name, sym.kind, idx, loc)
        raise CompileError(simple("E0100", "only a named series, parameter or array can be indexed", e.span))

    def member(self, e: ast.Member) -> ir.Expr:
        if isinstance(e.base, ast.Name):
            sym = self.syms.get(e.base.id)
            if sym is not None and sym.kind == "enum":
                return ir.Literal(float(sym.node.variants.index(e.attr)), loc_of(e))
        raise CompileError(simple("E0100", "record members are not supported by the runtime yet", e.span))

    def call(self, e: ast.Call, ctx: _Ctx) -> ir.Expr:
        fname = self.c.call_targets.get(id(e), e.func.id)  # an overload chosen by its argument types
        loc = loc_of(e)
        if fname in self.c.funcs:
            f = self.c.funcs[fname]
            names = [p.name for p in f.params]
            given = dict(zip(names, e.args, strict=False))
            given.update({k.name: k.value for k in e.kwargs})
            return ir.Call(fname, tuple(self.expr(given[n], ctx) for n in names), loc)
        if fname not in BUILTINS:
            raise self.internal(f"unknown function '{fname}'", e)
        fname = lang_funcs.canonical(fname)
        kinds = lang_funcs.get(fname).kinds
        args = []
        for i, a in enumerate(e.args):
            series_arg = i < len(kinds) and kinds[i] in (lang_funcs.SERIES, lang_funcs.VAR, lang_funcs.TRACKED)
            if series_arg and self.whole_series(a, ctx, fname, e):
                args.append(ir.SeriesRef(a.id, self.series_kind(a.id), loc_of(a)))
            else:
                args.append(self.expr(a, ctx))
        return ir.Call(fname, tuple(args), loc)

    def whole_series(self, a: ast.Expr, ctx: _Ctx, fname: str, call: ast.Call) -> bool:
        if not isinstance(a, ast.Name) or a.id in ctx.locals or a.id not in self.syms:
            return False
        if fname in ("min", "max") and len(call.args) != 1:
            return False
        t = self.c.decl_types.get(a.id)
        return t is not None and (t.series or t.kind == "Array")

    def series_kind(self, name: str) -> str:
        if name in self.array_names:
            return "array"
        return self.syms[name].kind

    def block(self, e: ast.BlockExpr, ctx: _Ctx) -> ir.Expr:
        """A block expression becomes a synthesized func of the enclosing locals (and t)."""
        raise CompileError(simple("E0100", "block expressions are not supported by the runtime yet", e.span,
                                  "declare a `func` and call it"))

    # ------------------------------------------------------------------ statements
    def stmts(self, body: tuple[ast.Stmt, ...], ctx: _Ctx) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for s in body:
            lowered, ctx = self.stmt(s, ctx)
            if lowered is not None:
                out.append(lowered)
        return tuple(out)

    def stmt(self, s: ast.Stmt, ctx: _Ctx) -> tuple[ir.Stmt | None, _Ctx]:
        loc = loc_of(s)
        if isinstance(s, ast.LetStmt):
            value = self.expr(s.value, ctx) if s.value is not None else ir.Literal(0.0)
            return ir.Let(s.name, value, loc), ctx.with_locals(s.name)
        if isinstance(s, ast.AssignStmt):
            name = s.target.id
            value = self.expr(s.value, ctx)
            if s.op != "=":
                op = s.op[0]
                value = ir.Binary(op, ir.Ref(name, "local"), value, loc)
            return ir.Let(name, value, loc), ctx
        if isinstance(s, ast.IfStmt):
            return ir.If(self.expr(s.cond, ctx), self.stmts(s.then, ctx), self.stmts(s.else_, ctx), loc), ctx
        if isinstance(s, ast.ForStmt):
            return ir.For(s.var, self.expr(s.start, ctx), self.expr(s.end, ctx),
                          self.stmts(s.body, ctx.with_locals(s.var)), loc), ctx
        if isinstance(s, ast.ReturnStmt):
            value = self.expr(s.value, ctx) if s.value is not None else ir.Literal(0.0)
            return ir.Return(value, loc), ctx
        if isinstance(s, ast.ExprStmt):
            return None, ctx
        raise self.internal(f"cannot lower statement {type(s).__name__}", s)

    def func(self, f: ast.FuncDecl, index: int) -> ir.Func:
        names = tuple(p.name for p in f.params)
        ctx = _Ctx(locals=frozenset(names), time_names=(), owner=FUNC_OWNER + index)
        return ir.Func(f.name, names, self.stmts(f.body, ctx), loc_of(f))

    # ------------------------------------------------------------------ constraints
    def constraint(self, decl: ast.ConstraintDecl, clause: ast.ConstraintClause, k: int, number: int
                   ) -> ir.Constraint:
        ctx = _Ctx(owner=CONSTRAINT_OWNER + number)
        name = decl.name if len(decl.clauses) == 1 else f"{decl.name}_{k + 1}"
        condition = self.expr(clause.condition, ctx)
        severity = clause.severity or "fatal"
        parts = []
        for part in self.c.messages.get(id(clause), []):
            if isinstance(part, str):
                parts.append(ir.MessagePart(text=part))
            else:
                parts.append(ir.MessagePart(expr=self.expr(part, ctx)))
        if clause.message is not None and not parts:
            parts.append(ir.MessagePart(text=clause.message))
        return ir.Constraint(
            constraint_id=f"constraint_{number}",
            name=name,
            condition=condition,
            severity=severity,
            message=tuple(parts),
            scope=self.scope(decl.scope, ctx),
            lookahead=0,  # the time analysis settles it
            loc=loc_of(clause),
        )

    def scope(self, scope: ast.Scope | None, ctx: _Ctx) -> ir.Scope:
        if scope is None or scope.kind in ("all", "entity"):
            return ir.Scope("all")  # a whole-run condition is checked once: the time analysis settles when
        if scope.kind == "range":
            lo = literal_value(scope.start) if scope.start is not None else 0.0
            hi = literal_value(scope.end) if scope.end is not None else float(self.c.horizon)
            if lo is None or hi is None:
                raise CompileError(simple("E0502", "a constraint range needs literal bounds", scope.span))
            return ir.Scope("range", start=int(lo), end=int(hi))
        return ir.Scope("cond", condition=self.expr(scope.cond, ctx))

    # ------------------------------------------------------------------ policies
    def policy(self, p: ast.PolicyDecl, i: int) -> ir.Policy:
        ctx = _Ctx(owner=POLICY_OWNER + i)
        return ir.Policy(f"policy_{i}", p.name, self.expr(p.trigger, ctx), _trigger_type(p.trigger, self.c),
                         self.actions(p.actions, ctx), loc_of(p))

    def actions(self, actions: tuple[ast.Stmt, ...], ctx: _Ctx) -> tuple[ir.Stmt, ...]:
        out: list[ir.Stmt] = []
        for a in actions:
            loc = loc_of(a)
            if isinstance(a, ast.EmitStmt):
                out.append(ir.Emit(a.event, tuple((k.name, self.expr(k.value, ctx)) for k in a.args), loc))
            elif isinstance(a, ast.IfStmt):
                out.append(ir.If(self.expr(a.cond, ctx), self.actions(a.then, ctx), self.actions(a.else_, ctx),
                                 loc))
            else:
                out.append(self.action(a, ctx))
        return tuple(out)

    def action(self, a: ast.AssignStmt, ctx: _Ctx) -> ir.Action:
        target = a.target.base if isinstance(a.target, ast.Index) else a.target
        name = target.id
        kind = self.syms[name].kind
        value = self.scale(self.expr(a.value, ctx), self.c.coercions.get(id(a.value), 1.0))
        loc = loc_of(a)
        if a.op == "=":
            return ir.Action("assign", name, kind, value, loc)
        if a.op == "*=":
            return ir.Action("multiply", name, kind, value, loc)
        if a.op == "/=":
            return ir.Action("multiply", name, kind, fold(ir.Binary("/", ir.Literal(1.0), value)), loc)
        if a.op == "+=":
            return ir.Action("add", name, kind, value, loc)
        if a.op == "-=":
            return ir.Action("add", name, kind, fold(ir.Unary("-", value)), loc)
        raise self.internal(f"unknown action operator {a.op}", a)

    # ------------------------------------------------------------------ directives
    def output(self, item: ast.OutputItem) -> ir.Output:
        return ir.Output(item.name, self.expr(item.value, _Ctx(owner=OUTPUT_OWNER)) if item.value is not None
                         else None)

    def simulate(self) -> ir.Simulate:
        sims = self.c.model.of(ast.SimulateDecl)
        if not sims:
            return ir.Simulate()
        s = sims[0]
        runs = literal_value(s.runs)
        seed = literal_value(s.seed)
        return ir.Simulate(s.mode, int(runs) if runs is not None else None, int(seed) if seed is not None else None)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _time_names(node: ast.Node) -> tuple[str, ...]:
    pattern = getattr(node, "index", None)
    if pattern is None or pattern.literal is not None or pattern.var == "t":
        return ("t",)
    return ("t", pattern.var)


def _trigger_type(e: ast.Expr, checked: CheckedModel) -> str:
    if isinstance(e, ast.Binary) and e.op in ("&&", "||"):
        first, nodes = ast.left_spine(e, ("&&", "||"))
        kinds = {_trigger_type(x, checked) for x in [first, *(n.right for n in nodes)]}
        return kinds.pop() if len(kinds) == 1 else "composite"
    names = [n for n in e.walk() if isinstance(n, ast.Name | ast.Changes)]
    if any(isinstance(n, ast.Changes) for n in names):
        return "event"
    model_names = [n for n in names if isinstance(n, ast.Name) and n.id in checked.symbols
                   and checked.symbols[n.id].kind in ("param", "var")]
    return "threshold" if model_names else "time"
