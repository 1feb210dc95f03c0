"""The kernel cache heals itself: every entry is checked against what PEL wrote before it is imported or unpickled,
a damaged one is rebuilt with a warning, a read-only or full cache runs without caching with a warning, and the
cache folder is private. Each case runs `pel run` in a subprocess with a cache folder of its own (copied from one
warmed once), and must print the same results as a run with a sound cache.

The model (built here as IR, so that no frontend is involved) has every kind of numba entry the store keeps: the
chunk kernels, a user function's module, and PEL's own runtime helpers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pel.ir import hashing, serialize
from pel.ir import nodes as ir
from tests.ir.ir_samples import at, lit, tiny_program

REPO = Path(__file__).resolve().parents[2]

# `pel run` with numba's entries failing to write as on a full disk (where no small tmpfs can be mounted)
FULL_DISK = """
import errno, sys
import pel.backend.store as store
real = store.write_atomic
def full(path, data, mode=0o600):
    if path.suffix in (".nbi", ".nbc"):
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(path, data, mode)
store.write_atomic = full
from pel.cli import main
sys.exit(main(sys.argv[1:]))
"""
PLAIN = "import sys\nfrom pel.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def _program() -> ir.Program:
    """x[0] = a, x[t+1] = double(x[t]) with a user function, and a warning constraint with a message."""
    base = tiny_program()
    double = ir.Func("double", ("v",), (ir.Return(ir.Binary("*", ir.Ref("v", "local"), lit(2.0))),))
    x = base.model.vars[0]
    x = dataclasses.replace(x, rules=(x.rules[0], ir.Rule("shifted", ir.Call("double", (at("x"),)), shift=1)))
    now = ir.Index("x", "var", ir.Ref("t", "time"))
    small = ir.Constraint("constraint_0", "small", ir.Binary("<", now, lit(10.0)), "warning",
                          (ir.MessagePart(text="x is "), ir.MessagePart(expr=now)), ir.Scope())
    model = dataclasses.replace(base.model, vars=(x,), funcs=(double,), constraints=(small,))
    return hashing.with_hashes(dataclasses.replace(base, model=model))


def _run(cache: Path, model: Path, out: Path, driver: str = PLAIN, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PEL_CACHE_DIR": str(cache), **env}
    environ.pop("PEL_DEBUG", None)
    return subprocess.run([sys.executable, "-c", driver, "run", str(model), "-o", str(out)], cwd=REPO,
                          env=environ, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """(the model file, a warmed cache folder, the results a sound cache gives)."""
    root = tmp_path_factory.mktemp("warm")
    model = serialize.save(_program(), root / "model.ir.json")
    proc = _run(root / "cache", model, root / "out.json")
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr.replace("(warning)", "")
    return model, root / "cache", (root / "out.json").read_bytes()


def _copy(warm: tuple[Path, Path, bytes], tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    shutil.copytree(warm[1], cache)
    return cache


def _entries(cache: Path, pattern: str) -> list[Path]:
    found = sorted((cache / "__pycache__").glob(pattern))
    assert found, f"no cache entry {pattern} in {sorted(p.name for p in (cache / '__pycache__').iterdir())}"
    return found


def _same_results(warm: tuple[Path, Path, bytes], cache: Path, tmp_path: Path, driver: str = PLAIN,
                  **env: str) -> str:
    """Run with `cache`; the results must be those of a sound cache. Returns stderr."""
    out = tmp_path / "out.json"
    proc = _run(cache, warm[0], out, driver, **env)
    assert proc.returncode == 0, proc.stderr
    assert "E9999" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert out.read_bytes() == warm[2]
    return proc.stderr


# ---------------------------------------------------------------------------------------------
# Damage is rebuilt with a warning
# ---------------------------------------------------------------------------------------------


def test_a_warm_cache_is_used_without_a_word(warm: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    cache = _copy(warm, tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (cache / "__pycache__").iterdir()}
    stderr = _same_results(warm, cache, tmp_path)
    assert "pel: warning" not in stderr
    after = {p.name: p.stat().st_mtime_ns for p in (cache / "__pycache__").iterdir() if p.name in before}
    assert after == before  # nothing rebuilt


def test_a_damaged_generated_module_is_rebuilt(warm: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    cache = _copy(warm, tmp_path)
    module = sorted(cache.glob("pel_k_*.py"))[0]
    good = module.read_bytes()
    module.write_bytes(good + b"\nraise SystemExit('planted')\n")
    stderr = _same_results(warm, cache, tmp_path)
    assert f"damaged kernel cache entry {module.name} rebuilt" in stderr
    assert module.read_bytes() == good


@pytest.mark.parametrize("damage", ["flip", "truncate", "planted"])
def test_a_damaged_code_object_is_compiled_again(warm: tuple[Path, Path, bytes], tmp_path: Path,
                                                 damage: str) -> None:
    """A module's compiled code kept beside it is used only when its header names the module's exact text and
    the SHA-256 of the code it holds; anything else is compiled from the verified text again and rewritten."""
    import marshal

    cache = _copy(warm, tmp_path)
    _same_results(warm, cache, tmp_path)  # the code objects are keyed by the module's path: kept for this folder
    codes = sorted(cache.glob("pel_k_*.code"))
    assert codes, "no code object was kept"
    blob = codes[0].read_bytes()
    _same_results(warm, cache, tmp_path)
    assert codes[0].read_bytes() == blob  # used as it is
    if damage == "flip":
        codes[0].write_bytes(blob[:-5] + bytes([blob[-5] ^ 0xFF]) + blob[-4:])
    elif damage == "truncate":
        codes[0].write_bytes(blob[:100])
    else:  # valid marshalled code under the right header, but not what the digest says
        evil = marshal.dumps(compile("raise SystemExit('planted')", "x", "exec"))
        codes[0].write_bytes(blob[:130] + evil)
    _same_results(warm, cache, tmp_path)
    assert codes[0].read_bytes() == blob


@pytest.mark.parametrize("pattern", ["pel_k_*.step-*.nbc", "pel_k_*.step-*.nbi", "pel_k_*.f_0_double-*.nbc",
                                     "runtime.*.nbi", "runtime.*.nbc"])
def test_a_damaged_numba_entry_is_rebuilt(warm: tuple[Path, Path, bytes], tmp_path: Path, pattern: str) -> None:
    """Chunk kernels, a user function's entries and PEL's runtime helpers alike. A function's and a helper's
    entries are read when a kernel calling them compiles (they are shared by every model that does): the step
    kernel's entries are removed for those, as for another model."""
    cache = _copy(warm, tmp_path)
    entry = _entries(cache, pattern)[0]
    entry.write_bytes(b"\x80\x04garbage")
    if ".step-" not in pattern:
        for path in _entries(cache, "pel_k_*.step-*"):
            path.unlink()
    stderr = _same_results(warm, cache, tmp_path)
    assert f"damaged compiled kernel {entry.name} rebuilt" in stderr
    assert entry.read_bytes() != b"\x80\x04garbage"
    assert "pel: warning" not in _same_results(warm, cache, tmp_path)  # healed for good


