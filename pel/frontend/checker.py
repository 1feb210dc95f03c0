"""Name resolution and type/unit checking of a parsed PEL model (LANGUAGE.md §1, §2.1, §4, §5, §8, §12).

Codes used besides the normative table of LANGUAGE.md §9 (unused slots, documented here):
  W0100  declaration-context coercion (§1.5): a plain value read as `per <unit>` or `per <entity>`
         (`param g: Rate per Month = 0.15`, `Currency<USD> per Month = $10_000`); E0100 in strict mode.
  W0101  non-integral `simulate for` horizon rounded up to whole steps.
  W0702  a policy modifies a parameter (allowed, §5 [R]); E0702 in strict mode.
  W0703  a policy with an empty action block (`then: { }`): it does nothing.
  E0005  also: an index on the left of a rule of a shape PEL does not support (`x[2*t]`, `x[-1]`); a
         non-whole or non-numeric index there (`x[3.14]`, `x["a"]`, `x[price]`) is E0100.
  E0601  also: a variable named like a key of the results JSON (DESIGN.md §3).
  E0800  division by a literal zero (the compile-time case of the runtime arithmetic error).
Diagnostics are collected into the bag, never raised; they are sorted by source position.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

from pel.diagnostics import CompileError, DiagnosticBag, Span
from pel.frontend import ast
from pel.frontend.constants import literal_value
from pel.frontend.imports import stdlib_functions
from pel.frontend.types import (
    BOOLEAN,
    FRACTION,
    INTEGER,
    LIT_UNITS,
    STRING,
    TIME_UNITS,
    UNIT_SPELLINGS,
    UNKNOWN,
    PelType,
    additive,
    array,
    currency,
    divide,
    duration,
    entity_key,
    multiply,
    power,
    replace,
    same_dimension,
    step_normalize,
    steps_in,
    type_text,
)
from pel.lang import distributions as lang_dists
from pel.lang import functions as lang_funcs
from pel.lang import units as lang_units
from pel.limits import MAX_RUNS, MAX_STEPS, SEED_LIMIT
from pel.resultkeys import RESULT_KEYS

__all__ = ["CheckedModel", "DistInfo", "Symbol", "check", "type_text"]

CURRENCY_SYMBOLS = lang_units.CURRENCY_SYMBOLS
TIME_NAMES = ("t",)
HORIZON_NAMES = ("t_max", "time_horizon")
DEFAULT_HORIZON = 12

# shipped standard-library function -> its module (pel/stdlib/*.pel, resolved by pel.frontend.imports)
STDLIB_MODULE = stdlib_functions()

# The built-in functions: the language table's (pel.lang.functions)
BUILTINS = lang_funcs.NAMES
VARIADIC = lang_funcs.VARIADIC
ARG_KIND_TEXT = lang_funcs.KIND_TEXT


def builtin_kinds(fn: str, n: int) -> tuple[str, ...] | None:
    """The kinds of the `n` arguments of built-in `fn`, or None when `n` is not an arity it takes."""
    return lang_funcs.arg_kinds(fn, n)


def _signature_text(fn: str) -> str:
    """`npv(cash_flows, rate)`, `min(series)` or `min(a, b, …)`, … for hints."""
    if fn in VARIADIC:
        return f"`{fn}(series)` or `{fn}(a, b, …)`"
    f = lang_funcs.get(fn)
    words = f.words or tuple({"num": "x", "series": "series", "var": "series", "tracked": "x"}[k] for k in f.kinds)
    head = ", ".join(words[:len(f.required)])
    return f"`{fn}({head}{''.join(f'[, {w}]' for w in words[len(f.required):])})`"


# distribution name -> ordered canonical parameters, each with its accepted spellings (the language table's)
DISTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    name: tuple((p.name, p.spellings) for p in d.params) for name, d in lang_dists.DISTRIBUTIONS.items()
}
DIST_NAMES = lang_dists.BY_LOWER


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class Symbol:
    """A model-level name: kind is param | var | func | enum | record | import."""

    name: str
    kind: str
    node: ast.Node
    type: PelType | None = None


@dataclass
class DistInfo:
    """A distribution with canonical parameter names (LANGUAGE.md §2.1)."""

    dist: str  # canonical: Normal, LogNormal, Beta, Uniform, Triangular, Pareto, Mixture
    params: list[tuple[str, ast.Expr]]
    type: PelType
    log_space: bool = True  # LogNormal reading: plain-number mu = log-space
    components: list[DistInfo] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    node: ast.Node | None = None


@dataclass
class CheckedModel:
    """The checked model and everything lowering needs besides the AST."""

    model: ast.Model
    types: dict[int, PelType]  # id(expr node) -> type
    decl_types: dict[str, PelType]  # param/var/output name -> declared or inferred type
    horizon: int = DEFAULT_HORIZON  # T_max in steps
    time_unit: str = "Month"
    days_per_month: float = 30.0
    symbols: dict[str, Symbol] = field(default_factory=dict)
    coercions: dict[int, float] = field(default_factory=dict)  # id(value expr) -> factor applied on lowering
    dists: dict[int, DistInfo] = field(default_factory=dict)  # id(Dist or dist-named Call) -> canonical form
    messages: dict[int, list[str | ast.Expr]] = field(default_factory=dict)  # id(clause) -> template parts
    policy_targets: set[str] = field(default_factory=set)  # names assigned by some policy
    funcs: dict[str, ast.FuncDecl] = field(default_factory=dict)
    strict: bool = False
    horizon_set: bool = False  # `simulate for …` present
    func_types: dict[str, tuple[list[PelType], PelType]] = field(default_factory=dict)  # name -> (params, return)
    call_targets: dict[int, str] = field(default_factory=dict)  # id(call) -> the overload its argument types chose


@dataclass
class Env:
    """Expression context: locals, which names mean `t`, and the code for undefined names."""

    locals: dict[str, PelType] = field(default_factory=dict)
    time_names: tuple[str, ...] = TIME_NAMES
    undefined_code: str = "E0600"
    returns: list[PelType] | None = None  # return types seen in a func/block body
    expected_return: PelType | None = None

    def child(self, **more: PelType) -> Env:
        return replace(self, locals={**self.locals, **more})


def check(model: ast.Model, bag: DiagnosticBag, *, strict: bool = False) -> CheckedModel:
    """Resolve names and check types/units of `model`; every problem goes into `bag`."""
    start = len(bag.items)
    checker = _Checker(model, bag, strict)
    checker.run()
    _sort_new(bag, start)
    return checker.out


def _sort_new(bag: DiagnosticBag, start: int) -> None:
    def key(d):
        s = d.span
        return (0, 0) if s is None else (s.line, s.col)

    bag.items[start:] = sorted(bag.items[start:], key=key)


def _is_zero(e: ast.Expr) -> bool:
    while isinstance(e, ast.Unary) and e.op in "+-":
        e = e.operand
    return isinstance(e, ast.Number | ast.Percent) and e.value == 0


class _Checker:
    def __init__(self, model: ast.Model, bag: DiagnosticBag, strict: bool) -> None:
        self.model = model
        self.bag = bag
        self.strict = strict
        self.out = CheckedModel(model=model, types={}, decl_types={}, strict=strict)
        self.step = self.out.time_unit
        self.symbols = self.out.symbols
        self.rules: dict[str, list[ast.Node]] = {}  # var -> defining nodes
        self.inferring: set[str] = set()
        self.checked_rules: set[int] = set()
        self.imports: dict[str, str] = {}
        self.overload_sets = dict(model.overloads)  # a name -> its functions told apart by argument types

    # ------------------------------------------------------------------ diagnostics
    def error(self, code: str, msg: str, span: Span | None, hint: str | None = None) -> None:
        self.bag.error(code, msg, span, hint)

    def coercion(self, msg: str, span: Span | None, hint: str | None = None) -> None:
        if self.strict:
            self.bag.error("E0100", msg, span, hint or "strict mode forbids implicit unit coercions")
        else:
            self.bag.warning("W0100", msg, span, hint)

    # ------------------------------------------------------------------ driver
    def run(self) -> None:
        self.collect()
        for item in self.model.items:
            if isinstance(item, ast.ParamDecl):
                self.check_param(item)
            elif isinstance(item, ast.FuncDecl):
                self.check_func(item)
        for name in self.inference_order():
            self.var_type(name)
        for name, nodes in self.rules.items():
            self.var_type(name)
            for node in nodes:
                self.check_rule(name, node)
        for item in self.model.items:
            if isinstance(item, ast.ConstraintDecl):
                self.check_constraint(item)
            elif isinstance(item, ast.PolicyDecl):
                self.check_policy(item)
            elif isinstance(item, ast.OutputDecl):
                self.check_output(item)
        self.check_scenarios()
        self.check_simulate()

    # ------------------------------------------------------------------ pass 1: declarations
    def collect(self) -> None:
        for imp in self.model.imports:
            alias = imp.alias or imp.module.split(".")[-1]
            self.imports[alias] = imp.module
            for n in imp.names:
                self.imports[n] = imp.module
        for item in self.model.items:
            if isinstance(item, ast.ParamDecl):
                if not self.declare(item.name, "param", item, item.name_span or item.span):
                    continue
                if item.type is None:
                    self.error("E0102", f"parameter '{item.name}' needs a type annotation", item.span,
                               "write `param name: Type = value`")
                    t = UNKNOWN
                else:
                    t = self.resolve(item.type)
                self.symbols[item.name].type = t
                self.out.decl_types[item.name] = t
            elif isinstance(item, ast.VarDecl):
                self.collect_var(item)
            elif isinstance(item, ast.SeriesRule):
                self.rules.setdefault(item.name, []).append(item)  # resolved after all declarations
            elif isinstance(item, ast.FuncDecl):
                if self.declare(item.name, "func", item, item.span):
                    self.out.funcs[item.name] = item
            elif isinstance(item, ast.EnumDecl):
                self.declare(item.name, "enum", item, item.span)
                self.symbols[item.name].type = PelType("Enum", name=item.name)
            elif isinstance(item, ast.RecordDecl):
                self.declare(item.name, "record", item, item.span)
        # bare rules for names that are not declared vars
        for name in list(self.rules):
            sym = self.symbols.get(name)
            if sym is not None and sym.kind == "var":
                continue
            nodes = self.rules.pop(name)
            for node in nodes:
                if sym is None:
                    self.error("E0600", f"'{name}' is defined by a rule but never declared", node.span,
                               f"declare it first: `var {name}: TimeSeries<...>`")
                else:
                    self.error("E0601", f"'{name}' is already defined as a {sym.kind}", node.span,
                               "only variables take time-indexed or assigned definitions")
        for name, nodes in self.rules.items():
            self.check_duplicate_rules(name, nodes)

    def declare(self, name: str, kind: str, node: ast.Node, span: Span) -> bool:
        prev = self.symbols.get(name)
        if prev is not None:
            self.error("E0601", f"'{name}' is already defined (as a {prev.kind} at line {prev.node.span.line})",
                       span, "rename one of the two definitions")
            return False
        if name in self.imports:
            self.error("E0601", f"'{name}' is already defined by an import", span)
            return False
        self.symbols[name] = Symbol(name, kind, node)
        return True

    def collect_var(self, item: ast.VarDecl) -> None:
        prev = self.symbols.get(item.name)
        if prev is not None and prev.kind == "var" and (item.index is not None or item.value is not None
                                                        and item.type is None):
            self.rules[item.name].append(item)  # `var x[t+1] = …` after `var x[0] = …`: another rule
            if item.type is not None and prev.type is None:
                prev.type = self.resolve(item.type)
            return
        if not self.declare(item.name, "var", item, item.name_span or item.span):
            return
        if item.name in RESULT_KEYS:
            self.error("E0601", f"variable name '{item.name}' collides with the results key '{item.name}'",
                       item.name_span or item.span,
                       f"rename it (e.g. '{item.name}_value'): results JSON reserves this key")
        self.symbols[item.name].type = self.resolve(item.type) if item.type is not None else None
        earlier = self.rules.get(item.name, [])  # bare rules written before the declaration
        self.rules[item.name] = ([item] if item.value is not None else []) + earlier

    def check_duplicate_rules(self, name: str, nodes: list[ast.Node]) -> None:
        scalar = general = None
        literals: dict[int, ast.Node] = {}
        for node in nodes:
            pattern = node.index
            if pattern is not None and pattern.expr is not None:
                continue  # an invalid index, reported by rule_index: no rule to compare with
            if pattern is None:
                if scalar is not None or general is not None:
                    self.dup_rule(name, node, scalar or general)
                scalar = scalar or node
            elif pattern.literal is not None:
                if pattern.literal in literals:
                    self.dup_rule(name, node, literals[pattern.literal])
                literals.setdefault(pattern.literal, node)
            else:
                if general is not None or scalar is not None:
                    self.dup_rule(name, node, general or scalar)
                general = general or node

    def dup_rule(self, name: str, node: ast.Node, first: ast.Node) -> None:
        self.error("E0601", f"'{name}' is defined twice (first definition at line {first.span.line})",
                   node.span, "a variable has one general rule (`x[t]`, `x[t+1]` or `x = …`) plus literal ones")

    # ------------------------------------------------------------------ types as written
    def resolve(self, te: ast.TypeExpr) -> PelType:
        t = self._resolve_base(te)
        if te.per and not t.unknown:
            unit = UNIT_SPELLINGS.get(te.per)
            if t.kind != "num":
                self.error("E0101", f"'{type_text(t)} per {te.per}' is not a valid type", te.span)
                return UNKNOWN
            if unit is not None:
                if te.name == "Rate":
                    return replace(t, te=-1, time=unit)
                if t.te != 0:
                    self.error("E0101", f"'{type_text(t)} per {te.per}' is not a valid type", te.span)
                    return UNKNOWN
                return replace(t, te=-1, time=unit)
            return replace(t, scope=te.per)
        return t

    def _resolve_base(self, te: ast.TypeExpr) -> PelType:
        name, args = te.name, te.args
        if name in ("Fraction", "Float", "Number", "Percent", "Percentage"):
            return FRACTION
        if name in ("Int", "Integer"):
            return INTEGER
        if name in ("Boolean", "Bool"):
            return BOOLEAN
        if name == "String":
            return STRING
        if name == "Currency":
            code = args[0].name if args else None
            if code is None:
                self.error("E0101", "Currency needs an ISO code: `Currency<USD>`", te.span)
                return UNKNOWN
            if len(code) != 3 or not code.isupper():
                self.error("E0101", f"'{code}' is not an ISO-4217 currency code", te.span,
                           "write a three-letter code such as USD, EUR, GBP")
                return UNKNOWN
            return currency(code)
        if name in ("Count", "Capacity"):
            return PelType("num", base=name, tag=args[0].name if args else None)
        if name == "Rate":
            if args:
                self.error("E0101", "write `Rate per Month`, not `Rate<…>`", te.span)
                return UNKNOWN
            if te.per is None:
                self.error("E0101", "`Rate` needs a time unit: `Rate per Month`", te.span)
                return UNKNOWN
            if UNIT_SPELLINGS.get(te.per) is None:
                self.error("E0101", f"unknown time unit '{te.per}'", te.span,
                           "use one of " + ", ".join(TIME_UNITS))
                return UNKNOWN
            return FRACTION
        if name == "Duration":
            unit = UNIT_SPELLINGS.get(args[0].name) if args else None
            if args and unit is None:
                self.error("E0101", f"unknown time unit '{args[0].name}'", te.span)
            return duration(unit)
        if name in ("TimeSeries", "Distribution", "CohortSeries"):
            if len(args) != 1:
                self.error("E0101", f"{name} takes one type argument", te.span)
                return UNKNOWN
            inner = self.resolve(args[0])
            return replace(inner, series=True) if name != "Distribution" else inner
        if name in ("Array", "List"):
            return array(self.resolve(args[0]) if args else UNKNOWN)
        if name == "Scoped":
            if len(args) != 2:
                self.error("E0101", "Scoped takes two type arguments: `Scoped<T, Entity>`", te.span)
                return UNKNOWN
            return replace(self.resolve(args[0]), scope=args[1].name)
        sym = self.symbols.get(name)
        if sym is not None and sym.kind == "enum":
            return PelType("Enum", name=name)
        if sym is not None and sym.kind == "record":
            return PelType("Record", name=name)
        for item in self.model.items:  # enums/records declared later
            if isinstance(item, ast.EnumDecl | ast.RecordDecl) and item.name == name:
                return PelType("Enum" if isinstance(item, ast.EnumDecl) else "Record", name=name)
        known = ["Currency", "Rate", "Duration", "Count", "Capacity", "Fraction", "Boolean", "TimeSeries",
                 "Array", "String", "Int"]
        close = difflib.get_close_matches(name, known, n=1)
        self.error("E0101", f"unknown type '{name}'", te.span, f"did you mean '{close[0]}'?" if close else None)
        return UNKNOWN

    # ------------------------------------------------------------------ compatibility
    def assign(self, declared: PelType, actual: PelType, node: ast.Node, what: str,
               code: str = "E0100") -> float:
        """Check that `actual` may be stored in `declared`; returns the factor lowering multiplies by."""
        d, a = declared.element(), actual.element()
        if d.unknown or a.unknown:
            return 1.0
        if d.kind != "num" or a.kind != "num":
            if d.kind == a.kind and (d.kind != "Array" or self._array_ok(d, a)) and d.name == a.name:
                return 1.0
            self.error(code, f"{what} has type {type_text(declared)} but the value is {type_text(actual)}",
                       node.span)
            return 1.0
        if same_dimension(d, a):
            return 1.0
        if d.te == a.te == -1 and replace(d, time=None) == replace(a, time=None, integral=d.integral):
            return 1.0  # a flow in another time unit: lossless, values are per step anyway
        na = step_normalize(a, self.step)
        if na is not None and same_dimension(d, na):
            return 1.0
        if a.scope and not d.scope and same_dimension(d, replace(a, scope=None)):
            return 1.0
        if d.scope and not a.scope and self._assignable_plain(replace(d, scope=None), a):
            self.coercion(f"{type_text(actual)} value for {what} ({type_text(declared)}) is read as "
                          f"per {d.scope}", node.span)
            return 1.0
        if d.te == 0 and a.te == 0 and not d.scope and not a.scope and (
                a.base is None and d.base in ("Count", "Capacity") or d.base is None and a.base == "Count"):
            return 1.0  # bare numbers for counts/capacities; counts used as plain numbers
        if d.te == -1 and a.te == 0 and (a.base == d.base and a.tag == d.tag or a.base == "Count"
                                         and d.base is None) and entity_key(a.scope) == entity_key(d.scope):
            self.coercion(f"{type_text(actual)} value for {what} ({type_text(declared)}) is read as "
                          f"per {d.time}", node.span,
                          f"write the unit explicitly, e.g. `… / 1{_unit_suffix(d.time)}`")
            return 1.0 / steps_in(d.time, self.step)
        if d.te == -1 and a.te == -1 and d.base is None and a.base == "Count":
            return 1.0
        if d.base == a.base == "Currency" and d.tag != a.tag:
            self.error("E0201", f"{what} is {type_text(declared)} but the value is {type_text(actual)}",
                       node.span, "convert explicitly: `x as Currency<EUR> with exchangeRate(r)`")
            return 1.0
        if d.te == a.te == 0 and d.base in ("Count", "Capacity") and d.scope and a.dimensionless:
            return 1.0  # a bare number for a ratio of counts: `Count<Engineer> per Customer = 0.1` (§1.5)
        self.error(code, f"{what} has type {type_text(declared)} but the value is {type_text(actual)}",
                   node.span, self.assign_hint(d, a, node))
        return 1.0

    def assign_hint(self, d: PelType, a: PelType, node: ast.Node) -> str | None:
        """How to fix a value of type `a` stored where `d` is declared (LANGUAGE.md §1.5): the unit it lacks."""
        if d.base == "Currency" and a.base is None and a.te == 0:
            return f"write a currency literal such as ${_first_number(node)}"
        if d.te == 0 and a.te == -1 and (d.base, d.tag, d.scope) == (a.base, a.tag, a.scope):
            flow = type_text(replace(a, series=False, integral=False))
            return (f"the value is a flow (an amount per {a.time}): declare it `{flow}`, or multiply by a duration "
                    f"for the amount over that time (e.g. `{_operand_text(node).replace('(…)', '…')} * "
                    f"1{_unit_suffix(self.step)}`)")
        if d.base == a.base == "Count" and d.te == a.te == 0 and not d.scope and not a.scope and d.tag and a.tag:
            factor = self.plain_factor(node)
            per = f"`Count<{d.tag}> per {a.tag}`"
            if factor is not None:
                return (f"declare the factor `{factor}` as {per}: Count<{a.tag}> * ({per[1:-1]}) is "
                        f"Count<{d.tag}>")
            return f"multiply by a factor declared {per} (Count<{a.tag}> * factor is Count<{d.tag}>)"
        return None

    def plain_factor(self, node: ast.Node) -> str | None:
        """The text of the dimensionless operand of a product `count * factor` (either order), if it is one."""
        if not (isinstance(node, ast.Binary) and node.op == "*"):
            return None
        for side in (node.right, node.left):
            t = self.out.types.get(id(side))
            if t is not None and t.element().dimensionless:
                return _operand_text(side)
        return None

    def no_text(self, t: PelType, node: ast.Node, what: str, hint: str | None = None) -> None:
        """A value the runtime computes with is a number or a Boolean: text in a policy action or a message value
        is refused (the runtime has no strings; LANGUAGE.md §1.1 keeps String for literals and if-expressions)."""
        if t.element().kind == "String" or t.kind == "Array" and t.inner is not None and t.inner.kind == "String":
            self.error("E0100", f"{what} would hold text ({type_text(t)}): values computed while the model runs "
                       "are numbers or Booleans", node.span,
                       hint or "keep text in a parameter (`param label: String = \"…\"`) or a constraint message")

    def whole_numbers(self, te: ast.TypeExpr | None, value: ast.Expr, what: str) -> None:
        """An `Int` annotation (LANGUAGE.md §1.1 [R]: Fraction with an integral flag) refuses literals with a
        fractional part, also as array elements (`[Int]`); computed values are not checked."""
        if not _int_annotation(te):
            return
        for lit in _number_literals(value):
            if lit.value != int(lit.value):
                self.error("E0100", f"{what} is declared Int but {lit.text} is not a whole number", lit.span,
                           "declare it Fraction, or write a whole number")

    def _assignable_plain(self, d: PelType, a: PelType) -> bool:
        return same_dimension(d, a) or (d.te == -1 and a.te == 0 and a.base == d.base and a.tag == d.tag)

    def _array_ok(self, d: PelType, a: PelType) -> bool:
        if d.inner is None or a.inner is None or d.inner.unknown or a.inner.unknown:
            return True
        if d.inner.kind == a.inner.kind == "num":
            return same_dimension(d.inner, a.inner) or a.inner.dimensionless and d.inner.base != "Currency"
        return d.inner.kind == a.inner.kind

    # ------------------------------------------------------------------ params
    def check_param(self, p: ast.ParamDecl) -> None:
        if self.symbols.get(p.name) is None or self.symbols[p.name].node is not p or p.value is None:
            if p.value is None and self.symbols.get(p.name) and self.symbols[p.name].node is p:
                self.error("E0102", f"parameter '{p.name}' has no value", p.span,
                           "write `= value` or `~ Distribution(...)`")
            return
        self.param_value(p, p.value)

    def param_value(self, p: ast.ParamDecl, value: ast.Expr, code: str = "E0100") -> None:
        """The value (or distribution) `value` checked against the declared type of parameter `p`: its
        declaration's own, or a scenario's (a type that does not fit is `code`; a scenario's is E0200, as for
        `--set`; another currency is E0201 either way)."""
        declared = self.out.decl_types[p.name]
        env = Env()
        if self.dist_node(value):
            info = self.check_dist(value, env, declared)
            self.out.coercions[id(value)] = self.dist_coercion(info, declared, p, code)
            return
        actual = self.expr(value, env, declared)
        self.whole_numbers(p.type, value, f"parameter '{p.name}'")
        factor = self.assign(declared, actual, value, f"parameter '{p.name}'", code)
        if factor != 1.0:
            self.out.coercions[id(value)] = factor

    def check_scenarios(self) -> None:
        """Each scenario: a new name; each entry a declared parameter, named once, its value checked as the
        parameter's own would be (a number, or a distribution, in the declared unit)."""
        seen: dict[str, ast.ScenarioDecl] = {}
        for sc in self.model.of(ast.ScenarioDecl):
            if sc.name in seen:
                self.error("E0601", f"scenario '{sc.name}' is already defined (line {seen[sc.name].span.line})",
                           sc.name_span or sc.span)
                continue
            seen[sc.name] = sc
            named: set[str] = set()
            for e in sc.entries:
                sym = self.symbols.get(e.name)
                if sym is None or sym.kind != "param":
                    what = "undefined identifier" if sym is None else f"'{e.name}' is a {sym.kind}, not a parameter"
                    self.error("E0600", f"scenario '{sc.name}': {what} '{e.name}'" if sym is None else
                               f"scenario '{sc.name}': {what}", e.name_span or e.span,
                               "a scenario sets parameters: " + ", ".join(
                                   n for n, s in self.symbols.items() if s.kind == "param"))
                    continue
                if e.name in named:
                    self.error("E0601", f"scenario '{sc.name}' sets '{e.name}' twice", e.name_span or e.span)
                    continue
                named.add(e.name)
                self.param_value(sym.node, e.value, "E0200")

    def dist_coercion(self, info: DistInfo, declared: PelType, p: ast.Node, code: str = "E0100") -> float:
        if info.dist == "LogNormal" and info.log_space and declared.kind == "num" and declared.te != -1:
            return 1.0  # plain-number mu reads log-space whatever the declared type (§12)
        probe = info.type if not (info.dist == "LogNormal" and info.log_space) else FRACTION
        factor = self.assign(declared, probe, info.node or p, f"parameter '{getattr(p, 'name', '?')}'", code)
        if factor != 1.0 and info.dist in ("Beta", "Mixture"):
            self.error("E0100", f"a {info.dist} distribution cannot be rescaled to {type_text(declared)}",
                       (info.node or p).span, f"declare the parameter per {self.step} or give the value "
                       f"with its unit")
        return factor

    # ------------------------------------------------------------------ vars
    def inference_order(self) -> list[str]:
        """Undeclared variables, each after the undeclared variables its rules name (depth first, iterative):
        inferring them in this order keeps `var_type` from recursing along a chain of thousands of them."""
        untyped = {n for n in self.rules if self.symbols[n].type is None}
        deps = {n: [m.id for node in self.rules[n] for m in node.walk()
                    if isinstance(m, ast.Name) and m.id in untyped and m.id != n] for n in untyped}
        order: list[str] = []
        state: dict[str, int] = {}  # 1: on the stack, 2: placed
        for root in self.rules:
            if root not in untyped or root in state:
                continue
            stack = [(root, iter(deps[root]))]
            state[root] = 1
            while stack:
                name, it = stack[-1]
                nxt = next((d for d in it if d not in state), None)
                if nxt is None:
                    stack.pop()
                    state[name] = 2
                    order.append(name)
                else:
                    state[nxt] = 1
                    stack.append((nxt, iter(deps[nxt])))
        return order

    def var_type(self, name: str) -> PelType:
        if name in self.out.decl_types:
            return self.out.decl_types[name]
        sym = self.symbols[name]
        nodes = self.rules.get(name, [])
        series = any(getattr(n, "index", None) is not None for n in nodes)
        if sym.type is not None:
            t = sym.type
        elif name in self.inferring:
            return UNKNOWN
        else:
            self.inferring.add(name)
            t = UNKNOWN
            for node in nodes:
                t = self.check_rule(name, node, infer=True).element()
                if not t.unknown:
                    break
            self.inferring.discard(name)
            if not nodes:
                decl = sym.node
                self.error("E0102", f"cannot infer the type of '{name}'", decl.span,
                           f"annotate it: `var {name}: TimeSeries<...>`")
        if series and not t.unknown:
            t = replace(t, series=True)
        self.out.decl_types[name] = t
        sym.type = t
        return t

    def rule_env(self, node: ast.Node) -> Env:
        pattern = getattr(node, "index", None)
        names = TIME_NAMES if pattern is None or pattern.var in TIME_NAMES else (*TIME_NAMES, pattern.var)
        return Env(time_names=names)

    def check_rule(self, name: str, node: ast.Node, infer: bool = False) -> PelType:
        value = node.value
        if id(node) in self.checked_rules:
            return self.out.types.get(id(value), UNKNOWN)
        self.checked_rules.add(id(node))
        pattern = getattr(node, "index", None)
        if pattern is not None and pattern.expr is not None:
            self.rule_index(pattern.expr)
        elif pattern is not None and pattern.literal is None and pattern.var not in TIME_NAMES:
            sym = self.symbols.get(pattern.var)
            if sym is not None:  # `x[price] = …`: a declared name is not another spelling of the time index
                self.error("E0100", f"the index of a rule must be the time index or a whole step, "
                           f"found the {sym.kind} '{pattern.var}'", pattern.span,
                           "write a literal step (x[0]) or the time index with an offset (x[t], x[t+1])")
        env = self.rule_env(node)
        if getattr(node, "guard", None) is not None:
            self.boolean(node.guard, env, "E0100", "the rule's `for` condition")
        declared = None if infer else self.var_type(name)
        t = self.expr(value, env, declared)
        if declared is not None:
            sym = self.symbols.get(name)
            if sym is not None and isinstance(sym.node, ast.VarDecl):
                self.whole_numbers(sym.node.type, value, f"variable '{name}'")
            factor = self.assign(declared, t, value, f"variable '{name}'")
            if factor != 1.0:
                self.out.coercions[id(value)] = factor
        return t

    def rule_index(self, e: ast.Expr) -> None:
        """An index on the left of a rule that is neither a whole step (`x[5]`) nor `t`±k (`x[t+1]`)."""
        it = self.expr(e, Env()).element()
        if it.unknown:
            return
        if it.kind != "num" or not it.dimensionless:
            self.error("E0100", f"the index of a rule must be a whole number, found {type_text(it)}", e.span,
                       "write a literal step (x[0]) or the time index with an offset (x[t], x[t+1])")
            return
        value = literal_value(e, self.step)
        if value is None and isinstance(e, ast.Binary) and e.op in "+-":  # `t + 0.5`
            value = next((v for v in map(literal_value, (e.left, e.right))
                          if v is not None and not float(v).is_integer()), None)
        if value is not None and not float(value).is_integer():
            self.error("E0100", f"the index of a rule must be a whole number, found {value:g}", e.span,
                       "write a literal step (x[0]) or the time index with an offset (x[t], x[t+1])")
            return
        if value is None and not it.integral:
            self.error("E0100", f"the index of a rule must be a whole number, found {type_text(it)}", e.span,
                       "write a literal step (x[0]) or the time index with an offset (x[t], x[t+1])")
            return
        self.error("E0005", "unsupported index on the left of a rule", e.span,
                   "write a literal step (x[0]) or the time index with an offset (x[t], x[t+1])")

    # ------------------------------------------------------------------ funcs
    def check_func(self, f: ast.FuncDecl) -> None:
        local = {}
        for fp in f.params:
            local[fp.name] = self.resolve(fp.type) if fp.type is not None else UNKNOWN
            if local[fp.name].kind in ("Array", "String"):  # the runtime passes numbers to functions
                self.error("E0100", f"function '{ast.shown_name(f.name)}': parameter '{fp.name}' is {type_text(local[fp.name])}; "
                           "functions take numbers", fp.type.span if fp.type is not None else f.span,
                           "pass the numbers one by one, or compute the aggregate (`sum(xs)`) before the call")
        ret = self.resolve(f.returns) if f.returns is not None else None
        if ret is not None and ret.kind == "String":  # texts are decided when the model compiles, never computed
            self.error("E0100", f"function '{ast.shown_name(f.name)}' returns String: functions compute numbers", f.returns.span,
                       "take the text as a parameter and compare it in the function (`if shape == \"linear\" …`)")
        self.out.func_types.setdefault(f.name, (list(local.values()), ret or UNKNOWN))
        env = Env(locals=local, returns=[], expected_return=ret)
        self.stmts(f.body, env)

    def func_sig(self, f: ast.FuncDecl) -> tuple[list[PelType], PelType]:
        params = [self.resolve_quiet(fp.type) for fp in f.params]
        return params, self.resolve_quiet(f.returns)

    def resolve_quiet(self, te: ast.TypeExpr | None) -> PelType:
        if te is None:
            return UNKNOWN
        mark = len(self.bag.items)
        t = self.resolve(te)
        del self.bag.items[mark:]  # reported once, when the declaration itself is checked
        return t

    def stmts(self, body: tuple[ast.Stmt, ...], env: Env) -> None:
        for s in body:
            self.stmt(s, env)

    def stmt(self, s: ast.Stmt, env: Env) -> None:
        if isinstance(s, ast.LetStmt):
            t = self.expr(s.value, env) if s.value is not None else UNKNOWN
            if s.type is not None:
                declared = self.resolve(s.type)
                if s.value is not None:
                    self.whole_numbers(s.type, s.value, f"'{s.name}'")
                    self.assign(declared, t, s.value, f"'{s.name}'")
                t = declared
            env.locals[s.name] = t
        elif isinstance(s, ast.AssignStmt):
            target = s.target.id if isinstance(s.target, ast.Name) else None
            t = self.expr(s.value, env)
            if target is None or target not in env.locals:
                self.error("E0600", "assignment target is not a local variable of this body", s.target.span,
                           "declare it first with `var name = …`")
            elif s.op in ("=", "+=", "-="):
                if env.locals[target].unknown:
                    env.locals[target] = t
                else:
                    self.assign(env.locals[target], t, s.value, f"'{target}'")
        elif isinstance(s, ast.IfStmt):
            self.boolean(s.cond, env, "E0100", "an `if` condition")
            self.stmts(s.then, env.child())
            self.stmts(s.else_, env.child())
        elif isinstance(s, ast.ForStmt):
            self.numeric_index(s.start, env)
            self.numeric_index(s.end, env)
            inner = env.child(**{s.var: INTEGER})
            inner.returns = env.returns
            self.stmts(s.body, inner)
        elif isinstance(s, ast.ReturnStmt):
            t = self.expr(s.value, env) if s.value is not None else UNKNOWN
            if env.expected_return is not None and s.value is not None:
                self.assign(env.expected_return, t, s.value, "the return value")
            if env.returns is not None:
                env.returns.append(t)
        elif isinstance(s, ast.ExprStmt):
            self.expr(s.expr, env)
        elif isinstance(s, ast.EmitStmt):
            for kw in s.args:
                self.expr(kw.value, env)

    def numeric_index(self, e: ast.Expr, env: Env) -> None:
        t = self.expr(e, env).element()
        if t.kind == "num" and not (t.dimensionless or step_normalize(t, self.step)):
            self.error("E0100", f"a range bound must be a plain number, found {type_text(t)}", e.span)
        elif t.kind not in ("num", "Unknown"):
            self.error("E0100", f"a range bound must be a number, found {type_text(t)}", e.span)

    def boolean(self, e: ast.Expr, env: Env, code: str, what: str) -> None:
        t = self.expr(e, env)
        if t.kind not in ("Boolean", "Unknown"):
            self.error(code, f"{what} must be Boolean, found {type_text(t)}", e.span,
                       "compare it, e.g. `x > 0`")

    # ------------------------------------------------------------------ constraints and policies
    def check_constraint(self, c: ast.ConstraintDecl) -> None:
        env = Env(undefined_code="E0503")
        if c.scope is not None:
            self.check_scope(c.scope, env)
        for clause in c.clauses:
            self.boolean(clause.condition, env, "E0501", f"the condition of constraint '{c.name}'")
            sev = clause.severity
            if sev is None and c.has_block:
                self.error("E0504", f"constraint '{c.name}' has no severity", clause.span,
                           "add `severity: fatal` or `severity: warning`")
            elif sev is not None and sev not in ("fatal", "warning"):
                sugg = "fatal" if sev.lower() in ("error", "critical", "fatal", "severe", "high") else "warning"
                self.error("E0504", f"invalid severity '{sev}' (must be fatal or warning)",
                           clause.severity_span or clause.span, f"use `{sugg}`")
            if clause.message is not None:
                self.out.messages[id(clause)] = self.message_parts(clause, env)
        for extra in c.extras:
            if extra.key == "slack" and isinstance(extra.value, ast.Bool) and extra.value.value and any(
                    (cl.severity or "fatal") == "fatal" for cl in c.clauses):
                self.error("E0506", f"slack requested on fatal constraint '{c.name}'", extra.span,
                           "slack is tracked for warning constraints only")

    def check_scope(self, scope: ast.Scope, env: Env) -> None:
        if scope.kind == "range":
            for bound in (scope.start, scope.end):
                if bound is not None:
                    self.numeric_index(bound, env)
            lo, hi = literal_value(scope.start), literal_value(scope.end)
            if lo is not None and hi is not None and lo > hi:
                self.error("E0502", f"constraint scope starts after it ends ({lo:g} > {hi:g})", scope.span)
        elif scope.kind == "cond" and scope.cond is not None:
            self.boolean(scope.cond, env, "E0501", "a constraint scope condition")

    def message_parts(self, clause: ast.ConstraintClause, env: Env) -> list[str | ast.Expr]:
        text = clause.message or ""
        span = clause.message_span or clause.span
        parts: list[str | ast.Expr] = []
        buf: list[str] = []
        i = 0
        while i < len(text):
            ch = text[i]
            if text.startswith("{{", i) or text.startswith("}}", i):
                buf.append(ch)
                i += 2
                continue
            if ch == "{":
                end = text.find("}", i)
                if end < 0:
                    self.error("E0005", "unclosed `{` in a constraint message", span, "write `{{` for a brace")
                    buf.append(text[i:])
                    break
                if buf:
                    parts.append("".join(buf))
                    buf = []
                parsed = self.parse_interp(text[i + 1:end], span, i + 1)
                if parsed is not None:
                    self.no_text(self.expr(parsed, env), parsed, "a message value",
                                 "write the text into the message itself")
                    parts.append(parsed)
                i = end + 1
                continue
            buf.append(ch)
            i += 1
        if buf:
            parts.append("".join(buf))
        return parts

    def parse_interp(self, text: str, span: Span, offset: int) -> ast.Expr | None:
        from pel.frontend import parser  # the parser imports nothing from the checker

        try:
            return parser.parse_expression(text, span.file, span.line, span.col + 1 + offset)
        except CompileError as exc:
            self.bag.extend(exc.diagnostics)
            return None

    def check_policy(self, p: ast.PolicyDecl) -> None:
        env = Env(undefined_code="E0600")
        self.boolean(p.trigger, env, "E0700", f"the trigger of policy '{p.name}'")
        if not p.actions:
            self.bag.warning("W0703", f"policy '{p.name}' has no actions: it does nothing", p.span,
                             "give it an action in `then: { … }` or remove it")
        self.actions(p.actions, env, p)

    def actions(self, actions: tuple[ast.Stmt, ...], env: Env, p: ast.PolicyDecl) -> None:
        for a in actions:
            if isinstance(a, ast.AssignStmt):
                self.action(a, env, p)
            elif isinstance(a, ast.IfStmt):
                self.boolean(a.cond, env, "E0700", "a conditional action's condition")
                self.actions(a.then, env, p)
                self.actions(a.else_, env, p)
            elif isinstance(a, ast.EmitStmt):
                for kw in a.args:
                    self.expr(kw.value, env)
            else:
                self.error("E0701", "a policy action must be an assignment, `emit` or `if`", a.span)

    def action(self, a: ast.AssignStmt, env: Env, p: ast.PolicyDecl) -> None:
        target = a.target
        if isinstance(target, ast.Index) and isinstance(target.base, ast.Name):
            self.expr(target.index, Env())
            target = target.base
        value_t = self.expr(a.value, env)
        if not isinstance(target, ast.Name):
            self.error("E0701", "a policy can only assign a parameter or a variable", a.target.span)
            return
        self.no_text(value_t, a.value, f"policy '{p.name}' action")
        sym = self.symbols.get(target.id)
        if sym is None or sym.kind not in ("param", "var"):
            self.error("E0703", f"policy '{p.name}' assigns undefined variable '{target.id}'", target.span,
                       self.did_you_mean(target.id, ("param", "var")))
            return
        self.out.policy_targets.add(target.id)
        if sym.kind == "param":
            msg = f"policy '{p.name}' modifies parameter '{target.id}'"
            hint = f"declare '{target.id}' as `var mut` if it is meant to change"
            if self.strict:
                self.error("E0702", msg, a.target.span, hint)
            else:
                self.bag.warning("W0702", msg, a.target.span, hint)
        target_t = self.out.decl_types.get(target.id) or self.var_type(target.id)
        self.out.types[id(target)] = target_t
        if a.op in ("*=", "/="):
            v = value_t.element()
            if v.kind == "num" and not (v.dimensionless or step_normalize(v, self.step) is not None
                                        and step_normalize(v, self.step).dimensionless):
                self.error("E0701", f"`{a.op}` needs a plain factor, found {type_text(value_t)}", a.value.span)
            elif v.kind not in ("num", "Unknown"):
                self.error("E0701", f"`{a.op}` needs a number, found {type_text(value_t)}", a.value.span)
            return
        factor = self.assign(target_t, value_t, a.value, f"'{target.id}'", code="E0701")
        if factor != 1.0:
            self.out.coercions[id(a.value)] = factor

    def check_output(self, o: ast.OutputDecl) -> None:
        for item in o.items:
            if item.value is None:
                sym = self.symbols.get(item.name)
                if sym is not None and sym.kind == "param":
                    self.error("E0600", f"output '{item.name}' is a parameter, not a variable", item.span,
                               f"name an expression of it: `output {item.name}_value = {item.name}`")
                elif sym is None or sym.kind != "var":
                    self.error("E0600", f"output '{item.name}' is not a variable", item.span,
                               self.did_you_mean(item.name, ("var",)))
                continue
            if item.name in self.symbols:
                self.error("E0601", f"'{item.name}' is already defined", item.span)
            if item.name in RESULT_KEYS:
                self.error("E0601", f"output name '{item.name}' collides with the results key '{item.name}'",
                           item.span, f"rename it (e.g. '{item.name}_value')")
            self.out.decl_types[item.name] = self.expr(item.value, Env())

    def check_simulate(self) -> None:
        sims = self.model.of(ast.SimulateDecl)
        for extra in sims[1:]:
            self.error("E0601", "a model has one `simulate` directive", extra.span)
        if not sims:
            return
        sim = sims[0]
        if sim.mode is not None and sim.mode not in ("deterministic", "monte_carlo"):
            self.error("E0100", f"unknown simulation mode '{sim.mode}'", sim.span,
                       "use deterministic or monte_carlo")
        for what, e in (("runs", sim.runs), ("seed", sim.seed)):
            if e is None:
                continue
            v = literal_value(e)
            if not isinstance(e, ast.Number) or v is None or not float(v).is_integer() or v < (1 if what == "runs"
                                                                                               else 0):
                self.error("E0100", f"simulate {what} must be a whole number", e.span)
            elif v > (MAX_RUNS if what == "runs" else SEED_LIMIT - 1):
                self.error("E0100", f"simulate {what} {v:g} is above PEL's limit of "
                                    f"{MAX_RUNS if what == 'runs' else SEED_LIMIT - 1}", e.span)
        if sim.horizon is None:
            return
        h = sim.horizon
        if isinstance(h, ast.DurationLit):
            steps = h.amount * steps_in(LIT_UNITS[h.unit], self.step)
        elif isinstance(h, ast.Number):
            steps = h.value
        else:
            self.error("E0100", "the simulation horizon must be a duration such as `36mo` or `5y`", h.span)
            return
        if not steps <= MAX_STEPS:  # an infinite horizon too
            self.error("E0502", f"the simulation horizon of {steps:g} steps is above PEL's limit of {MAX_STEPS}",
                       h.span)
            return
        whole = math.ceil(steps - 1e-9)
        if abs(steps - round(steps)) > 1e-9:
            self.bag.warning("W0101", f"horizon of {steps:g} steps rounded up to {whole}", h.span)
        if whole < 1:
            self.error("E0502", "the simulation horizon must be at least one step", h.span)
            return
        self.out.horizon = int(whole)
        self.out.horizon_set = True

    # ------------------------------------------------------------------ names
    def did_you_mean(self, name: str, kinds: tuple[str, ...] | None = None) -> str | None:
        if name in STDLIB_MODULE:
            return f"'{name}' is provided by the standard library module stdlib.{STDLIB_MODULE[name]}: " \
                   f"`import stdlib.{STDLIB_MODULE[name]}`"
        pool = [s for s, sym in self.symbols.items() if kinds is None or sym.kind in kinds]
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.75)
        return f"did you mean '{close[0]}'?" if close else None

    def name(self, e: ast.Name, env: Env) -> PelType:
        n = e.id
        if n in env.locals:
            return env.locals[n]
        if n in env.time_names:
            return INTEGER
        sym = self.symbols.get(n)
        if sym is not None:
            if sym.kind == "param":
                return self.out.decl_types.get(n, UNKNOWN)
            if sym.kind == "var":
                return self.var_type(n)
            if sym.kind == "enum":
                return PelType("Enum", name=n)
            self.error("E0100", f"'{n}' is a {sym.kind}, not a value", e.span)
            return UNKNOWN
        if n in HORIZON_NAMES:
            return INTEGER
        what = "function" if n in STDLIB_MODULE else "identifier"
        self.error(env.undefined_code, f"undefined {what} '{n}'", e.span, self.did_you_mean(n))
        return UNKNOWN

    # ------------------------------------------------------------------ expressions
    def expr(self, e: ast.Expr, env: Env, expected: PelType | None = None) -> PelType:
        if id(e) in self.out.types:
            return self.out.types[id(e)]
        t = self._expr(e, env, expected)
        self.out.types[id(e)] = t
        return t

    def _expr(self, e: ast.Expr, env: Env, expected: PelType | None) -> PelType:  # noqa: C901
        if isinstance(e, ast.Number):
            return INTEGER if e.integral else FRACTION
        if isinstance(e, ast.Percent):
            return FRACTION
        if isinstance(e, ast.Money):
            code = CURRENCY_SYMBOLS.get(e.symbol)
            if code is None:
                if expected is not None and expected.base == "Currency" and expected.tag in ("JPY", "CNY"):
                    return currency(expected.tag)
                self.error("E0102", f"'{e.symbol}' is ambiguous (JPY or CNY)", e.span,
                           "annotate the declaration as Currency<JPY> or Currency<CNY>")
                return UNKNOWN
            return currency(code)
        if isinstance(e, ast.DurationLit):
            return duration(LIT_UNITS.get(e.unit))
        if isinstance(e, ast.String):
            return STRING
        if isinstance(e, ast.Bool):
            return BOOLEAN
        if isinstance(e, ast.Name):
            return self.name(e, env)
        if isinstance(e, ast.Index):
            return self.index(e, env)
        if isinstance(e, ast.Member):
            return self.member(e, env)
        if isinstance(e, ast.Binary):
            return self.binary(e, env)
        if isinstance(e, ast.Unary):
            return self.unary(e, env)
        if isinstance(e, ast.IfExpr):
            return self.if_expr(e, env, expected)
        if isinstance(e, ast.Dist):
            return self.check_dist(e, env, expected).type
        if isinstance(e, ast.Call):
            return self.call(e, env, expected)
        if isinstance(e, ast.Comprehension):
            return self.comprehension(e, env)
        if isinstance(e, ast.RangeExpr):
            self.numeric_index(e.start, env)
            self.numeric_index(e.end, env)
            return array(INTEGER)
        if isinstance(e, ast.ArrayLit):
            return self.array_lit(e, env, expected)
        if isinstance(e, ast.Cast):
            return self.cast(e, env)
        if isinstance(e, ast.Changes):
            if not isinstance(e.operand, ast.Name) or self.symbols.get(e.operand.id) is None or \
                    self.symbols[e.operand.id].kind not in ("param", "var"):
                self.error("E0600", "`changes` applies to a parameter or variable name", e.operand.span)
            else:
                self.expr(e.operand, env)
            return BOOLEAN
        if isinstance(e, ast.BlockExpr):
            inner = Env(locals=dict(env.locals), time_names=env.time_names, undefined_code=env.undefined_code,
                        returns=[], expected_return=None)
            self.stmts(e.body, inner)
            if not inner.returns:
                self.error("E0102", "a block expression needs a `return`", e.span)
                return UNKNOWN
            return inner.returns[0]
        if isinstance(e, ast.Lambda):
            self.error("E0100", "function values (lambdas) are not supported here", e.span,
                       "declare a `func` and call it")
            return UNKNOWN
        self.error("E0100", f"{type(e).__name__} is not a valid expression here", e.span)
        return UNKNOWN

    def index(self, e: ast.Index, env: Env) -> PelType:
        it = self.expr(e.index, env).element()
        if it.kind == "num" and not it.dimensionless:
            self.error("E0100", f"an index must be a plain number, found {type_text(it)}", e.index.span)
        elif it.kind not in ("num", "Unknown"):
            self.error("E0100", f"an index must be a number, found {type_text(it)}", e.index.span)
        base = self.expr(e.base, env)
        if base.unknown:
            return UNKNOWN
        if base.kind == "Array":
            return base.inner or UNKNOWN
        if base.kind == "num" or base.kind in ("Boolean", "Enum"):
            return base.element()
        self.error("E0100", f"a value of type {type_text(base)} cannot be indexed", e.span)
        return UNKNOWN

    def member(self, e: ast.Member, env: Env) -> PelType:
        if isinstance(e.base, ast.Name):
            sym = self.symbols.get(e.base.id)
            if sym is not None and sym.kind == "enum":
                if e.attr not in sym.node.variants:
                    self.error("E0600", f"enum '{sym.name}' has no variant '{e.attr}'", e.span)
                    return UNKNOWN
                return PelType("Enum", name=sym.name)
        base = self.expr(e.base, env)
        if base.kind == "Record":
            rec = self.symbols.get(base.name or "")
            for f in getattr(rec.node, "fields", ()) if rec else ():
                if f.name == e.attr:
                    return self.resolve_quiet(f.type)
        if not base.unknown:
            self.error("E0600", f"{type_text(base)} has no member '{e.attr}'", e.span)
        return UNKNOWN

    def binary(self, e: ast.Binary, env: Env) -> PelType:
        """A chain is typed bottom-up in a loop (each node's left operand is then already typed): no recursion
        in the length of an operator chain."""
        _, nodes = ast.left_spine(e)
        for node in nodes[:-1]:
            if id(node) not in self.out.types:
                self.out.types[id(node)] = self.binary_node(node, env)
        return self.binary_node(e, env)

    def binary_node(self, e: ast.Binary, env: Env) -> PelType:
        op = e.op
        a, b = self.expr(e.left, env), self.expr(e.right, env)
        if op in ("&&", "||", "implies"):
            for side, t in ((e.left, a), (e.right, b)):
                if t.kind not in ("Boolean", "Unknown"):
                    self.error("E0100", f"`{op}` needs Boolean operands, found {type_text(t)}", side.span)
            return BOOLEAN
        if a.unknown or b.unknown:
            return BOOLEAN if op in ("==", "!=", "<", "<=", ">", ">=") else UNKNOWN
        a, b = a.element(), b.element()
        if op in ("==", "!=", "<", "<=", ">", ">="):
            if a.kind != "num" or b.kind != "num":
                if a.kind == b.kind and op in ("==", "!=") and a.name == b.name:
                    return BOOLEAN
                self.error("E0100", f"cannot compare {type_text(a)} with {type_text(b)}", e.span)
                return BOOLEAN
            r = additive(op, a, b, self.step, zero_left=_is_zero(e.left), zero_right=_is_zero(e.right))
            if r.code:
                self.error(r.code, r.message, e.span, self.operator_hint(op, a, b, e))
            return BOOLEAN
        if a.kind != "num" or b.kind != "num":
            self.error("E0100", f"`{op}` needs numbers, found {type_text(a)} and {type_text(b)}", e.span)
            return UNKNOWN
        if op in ("+", "-"):
            r = additive(op, a, b, self.step)
            if r.code:
                self.error(r.code, r.message, e.span, self.operator_hint(op, a, b, e))
                return r.type
        elif op == "*":
            r = multiply(a, b, self.step)
        elif op == "/":
            if _is_zero(e.right):
                self.error("E0800", "division by zero", e.right.span)
                return UNKNOWN
            r = divide(a, b, self.step)
        elif op == "^":
            r = power(a, b, self.step, literal_value(e.right) == 1)
        elif op == "%":
            na, nb = step_normalize(a, self.step) or a, step_normalize(b, self.step) or b
            if _is_zero(e.right):
                self.error("E0800", "modulo by zero", e.right.span)
                return UNKNOWN
            if not (na.dimensionless and nb.dimensionless):
                self.error("E0200", f"`%` needs plain numbers, found {type_text(a)} and {type_text(b)}", e.span)
                return UNKNOWN
            return INTEGER if a.integral and b.integral else FRACTION
        else:
            self.error("E0100", f"unknown operator `{op}`", e.span)
            return UNKNOWN
        if r.code:
            self.error(r.code, r.message, e.span)
        return r.type

    def operator_hint(self, op: str, a: PelType, b: PelType, e: ast.Binary) -> str | None:
        """How to fix `a op b` (`+ -` or a comparison) whose dimensions differ: a flow or rate next to an amount
        of its kind wants a duration; a plain number next to money wants a currency symbol."""
        for flow, other, node, other_node in ((a, b, e.left, e.right), (b, a, e.right, e.left)):
            same_kind = (flow.base, flow.tag, flow.scope) == (other.base, other.tag, other.scope)
            if flow.te == -1 and other.te == 0 and same_kind:
                what = "a rate" if flow.base is None else "a flow"
                if op not in ("+", "-") and _literal_number(other_node) is not None:
                    return (f"`{_operand_text(node)}` is {what} per {flow.time}: write the bound as one, "
                            f"`{_operand_text(other_node)} / 1{_unit_suffix(flow.time)}`")
                return (f"`{_operand_text(node)}` is {what} per {flow.time}: multiply it by a duration to get "
                        f"{'a plain fraction' if flow.base is None else 'an amount'}, e.g. "
                        f"`{_operand_text(node)} * 1{_unit_suffix(self.step)}`")
            if flow.base == "Currency" and flow.te == 0 and other.dimensionless and \
                    _literal_number(other_node) is not None:
                return f"write the number as money: `${_operand_text(other_node)}`"
        return None

    def unary(self, e: ast.Unary, env: Env) -> PelType:
        t = self.expr(e.operand, env)
        if t.unknown:
            return UNKNOWN
        if e.op == "!":
            if t.kind != "Boolean":
                self.error("E0100", f"`!` needs a Boolean operand, found {type_text(t)}", e.span)
            return BOOLEAN
        if t.kind != "num":
            self.error("E0100", f"`{e.op}` needs a number, found {type_text(t)}", e.span)
            return UNKNOWN
        return t.element()

    def if_expr(self, e: ast.IfExpr, env: Env, expected: PelType | None) -> PelType:
        self.boolean(e.cond, env, "E0100", "an `if` condition")
        a = self.expr(e.then, env, expected)
        if e.else_ is None:
            if a.kind not in ("Boolean", "Unknown"):
                self.error("E0100", "`if … then …` without `else` needs a Boolean branch", e.then.span)
            return BOOLEAN
        b = self.expr(e.else_, env, expected)
        return self.unify(a, b, e)

    def unify(self, a: PelType, b: PelType, e: ast.Node) -> PelType:
        if a.unknown or b.unknown:
            return UNKNOWN
        a, b = a.element(), b.element()
        if a.kind == b.kind == "num":
            r = additive("+", a, b, self.step)
            if r.code is None:
                return r.type
            if a.dimensionless and b.base in ("Count", "Capacity") or b.dimensionless and a.base in ("Count",
                                                                                                     "Capacity"):
                return a if a.base else b
        elif a.kind == b.kind and a.name == b.name:
            return a
        self.error("E0100", f"`if` branches differ: {type_text(a)} and {type_text(b)}", e.span)
        return UNKNOWN

    def array_lit(self, e: ast.ArrayLit, env: Env, expected: PelType | None) -> PelType:
        if not e.elements:
            if expected is not None and expected.kind == "Array":
                return expected
            self.error("E0102", "cannot infer the type of an empty array", e.span, "annotate the declaration")
            return UNKNOWN
        inner = None
        for el in e.elements:
            t = self.expr(el, env)
            if inner is None:
                inner = t
            elif not t.unknown and not inner.unknown:
                inner = self.unify(inner, t, el)
        return array(inner.element() if inner else UNKNOWN)

    def cast(self, e: ast.Cast, env: Env) -> PelType:
        src = self.expr(e.value, env).element()
        target = self.resolve(e.type)
        if e.with_ is not None:
            w = e.with_
            if isinstance(w, ast.Call) and isinstance(w.func, ast.Name) and w.func.id == "exchangeRate" \
                    and len(w.args) == 1:
                rt = self.expr(w.args[0], env)
                self.out.types[id(w)] = rt
                if rt.kind == "num" and not rt.dimensionless:
                    self.error("E0100", "an exchange rate is a plain number", w.args[0].span)
            else:
                self.error("E0100", "write `with exchangeRate(r)`", w.span)
        elif src.base == "Currency" and target.base == "Currency" and src.tag != target.tag:
            self.error("E0201", f"converting {type_text(src)} to {type_text(target)} needs an exchange rate",
                       e.span, "add `with exchangeRate(r)`")
        return target

    def comprehension(self, e: ast.Comprehension, env: Env) -> PelType:
        self.numeric_index(e.start, env)
        self.numeric_index(e.end, env)
        inner = env.child(**{e.var: INTEGER})
        body = self.expr(e.body, inner)
        if e.cond is not None:
            self.boolean(e.cond, inner, "E0100", "a comprehension filter")
        fn = e.func
        if fn in ("count", "length") or fn == "sum" and body.kind == "Boolean":
            return INTEGER
        if fn not in ("sum", "min", "max", "avg", "mean"):
            self.error("E0600", f"unknown aggregation '{fn}'", e.span, "use sum, avg, min, max or count")
            return UNKNOWN
        return body.element()

    # ------------------------------------------------------------------ calls
    def dist_node(self, e: ast.Expr) -> bool:
        return isinstance(e, ast.Dist) or isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and \
            e.func.id in DISTS and e.func.id not in self.symbols

    def call(self, e: ast.Call, env: Env, expected: PelType | None) -> PelType:
        if self.dist_node(e):
            return self.check_dist(e, env, expected).type
        if isinstance(e.func, ast.Member):
            for a in e.args:
                self.expr(a, env)
            base = e.func.base
            if isinstance(base, ast.Name) and base.id in self.imports:
                return UNKNOWN  # an import alias: the import resolver reported the unknown name
            self.error("E0600", f"undefined function '{_dotted(e.func)}'", e.func.span,
                       "call a function of an imported module: `import stdlib.unit_econ as econ` "
                       "then `econ.ltv_simple(...)`")
            return UNKNOWN
        if not isinstance(e.func, ast.Name):
            self.error("E0100", "only named functions can be called", e.func.span)
            return UNKNOWN
        fname = e.func.id
        args = [self.expr(a, env) for a in e.args]
        kw = {k.name: self.expr(k.value, env) for k in e.kwargs}
        if fname in self.overload_sets:
            return self.overloaded_call(e, fname, args, kw)
        sym = self.symbols.get(fname)
        if sym is not None and sym.kind == "func":
            return self.user_call(e, sym.node, args, kw)
        if fname in BUILTINS and fname not in env.locals:
            if e.kwargs:
                self.error("E0100", f"built-in '{fname}' takes positional arguments only", e.kwargs[0].span)
            return self.builtin(e, fname, args, env)
        if any(fname in imp.names for imp in self.model.imports):
            return UNKNOWN  # `from m import f` of a name m lacks: the import resolver reported it
        code = env.undefined_code if env.undefined_code != "E0503" else "E0600"
        self.error(code, f"undefined function '{fname}'", e.func.span, self.did_you_mean(fname, ("func",)) or (
            "built-ins: " + ", ".join(sorted(BUILTINS - {"len"}))))
        return UNKNOWN

    def overloaded_call(self, e: ast.Call, fname: str, args: list[PelType], kw: dict[str, PelType]) -> PelType:
        """A call of a name that has several functions of its arity (stdlib overloads): the one whose parameters
        take the arguments' types, tried without reporting; none, or more than one, is E0100 listing the forms."""
        if any(a.unknown for a in [*args, *kw.values()]):
            return UNKNOWN  # an argument that failed its own check: reported there
        candidates = [self.symbols[n].node for n in self.overload_sets[fname]
                      if n in self.symbols and self.symbols[n].kind == "func"]
        fits = []  # (function, its result type, what checking the call against it reported: warnings only)
        for f in candidates:
            saved, self.bag = self.bag, DiagnosticBag()
            try:
                ret = self.user_call(e, f, args, kw)
                if not self.bag.has_errors():
                    fits.append((f, ret, self.bag.items))
            finally:
                self.bag = saved
        if len(fits) == 1:
            f, ret, reported = fits[0]
            self.out.call_targets[id(e)] = f.name
            self.bag.items.extend(reported)
            return ret
        shown = ast.shown_name(fname)

        def form(f: ast.FuncDecl) -> str:
            params = zip(f.params, self.func_sig(f)[0], strict=True)
            return f"{shown}({', '.join(f'{p.name}: {type_text(t)}' for p, t in params)})"

        forms = "; ".join(form(f) for f in candidates)
        given = ", ".join(type_text(a) for a in [*args, *kw.values()])
        self.error("E0100", f"{'no form' if not fits else 'more than one form'} of '{shown}' takes ({given})",
                   e.span, f"its forms: {forms}")
        return UNKNOWN

    def user_call(self, e: ast.Call, f: ast.FuncDecl, args: list[PelType], kw: dict[str, PelType]) -> PelType:
        params, ret = self.func_sig(f)
        names = [p.name for p in f.params]
        given: dict[str, tuple[PelType, ast.Node]] = {}
        for i, (t, node) in enumerate(zip(args, e.args, strict=True)):
            if i >= len(names):
                self.error("E0100", f"'{ast.shown_name(f.name)}' takes {len(names)} arguments, {len(args) + len(kw)} given",
                           e.span)
                return ret
            given[names[i]] = (t, node)
        for k in e.kwargs:
            if k.name not in names:
                self.error("E0100", f"'{ast.shown_name(f.name)}' has no parameter '{k.name}'", k.span)
                continue
            if k.name in given:
                self.error("E0100", f"argument '{k.name}' given twice", k.span)
            given[k.name] = (kw[k.name], k.value)
        for pname, ptype in zip(names, params, strict=True):
            if pname not in given:
                self.error("E0100", f"'{ast.shown_name(f.name)}' is missing argument '{pname}'", e.span)
                continue
            t, node = given[pname]
            self.whole_numbers(f.params[names.index(pname)].type, node, f"argument '{pname}' of '{ast.shown_name(f.name)}'")
            self.assign(ptype, t, node, f"argument '{pname}' of '{ast.shown_name(f.name)}'")
        return ret

    def builtin(self, e: ast.Call, fn: str, args: list[PelType], env: Env) -> PelType:
        kinds = builtin_kinds(fn, len(args))
        if kinds is None:
            spec = lang_funcs.get(fn)
            low, high = len(spec.required), len(spec.kinds)
            count = "1 or more" if fn in VARIADIC else f"{low}" + (f"-{high}" if high != low else "")
            self.error("E0100", f"'{fn}' takes {count} argument(s), {len(args)} given", e.span,
                       f"write {_signature_text(fn)}")
            return UNKNOWN
        if fn == "npv" and not self.arg_kind_ok("series", e.args[0], args[0], env) and \
                self.arg_kind_ok("series", e.args[1], args[1], env):
            self.error("E0100", "'npv' takes the cash flows first, then the rate", e.span,
                       f"write {_signature_text(fn)}")
            return UNKNOWN
        bad = False
        for kind, node, t in zip(kinds, e.args, args, strict=True):
            if not self.arg_kind_ok(kind, node, t, env):
                self.error("E0100", f"'{fn}' needs {ARG_KIND_TEXT[kind]}, found {self.arg_text(node, t, env)}",
                           node.span, f"write {_signature_text(fn)}")
                bad = True
        if bad:
            return UNKNOWN
        if any(a.unknown for a in args):
            return UNKNOWN if fn not in ("count", "length", "len", "percentChange", "irr") else FRACTION
        return self.builtin_type(e, fn, args)

    def arg_kind_ok(self, kind: str, node: ast.Expr, t: PelType, env: Env) -> bool:
        """Whether argument `node` (typed `t`) is of the kind a built-in wants there (pel.lang.functions)."""
        if t.unknown:
            return True
        if kind == "num":
            return t.kind == "num"
        sym = self.symbols.get(node.id) if isinstance(node, ast.Name) and node.id not in env.locals else None
        if kind == "series":
            if t.kind == "Array":
                return t.inner is None or t.inner.unknown or t.inner.kind in ("num", "Boolean")
            return sym is not None and sym.kind == "var" and t.kind in ("num", "Boolean")
        if kind == "var":
            return sym is not None and sym.kind == "var" and t.kind in ("num", "Boolean")
        return sym is not None and sym.kind in ("var", "param") and t.kind in ("num", "Boolean")  # "tracked"

    def arg_text(self, node: ast.Expr, t: PelType, env: Env) -> str:
        """What an argument is, for a message: `the parameter 'p' (one value per run)`, `Fraction`, …"""
        sym = self.symbols.get(node.id) if isinstance(node, ast.Name) and node.id not in env.locals else None
        if sym is not None and sym.kind == "param" and t.kind != "Array":
            return f"the parameter '{node.id}' (one value per run)"
        if isinstance(node, ast.Index) and t.kind == "num":
            return f"{type_text(t)} (one value of the series)"
        return type_text(t)

    def builtin_type(self, e: ast.Call, fn: str, args: list[PelType]) -> PelType:
        """The result type of a built-in whose arguments have the right kinds; dimensions checked here."""
        n = len(args)
        first = args[0]
        elem = first.inner if first.kind == "Array" and first.inner else first.element()
        if fn in ("abs", "floor", "ceil", "cumsum"):
            return elem
        if fn in ("round", "lag") or fn in lang_funcs.DELAYS:
            extra = args[1].element() if n == 2 else FRACTION
            if not (extra.dimensionless or fn != "round" and extra.base is None and extra.te == 1):
                what = "digits" if fn == "round" else "steps (a plain number or a duration)"
                self.error("E0200", f"'{fn}' needs a number of {what}, found {type_text(extra)}", e.args[1].span)
                return UNKNOWN
            return elem
        if fn in ("sqrt", "exp", "log", "ln"):
            for t, node in zip(args, e.args, strict=True):
                nt = step_normalize(t.element(), self.step) or t.element()
                if nt.kind != "num" or not nt.dimensionless:
                    self.error("E0200", f"'{fn}' needs a dimensionless argument, found {type_text(t)}", node.span)
                    return UNKNOWN
            return FRACTION
        if fn == "pow":
            r = power(args[0], args[1], self.step, literal_value(e.args[1]) == 1)
            if r.code:
                self.error(r.code, r.message, e.span)
            return r.type
        if fn in ("min", "max", "clamp"):
            if n == 1:
                return elem
            t = args[0].element()
            for a, node in zip(args[1:], e.args[1:], strict=True):
                r = additive("+", t, a, self.step)
                if r.code and not _is_zero(node):
                    self.error(r.code, f"'{fn}' arguments must share a dimension: {r.message}", node.span)
                    return UNKNOWN
                if r.code is None:
                    t = r.type
            return t
        if fn == "npv":
            rate = args[1].element()
            if not (rate.dimensionless or rate.base is None and rate.te == -1 and not rate.scope):
                self.error("E0200", f"'npv' needs a discount rate per period (a fraction or a rate), found "
                           f"{type_text(rate)}", e.args[1].span, "e.g. `npv(cash_flow, 1%)` or "
                           "`npv(cash_flow, 0.12 / 1y)`")
                return UNKNOWN
            return elem
        if fn in ("sum", "avg", "mean"):
            return elem
        if fn == "product":  # a product of n amounts would carry n units: only plain numbers multiply here
            plain = step_normalize(elem, self.step) or elem
            if plain.kind != "num" or not plain.dimensionless:
                self.error("E0200", f"'product' multiplies plain numbers (fractions), found {type_text(elem)}",
                           e.args[0].span, "multiply amounts with `*`, one factor at a time")
                return UNKNOWN
            return FRACTION
        if fn in lang_funcs.FINANCE:
            return self.finance_type(e, fn, args)
        if fn == "lookup":
            xs, ys = (a.inner if a.kind == "Array" and a.inner else a.element() for a in args[1:])
            r = additive("+", first.element(), xs, self.step)
            if r.code and not (first.unknown or xs.unknown):
                self.error("E0200", f"'lookup' compares x with the table's xs: {r.message}", e.args[0].span)
                return UNKNOWN
            return ys
        return FRACTION  # count, length, len, irr, percentChange

    def finance_type(self, e: ast.Call, fn: str, args: list[PelType]) -> PelType:
        """pmt, ipmt, ppmt, pv, fv, nper: a rate per period (a fraction, or a rate per model step), counts of
        periods, amounts of one dimension; the result is an amount (nper: a number of periods)."""
        words = lang_funcs.get(fn).words
        role = dict(zip(words, zip(args, e.args, strict=False), strict=False))
        rate, rate_node = role["rate"]
        r = rate.element()
        per_step = r.base is None and r.te == -1 and not r.scope and (r.time in (None, self.step))
        if not (r.dimensionless or per_step):
            self.error("E0200", f"'{fn}' needs a rate per period (a fraction, or a rate per {self.step}), found "
                       f"{type_text(rate)}", rate_node.span, f"e.g. `{fn}(rate * 1mo, …)` for a rate per year "
                       "paid monthly: a rate times its period is the fraction per period")
            return UNKNOWN
        for w in ("nper", "per", "when"):
            if w in role:
                t, node = role[w]
                te = t.element()
                if not (te.dimensionless or te.base == "Count" and te.te == 0):
                    self.error("E0200", f"'{fn}' needs {w} as a plain number, found {type_text(t)}", node.span)
                    return UNKNOWN
        amounts = [(w, role[w]) for w in ("pmt", "pv", "fv") if w in role]
        lead = next(((t.element(), node) for w, (t, node) in amounts if not _is_zero(node)), None)
        for w, (t, node) in amounts:
            if lead is None or _is_zero(node):
                continue
            check = additive("+", lead[0], t.element(), self.step)
            if check.code:
                self.error(check.code, f"'{fn}': {w} and the other amounts must share a dimension: {check.message}",
                           node.span)
                return UNKNOWN
        if fn == "nper":
            return FRACTION
        return lead[0] if lead is not None else FRACTION

    # ------------------------------------------------------------------ distributions
    def check_dist(self, e: ast.Expr, env: Env, expected: PelType | None) -> DistInfo:
        if id(e) in self.out.dists:
            return self.out.dists[id(e)]
        info = self._dist(e, env, expected)
        self.out.dists[id(e)] = info
        self.out.types[id(e)] = info.type
        return info

    def _dist(self, e: ast.Expr, env: Env, expected: PelType | None) -> DistInfo:
        raw = e.dist if isinstance(e, ast.Dist) else e.func.id
        args, kwargs = e.args, e.kwargs
        name = DIST_NAMES.get(raw.lower())
        if name is None:
            close = difflib.get_close_matches(raw, list(DISTS), n=1)
            self.error("E0600", f"unknown distribution '{raw}'", e.span,
                       f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(DISTS))
            return DistInfo(raw, [], UNKNOWN, node=e)
        spec = DISTS[name]
        bound: dict[str, ast.Expr] = {}
        if len(args) > len(spec):
            self.error("E0431", f"{name} takes {len(spec)} parameters, {len(args)} given", e.span)
        for (canon, _), a in zip(spec, args, strict=False):
            bound[canon] = a
        for kw in kwargs:
            canon = next((c for c, spell in spec if kw.name in spell), None)
            if canon is None:
                self.error("E0431", f"{name} has no parameter '{kw.name}'", kw.span,
                           "parameters: " + ", ".join(s[0] for _, s in spec))
                continue
            if canon in bound:
                self.error("E0431", f"{name} parameter '{kw.name}' given twice", kw.span)
            bound[canon] = kw.value
        missing = [c for c, _ in spec if c not in bound]
        if missing:
            self.error("E0431", f"{name} is missing parameter(s) {', '.join(missing)}", e.span)
            return DistInfo(name, [], UNKNOWN, node=e)
        if name == "Mixture":
            return self._mixture(e, bound, env, expected)
        if name == "Discrete":
            return self._discrete(e, bound, env)
        types = {c: self.expr(v, env) for c, v in bound.items()}
        info = DistInfo(name, [(c, bound[c]) for c, _ in spec], UNKNOWN, node=e)
        wrong = [(c, t) for c, t in types.items() if not t.unknown and t.element().kind != "num"]
        for c, t in wrong:
            self.error("E0100", f"{name} parameter '{c}' must be a number, found {type_text(t)}", bound[c].span)
        if wrong:
            return info
        vals = {c: literal_value(v, self.step) for c, v in bound.items()}
        self._dist_validity(info, vals, types, e)
        info.type = self._dist_type(info, types, expected, e)
        return info

    def _dist_type(self, info: DistInfo, types: dict[str, PelType], expected: PelType | None,
                   e: ast.Expr) -> PelType:
        """The type of a draw, from the language table's typing of each parameter (pel.lang.distributions)."""
        spec = lang_dists.DISTRIBUTIONS[info.dist]
        name = info.dist
        lead = next((p for p in spec.params if p.kind in (lang_dists.LEAD, lang_dists.RATE)), None)
        for p in spec.params:
            t = types[p.name].element()
            if t.unknown or t.kind != "num":
                continue
            if p.kind in (lang_dists.PLAIN, lang_dists.PROB) and not t.dimensionless:
                self.error("E0431", f"{name} {p.name} must be a plain number, found {type_text(t)}", e.span)
            elif p.kind == lang_dists.COUNT and not (t.dimensionless or t.base == "Count") or \
                    p.kind == lang_dists.COUNT and t.te != 0:
                self.error("E0431", f"{name} {p.name} must be a count, found {type_text(t)}", e.span)
        if spec.result == "fraction":
            return FRACTION
        if spec.result == "count":
            count = next(p for p in spec.params if p.kind == lang_dists.COUNT)
            return types[count.name].element()
        assert lead is not None
        t = types[lead.name].element()
        for p in spec.params:
            if p.kind != lang_dists.SAME:
                continue
            r = additive("+", t, types[p.name].element(), self.step)
            if r.code and not (types[p.name].unknown or t.unknown):
                self.error("E0431", f"{name} parameters {lead.name} and {p.name} differ in unit: {type_text(t)} and "
                           f"{type_text(types[p.name])}", e.span)
        if lead.kind == lang_dists.RATE and not t.unknown:
            inverse = divide(FRACTION, t, self.step)
            return inverse.type if not inverse.code else t
        if name == "LogNormal":
            info.log_space = t.dimensionless or t.unknown
            if info.log_space and expected is not None and expected.kind == "num":
                return expected.element()
        if name == "LogNormal" and not info.log_space:
            mu = literal_value(info.params[0][1], self.step)
            if mu is not None and mu <= 0:
                self.error("E0431", "LogNormal mean must be positive", e.span)
        return t

    def _dist_validity(self, info: DistInfo, v: dict[str, float | None], types: dict[str, PelType],
                       e: ast.Expr) -> None:
        for msg in lang_dists.problems(info.dist, v):
            self.error("E0431", f"invalid {info.dist} parameter: {msg}", e.span)

    def _discrete(self, e: ast.Expr, bound: dict[str, ast.Expr], env: Env) -> DistInfo:
        """Discrete(values = [...], weights = [...]): listed values of one dimension, non-negative literal weights
        (normalized to sum to 1), as many as the values."""
        values_e, weights_e = bound["values"], bound["weights"]
        info = DistInfo("Discrete", [("values", values_e)], UNKNOWN, node=e)
        if not isinstance(values_e, ast.ArrayLit) or not values_e.elements:
            self.error("E0431", "Discrete values must be a list of numbers", values_e.span)
            return info
        if not isinstance(weights_e, ast.ArrayLit):
            self.error("E0431", "Discrete weights must be a list of numbers", weights_e.span)
            return info
        t = UNKNOWN
        for v in values_e.elements:
            vt = self.expr(v, env).element()
            if literal_value(v, self.step) is None or vt.kind != "num":
                self.error("E0431", "Discrete values must be literal numbers", v.span)
                return info
            if _is_zero(v):  # a literal 0 takes the others' unit
                continue
            if t.unknown:
                t = vt
            elif additive("+", t, vt, self.step).code:
                self.error("E0431", f"Discrete values must share a unit: {type_text(t)} and {type_text(vt)}", v.span)
                return info
        for w in weights_e.elements:
            self.expr(w, env)
            val = literal_value(w)
            if val is None or not val >= 0 or not math.isfinite(val):
                self.error("E0431", "Discrete weights must be non-negative literal numbers", w.span)
                return info
            info.weights.append(val)
        if len(info.weights) != len(values_e.elements):
            self.error("E0431", f"Discrete has {len(values_e.elements)} values but {len(info.weights)} weights",
                       weights_e.span)
            return info
        total = math.fsum(info.weights)
        if not total > 0:
            self.error("E0431", "Discrete weights must not all be 0", weights_e.span)
            return info
        info.weights = [w / total for w in info.weights]
        info.type = t if not t.unknown else FRACTION
        self.out.types[id(values_e)] = array(t)
        return info

    def _mixture(self, e: ast.Expr, bound: dict[str, ast.Expr], env: Env, expected: PelType | None) -> DistInfo:
        comps_e, weights_e = bound["components"], bound["weights"]
        info = DistInfo("Mixture", [], UNKNOWN, node=e)
        if not isinstance(comps_e, ast.ArrayLit) or not comps_e.elements:
            self.error("E0431", "Mixture components must be a list of distributions", comps_e.span)
            return info
        for c in comps_e.elements:
            if not self.dist_node(c):
                self.error("E0431", "Mixture components must be distributions", c.span)
                return info
            info.components.append(self.check_dist(c, env, expected))
        if not isinstance(weights_e, ast.ArrayLit):
            self.error("E0431", "Mixture weights must be a list of numbers", weights_e.span)
            return info
        for w in weights_e.elements:
            self.expr(w, env)
            val = literal_value(w)
            if val is None or val < 0:
                self.error("E0431", "Mixture weights must be non-negative literal numbers", w.span)
                return info
            info.weights.append(val)
        if len(info.weights) != len(info.components):
            self.error("E0431", f"Mixture has {len(info.components)} components but {len(info.weights)} weights",
                       weights_e.span)
        elif abs(sum(info.weights) - 1.0) > 1e-9:
            self.error("E0431", f"Mixture weights sum to {sum(info.weights):g}, not 1", weights_e.span)
        t = info.components[0].type
        for c in info.components[1:]:
            if not (t.unknown or c.type.unknown) and additive("+", t, c.type, self.step).code:
                self.error("E0431", "Mixture components must share a type", e.span)
        info.type = t
        self.out.types[id(comps_e)] = array(t)
        return info


