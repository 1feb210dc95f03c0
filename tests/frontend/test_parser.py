"""Parser tests: each construct of the language, spans, syntax errors (E0005) with recovery, golden AST dumps."""

from __future__ import annotations

from pathlib import Path

import pytest

from pel.diagnostics import CompileError
from pel.frontend import ast
from pel.frontend.dump import dump_ast
from pel.frontend.parser import parse, parse_expression
from tests.frontend.golden_util import check_golden


def model(body: str) -> ast.Model:
    return parse("model M {\n" + body + "\n}\n", "t.pel")


def item(body: str) -> ast.Item:
    items = model(body).items
    assert len(items) == 1, items
    return items[0]


def expr(text: str) -> ast.Expr:
    return parse_expression(text)


def show(node: ast.Node) -> str:
    """A compact s-expression of an expression, for precedence tests."""
    if isinstance(node, ast.Binary):
        return f"({show(node.left)} {node.op} {show(node.right)})"
    if isinstance(node, ast.Unary):
        return f"({node.op}{show(node.operand)})"
    if isinstance(node, ast.Index):
        return f"{show(node.base)}[{show(node.index)}]"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Number):
        return node.text
    if isinstance(node, ast.IfExpr):
        return f"(if {show(node.cond)} then {show(node.then)} else {show(node.else_) if node.else_ else '-'})"
    return type(node).__name__


def syntax_errors(src: str) -> list[tuple[str, int, int]]:
    with pytest.raises(CompileError) as exc:
        parse(src, "e.pel")
    return [(d.code, d.span.line, d.span.col) for d in exc.value.diagnostics]


# --- program structure ------------------------------------------------------------------------


def test_imports_and_model():
    m = parse("import stdlib.unit_econ as econ\nimport stdlib.x\nfrom a.b import c, d\nimport y from z\n"
              "model Name { };\n")
    assert m.name == "Name" and m.items == ()
    assert [(i.module, i.alias, i.names) for i in m.imports] == [
        ("stdlib.unit_econ", "econ", ()), ("stdlib.x", None, ()), ("a.b", None, ("c", "d")), ("z", None, ("y",)),
    ]
    assert (m.name_span.line, m.name_span.col) == (5, 7)


def test_optional_semicolons_and_comments():
    m = model("param a: Fraction = 1 { source: \"s\" };\n/* x /* y */ */ var b = a; // c")
    assert [type(i).__name__ for i in m.items] == ["ParamDecl", "VarDecl"]


# --- types ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "args", "per"),
    [("Currency<USD>", "Currency", ["USD"], None), ("Rate per Month", "Rate", [], "Month"), ("Rate", "Rate", [], None),
     ("Duration<Day>", "Duration", ["Day"], None), ("Count<Customer> per Month", "Count", ["Customer"], "Month"),
     ("Currency<USD> per Customer", "Currency", ["USD"], "Customer"), ("Capacity<X>", "Capacity", ["X"], None),
     ("Boolean", "Boolean", [], None), ("TimeSeries<Fraction>", "TimeSeries", ["Fraction"], None),
     ("Distribution<Fraction>", "Distribution", ["Fraction"], None), ("Array<Int>", "Array", ["Int"], None),
     ("List<Float>", "Array", ["Float"], None), ("[String]", "Array", ["String"], None),
     ("Probability", "Probability", [], None), ("Scoped<Money, Customer>", "Scoped", ["Money", "Customer"], None)],
)
def test_types(text, name, args, per):
    t = item(f"var x: {text}").type
    assert (t.name, [a.name for a in t.args], t.per) == (name, args, per)


def test_nested_generic_type():
    t = item("var x: TimeSeries<Currency<USD>>").type
    assert t.name == "TimeSeries" and t.args[0].name == "Currency" and t.args[0].args[0].name == "USD"


# --- params and provenance --------------------------------------------------------------------


