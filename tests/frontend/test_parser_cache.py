"""The parser's LALR tables are cached in PEL's cache folder, rebuilt when damaged, never written elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODE = "from pel.frontend.parser import parse; print(parse('model A { }', 'a.pel').name)"


def _run(cache: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PEL_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-c", CODE], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def test_tables_cached_then_reused_and_rebuilt_when_damaged(tmp_path: Path) -> None:
    cache, work = tmp_path / "cache", tmp_path / "work"
    work.mkdir()
    first = _run(cache, work)
    assert first.returncode == 0 and first.stdout.strip() == "A", first.stderr
    tables = list(cache.glob("pel_parser_*.pickle"))
    assert len(tables) == 1
    stamp = tables[0].stat().st_mtime_ns
    assert _run(cache, work).returncode == 0
    assert tables[0].stat().st_mtime_ns == stamp  # reused, not rewritten
    tables[0].write_bytes(b"\x80\x04garbage")
    damaged = _run(cache, work)
    assert damaged.returncode == 0 and damaged.stdout.strip() == "A", damaged.stderr
    assert list(work.iterdir()) == []  # nothing beside the user's files


def test_unwritable_cache_folder_still_parses(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    proc = _run(blocker / "cache", tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "A", proc.stderr
