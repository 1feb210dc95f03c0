"""The parser's LALR tables are cached in PEL's cache folder as JSON with a digest (never a pickle), rebuilt when
damaged, never written elsewhere; parsing keeps no shared state between threads."""

from __future__ import annotations

import json
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
    assert not list(cache.glob("*.pickle"))
    tables = list(cache.glob("pel_parser_*.json"))
    assert len(tables) == 1
    stamp = tables[0].stat().st_mtime_ns
    assert _run(cache, work).returncode == 0
    assert tables[0].stat().st_mtime_ns == stamp  # reused, not rewritten
    good = tables[0].read_bytes()
    tables[0].write_bytes(b"\x80\x04garbage")
    damaged = _run(cache, work)
    assert damaged.returncode == 0 and damaged.stdout.strip() == "A", damaged.stderr
    assert tables[0].read_bytes() == good  # rebuilt
    data = json.loads(good)
    data["tables"]["goto"]["0"] = {}  # well-formed but not what PEL wrote: its digest no longer matches
    tables[0].write_text(json.dumps(data))
    tampered = _run(cache, work)
    assert tampered.returncode == 0 and tampered.stdout.strip() == "A", tampered.stderr
    assert tables[0].read_bytes() == good
    assert list(work.iterdir()) == []  # nothing beside the user's files


def test_unwritable_cache_folder_still_parses(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("x")
    proc = _run(blocker / "cache", tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == "A", proc.stderr


def test_concurrent_parses_keep_their_own_state() -> None:
    """Bad sources take PLY's recovering parse: several threads at once each get exactly their own errors."""
    from concurrent.futures import ThreadPoolExecutor

    from pel.diagnostics import CompileError
    from pel.frontend.parser import parse

    def one(k: int) -> list[tuple[str, int]]:
        good = k % 2 == 0
        source = f"model M{k} {{\n  var x = 1\n}}\n" if good else f"model M{k} {{\n  var x = (1 +\n  var y = {k}\n}}\n"
        out = []
        for _ in range(40):
            try:
                parse(source, f"m{k}.pel")
                out.append(("ok", 0))
            except CompileError as exc:
                out.append((exc.diagnostics[0].code, exc.diagnostics[0].span.line))
        return out

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(16)))
    for k, got in enumerate(results):
        assert set(got) == ({("ok", 0)} if k % 2 == 0 else {("E0005", 3)}), (k, set(got))