def test_param_with_provenance_any_order_commas_or_newlines():
    p = item('param g: Rate per Month = 0.05 / 1mo {\n confidence: 0.8\n method: "fitted", source: "x",\n'
             ' correlated_with: [("churn", -0.5)], owner: { param: "x", coefficient: 0.7 }\n'
             ' fit_details { data_points: 24, fit_method: "mle" } }')
    assert isinstance(p, ast.ParamDecl) and p.dist_form is None
    assert [f.key for f in p.provenance.fields] == [
        "confidence", "method", "source", "correlated_with", "owner", "fit_details"]
    assert isinstance(p.provenance.get("correlated_with").value.elements[0], ast.TupleLit)
    assert isinstance(p.provenance.get("owner").value, ast.RecordLit)
    assert [k.name for k in p.provenance.get("fit_details").value.fields] == ["data_points", "fit_method"]


def test_param_without_provenance_is_parsed():
    p = item("param x: Fraction = 3")
    assert p.provenance is None and isinstance(p.value, ast.Number)


@pytest.mark.parametrize(("src", "form"), [("param c: Currency<USD> ~ LogNormal(μ=6.2, σ=0.8) { source: \"a\" }", "~"),
                                           ("param c: Fraction = ~Normal(mu: 1, sigma: 2)", "=~"),
                                           ("param c: Fraction ~ Beta(2, 38)", "~")])
def test_distribution_params(src, form):
    p = item(src)
    assert p.dist_form == form and isinstance(p.value, ast.Dist)


def test_distribution_arguments():
    d = item("param c: Currency<USD> ~ LogNormal(μ=6.2, σ=0.8)").value
    assert d.dist == "LogNormal" and [k.name for k in d.kwargs] == ["μ", "σ"] and d.args == ()
    d = item("param c: Fraction ~ Beta(2, 38)").value
    assert [a.value for a in d.args] == [2.0, 38.0]


def test_mixture_components_with_or_without_tilde():
    d = item("param m: Fraction ~ Mixture([Normal(0, 1), ~Normal(2, 1)], [0.3, 0.7])").value
    comps = d.args[0].elements
    assert [type(c).__name__ for c in comps] == ["Dist", "Dist"] and comps[0].dist == "Normal"


def test_inline_distribution_in_expression():
    v = item("var x = 1 + ~Normal(0, 1) * 2").value
    assert isinstance(v.right.left, ast.Dist)


# --- variables and time-series rules ------------------------------------------------------------


def test_var_forms():
    v = item("var mut x: Fraction = 1 { source: \"s\" }")
    assert v.mutable and v.name == "x" and v.provenance is not None
    v = item("var y")
    assert v.type is None and v.value is None


@pytest.mark.parametrize(("src", "literal", "offset"), [("var x[0] = 1", 0, 0), ("var x[t] = 1", None, 0),
                                                        ("var x[t+1] = x[t]", None, 1), ("var x[t-1] = 2", None, -1)])
def test_inline_rules(src, literal, offset):
    v = item(src)
    assert (v.index.literal, v.index.offset) == (literal, offset)


def test_inline_rule_with_guard():
    v = item("var revenue[t] = price * units[t] for t > 0")
    assert v.index.var == "t" and show(v.guard) == "(t > 0)"


def test_bare_rules_after_declaration():
    m = model("var x: TimeSeries<Fraction>\nx[0] = 1\nx[t+1] = x[t] * 2\nx[5] = 3\nx[t] = 4\ny = 2")
    rules = m.of(ast.SeriesRule)
    assert [(r.name, r.index and (r.index.literal, r.index.offset)) for r in rules] == [
        ("x", (0, 0)), ("x", (None, 1)), ("x", (5, 0)), ("x", (None, 0)), ("y", None)]


def test_declaration_glued_to_its_first_rule_on_one_line():
    m = model("var mrr: TimeSeries<Currency<USD>> mrr[0] = $1000\nmrr[t+1] = mrr[t]")
    assert [type(i).__name__ for i in m.items] == ["VarDecl", "SeriesRule", "SeriesRule"]
    assert m.items[0].value is None and m.items[1].index.literal == 0


def test_rule_with_provenance_block():
    r = model('var a: TimeSeries<Fraction>\na[0] = 1 { source: "model" }').items[1]
    assert r.provenance.get("source").value.value == "model"


