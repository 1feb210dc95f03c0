"""Hand-built IR programs for the IR tests: one rich program using every node type, and a tiny one."""

from __future__ import annotations

import dataclasses

from pel.ir import nodes as ir
from pel.ir.hashing import with_hashes

USD = ir.TypeInfo(kind="Currency", display="Currency<USD>", unit="USD", currency="USD")
USD_SERIES = dataclasses.replace(USD, display="TimeSeries<Currency<USD>>", series=True)
RATE = ir.TypeInfo(kind="Rate", display="Rate per Month", unit="1/Month", per="Month")
FRACTION = ir.TypeInfo(kind="Fraction", display="Fraction")


def lit(v: float | bool | str) -> ir.Literal:
    return ir.Literal(v)


T = ir.Ref("t", "time")


def at(name: str, offset: int = 0) -> ir.Index:
    index: ir.Expr = T if offset == 0 else ir.Binary("+" if offset > 0 else "-", T, lit(float(abs(offset))))
    return ir.Index(name, "var", index, loc=(10, 5, 10, 12))


def prov(method: str = "fitted", **kw: object) -> ir.Provenance:
    return ir.Provenance(source="finance team", method=method, confidence=0.75, **kw)


def param(name: str, value: float, **kw: object) -> ir.Param:
    return ir.Param(name, RATE, lit(value), None, prov(), central=value, value_text=str(value), **kw)


def dist_param(name: str, dist: ir.Distribution, **kw: object) -> ir.Param:
    return ir.Param(name, RATE, None, dist, prov(**kw), value_text=f"~{dist.distribution_type}(...)")


def normal(mu: float, sigma: float, site: int = -1) -> ir.Distribution:
    return ir.Distribution("Normal", (("mu", lit(mu)), ("sigma", lit(sigma))), site=site)


