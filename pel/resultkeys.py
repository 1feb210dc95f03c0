"""The top-level keys of the results JSON besides the variables: one list that the results writer and the
checker (a variable may not take one of these names) both read."""

from __future__ import annotations

RESULT_KEYS = frozenset({
    "status", "message", "model", "mode", "seed", "steps", "time_unit", "warnings", "violations",
    "assumptions", "runs", "success_rate", "failed_paths", "constraints", "percentiles", "convergence",
    "settings_from",
})
