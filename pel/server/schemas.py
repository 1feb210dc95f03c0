"""Request and response bodies of the HTTP API (pydantic models; they make the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pel import limits

StrictInt = Annotated[int, Field(strict=True)]


class RunRequest(BaseModel):
    """Options of one run; every field is optional. A field left out takes the model's `simulate` directive, else
    PEL's default (the results' "settings_from" says which)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["deterministic", "monte_carlo"] | None = Field(
        None, description="default: the model's, else deterministic")
    seed: Annotated[int | None, Field(strict=True, ge=0, lt=limits.SEED_LIMIT,
                                      description="default: the model's, else 42")] = None
    steps: Annotated[int | None, Field(strict=True, ge=0, le=limits.MAX_STEPS,
                                       description="last time step T (runs t = 0..T); default: the model's")] = None
    runs: Annotated[int | None, Field(strict=True, ge=1,
                                      description="Monte Carlo paths; default: the model's, else 1000")] = None
    params: dict[str, float | bool | str] = Field(
        default_factory=dict,
        description='parameter overrides: a number in the declared unit, or a PEL literal such as "$120", '
                    '"0.1/1mo", "12%"')
    scenario: Annotated[str | None, Field(strict=True, min_length=1, max_length=128,
                                          description="run under the model's `scenario NAME { … }` block; params "
                                                      "still override its values")] = None


class Provenance(BaseModel):
    source: str
    method: str
    confidence: float | None
    freshness: str | None = None
    owner: str | None = None
    notes: str | None = None


class FittedInfo(BaseModel):
    """The latest estimate of a parameter held in the server's state: from `pel calibrate|drift --state` or the
    server's own drift check (`GET /models/{name}/drift`)."""

    value: float | None = Field(description="the estimate, in the declared unit")
    std_error: float | None
    ci95: list[float | None] | None = Field(description="95% interval [low, high]")
    unit: str
    declared: float | None = Field(description="the declared value the estimate was judged against")
    distance_se: float | None = Field(description="(value - declared) / std_error")
    kind: Literal["calibrate", "drift"]
    verdict: str | None = Field(description='drift checks: "drift", "ok" or "unknown"')
    window: list[int] | None = Field(description="the steps fitted [first, last]; null: every observation")
    n: int = Field(description="observations fitted")
    data: str = Field(description="the data file's name, or /models/{name}/actuals")
    data_sha256: str | None
    at: str = Field(description="when, ISO 8601 UTC")


class ParamInfo(BaseModel):
    name: str
    type: str
    unit: str
    default: str = Field(description="the right-hand side as written in the model")
    central: float | None = Field(None, description="deterministic value, in the declared unit (`unit`)")
    distribution: str | None = Field(None, description="distribution family when the parameter is uncertain")
    provenance: Provenance
    fitted: FittedInfo | None = Field(None, description="the latest estimate held in the state, if any")


class ModelSummary(BaseModel):
    name: str = Field(description="the name in URLs: the file name without its suffix (a released model: its "
                                  "folder in the release folder)")
    model_name: str = Field(description="the name declared in the model")
    hash: str
    file: str
    format: Literal["pel", "ir.json", "ir.msgpack"]
    parameters: list[ParamInfo]
    version: str | None = Field(None, description="a released model: the version shown (the active one, or the one "
                                                  "named as name@version); null for a model of the models folder")


class ConstraintInfo(BaseModel):
    name: str
    severity: str


class RunDefaults(BaseModel):
    """What a run request that leaves a field out uses: the model's `simulate` directive, else PEL's default."""

    mode: Literal["deterministic", "monte_carlo"]
    seed: int
    runs: int = Field(description="Monte Carlo paths")
    steps: int = Field(description="last time step T (runs t = 0..T)")


class ModelDetail(ModelSummary):
    time_unit: str
    time_horizon: int
    default_runs: int | None = Field(description="the runs of the model's `simulate` directive, if it has some")
    run_defaults: RunDefaults | None = Field(description="what a run request that leaves fields out uses")
    outputs: list[str]
    constraints: list[ConstraintInfo]
    warnings: list[str]
    shadowed: list[str] = Field(description="other files with the same name in the folder (not served)")
    scenarios: list[str] = Field(default_factory=list, description="the model's scenarios (a run's `scenario`)")


class LoadError(BaseModel):
    name: str
    file: str
    code: str | None
    error: str


class ModelList(BaseModel):
    models: list[ModelSummary]
    errors: list[LoadError]


class Health(BaseModel):
    status: Literal["healthy", "starting"] = Field(
        description='"starting" (HTTP 503) while `pel serve --warm` compiles the models found at start-up')
    version: str = Field(description="PEL version")
    models: int


class ActualRow(BaseModel):
    """One observed value of an output variable at step t, in the unit the results show (per step for flows)."""

    model_config = ConfigDict(extra="forbid")

    t: StrictInt = Field(description="time step, 0..the model's horizon")
    variable: str = Field(description="an output variable of the model")
    value: float = Field(description="the observed value, a finite number")


class ActualsRequest(BaseModel):
    """Actuals to store (a CSV body in the format `pel backtest --actuals` reads is accepted too)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[ActualRow]


class ActualsStored(BaseModel):
    model: str = Field(description="the model's URL name")
    stored: int = Field(description="rows of this request stored (each replaces any value held for its t and "
                                    "variable)")
    total: int = Field(description="rows now held for the model")


class RolloutRequest(BaseModel):
    """Route a share of a released model's requests to another of its versions."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(description="the release X.Y.Z; null ends the canary (or the shadow)")
    mode: Literal["canary", "shadow"] = Field(
        "canary", description="canary: answers `weight` percent of requests; shadow: runs beside the active version "
                              "on `weight` percent of its requests, never answering")
    weight: float | None = Field(None, ge=0, le=100, allow_inf_nan=False,
                                 description="percent of requests, 0-100; needed for a canary, 100 for a shadow "
                                             "when left out")


class PromoteRequest(BaseModel):
    """Make a version the active one (by default the canary, else the shadow)."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(None, description="the release X.Y.Z; default: the canary, else the shadow")


class Routed(BaseModel):
    version: str
    weight: float = Field(description="percent of requests")


class VersionInfo(BaseModel):
    version: str
    hash: str | None = Field(description="the model hash; null when the file does not load")
    file: str
    role: Literal["active", "canary", "shadow"] | None
    error: str | None = Field(None, description="the diagnostic code when the file does not load")


class Versions(BaseModel):
    """A released model's versions and its rollout state."""

    model: str
    active: str = Field(description="the version that answers requests (less the canary's share)")
    canary: Routed | None
    shadow: Routed | None
    previous: list[str] = Field(description="earlier active versions, oldest first: a rollback returns to the last")
    updated_at: str = Field(description="when the rollout state last changed, ISO 8601 UTC")
    versions: list[VersionInfo] = Field(description="every release, oldest first")


class ErrorBody(BaseModel):
    detail: str
    code: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None


RunResult = dict[str, Any]  # the results contract of DESIGN.md §3
