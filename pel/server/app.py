"""The FastAPI application of `pel serve`: health, model listing, runs with overrides, metrics, OpenAPI.

Released models (`--releases`) are routed by `pel.server.releases`, their rollouts changed by the endpoints of
`pel.server.rollout`, and their shadow runs made by `pel.server.shadow`."""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import Body, FastAPI, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPBearer
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from pel import __version__, limits, overrides
from pel.backend.results import Result
from pel.diagnostics import PelError, RunError, Span
from pel.ir import nodes as ir
from pel.model import Model, RunSettings
from pel.monitor.actuals import MAX_ERRORS, Actuals, ActualsError, Observation, parse_actuals
from pel.monitor.backtest import compare
from pel.monitor.calibrate import CalibrationError, fittable
from pel.monitor.drift import DriftReport, drift
from pel.monitor.state import Fitted, StateStore, from_drift, now_utc
from pel.server import logs, rollout
from pel.server.config import ServerConfig
from pel.server.errors import ApiError
from pel.server.metrics import Metrics
from pel.server.registry import Entry, Registry
from pel.server.releases import Releases, Target, split_name
from pel.server.runner import Busy, DeadlineExceeded, Runner, wait_done
from pel.server.schemas import (
    ActualsRequest,
    ActualsStored,
    ConstraintInfo,
    ErrorBody,
    FittedInfo,
    Health,
    LoadError,
    ModelDetail,
    ModelList,
    ModelSummary,
    ParamInfo,
    Provenance,
    RunDefaults,
    RunRequest,
)
from pel.server.shadow import Shadows

log = logging.getLogger("pel.server")

OPEN_PATHS = ("/health",)
VERSION_HEADER = "X-PEL-Model-Version"


# An absolute path's folders (`/srv/models/` in `/srv/models/x.pel:3:1`), not preceded by a word character
# (so `0.1/1mo`, `USD/Month` and `$120/1mo` stay as they are).
_ABS_DIRS = re.compile(r"(?<![\w.~:/\\-])/(?:[^\s/'\"`:;,()\[\]{}<>]+/)+(?=[^\s/])")


def public_text(text: str) -> str:
    """`text` without the server's folders: an absolute path keeps only its file name (`revenue.pel:3:1`)."""
    return _ABS_DIRS.sub("", text)


def _version_header(entry: Entry) -> dict[str, str]:
    """The X-PEL-Model-Version header of an answer about one released version (none for a models-folder model)."""
    return {VERSION_HEADER: entry.version} if entry.version else {}


def _error_response(status: int, code: str, detail: str, field: str | None = None,
                    headers: dict[str, str] | None = None, errors: list | None = None) -> JSONResponse:
    if errors is not None:
        errors = [{**e, "message": public_text(str(e.get("message", "")))} for e in errors]
    body = ErrorBody(detail=public_text(detail), code=code, field=field, errors=errors)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


MAX_ACTUALS_BYTES = 16 << 20  # one POST of actuals: about 400,000 CSV rows; more go in several posts


async def _capped_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes (never held whole beyond it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "E0011", f"the body is {int(declared):,} bytes, more than {limit:,}; post the actuals "
                                     "in parts", "body")
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "E0011", f"the body is more than {limit:,} bytes; post the actuals in parts", "body")
        parts.append(chunk)
    return b"".join(parts)


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "missing or wrong bearer token", 404: "no such model",
            409: "the model file does not load, or its kernel does not compile; for accuracy: no actuals "
                 "posted yet (E0908)",
            413: f"the body is larger than {MAX_ACTUALS_BYTES >> 20} MiB (post actuals in parts)",
            422: "invalid request (the message names the field)", 500: "internal error",
            503: "busy, the model is still compiling, or the run passed the request deadline (see Retry-After)"}
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


