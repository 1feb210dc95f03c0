"""Settings of `pel serve`: the model and release folders, network address, limits, reload interval, tokens."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _token_from_env() -> str | None:
    return os.environ.get("PEL_API_TOKEN") or None


def _admin_token_from_env() -> str | None:
    return os.environ.get("PEL_ADMIN_TOKEN") or None


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs; the defaults are safe for a small shared machine."""

    models_dir: Path | None  # a folder of .pel / IR files, each served under its file name; None: releases only
    host: str = "127.0.0.1"
    port: int = 8000
    max_path_steps: int = 10_000_000  # cap on runs x (steps + 1) per request
    max_runs: int = 1_000_000  # cap on Monte Carlo paths per request
    timeout_s: float = 30.0  # request deadline: a run past it is cancelled and answered 503
    max_concurrent: int = max(1, os.cpu_count() or 1)  # runs executing at once (one core each)
    max_queue: int = 64  # requests waiting for a free slot; beyond them, 503 + Retry-After
    retry_after_s: int = 1
    reload_interval_s: float = 2.0  # how often the folder is checked for changed model files
    token: str | None = field(default_factory=_token_from_env)  # bearer token (PEL_API_TOKEN)
    warm_up: bool = True  # compile each model's kernel in the background when it is loaded, not on its first run
    warm: bool = False  # /health answers 503 "starting" until every model found at start-up is compiled
    state_dir: Path | None = None  # where actuals and estimates are kept (SQLite); None: in memory, lost on exit
    drift: tuple[str, ...] = ()  # parameters the drift check fits: PARAM (every model) or MODEL:PARAM
    drift_window: int = 12  # steps per window of the drift check
    releases_dir: Path | None = None  # a release folder (`pel release --dir`): every version of each model
    admin_token: str | None = field(default_factory=_admin_token_from_env)  # rollout endpoints (PEL_ADMIN_TOKEN)
