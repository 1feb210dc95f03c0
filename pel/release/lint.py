"""`pel lint`: the production checklist of seed tutorial 10 as rules L001…L014 with file:line:col locations.

Staleness (L003): PEL has no built-in "last validated" date, so a provenance field `validated: "YYYY-MM-DD"` is
read when present: the value is stale when validated + freshness (calendar arithmetic, e.g. P3M = 3 months)
is before --as-of; with `validated` but no `freshness`, the spec's 6-month staleness policy (P6M) applies.
Without `validated`, only the policy is reported (L004, a note).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from pel.diagnostics import PelError
from pel.ir import fold
from pel.ir import nodes as ir
from pel.lang import provenance as lang_prov
from pel.release.common import (
    Loaded,
    calls,
    extra_field,
    has_inline_draw,
    location,
    model_line,
    nodes,
    reads,
    shape,
)

DEFAULT_POLICY = lang_prov.DEFAULT_FRESHNESS
LEVELS = ("note", "warning", "error")
_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$")

RULES = {
    "L001": "share of high-confidence parameters below the threshold",
    "L002": "low-confidence parameter: flag for monitoring",
    "L003": "stale value: validated + freshness is before the as-of date",
    "L004": "freshness policy declared but no `validated` date: staleness cannot be judged",
    "L005": "method `assumption` without notes justifying it",
    "L006": "parameter without an owner",
    "L007": "parameter never read",
    "L008": "variable never read and not an output",
    "L009": "constraint condition is always true (statically): it can never fire",
    "L010": "constraint held at every step of the deterministic run and reads no uncertain input",
    "L011": "`validated` is not a date (YYYY-MM-DD)",
    "L012": "`validated` date is after the as-of date",
    "L013": "no freshness policy (freshness or freshness_not_applicable)",
    "L014": "the deterministic run fails (runtime fault or fatal constraint)",
}


@dataclass
class Finding:
    rule: str
    level: str  # note | warning | error
    message: str
    file: str
    line: int
    col: int
    subject: str = ""

    def header(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.level}[{self.rule}]: {self.message}"


@dataclass
class Options:
    as_of: dt.date
    min_share: float = 0.70  # L001 threshold: share of parameters with confidence >= high
    high: float = 0.70  # confidence counted as high
    run: bool = True  # L010/L014 need one deterministic run


def add_duration(start: dt.date, duration: str) -> dt.date:
    """start + an ISO-8601 date duration (years and months as calendar months, the day clamped)."""
    m = _DURATION.match(duration)
    if m is None:
        raise ValueError(f"not an ISO-8601 date duration: {duration!r}")
    years, months, weeks, days = (int(g) if g else 0 for g in m.groups())
    total = start.year * 12 + (start.month - 1) + years * 12 + months
    year, month = divmod(total, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return dt.date(year, month + 1, day) + dt.timedelta(weeks=weeks, days=days)


def lint(loaded: Loaded, opts: Options) -> list[Finding]:
    """Every finding for one model, in rule order then source order."""
    file = loaded.shown_file
    model = loaded.model
    out: list[Finding] = []

    def add(rule: str, level: str, message: str, loc: ir.Loc | tuple[int, int], subject: str = "") -> None:
        where = location(file, loc) if loc is None or len(loc) == 4 else {"file": file, "line": loc[0],
                                                                           "col": loc[1]}
        out.append(Finding(rule, level, message, where["file"], where["line"], where["col"], subject))

    params = model.params
    high = [p for p in params if p.provenance.confidence >= opts.high]
    share = len(high) / len(params) if params else 1.0
    if share < opts.min_share:
        add("L001", "error", f"{len(high)} of {len(params)} parameters ({share:.0%}) have confidence >= "
            f"{opts.high:g}; the checklist asks for at least {opts.min_share:.0%}", model_line(loaded))
    for p in params:
        prov = p.provenance
        if prov.confidence < opts.high:
            add("L002", "note", f"'{p.name}' has confidence {prov.confidence:g} (< {opts.high:g}): monitor it"
                + (f" (owner: {prov.owner})" if prov.owner else ""), p.loc, p.name)
        _freshness(p, opts, add)
        if prov.method == "assumption" and not (prov.notes or "").strip():
            add("L005", "error", f"'{p.name}' is an assumption without notes justifying it", p.loc, p.name)
        if not prov.owner:
            add("L006", "warning", f"'{p.name}' has no owner", p.loc, p.name)
    _unused(model, add)
    for c in model.constraints:
        if always_true(c.condition):
            add("L009", "warning", f"constraint '{c.name}' is always true: it can never fire", c.loc, c.name)
    if opts.run:
        _run_checks(loaded, add)
    order = {rule: i for i, rule in enumerate(RULES)}
    out.sort(key=lambda f: (order[f.rule], f.line, f.col))
    return out


def _freshness(p: ir.Param, opts: Options, add: Any) -> None:
    prov = p.provenance
    validated = extra_field(prov, lang_prov.VALIDATED)
    if validated is None:
        if prov.freshness:
            add("L004", "note", f"'{p.name}' must be re-validated every {prov.freshness}; add "
                f'validated: "YYYY-MM-DD" to judge staleness', p.loc, p.name)
        elif extra_field(prov, lang_prov.NO_FRESHNESS) is None:
            add("L013", "note", f"'{p.name}' declares no freshness policy", p.loc, p.name)
        return
    try:
        when = dt.date.fromisoformat(validated)
    except ValueError:
        add("L011", "error", f"'{p.name}': validated {validated!r} is not a date (YYYY-MM-DD)", p.loc, p.name)
        return
    if when > opts.as_of:
        add("L012", "warning", f"'{p.name}' was validated on {when}, after the as-of date {opts.as_of}",
            p.loc, p.name)
        return
    policy = prov.freshness or DEFAULT_POLICY
    due = add_duration(when, policy)
    if due < opts.as_of:
        how = f"freshness {policy}" if prov.freshness else f"the default {DEFAULT_POLICY} policy (no freshness)"
        add("L003", "error", f"'{p.name}' is stale: validated {when}, {how}, re-validation was due {due} "
            f"(as of {opts.as_of})", p.loc, p.name)


def _unused(model: ir.Model, add: Any) -> None:
    used: set[str] = set()
    for v in model.vars:
        used |= reads(v.rules)
    for p in model.params:
        used |= reads((p.value, p.distribution))
    used |= reads((model.constraints, model.policies, model.funcs, model.outputs))
    outputs = {o.name for o in model.outputs}
    for p in model.params:
        if p.name not in used:
            add("L007", "warning", f"parameter '{p.name}' is never read", p.loc, p.name)
    if outputs:  # without an `output` directive every variable is an output
        for v in model.vars:
            if v.name not in used and v.name not in outputs:
                add("L008", "warning", f"variable '{v.name}' is never read and is not an output", v.loc, v.name)


def uncertain_names(model: ir.Model) -> set[str]:
    """Parameters and variables whose value can differ between Monte Carlo paths (a fixpoint over reads)."""
    funcs = {f.name: f for f in model.funcs}
    draw_funcs = {f.name for f in model.funcs if has_inline_draw(f.body)}
    deps: dict[str, set[str]] = {}
    seeds = {p.name for p in model.params if p.distribution is not None}
    for p in model.params:
        deps[p.name] = reads((p.value, p.distribution))
    for v in model.vars:
        deps[v.name] = reads(v.rules) | {r for f in calls(v.rules) if f in funcs for r in reads(funcs[f].body)}
        if has_inline_draw(v.rules) or calls(v.rules) & draw_funcs:
            seeds.add(v.name)
    for pol in model.policies:  # a policy writes its targets from its trigger and actions
        inputs = reads((pol.trigger, pol.actions))
        for n in nodes(pol.actions):
            if isinstance(n, ir.Action):
                deps.setdefault(n.target, set()).update(inputs)
                if has_inline_draw((pol.trigger, pol.actions)):
                    seeds.add(n.target)
    out = set(seeds)
    changed = True
    while changed:
        changed = False
        for name, needs in deps.items():
            if name not in out and needs & out:
                out.add(name)
                changed = True
    return out


def _run_checks(loaded: Loaded, add: Any) -> None:
    from pel.model import Model

    model = loaded.model
    try:
        result = Model(loaded.program).run("deterministic")
    except PelError as exc:
        add("L014", "error", f"the deterministic run fails: {exc.diagnostics[0].message}", model_line(loaded))
        return
    if result.status == "constraint_violation":
        v = result.violations[-1] if result.violations else {}
        c = next((c for c in model.constraints if c.name == v.get("constraint")), None)
        add("L014", "error", f"the deterministic run stops on fatal constraint '{v.get('constraint')}' at "
            f"t={v.get('t')}: {result.message}", c.loc if c else model_line(loaded))
        return
    fired = {w["constraint"] for w in result.warnings}
    uncertain = uncertain_names(model)
    for c in model.constraints:
        if c.name in fired or always_true(c.condition) or has_inline_draw((c.condition, c.scope)):
            continue
        if not reads((c.condition, c.scope)) & uncertain:
            add("L010", "warning", f"constraint '{c.name}' held at every step of the deterministic run and "
                "reads no uncertain input: it can fire only if a parameter is overridden", c.loc, c.name)


# ---------------------------------------------------------------------------------------------
# Static truth of a condition
# ---------------------------------------------------------------------------------------------

def _same_sides(e: ir.Expr) -> bool | None:
    """`x >= x`, `x == x`, `x <= x` with the same draw-free side: true whatever x is (lint's own knowledge,
    given to the constant folder)."""
    if isinstance(e, ir.Binary) and e.op in ("==", "<=", ">=") and shape(e.left) == shape(e.right) \
            and not has_inline_draw(e):
        return True
    return None


def always_true(e: ir.Expr) -> bool:
    """Whether a condition holds whatever the model's values are (pel.ir.fold, the one constant folder)."""
    return fold.value(e, _same_sides) is True


def summary(findings: list[Finding]) -> dict[str, int]:
    return {level: sum(1 for f in findings if f.level == level) for level in LEVELS}


def to_dicts(findings: list[Finding]) -> list[dict[str, Any]]:
    return [asdict(f) for f in findings]