class _Planted:
    """A pickle that creates a file when it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("pattern", ["pel_k_*.step-*.nbc", "runtime.*.nbi"])
def test_a_planted_pickle_is_never_loaded(warm: tuple[Path, Path, bytes], tmp_path: Path, pattern: str) -> None:
    """An entry that is not what PEL sealed (here: a pickle that would create a file) is deleted unread."""
    cache = _copy(warm, tmp_path)
    marker = tmp_path / "planted-pickle-ran"
    entry = _entries(cache, pattern)[0]
    entry.write_bytes(pickle.dumps(_Planted(marker)))
    if ".step-" not in pattern:  # a helper's entries are read when a kernel calling it compiles
        for path in _entries(cache, "pel_k_*.step-*"):
            path.unlink()
    stderr = _same_results(warm, cache, tmp_path)
    assert not marker.exists(), "a cache entry was unpickled without matching its seal"
    assert "damaged compiled kernel" in stderr


def test_entries_without_a_seal_are_not_trusted(warm: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    cache = _copy(warm, tmp_path)
    for seal in (cache / "__pycache__").glob("*.seal.json"):
        seal.unlink()
    stderr = _same_results(warm, cache, tmp_path)
    assert "damaged compiled kernel" in stderr
    assert list((cache / "__pycache__").glob("*.seal.json"))  # sealed again


def test_numba_cache_dir_does_not_move_the_entries_out_of_the_store(warm: tuple[Path, Path, bytes],
                                                                    tmp_path: Path) -> None:
    """NUMBA_CACHE_DIR relocates numba's own cache; PEL's entries stay in its store, sealed."""
    elsewhere = tmp_path / "numba-cache"
    cache = tmp_path / "cache"
    _same_results(warm, cache, tmp_path, NUMBA_CACHE_DIR=str(elsewhere))
    assert not [p for p in elsewhere.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert _entries(cache, "pel_k_*.nbc") and _entries(cache, "runtime.*.nbc")


# ---------------------------------------------------------------------------------------------
# A cache that cannot be written: compile without it, with a warning
# ---------------------------------------------------------------------------------------------


def _mount(where: Path, options: str) -> bool:
    """A tmpfs at `where` (root only); False where none can be mounted."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return proc.returncode == 0


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)


