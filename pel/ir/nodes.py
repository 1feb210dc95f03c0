"""IR data model: frozen dataclasses for a checked, unit-free PEL program; the contract between frontend and backend.

Every numeric value in the IR is a float in *model-step units*: durations are counted in steps, rates are
per step, currencies are plain amounts. Declared units stay only as metadata (`TypeInfo`).
Expressions are tagged by `expr_type` when serialized (see `pel.ir.serialize`).
Spans are `[line, col, end_line, end_col]` lists (the file name is `Program.metadata["source_file"]`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

FORMAT_VERSION = "0.1.0"

Loc = tuple[int, int, int, int] | None  # (line, col, end_line, end_col) of the origin in the source


# ---------------------------------------------------------------------------------------------
# Types (metadata only: the backend computes in floats)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """A resolved PEL type. `display` is the canonical spelling (`Currency<USD> per Month`)."""

    kind: str  # Currency | Rate | Duration | Capacity | Count | Fraction | Boolean | String | Scoped | Array | Record | Enum
    display: str  # canonical text, also shown in results
    unit: str = ""  # unit label for results: "USD", "1/Month", "Month", "USD/Month", "" (dimensionless)
    currency: str | None = None  # ISO code for Currency (and Currency-based flows)
    per: str | None = None  # time unit of a flow/rate ("Month") or scope entity ("Customer")
    entity: str | None = None  # Count<E>/Capacity<E> entity
    series: bool = False  # declared TimeSeries<…>


TEXT_KINDS = frozenset({"String", "Record", "Enum"})  # types whose values are no numbers


# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr:
    """Base of IR expressions."""


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: float | bool | str  # numbers already normalized to step units
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Ref(Expr):
    """A scalar read at the current step.

    kind: "param" (per-path parameter value, possibly changed by a policy),
          "var" (variable value at the current step t),
          "local" (comprehension/function/let variable),
          "time" (the step index t), "horizon" (T_max).
    """

    name: str
    kind: str
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Index(Expr):
    """`name[index]`: a variable's value at step `index` (kind "var"), a param read (kind "param": the
    index is ignored, the value is the same at every step) or an element of an array literal param/var
    (kind "array"). An index outside 0..T_max, or a var step not yet computed, is a runtime fault (E0301)."""

    name: str
    kind: str
    index: Expr
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class SeriesRef(Expr):
    """A whole series (or array) as a function argument: `npv(cash_flow, r)`, `sum(revenue)`."""

    name: str
    kind: str  # "var" | "param" | "array"
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    """op: + - * / % ^ == != < <= > >= && || (&& and || are lazy; `implies` is lowered to !a || b)."""

    op: str
    left: Expr
    right: Expr
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    """op: "-" or "!"."""

    op: str
    operand: Expr
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Call(Expr):
    """A built-in (abs, min, max, round, floor, ceil, clamp, sqrt, exp, log, ln, pow, npv, irr, sum, avg,
    length, count, cumsum, lag, percentChange) or a user `func` (listed in `Model.funcs`)."""

    function: str
    args: tuple[Expr, ...]
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class IfThenElse(Expr):
    """Lazy conditional; `else_branch` None means "true" (constraint form `if c then cond`)."""

    condition: Expr
    then_branch: Expr
    else_branch: Expr | None
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Distribution(Expr):
    """A distribution with canonical parameter names, values in step units.

    distribution_type and parameters:
      Normal(mu, sigma) | LogNormal(mu, sigma) with `log_space` telling the reading (True: mu/sigma of the
      underlying normal; False: natural-scale mean/sd, moment-matched) | Beta(alpha, beta) |
      Uniform(low, high) | Triangular(low, mode, high) | Pareto(xm, alpha) |
      Mixture: `components` and `weights` (parameters empty).
    Inline in a formula it is drawn afresh at every step; as a param's value it is drawn once per path.
    """

    distribution_type: str
    parameters: tuple[tuple[str, Expr], ...]  # ordered (name, value) pairs
    log_space: bool = True
    components: tuple[Distribution, ...] = ()
    weights: tuple[float, ...] = ()
    site: int = -1  # inline draws: a model-wide unique site number (keys the random stream); -1 for params
    loc: Loc = None

    def param(self, name: str) -> Expr:
        for key, value in self.parameters:
            if key == name:
                return value
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Aggregation(Expr):
    """`sum(body for var in start..end if filter)` — inclusive bounds; aggregation_type sum|avg|min|max|count."""

    aggregation_type: str
    var: str
    start: Expr
    end: Expr
    body: Expr
    filter: Expr | None = None
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class ArrayLiteral(Expr):
    elements: tuple[Expr, ...]
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Changes(Expr):
    """Policy trigger `x changes`: true at t >= 1 when x's value differs from the end of the previous step."""

    name: str
    kind: str  # "param" | "var"
    loc: Loc = None


