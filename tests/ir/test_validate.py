"""IR validation: a sound program passes; each kind of hand-broken IR is refused with its V-code."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pel.diagnostics import IRError
from pel.ir import nodes as ir
from pel.ir.hashing import with_hashes
from pel.ir.serialize import dumps_json, loads_json, to_dict
from pel.ir.validate import validate
from tests.ir.ir_samples import RATE, USD_SERIES, at, lit, normal, prov, rich_program, tiny_program

T = ir.Ref("t", "time")


def codes(program: ir.Program) -> list[str]:
    with pytest.raises(IRError) as info:
        validate(program)
    return [d.code for d in info.value.diagnostics]


def rich(**changes: object) -> ir.Program:
    program = rich_program()
    return with_hashes(dataclasses.replace(program, model=dataclasses.replace(program.model, **changes)))


def test_sound_programs_pass() -> None:
    validate(rich_program())
    validate(tiny_program())


def test_all_problems_are_listed_together() -> None:
    program = rich_program()
    bad_policy = dataclasses.replace(program.model.policies[0], policy_id="boost")
    found = codes(rich(time_unit="Fortnight", policies=(bad_policy,), order=("mrr",)))
    assert {"V000", "V015", "V001"} <= set(found)


# -- V012 / V013 hashes ------------------------------------------------------------------------------


def test_tampered_value_fails_the_hash_check() -> None:
    data = to_dict(rich_program())
    data["model"]["params"][4]["value"]["value"] = 60000.0  # start: $50_000 -> $60_000 by hand
    with pytest.raises(IRError) as info:
        loads_json(json.dumps(data), file="edited.ir.json")
    assert info.value.code == "V012"
    assert "edited or corrupted" in str(info.value)


def test_missing_or_malformed_hash_is_refused() -> None:
    program = tiny_program()
    assert codes(dataclasses.replace(program, metadata={})) == ["V012"]
    assert codes(dataclasses.replace(program, metadata={"model_hash": "md5:1"})) == ["V012"]


def test_tampered_provenance_fails_the_assumption_hash() -> None:
    program = tiny_program()
    meta = {**program.metadata, "assumption_hash": "sha256:" + "0" * 64}
    assert codes(dataclasses.replace(program, metadata=meta)) == ["V013"]


# -- V002 names ---------------------------------------------------------------------------------------


def test_dangling_var_reference() -> None:
    x = tiny_program().model.vars[0]
    rule = ir.Rule("shifted", ir.Binary("*", at("ghost"), lit(2.0)), shift=1, loc=(7, 3, 7, 20))
    bad = dataclasses.replace(x, rules=(x.rules[0], rule))
    program = tiny_program(vars=(bad,))
    with pytest.raises(IRError) as info:
        validate(program)
    diag = info.value.diagnostics[0]
    assert diag.code == "V002"
    assert "model.vars[0].rules[1].expr.left: 'ghost' is not a var" in diag.message
    assert diag.span is not None and (diag.span.file, diag.span.line) == ("tiny.pel", 10)


@pytest.mark.parametrize(
    "expr",
    [
        ir.Ref("nope", "param"),
        ir.Ref("a", "var"),  # a is a param, read as a var
        ir.Ref("k", "local"),  # no local in scope
        ir.Call("mystery", (lit(1.0),)),
        ir.SeriesRef("nope", "var"),
        ir.Changes("nope", "var"),
        ir.Index("a", "weird", T),
    ],
)
def test_unresolved_names(expr: ir.Expr) -> None:
    x = tiny_program().model.vars[0]
    bad = dataclasses.replace(x, rules=(x.rules[0], ir.Rule("shifted", expr, shift=1)))
    assert "V002" in codes(tiny_program(vars=(bad,)))


def test_user_function_arity_and_dangling_action_target() -> None:
    program = rich_program()
    pol = program.model.policies[0]
    bad_pol = dataclasses.replace(pol, actions=(ir.Action("assign", "ghost", "var", lit(1.0)),))
    found = codes(rich(policies=(bad_pol,), outputs=(ir.Output("ghost"),)))
    assert found.count("V002") == 2


def test_param_cannot_read_a_variable() -> None:
    p = dataclasses.replace(tiny_program().model.params[0], value=ir.Index("x", "var", lit(0.0)))
    assert "V002" in codes(tiny_program(params=(p,)))


def test_duplicate_names() -> None:
    a = tiny_program().model.params[0]
    assert "V002" in codes(tiny_program(params=(a, a)))


# -- V001 cycles and order ----------------------------------------------------------------------------


def _two_vars(expr_y: ir.Expr, expr_z: ir.Expr, order: tuple[str, ...]) -> ir.Program:
    y = ir.Var("y", USD_SERIES, (ir.Rule("general", expr_y),), series=True, time_varying=True)
    z = ir.Var("z", USD_SERIES, (ir.Rule("general", expr_z),), series=True, time_varying=True)
    return tiny_program(vars=(*tiny_program().model.vars, y, z), order=("x", *order))


def test_same_step_cycle_is_refused() -> None:
    assert codes(_two_vars(at("z"), at("y"), ("y", "z"))) == ["V001"]


def test_self_reference_is_refused() -> None:
    assert codes(_two_vars(ir.Binary("+", at("y"), lit(1.0)), lit(0.0), ("y", "z"))) == ["V001"]


def test_order_must_follow_dependencies() -> None:
    validate(_two_vars(at("z"), lit(1.0), ("z", "y")))
    assert codes(_two_vars(at("z"), lit(1.0), ("y", "z"))) == ["V001"]


def test_lagged_references_create_no_edge() -> None:
    validate(_two_vars(at("z", -1), ir.Binary("+", ir.Ref("y", "var"), lit(1.0)), ("y", "z")))


def test_aggregation_up_to_t_is_a_same_step_read() -> None:
    agg = ir.Aggregation("sum", "k", lit(0.0), T, ir.Index("z", "var", ir.Ref("k", "local")))
    validate(_two_vars(agg, lit(1.0), ("z", "y")))
    assert codes(_two_vars(agg, lit(1.0), ("y", "z"))) == ["V001"]


def test_order_must_list_every_variable() -> None:
    assert codes(tiny_program(order=())) == ["V001"]
    assert codes(tiny_program(order=("x", "x"))) == ["V001"]


def test_parameter_cycle_and_recursive_function() -> None:
    base = tiny_program().model.params[0]
    p = dataclasses.replace(base, name="p", value=ir.Ref("q", "param"))
    q = dataclasses.replace(base, name="q", value=ir.Ref("p", "param"))
    assert "V001" in codes(tiny_program(params=(base, p, q)))
    f = ir.Func("f", ("n",), (ir.Return(ir.Call("f", (ir.Ref("n", "local"),))),))
    assert codes(tiny_program(funcs=(f,))) == ["V001"]


# -- V004 / V005 correlations ------------------------------------------------------------------------


def _correlated(pairs: tuple[tuple[str, str, float], ...]) -> ir.Program:
    params = tuple(ir.Param(n, RATE, None, normal(0.0, 1.0), prov()) for n in ("a", "b", "c"))
    return tiny_program(params=params, correlations=pairs, vars=(), order=())


def test_psd_correlation_matrix_passes() -> None:
    validate(_correlated((("a", "b", 0.5), ("a", "c", 0.5), ("b", "c", 0.5))))


def test_non_psd_correlation_matrix_is_refused() -> None:
    found = codes(_correlated((("a", "b", 0.9), ("a", "c", 0.9), ("b", "c", -0.9))))
    assert found == ["V004"]


def test_correlation_out_of_range_is_refused() -> None:
    assert codes(_correlated((("a", "b", 1.5),))) == ["V005"]
    p = ir.Param("a", RATE, None, normal(0.0, 1.0), prov(correlated_with=(("b", -2.0),)))
    b = ir.Param("b", RATE, None, normal(0.0, 1.0), prov())
    assert codes(tiny_program(params=(p, b), vars=(), order=())) == ["V005"]


def test_conflicting_and_unknown_correlations() -> None:
    assert codes(_correlated((("a", "b", 0.5), ("a", "b", 0.6)))) == ["V004"]
    assert codes(_correlated((("a", "zz", 0.5),))) == ["V002"]


# -- V006 / V014 time -----------------------------------------------------------------------------------


def test_future_read_in_a_rule_is_refused() -> None:
    found = codes(_two_vars(ir.Binary("*", at("y", 1), lit(0.9)), lit(1.0), ("y", "z")))
    assert found == ["V006"]


def test_shifted_rule_may_read_its_own_step() -> None:
    x = tiny_program().model.vars[0]
    ok = ir.Rule("shifted", ir.Binary("+", at("x"), at("z", 1)), shift=1)  # x[t+1] = x[t] + z[t+1]
    z = ir.Var("z", USD_SERIES, (ir.Rule("general", lit(1.0)),), series=True, time_varying=True)
    validate(tiny_program(vars=(dataclasses.replace(x, rules=(x.rules[0], ok)), z), order=("z", "x")))
    bad = ir.Rule("shifted", ir.Binary("+", at("x"), at("z", 2)), shift=1)
    found = codes(tiny_program(vars=(dataclasses.replace(x, rules=(x.rules[0], bad)), z), order=("z", "x")))
    assert found == ["V006"]


def test_constraint_lookahead_bounds_future_reads() -> None:
    program = rich_program()
    c = dataclasses.replace(program.model.constraints[0], lookahead=0)
    assert codes(rich(constraints=(c, program.model.constraints[1]))) == ["V006"]


def test_literal_index_beyond_horizon_is_refused() -> None:
    c = ir.Constraint(
        "constraint_0",
        "late",
        ir.Binary(">", ir.Index("x", "var", lit(40.0)), lit(0.0)),
        "fatal",
        (),
        ir.Scope(),
    )
    assert codes(tiny_program(constraints=(c,))) == ["V014"]
    x = tiny_program().model.vars[0]
    late = dataclasses.replace(x, rules=(*x.rules, ir.Rule("literal", lit(1.0), at=99)))
    assert codes(tiny_program(vars=(late,))) == ["V014"]
    assert "V014" in codes(tiny_program(time_horizon=-1))


def test_recurrence_without_initial_value_is_refused() -> None:
    x = tiny_program().model.vars[0]
    assert codes(tiny_program(vars=(dataclasses.replace(x, rules=(x.rules[1],)),))) == ["V000"]


# -- V007 distributions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dist",
    [
        normal(0.0, -1.0),
        normal(0.0, 0.0),
        ir.Distribution("Normal", (("mu", lit(0.0)), ("sigma", ir.Unary("-", lit(1.0))))),
        ir.Distribution("Beta", (("alpha", lit(0.0)), ("beta", lit(1.0)))),
        ir.Distribution("Uniform", (("low", lit(2.0)), ("high", lit(1.0)))),
        ir.Distribution("Triangular", (("low", lit(1.0)), ("mode", lit(5.0)), ("high", lit(4.0)))),
        ir.Distribution("Pareto", (("xm", lit(-1.0)), ("alpha", lit(2.0)))),
        ir.Distribution("Normal", (("mean", lit(0.0)), ("sigma", lit(1.0)))),
        ir.Distribution("Cauchy", (("x0", lit(0.0)),)),
        ir.Distribution("Mixture", (), components=(normal(0.0, 1.0), normal(1.0, 1.0)), weights=(0.5, 0.6)),
        ir.Distribution("Mixture", (), components=(normal(0.0, 1.0),), weights=()),
        ir.Distribution("Mixture", (), components=(normal(0.0, -1.0),), weights=(1.0,)),
    ],
)
def test_bad_distribution_parameters(dist: ir.Distribution) -> None:
    p = ir.Param("a", RATE, None, dist, prov())
    x = tiny_program().model.vars[0]
    assert codes(tiny_program(params=(p,), vars=(x,))) == ["V007"]


def test_inline_distribution_needs_a_unique_site() -> None:
    x = tiny_program().model.vars[0]
    d0 = normal(0.0, 1.0, site=0)
    rule = ir.Rule("shifted", ir.Binary("+", d0, ir.Binary("+", normal(0.0, 1.0, site=0), at("x"))), shift=1)
    assert codes(tiny_program(vars=(dataclasses.replace(x, rules=(x.rules[0], rule)),))) == ["V000"]


# -- V011 / V015 / structure ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "scope",
    [
        ir.Scope("range", start=5, end=2),
        ir.Scope("range", start=0, end=7),
        ir.Scope("range", start=-1, end=3),
        ir.Scope("specific", timestep=9),
        ir.Scope("cond"),
        ir.Scope("sometimes"),
    ],
)
def test_bad_constraint_scope(scope: ir.Scope) -> None:
    c = ir.Constraint("constraint_0", "c", ir.Binary(">", ir.Ref("x", "var"), lit(0.0)), "fatal", (), scope)
    assert codes(tiny_program(constraints=(c,))) == ["V011"]


def test_policy_ids_follow_declaration_order() -> None:
    program = rich_program()
    pol = program.model.policies[0]
    assert codes(rich(policies=(pol, pol))) == ["V015"]


def test_structural_enums() -> None:
    program = rich_program()
    c = dataclasses.replace(program.model.constraints[1], severity="error")
    assert codes(rich(constraints=(program.model.constraints[0], c))) == ["V000"]
    x = tiny_program().model.vars[0]
    odd = dataclasses.replace(x, rules=(x.rules[0], dataclasses.replace(x.rules[1], kind="sometimes")))
    assert codes(tiny_program(vars=(odd,))) == ["V000"]
    two = dataclasses.replace(x, rules=(*x.rules, ir.Rule("general", lit(1.0))))
    assert codes(tiny_program(vars=(two,))) == ["V000"]


def test_bad_provenance() -> None:
    base = tiny_program().model.params[0]
    for changes in ({"confidence": 1.5}, {"method": "guess"}, {"freshness": "3 months"}, {"freshness": "P"}):
        p = dataclasses.replace(base, provenance=dataclasses.replace(base.provenance, **changes))
        assert codes(tiny_program(params=(p,))) == ["V003"], changes


def test_validation_errors_render_with_codes() -> None:
    program = _two_vars(at("z"), at("y"), ("y", "z"))
    text = dumps_json(program)
    with pytest.raises(IRError) as info:
        loads_json(text, file="cyc.ir.json")
    rendered = info.value.render()
    assert "error[V001]" in rendered and "model.order" in rendered


def test_unindexed_read_in_a_shifted_rule_is_the_rules_t() -> None:
    # x[t+1] = z (z at t): lagged, so x may come before z in the order; z[t] = x is a same-step read.
    x = tiny_program().model.vars[0]
    rule = ir.Rule("shifted", ir.Ref("z", "var"), shift=1)
    z = ir.Var("z", USD_SERIES, (ir.Rule("general", ir.Ref("x", "var")),), series=True, time_varying=True)
    validate(tiny_program(vars=(dataclasses.replace(x, rules=(x.rules[0], rule)), z), order=("x", "z")))
    assert codes(
        tiny_program(vars=(dataclasses.replace(x, rules=(x.rules[0], rule)), z), order=("z", "x"))
    ) == ["V001"]