def test_a_full_disk_compiles_without_the_cache(warm: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    """numba's entries fail to write mid-compile: the run goes on without the cache, with one warning."""
    cache = tmp_path / "cache"
    stderr = _same_results(warm, cache, tmp_path, FULL_DISK)
    assert "cannot write the kernel cache" in stderr and "No space left on device" in stderr
    assert stderr.count("cannot write the kernel cache") == 1
    assert not [p for p in (cache / "__pycache__").iterdir() if p.suffix in (".nbi", ".nbc")]


@pytest.mark.parametrize("size", ["8k", "240k"])
def test_a_small_real_disk_fills_up_without_an_error(warm: tuple[Path, Path, bytes], tmp_path: Path,
                                                     size: str) -> None:
    """The same on a tmpfs that fills up at various points (the probe, a module, numba's entries)."""
    disk = tmp_path / "disk"
    if not _mount(disk, f"size={size}"):
        pytest.skip("no tmpfs can be mounted here (not root): the simulated full disk above stands in")
    try:
        for _ in range(2):
            _same_results(warm, disk, tmp_path)
    finally:
        _umount(disk)


def test_an_empty_read_only_cache_runs_with_a_warning(warm: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    if _mount(disk, "ro,size=1m"):
        try:
            stderr = _same_results(warm, disk, tmp_path)
        finally:
            _umount(disk)
    elif os.geteuid() != 0:
        disk.mkdir()
        disk.chmod(0o500)
        try:
            stderr = _same_results(warm, disk, tmp_path)
        finally:
            disk.chmod(0o700)
    else:
        pytest.skip("root without mount: a read-only folder cannot be made")
    assert "is not usable" in stderr and "compiling without a cache" in stderr


def test_a_warm_cache_made_read_only_still_runs(warm: tuple[Path, Path, bytes], tmp_path: Path) -> None:
    disk = tmp_path / "ro"
    if not _mount(disk, "size=4m"):
        pytest.skip("no tmpfs can be mounted here (not root)")
    try:
        _same_results(warm, disk, tmp_path)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True)
        assert "compiling without a cache" in _same_results(warm, disk, tmp_path)
    finally:
        _umount(disk)


# ---------------------------------------------------------------------------------------------
# A private folder
# ---------------------------------------------------------------------------------------------


def test_the_cache_folder_is_created_private(tmp_path: Path) -> None:
    from pel.backend.store import Store

    store = Store(tmp_path / "a" / "cache")
    assert store.writable
    assert stat.S_IMODE((tmp_path / "a" / "cache").stat().st_mode) == 0o700


def test_an_open_cache_folder_of_ours_is_made_private(tmp_path: Path) -> None:
    from pel.backend.store import Store

    folder = tmp_path / "cache"
    folder.mkdir()
    folder.chmod(0o777)
    assert Store(folder).writable
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="making a folder another user's needs root")
def test_a_cache_folder_of_another_user_is_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from pel.backend.store import Store
    from pel.cachedir import make_private

    folder = tmp_path / "cache"
    folder.mkdir(mode=0o777)
    os.chown(folder, 65534, 65534)
    assert make_private(folder) == "it belongs to another user"
    with caplog.at_level("WARNING", logger="pel.cache"):
        assert not Store(folder).writable
    assert "belongs to another user" in caplog.text


def test_a_seal_is_json_listing_each_file_hash(warm: tuple[Path, Path, bytes]) -> None:
    seals = _entries(warm[1], "*.seal.json")
    for seal in seals:
        data = json.loads(seal.read_text())
        base = seal.name.removesuffix(".seal.json")
        assert data and all(name.startswith(base + ".") and len(digest) == 64 for name, digest in data.items())