def test_next_line_paren_is_not_a_call():
    m = parse("model M {\n constraint c {\n  a > 1 with severity(fatal)\n  (t == 2) implies b with severity(warning)\n }\n}")
    assert len(m.items[0].clauses) == 2


def test_multiline_expression_continues():
    v = item("var x = a\n   + b\n   * c")
    assert show(v.value) == "(a + (b * c))"


# --- expressions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shape"),
    [("a + b * c", "(a + (b * c))"), ("a - b - c", "((a - b) - c)"), ("a ^ b ^ c", "(a ^ (b ^ c))"),
     ("a ** b", "(a ^ b)"), ("-x[t]", "(-x[t])"), ("-x ^ 2", "((-x) ^ 2)"), ("!a && b", "((!a) && b)"),
     ("not a or b and c", "((!a) || (b && c))"), ("a implies b || c", "(a implies (b || c))"),
     ("a < b == c < d", "((a < b) == (c < d))"), ("a <= x <= b", "((a <= x) && (x <= b))"),
     ("(a <= x) <= b", "((a <= x) <= b)"), ("a % 12 == 0", "((a % 12) == 0)"),
     ("if c then a else if d then b else e", "(if c then a else (if d then b else e))"),
     ("if c then a + 1 else b + 2", "(if c then (a + 1) else (b + 2))")],
)
def test_precedence(text, shape):
    assert show(expr(text)) == shape


def test_literals():
    e = expr("[1_000, $1_250.50, 25.5%, 1.5h, \"s\", true, false, xₘ]")
    assert [type(x).__name__ for x in e.elements] == [
        "Number", "Money", "Percent", "DurationLit", "String", "Bool", "Bool", "Name"]
    assert e.elements[2].value == pytest.approx(0.255) and e.elements[3].unit == "h"


def test_calls_members_indexing():
    e = expr("econ.ltv(arpu: $99, churn_rate = 0.05, 3)[t-1]")
    assert isinstance(e, ast.Index) and isinstance(e.base, ast.Call)
    call = e.base
    assert isinstance(call.func, ast.Member) and call.func.attr == "ltv"
    assert [k.name for k in call.kwargs] == ["arpu", "churn_rate"] and len(call.args) == 1
    assert expr("Tier::Gold").attr == "Gold" and isinstance(expr("m[i][j]").base, ast.Index)
    assert isinstance(expr("Random()"), ast.Call)


def test_comprehensions_and_ranges():
    c = expr("sum(revenue[k] for k in 0..t-1 if k > 2)")
    assert (c.func, c.var, show(c.end), show(c.cond)) == ("sum", "k", "(t - 1)", "(k > 2)")
    c = expr("min(x[t] for t in [0..24])")
    assert (c.func, show(c.start), show(c.end)) == ("min", "0", "24")
    assert isinstance(expr("0..10"), ast.RangeExpr) and isinstance(expr("[0..12]"), ast.RangeExpr)


def test_lambda_tuple_record_block_cast_changes():
    lam = expr("(x: Fraction, y: Fraction) -> x * y")
    assert [p.name for p in lam.params] == ["x", "y"] and show(lam.body) == "(x * y)"
    assert len(expr('("x", 0.5)').elements) == 2
    assert [f.name for f in expr('{ param: "x", coefficient: 0.7 }').fields] == ["param", "coefficient"]
    blk = expr("{ for t in 0..h { if e[t] > $0 { return t * 1mo } } return h * 1mo }")
    assert [type(s).__name__ for s in blk.body] == ["ForStmt", "ReturnStmt"]
    cast = expr("x as Currency<EUR> with exchangeRate(1.08)")
    assert cast.type.args[0].name == "EUR" and isinstance(cast.with_, ast.Call)
    ch = expr("price changes && t > 1")
    assert isinstance(ch.left, ast.Changes)


def test_parse_expression_offsets_spans():
    e = parse_expression("cash[t] * 2", "m.pel", 7, 20)
    assert (e.span.file, e.span.line, e.span.col, e.span.end_col) == ("m.pel", 7, 20, 31)
    assert (e.left.span.col, e.right.span.col) == (20, 30)
    with pytest.raises(CompileError) as exc:
        parse_expression("cash[t] *", "m.pel", 3, 5)
    assert exc.value.code == "E0005"