# ---------------------------------------------------------------------------------------------
# Statements (function bodies, policy actions)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stmt:
    """Base of statements."""


@dataclass(frozen=True, slots=True)
class Let(Stmt):
    """Introduce or set a local (function bodies)."""

    name: str
    value: Expr
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class If(Stmt):
    condition: Expr
    then: tuple[Stmt, ...]
    else_: tuple[Stmt, ...] = ()
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class For(Stmt):
    """`for var in start..end` inclusive."""

    var: str
    start: Expr
    end: Expr
    body: tuple[Stmt, ...]
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Return(Stmt):
    value: Expr
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Action(Stmt):
    """A policy action on model state at the current step.

    action_type: "assign" | "multiply" | "add" (a `-=` is an add of the negated value; `/=` a multiply by
    the reciprocal). target_kind "param" changes the per-path parameter from now on; "var" replaces the
    variable's value at the current step t (and, for a non-series var, for later steps until recomputed).
    """

    action_type: str
    target: str
    target_kind: str
    value: Expr
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Emit(Stmt):
    """`emit event("name", k: v)`: logged, never changes state."""

    event_name: str
    args: tuple[tuple[str, Expr], ...] = ()
    loc: Loc = None


# ---------------------------------------------------------------------------------------------
# Declarations
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Provenance:
    source: str
    method: str
    confidence: float
    freshness: str | None = None
    owner: str | None = None
    notes: str | None = None
    correlated_with: tuple[tuple[str, float], ...] = ()  # normalized (variable, coefficient) pairs
    extra: tuple[tuple[str, str], ...] = ()  # other fields, as source text


@dataclass(frozen=True, slots=True)
class Param:
    """A model parameter: a fixed `value` expression (constant-folded where possible) or a `distribution`
    sampled once per path (deterministic mode uses its central value)."""

    name: str
    type: TypeInfo
    value: Expr | None  # None when distribution is set
    distribution: Distribution | None
    provenance: Provenance
    central: float | None = None  # the deterministic value when known at compile time (step units)
    value_text: str = ""  # the right-hand side as written (for the assumption register)
    loc: Loc = None

    @property
    def holds_number(self) -> bool:
        """Whether the parameter is one number per path (not a Boolean, text, record, enum or array): what
        --set with a number, a fit, a swing or a goal seek can vary."""
        return self.type.kind not in TEXT_KINDS | {"Boolean", "Array"} and not isinstance(self.value, ArrayLiteral)

    def __repr__(self) -> str:  # short: the dataclass repr of a parameter runs to a screenful
        prov = self.provenance
        sign = "~" if self.distribution is not None else "="
        return (f"<pel.Param {self.name}: {self.type.display} {sign} {self.value_text or self.central} "
                f"({prov.source}, {prov.method}, confidence {prov.confidence:g})>")


@dataclass(frozen=True, slots=True)
class Rule:
    """One defining rule of a variable, normalized to "value at step s".

    kind: "initial"  — x[0] = e                         (at = 0)
          "literal"  — x[c] = e                         (at = c; overrides other rules at s = c)
          "general"  — x[t] = e(t)                      (every step not covered by a literal rule)
          "shifted"  — x[t+k] = e(t), k >= 1            (step s >= k, evaluated with t = s - k)
          "scalar"   — unindexed `var x = e` / `x = e`  (evaluated every step)
          "once"     — a whole-run value (LANGUAGE.md §3): unindexed, reads series only at fixed steps; evaluated
                       once per path at step `at` (None: the last step of the run), held after it, undefined
                       (NaN, a read faults) before it; the variable's only rule
    `guard` (formal-semantics `for t > 0`): the rule applies only where guard(t) is true.
    """

    kind: str
    expr: Expr
    at: int | None = None
    shift: int = 0
    guard: Expr | None = None
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    type: TypeInfo
    rules: tuple[Rule, ...]
    series: bool  # declared or defined as a time series (indexed rules)
    time_varying: bool  # False when the value is the same at every step (output as one `{"value": …}`)
    mutable: bool = False
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Func:
    """A user function, scalars in and out; the body runs as statements."""

    name: str
    params: tuple[str, ...]
    body: tuple[Stmt, ...]
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Scope:
    """When a constraint is checked. type: "all" | "range" (start..end inclusive) | "specific" (timestep) |
    "cond" (a Boolean expression of t, `for: t >= 6`)."""

    type: str = "all"
    start: int | None = None
    end: int | None = None
    timestep: int | None = None
    condition: Expr | None = None


