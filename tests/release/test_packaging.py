"""The distribution is `pel-lang` (the tutorial's `pip install pel-lang`): its name wherever it is read, and a wheel
built with `python -m build` that installs in a fresh virtual environment and runs a model with `pel run`."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import pel
from pel.release import scaffold
from tests.conftest import EXAMPLES, REPO, shared_dir

DIST = "pel-lang"


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_distribution_is_pel_lang_with_package_and_command_pel() -> None:
    project = _pyproject()["project"]
    assert project["name"] == DIST == scaffold.DISTRIBUTION
    assert project["scripts"] == {"pel": "pel.cli:main"}
    assert "version" in project["dynamic"]  # read from pel.__version__: one place to bump
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pel.__version__"}
    assert any(r.startswith("build") for r in project["optional-dependencies"]["dev"])


def test_init_ci_installs_pel_lang_at_this_version() -> None:
    ci = scaffold.files(dt.date(2026, 1, 1))[".github/workflows/ci.yml"]
    assert f'PEL_REQUIREMENT: "{DIST}=={pel.__version__}"' in ci
    assert 'pip install "$PEL_REQUIREMENT"' in ci


def test_the_tutorial_installs_this_distribution() -> None:
    text = shared_dir("seed", "tutorial_10_production_deployment.md").read_text(encoding="utf-8")
    names = set(re.findall(r"pip install (pel[\w-]*)", text))
    assert names == {DIST}, names


def test_docs_and_hints_install_this_distribution() -> None:
    """Every `pip install 'pel…[extra]'` of the README, the docs and PEL's own error hints names `pel-lang`."""
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "pel").rglob("*.py"))]
    named = {}
    for path in files:
        for name in re.findall(r"pip install[^\n]*?['\"]?\b(pel[\w-]*)\[", path.read_text(encoding="utf-8")):
            named.setdefault(name, []).append(str(path.relative_to(REPO)))
    assert set(named) == {DIST}, named


def _run(args: list[str | Path], cwd: Path, timeout: int = 300, env: dict | None = None) -> str:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_runs_a_model(tmp_path: Path) -> None:
    """`python -m build` makes a wheel; a new virtual environment (the system's site packages give it numpy and
    numba without a download) installs it and runs `pel run` on an example model with the installed command."""
    pytest.importorskip("build", reason="the `build` package is not installed (pip install -e '.[dev]' installs it)")
    src = tmp_path / "src"  # a copy, so that the build writes nothing into the working tree
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(REPO / "pel", src / "pel", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", tmp_path / "dist", src], cwd=tmp_path, timeout=600)
    wheels = list((tmp_path / "dist").glob("*.whl"))
    assert [w.name for w in wheels] == [f"pel_lang-{pel.__version__}-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as whl:
        names = whl.namelist()
        meta = whl.read(f"pel_lang-{pel.__version__}.dist-info/METADATA").decode()
        entry_points = whl.read(f"pel_lang-{pel.__version__}.dist-info/entry_points.txt").decode()
    assert {n.split("/")[0] for n in names} == {"pel", f"pel_lang-{pel.__version__}.dist-info"}
    assert "pel/server/app.py" in names and "pel/backend/engine.py" in names
    assert f"Name: {DIST}\n" in meta and f"Version: {pel.__version__}\n" in meta
    assert "pel = pel.cli:main" in entry_points

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--system-site-packages", venv], cwd=tmp_path)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    # --force-reinstall: a development install of the same version, visible through the system's site packages,
    # must not make pip skip the wheel; --no-deps --no-index: the dependencies come from the system's packages
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index", "--no-deps",
          "--force-reinstall", wheels[0]], cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    probe = ("import importlib.metadata as md, json, re, pel; "
             "deps = [re.match(r'[A-Za-z0-9_.-]+', r).group(0) for r in md.requires('pel-lang') if 'extra' not in r]; "
             "print(json.dumps({'file': pel.__file__, 'version': md.version('pel-lang'), "
             "'deps': {d: md.version(d) for d in deps}}))")
    info = json.loads(_run([python, "-c", probe], cwd=tmp_path, env=env))
    assert Path(info["file"]).resolve().is_relative_to(venv.resolve()), info  # the wheel's pel, not the checkout's
    assert info["version"] == pel.__version__
    assert set(info["deps"]) == {"numpy", "numba", "llvmlite", "ply", "msgpack", "scipy"}

    pel_cmd = bindir / "pel"
    assert _run([pel_cmd, "--version"], cwd=tmp_path, env=env).strip() == f"pel {pel.__version__}"
    model = shutil.copy(EXAMPLES / "revenue_forecast.pel", tmp_path / "revenue_forecast.pel")
    _run([pel_cmd, "run", model, "--steps", "12", "-o", tmp_path / "results.json", "--quiet"], cwd=tmp_path, env=env)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["status"] == "success" and results["model"]["pel_version"] == pel.__version__
    assert len(results["mrr"]) == 13