# --- constraints ----------------------------------------------------------------------------------


def test_constraint_spec_form_fields_any_order():
    c = item('constraint c: cash[t] >= $0 { message: "low {cash[t]}" severity: fatal, for: t >= 6 }')
    cl = c.clauses[0]
    assert (cl.severity, cl.message, c.scope.kind, c.has_block) == ("fatal", "low {cash[t]}", "cond", True)
    assert cl.severity_span.col == cl.message_span.col + len('"low {cash[t]}" severity: ')


@pytest.mark.parametrize(
    ("scope", "kind"),
    [("for all t in [0..36]", "range"), ("for all t > 0", "cond"), ("for all t", "all"), ("for all employee", "entity"),
     ("for all location in [SF, NYC]", "entity")],
)
def test_constraint_inline_scopes(scope, kind):
    c = item(f"constraint c: cash[t] >= $0 {scope} {{ severity: warning }}")
    assert c.scope.kind == kind
    if kind == "range":
        assert (show(c.scope.start), show(c.scope.end)) == ("0", "36")


@pytest.mark.parametrize(("field", "kind"), [("all timesteps", "all"), ("t >= 6", "cond"), ("t == 0", "cond")])
def test_constraint_for_field(field, kind):
    c = item(f"constraint c: x > 0 {{ severity: fatal, for: {field} }}")
    assert c.scope.kind == kind


def test_constraint_tutorial_form_several_clauses():
    c = item('constraint c {\n (t == 12) implies (arr[t] >= 3.0 * arr[0])\n  with severity(warning)\n'
             '  with message("Rule at t={t}")\n (t == 24) implies (arr[t] >= 9.0) with severity(fatal)\n}')
    assert [(cl.severity, cl.message) for cl in c.clauses] == [("warning", "Rule at t={t}"), ("fatal", None)]
    assert c.clauses[0].condition.op == "implies"


def test_constraint_block_form_and_bare_form():
    c = item('constraint c { condition: a >= 0 and a <= 1\n severity: fatal\n message: "m" slack: true }')
    assert (c.clauses[0].severity, c.clauses[0].message, [e.key for e in c.extras]) == ("fatal", "m", ["slack"])
    bare = item("constraint positive: revenue >= $0")
    assert bare.has_block is False and bare.clauses[0].severity is None


def test_constraint_keeps_unknown_severity_text():
    c = item("constraint c: x > 0 { severity: critical }")
    assert c.clauses[0].severity == "critical"


def test_constraint_conditional_without_else():
    c = item("constraint c: if plan == Premium then price >= $99")
    assert c.clauses[0].condition.else_ is None


# --- policies ---------------------------------------------------------------------------------------


def test_policy_actions():
    p = item('policy p {\n when: t % 12 == 0 && t > 0,\n then: {\n  arpu *= 1.05\n  x += 1, y -= 2\n  z /= 2\n'
             '  plan.Premium = true\n  emit event("price_increase", amount: 0.05)\n }\n'
             ' metadata: { rationale: "r", owner: "o" }\n}')
    assert [type(a).__name__ for a in p.actions] == ["AssignStmt"] * 5 + ["EmitStmt"]
    assert [a.op for a in p.actions[:5]] == ["*=", "+=", "-=", "/=", "="]
    assert isinstance(p.actions[4].target, ast.Member)
    assert p.actions[5].event == "price_increase" and p.actions[5].args[0].name == "amount"
    assert [m.key for m in p.metadata] == ["rationale", "owner"]


def test_policy_conditional_action_and_changes_trigger():
    p = item("policy p { when: price changes, then: if a > 1 then b = 2 else c = 3 }")
    assert isinstance(p.trigger, ast.Changes) and isinstance(p.actions[0], ast.IfStmt)
    assert p.actions[0].else_[0].target.id == "c"


