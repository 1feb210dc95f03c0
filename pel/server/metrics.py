"""Prometheus metrics of the server, named as the tutorial's alert rules expect (`pel_execution_*`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    """One registry per app (tests build several apps in one process)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.duration = Histogram("pel_execution_duration_seconds", "Wall time of a model execution",
                                  ["model", "mode"], buckets=BUCKETS, registry=r)
        self.executions = Counter("pel_executions_total", "Model executions, by outcome",
                                  ["model", "mode", "status"], registry=r)
        self.failures = Counter("pel_execution_failures_total",
                                "Executions that failed (run error, timeout, internal error) or in which not every path completed "
                                "(reason constraint_violation, partial, failed)",
                                ["model", "mode", "reason"], registry=r)
        self.violations = Counter("pel_constraint_violations_total",
                                  "Executions in which a constraint was violated (once per constraint per execution)",
                                  ["model", "mode", "constraint", "severity"], registry=r)
        self.in_flight = Gauge("pel_executions_in_flight", "Executions running or waiting for a slot", registry=r)
        self.rejected = Counter("pel_requests_rejected_total", "Run requests refused before running",
                                ["reason"], registry=r)
        self.models = Gauge("pel_models_loaded", "Models served (loaded without error)", registry=r)
        self.compiling = Gauge("pel_models_compiling", "Models whose kernel compile is queued or under way",
                               registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
