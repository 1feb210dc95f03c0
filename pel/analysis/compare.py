"""`pel compare`: a model under several of its scenarios, run with common random numbers (the same seed, so the
same draws wherever the scenarios agree), outputs side by side at the horizon with differences to the first."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pel.backend.results import json_float
from pel.diagnostics import RunError, simple

DECLARED = "declared"  # the model as written, without a scenario (unless a scenario has this name)


@dataclass
class Comparison:
    """The runs of one model under several scenarios: per scenario and output, the statistics at step t."""

    model_name: str
    mode: str
    seed: int
    runs: int | None
    t: int
    scenarios: list[str]
    statuses: dict[str, str]
    outputs: list[str]
    units: dict[str, str]
    stats: dict[str, dict[str, dict[str, float | None]]]  # scenario -> output -> stat -> value
    notes: list[str] = field(default_factory=list)
    exit_code: int = 0  # as `pel run`'s: 3 when a scenario's run was stopped by a fatal constraint or failed

    @property
    def headline(self) -> str:
        return "value" if self.mode == "deterministic" else "mean"

    def difference(self, scenario: str, output: str) -> tuple[float | None, float | None]:
        """(absolute, relative) difference of the headline statistic to the first scenario's."""
        a = self.stats[self.scenarios[0]][output].get(self.headline)
        b = self.stats[scenario][output].get(self.headline)
        if a is None or b is None:
            return None, None
        return b - a, ((b - a) / abs(a) if a != 0 else None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model_name, "mode": self.mode, "seed": self.seed, "runs": self.runs,
                               "t": self.t, "baseline": self.scenarios[0], "scenarios": {}}
        for s in self.scenarios:
            rows = {}
            for o in self.outputs:
                diff, rel = self.difference(s, o)
                rows[o] = {**self.stats[s][o], "unit": self.units.get(o, ""), "difference": _num(diff),
                           "relative_difference": _num(rel)}
            out["scenarios"][s] = {"status": self.statuses[s], "outputs": rows}
        out["notes"] = self.notes
        return out


def compare(model: Any, scenarios: list[str], *, mode: str | None = None, seed: int | None = None,
            runs: int | None = None, steps: int | None = None, params: dict[str, Any] | None = None,
            threads: int | None = None) -> Comparison:
    """Run `model` (a pel.Model) under each scenario (`declared`: as written) with the same settings and seed."""
    program = model.program
    known = [s.name for s in program.model.scenarios]
    if not scenarios:
        raise RunError(simple("E0011", "name at least one scenario (or all)"))
    if scenarios == ["all"]:
        scenarios = ([DECLARED] if DECLARED not in known else []) + known
    for s in scenarios:
        if s not in known and s != DECLARED:
            raise RunError(simple("E0600", f"{program.model.name} has no scenario {s!r}",
                                  hint=f"scenarios: {', '.join(known) or 'none'} (and `{DECLARED}`: the model as "
                                       "written)"))
    used = model.settings(mode, seed=seed, runs=runs, steps=steps)
    units = {v.name: v.type.unit for v in program.model.vars}
    stats: dict[str, dict[str, dict[str, float | None]]] = {}
    statuses: dict[str, str] = {}
    outputs: list[str] = []
    notes: list[str] = []
    code = 0
    for s in dict.fromkeys(scenarios):
        scenario = None if s == DECLARED and s not in known else s
        result = model.run(used.mode, seed=used.seed, runs=used.runs, steps=used.steps, params=params,
                           threads=threads, scenario=scenario)
        statuses[s] = result.status
        code = max(code, result.exit_code)
        per: dict[str, dict[str, float | None]] = {}
        for name, v in result.variables.items():
            if v.value is None or getattr(v, "text", None) is not None:
                continue
            if name not in outputs:
                outputs.append(name)
            at = used.steps
            if used.mode == "deterministic":
                per[name] = {"value": _cell(v.value, at)}
            else:
                per[name] = {"mean": _cell(v.mean, at), "p5": _cell(v.p5, at), "p50": _cell(v.p50, at),
                             "p95": _cell(v.p95, at)}
        stats[s] = per
        if not result.ok:
            notes.append(f"{s}: status {result.status}" + (f" ({result.message})" if result.message else ""))
    for s in stats:
        for o in outputs:
            stats[s].setdefault(o, {})
    return Comparison(program.model.name, used.mode, used.seed, used.runs if used.mode == "monte_carlo" else None,
                      used.steps, list(dict.fromkeys(scenarios)), statuses, outputs, units, stats, notes, code)


def _cell(values: Any, t: int) -> float | None:
    if values is None or t >= len(values):
        return None
    x = float(values[t])
    return x if math.isfinite(x) else None


def _num(x: float | None) -> float | None:
    return None if x is None else json_float(x)


def render_text(c: Comparison) -> str:
    """One table: an output per row, per scenario the headline statistic (and p5-p95) and the difference."""
    from pel.monitor.calibrate import fmt

    runs = f", {c.runs:,} paths" if c.runs else ""
    lines = [f"pel compare: {c.model_name}, {c.mode}{runs}, seed {c.seed}, at t = {c.t} "
             f"({c.headline}; differences to {c.scenarios[0]})"]
    head = ["output", "unit"]
    for s in c.scenarios:
        head.append(s)
        if s != c.scenarios[0]:
            head.append("Δ")
    rows = [head]
    for o in c.outputs:
        row = [o, c.units.get(o, "")]
        for s in c.scenarios:
            st = c.stats[s][o]
            cell = fmt(st.get(c.headline))
            if c.mode == "monte_carlo" and st.get("p5") is not None:
                cell += f" [{fmt(st['p5'])}, {fmt(st['p95'])}]"
            row.append(cell)
            if s != c.scenarios[0]:
                diff, rel = c.difference(s, o)
                row.append("n/a" if diff is None else (f"{diff:+.6g}" + (f" ({rel:+.1%})" if rel is not None else "")))
        rows.append(row)
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    for r in rows:
        lines.append("  " + "  ".join([r[0].ljust(widths[0]), r[1].ljust(widths[1])]
                                      + [x.rjust(w) for x, w in zip(r[2:], widths[2:], strict=True)]).rstrip())
    status = ", ".join(f"{s}: {st}" for s, st in c.statuses.items())
    lines.append(f"  status: {status}")
    lines.extend(f"note: {n}" for n in c.notes)
    return "\n".join(lines) + "\n"