@dataclass(frozen=True, slots=True)
class MessagePart:
    """A piece of a message template: literal `text`, or an `expr` to evaluate and format (`{cash[t]}`)."""

    text: str | None = None
    expr: Expr | None = None


@dataclass(frozen=True, slots=True)
class Constraint:
    """Checked after the policies of each step in declaration order. An instance for step t whose condition
    reads x[t+k] is evaluated at step t+`lookahead` (k <= lookahead); instances reading outside 0..T_max are
    skipped."""

    constraint_id: str
    name: str
    condition: Expr
    severity: str  # "fatal" | "warning"
    message: tuple[MessagePart, ...]
    scope: Scope
    lookahead: int = 0
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Level-triggered: at every step where `trigger` is true (after variables, before constraints), run
    `actions` in order. policy_id is "policy_<i>" in declaration order."""

    policy_id: str
    name: str
    trigger: Expr
    trigger_type: str  # "time" | "threshold" | "event" | "composite"
    actions: tuple[Stmt, ...]  # Action / Emit / If (conditional actions)
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Simulate:
    mode: str | None = None
    runs: int | None = None
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """`scenario NAME { … }`: parameters as the scenario declares them (each a whole Param, lowered like the
    declaration it replaces, with that declaration's type and provenance)."""

    name: str
    params: tuple[Param, ...] = ()
    loc: Loc = None


@dataclass(frozen=True, slots=True)
class Output:
    """An output of the run: a model variable, or a named expression (`output total = expr`)."""

    name: str
    expr: Expr | None = None


@dataclass(frozen=True, slots=True)
class Import:
    module: str
    alias: str | None = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    time_unit: str  # step unit: "Month" unless declared otherwise
    time_horizon: int  # T_max: steps run t = 0..T_max inclusive
    days_per_month: float
    params: tuple[Param, ...]
    vars: tuple[Var, ...]
    order: tuple[str, ...]  # variable names in same-step dependency order (ties: declaration order)
    constraints: tuple[Constraint, ...] = ()
    policies: tuple[Policy, ...] = ()
    funcs: tuple[Func, ...] = ()
    outputs: tuple[Output, ...] = ()  # empty: every variable is an output
    correlations: tuple[tuple[str, str, float], ...] = ()  # (a, b, rho), a declared before b
    simulate: Simulate = field(default_factory=Simulate)
    imports: tuple[Import, ...] = ()
    scenarios: tuple[Scenario, ...] = ()

    def output_names(self) -> list[str]:
        """The names a run outputs: those of the `output` directive, else every variable."""
        return [o.name for o in self.outputs] or [v.name for v in self.vars]

    def observable_outputs(self) -> list[str]:
        """The outputs that hold numbers (an actual can be observed of them): not text, records or enums."""
        kinds = {v.name: v.type.kind for v in self.vars}
        return [n for n in self.output_names() if kinds.get(n) not in TEXT_KINDS]


@dataclass(frozen=True, slots=True)
class Program:
    """An IR file: format version, the model, and metadata (hash, compiler version, source file)."""

    format_version: str
    model: Model
    metadata: dict  # model_hash, assumption_hash, compiler_version, source_file, warnings


def left_spine(e: Binary, ops: frozenset[str] | set[str] | tuple[str, ...] | None = None) -> tuple[Expr, list[Binary]]:
    """A left-nested chain `((a op b) op c) ...` as its leftmost operand and its nodes bottom-up, without recursion
    (see pel.frontend.ast.left_spine: every pass over IR walks chains with this)."""
    nodes: list[Binary] = []
    x: Expr = e
    while isinstance(x, Binary) and (ops is None or x.op in ops):
        nodes.append(x)
        x = x.left
    nodes.reverse()
    return x, nodes


def size(obj: object) -> int:
    """The number of expression and statement nodes under `obj` (any IR value), counted without recursion."""
    import dataclasses

    count = 0
    stack = [obj]
    while stack:
        x = stack.pop()
        if isinstance(x, (Expr, Stmt)):
            count += 1
        if isinstance(x, tuple):
            stack.extend(x)
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            stack.extend(getattr(x, f.name) for f in dataclasses.fields(x)
                         if f.name != "loc" and not isinstance(getattr(x, f.name), (str, int, float, type(None))))
    return count
