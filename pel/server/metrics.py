"""Prometheus metrics of the server, named and labelled so that the tutorial's alert rules fire as they read.

- `pel_execution_duration_seconds` is a gauge (the last execution's wall time per model and mode), so the
  tutorial's `pel_execution_duration_seconds > 30` compares a real series; the distribution of durations is
  the histogram `pel_execution_seconds` (`_bucket`, `_sum`, `_count`).
- Every counter of a served model exists at 0 from the moment the model is loaded (`Metrics.serve`), so
  `rate()` sees the first execution, failure or violation.
- No PEL label is named like a label that alert rules set (`severity`): a constraint's declared severity
  is `constraint_severity`.
- The execution metrics carry the release `version` of the model that ran (`pel serve --releases`). A model
  of a models folder has no version: its series are exposed without the label (Prometheus reads an empty
  label as an absent one), exactly as before releases were served.
- Shadow runs (`pel serve --releases`) are not executions: they never count in `pel_executions_total`; they
  have their own `pel_shadow_runs_total` and `pel_shadow_divergence`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from pel.model import Model
    from pel.monitor.state import Rollout

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

# The outcomes an execution of each mode can have: `status` of pel_executions_total, and the `reason` of
# pel_execution_failures_total (a status that is not success, or the kind of error that ended the run).
STATUSES = {
    "deterministic": ("success", "constraint_violation", "error", "timeout"),
    "monte_carlo": ("success", "partial", "failed", "error", "timeout"),
}
FAILURE_REASONS = {
    "deterministic": ("constraint_violation", "run_error", "timeout", "internal_error"),
    "monte_carlo": ("partial", "failed", "run_error", "timeout", "internal_error"),
}
REJECT_REASONS = ("busy", "compiling")
# What became of the shadow run of a request: compared with the active answer, failed (an error, a timeout, no
# output in common), or skipped (the server was busy: shadows never queue behind client runs).
SHADOW_OUTCOMES = ("compared", "failed", "skipped")
ROLES = ("active", "canary", "shadow")


class _Unversioned(Collector):
    """The metrics of a registry with an empty `version` label left out (a model that is not a release)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        for family in self.source.collect():
            family.samples = [s._replace(labels={k: v for k, v in s.labels.items() if k != "version" or v})
                              for s in family.samples]
            yield family