def test_policy_with_empty_action_block_parses():
    p = item("policy p { when: 42, then: { } }")  # the checker reports the trigger (E0700), not the parser
    assert p.actions == () and isinstance(p.trigger, ast.Number)
    assert syntax_errors("model M {\n  policy p { when: t > 1 }\n}") == [("E0005", 2, 3)]


def test_unsupported_rule_index_is_kept_for_the_checker():
    r = model("var r: TimeSeries<Fraction>\nr[3.14] = 1").items[1]
    assert r.index.literal is None and isinstance(r.index.expr, ast.Number) and r.index.expr.text == "3.14"
    assert (r.index.span.line, r.index.span.col, r.index.span.end_col) == (3, 3, 7)
    assert model("var r: TimeSeries<Fraction>\nr[t+1] = 1").items[1].index.expr is None


# --- functions and the rest -----------------------------------------------------------------------


def test_functions():
    f = item("func f(a: Fraction, b: Fraction) -> Fraction {\n var q = a + b\n let r: Fraction = 1\n"
             " for i in 1..5 { q = q + i }\n if q > 1 { return q } else if q < 0 { return 0 } else { return r }\n}")
    assert [type(s).__name__ for s in f.body] == ["LetStmt", "LetStmt", "ForStmt", "IfStmt"]
    assert isinstance(f.body[3].else_[0], ast.IfStmt)
    g = item("func g(a: Fraction) -> Fraction = a * 2")
    assert isinstance(g.body[0], ast.ReturnStmt)


def test_if_then_else_statement():
    f = item("func f(x: Fraction) -> Fraction {\n if x < 0 then return -x else return x;\n}")
    (s,) = f.body
    assert isinstance(s, ast.IfStmt) and show(s.cond) == "(x < 0)"
    assert isinstance(s.then[0], ast.ReturnStmt) and show(s.then[0].value) == "(-x)"
    assert isinstance(s.else_[0], ast.ReturnStmt) and show(s.else_[0].value) == "x"
    g = item("func g(a: Fraction) -> Fraction {\n var y = 0\n if a > 1 then y = 1 else if a > 0 then y = 2\n"
             " if a > 5 then if a > 6 then return 1 else return 2\n return if a > 2 then a else y\n}")
    _, s1, s2, s3 = g.body
    assert isinstance(s1.else_[0], ast.IfStmt) and s1.else_[0].else_ == ()
    assert s2.else_ == () and s2.then[0].else_[0].value.text == "2"  # the dangling else binds innermost
    assert isinstance(s3, ast.ReturnStmt) and isinstance(s3.value, ast.IfExpr)
    h = item("func h(a: Fraction) -> Fraction {\n if a > 1 then a else 0\n}")
    assert isinstance(h.body[0], ast.ExprStmt) and isinstance(h.body[0].expr, ast.IfExpr)


def test_simulate_output_record_enum():
    m = model("simulate for 36mo\nsimulate monte_carlo with runs 10_000 for 36mo\nsimulate deterministic with seed 42\n"
              "output [a, b]\noutput a, b\noutput total = a + b\nrecord R { a: Fraction, b: Count<X> }\nenum E { A, B }")
    s1, s2, s3 = m.of(ast.SimulateDecl)
    assert (s1.mode, s1.horizon.text, s2.mode, s2.runs.value, s3.mode, s3.seed.value) == (
        None, "36mo", "monte_carlo", 10000, "deterministic", 42)
    assert [[i.name for i in o.items] for o in m.of(ast.OutputDecl)] == [["a", "b"], ["a", "b"], ["total"]]
    assert m.of(ast.RecordDecl)[0].fields[1].type.name == "Count"
    assert m.of(ast.EnumDecl)[0].variants == ("A", "B")


def test_spans_are_precise():
    m = parse("model M {\n  param x: Fraction = 1 + 2\n}", "s.pel")
    p = m.items[0]
    assert (p.span.line, p.span.col, p.span.end_line, p.span.end_col) == (2, 3, 2, 28)
    assert (p.name_span.col, p.name_span.end_col) == (9, 10)
    assert (p.value.span.col, p.value.span.end_col) == (23, 28)
    assert (m.span.line, m.span.col, m.span.end_line, m.span.end_col) == (1, 1, 3, 2)


