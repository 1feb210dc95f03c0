"""Load: 16 concurrent clients against `pel serve` on loopback (5 s by default; PEL_LOAD_SECONDS=20 for the
full run). Zero 5xx, every response matches its own request, resident memory flat after warm-up."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import copy_models

CLIENTS = 16


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(rng: random.Random) -> tuple[str, dict, object]:
    """A random request and what its response must show (its own seed and parameter values)."""
    seed = rng.randrange(2**31)
    if rng.random() < 0.5:
        mrr = rng.randrange(10_000, 90_000)
        body = {"seed": seed, "steps": 12, "params": {"initial_mrr": f"${mrr}", "growth_rate": rng.random() / 5}}
        return "revenue", body, float(mrr)
    price = round(rng.uniform(50, 200), 2)
    body = {"mode": "monte_carlo", "seed": seed, "runs": 2000, "params": {"price": f"${price}"}}
    return "pricing_mc", body, price


async def _client(c: httpx.AsyncClient, stop: float, rng: random.Random, out: dict) -> None:
    while time.monotonic() < stop:
        name, body, expect = _request(rng)
        t0 = time.perf_counter()
        r = await c.post(f"/models/{name}/run", json=body)
        out["lat"].append(time.perf_counter() - t0)
        out["status"][r.status_code] = out["status"].get(r.status_code, 0) + 1
        if r.status_code != 200:
            continue
        res = r.json()
        assumed = {a["name"]: a["value"] for a in res["assumptions"]}
        ok = res["seed"] == body["seed"] and res["mode"] == body.get("mode", "deterministic")
        if name == "revenue":
            ok = ok and res["mrr"][0]["value"] == expect and assumed["initial_mrr"] == expect
            ok = ok and assumed["growth_rate"] == pytest.approx(body["params"]["growth_rate"])
        else:
            ok = ok and assumed["price"] == expect and res["runs"] == 2000
        if not ok:
            out["mixed"] += 1


async def _phase(url: str, seconds: float, seed: int) -> dict:
    out: dict = {"lat": [], "status": {}, "mixed": 0}
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as c:
        stop = time.monotonic() + seconds
        await asyncio.gather(*(_client(c, stop, random.Random(seed * 100 + k), out) for k in range(CLIENTS)))
    return out


def test_sixteen_clients_no_errors_no_mixups_flat_memory(tmp_path: Path) -> None:
    seconds = float(os.environ.get("PEL_LOAD_SECONDS", "5"))
    folder = copy_models(tmp_path / "models")
    port = _free_port()
    env = dict(os.environ)
    errlog = (tmp_path / "serve.err").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pel.cli", "serve", "--models", str(folder), "--port", str(port), "--log-level",
         "warning", "--max-concurrent", "4", "--max-queue", "64", "--timeout", "60"],
        env=env, stdout=subprocess.DEVNULL, stderr=errlog,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "serve.err").read_text()
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass  # not listening yet
            assert time.monotonic() < end, "server did not start"
            time.sleep(0.1)
        asyncio.run(_phase(url, min(2.0, seconds), 1))  # warm-up: first allocations, arenas, caches
        rss0 = _rss_kib(proc.pid)
        t0 = time.monotonic()
        out = asyncio.run(_phase(url, seconds, 2))
        elapsed = time.monotonic() - t0
        rss1 = _rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        errlog.close()
    lat = sorted(out["lat"])
    n = len(lat)
    p99 = lat[min(n - 1, int(0.99 * n))]
    print(f"\nload: {CLIENTS} clients, {seconds:g} s: {n} requests, {n / elapsed:.1f} req/s, "
          f"p50 {lat[n // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, statuses {out['status']}, "
          f"RSS {rss0 // 1024} -> {rss1 // 1024} MiB")
    assert not any(code >= 500 for code in out["status"]), out["status"]
    assert out["status"].get(200, 0) == n and n > CLIENTS
    assert out["mixed"] == 0
    assert rss1 - rss0 < max(48 * 1024, rss0 // 5), (rss0, rss1)  # flat: no growth beyond noise