class Metrics:
    """One registry per app (tests build several apps in one process)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        r = CollectorRegistry()  # the metrics; exposed through `registry`, which leaves out empty versions
        self.registry = CollectorRegistry()
        self.registry.register(_Unversioned(r))
        self.duration = Gauge("pel_execution_duration_seconds",
                              "Wall time of the last execution of the model in this mode (request arrival to "
                              "answer, whatever the outcome; a cancelled run counts up to its deadline)",
                              ["model", "version", "mode"], registry=r)
        self.durations = Histogram("pel_execution_seconds", "Wall time of model executions, whatever the outcome",
                                   ["model", "version", "mode"], buckets=BUCKETS, registry=r)
        self.executions = Counter("pel_executions_total", "Model executions, by outcome",
                                  ["model", "version", "mode", "status"], registry=r)
        self.failures = Counter("pel_execution_failures_total",
                                "Executions that failed (run error, timeout, internal error) or in which not every path completed "
                                "(reason constraint_violation, partial, failed)",
                                ["model", "version", "mode", "reason"], registry=r)
        self.violations = Counter("pel_constraint_violations_total",
                                  "Executions in which a constraint was violated (once per constraint per execution)",
                                  ["model", "version", "mode", "constraint", "constraint_severity"], registry=r)
        self.in_flight = Gauge("pel_executions_in_flight", "Executions running or waiting for a slot", registry=r)
        self.rejected = Counter("pel_requests_rejected_total", "Run requests refused before running",
                                ["reason"], registry=r)
        self.models = Gauge("pel_models_loaded", "Models served (loaded without error)", registry=r)
        self.compiling = Gauge("pel_models_compiling", "Models whose kernel compile is queued or under way",
                               registry=r)
        self.prediction_error = Gauge(
            "pel_prediction_error",
            "Accuracy of the model's predictions against the actuals posted to it, as of the last "
            "GET /models/{name}/accuracy: metric mape (a fraction), rmse and bias (predicted - actual, in the "
            "variable's unit)", ["model", "variable", "metric"], registry=r)
        self.interval_coverage = Gauge(
            "pel_prediction_interval_coverage",
            "Monte Carlo: share of the posted actuals within the run's p5-p95 interval, as of the last "
            "GET /models/{name}/accuracy in Monte Carlo mode", ["model", "variable"], registry=r)
        self.parameter_drift = Gauge(
            "pel_parameter_drift",
            "The latest estimate of a watched parameter (the last window of the last GET /models/{name}/drift) "
            "minus its declared value, in standard errors of the estimate (signed; |x| > 3 is drift for a "
            "fixed parameter)", ["model", "parameter"], registry=r)
        self.parameter_drifted = Gauge(
            "pel_parameter_drift_detected",
            "1 when the last drift check found the parameter drifted (outside the declared distribution's P5-P95, "
            "or more than 3 standard errors from a fixed value), else 0", ["model", "parameter"], registry=r)
        self.shadow_divergence = Gauge(
            "pel_shadow_divergence",
            "The largest relative difference |shadow - active| / |active| over the outputs and steps of the last "
            "request the shadow version ran beside the active one (same inputs, seed and settings; Monte Carlo: of "
            "the means)", ["model", "version"], registry=r)
        self.shadow_runs = Counter(
            "pel_shadow_runs_total",
            "Shadow runs beside the active version, by outcome: compared, failed (error, timeout, no output in "
            "common) or skipped (the server was busy)", ["model", "version", "outcome"], registry=r)
        self.rollout_weight = Gauge(
            "pel_rollout_weight",
            "Percent of a released model's requests each routed version gets: the active one 100 - the canary's "
            "weight, the canary its weight; for the shadow, the percent of the active version's requests it runs "
            "beside", ["model", "version", "role"], registry=r)
        for reason in REJECT_REASONS:
            self.rejected.labels(reason=reason)
        self._served: set[tuple[str, str, str]] = set()  # (URL name, version, model hash) whose series exist
        self._roles: dict[str, set[tuple[str, str]]] = {}  # model -> (version, role) series of pel_rollout_weight

    def serve(self, name: str, model: Model, version: str = "") -> None:
        """Create every counter series of a served model at 0: per mode each status, failure reason, constraint."""
        if (name, version, model.hash) in self._served:
            return
        self._served.add((name, version, model.hash))
        constraints = [(c.name, c.severity) for c in model.program.model.constraints]
        for mode, statuses in STATUSES.items():
            self.durations.labels(model=name, version=version, mode=mode)
            for status in statuses:
                self.executions.labels(model=name, version=version, mode=mode, status=status)
            for reason in FAILURE_REASONS[mode]:
                self.failures.labels(model=name, version=version, mode=mode, reason=reason)
            for constraint, severity in constraints:
                self.violations.labels(model=name, version=version, mode=mode, constraint=constraint,
                                       constraint_severity=severity)

    def executed(self, name: str, mode: str, status: str, seconds: float, reason: str | None = None,
                 version: str = "") -> None:
        """Count one execution: its status, its duration (gauge and histogram), and its failure reason if any."""
        self.duration.labels(model=name, version=version, mode=mode).set(seconds)
        self.durations.labels(model=name, version=version, mode=mode).observe(seconds)
        self.executions.labels(model=name, version=version, mode=mode, status=status).inc()
        if reason is not None:
            self.failures.labels(model=name, version=version, mode=mode, reason=reason).inc()

    def violated(self, name: str, mode: str, constraint: str, severity: str, version: str = "") -> None:
        """Count one execution in which `constraint` was violated."""
        self.violations.labels(model=name, version=version, mode=mode, constraint=constraint,
                               constraint_severity=severity).inc()

    def rollout(self, state: Rollout) -> None:
        """Show a released model's routing in pel_rollout_weight; a version that lost its role loses its series,
        and its last-duration gauge (so that an alert on a slow version stops once it no longer serves)."""
        now = {(state.active, "active"): 100.0 - (state.canary_weight if state.canary is not None else 0.0)}
        if state.canary is not None:
            now[(state.canary, "canary")] = state.canary_weight
        if state.shadow is not None:
            now[(state.shadow, "shadow")] = state.shadow_weight
            for outcome in SHADOW_OUTCOMES:
                self.shadow_runs.labels(model=state.model, version=state.shadow, outcome=outcome)
        before = self._roles.get(state.model, set())
        for version, role in before - now.keys():
            _set(self.rollout_weight, (state.model, version, role), None)
        routed = {version for version, _ in now}
        for version in {v for v, _ in before} - routed:
            for mode in STATUSES:
                _set(self.duration, (state.model, version, mode), None)
            if (version, "shadow") in before:
                _set(self.shadow_divergence, (state.model, version), None)
        for (version, role), weight in now.items():
            self.rollout_weight.labels(model=state.model, version=version, role=role).set(weight)
        self._roles[state.model] = set(now)

    def shadowed(self, name: str, version: str, outcome: str, divergence: float | None = None) -> None:
        """Count one shadow run of `version` and, when it was compared, set its divergence."""
        self.shadow_runs.labels(model=name, version=version, outcome=outcome).inc()
        if divergence is not None:
            self.shadow_divergence.labels(model=name, version=version).set(divergence)

    def accuracy(self, name: str, scores: dict[str, dict[str, float | None]], monte_carlo: bool) -> None:
        """Set the prediction error gauges of `name` from a backtest's per-variable scores (the JSON of
        `pel backtest`); a score that is undefined (no nonzero actual for MAPE) removes its series."""
        for variable, s in scores.items():
            for metric in ("mape", "rmse", "bias"):
                _set(self.prediction_error, (name, variable, metric), s.get(metric))
            if monte_carlo:
                _set(self.interval_coverage, (name, variable), s.get("coverage_p5_p95"))

    def drift(self, name: str, parameters: dict[str, tuple[float | None, str]]) -> None:
        """Set the drift gauges of `name` from a drift check: {parameter: (distance in standard errors, verdict)};
        an unknown distance or verdict removes its series (no stale figure stays behind)."""
        for parameter, (distance, verdict) in parameters.items():
            _set(self.parameter_drift, (name, parameter), distance)
            _set(self.parameter_drifted, (name, parameter),
                 None if verdict == "unknown" else float(verdict == "drift"))

    def render(self) -> bytes:
        return generate_latest(self.registry)


def _set(gauge: Gauge, labels: tuple[str, ...], value: float | None) -> None:
    if value is not None:
        gauge.labels(*labels).set(value)
        return
    try:
        gauge.remove(*labels)
    except KeyError:
        pass
