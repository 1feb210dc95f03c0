"""Dask: a real LocalCluster of two spawned worker processes gives byte-identical results, even if one dies."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

import pel  # noqa: E402
from pel.backend import distributed as dd  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "saas.pel"
RUNS = 12 * 4096 + 100  # 13 blocks: one task per block on two workers
STEPS = 12

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::ResourceWarning")



@pytest.fixture(scope="module")
def client():  # noqa: ANN201 - distributed.Client
    with dd.connect("local:2") as conn:
        conn.client.wait_for_workers(2, timeout=60)
        yield conn.client


@pytest.fixture(scope="module")
def model() -> pel.Model:
    return pel.compile(str(MODEL))


@pytest.mark.parametrize("memory_limit", [None, 1], ids=["exact", "sketch"])
def test_same_bytes_as_local_run(client, model: pel.Model, memory_limit: int | None) -> None:  # noqa: ANN001
    kw = {"runs": RUNS, "steps": STEPS, "seed": 7, "memory_limit": memory_limit}
    local = model.run("monte_carlo", **kw).to_json()
    remote = model.run("monte_carlo", client=client, **kw).to_json()
    assert remote == local
    assert ('"method": "sketch"' in local) == (memory_limit == 1)


def test_worker_killed_mid_run_still_identical(client, model: pel.Model) -> None:  # noqa: ANN001
    kw = {"runs": RUNS, "steps": STEPS, "seed": 11}
    local = model.run("monte_carlo", **kw).to_json()
    pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(done)

    remote = model.run("monte_carlo", client=client, progress=progress, **kw).to_json()
    assert killed and killed[0] < RUNS  # the worker died while blocks were still to come
    assert remote == local


def test_until_se_on_dask_matches_local(client, model: pel.Model) -> None:  # noqa: ANN001
    kw = {"runs": 40 * 4096, "steps": STEPS, "seed": 3, "until_se": 0.01}
    local = model.run("monte_carlo", **kw)
    assert local.convergence["stopped"] == "converged" and local.runs < 40 * 4096
    assert model.run("monte_carlo", client=client, **kw).to_json() == local.to_json()


def test_bad_address_is_a_coded_error() -> None:
    with pytest.raises(pel.RunError) as err:
        dd.connect("nonsense")
    assert err.value.code == "E0011"
    with pytest.raises(pel.RunError):
        dd.connect("local:0")


def test_cli_dask_flag_same_bytes(tmp_path: Path) -> None:
    from pel.cli import main

    args = ["run", str(MODEL), "--mode", "monte_carlo", "--runs", str(3 * 4096), "--steps", "6", "--quiet"]
    assert main([*args, "-o", str(tmp_path / "local.json")]) == 0
    assert main([*args, "--dask", "local:1", "-o", str(tmp_path / "dask.json")]) == 0
    assert (tmp_path / "dask.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    assert main([*args, "--dask", "nowhere"]) == 1


def _start(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def test_cli_on_a_separately_started_scheduler_and_worker(tmp_path: Path) -> None:
    """The deployment the README describes: `dask scheduler` and `dask worker` started on their own (here on
    loopback), and `pel run --dask tcp://HOST:PORT` pointed at the scheduler."""
    sched_file = tmp_path / "scheduler.json"
    procs = [_start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file)],
                    tmp_path / "scheduler.log")]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sched_file.exists(), (tmp_path / "scheduler.log").read_text()
        time.sleep(0.2)  # the file is written whole, but give its writer a moment
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(_start(["distributed.cli.dask_worker", address, "--nthreads", "1", "--nworkers", "1",
                             "--host", "127.0.0.1", "--dashboard-address", "127.0.0.1:0"], tmp_path / "worker.log"))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        from pel.cli import main

        args = ["run", str(MODEL), "--mode", "monte_carlo", "--runs", str(5 * 4096 + 3), "--steps", "6", "--quiet"]
        assert main([*args, "-o", str(tmp_path / "local.json")]) == 0
        assert main([*args, "--dask", address, "-o", str(tmp_path / "remote.json")]) == 0
        assert (tmp_path / "remote.json").read_bytes() == (tmp_path / "local.json").read_bytes()
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
