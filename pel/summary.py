"""The few lines `pel run` prints on stderr after a run: status, paths, failures, constraints, convergence, and
where the results went."""

from __future__ import annotations

from pel.backend.convergence import REASON_CONVERGED
from pel.backend.results import Result

MAX_CONSTRAINT_LINES = 10


def run_summary(result: Result, where: str, gate: float | None = None) -> str:
    """The summary of `result` (written to `where`); `gate` is the --min-success-rate the run fell short of."""
    lines = [f"pel: {result.model_name}: {result.status} ({result.mode}, {result.steps + 1} steps, seed {result.seed})"]
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
    conv = result.convergence
    if conv is not None and conv.get("until_se") is not None:
        worst = max((v for v in conv["relative_se"].values() if v is not None), default=None)
        reached = "n/a" if worst is None else f"{worst:.3g}"
        if conv["stopped"] == REASON_CONVERGED:
            lines.append(f"  converged: relative SE {reached} < {conv['until_se']:g} after {conv['paths']:,} paths")
        else:
            lines.append(f"  NOT converged: relative SE {reached} (target {conv['until_se']:g}) after the cap of "
                         f"{conv['paths']:,} paths; raise --runs")
    if gate is not None:
        lines.append(f"  below --min-success-rate {gate:g}: exit 3")
    lines.append(f"  results: {where}")
    return "\n".join(lines)