# --- syntax errors --------------------------------------------------------------------------------


def test_e0005_with_token_and_expectation():
    with pytest.raises(CompileError) as exc:
        parse("model M {\n  var x = )\n}", "e.pel")
    d = exc.value.diagnostics[0]
    assert (d.code, d.span.line, d.span.col) == ("E0005", 2, 11)
    assert d.message == "unexpected ')', expected an expression"


def test_several_syntax_errors_reported_in_one_run():
    src = "model M {\n  param x: Fraction = 3 +\n  var y = )\n  param ok: Fraction = 1\n  var z = [1, 2\n  constraint q: x > 1\n}\n"
    assert syntax_errors(src) == [("E0005", 3, 3), ("E0005", 3, 11), ("E0005", 6, 3)]


def test_lexer_and_parser_errors_together_sorted():
    assert syntax_errors("model M {\n  var x = 1 @ 2\n  var y = )\n}") == [("E0001", 2, 13), ("E0005", 2, 15), ("E0005", 3, 11)]


@pytest.mark.parametrize(
    ("src", "where"),
    [("function f() {}\nmodel M {}", (1, 1)), ("model A {}\nmodel B {}", (2, 1)), ("model M {\n var x: TimeSeries<Fraction>[0..3]\n}", (2, 29)),
     ("model M {", (1, 10)), ("model M {\n var type = 1\n}", (2, 6)), ("", (1, 1))],
)
def test_syntax_error_positions(src, where):
    errs = syntax_errors(src)
    assert errs[0][0] == "E0005" and errs[0][1:] == where


def test_no_parser_tables_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    parse("model M { var x = 1 }")
    assert not list(tmp_path.iterdir())
    repo = Path(__file__).resolve().parents[2]
    assert not list(repo.rglob("parser.out")) and not list(repo.rglob("parsetab.py"))


# --- golden dumps ---------------------------------------------------------------------------------

GOLDEN_MODELS = {
    "ast_growth.txt": (
        "import stdlib.unit_econ as econ\n"
        "model Growth {\n"
        "  param growth: Rate per Month = 5% / 1mo {\n"
        '    source: "board", method: "fitted", confidence: 0.8\n'
        "  }\n"
        "  param churn: Fraction ~ Beta(alpha: 2, beta: 38) { source: \"crm\", method: \"observed\", confidence: 0.9 }\n"
        "  var mrr: TimeSeries<Currency<USD>>\n"
        "  mrr[0] = $50_000\n"
        "  mrr[t+1] = mrr[t] * (1 + growth - churn)\n"
        "  constraint positive: mrr[t] >= $0 { severity: fatal, message: \"negative at {t}\" }\n"
        "  simulate monte_carlo with runs 1_000 for 36mo\n"
        "  output [mrr]\n"
        "}\n"
    ),
    "ast_policy.txt": (
        "model Ops {\n"
        "  var cash: TimeSeries<Currency<USD>> cash[0] = $100_000\n"
        "  var revenue[t] = if t < 2 then $10 else (cash[t-1] + cash[t-2]) / 2 for t > 0\n"
        "  constraint runway {\n"
        "    cash[t] >= $0 with severity(warning) with message(\"cash {cash[t]}\")\n"
        "  }\n"
        "  policy raise { when: t % 12 == 0 && t > 0, then: { price *= 1.05\n emit event(\"raise\", pct: 5%) } }\n"
        "  func half(x: Currency<USD>) -> Currency<USD> = x / 2\n"
        "}\n"
    ),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_MODELS))
def test_golden_ast_dump(name):
    check_golden(name, dump_ast(parse(GOLDEN_MODELS[name], name.replace(".txt", ".pel"))))


def test_dump_ast_prints_types_when_given():
    e = parse_expression("a + 1")
    text = dump_ast(e, {id(e): "Fraction", id(e.right): "Fraction"})
    assert text.splitlines()[0].endswith(":: Fraction") and "left: Name" in text and text.count(":: Fraction") == 2
