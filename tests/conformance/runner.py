"""Conformance runner: judges PEL's frontend (and backend) against the corpus' conformance cases.

The cases (`<shared>/corpus/conformance/<category>/*.yaml`) come from an older implementation, so every
comparison goes through an explicit mapping from the corpus' vocabulary to PEL's (tables below), and every
case is judged on the question it tests:

- lexical:      `pel.frontend.lexer.tokenize`; token types through TOKEN_MAP, token values through the literal
                text PEL keeps (`2d`, `$100`, `5%`, `42`); errors must be E0001-E0004.
- parsing:      `pel.frontend.parser.parse` must succeed and the AST facts the case gives (model name, item
                kinds/names/counts, type annotations, expression shapes) must match through NODE_MAP; error
                cases must be rejected by `compile_source` with a code in ERROR_CODES (see below).
- typechecking: `compile_source`; each name under `types:` compared through `pel_type_name` (corpus type
                names -> PEL's canonical type text, LANGUAGE.md §1.1 [R]); errors through ERROR_CODES.
- provenance:   `compile_source`; provenance fields read from the IR's `Param.provenance` (what
                `provenance.collect` validated and normalized), dependencies from the IR rules,
                uncertainty from a Monte Carlo run; errors through ERROR_CODES.
- runtime:      `pel.backend.engine.run` (deterministic) and the `values:` compared within 1e-6 relative.
                `analysis_type: calibration | drift` (the case gives a model and no data): the analysis runs on
                the model's own deterministic outputs as actuals (`_analysis`): every parameter must be one
                `pel calibrate --fit` accepts, each uncertain one must have a known declared P5-P95 (the band
                `pel drift` judges against), and each parameter some output depends on is fitted from a start
                10% off and must come back to its declared value (drift: one window over all the data, verdict
                "ok"). A parameter no output depends on is not fitted: no data speak of it.
                `analysis_type: sensitivity`: `pel sensitivity --method tornado` on every numeric output
                (`_sensitivity`); `bottleneck` has no counterpart in PEL (DEVIATIONS.md).

OMISSION POLICY.  Many cases omit parts that LANGUAGE.md makes mandatory: a provenance block after every
param (§6, E0400), the required fields source/method/confidence in a block (§6, E0401 "missing the required
field"), and a param's type annotation (§1.5, E0102 "needs a type annotation").  The older implementation
filled these in silently; PEL rejects them.  Those diagnostics answer a question the case does not ask, so:

1. The original source is always compiled first.  Diagnostics that exist only because of such an omission
   (`is_omission`) are set aside; every other diagnostic counts.
2. An error case passes only if the first error that is not an omission has a code that ERROR_CODES accepts
   for the case's `error_type`; a case rejected *only* for omissions fails.
3. A success case whose only errors are omissions is completed by the runner, on the AST and nowhere else:
   missing blocks/fields get `source: "conformance-runner"`, `method: "assumption"`, `confidence: 1.0` (and a
   `notes` saying so); an unannotated param gets the type PEL inferred for its value.  The completed model
   is then checked and lowered exactly as `compile_source` does; the case passes only if that succeeds and
   its facts match.  Fields the runner filled in are never what a case is compared on (the cases compare
   only fields they wrote).

Cases PEL deliberately decides differently are listed in DEVIATIONS.md with the section of LANGUAGE.md that
decides them; the runner does not know about them (they simply do not pass).
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pel.diagnostics import CompileError, Diagnostic, DiagnosticBag, IRError, Span, simple
from pel.frontend import ast

CATEGORIES = ("lexical", "parsing", "typechecking", "provenance", "runtime")
FRONTEND_CATEGORIES = ("lexical", "parsing", "typechecking", "provenance")
REL_TOL = 1e-6

# ---------------------------------------------------------------------------------------------
# Mapping tables
# ---------------------------------------------------------------------------------------------

# Corpus token name -> (PEL token type, PEL token value or None when any value will do).
# The corpus' `*_TYPE` tokens are PEL's single TYPENAME token carrying the type name; the corpus' literal
# tokens (NUMBER, CURRENCY, DURATION, PERCENTAGE) are compared on the literal text as written.
TOKEN_MAP: dict[str, tuple[str, str | None]] = {
    # keywords
    "MODEL": ("MODEL", None), "PARAM": ("PARAM", None), "VAR": ("VAR", None), "FUNC": ("FUNC", None),
    "CONSTRAINT": ("CONSTRAINT", None), "POLICY": ("POLICY", None), "TRUE": ("TRUE", None),
    "FALSE": ("FALSE", None),
    # names and literals
    "IDENTIFIER": ("NAME", None), "NUMBER": ("NUMBER", None), "STRING": ("STRING", None),
    "CURRENCY": ("MONEY", None), "DURATION": ("DURATION", None), "PERCENTAGE": ("PERCENT", None),
    # type names (one TYPENAME token whose value is the name)
    "CURRENCY_TYPE": ("TYPENAME", "Currency"), "RATE_TYPE": ("TYPENAME", "Rate"),
    "DURATION_TYPE": ("TYPENAME", "Duration"), "CAPACITY_TYPE": ("TYPENAME", "Capacity"),
    "COUNT_TYPE": ("TYPENAME", "Count"), "FRACTION_TYPE": ("TYPENAME", "Fraction"),
    "TIMESERIES_TYPE": ("TYPENAME", "TimeSeries"), "DISTRIBUTION_TYPE": ("TYPENAME", "Distribution"),
    # operators and delimiters
    "ASSIGN": ("ASSIGN", None), "PLUS": ("PLUS", None), "MINUS": ("MINUS", None), "STAR": ("TIMES", None),
    "SLASH": ("DIVIDE", None), "PERCENT": ("MOD", None), "EQ": ("EQ", None), "NE": ("NE", None),
    "LT": ("LT", None), "LE": ("LE", None), "GT": ("GT", None), "GE": ("GE", None), "AND": ("AND", None),
    "OR": ("OR", None), "NOT": ("NOT", None), "TILDE": ("TILDE", None), "ARROW": ("ARROW", None),
    "DOT": ("DOT", None), "COMMA": ("COMMA", None), "COLON": ("COLON", None), "SEMICOLON": ("SEMI", None),
    "LPAREN": ("LPAREN", None), "RPAREN": ("RPAREN", None), "LBRACE": ("LBRACE", None),
    "RBRACE": ("RBRACE", None), "LBRACKET": ("LBRACKET", None), "RBRACKET": ("RBRACKET", None),
}
# PEL's token stream has no end marker: the corpus' EOF maps to "end of the list".
END_TOKENS = frozenset({"EOF"})
# String values in the corpus are the source text between the quotes; PEL's are decoded (§0 escapes).
STRING_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r", "0": "\0"}

# Corpus AST node type -> PEL AST class.
NODE_MAP: dict[str, type] = {
    "Model": ast.Model, "ParamDecl": ast.ParamDecl, "VarDecl": ast.VarDecl, "FuncDecl": ast.FuncDecl,
    "Constraint": ast.ConstraintDecl, "Policy": ast.PolicyDecl, "BinaryOp": ast.Binary,
    "UnaryOp": ast.Unary, "Variable": ast.Name,
}
# Corpus Model list field -> PEL item class.
MODEL_LISTS: dict[str, type] = {
    "params": ast.ParamDecl, "vars": ast.VarDecl, "funcs": ast.FuncDecl,
    "constraints": ast.ConstraintDecl, "policies": ast.PolicyDecl,
}

# Corpus type name -> PEL type text (LANGUAGE.md §1.1 [R]: Int/Float -> Fraction, Bool -> Boolean,
# [T] -> Array<T>; §1.5: a Distribution<T>-valued declaration behaves as T).  Anything else is compared
# as written (Currency<USD>, Duration, Fraction, Count<E>, Rate per Month, TimeSeries<...>).  The corpus'
# bare `Rate` (the older implementation's type for Currency/Duration) has no PEL counterpart.
SCALAR_TYPE_MAP = {"Int": "Fraction", "Float": "Fraction", "Bool": "Boolean", "String": "String"}

# Corpus error_type -> accepted PEL codes (LANGUAGE.md §9).  TypeError includes the dedicated codes whose
# meaning is a type error in a constraint/policy (E0501 condition not Boolean, E0700 trigger not Boolean,
# E0701 action assigns an incompatible type).
ERROR_CODES: dict[str, frozenset[str]] = {
    "LexicalError": frozenset({"E0001", "E0002", "E0003", "E0004"}),
    "ParseError": frozenset({"E0001", "E0002", "E0003", "E0004", "E0005"}),
    "TypeError": frozenset({f"E0{n}" for n in range(100, 300)} | {"E0501", "E0700", "E0701"}),
    "NameError": frozenset({"E0600", "E0503", "E0703"}),
    "ProvenanceError": frozenset({f"E0{n}" for n in range(400, 440)}),
    # E0301: an index outside the series or array at run time (LANGUAGE.md §3, "Out-of-range indices").
    "RuntimeError": frozenset({"E0800", "E0301", "E0505", "E0705"}),
}
# A ParseError whose message names a problem PEL finds after parsing, in the checker: the code of that
# problem is accepted too (the outcome — rejection for that reason — is the same; only the phase differs).
PARSE_ERROR_BY_MESSAGE: dict[str, str] = {
    "Invalid type": "E0101",  # unknown type name
    "Expected equals": "E0102",  # a param without a value
    "Duplicate": "E0601",  # name already defined
}

# Runner-supplied provenance for the omission policy.
FILLED_PROVENANCE = {"source": "conformance-runner", "method": "assumption", "confidence": 1.0}
FILLED_NOTES = "filled in by the conformance runner: the case omits mandatory provenance"


# ---------------------------------------------------------------------------------------------
# Cases and outcomes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One conformance case as read from its YAML file."""

    id: str
    category: str
    description: str
    source: str
    expected: dict
    path: Path


