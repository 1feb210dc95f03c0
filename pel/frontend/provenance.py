"""Provenance checks (LANGUAGE.md §6, §2.5): every param's block validated and its correlations normalized.

`collect` never invents provenance: a param without a valid block gets no entry in `by_name` and an error.
Codes: E0400 no block; E0401 missing/invalid field (or bad correlation shape, conflicting coefficients);
E0402 confidence not a number in [0, 1]; E0430 correlation matrix not PSD; E0432 ρ outside [-1, 1];
E0433 unknown correlated name (warning, error when strict). Warnings of our own: W0401 a tutorial-only
method (benchmark, interpolated, calibration), W0403 `assumption` without notes, W0434 a correlation
involving a param that is not a distribution (ignored).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np

from pel.diagnostics import DiagnosticBag, Span
from pel.frontend import ast
from pel.ir import nodes as ir
from pel.lang.provenance import (  # the vocabulary is the language table's
    CORRELATION_KEYS,
    FRESHNESS,
    KNOWN_KEYS,
    METHODS,
    PSD_TOLERANCE,
    REQUIRED,
    TOLERATED_METHODS,
)
from pel.limits import MAX_CORRELATED

RECORD_NAME_KEYS = ("param", "variable", "name")
RECORD_RHO_KEYS = ("coefficient", "rho", "ρ", "correlation", "value")

BLOCK_HINT = (
    '{ source: "where the value comes from", method: "observed", confidence: 0.8 }  '
    f"(method is one of {', '.join(METHODS)}; confidence is a number in [0, 1])"
)
SHAPES_HINT = (
    'write correlated_with: [("other_param", 0.5)] (also accepted: [other_param, 0.5], '
    '[[a, 0.5], [b, -0.2]], [{ param: "other_param", coefficient: 0.5 }])'
)


@dataclass
class ProvenanceInfo:
    """Validated provenance per declared name (params, and vars that carry a block) and the correlations
    that survived the checks, as (a, b, rho) with `a` declared before `b`."""

    by_name: dict[str, ir.Provenance] = field(default_factory=dict)
    correlations: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _Pair:
    owner: str
    other: str
    rho: float
    span: Span  # the entry as written
    name_span: Span
    rho_span: Span


def collect(model: ast.Model, bag: DiagnosticBag, *, strict: bool = False) -> ProvenanceInfo:
    """Check every provenance block of the model, report into `bag`, and return what is valid."""
    return _Collector(model, bag, strict).run()


class _Collector:
    def __init__(self, model: ast.Model, bag: DiagnosticBag, strict: bool) -> None:
        self.model = model
        self.bag = bag
        self.strict = strict
        self.params = model.of(ast.ParamDecl)
        self.param_index = {p.name: i for i, p in enumerate(self.params)}
        self.var_names = {v.name for v in model.of(ast.VarDecl)}
        self.pairs: list[_Pair] = []

    def run(self) -> ProvenanceInfo:
        info = ProvenanceInfo()
        for p in self.params:
            if p.provenance is None:
                self.bag.error(
                    "E0400",
                    f"parameter '{p.name}' has no provenance",
                    p.name_span or p.span,
                    hint=f"add a provenance block after the declaration: {BLOCK_HINT}",
                )
                continue
            prov = self.block(p.name, p.provenance)
            if prov is not None:
                info.by_name[p.name] = prov
        for v in self.model.of(ast.VarDecl):
            if v.provenance is not None:
                prov = self.block(v.name, v.provenance)
                if prov is not None:
                    info.by_name[v.name] = prov
        info.correlations = self.matrix()
        kept = {(a, b) for a, b, _ in info.correlations} | {(b, a) for a, b, _ in info.correlations}
        for name, prov in list(info.by_name.items()):
            pairs = tuple((o, r) for o, r in prov.correlated_with if (name, o) in kept)
            if pairs != prov.correlated_with:
                info.by_name[name] = dataclasses.replace(prov, correlated_with=pairs)
        return info

    # -- one block --------------------------------------------------------------------------------

    def block(self, owner: str, block: ast.Provenance) -> ir.Provenance | None:
        fields: dict[str, ast.ProvField] = {}
        for f in block.fields:
            if f.key in fields:
                self.bag.error("E0401", f"provenance of '{owner}' repeats the field '{f.key}'", f.span)
            else:
                fields[f.key] = f
        ok = True
        for key in REQUIRED:
            if key not in fields:
                self.bag.error(
                    "E0401",
                    f"provenance of '{owner}' is missing the required field '{key}'",
                    block.span,
                    hint=f"a provenance block needs source, method and confidence: {BLOCK_HINT}",
                )
                ok = False
        source = self.string(owner, fields.get("source"))
        method = self.method(owner, fields.get("method"))
        confidence = self.confidence(owner, fields.get("confidence"))
        freshness = self.freshness(owner, fields.get("freshness"))
        owner_field = self.string(owner, fields.get("owner"))
        notes = self.string(owner, fields.get("notes"))
        if method == "assumption" and notes is None and "notes" not in fields:
            self.bag.warning(
                "W0403",
                f"'{owner}' is an assumption without a justification",
                fields["method"].value.span,
                hint='add notes: "why this value is reasonable"',
            )
        correlated: list[tuple[str, float]] = []
        for key in CORRELATION_KEYS:
            if key in fields:
                for pair in self.correlation_field(owner, fields[key]):
                    self.pairs.append(pair)
                    correlated.append((pair.other, pair.rho))
        extra = tuple((k, _text(f.value)) for k, f in fields.items() if k not in KNOWN_KEYS)
        bad = ("source" in fields and source is None) or ("method" in fields and method is None)
        bad = bad or ("confidence" in fields and confidence is None)
        if not ok or bad or source is None or method is None or confidence is None:
            return None
        return ir.Provenance(
            source=source,
            method=method,
            confidence=confidence,
            freshness=freshness,
            owner=owner_field,
            notes=notes,
            correlated_with=tuple(correlated),
            extra=extra,
        )

    def string(self, owner: str, f: ast.ProvField | None) -> str | None:
        if f is None:
            return None
        if isinstance(f.value, ast.String):
            return f.value.value
        self.bag.error(
            "E0401",
            f"provenance field '{f.key}' of '{owner}' must be a string",
            f.value.span,
            hint=f'write {f.key}: "…"',
        )
        return None

    def method(self, owner: str, f: ast.ProvField | None) -> str | None:
        if f is None:
            return None
        value = self.string(owner, f)
        if value is None:
            return None
        if value in METHODS:
            return value
        if value in TOLERATED_METHODS:
            self.bag.warning(
                "W0401",
                f"method \"{value}\" of '{owner}' is not one of the standard methods",
                f.value.span,
                hint=f"prefer one of {', '.join(METHODS)}",
            )
            return value
        self.bag.error(
            "E0401",
            f"invalid provenance method \"{value}\" for '{owner}'",
            f.value.span,
            hint=f"method is one of {', '.join(METHODS)}",
        )
        return None

    def confidence(self, owner: str, f: ast.ProvField | None) -> float | None:
        if f is None:
            return None
        value = _number(f.value)
        if value is None or not 0.0 <= value <= 1.0:
            shown = "not a number" if value is None else f"{value:g}"
            self.bag.error(
                "E0402",
                f"confidence of '{owner}' must be a number in [0, 1] ({shown})",
                f.value.span,
                hint="0.9 = high confidence, 0.5 = moderate, 0.2 = speculative",
            )
            return None
        return value

    def freshness(self, owner: str, f: ast.ProvField | None) -> str | None:
        if f is None:
            return None
        value = self.string(owner, f)
        if value is not None and not FRESHNESS.match(value):
            self.bag.error(
                "E0401",
                f"freshness \"{value}\" of '{owner}' is not an ISO-8601 duration",
                f.value.span,
                hint='write a duration such as "P1M" (1 month), "P2W", "P1Y6M" or "P30D"',
            )
            return None
        return value

    # -- correlations -----------------------------------------------------------------------------

    def correlation_field(self, owner: str, f: ast.ProvField) -> list[_Pair]:
        """Normalize every accepted shape to pairs; report malformed entries, bad ρ and unknown names."""
        entries = _entries(f.value)
        if entries is None:
            self.bag.error("E0401", f"cannot read '{f.key}' of '{owner}'", f.value.span, hint=SHAPES_HINT)
            return []
        out: list[_Pair] = []
        for entry in entries:
            parsed = _pair(entry)
            if parsed is None:
                self.bag.error(
                    "E0401",
                    f"cannot read this correlation entry of '{owner}'",
                    entry.span,
                    hint=SHAPES_HINT,
                )
                continue
            (name, name_span), (rho, rho_span) = parsed
            pair = _Pair(owner, name, rho, entry.span, name_span, rho_span)
            if self.pair_ok(pair):
                out.append(pair)
        return out

    def pair_ok(self, pair: _Pair) -> bool:
        if not -1.0 <= pair.rho <= 1.0:
            self.bag.error(
                "E0432",
                f"correlation coefficient {pair.rho:g} between '{pair.owner}' and '{pair.other}' is outside [-1, 1]",
                pair.rho_span,
            )
            return False
        if pair.other == pair.owner:
            self.bag.error("E0401", f"'{pair.owner}' cannot be correlated with itself", pair.name_span)
            return False
        if pair.other not in self.param_index:
            where = "a variable, not a parameter" if pair.other in self.var_names else "not declared"
            message = (
                f"'{pair.owner}' is correlated with '{pair.other}', which is {where}; the pair is ignored"
            )
            hint = "correlate parameters that are declared with a distribution"
            if self.strict:
                self.bag.error(
                    "E0433", message.replace("; the pair is ignored", ""), pair.name_span, hint=hint
                )
            else:
                self.bag.warning("E0433", message, pair.name_span, hint=hint)
            return False
        for name in (pair.owner, pair.other):
            if not self.is_distribution(name):
                self.bag.warning(
                    "W0434",
                    f"'{name}' is not a distribution, so its correlation with "
                    f"'{pair.other if name == pair.owner else pair.owner}' is ignored",
                    pair.span,
                    hint=f"declare '{name}' with ~Normal(…) or another distribution to correlate it",
                )
                return False
        return True

    def is_distribution(self, name: str) -> bool:
        index = self.param_index.get(name)
        if index is None:
            return False
        p = self.params[index]
        return p.dist_form is not None or isinstance(p.value, ast.Dist)

    def matrix(self) -> list[tuple[str, str, float]]:
        chosen: dict[tuple[str, str], _Pair] = {}
        conflict = False
        for pair in self.pairs:
            if pair.owner not in self.param_index:
                continue  # a var's block: reported as not a distribution already
            a, b = sorted((pair.owner, pair.other), key=self.param_index.__getitem__)
            previous = chosen.get((a, b))
            if previous is None:
                chosen[(a, b)] = pair
            elif previous.rho != pair.rho:
                conflict = True
                self.bag.error(
                    "E0401",
                    f"conflicting correlations between '{a}' and '{b}': {previous.rho:g} and {pair.rho:g}",
                    pair.rho_span,
                    hint=f"declare the correlation once (first given at line {previous.span.line})",
                )
        result = sorted(
            ((a, b, p.rho) for (a, b), p in chosen.items()),
            key=lambda c: (self.param_index[c[0]], self.param_index[c[1]]),
        )
        if result and not conflict:
            self.check_psd(result, chosen)
        return result

    def check_psd(self, result: list[tuple[str, str, float]], chosen: dict[tuple[str, str], _Pair]) -> None:
        names = sorted({n for a, b, _ in result for n in (a, b)}, key=self.param_index.__getitem__)
        if len(names) > MAX_CORRELATED:  # the matrix is checked and factored whole: cubic in its size
            last = max(chosen.values(), key=lambda p: (p.span.line, p.span.col))
            self.bag.error("E0430", f"{len(names)} correlated parameters: PEL's limit is {MAX_CORRELATED}",
                           last.span, hint="correlate fewer parameters")
            return
        index = {n: i for i, n in enumerate(names)}
        m = np.eye(len(names))
        for a, b, rho in result:
            m[index[a], index[b]] = m[index[b], index[a]] = rho
        smallest = float(np.linalg.eigvalsh(m).min())
        if smallest < PSD_TOLERANCE:
            last = max(chosen.values(), key=lambda p: (p.span.line, p.span.col))
            self.bag.error(
                "E0430",
                f"the correlations of {', '.join(names)} are not jointly possible: the correlation matrix is "
                f"not positive semi-definite (smallest eigenvalue {smallest:.3g})",
                last.span,
                hint="weaken some coefficients: e.g. a and b both strongly tied to c cannot be strongly opposed",
            )


# ---------------------------------------------------------------------------------------------
# Shapes and values
# ---------------------------------------------------------------------------------------------


def _number(e: ast.Expr) -> float | None:
    """A plain numeric constant (`0.8`, `-0.4`, `80%`), else None."""
    if isinstance(e, (ast.Number, ast.Percent)):
        return float(e.value)
    if isinstance(e, ast.Unary) and e.op in ("-", "+"):
        inner = _number(e.operand)
        if inner is None:
            return None
        return -inner if e.op == "-" else inner
    return None


def _name(e: ast.Expr) -> str | None:
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.String):
        return e.value
    return None


def _is_entry(e: ast.Expr) -> bool:
    """True for one correlation entry (a pair or a record), false for a list of entries."""
    if isinstance(e, (ast.TupleLit, ast.RecordLit)):
        return True
    if isinstance(e, ast.ArrayLit) and len(e.elements) == 2:
        first, second = e.elements
        return _name(first) is not None and _number(second) is not None
    return False


def _entries(value: ast.Expr) -> list[ast.Expr] | None:
    """The entries of a correlation field: `[name, ρ]` is one entry, `[e1, e2, …]` several."""
    if _is_entry(value):
        return [value]
    if isinstance(value, ast.ArrayLit):
        return list(value.elements)
    return None


def _pair(e: ast.Expr) -> tuple[tuple[str, Span], tuple[float, Span]] | None:
    if isinstance(e, (ast.TupleLit, ast.ArrayLit)) and len(e.elements) == 2:
        first, second = e.elements
        name, rho = _name(first), _number(second)
        if name is not None and rho is not None:
            return (name, first.span), (rho, second.span)
        return None
    if isinstance(e, ast.RecordLit):
        by_key = {kw.name: kw.value for kw in e.fields}
        name_expr = next((by_key[k] for k in RECORD_NAME_KEYS if k in by_key), None)
        rho_expr = next((by_key[k] for k in RECORD_RHO_KEYS if k in by_key), None)
        if name_expr is None or rho_expr is None or len(by_key) != 2:
            return None
        name, rho = _name(name_expr), _number(rho_expr)
        if name is not None and rho is not None:
            return (name, name_expr.span), (rho, rho_expr.span)
    return None


def _text(e: ast.Expr) -> str:
    """Source-like text of a provenance value (kept in `Provenance.extra`)."""
    if isinstance(e, ast.String):
        return json.dumps(e.value, ensure_ascii=False)
    if isinstance(e, (ast.Number, ast.Money, ast.Percent, ast.DurationLit)):
        return e.text
    if isinstance(e, ast.Bool):
        return "true" if e.value else "false"
    if isinstance(e, ast.Name):
        return e.id
    if isinstance(e, ast.Unary):
        return f"{e.op}{_text(e.operand)}"
    if isinstance(e, ast.ArrayLit):
        return "[" + ", ".join(_text(x) for x in e.elements) + "]"
    if isinstance(e, ast.TupleLit):
        return "(" + ", ".join(_text(x) for x in e.elements) + ")"
    if isinstance(e, ast.RecordLit):
        return "{" + ", ".join(f"{kw.name}: {_text(kw.value)}" for kw in e.fields) + "}"
    if isinstance(e, ast.Binary):
        first, nodes = ast.left_spine(e)
        return " ".join([_text(first), *(f"{n.op} {_text(n.right)}" for n in nodes)])
    return f"<{type(e).__name__}>"
