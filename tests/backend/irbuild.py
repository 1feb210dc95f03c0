"""Terse construction of IR programs for backend tests: Python-syntax expressions parsed into IR nodes."""

from __future__ import annotations

import ast

from pel.ir import nodes as ir

BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.Pow: "^"}
CMPOPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
PROV = ir.Provenance(source="test", method="assumption", confidence=0.8)


class Names:
    """Which names are params, vars, arrays (everything else is a local)."""

    def __init__(self, params=(), vars=(), arrays=(), funcs=()) -> None:
        self.params, self.vars, self.arrays, self.funcs = set(params), set(vars), set(arrays), set(funcs)


def parse(text: str, names: Names, owner_locals: set[str] | None = None) -> ir.Expr:
    """An IR expression from Python syntax: `x[t-1]`, `a and b`, `b if c else d`, `**` for ^,
    `Normal(mu=1, sigma=2)` for an inline distribution, `changes(x)`, `sum(body, k, lo, hi)` aggregations."""
    return _conv(ast.parse(text, mode="eval").body, names)


def _conv(n: ast.AST, names: Names) -> ir.Expr:
    if isinstance(n, ast.Constant):
        return ir.Literal(n.value if isinstance(n.value, bool | str) else float(n.value))
    if isinstance(n, ast.Name):
        if n.id == "t":
            return ir.Ref("t", "time")
        if n.id == "T":
            return ir.Ref("T", "horizon")
        if n.id in ("true", "false"):
            return ir.Literal(n.id == "true")
        if n.id in names.params:
            return ir.Ref(n.id, "param")
        if n.id in names.vars:
            return ir.Ref(n.id, "var")
        return ir.Ref(n.id, "local")
    if isinstance(n, ast.BinOp):
        return ir.Binary(BINOPS[type(n.op)], _conv(n.left, names), _conv(n.right, names), loc=(n.lineno, 1, 1, 2))
    if isinstance(n, ast.BoolOp):
        op = "&&" if isinstance(n.op, ast.And) else "||"
        out = _conv(n.values[0], names)
        for v in n.values[1:]:
            out = ir.Binary(op, out, _conv(v, names))
        return out
    if isinstance(n, ast.Compare):
        return ir.Binary(CMPOPS[type(n.ops[0])], _conv(n.left, names), _conv(n.comparators[0], names))
    if isinstance(n, ast.UnaryOp):
        op = "!" if isinstance(n.op, ast.Not) else "-"
        return ir.Unary(op, _conv(n.operand, names))
    if isinstance(n, ast.IfExp):
        return ir.IfThenElse(_conv(n.test, names), _conv(n.body, names), _conv(n.orelse, names))
    if isinstance(n, ast.Subscript):
        name = n.value.id
        kind = "array" if name in names.arrays else "param" if name in names.params else "var"
        return ir.Index(name, kind, _conv(n.slice, names))
    if isinstance(n, ast.Call):
        fn = n.func.id
        if fn in DISTS:
            return dist(fn, **{k.arg: _conv(k.value, names) for k in n.keywords})
        if fn == "changes":
            name = n.args[0].id
            return ir.Changes(name, "param" if name in names.params else "var")
        if fn == "agg":  # agg("sum", body, "k", lo, hi[, filter])
            kind, body, var, lo, hi = n.args[:5]
            filt = _conv(n.args[5], names) if len(n.args) > 5 else None
            return ir.Aggregation(kind.value, var.value, _conv(lo, names), _conv(hi, names), _conv(body, names), filt)
        args = []
        for a in n.args:
            if isinstance(a, ast.Name) and a.id in names.vars and fn not in names.funcs and fn in SERIES_ARG:
                args.append(ir.SeriesRef(a.id, "var"))
            elif isinstance(a, ast.Name) and a.id in names.arrays:
                args.append(ir.SeriesRef(a.id, "array"))
            elif isinstance(a, ast.List):
                args.append(ir.ArrayLiteral(tuple(_conv(x, names) for x in a.elts)))
            else:
                args.append(_conv(a, names))
        return ir.Call(fn, tuple(args))
    raise ValueError(f"cannot convert {ast.dump(n)}")


SERIES_ARG = {"sum", "avg", "length", "count", "npv", "irr", "cumsum", "lag", "percentChange", "min", "max"}
DISTS = {"Normal", "LogNormal", "LogNormalNat", "Beta", "Uniform", "Triangular", "Pareto"}


def lit(value: float) -> ir.Literal:
    return ir.Literal(float(value))


def dist(kind: str, **params: ir.Expr | float) -> ir.Distribution:
    """A distribution; `LogNormalNat` is LogNormal with the natural-scale (mean, sd) reading."""
    conv = tuple((k, v if isinstance(v, ir.Expr) else lit(v)) for k, v in params.items())
    if kind == "LogNormalNat":
        return ir.Distribution("LogNormal", conv, log_space=False)
    return ir.Distribution(kind, conv)


def mixture(components: list[ir.Distribution], weights: list[float]) -> ir.Distribution:
    return ir.Distribution("Mixture", (), components=tuple(components), weights=tuple(weights))


def param(name: str, value: float | ir.Expr | None = None, dist: ir.Distribution | None = None,
          kind: str = "Fraction", unit: str = "", line: int = 1) -> ir.Param:
    v = lit(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
    if isinstance(value, bool):
        v = ir.Literal(value)
    return ir.Param(name, ir.TypeInfo(kind, kind, unit), v, dist, PROV,
                    central=float(value) if isinstance(value, int | float) else None, loc=(line, 1, line, 10))


def rule(kind: str, expr: ir.Expr, at: int | None = None, shift: int = 0, guard: ir.Expr | None = None,
         line: int = 1) -> ir.Rule:
    return ir.Rule(kind, expr, at=at, shift=shift, guard=guard, loc=(line, 1, line, 20))


def var(name: str, *rules: ir.Rule, kind: str = "Currency", series: bool = True, time_varying: bool = True,
        line: int = 1) -> ir.Var:
    return ir.Var(name, ir.TypeInfo(kind, kind), tuple(rules), series=series, time_varying=time_varying,
                  loc=(line, 1, line, 30))


def message(*parts: str | ir.Expr) -> tuple[ir.MessagePart, ...]:
    return tuple(ir.MessagePart(text=p) if isinstance(p, str) else ir.MessagePart(expr=p) for p in parts)


def constraint(name: str, cond: ir.Expr, severity: str = "fatal", msg: tuple = (), scope: ir.Scope | None = None,
               lookahead: int = 0, line: int = 1) -> ir.Constraint:
    return ir.Constraint(f"c_{name}", name, cond, severity, msg, scope or ir.Scope(), lookahead,
                         loc=(line, 1, line, 40))


def policy(name: str, trigger: ir.Expr, *actions: ir.Stmt, index: int = 0) -> ir.Policy:
    return ir.Policy(f"policy_{index}", name, trigger, "threshold", tuple(actions), loc=(1, 1, 1, 2))


def program(name: str, params: list[ir.Param], vars: list[ir.Var], *, order: list[str] | None = None,
            horizon: int = 12, source: str = "model.pel", **extra) -> ir.Program:
    model = ir.Model(name=name, time_unit="Month", time_horizon=horizon, days_per_month=30.0,
                     params=tuple(params), vars=tuple(vars),
                     order=tuple(order if order is not None else [v.name for v in vars]),
                     **{k: tuple(v) if isinstance(v, list) else v for k, v in extra.items()})
    return ir.Program("0.1.0", model, {"model_hash": f"sha256:test-{name}", "source_file": source})