@dataclass
class Outcome:
    """The verdict on one case: passed, failed (with why), or skipped (with why)."""

    case: Case
    status: str  # "pass" | "fail" | "skip"
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"


class Mismatch(Exception):
    """A fact of the case that PEL's result does not match (the message says which)."""


def shared_root(start: Path | None = None) -> Path | None:
    """<repo>/../shared, or None when it is absent."""
    repo = (start or Path(__file__)).resolve().parents[2]
    root = repo / ".." / "shared"
    return root if (root / "corpus" / "conformance").is_dir() else None


def load_cases(root: Path, categories: Iterable[str] = CATEGORIES) -> list[Case]:
    """Every case of the given categories, sorted by id."""
    cases = []
    for cat in categories:
        for path in sorted((root / "corpus" / "conformance" / cat).glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            cases.append(Case(data["id"], data.get("category", cat), data.get("description", ""),
                              data["input"], data["expected"], path))
    return cases


def evaluate(case: Case) -> Outcome:
    """Judge one case; never raises for a PEL failure (a traceback from PEL is itself a failure)."""
    judge = {"lexical": _lexical, "parsing": _parsing, "typechecking": _typechecking,
             "provenance": _provenance, "runtime": _runtime}[case.category]
    try:
        return judge(case)
    except Mismatch as exc:
        return Outcome(case, "fail", str(exc))
    except _Skip as exc:
        return Outcome(case, "skip", str(exc))
    except Exception as exc:  # noqa: BLE001 - a crash inside PEL is reported as this case's failure
        return Outcome(case, "fail", f"PEL crashed: {type(exc).__name__}: {exc}")


def run_all(root: Path, categories: Iterable[str] = CATEGORIES) -> list[Outcome]:
    return [evaluate(c) for c in load_cases(root, categories)]


def pass_rates(outcomes: Iterable[Outcome], exclude: Iterable[str] = ()) -> dict[str, tuple[int, int]]:
    """category -> (passed, total); cases whose id is in `exclude` (deviations) count as not passed."""
    excluded = set(exclude)
    rates: dict[str, tuple[int, int]] = {}
    for o in outcomes:
        p, n = rates.get(o.case.category, (0, 0))
        rates[o.case.category] = (p + (o.passed and o.case.id not in excluded), n + 1)
    return rates


class _Skip(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Compilation with the omission policy
# ---------------------------------------------------------------------------------------------


def is_omission(d: Diagnostic) -> bool:
    """A diagnostic that exists only because the case omits something LANGUAGE.md makes mandatory."""
    if d.level != "error":
        return False
    if d.code == "E0400":
        return True
    if d.code == "E0401" and "is missing the required field" in d.message:
        return True
    return d.code == "E0102" and "needs a type annotation" in d.message


@dataclass
class Compiled:
    """The outcome of compiling a case's source under the omission policy."""

    comp: object | None  # pel.pipeline.Compilation (of the completed model when completed)
    errors: list[Diagnostic] = field(default_factory=list)  # errors of the original source, in order
    completed: bool = False

    @property
    def real_errors(self) -> list[Diagnostic]:
        return [d for d in self.errors if not is_omission(d)]


def compile_case(source: str) -> Compiled:
    """Compile the original source; when its only errors are omissions, compile the completed model."""
    from pel.pipeline import compile_source

    try:
        return Compiled(compile_source(source, "<case>"))
    except CompileError as exc:
        errors = [d for d in exc.diagnostics if d.level == "error"]
    out = Compiled(None, errors)
    if errors and not out.real_errors:
        try:
            out.comp = _compile_model(_complete(source), source)
            out.completed = True
        except CompileError as exc:
            out.errors = errors + [d for d in exc.diagnostics if d.level == "error" and not is_omission(d)]
    return out


def _compile_model(model: ast.Model, source: str):
    """`pipeline.compile_source` from the AST on (same stages, same order)."""
    from pel.frontend import checker, lower, provenance
    from pel.ir import hashing, validate
    from pel.pipeline import Compilation

    bag = DiagnosticBag()
    checked = checker.check(model, bag)
    prov = provenance.collect(model, bag)
    if bag.has_errors():
        lower.time_errors(checked, prov, bag, source_file="<case>")
        raise CompileError(bag.errors + bag.warnings, source)
    program = lower.lower(checked, prov, bag, source_file="<case>")
    if bag.has_errors():  # the time analysis (E03xx)
        raise CompileError(bag.errors + bag.warnings, source)
    program = hashing.with_hashes(program)
    try:
        validate.validate(program)
    except IRError as exc:
        raise CompileError([simple("E9999", d.message, d.span) for d in exc.diagnostics], source) from exc
    return Compilation(program, bag.warnings, source, model, checked)


def _complete(source: str) -> ast.Model:
    """The case's model with omitted provenance fields and param annotations supplied (see module doc)."""
    from pel.frontend import checker, parser

    model = parser.parse(source, "<case>")
    scratch = DiagnosticBag()
    checked = checker.check(model, scratch)
    items = []
    for item in model.items:
        if isinstance(item, ast.ParamDecl):
            changes: dict = {"provenance": _complete_block(item.provenance, item.span)}
            if item.type is None and item.value is not None:
                inferred = checked.types.get(id(item.value))
                te = _type_expr(inferred, item.span) if inferred is not None else None
                if te is not None:
                    changes["type"] = te
            item = dataclasses.replace(item, **changes)
        items.append(item)
    return dataclasses.replace(model, items=tuple(items))


def _complete_block(block: ast.Provenance | None, span) -> ast.Provenance:
    fields = list(block.fields) if block is not None else []
    have = {f.key for f in fields}
    for key, value in FILLED_PROVENANCE.items():
        if key not in have:
            lit = ast.String(span, value) if isinstance(value, str) else ast.Number(span, value, str(value))
            fields.append(ast.ProvField(span, key, lit))
    if "notes" not in have:
        fields.append(ast.ProvField(span, "notes", ast.String(span, FILLED_NOTES)))
    return ast.Provenance(block.span if block is not None else span, tuple(fields))


def _type_expr(t, span) -> ast.TypeExpr | None:
    """The annotation a param with inferred type `t` would be written with (simple types only)."""
    if t.kind == "Boolean":
        return ast.TypeExpr(span, "Boolean")
    if t.kind != "num" or t.scope or t.series:
        return None
    if t.base is None and t.te == 0:
        return ast.TypeExpr(span, "Fraction")
    if t.base is None and t.te == 1:
        return ast.TypeExpr(span, "Duration")
    if t.base is None and t.te == -1 and t.time:
        return ast.TypeExpr(span, "Rate", per=t.time)
    if t.base == "Currency" and t.te == 0 and t.tag:
        return ast.TypeExpr(span, "Currency", (ast.TypeExpr(span, t.tag),))
    return None


def _errors_text(errors: list[Diagnostic], limit: int = 3) -> str:
    return "; ".join(f"{d.code} {d.message}" for d in errors[:limit]) or "none"


def _require_success(case: Case) -> Compiled:
    c = compile_case(case.source)
    if c.comp is None:
        raise Mismatch(f"expected success, PEL rejects it: {_errors_text(c.real_errors or c.errors)}")
    return c


def _judge_error(case: Case) -> Outcome:
    """An error case: the first error that is not an omission must carry an accepted code."""
    exp = case.expected
    kind = exp.get("error_type", "")
    accepted = set(ERROR_CODES.get(kind, ()))
    if kind == "ParseError":
        for key, code in PARSE_ERROR_BY_MESSAGE.items():
            if key.lower() in str(exp.get("error_message", "")).lower():
                accepted.add(code)
    c = compile_case(case.source)
    if c.comp is not None and not c.errors:
        raise Mismatch(f"expected {kind} ({exp.get('error_message', '')}), PEL compiles it")
    real = c.real_errors
    if not real:
        raise Mismatch(f"expected {kind}, PEL rejects it only for omitted mandatory parts: {_errors_text(c.errors)}")
    first = real[0]
    if first.code not in accepted:
        raise Mismatch(f"expected {kind} ({exp.get('error_message', '')}), first error is "
                       f"{first.code} {first.message}")
    return Outcome(case, "pass", f"{first.code} {first.message}")


# ---------------------------------------------------------------------------------------------
# lexical
# ---------------------------------------------------------------------------------------------


def _decode_corpus_string(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: STRING_ESCAPES.get(m.group(1), m.group(0)), text)


def _token_text(tok) -> str:
    """The literal as written for PEL's literal tokens, the value otherwise."""
    v = tok.value
    if tok.type == "NUMBER":
        return v[1]
    if tok.type in ("MONEY", "DURATION"):
        return v[2]
    if tok.type == "PERCENT":
        return v[1]
    return v


def _lexical(case: Case) -> Outcome:
    from pel.frontend.lexer import tokenize

    exp = case.expected
    if exp["type"] == "error":
        accepted = ERROR_CODES.get(exp.get("error_type", ""), frozenset())
        try:
            tokenize(case.source, "<case>")
        except CompileError as exc:
            errs = [d for d in exc.diagnostics if d.level == "error"]
            if errs and errs[0].code in accepted:
                return Outcome(case, "pass", f"{errs[0].code} {errs[0].message}")
            raise Mismatch(f"expected {exp.get('error_type')}, got {_errors_text(errs)}") from None
        raise Mismatch(f"expected {exp.get('error_type')} ({exp.get('error_message')}), tokenize accepts it")
    try:
        toks = tokenize(case.source, "<case>")
    except CompileError as exc:
        raise Mismatch(f"expected tokens, tokenize fails: {_errors_text(exc.diagnostics)}") from None
    want = [t for t in exp.get("tokens", []) if t["type"] not in END_TOKENS]
    got = [(t.type, _token_text(t)) for t in toks]
    if len(want) != len(got):
        raise Mismatch(f"{len(want)} tokens expected, {len(got)} produced: {got}")
    for i, (w, (gtype, gval)) in enumerate(zip(want, got, strict=True)):
        if w["type"] not in TOKEN_MAP:
            raise Mismatch(f"token {i}: corpus token {w['type']} has no PEL mapping")
        ptype, pvalue = TOKEN_MAP[w["type"]]
        if gtype != ptype:
            raise Mismatch(f"token {i}: expected {w['type']} (PEL {ptype}), got {gtype} {gval!r}")
        if pvalue is not None and gval != pvalue:
            raise Mismatch(f"token {i}: expected {ptype} {pvalue!r}, got {gval!r}")
        if "value" in w:
            wv = str(w["value"])
            if w["type"] == "STRING":
                wv = _decode_corpus_string(wv)
            if str(gval) != wv:
                raise Mismatch(f"token {i}: expected value {wv!r}, got {gval!r}")
    return Outcome(case, "pass")


# ---------------------------------------------------------------------------------------------
# parsing
# ---------------------------------------------------------------------------------------------


def _parsing(case: Case) -> Outcome:
    from pel.frontend import parser

    if case.expected["type"] == "error":
        return _judge_error(case)
    try:
        model = parser.parse(case.source, "<case>")
    except CompileError as exc:
        raise Mismatch(f"expected a parse, got {_errors_text(exc.diagnostics)}") from None
    _match_node(case.expected.get("ast", {}), model, "ast")
    return Outcome(case, "pass")


def _match_node(want: dict, node: object, where: str) -> None:
    kind = want.get("type")
    if kind is not None:
        if kind == "Literal":
            _match_literal(want.get("value"), node, where)
            return
        cls = NODE_MAP.get(kind)
        if cls is None:
            raise Mismatch(f"{where}: corpus node {kind} has no PEL mapping")
        if not isinstance(node, cls):
            raise Mismatch(f"{where}: expected {kind} ({cls.__name__}), got {type(node).__name__}")
    for key, value in want.items():
        if key == "type":
            continue
        at = f"{where}.{key}"
        if isinstance(node, ast.Model) and key in MODEL_LISTS:
            items = node.of(MODEL_LISTS[key])
            if len(items) != len(value):
                raise Mismatch(f"{at}: {len(value)} expected, {len(items)} parsed")
            for i, (w, item) in enumerate(zip(value, items, strict=True)):
                _match_node(w, item, f"{at}[{i}]")
        elif key == "name":
            got = getattr(node, "id", None) if isinstance(node, ast.Name) else getattr(node, "name", None)
            if got != value:
                raise Mismatch(f"{at}: expected {value!r}, got {got!r}")
        elif key in ("type_annotation", "return_type"):
            te = node.returns if key == "return_type" else node.type
            _match_type(value, te, at)
        elif key in ("default_value", "init_value"):
            _match_node(value, node.value, at)
        elif key == "operator":
            if node.op != value:
                raise Mismatch(f"{at}: expected {value!r}, got {node.op!r}")
        elif key in ("left", "right", "operand"):
            _match_node(value, getattr(node, key), at)
        elif key == "params" and isinstance(node, ast.FuncDecl):
            if len(node.params) != len(value):
                raise Mismatch(f"{at}: {len(value)} parameters expected, {len(node.params)} parsed")
            for i, (w, fp) in enumerate(zip(value, node.params, strict=True)):
                _match_node(w, fp, f"{at}[{i}]")
        elif key == "condition" and isinstance(node, ast.ConstraintDecl):
            _match_node(value, node.clauses[0].condition, at)
        elif key in ("severity", "message") and isinstance(node, ast.ConstraintDecl):
            got = getattr(node.clauses[0], key)
            if got != value:
                raise Mismatch(f"{at}: expected {value!r}, got {got!r}")
        else:
            raise Mismatch(f"{at}: no PEL mapping for the AST field {key!r} of {type(node).__name__}")


def _match_literal(value: object, node: object, where: str) -> None:
    if isinstance(value, bool):
        ok = isinstance(node, ast.Bool) and node.value is value
    elif isinstance(value, int | float):
        ok = isinstance(node, ast.Number) and math.isclose(node.value, value)
    elif isinstance(node, ast.Money | ast.Percent | ast.DurationLit):
        ok = node.text == value
    else:
        ok = isinstance(node, ast.String) and node.value == value
    if not ok:
        raise Mismatch(f"{where}: expected literal {value!r}, got {type(node).__name__}")


def _match_type(want: dict | None, te: ast.TypeExpr | None, where: str) -> None:
    if want is None:
        if te is not None:
            raise Mismatch(f"{where}: expected no annotation, got {te.name}")
        return
    if te is None:
        raise Mismatch(f"{where}: expected {want.get('type_kind')}, got no annotation")
    if te.name != want.get("type_kind"):
        raise Mismatch(f"{where}: expected {want.get('type_kind')}, got {te.name}")
    for key, value in (want.get("params") or {}).items():
        if key == "currency_code":
            got = te.args[0].name if te.args else None
            if got != value:
                raise Mismatch(f"{where}.currency_code: expected {value}, got {got}")
        elif key == "per_unit":
            if te.per != value:
                raise Mismatch(f"{where}.per_unit: expected {value}, got {te.per}")
        elif key == "element_type":
            _match_type(value, te.args[0] if te.args else None, f"{where}.element_type")
        else:
            raise Mismatch(f"{where}: no PEL mapping for the type parameter {key!r}")


# ---------------------------------------------------------------------------------------------
# typechecking
# ---------------------------------------------------------------------------------------------


def pel_type_name(corpus: str) -> str:
    """The PEL type text a corpus type name stands for (see SCALAR_TYPE_MAP)."""
    text = corpus.strip()
    if text in SCALAR_TYPE_MAP:
        return SCALAR_TYPE_MAP[text]
    if text.startswith("[") and text.endswith("]"):
        return f"Array<{pel_type_name(text[1:-1])}>"
    m = re.fullmatch(r"(\w+)<(.*)>", text)
    if m and m.group(1) == "Distribution":
        return pel_type_name(m.group(2))
    if m and m.group(1) in ("TimeSeries", "List", "Array"):
        outer = "Array" if m.group(1) == "List" else m.group(1)
        return f"{outer}<{pel_type_name(m.group(2))}>"
    m = re.fullmatch(r"Func\((.*)\)\s*->\s*(.+)", text)
    if m:
        args = [pel_type_name(a) for a in m.group(1).split(",") if a.strip()]
        return f"Func({', '.join(args)}) -> {pel_type_name(m.group(2))}"
    return text


def _declared_type_text(comp, name: str) -> str | None:
    from pel.frontend.types import type_text

    checked = comp.checked
    if name in checked.decl_types:
        return type_text(checked.decl_types[name])
    sig = checked.func_types.get(name)
    if sig is not None:
        params, ret = sig
        return f"Func({', '.join(type_text(p) for p in params)}) -> {type_text(ret)}"
    return None


def _typechecking(case: Case) -> Outcome:
    if case.expected["type"] == "error":
        return _judge_error(case)
    c = _require_success(case)
    for name, corpus_type in (case.expected.get("types") or {}).items():
        want = pel_type_name(str(corpus_type))
        got = _declared_type_text(c.comp, name)
        if got != want:
            raise Mismatch(f"type of {name}: corpus {corpus_type} (PEL {want}), PEL infers {got}")
    return Outcome(case, "pass", "completed" if c.completed else "")


# ---------------------------------------------------------------------------------------------
# provenance
# ---------------------------------------------------------------------------------------------


def _refs(obj: object, out: set[str]) -> set[str]:
    """Names of params/vars an IR expression (or statement tree) reads."""
    from pel.ir import nodes as ir

    if isinstance(obj, ir.Ref):
        if obj.kind in ("param", "var"):
            out.add(obj.name)
    elif isinstance(obj, ir.SeriesRef):
        out.add(obj.name)
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            _refs(getattr(obj, f.name), out)
    elif isinstance(obj, tuple | list):
        for x in obj:
            _refs(x, out)
    return out


def dependencies(program) -> dict[str, set[str]]:
    """Transitive dependencies of every variable, from the IR rules."""
    direct = {v.name: _refs(v.rules, set()) - {v.name} for v in program.model.vars}
    closed: dict[str, set[str]] = {}

    def visit(name: str, seen: frozenset[str]) -> set[str]:
        if name in closed:
            return closed[name]
        acc: set[str] = set()
        for d in direct.get(name, ()):
            acc.add(d)
            if d not in seen:
                acc |= visit(d, seen | {d})
        closed[name] = acc
        return acc

    for n in direct:
        visit(n, frozenset({n}))
    return closed


def _provenance(case: Case) -> Outcome:
    exp = case.expected
    if exp["type"] == "error":
        return _judge_error(case)
    c = _require_success(case)
    program = c.comp.program
    params = {p.name: p for p in program.model.params}
    for section in ("provenance", "assumptions"):
        for name, fields in (exp.get(section) or {}).items():
            if name not in params:
                raise Mismatch(f"{section}: no param {name!r}")
            prov = params[name].provenance
            for key, value in fields.items():
                got = getattr(prov, key, None)
                if key == "correlated_with":
                    got = [[n, r] for n, r in got]
                    value = [list(v) for v in value]
                if got != value:
                    raise Mismatch(f"{section} {name}.{key}: expected {value!r}, got {got!r}")
    if exp.get("dependencies"):
        deps = dependencies(program)
        for name, want in exp["dependencies"].items():
            if deps.get(name) != set(want):
                raise Mismatch(f"dependencies of {name}: expected {sorted(want)}, got {sorted(deps.get(name, ()))}")
    if exp.get("uncertainty"):
        _check_uncertainty(c.comp, exp["uncertainty"])
    return Outcome(case, "pass", "completed" if c.completed else "")


MC_RUNS = 20_000


def _check_uncertainty(comp, want: dict) -> None:
    """Mean and standard deviation of a Monte Carlo run within 4 standard errors (the family name the
    corpus gives is not checked: PEL propagates uncertainty by sampling, LANGUAGE.md §2.6)."""
    engine = _engine()
    result = engine.run(comp.program, mode="monte_carlo", seed=42, runs=MC_RUNS, steps=0)
    for name, stats in want.items():
        var = result.variables.get(name)
        if var is None:
            raise Mismatch(f"uncertainty: PEL has no output {name!r}")
        mean, std = float(var.mean[0]), float(var.std[0])
        m_want, s_want = _number(stats["mean"]), _number(stats["std_dev"])
        se_mean = s_want / math.sqrt(MC_RUNS)
        se_std = s_want / math.sqrt(2 * MC_RUNS)
        if abs(mean - m_want) > 4 * se_mean + 1e-9 or abs(std - s_want) > 4 * se_std + 0.01 * s_want:
            raise Mismatch(f"uncertainty of {name}: expected mean {m_want} std {s_want}, "
                           f"Monte Carlo gives mean {mean:.4f} std {std:.4f}")


# ---------------------------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------------------------

DURATION_STEPS = {"d": 1 / 30, "mo": 1.0, "y": 12.0, "yr": 12.0, "w": 7 / 30}  # step = month, 30 d/mo (§1.3)


def _number(value: object) -> float:
    """A corpus value as a number in PEL's internal units: `$150` -> 150, `45d` -> 1.5 (months)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace("_", "")
    m = re.fullmatch(r"(-?)[$€£](-?[\d.]+)(?:/(\w+))?", text)
    if m:
        amount = float(m.group(2)) * (-1 if m.group(1) else 1)
        if m.group(3):  # `$33.33/d`: per day -> per step
            amount /= DURATION_STEPS[m.group(3)]
        return amount
    m = re.fullmatch(r"(-?[\d.]+)([a-z]+)", text)
    if m and m.group(2) in DURATION_STEPS:
        return float(m.group(1)) * DURATION_STEPS[m.group(2)]
    return float(text)


_ENGINE_STATE: dict[str, object] = {}


def _engine():
    """pel.backend.engine when it imports and runs a trivial model; else skip with the reason."""
    if "engine" not in _ENGINE_STATE:
        try:
            from pel.backend import engine
            from pel.pipeline import compile_source

            engine.run(compile_source("model probe {\n  var x = 1 + 1;\n}\n").program, steps=0)
            _ENGINE_STATE["engine"] = engine
        except Exception as exc:  # noqa: BLE001 - the reason becomes the skip message
            _ENGINE_STATE["engine"] = None
            _ENGINE_STATE["reason"] = f"backend not usable: {type(exc).__name__}: {exc}"
    if _ENGINE_STATE["engine"] is None:
        raise _Skip(str(_ENGINE_STATE["reason"]))
    return _ENGINE_STATE["engine"]


# Runtime `values:` keys that are not variable values, and what answers them (documented mapping):
#   constraints_passed / assumption_valid -> a deterministic run records no constraint violation;
#   events_emitted  -> the event names the run's policies emitted, in order;
#   runs: N         -> a Monte Carlo run with runs=N reports N runs;
#   seed: S + reproducible: true -> two Monte Carlo runs with seed S give identical statistics;
#   <param>_mean    -> the param's central value in the run's assumption list (LANGUAGE.md §2.3: the mean
#                      for Normal);
#   name[k]         -> the value of name at step k (the run goes to the largest k the case names).
RUNTIME_MC_KEYS = frozenset({"runs", "seed", "reproducible"})


def _runtime(case: Case) -> Outcome:
    from pel.diagnostics import RunError

    exp = case.expected
    engine = _engine()
    if exp.get("analysis_type") in ("calibration", "drift") and exp["type"] == "success":
        return _analysis(case, engine, exp["analysis_type"])
    if exp.get("analysis_type") == "sensitivity" and exp["type"] == "success":
        return _sensitivity(case, engine)
    if exp.get("analysis_type") == "bottleneck":
        raise Mismatch("PEL has no bottleneck analysis (DEVIATIONS.md)")
    if "analysis_type" in exp:
        raise _Skip(f"{exp['analysis_type']} analysis is not a runtime result (no mapping)")
    if exp["type"] == "error":
        c = compile_case(case.source)
        if c.comp is None:
            return _judge_error(case)
        try:
            result = engine.run(c.comp.program, steps=0)
        except RunError as exc:
            codes = [d.code for d in exc.diagnostics]
            if set(codes) & ERROR_CODES["RuntimeError"]:
                return Outcome(case, "pass", " ".join(codes))
            raise Mismatch(f"expected {exp.get('error_type')}, run fails with {codes}") from None
        fatal = [v for v in result.violations if v.get("severity") == "fatal"]
        if fatal and "constraint" in str(exp.get("error_message", "")).lower():
            return Outcome(case, "pass", f"run stops: {result.message}")
        raise Mismatch(f"expected {exp.get('error_type')} ({exp.get('error_message')}), the run succeeds")
    c = _require_success(case)
    values = dict(exp.get("values") or {})
    if RUNTIME_MC_KEYS & set(values):
        _runtime_mc(engine, c.comp.program, values)
        return Outcome(case, "pass")
    steps = max([int(m.group(1)) for k in values if (m := re.search(r"\[(\d+)\]$", k))] or [0])
    result = engine.run(c.comp.program, steps=steps)
    for key, want in values.items():
        if key in ("constraints_passed", "assumption_valid"):
            got_ok = not result.violations
            if got_ok is not bool(want):
                raise Mismatch(f"{key}: expected {want}, violations {result.violations}")
            continue
        if key == "events_emitted":
            names = [e["event"] for e in result.events]
            if names[: len(want)] != list(want) or len(set(names)) != len(set(want)):
                raise Mismatch(f"events: expected {want}, got {names}")
            continue
        m = re.fullmatch(r"(\w+)\[(\d+)\]", key)
        name, t = (m.group(1), int(m.group(2))) if m else (key, 0)
        if m is None and name.endswith("_mean") and name not in result.variables:
            central = {a["name"]: a["value"] for a in result.assumptions}
            if name[:-5] in central:
                _compare(key, want, float(central[name[:-5]]))
                continue
        var = result.variables.get(name)
        if var is None:
            raise Mismatch(f"no output {name!r} (outputs: {sorted(result.variables)})")
        _compare(key, want, float(var.value[min(t, len(var.value) - 1)]))
    return Outcome(case, "pass")


def _analysis(case: Case, engine, kind: str) -> Outcome:
    """A calibration or drift case, on data its model generates (see the module docstring)."""
    import pel
    from pel.monitor.actuals import Actuals, Observation
    from pel.monitor.calibrate import CalibrationError, calibrate, fittable
    from pel.monitor.drift import declared_range, drift

    c = _require_success(case)
    program = c.comp.program
    params = [p for p in program.model.params]
    try:
        fittable(program, [p.name for p in params])
    except CalibrationError as exc:
        raise Mismatch(f"{kind}: a parameter cannot be fitted: {exc.diagnostics[0].message}") from None
    for p in params:
        if p.distribution is not None and declared_range(p, program.model) is None:
            raise Mismatch(f"{kind}: the declared P5-P95 of {p.name} ({p.value_text}) is not known")
    model = pel.Model(program)
    base = model.run("deterministic")
    numeric = {name: v.value for name, v in base.variables.items()
               if v.value is not None and v.value.dtype.kind in "fi"}
    central = {a["name"]: float(a["value"]) for a in base.assumptions}
    moved = []
    for p in params:
        start = central[p.name] * 1.1 if central[p.name] != 0 else 0.1
        other = model.run("deterministic", params={p.name: start})
        if any(not (other[name].value == values).all() for name, values in numeric.items()):
            moved.append((p, start))
    where = Span("<generated>", 0, 0, 0, 0)
    obs = tuple(Observation(name, t, float(x), where) for name, values in numeric.items()
                for t, x in enumerate(values.tolist()) if math.isfinite(x))
    actuals = Actuals("<generated>", "long", obs)
    for p, start in moved:
        if kind == "calibration":
            cal = calibrate(model, actuals, [p.name], params={p.name: start})
            got, ok = cal.estimates[0].value, cal.ok
        else:
            last = max(o.t for o in obs)
            report = drift(model, actuals, [p.name], window=last + 1, params={p.name: start})
            got, ok = report.parameters[0].latest.value, report.parameters[0].verdict == "ok"
        if not ok or not math.isclose(got, central[p.name], rel_tol=1e-6, abs_tol=1e-9):
            raise Mismatch(f"{kind}: {p.name} fitted to {got} (ok={ok}), declared {central[p.name]}")
    fitted = ", ".join(p.name for p, _ in moved) or "none (no output depends on a parameter)"
    return Outcome(case, "pass", f"{kind}: fitted {fitted}")


def _sensitivity(case: Case, engine) -> Outcome:
    """A sensitivity case: the tornado of every numeric output at the horizon; each numeric parameter gets a row,
    and a row's swing moves an output exactly when direct runs at its low and high values differ."""
    from pel.analysis import sensitivity as sa

    c = _require_success(case)
    program = c.comp.program
    T = program.model.time_horizon
    targets = sa.parse_targets(None, program.model, T)
    if not targets:
        raise Mismatch("sensitivity: the model has no numeric output")
    report = sa.tornado(program, targets, steps=T)
    swung = {r.param for r in report.targets[0].rows}
    numeric = {p.name for p in program.model.params if p.type.kind not in ("Boolean", "String", "Record", "Enum")}
    if swung != numeric:
        raise Mismatch(f"sensitivity: rows for {sorted(swung)}, numeric parameters {sorted(numeric)}")
    for rep in report.targets:
        for row in rep.rows:
            p = next(q for q in program.model.params if q.name == row.param)
            from pel.overrides import to_steps

            lo = engine.run(program, steps=T, params={p.name: to_steps(p.type, row.figures["low"], program.model)})
            hi = engine.run(program, steps=T, params={p.name: to_steps(p.type, row.figures["high"], program.model)})
            moved = float(hi[rep.name].value[rep.t]) != float(lo[rep.name].value[rep.t])
            if moved != (row.figures["delta"] != 0):
                raise Mismatch(f"sensitivity: {row.param} on {rep.label}: delta {row.figures['delta']}, runs differ: "
                               f"{moved}")
    ranked = ", ".join(f"{r.param} ({r.figures['delta']:g})" for r in report.targets[0].rows)
    return Outcome(case, "pass", f"sensitivity: {report.targets[0].label}: {ranked}")


def _runtime_mc(engine, program, values: dict) -> None:
    seed = int(values.get("seed", 42))
    runs = int(values.get("runs", 1000))
    first = engine.run(program, mode="monte_carlo", seed=seed, runs=runs, steps=0)
    if "runs" in values and first.runs != runs:
        raise Mismatch(f"runs: expected {runs}, the run reports {first.runs}")
    if values.get("reproducible"):
        again = engine.run(program, mode="monte_carlo", seed=seed, runs=runs, steps=0)
        for name, var in first.variables.items():
            if not (var.mean.tolist() == again.variables[name].mean.tolist()
                    and var.std.tolist() == again.variables[name].std.tolist()):
                raise Mismatch(f"seed {seed}: two runs differ on {name}")
        if first.assumptions != again.assumptions:
            raise Mismatch(f"seed {seed}: two runs differ in their assumptions")


def _compare(key: str, want: object, got: float) -> None:
    """A corpus value against PEL's number: booleans exactly; numbers within 1e-6 relative, or within half
    a unit of the last digit written when the corpus rounds (`$33.33/d`)."""
    if isinstance(want, bool):
        if bool(got) is not want:
            raise Mismatch(f"{key}: expected {want}, got {got}")
        return
    if isinstance(want, str) and not re.match(r"^-?[$€£\d]", want):
        raise Mismatch(f"{key}: expected the string {want!r}; PEL results are numbers")
    w = _number(want)
    tol = 0.0
    if isinstance(want, str):
        m = re.search(r"\.(\d+)", want)
        if m:
            tol = 0.5 * 10 ** -len(m.group(1)) * abs(w / float(re.sub(r"[^\d.]", "", want.split("/")[0])))
    if not (math.isclose(got, w, rel_tol=REL_TOL, abs_tol=1e-12) or abs(got - w) <= tol):
        raise Mismatch(f"{key}: expected {want} ({w}), got {got}")


# ---------------------------------------------------------------------------------------------
# command line: `python -m tests.conformance.runner [category ...]`
# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    import sys

    args = sys.argv[1:] if argv is None else argv
    root = shared_root()
    if root is None:
        print("../shared not present")
        return 1
    start = time.perf_counter()
    outcomes = run_all(root, [a for a in args if not a.startswith("-")] or CATEGORIES)
    for o in outcomes:
        if not o.passed or "-v" in args:
            print(f"{o.status.upper():4} {o.case.id}: {o.detail}")
    for cat, (p, n) in pass_rates(outcomes).items():
        print(f"{cat:13} {p}/{n} ({100 * p / n:.1f}%)")
    print(f"{time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
