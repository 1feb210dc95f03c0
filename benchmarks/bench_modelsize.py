"""Compile cost against model size (issue 10): generated models of 50 ... 5,000 lines, each measured in fresh
processes with an empty kernel cache (cold), then the same cache (warm), then after one formula changed (edit).

Run with `python benchmarks/bench_modelsize.py` (prints the table) or `pytest benchmarks/bench_modelsize.py -s
-p no:xdist` (asserts the targets). BENCH_MODELSIZE_LINES=50,500 limits the sizes; BENCH_MODELSIZE_STRESS=1
adds the limit cases of issue 10 point 3 (3,000 variables, 3,000 parameters, a 3,000-variable chain, 10,000-term
sum and `&&` chain, a 1,000,000-element array, a message with 10,000 values; minutes each).

For each size: variables, parameters, the cold first `pel run` (Monte Carlo, 1,000 paths, the model's 60 months)
split into frontend / codegen / JIT / run, its peak RSS, the warm run (a new process, cache hit), and the cold
cost per line; the cost per line is also fitted (least squares, cold seconds = a + b * lines). Targets on the
2-core machine: 5,000 lines cold < 30 s with peak RSS < 2 GB, warm < 2 s, edit < 5 s with results identical to
the cold build, cold cost per line at 5,000 lines within 1.5x of that at 500. Throughput: Monte Carlo ns per
(path x step x variable) of the 5,000-line model within 2x of the SaaS benchmark model's, same process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
SAAS = BENCH_DIR / "models" / "saas_bench.pel"
LINES = (50, 500, 1000, 2000, 5000)
EDIT_FROM, EDIT_TO = "$1_000_000), $0)", "$2_000_000), $0)"  # one formula of the generated units

# One measured run in a fresh interpreter: prints a JSON line with the phases, the peak RSS and the results.
_CHILD = r"""
import json, resource, sys, time
ts = time.perf_counter()
from pel.pipeline import compile_file
from pel.model import Model
from pel.backend import cache
t0 = time.perf_counter()
comp = compile_file(sys.argv[1])
t1 = time.perf_counter()
result = Model(comp.program, comp.warnings).run("monte_carlo", runs=int(sys.argv[2]), seed=7)
t2 = time.perf_counter()
kern = cache.load(comp.program)
codegen, jit = kern.timings.get("codegen", 0.0), kern.timings.get("jit", 0.0)
m = comp.program.model
open(sys.argv[3], "w").write(result.to_json())
print(json.dumps({"frontend": t1 - t0, "codegen": codegen, "jit": jit, "run": t2 - t1 - codegen - jit,
                  "start": t0 - ts, "total": t2 - ts, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "vars": len(m.vars), "params": len(m.params), "hits_misses": kern.cache_stats()}))
"""

# Monte Carlo throughput of two models in one process (warm kernels, best of 3 so that the first run's page
# faults on fresh memory do not count): nanoseconds per (path x step x variable), exact percentiles.
_THROUGHPUT = r"""
import json, sys, time
import pel
from pel.backend import engine, kernel
inner = kernel.run_block
spent = [0.0]
def timed(*a, **k):  # the kernel's own time (summed over threads), apart from sampling set-up and percentiles
    t = time.perf_counter(); inner(*a, **k); spent[0] += time.perf_counter() - t
engine.kernel.run_block = timed
out = {}
for path in sys.argv[2:]:
    model = pel.compile(path)
    m = model.program.model
    runs = int(sys.argv[1])
    model.run("monte_carlo", runs=200, seed=1)  # compile
    best, best_kernel = float("inf"), float("inf")
    for _ in range(3):  # exact percentiles for both (the sketch costs more per value than the exact selection)
        spent[0] = 0.0
        t = time.perf_counter()
        model.run("monte_carlo", runs=runs, seed=1, memory_limit=4 << 30, threads=1)
        best = min(best, time.perf_counter() - t)
        best_kernel = min(best_kernel, spent[0])
    cells = runs * (m.time_horizon + 1) * len(m.vars)
    out[path] = [best / cells * 1e9, best_kernel / cells * 1e9]
