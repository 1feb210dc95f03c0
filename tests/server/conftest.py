"""Fixtures of the server tests: a private copy of the test models, an in-process app, a loopback server."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import httpx  # noqa: E402
import uvicorn  # noqa: E402

import pel  # noqa: E402
from pel.server.app import create_app  # noqa: E402
from pel.server.config import ServerConfig  # noqa: E402

MODELS = Path(__file__).resolve().parent / "models"


def copy_models(dest: Path) -> Path:
    """The test models in `dest`, plus the revenue model compiled to .ir.json and .ir.msgpack."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in MODELS.glob("*.pel"):
        shutil.copy(src, dest / src.name)
    model = pel.load(MODELS / "revenue.pel")
    model.save(dest / "revenue_ir.ir.json")
    model.save(dest / "revenue_mp.ir.msgpack")
    return dest


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return copy_models(tmp_path / "models")


def make_config(models_dir: Path, **kw: object) -> ServerConfig:
    base = ServerConfig(models_dir=models_dir, token=None, reload_interval_s=0, max_concurrent=2, max_queue=8)
    return replace(base, **kw)


class LiveServer:
    """uvicorn on a loopback socket in a background thread."""

    def __init__(self, config: ServerConfig) -> None:
        self.app = create_app(config)
        # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (with proto 0, every
        # answer waits ~40 ms for the client's delayed ACK between its header and body segments)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def live(models_dir: Path) -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(**kw: object) -> LiveServer:
        server = LiveServer(make_config(models_dir, **kw)).__enter__()
        servers.append(server)
        return server

    yield start
    for s in servers:
        s.__exit__()


@pytest.fixture
def make_client(live: Callable[..., LiveServer]) -> Iterator[Callable[..., httpx.Client]]:
    """make_client(**config) -> an httpx client of a started loopback server (models loaded and warm)."""
    clients: list[httpx.Client] = []

    def make(**kw: object) -> httpx.Client:
        server = live(**kw)
        c = httpx.Client(base_url=server.url, timeout=60)
        c.server = server  # type: ignore[attr-defined]
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture(scope="session")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One server for the read-only tests (default limits, no token, no reloading)."""
    folder = copy_models(tmp_path_factory.mktemp("shared") / "models")
    with LiveServer(make_config(folder)) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        yield c
