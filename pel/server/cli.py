"""The `pel serve` subcommand and the rollout commands of its released models (`pel rollout|promote|rollback`)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pel.argtypes import positive_int
from pel.diagnostics import PelError, simple


class ServeError(PelError):
    """`pel serve` cannot start (missing folder, missing optional dependencies, bad limits)."""


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port in 0..65535, got {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number of seconds, got {text}")
    return value


def _weight(text: str) -> float:
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percent of requests in 0..100, got {text!r}") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a percent of requests in 0..100, got {text}")
    return value


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve every .pel, .ir.json and .ir.msgpack model of a folder, and every release of a release folder,
    over HTTP (FastAPI + uvicorn)."""
    try:
        import uvicorn

        from pel.server.app import create_app
    except ImportError as exc:
        raise ServeError(simple("E0010", f"`pel serve` needs its optional dependencies ({exc.name} is missing)",
                                hint="pip install 'pel-lang[serve]'")) from None
    from pel.server import logs
    from pel.server.config import ServerConfig

    if args.models is None and args.releases is None:
        raise ServeError(simple("E0011", "give --models DIR, --releases DIR, or both"))
    models = None if args.models is None else Path(args.models)
    if models is not None and not models.is_dir():
        raise ServeError(simple("E0010", f"--models {args.models}: not a folder"))
    releases = None if args.releases is None else Path(args.releases)
    if releases is not None and not releases.is_dir():
        raise ServeError(simple("E0010", f"--releases {args.releases}: not a folder"))
    admin, run_token = os.environ.get("PEL_ADMIN_TOKEN") or None, os.environ.get("PEL_API_TOKEN") or None
    if admin is not None and admin == run_token:
        raise ServeError(simple("E0011", "PEL_ADMIN_TOKEN must differ from PEL_API_TOKEN: the run token must not "
                                         "change rollouts"))
    config = ServerConfig(
        models_dir=models, releases_dir=releases, admin_token=admin, token=run_token, host=args.host, port=args.port, max_path_steps=args.max_path_steps,
        max_runs=args.max_runs, timeout_s=args.timeout, max_concurrent=args.max_concurrent,
        max_queue=args.max_queue, reload_interval_s=args.reload_interval, warm=args.warm,
        state_dir=None if args.state is None else Path(args.state),
        drift=tuple(n.strip() for item in args.drift or [] for n in item.split(",") if n.strip()),
        drift_window=args.drift_window,
    )
    if config.state_dir is not None and config.state_dir.exists() and not config.state_dir.is_dir():
        raise ServeError(simple("E0010", f"--state {args.state}: not a folder"))
    if args.state is not None:
        from pel.monitor.state import StateStore

        StateStore(Path(args.state)).close()  # a damaged or foreign database is refused (E0914) before starting
    if args.timeout <= 0:
        raise ServeError(simple("E0011", "--timeout must be more than 0 seconds"))
    logs.configure(args.log_level)
    app = create_app(config)
    uvicorn.run(app, host=config.host, port=config.port, log_level=args.log_level, access_log=args.access_log,
                timeout_graceful_shutdown=max(1, int(config.timeout_s)))
    return 0