def rich_program() -> ir.Program:
    """Every expression, statement and declaration node type at least once, hashed."""
    growth = ir.Param(
        "growth",
        RATE,
        None,
        normal(0.05, 0.01),
        ir.Provenance(
            source="Q3 board deck «ünïcode»",
            method="fitted",
            confidence=0.8,
            freshness="P3M",
            owner="cfo",
            notes="fitted on 24 months",
            correlated_with=(("churn", 0.3),),
            extra=(("fit_method", '"MLE"'),),
        ),
        central=0.05,
        value_text="~Normal(μ=0.05, σ=0.01)",
        loc=(3, 3, 3, 40),
    )
    churn = dist_param("churn", ir.Distribution("Beta", (("alpha", lit(2.0)), ("beta", lit(48.0)))))
    mixed = dist_param(
        "mixed",
        ir.Distribution(
            "Mixture",
            (),
            components=(
                normal(1.0, 0.5),
                ir.Distribution("LogNormal", (("mu", lit(0.0)), ("sigma", lit(0.25))), log_space=False),
            ),
            weights=(0.25, 0.75),
        ),
    )
    tri = dist_param(
        "tri", ir.Distribution("Triangular", (("low", lit(1.0)), ("mode", lit(2.0)), ("high", lit(4.0))))
    )
    start = ir.Param(
        "start", USD, lit(50_000.0), None, prov("observed"), central=50_000.0, value_text="$50_000"
    )
    prices = ir.Param(
        "prices",
        ir.TypeInfo(kind="Array", display="[Currency<USD>]", unit="USD"),
        ir.ArrayLiteral((lit(1.0), lit(2.5), lit(0.1 + 0.2))),
        None,
        prov("derived"),
    )
    upside = ir.Param(
        "upside",
        RATE,
        ir.Binary("*", ir.Ref("growth", "param"), lit(2.0)),
        None,
        prov("assumption", notes="x"),
    )
    mrr = ir.Var(
        "mrr",
        USD_SERIES,
        (
            ir.Rule("initial", ir.Ref("start", "param"), at=0, loc=(5, 1, 5, 20)),
            ir.Rule(
                "shifted",
                ir.Binary(
                    "*",
                    at("mrr"),
                    ir.Binary(
                        "+",
                        lit(1.0),
                        ir.Binary(
                            "+",
                            ir.Index("growth", "param", T),
                            ir.Distribution("Normal", (("mu", lit(0.0)), ("sigma", lit(0.01))), site=0),
                        ),
                    ),
                ),
                shift=1,
            ),
            ir.Rule("literal", ir.Unary("-", lit(1.5)), at=3),
        ),
        series=True,
        time_varying=True,
        loc=(4, 1, 4, 30),
    )
    cost = ir.Var(
        "cost",
        USD_SERIES,
        (
            ir.Rule(
                "general",
                ir.IfThenElse(
                    ir.Binary(">", T, lit(0.0)),
                    ir.Call("max", (at("mrr"), at("cost", -1))),
                    ir.Index("prices", "array", ir.Binary("%", T, lit(3.0))),
                ),
            ),
        ),
        series=True,
        time_varying=True,
        mutable=True,
    )
    total = ir.Var(
        "total",
        USD,
        (
            ir.Rule(
                "scalar",
                ir.Aggregation(
                    "sum",
                    "k",
                    lit(0.0),
                    T,
                    ir.Index("mrr", "var", ir.Ref("k", "local")),
                    filter=ir.Binary(">", ir.Index("cost", "var", ir.Ref("k", "local")), lit(0.0)),
                ),
                guard=ir.Binary(">=", T, lit(0.0)),
            ),
        ),
        series=False,
        time_varying=True,
    )
    npv = ir.Var(
        "npv_value",
        USD,
        (ir.Rule("scalar", ir.Call("npv", (ir.SeriesRef("mrr", "var"), ir.Ref("churn", "param")))),),
        series=False,
        time_varying=False,
    )
    helper = ir.Func(
        "double_sum",
        ("a", "b"),
        (
            ir.Let("acc", lit(0.0)),
            ir.For(
                "i",
                lit(1.0),
                ir.Ref("b", "local"),
                (ir.Let("acc", ir.Binary("+", ir.Ref("acc", "local"), ir.Ref("i", "local"))),),
            ),
            ir.If(
                ir.Binary("&&", ir.Binary(">", ir.Ref("a", "local"), lit(0.0)), lit(True)),
                (ir.Return(ir.Binary("*", ir.Ref("acc", "local"), lit(2.0))),),
                (ir.Return(ir.Ref("a", "local")),),
            ),
        ),
        loc=(20, 1, 25, 2),
    )
    constraint = ir.Constraint(
        "constraint_0",
        "positive_mrr",
        ir.Binary(">=", ir.Index("mrr", "var", ir.Binary("+", T, lit(1.0))), lit(0.0)),
        "warning",
        (ir.MessagePart(text="MRR negative at t="), ir.MessagePart(expr=T), ir.MessagePart(text=" ✓")),
        ir.Scope("range", start=0, end=10),
        lookahead=1,
    )
    constraint2 = ir.Constraint(
        "constraint_1",
        "cash",
        ir.IfThenElse(ir.Binary(">", T, lit(2.0)), ir.Binary("<", ir.Ref("cost", "var"), lit(1e9)), None),
        "fatal",
        (ir.MessagePart(text="too costly"),),
        ir.Scope("cond", condition=ir.Binary(">=", T, ir.Ref("t_max", "horizon"))),
    )
    policy = ir.Policy(
        "policy_0",
        "boost",
        ir.Binary("||", ir.Changes("growth", "param"), ir.Binary("==", T, lit(6.0))),
        "composite",
        (
            ir.Action("multiply", "growth", "param", lit(1.1)),
            ir.If(
                ir.Binary("<", ir.Ref("mrr", "var"), lit(10.0)),
                (ir.Action("assign", "cost", "var", ir.Call("double_sum", (lit(1.0), lit(3.0)))),),
                (ir.Emit("low_cost", (("value", ir.Ref("cost", "var")), ("label", lit("ok")))),),
            ),
            ir.Emit("boosted"),
        ),
    )
    model = ir.Model(
        name="Rich",
        time_unit="Month",
        time_horizon=12,
        days_per_month=30.0,
        params=(growth, churn, mixed, tri, start, prices, upside),
        vars=(mrr, cost, total, npv),
        order=("mrr", "cost", "total", "npv_value"),
        constraints=(constraint, constraint2),
        policies=(policy,),
        funcs=(helper,),
        outputs=(
            ir.Output("mrr"),
            ir.Output("margin", ir.Binary("-", ir.Ref("mrr", "var"), ir.Ref("cost", "var"))),
        ),
        correlations=(("growth", "churn", 0.3),),
        simulate=ir.Simulate("monte_carlo", 1000, 7),
        imports=(ir.Import("stdlib.unit_econ", "econ", ("ltv",)),),
    )
    return with_hashes(
        ir.Program(ir.FORMAT_VERSION, model, {"compiler_version": "pel-0.1.0", "source_file": "rich.pel"})
    )


def tiny_program(**model_changes: object) -> ir.Program:
    """A one-var program (x[0] = a, x[t+1] = x[t] * 2), hashed after applying `model_changes`."""
    a = ir.Param("a", USD, lit(1.0), None, prov(), central=1.0)
    x = ir.Var(
        "x",
        USD_SERIES,
        (
            ir.Rule("initial", ir.Ref("a", "param"), at=0),
            ir.Rule("shifted", ir.Binary("*", at("x"), lit(2.0)), shift=1),
        ),
        series=True,
        time_varying=True,
    )
    model = ir.Model("Tiny", "Month", 6, 30.0, (a,), (x,), ("x",))
    model = dataclasses.replace(model, **model_changes)
    return with_hashes(ir.Program(ir.FORMAT_VERSION, model, {"source_file": "tiny.pel"}))
