"""Kernels compile off the request path: a compiling model answers 503 `compiling`, the others keep answering,
`--warm` holds /health at 503 "starting" until every model is compiled."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from pel.backend import cache
from pel.diagnostics import RunError, simple
from pel.server import cli, logs
from pel.server.schemas import Health

from .conftest import MODELS

SLOW = "SlowModel"  # the declared name of the model whose compile the `slow_compile` fixture holds back
BROKEN = "BrokenModel"  # ... and of the one whose compile fails


def _model_text(declared: str) -> str:
    """The revenue test model under another declared name."""
    return (MODELS / "revenue.pel").read_text().replace("model RevenueForecasting", f"model {declared}", 1)


def _wait(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.05)


def _run_ok(c: httpx.Client, name: str) -> bool:
    """True once a run of `name` answers 200 (a cold first compile may answer 503 `compiling` before)."""
    r = c.post(f"/models/{name}/run", json={"steps": 2})
    if r.status_code == 503 and r.json()["code"] == "compiling":
        return False
    assert r.status_code == 200, r.text
    return True


@pytest.fixture
def slow_compile(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, threading.Event]]:
    """(release, started): compiling a model declared SlowModel starts `started` and blocks until `release`;
    compiling BrokenModel fails with E9999."""
    release, started = threading.Event(), threading.Event()
    real = cache.load

    def load(program, progress=None):  # noqa: ANN001, ANN202 - the signature of cache.load
        if program.model.name == SLOW:
            started.set()
            release.wait(60)
        if program.model.name == BROKEN:
            raise RunError(simple("E9999", "internal error: numba could not compile chunk 0 (test)"))
        return real(program, progress)

    monkeypatch.setattr(cache, "load", load)
    yield release, started
    release.set()  # never leave the compile thread blocked


def test_a_compiling_model_waits_its_deadline_then_503_while_others_answer(make_client, models_dir, slow_compile):
    release, started = slow_compile
    c = make_client(timeout_s=3.0, reload_interval_s=0.1)
    _wait(lambda: _run_ok(c, "revenue"))
    (models_dir / "slow.pel").write_text(_model_text(SLOW))  # a new model, picked up by the reload scan
    _wait(lambda: c.get("/models/slow").status_code == 200)  # served (metadata) while its kernel compiles
    assert started.wait(30)

    t0 = time.monotonic()
    r = c.post("/models/slow/run", json={"steps": 2})
    waited = time.monotonic() - t0
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["code"] == "compiling" and body["field"] == "name" and "compiling" in body["detail"]
    assert int(r.headers["retry-after"]) >= 1
    assert waited >= 2.0  # it waited (most of) its deadline for the compile before answering
    assert c.get("/health").json()["status"] == "healthy"  # no --warm: ready while compiling

    statuses: list[int] = []
    waiting = threading.Thread(target=lambda: statuses.append(
        httpx.post(f"{c.base_url}/models/slow/run", json={"steps": 2}, timeout=60).status_code))
    waiting.start()
    for _ in range(3):  # another model answers meanwhile, as fast as ever
        t0 = time.monotonic()
        assert c.post("/models/revenue/run", json={"steps": 2}).status_code == 200
        assert time.monotonic() - t0 < 2.0
    assert c.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 200}).status_code == 200
    assert waiting.is_alive() and not release.is_set()
    text = c.get("/metrics").text
    assert "pel_models_compiling 1.0" in text
    assert 'pel_requests_rejected_total{reason="compiling"} 1.0' in text

    release.set()  # the compile finishes: the waiting request runs within its deadline
    waiting.join(timeout=60)
    assert statuses == [200]
    assert c.post("/models/slow/run", json={"steps": 2}).json()["mrr"][0]["value"] == 50_000
    assert "pel_models_compiling 0.0" in c.get("/metrics").text


def test_warm_server_is_ready_only_once_every_model_is_compiled(make_client, models_dir, slow_compile):
    release, started = slow_compile
    (models_dir / "slow.pel").write_text(_model_text(SLOW))
    c = make_client(warm=True)
    assert started.wait(30)
    r = c.get("/health")
    assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
    assert Health.model_validate(r.json()).status == "starting"
    _wait(lambda: _run_ok(c, "revenue"))  # compiled models already answer
    assert c.get("/health").status_code == 503
    release.set()
    _wait(lambda: c.get("/health").status_code == 200)
    assert Health.model_validate(c.get("/health").json()).status == "healthy"
    assert c.post("/models/slow/run", json={"steps": 2}).status_code == 200


def test_a_kernel_that_does_not_compile_answers_its_coded_error(make_client, models_dir, slow_compile):
    (models_dir / "broken.pel").write_text(_model_text(BROKEN))
    c = make_client(warm=True)
    _wait(lambda: c.get("/health").status_code == 200)  # a failed compile is finished: it does not block ready
    for _ in range(2):  # answered from the failed compile, not compiled again on the request
        r = c.post("/models/broken/run", json={"steps": 2})
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "E9999" and "does not compile" in r.json()["detail"]
    assert c.post("/models/revenue/run", json={"steps": 2}).status_code == 200


def test_serve_warm_flag_reaches_the_config(monkeypatch, models_dir):
    import uvicorn

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.setdefault("config", app.state.config))
    monkeypatch.setattr(logs, "configure", lambda level="info": None)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    for argv, warm in ((["--warm"], True), ([], False)):
        args = parser.parse_args(["serve", "--models", str(models_dir), *argv])
        seen.clear()
        assert args.func(args) == 0
        assert seen["config"].warm is warm