def _admin(args: argparse.Namespace, action: str, body: dict | None) -> int:
    from pel.server import control

    if args.timeout <= 0:
        raise ServeError(simple("E0011", "--timeout must be more than 0 seconds"))
    token = args.token or os.environ.get("PEL_ADMIN_TOKEN") or None
    state = control.call(args.server, args.model, action, body, token, args.timeout)
    if args.format == "json":
        sys.stdout.write(json.dumps(state, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(control.render(state))
    return 0


def cmd_rollout(args: argparse.Namespace) -> int:
    """Route a share of a released model's requests to a canary version, or run a shadow version beside the
    active one (`pel serve --releases`; needs the server's admin token)."""
    if args.stop:
        if args.version is not None:
            raise ServeError(simple("E0011", "--stop ends the canary (or the shadow with --mode shadow): give no "
                                             "VERSION with it"))
        return _admin(args, "rollout", {"version": None, "mode": args.mode})
    if args.version is None:
        raise ServeError(simple("E0011", "give the VERSION to roll out (or --stop to end a rollout)"))
    if args.mode == "canary" and args.weight is None:
        raise ServeError(simple("E0011", "a canary needs --weight: the percent of requests it answers (0-100)"))
    body = {"version": args.version, "mode": args.mode, **({"weight": args.weight} if args.weight is not None
                                                             else {})}
    return _admin(args, "rollout", body)


def cmd_promote(args: argparse.Namespace) -> int:
    """Make a version of a released model active: VERSION, else the canary, else the shadow (admin token)."""
    return _admin(args, "promote", {"version": args.version})


def cmd_rollback(args: argparse.Namespace) -> int:
    """Make the previous active version of a released model active again and end any canary or shadow (admin
    token)."""
    return _admin(args, "rollback", None)


def _control_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="the released model's name (its folder in the release folder)")
    p.add_argument("--server", required=True, metavar="URL", help="the server, e.g. http://localhost:8000")
    p.add_argument("--token", metavar="TOKEN", default=None,
                   help="the server's admin token; default $PEL_ADMIN_TOKEN (prefer it: `ps` shows arguments)")
    p.add_argument("--timeout", type=_seconds, default=30.0, metavar="SECONDS",
                   help="how long to wait for the server (default 30)")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="text: a summary; json: the server's answer (the model's versions and rollout state)")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `serve`, `rollout`, `promote` and `rollback` subcommands to the `pel` parser."""
    _register_serve(sub)
    p = sub.add_parser("rollout", help=cmd_rollout.__doc__, description=cmd_rollout.__doc__)
    _control_options(p)
    p.add_argument("version", metavar="VERSION", nargs="?", help="the release X.Y.Z to roll out")
    p.add_argument("--weight", type=_weight, metavar="PERCENT",
                   help="canary: percent of requests it answers (needed); shadow: percent of the active version's "
                        "requests it runs beside (default 100)")
    p.add_argument("--mode", choices=["canary", "shadow"], default="canary", help="default canary")
    p.add_argument("--stop", action="store_true", help="end the canary (or, with --mode shadow, the shadow)")
    p.set_defaults(func=cmd_rollout)
    p = sub.add_parser("promote", help=cmd_promote.__doc__, description=cmd_promote.__doc__)
    _control_options(p)
    p.add_argument("version", metavar="VERSION", nargs="?", help="the release X.Y.Z (default: the canary, else the "
                                                                  "shadow)")
    p.set_defaults(func=cmd_promote)
    p = sub.add_parser("rollback", help=cmd_rollback.__doc__, description=cmd_rollback.__doc__)
    _control_options(p)
    p.set_defaults(func=cmd_rollback)


def _register_serve(sub: argparse._SubParsersAction) -> None:
    defaults_cpu = max(1, os.cpu_count() or 1)
    p = sub.add_parser("serve", help=cmd_serve.__doc__, description=cmd_serve.__doc__,
                       epilog="Set PEL_API_TOKEN to require `Authorization: Bearer <token>` on every endpoint "
                              "but /health, and PEL_ADMIN_TOKEN (a different one) to allow rollouts.")
    p.add_argument("--models", metavar="DIR", help="folder of models to serve (each under its file name)")
    p.add_argument("--releases", metavar="DIR",
                   help="release folder of `pel release --dir` to serve: each model under its name, every version "
                        "(name@X.Y.Z), the active one by default, with canary and shadow rollouts")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.add_argument("--timeout", type=_seconds, default=30.0, metavar="SECONDS",
                   help="request deadline; a run past it is cancelled and answered 503 (default 30)")
    p.add_argument("--max-path-steps", type=positive_int, default=10_000_000, metavar="N",
                   help="cap on runs × (steps + 1) per request (default 10000000)")
    p.add_argument("--max-runs", type=positive_int, default=1_000_000, metavar="N",
                   help="cap on Monte Carlo runs per request (default 1000000)")
    p.add_argument("--max-concurrent", type=positive_int, default=defaults_cpu, metavar="N",
                   help=f"runs executing at once, one core each (default: the number of cores, {defaults_cpu})")
    p.add_argument("--max-queue", type=positive_int, default=64, metavar="N",
                   help="requests waiting for a slot; more get 503 with Retry-After (default 64)")
    p.add_argument("--reload-interval", type=_seconds, default=2.0, metavar="SECONDS",
                   help="how often to look for changed model files; 0 turns reloading off (default 2)")
    p.add_argument("--warm", action="store_true",
                   help="compile every model before /health reports ready (until then it answers 503 \"starting\"); "
                        "without it /health is ready at once and models compile in the background")
    p.add_argument("--state", metavar="DIR", default=os.environ.get("PEL_STATE") or None,
                   help="folder of the server's state (actuals posted to /models/{name}/actuals and parameter "
                        "estimates, in SQLite; shared with `pel calibrate|drift|assumptions --state`), kept across "
                        "restarts; default $PEL_STATE; without either they are held in memory only")
    p.add_argument("--drift", action="append", metavar="[MODEL:]PARAM[,…]",
                   help="parameters GET /models/{name}/drift fits (PARAM: in every model that has one; "
                        "MODEL:PARAM: in one model); default: each model's parameters whose provenance method is "
                        "\"fitted\"")
    p.add_argument("--drift-window", type=positive_int, default=12, metavar="W",
                   help="steps per window of the drift check (default 12)")
    p.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"], default="info")
    p.add_argument("--access-log", action="store_true", help="also log every HTTP request (uvicorn's format)")
    p.set_defaults(func=cmd_serve)