print(json.dumps(out))
"""

def _child(args: list[str], cache_dir: str, script: str = _CHILD) -> dict:
    env = dict(os.environ, PEL_CACHE_DIR=cache_dir)
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                          timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(lines: int, work: Path, runs: int = 1000) -> dict:
    """Cold, warm and edit runs of the generated model of `lines` lines."""
    sys.path.insert(0, str(REPO))
    from benchmarks.modelgen import generate

    text = generate(lines)
    src = work / f"m{lines}.pel"
    src.write_text(text, encoding="utf-8")
    cache_dir = tempfile.mkdtemp(prefix="pel-modelsize-", dir=work)
    cold = _child([str(src), str(runs), str(work / "cold.json")], cache_dir)
    warm = _child([str(src), str(runs), str(work / "warm.json")], cache_dir)
    row = {"lines": len(text.splitlines()), "cold": cold, "warm": warm,
           "warm_same": (work / "cold.json").read_bytes() == (work / "warm.json").read_bytes()}
    if EDIT_FROM in text:
        edited = work / f"m{lines}_edit.pel"
        edited.write_text(text.replace(EDIT_FROM, EDIT_TO, 1), encoding="utf-8")
        edit = _child([str(edited), str(runs), str(work / "edit.json")], cache_dir)
        fresh = _child([str(edited), str(runs), str(work / "edit_cold.json")],
                       tempfile.mkdtemp(prefix="pel-modelsize-", dir=work))
        row["edit"] = edit
        row["edit_cold"] = fresh
        row["edit_same"] = (work / "edit.json").read_bytes() == (work / "edit_cold.json").read_bytes()
    return row


def throughput(work: Path, runs: int = 10_000) -> dict:
    """ns per (path x step x variable), one thread, end to end and in the kernel alone: the 5,000-line model
    (every variable an output) and the SaaS benchmark model (5 outputs of 12 variables)."""
    sys.path.insert(0, str(REPO))
    from benchmarks.modelgen import generate

    big = work / "m5000_tp.pel"
    big.write_text(generate(5000), encoding="utf-8")
    got = _child([str(runs), str(big), str(SAAS)], tempfile.mkdtemp(prefix="pel-modelsize-", dir=work), _THROUGHPUT)
    (b_total, b_kernel), (s_total, s_kernel) = got[str(big)], got[str(SAAS)]
    return {"model_5000": b_total, "saas": s_total, "ratio": b_total / s_total,
            "kernel_5000": b_kernel, "kernel_saas": s_kernel, "kernel_ratio": b_kernel / s_kernel}


def _tp_line(tp: dict) -> str:
    return (f"throughput (ns per path x step x variable, 1 thread): kernel {tp['kernel_5000']:.2f} vs SaaS "
            f"{tp['kernel_saas']:.2f} ({tp['kernel_ratio']:.2f}x); end to end with exact percentiles "
            f"{tp['model_5000']:.2f} vs {tp['saas']:.2f} ({tp['ratio']:.2f}x)")


def fit(rows: list[dict]) -> tuple[float, float]:
    """Least squares cold total = a + b * lines: (a seconds, b ms per line)."""
    xs = [r["lines"] for r in rows]
    ys = [r["cold"]["total"] for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else 0.0
    return my - b * mx, b * 1000


def table(rows: list[dict]) -> str:
    head = ("| lines | vars | params | cold total | imports | frontend | codegen | JIT | run | peak RSS | warm "
            "| edit | cold ms/line |")
    out = [head, "|" + "---|" * 13]
    for r in rows:
        c = r["cold"]
        edit = f"{r['edit']['total']:.2f} s" if "edit" in r else "—"
        out.append(f"| {r['lines']:,} | {c['vars']} | {c['params']} | {c['total']:.2f} s | {c['start']:.2f} | {c['frontend']:.2f} | "
                   f"{c['codegen']:.2f} | {c['jit']:.2f} | {c['run']:.2f} | {c['rss_mb']:.0f} MB | "
                   f"{r['warm']['total']:.2f} s | {edit} | {1000 * c['total'] / r['lines']:.1f} |")
    if len(rows) >= 2:
        a, b = fit(rows)
        out.append(f"\nfitted: cold = {a:.2f} s + {b:.2f} ms x lines")
    return "\n".join(out)


def _sizes() -> list[int]:
    raw = os.environ.get("BENCH_MODELSIZE_LINES", "")
    return [int(x) for x in raw.split(",") if x.strip()] if raw.strip() else list(LINES)


# -- limit cases (issue 10 point 3) ----------------------------------------------------------------------------

_P = '{ source: "s", method: "observed", confidence: 0.9 }'
STRESS = {
    "3000 variables": lambda: "model V {\n" + f"param a: Fraction = 2 {_P}\n" + "".join(
        f"var x{k}: TimeSeries<Fraction>\nx{k}[t] = a * t + {k}\n" for k in range(3000)) + "}\n",
    "3000 parameters": lambda: "model Q {\n" + "".join(f"param p{k}: Fraction = {k} {_P}\n" for k in range(3000))
    + "var total = " + " + ".join(f"p{k}" for k in range(3000)) + "\n}\n",
    "3000-variable chain": lambda: "model C {\nvar x0 = 1\n" + "".join(
        f"var x{k} = x{k - 1} + 1\n" for k in range(1, 3000)) + "}\n",
    "3000-variable chain, declared last-first": lambda: "model D {\n" + "".join(
        f"var x{k} = x{k + 1} + 1\n" for k in range(2999)) + "var x2999 = 1\n}\n",
    "10000-term sum": lambda: "model F {\nvar total: Currency<USD> = " + " + ".join(["$1"] * 10000) + "\n}\n",
    "10000-term &&": lambda: "model A {\nvar ok = " + " && ".join(["t >= 0"] * 10000) + "\n}\n",
    "1000000-element array": lambda: "model R {\nvar xs = [" + ", ".join(str(k % 97) for k in range(1_000_000))
    + "]\nvar y = xs[t] + 1\n}\n",
    "message of 10000 values": lambda: "model M {\nvar x[t] = t\nconstraint big { x[t] < 0 with severity(warning) "
    "with message(\"" + " ".join("{x[t]}" for _ in range(10000)) + "\") }\n}\n",
}


def stress(work: Path) -> list[tuple[str, int, float, float]]:
    """(case, exit code, seconds, peak RSS MB) of `pel run` on each limit case, empty cache each."""
    rows = []
    for name, make in STRESS.items():
        src = work / (name.replace(" ", "_") + ".pel")
        src.write_text(make(), encoding="utf-8")
        env = dict(os.environ, PEL_CACHE_DIR=tempfile.mkdtemp(prefix="pel-stress-", dir=work))
        script = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
                  "rc = subprocess.call([sys.executable, '-m', 'pel.cli', 'run', sys.argv[1], '-o', sys.argv[2], "
                  "'--quiet']); print(rc, time.perf_counter() - t, "
                  "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
        proc = subprocess.run([sys.executable, "-c", script, str(src), str(work / "stress.json")],
                              capture_output=True, text=True, env=env, timeout=3600)
        rc, seconds, rss = proc.stdout.split()
        rows.append((name, int(rc), float(seconds), float(rss)))
    return rows


def test_model_size_targets(tmp_path: Path) -> None:
    rows = [measure(n, tmp_path) for n in _sizes()]
    print("\n" + table(rows))
    by = {r["lines"] // 100 * 100 if r["lines"] >= 100 else r["lines"]: r for r in rows}
    for r in rows:
        assert r["warm_same"], f"{r['lines']} lines: warm results differ from cold"
        if "edit" in r:
            assert r["edit_same"], f"{r['lines']} lines: results after an edit differ from a cold build"
    if 5000 in by:
        big = by[5000]
        assert big["cold"]["total"] < 30, big["cold"]
        assert big["cold"]["rss_mb"] < 2048, big["cold"]
        assert big["warm"]["total"] < 2, big["warm"]
        assert big["edit"]["total"] < 5, big["edit"]
        if 500 in by:
            ratio = (big["cold"]["total"] / big["lines"]) / (by[500]["cold"]["total"] / by[500]["lines"])
            assert ratio < 1.5, f"cold cost per line at 5,000 lines is {ratio:.2f}x that at 500"
        tp = throughput(tmp_path)
        print(_tp_line(tp))
        assert tp["kernel_ratio"] < 2.0, tp
    if os.environ.get("BENCH_MODELSIZE_STRESS"):
        for name, rc, seconds, rss in stress(tmp_path):
            print(f"{name}: exit {rc}, {seconds:.1f} s, {rss:.0f} MB")
            assert rc == 0, name


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        results = [measure(n, work) for n in _sizes()]
        print(table(results))
        if any(r["lines"] >= 4900 for r in results):
            print(_tp_line(throughput(work)))
        if os.environ.get("BENCH_MODELSIZE_STRESS"):
            for name, rc, seconds, rss in stress(work):
                print(f"stress: {name}: exit {rc}, {seconds:.1f} s, {rss:.0f} MB")
