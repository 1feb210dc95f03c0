"""Structured logs: one JSON line per execution and one per violated constraint of it (the tutorial's fields)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

exec_log = logging.getLogger("pel.server.executions")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def log_execution(*, model: str, model_hash: str, mode: str, seed: int, runs: int | None, steps: int | None,
                  duration_sec: float, status: str, warnings: int, violations: int, code: str | None = None,
                  request_id: str | None = None, version: str = "") -> None:
    """One line per execution: timestamp, model, version (null for a model that is not a release), model_hash,
    mode, seed, duration_sec, status, warnings."""
    entry: dict[str, Any] = {
        "timestamp": _now(), "event": "execution", "model": model, "version": version or None,
        "model_hash": model_hash, "mode": mode, "seed": seed, "runs": runs, "steps": steps, "duration_sec": round(duration_sec, 6), "status": status,
        "warnings": warnings, "violations": violations,
    }
    if code is not None:
        entry["code"] = code
    if request_id is not None:
        entry["request_id"] = request_id
    exec_log.info(json.dumps(entry, allow_nan=False))


def constraint_summaries(entries: list[dict]) -> list[dict[str, Any]]:
    """The violation entries of one result folded into one summary per constraint, in order of first violation.

    A deterministic result has one entry per violated step: the summary counts them (`count`, steps) and
    names the first and last (`first_t`, `last_t`, the message of the first). A Monte Carlo result already has
    one entry per constraint: `count` is the paths in which it was violated, `rate` their share, `first_t` and
    `last_t` the earliest and latest step at which a path first violated it."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for e in entries:
        groups.setdefault((str(e.get("constraint")), str(e.get("severity"))), []).append(e)
    out = []
    for (constraint, severity), items in groups.items():
        line: dict[str, Any] = {"constraint": constraint, "severity": severity}
        steps = [e for e in items if isinstance(e.get("t"), int)]
        if steps:
            first = min(steps, key=lambda e: e["t"])
            line.update(count=len(steps), first_t=first["t"], last_t=max(e["t"] for e in steps),
                        message=first.get("message"))
        else:  # Monte Carlo: one entry per constraint (summed, should there ever be more)
            first_t = [e["first_violation_t"] for e in items if isinstance(e.get("first_violation_t"), dict)]
            line.update(count=sum(int(e.get("count", 0)) for e in items),
                        rate=sum(float(e.get("rate", 0.0)) for e in items),
                        first_t=min((f["min"] for f in first_t), default=None),
                        last_t=max((f["max"] for f in first_t), default=None),
                        message=items[0].get("message"))
        out.append(line)
    return out


def log_violations(*, model: str, model_hash: str, mode: str, seed: int, entries: list[dict],
                   request_id: str | None = None, version: str = "") -> None:
    """One line per violated constraint of an execution (a warning or a fatal one), however many steps or
    paths violated it: its count and its first and last step."""
    for summary in constraint_summaries(entries):
        line: dict[str, Any] = {"timestamp": _now(), "event": "constraint_violation", "model": model,
                                "version": version or None, "model_hash": model_hash, "mode": mode, "seed": seed, **summary}
        if request_id is not None:
            line["request_id"] = request_id
        level = logging.WARNING if summary["severity"] == "warning" else logging.ERROR
        exec_log.log(level, json.dumps(line, allow_nan=False, default=str))


def log_shadow(*, model: str, version: str, active: str, mode: str, seed: int, outcome: str,
               divergence: float | None = None, output: str | None = None, t: int | None = None,
               duration_sec: float | None = None, code: str | None = None, request_id: str | None = None) -> None:
    """One line per shadow run: the shadow and active versions, the outcome and, when compared, the largest
    relative difference (`divergence`: null when infinite) with the output and step where it occurs."""
    entry: dict[str, Any] = {"timestamp": _now(), "event": "shadow", "model": model, "version": version,
                             "active_version": active, "mode": mode, "seed": seed, "outcome": outcome}
    if outcome == "compared":
        entry.update(divergence=divergence if divergence is None or divergence < float("inf") else None,
                     output=output, t=t)
    if duration_sec is not None:
        entry["duration_sec"] = round(duration_sec, 6)
    if code is not None:
        entry["code"] = code
    if request_id is not None:
        entry["request_id"] = request_id
    exec_log.info(json.dumps(entry, allow_nan=False))


def log_rollout(*, model: str, action: str, state: dict[str, Any], before: dict[str, Any] | None) -> None:
    """One line per change of a released model's routing (rollout, promote, rollback): the state before and after."""
    exec_log.info(json.dumps({"timestamp": _now(), "event": action, "model": model, "before": before,
                              "after": state}, allow_nan=False))


def configure(level: str = "info") -> None:
    """Send the execution log to stdout as bare JSON lines and the server's own messages to stderr."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    exec_log.handlers[:] = [handler]
    exec_log.setLevel(logging.INFO)
    exec_log.propagate = False
    server = logging.getLogger("pel.server")
    if not server.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        server.addHandler(h)
    server.setLevel(level.upper())
