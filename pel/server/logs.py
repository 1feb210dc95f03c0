"""Structured logs: one JSON line per execution and one per constraint violation (the tutorial's fields)."""

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
                  request_id: str | None = None) -> None:
    """One line per execution: timestamp, model, model_hash, mode, seed, duration_sec, status, warnings."""
    entry: dict[str, Any] = {
        "timestamp": _now(), "event": "execution", "model": model, "model_hash": model_hash, "mode": mode,
        "seed": seed, "runs": runs, "steps": steps, "duration_sec": round(duration_sec, 6), "status": status,
        "warnings": warnings, "violations": violations,
    }
    if code is not None:
        entry["code"] = code
    if request_id is not None:
        entry["request_id"] = request_id
    exec_log.info(json.dumps(entry, allow_nan=False))


def log_violation(*, model: str, model_hash: str, mode: str, seed: int, entry: dict,
                  request_id: str | None = None) -> None:
    """One line per constraint violation entry of a result (a warning or a fatal one)."""
    line: dict[str, Any] = {
        "timestamp": _now(), "event": "constraint_violation", "model": model, "model_hash": model_hash,
        "mode": mode, "seed": seed, "constraint": entry.get("constraint"), "severity": entry.get("severity"),
        "message": entry.get("message"),
    }
    for key in ("t", "count", "rate"):
        if key in entry:
            line[key] = entry[key]
    if request_id is not None:
        line["request_id"] = request_id
    exec_log.log(logging.WARNING if entry.get("severity") == "warning" else logging.ERROR,
                 json.dumps(line, allow_nan=False, default=str))


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