def _int_annotation(te: ast.TypeExpr | None) -> bool:
    """`Int`, `Integer`, or a series/array/distribution of them."""
    if te is None:
        return False
    if te.name in ("Int", "Integer"):
        return te.per is None
    wrappers = ("TimeSeries", "Distribution", "CohortSeries", "Array", "List")
    return te.name in wrappers and len(te.args) == 1 and _int_annotation(te.args[0])


def _number_literals(e: ast.Expr) -> list[ast.Number]:
    """The number literals a value is written as: itself, under unary minus, or as array elements."""
    if isinstance(e, ast.Number):
        return [e]
    if isinstance(e, ast.Unary) and e.op == "-":
        return _number_literals(e.operand)
    if isinstance(e, ast.ArrayLit):
        return [n for el in e.elements for n in _number_literals(el)]
    return []


def _dotted(e: ast.Expr) -> str:
    if isinstance(e, ast.Member):
        return f"{_dotted(e.base)}.{e.attr}"
    return e.id if isinstance(e, ast.Name) else "?"


def _operand_text(node: ast.Node) -> str:
    """A short spelling of an operand for a hint: a name, a number, `x[t]`; `(…)` for anything longer."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Number | ast.Percent | ast.DurationLit):
        return node.text
    if isinstance(node, ast.Money):
        return node.symbol + node.text.lstrip(node.symbol)
    if isinstance(node, ast.Index) and isinstance(node.base, ast.Name):
        inner = node.index
        if isinstance(inner, ast.Name | ast.Number):
            return f"{node.base.id}[{_operand_text(inner)}]"
        if isinstance(inner, ast.Binary) and isinstance(inner.left, ast.Name) and isinstance(inner.right, ast.Number):
            return f"{node.base.id}[{inner.left.id}{inner.op}{inner.right.text}]"
    return "(…)"


def _literal_number(node: ast.Node) -> float | None:
    """The value of a plain number literal (possibly negated), else None."""
    while isinstance(node, ast.Unary) and node.op in "+-":
        node = node.operand
    return node.value if isinstance(node, ast.Number | ast.Percent) else None


def _unit_suffix(unit: str | None) -> str:
    return {v: k for k, v in LIT_UNITS.items()}.get(unit or "Month", "mo")


def _first_number(node: ast.Node) -> str:
    for n in node.walk():
        if isinstance(n, ast.Number):
            return n.text
    return "100"
