"""The few lines `pel run` prints on stderr after a run: status, paths, failures, constraints, convergence, and
where the results went."""

from __future__ import annotations

from pel.backend.convergence import REASON_CONVERGED
from pel.backend.results import Result
from pel.model import FROM_MODEL

MAX_CONSTRAINT_LINES = 10


def run_summary(result: Result, where: str, gate: float | None = None) -> str:
    """The summary of `result` (written to `where`); `gate` is the --min-success-rate the run fell short of."""
    lines = [f"pel: {result.model_name}: {result.status} ({result.mode}, {result.steps + 1} steps, seed {result.seed})"]
    from_model = [k for k, v in (result.settings_from or {}).items() if v == FROM_MODEL and k != "steps"]
    if from_model:
        lines.append(f"  {', '.join(from_model)} from the model's simulate directive")
    if result.mode == "monte_carlo" and result.runs:
        done = round((result.success_rate or 0.0) * result.runs)
        lines.append(f"  paths: {done:,} of {result.runs:,} completed ({100.0 * (result.success_rate or 0.0):.1f}%)")
        failed = (result.failed_paths or {}).get("by_kind") or {}
        for kind, n in failed.items():
            lines.append(f"  failed paths: {n:,} {kind}")
        first = (result.failed_paths or {}).get("first")
        if first:
            lines.append(f"  first failure: path {first['path']} at t={first['t']}: {first['message']}")
    elif result.message:
        lines.append(f"  {result.message}")
    if result.mode == "monte_carlo" and result.status != "success" and result.message:
        lines.append(f"  {result.message}")
    counts: dict[tuple[str, str], int] = {}
    for entry in [*result.violations, *result.warnings]:
        key = (str(entry.get("constraint")), str(entry.get("severity")))
        counts[key] = counts.get(key, 0) + int(entry.get("count", 1))
    for (name, severity), n in list(counts.items())[:MAX_CONSTRAINT_LINES]:
        unit = "paths" if result.mode == "monte_carlo" else "steps"
        lines.append(f"  constraint {name} ({severity}): violated in {n:,} {unit}")
    if len(counts) > MAX_CONSTRAINT_LINES:
        lines.append(f"  … and {len(counts) - MAX_CONSTRAINT_LINES} more constraints (see the results file)")
    if result.convergence is not None and result.convergence.get("until_se") is not None:
        lines.append(_convergence_line(result.convergence))
    if gate is not None:
        lines.append(f"  below --min-success-rate {gate:g}: exit 3")
    lines.append(f"  results: {where}")
    return "\n".join(lines)


def _convergence_line(conv: dict) -> str:
    """Whether --until-se was met, the worst relative SE reached and its output, or the outputs without one."""
    target, paths, rel = conv["until_se"], conv["paths"], conv["relative_se"]
    finite = {name: v for name, v in rel.items() if v is not None}
    worst = max(finite, key=lambda name: finite[name]) if finite else None
    reached = [] if worst is None else [f"worst relative SE {finite[worst]:.3g}, {worst}"]
    if conv["stopped"] == REASON_CONVERGED:
        return f"  --until-se {target:g}: converged after {paths:,} paths" + (f" ({reached[0]})" if reached else "")
    none = [name for name, v in rel.items() if v is None]
    if none:
        shown = ", ".join(none[:5]) + (f" and {len(none) - 5} more" if len(none) > 5 else "")
        reached.append(f"no finite relative SE for {shown}: a mean of 0, or fewer than two values")
    advice = "; raise --runs" if worst is not None else ""
    return f"  --until-se {target:g}: NOT converged after all {paths:,} paths ({'; '.join(reached)}){advice}"
