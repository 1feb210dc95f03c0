"""Start-up cost: a warm-cache `pel run` of a small model against `python -c "import numba"` (target: under 3x).

Both are timed as fresh subprocesses, the way a user or a CI job pays for them. `pel run` gets its own
PEL_CACHE_DIR, warmed by one untimed run first, so the timed runs load the cached kernel and skip the JIT.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.conftest import REPO, Timings, env_int

SMALL_MODEL = REPO / "examples" / "revenue_forecast.pel"
ROUNDS = env_int("BENCH_STARTUP_ROUNDS", 7)


def _pel_executable() -> Path:
    exe = Path(sys.executable).with_name("pel")
    if not exe.exists():
        pytest.skip(f"the `pel` command is not installed beside {sys.executable} (pip install -e .)")
    return exe


def _run(cmd: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = dict(os.environ)
    out["PEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("pel-startup-cache"))
    return out


def test_import_numba(benchmark, env: dict[str, str], timings: Timings) -> None:
    benchmark.group = "startup (subprocess, warm caches)"
    cmd = [sys.executable, "-c", "import numba"]
    _run(cmd, env)  # warm the OS file cache and numba's own start-up files
    benchmark.pedantic(_run, args=(cmd, env), rounds=ROUNDS, iterations=1)
    timings.record(("startup", "import numba"), benchmark)


def test_pel_run_warm_cache(benchmark, env: dict[str, str], timings: Timings, tmp_path: Path) -> None:
    benchmark.group = "startup (subprocess, warm caches)"
    out = tmp_path / "out.json"
    cmd = [str(_pel_executable()), "run", str(SMALL_MODEL), "--quiet", "-o", str(out)]
    _run(cmd, env)  # the warm-up: generates the kernel module and fills numba's cache in PEL_CACHE_DIR
    assert any(Path(env["PEL_CACHE_DIR"]).rglob("*.nbi")), "the warm-up run left no numba cache entry"
    benchmark.pedantic(_run, args=(cmd, env), rounds=ROUNDS, iterations=1)
    assert out.read_text(encoding="utf-8").lstrip().startswith("{")
    timings.record(("startup", "pel run"), benchmark)
    ratio = timings.ratio(("startup", "pel run"), ("startup", "import numba"))
    benchmark.extra_info["pel_run_over_import_numba"] = ratio
    text = "n/a (import numba not measured in this session)" if ratio is None else f"{ratio:.2f}x"
    timings.report(f"startup: warm-cache `pel run {SMALL_MODEL.name}` / `python -c 'import numba'` = {text} "
                   f"(target < 3x; pel run {timings.best[('startup', 'pel run')] * 1e3:.0f} ms)")