class BearerAuth:
    """ASGI middleware: every path except /health needs `Authorization: Bearer <token>`; the rollout endpoints
    check the admin token instead (pel.server.rollout)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or rollout.admin_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"")
        if hmac.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        response = _error_response(401, "unauthorized", "a valid bearer token is required (Authorization: Bearer …)",
                                   headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


def _json_float(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _retry_after(config: ServerConfig) -> dict[str, str]:
    """The header a 503 carries: when to try again (at least a second)."""
    return {"Retry-After": str(max(1, config.retry_after_s))}


def _busy(runner: Runner, metrics: Metrics, what: str, retry: dict[str, str]) -> ApiError:
    """A request refused because every worker is taken and the queue is full: counted, and a 503 to retry."""
    metrics.rejected.labels(reason="busy").inc()
    return ApiError(503, "busy", f"the server is running {runner.max_concurrent} {what} and its queue is full; "
                                 "retry later", headers=retry)


def _fitted_info(f: Fitted) -> FittedInfo:
    d = f.to_dict()
    if not (d["data"].startswith("/models/") and d["data"].endswith("/actuals")):  # not the server's own actuals
        d["data"] = public_text(d["data"])  # a file a `pel calibrate --state` was given: its name only
    return FittedInfo(**{k: v for k, v in d.items() if k in FittedInfo.model_fields})


def _param_info(p: ir.Param, m: ir.Model, fitted: Fitted | None = None) -> ParamInfo:
    prov = p.provenance
    central = overrides.param_value(p, p.central, m)
    return ParamInfo(
        fitted=None if fitted is None else _fitted_info(fitted),
        name=p.name, type=p.type.display, unit=p.type.unit, default=p.value_text,
        central=_json_float(central if isinstance(central, float) else None),
        distribution=p.distribution.distribution_type if p.distribution is not None else None,
        provenance=Provenance(source=prov.source, method=prov.method, confidence=_json_float(prov.confidence),
                              freshness=prov.freshness, owner=prov.owner, notes=prov.notes),
    )


def _summary(entry: Entry, model: Model, fitted: dict[str, Fitted]) -> dict[str, Any]:
    return {"name": entry.name, "model_name": model.name, "hash": model.hash, "file": entry.path.name,
            "format": entry.format, "version": entry.version or None,
            "parameters": [_param_info(p, model.program.model, fitted.get(p.name)) for p in model.parameters]}


def _detail(entry: Entry, model: Model, fitted: dict[str, Fitted]) -> ModelDetail:
    m = model.program.model
    outputs = m.output_names()
    try:
        used = model.settings()
        defaults = RunDefaults(mode=used.mode, seed=used.seed, runs=used.runs, steps=used.steps)
    except RunError:  # a `simulate` setting no run accepts (a run request says why)
        defaults = None
    return ModelDetail(
        **_summary(entry, model, fitted), time_unit=m.time_unit, time_horizon=m.time_horizon, default_runs=m.simulate.runs,
        run_defaults=defaults,
        outputs=outputs, constraints=[ConstraintInfo(name=c.name, severity=c.severity) for c in m.constraints],
        warnings=[public_text(d.header()) for d in model.warnings], shadowed=entry.shadowed,
        scenarios=[sc.name for sc in m.scenarios],
    )


def _field_of(loc: tuple | list) -> str:
    parts = [str(x) for x in loc]
    if parts and parts[0] in ("body", "path", "query"):
        parts = parts[1:]
    if len(parts) >= 3 and parts[0] == "params":
        parts = parts[:2]  # drop the union member pydantic names (params.x.float)
    return ".".join(parts) or "body"


def create_app(config: ServerConfig, registry: Registry | None = None) -> FastAPI:
    """Build the app for `config` (the registry is scanned at start-up and every `reload_interval_s`)."""
    registry = registry or Registry(config.models_dir, warm_up=config.warm_up or config.warm)
    runner = Runner(config.max_concurrent, config.max_queue)
    metrics = Metrics()
    store = StateStore(config.state_dir)
    releases = Releases(config.releases_dir, registry, store)
    shadows = Shadows(runner, metrics, config.timeout_s, config.max_concurrent // 2)
    metrics.compiling.set_function(lambda: registry.compiling() + releases.compiling())
    retry = _retry_after(config)
    scanned = False  # the start-up scan is done (every model found then is loaded, its compile queued)
    ready = not config.warm  # latched: compiles after a reload never take a ready server out of rotation

    hidden: set[str] = set()  # models-folder names a released model of the same name hides (logged once)

    def refresh() -> None:
        registry.refresh()
        releases.refresh()
        served = [e for e in registry.entries() if e.model is not None and e.name not in releases]
        for e in served:
            metrics.serve(e.name, e.model)
        for name in releases.names():
            for e in releases.answering(name):
                metrics.serve(name, e.model, e.version)  # type: ignore[arg-type]
            state = releases.state(name)
            if state is not None:
                metrics.rollout(state)
        metrics.models.set(len(served) + len(releases.names()))
        now_hidden = {e.name: e.path.name for e in registry.entries() if e.name in releases}
        for name in now_hidden.keys() - hidden:
            log.warning("pel serve: %s of the models folder is not served: the released model %s takes its name",
                        now_hidden[name], name)
        hidden.clear()
        hidden.update(now_hidden)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal scanned
        await asyncio.to_thread(refresh)
        scanned = True
        watcher = asyncio.create_task(_watch()) if config.reload_interval_s > 0 else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            await shadows.close()
            runner.shutdown()
            registry.close()
            store.close()

    async def _watch() -> None:
        while True:
            await asyncio.sleep(config.reload_interval_s)
            try:
                await asyncio.to_thread(refresh)
            except Exception:  # keep watching: a bug in one scan must not stop later reloads
                log.exception("pel serve: rescanning %s failed", config.models_dir)

    app = FastAPI(
        title="PEL model server", version=__version__, lifespan=lifespan,
        description="Runs the PEL models of a folder: parameter overrides with unit checking, "
                    "results as `pel run` writes them, Prometheus metrics at /metrics.",
    )
    app.state.registry, app.state.runner, app.state.metrics, app.state.config = registry, runner, metrics, config
    app.state.store, app.state.releases, app.state.shadows = store, releases, shadows
    secured = [] if not config.token else [Security(HTTPBearer(auto_error=False))]
    if config.token:
        app.add_middleware(BearerAuth, token=config.token)

    def _with_version(request: Request, headers: dict[str, str] | None) -> dict[str, str] | None:
        version = getattr(request.state, "model_version", "")
        return {**(headers or {}), VERSION_HEADER: version} if version else headers

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc.status, exc.code, exc.detail, exc.field, _with_version(request, exc.headers),
                               exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field_of(first.get("loc", ()))
        detail = "; ".join(f"{_field_of(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:5])
        plain = [{"field": _field_of(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors[:20]]
        return _error_response(422, "E0011", detail, field, errors=plain)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error_response(exc.status_code, "http_error", str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("pel serve: internal error on %s %s: %s: %s", request.method, request.url.path,
                  type(exc).__name__, exc, exc_info=exc)
        return _error_response(500, "E9999", f"internal error: {type(exc).__name__}",
                               headers=_with_version(request, None))

    def route(name: str, request: Request | None = None, routed: bool = False) -> Target:
        """The model a request names: `name` (a released model: its active version, or with `routed` the canary
        for the canary's share of requests), or `name@version` (a release). Its version goes on the answer's
        X-PEL-Model-Version header, errors included."""
        bare, version = split_name(name)
        if bare in releases:
            client = request.headers.get("x-pel-client") if request is not None else None
            target = releases.target(bare, version, client or None, routed)
        else:
            entry = registry.get(bare)
            if entry is None:
                raise ApiError(404, "not_found", f"no model named {bare!r} in this server's models folder", "name")
            if version is not None:
                raise ApiError(404, "E1111", f"model {bare!r} is not released, so it has no version {version!r} "
                                             "(serve a release folder with --releases)", "name")
            target = Target(entry, "unreleased")
        entry = target.entry
        if request is not None:
            request.state.model_version = entry.version
        if entry.model is None:
            what = f"{entry.name}@{entry.version}" if entry.version else entry.name
            raise ApiError(409, entry.error_code or "E9999",
                           f"model {what!r} ({entry.path.name}) does not load: {entry.error}", "name")
        return target

    def lookup(name: str, request: Request | None = None) -> tuple[Entry, Model]:
        entry = route(name, request).entry
        assert entry.model is not None
        return entry, entry.model

    async def wait_compiled(entry: Entry, deadline: float) -> None:
        """Wait, up to the request's deadline, for the model's kernel: 503 `compiling` past it, 409 if it failed."""
        fut = entry.compiled
        if fut is None:  # not compiled in the background (warm_up off): the run compiles it
            return
        if not await wait_done(fut, deadline - time.monotonic()):
            metrics.rejected.labels(reason="compiling").inc()
            raise ApiError(503, "compiling", f"model {entry.name!r} is still compiling (a new or changed model); "
                                             "retry later", "name", headers=retry)
        failure = None if fut.cancelled() else fut.result()
        if failure is not None:
            raise ApiError(409, failure.code, f"model {entry.name!r} ({entry.path.name}) does not compile: "
                                              f"{failure.message}", "name")

    @app.get("/health", response_model=Health, tags=["service"],
             responses={503: {"model": Health, "description": "`pel serve --warm` is still compiling the models"}})
    async def health(response: Response) -> Health:
        """Liveness and readiness (no token needed): 503 "starting" until `--warm` compiled every model."""
        nonlocal ready
        if not ready and scanned and registry.compiling() + releases.compiling() == 0:
            ready = True
            log.info("pel serve: every model is compiled; ready")
        if not ready:
            response.status_code = 503
            response.headers.update(retry)
        return Health(status="healthy" if ready else "starting", version=__version__,
                      models=sum(1 for e in registry.entries() if e.model is not None and e.name not in releases)
                      + len(releases.names()))

    @app.get("/metrics", response_class=PlainTextResponse, tags=["service"], dependencies=secured,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **_responses(401)})
    async def prometheus() -> Response:
        """Prometheus metrics (text exposition format)."""
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/models", response_model=ModelList, tags=["models"], dependencies=secured, responses=_responses(401))
    async def list_models() -> ModelList:
        """Every model of the folder: name, model hash, parameters (type, unit, default, provenance)."""
        models, errors = [], []
        released = [e for name in releases.names() for e in releases.versions(name).values()]
        for entry in sorted([e for e in registry.entries() if e.name not in releases], key=lambda e: e.name) + released:
            if entry.model is None:
                errors.append(LoadError(name=f"{entry.name}@{entry.version}" if entry.version else entry.name,
                                        file=entry.path.name, code=entry.error_code,
                                        error=public_text(entry.error or "")))
            elif not entry.version or entry is releases.active(entry.name):
                fitted = await asyncio.to_thread(store.latest, entry.name)
                models.append(ModelSummary(**_summary(entry, entry.model, fitted)))
        return ModelList(models=sorted(models, key=lambda m: m.name), errors=errors)

    @app.get("/models/{name}", response_model=ModelDetail, tags=["models"], dependencies=secured,
             responses=_responses(401, 404, 409))
    async def get_model(name: str, request: Request, response: Response) -> ModelDetail:
        """One model: its summary plus time unit, horizon, outputs, constraints and compile warnings (a released
        model: its active version, or the one named as name@version)."""
        entry, model = lookup(name, request)
        response.headers.update(_version_header(entry))
        return _detail(entry, model, await asyncio.to_thread(store.latest, entry.name))

    @app.post("/models/{name}/run", tags=["models"], dependencies=secured,
              responses={200: {"description": "the results JSON of `pel run` (DESIGN.md §3)",
                               "content": {"application/json": {"schema": {"type": "object"}}}},
                         **_responses(401, 404, 409, 422, 500, 503)})
    async def run_model(name: str, request: Request, body: Annotated[RunRequest | None, Body()] = None) -> Response:
        """Run a model: {mode, seed, steps, runs, params}; answers the results JSON of `pel run`. A released model
        runs its active version, a canary's share of requests the canary (by the `X-PEL-Client` header when given:
        a client always sees one version), `name@X.Y.Z` that release; the version is in `X-PEL-Model-Version`."""
        arrived = time.monotonic()  # executions are timed from here, as the deadline is
        deadline = arrived + config.timeout_s
        target = route(name, request, routed=True)
        entry, model = target.entry, target.entry.model
        assert model is not None
        req = body or RunRequest()
        used = _check_request(model, req, config)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        await wait_compiled(entry, deadline)
        result = await _counted_run(entry, model, req, used, request_id, config, runner, metrics, arrived, deadline)
        if target.shadow is not None and target.shadow.model is not None:
            shadows.start(target.shadow, entry, result, dict(req.params), used, request_id, req.scenario)
        return Response(result.to_json(), media_type="application/json",
                        headers={"X-Request-Id": request_id, **_version_header(entry)})

    @app.post("/models/{name}/actuals", response_model=ActualsStored, tags=["monitoring"], dependencies=secured,
              responses=_responses(401, 404, 409, 413, 422),
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": ActualsRequest.model_json_schema()},
                  "text/csv": {"schema": {"type": "string",
                                          "description": "t,variable,value or t,<var>,…, as `pel backtest` reads"}},
              }}})
    async def post_actuals(
        name: str, request: Request,
        start: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}(-\d{2})?$",
                                           description="CSV bodies: the month (YYYY-MM) or day of t = 0, to read a "
                                                       "`date` column, as `pel backtest --start`")] = None,
    ) -> ActualsStored:
        """Store observed values of the model's outputs: JSON {rows: [{t, variable, value}]} or a CSV body
        (Content-Type text/csv). A value for a (t, variable) already held replaces it."""
        entry, model = lookup(name, request)
        name = entry.name  # actuals are kept per model, whatever its version
        first = None
        if start is not None:
            try:
                first = dt.date.fromisoformat(start + "-01" if len(start) == 7 else start)
            except ValueError:
                raise ApiError(422, "E0904", f"start: {start!r} is not a date", "start") from None
        data = await _capped_body(request, MAX_ACTUALS_BYTES)
        kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        m = model.program.model
        rows = _csv_rows(data, m, first) if kind in ("text/csv", "application/csv") else _json_rows(data, m)
        stored, total = await asyncio.to_thread(store.put_actuals, name, rows)
        return ActualsStored(model=name, stored=stored, total=total)

    @app.get("/models/{name}/actuals", tags=["monitoring"], dependencies=secured,
             response_class=PlainTextResponse, responses={
                 200: {"description": "the stored actuals as a long CSV (t,variable,value), the format "
                                      "`pel calibrate --data` and `pel backtest --actuals` read",
                       "content": {"text/csv": {"schema": {"type": "string"}}}},
                 **_responses(401, 404, 409)})
    async def get_actuals(name: str) -> Response:
        """The actuals stored for a model, as CSV: feed them to `pel calibrate --data` to recalibrate."""
        name = lookup(name)[0].name
        held = await asyncio.to_thread(store.actuals, name)
        lines = ["t,variable,value"] + [f"{t},{variable},{value!r}" for t, variable, value in held]
        return Response("\n".join(lines) + "\n", media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}_actuals.csv"'})

    @app.get("/models/{name}/accuracy", tags=["monitoring"], dependencies=secured,
             responses={200: {"description": "the JSON of `pel backtest --format json` against the stored actuals",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                        **_responses(401, 404, 409, 422, 500, 503)})
    async def accuracy(
        name: str, request: Request,
        mode: Annotated[Literal["deterministic", "monte_carlo"], Query()] = "deterministic",
        runs: Annotated[int | None, Query(ge=1, description="Monte Carlo paths; default: the model's")] = None,
        seed: Annotated[int | None, Query(ge=0, lt=limits.SEED_LIMIT)] = None,
    ) -> Response:
        """Run the model (deterministic unless mode=monte_carlo) and score it against the stored actuals: the
        JSON of `pel backtest --format json`; sets pel_prediction_error and pel_prediction_interval_coverage."""
        arrived = time.monotonic()
        deadline = arrived + config.timeout_s
        entry, model = lookup(name, request)
        name = entry.name
        req = RunRequest(mode=mode, runs=runs, seed=seed)
        used = _check_request(model, req, config)
        held = await asyncio.to_thread(store.actuals, name)
        if not held:
            raise ApiError(409, "E0908", f"no actuals are stored for model {name!r}: POST them to "
                                         f"/models/{name}/actuals first", "name")
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        await wait_compiled(entry, deadline)
        result = await _counted_run(entry, model, req, used, request_id, config, runner, metrics, arrived, deadline)
        actuals, dropped = _stored_actuals(name, held, model.program.model)
        report = compare(result, actuals, model.program.model)
        if dropped:
            report.notes.append(f"{len(dropped)} stored variable(s) left out, the model no longer outputs them: "
                                + ", ".join(dropped))
        body = report.to_dict()
        metrics.accuracy(name, body["variables"], report.monte_carlo)
        return Response(json.dumps(body, ensure_ascii=False, allow_nan=False), media_type="application/json",
                        headers={"X-Request-Id": request_id, **_version_header(entry)})

    @app.get("/models/{name}/drift", tags=["monitoring"], dependencies=secured,
             responses={200: {"description": "the JSON of `pel drift --format json` against the stored actuals",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                        **_responses(401, 404, 409, 422, 503)})
    async def drift_check(
        name: str, request: Request,
        fit: Annotated[str | None, Query(description="parameters to fit, comma-separated; default: those of "
                                                     "`pel serve --drift`, else the parameters whose provenance "
                                                     "method is \"fitted\"")] = None,
        window: Annotated[int | None, Query(ge=1, le=limits.MAX_STEPS,
                                            description="steps per window; default `--drift-window`")] = None,
        stride: Annotated[int | None, Query(ge=1, le=limits.MAX_STEPS,
                                            description="steps between windows; default: the window")] = None,
    ) -> Response:
        """Calibrate the watched parameters on rolling windows of the stored actuals (deterministic runs) and
        judge the latest window: the JSON of `pel drift --format json`. Sets pel_parameter_drift and
        pel_parameter_drift_detected, and records the latest estimates in the state (shown in /models/{name})."""
        arrived = time.monotonic()
        deadline = arrived + config.timeout_s
        entry, model = lookup(name, request)
        name = entry.name
        names = [n.strip() for n in fit.split(",") if n.strip()] if fit is not None else watched(name, model)
        if not names:
            raise ApiError(409, "E0909", f"no parameters of model {name!r} are watched: name them with `pel serve "
                                         f"--drift {name}:PARAM` or ?fit=PARAM, or calibrate one with `pel "
                                         f"calibrate --write` (provenance method \"fitted\")", "fit")
        held = await asyncio.to_thread(store.actuals, name)
        if not held:
            raise ApiError(409, "E0908", f"no actuals are stored for model {name!r}: POST them to "
                                         f"/models/{name}/actuals first", "name")
        w = window or config.drift_window
        actuals, dropped = _stored_actuals(name, held, model.program.model)
        await wait_compiled(entry, deadline)

        def job(progress: Any) -> DriftReport:
            return drift(model, actuals, names, window=w, stride=stride or w, mode="deterministic", threads=1,
                         progress=progress)

        try:
            report = await runner.run(job, deadline - time.monotonic())
        except Busy:
            raise _busy(runner, metrics, "jobs", retry) from None
        except DeadlineExceeded:
            raise ApiError(503, "timeout", f"the drift check passed the request deadline of {config.timeout_s:g} s "
                                           "and was stopped; use a longer window stride or fewer parameters",
                           headers=retry) from None
        except CalibrationError as exc:
            d = exc.diagnostics[0]
            status, where = (422, "fit") if d.code == "E0909" else (409, "window")
            raise ApiError(status, d.code, d.message + (f" ({d.hint})" if d.hint else ""), where) from None
        if dropped:
            report.notes.append(f"{len(dropped)} stored variable(s) left out, the model no longer outputs them: "
                                + ", ".join(dropped))
        metrics.drift(name, {p.name: (p.distance, p.verdict) for p in report.parameters})
        await asyncio.to_thread(store.record, name, from_drift(report, now_utc()))
        return Response(json.dumps(report.to_dict(), ensure_ascii=False, allow_nan=False),
                        media_type="application/json", headers={"X-Request-Id": request.headers.get(
                            "x-request-id") or uuid.uuid4().hex[:16], **_version_header(entry)})

    def watched(name: str, model: Model) -> list[str]:
        """The parameters the drift check fits by default: those `--drift` names for this model (PARAM: in every
        model that has it; MODEL:PARAM: in that model, refused with E0909 if it has no such parameter), else
        those whose provenance method is "fitted" and that a fit can take."""
        params = {p.name for p in model.parameters}
        if config.drift:
            named = [item.split(":", 1)[1] if ":" in item else item for item in config.drift
                     if (":" not in item and item in params) or item.split(":", 1)[0] == name]
            return list(dict.fromkeys(named))
        out = []
        for p in model.parameters:
            if p.provenance.method == "fitted":
                try:
                    fittable(model.program, [p.name])
                except CalibrationError:
                    continue
                out.append(p.name)
        return out

    app.include_router(rollout.routes(releases, metrics, config.admin_token, secured))
    return app


def _csv_rows(data: bytes, m: ir.Model, start: dt.date | None = None) -> list[tuple[int, str, float]]:
    """The rows of a CSV body, read as `pel backtest --actuals` reads a file; its errors as one 422."""
    try:
        actuals = parse_actuals(data, "actuals.csv", m, start=start)
    except ActualsError as exc:
        diags = exc.diagnostics
        errors = [{"code": d.code, "message": d.header(), **({"line": d.span.line, "column": d.span.col}
                                                             if d.span is not None and d.span.line > 0 else {})}
                  for d in diags]
        detail = "; ".join(d.header() + (f" ({d.hint})" if d.hint else "") for d in diags[:5])
        raise ApiError(422, diags[0].code, detail, "body", errors=errors) from None
    return [(o.t, o.variable, o.value) for o in actuals.observations]


def _json_rows(data: bytes, m: ir.Model) -> list[tuple[int, str, float]]:
    """The rows of a JSON body {rows: [{t, variable, value}]}, each checked against the model: an output
    variable (E0903), t within 0..horizon (E0904), a finite value (E0905), once per body (E0907)."""
    try:
        req = ActualsRequest.model_validate_json(data or b"{}")
    except ValidationError as exc:
        errs = exc.errors()
        detail = "; ".join(f"{_field_of(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errs[:5])
        plain = [{"field": _field_of(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errs[:20]]
        raise ApiError(422, "E0011", detail, _field_of(errs[0].get("loc", ())) if errs else "body",
                       errors=plain) from None
    if not req.rows:
        raise ApiError(422, "E0908", "no observations: rows is empty", "rows")
    outputs = m.output_names()
    types = {v.name: v.type for v in m.vars}
    errors: list[dict[str, Any]] = []
    seen: dict[tuple[int, str], int] = {}

    def fail(code: str, field: str, message: str) -> None:
        errors.append({"code": code, "field": field, "message": f"{field}: {message}"})

    for i, row in enumerate(req.rows):
        if row.variable not in outputs:
            fail("E0903", f"rows.{i}.variable", f"{m.name} has no output {row.variable!r} (outputs: "
                                                 f"{', '.join(outputs) or 'none'})")
        elif row.variable in types and types[row.variable].kind in ir.TEXT_KINDS:
            fail("E0903", f"rows.{i}.variable", f"{row.variable!r} holds {types[row.variable].display}, not numbers")
        if not 0 <= row.t <= m.time_horizon:
            fail("E0904", f"rows.{i}.t", f"t={row.t} is outside the model's steps t = 0..{m.time_horizon}")
        if not math.isfinite(row.value):
            fail("E0905", f"rows.{i}.value", f"{row.value} is not a finite number")
        first = seen.setdefault((row.t, row.variable), i)
        if first != i:
            fail("E0907", f"rows.{i}", f"a second value for {row.variable} at t={row.t} (the first is rows.{first})")
    if errors:
        detail = "; ".join(e["message"] for e in errors[:5])
        raise ApiError(422, errors[0]["code"], detail, errors[0]["field"], errors=errors[:MAX_ERRORS])
    return [(row.t, row.variable, row.value) for row in req.rows]


def _stored_actuals(name: str, held: list[tuple[int, str, float]], m: ir.Model) -> tuple[Actuals, list[str]]:
    """The stored rows of the model's current numeric outputs as actuals (for accuracy and drift), and the
    variables left out (the model, reloaded, no longer outputs them)."""
    keep = set(m.observable_outputs())
    where = f"/models/{name}/actuals"
    obs = tuple(Observation(v, t, x, Span(where, 0, 0, 0, 0)) for t, v, x in held if v in keep)
    return Actuals(where, "long", obs), sorted({v for _, v, _ in held if v not in keep})


def _check_request(model: Model, req: RunRequest, config: ServerConfig) -> RunSettings:
    """Overrides (names, units) and size caps, each refused with a 422 naming its field; the settings the run
    will use (the request's, else the model's `simulate` directive, else PEL's defaults)."""
    program = model.program
    try:
        used = model.settings(req.mode, seed=req.seed, runs=req.runs, steps=req.steps)
    except RunError as exc:
        d = exc.diagnostics[0]
        first = d.message.split(" ", 1)[0]  # check_run_options names the option first: "runs must be ..."
        field = first if first in ("mode", "seed", "runs", "steps") else None
        raise ApiError(422, d.code, d.message + (f" ({d.hint})" if d.hint else ""), field) from None
    if req.scenario is not None and req.scenario not in {sc.name for sc in program.model.scenarios}:
        known = ", ".join(sc.name for sc in program.model.scenarios) or "none"
        raise ApiError(422, "E0600", f"scenario: {model.name} has no scenario {req.scenario!r} (scenarios: {known})",
                       "scenario")
    for pname, value in req.params.items():
        try:
            overrides.resolve(program, {pname: value})
        except RunError as exc:
            d = exc.diagnostics[0]
            message = d.message.replace(f"--set {pname}:", f"params.{pname}:", 1)
            if d.hint:
                message += f" ({d.hint})"
            raise ApiError(422, d.code, message, f"params.{pname}") from None
    steps, runs = used.steps, used.runs
    if used.mode == "monte_carlo":
        if runs > config.max_runs:
            raise ApiError(422, "E0011", f"runs: {runs} is more than this server allows ({config.max_runs})", "runs")
        work = runs * (steps + 1)
        if work > config.max_path_steps:
            raise ApiError(422, "E0011", f"runs × (steps + 1) = {work:,} path-steps is more than this server allows "
                                         f"per request ({config.max_path_steps:,}); lower runs or steps",
                           "runs" if req.runs is not None or req.steps is None else "steps")
    elif steps + 1 > config.max_path_steps:
        raise ApiError(422, "E0011", f"steps: {steps} is more than this server allows", "steps")
    return used


async def _counted_run(entry: Entry, model: Model, req: RunRequest, used: RunSettings, request_id: str,
                       config: ServerConfig, runner: Runner, metrics: Metrics, start: float,
                       deadline: float) -> Result:
    """Run the request; count and log the execution whatever its outcome, timed from `start` (the request's
    arrival, on the clock of its deadline: a run cancelled at the deadline counts as long as the deadline), under
    the entry's version (a release's X.Y.Z, "" for a models-folder model)."""
    version = entry.version
    if version:
        metrics.serve(entry.name, model, version)  # a pinned version's series start at 0 too

    def job(progress: Any) -> Any:
        return model.run(req.mode, runs=req.runs, seed=req.seed, steps=req.steps, params=dict(req.params),
                         threads=1, progress=progress, scenario=req.scenario)

    def failed(status: str, reason: str, code: str) -> float:
        elapsed = time.monotonic() - start
        metrics.executed(entry.name, used.mode, status, elapsed, reason, version)
        logs.log_execution(model=entry.name, model_hash=model.hash, mode=used.mode, seed=used.seed,
                           runs=used.runs if used.mode == "monte_carlo" else None, steps=used.steps,
                           duration_sec=elapsed, status=status, warnings=0, violations=0,
                           code=code, request_id=request_id, version=version)
        return elapsed

    retry = _retry_after(config)
    metrics.in_flight.inc()
    try:
        result = await runner.run(job, deadline - time.monotonic())
    except Busy:
        raise _busy(runner, metrics, "models", retry) from None
    except DeadlineExceeded:
        elapsed = failed("timeout", "timeout", "timeout")
        raise ApiError(503, "timeout", f"the run passed the request deadline of {config.timeout_s:g} s "
                                       f"after {elapsed:.2f} s and was cancelled; lower runs or steps",
                       headers=retry) from None
    except PelError as exc:
        d = exc.diagnostics[0]
        internal = d.code == "E9999"
        failed("error", "internal_error" if internal else "run_error", d.code)
        if internal:
            raise ApiError(500, d.code, d.message) from None
        raise ApiError(422, d.code, d.message + (f" ({d.hint})" if d.hint else ""), "params" if req.params else None) \
            from None
    except Exception:
        failed("error", "internal_error", "E9999")
        raise
    finally:
        metrics.in_flight.dec()
    elapsed = time.monotonic() - start
    # a result whose paths did not all complete is answered, and counted as a failure for alerting
    metrics.executed(entry.name, used.mode, result.status, elapsed, None if result.ok else result.status, version)
    violated = [*result.violations, *result.warnings]
    for constraint, severity in dict.fromkeys((str(v.get("constraint")), str(v.get("severity"))) for v in violated):
        metrics.violated(entry.name, used.mode, constraint, severity, version)
    logs.log_violations(model=entry.name, model_hash=model.hash, mode=used.mode, seed=used.seed, entries=violated,
                        request_id=request_id, version=version)
    logs.log_execution(model=entry.name, model_hash=model.hash, mode=used.mode, seed=used.seed, runs=result.runs
                       if used.mode == "monte_carlo" else None, steps=result.steps, duration_sec=elapsed,
                       status=result.status, warnings=len(result.warnings), violations=len(result.violations),
                       request_id=request_id, version=version)
    return result
