"""Running a documented shell block as written: the ```bash block under a heading of a markdown file, with the
server's port changed to a free one and `pel`/`python` the interpreter under test."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def bash_block(doc: str, heading: str) -> str:
    """The first ```bash block after `heading` in docs/`doc`, verbatim."""
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    section = text[text.index(heading):]
    m = re.search(r"```bash\n(.*?)```", section, re.S)
    assert m is not None, f"no bash block in the {heading!r} section of docs/{doc}"
    return m.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_block(block: str, cwd: Path, extra_env: dict[str, str] | None = None,
              timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run `block` with bash (`set -eu`, background jobs killed at the end) in `cwd`: the server on a free port,
    `pel` and `python` this interpreter with this checkout first on its path, PEL's environment variables unset."""
    port = free_port()
    script = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("localhost:8000", f"localhost:{port}")
    script = script.replace("pel serve ", f"pel serve --port {port} ")
    shims = cwd / ".bin"
    shims.mkdir(exist_ok=True)
    for name, target in (("pel", f'"{sys.executable}" -m pel.cli "$@"'), ("python", f'"{sys.executable}" "$@"')):
        path = shims / name
        path.write_text(f"#!/bin/sh\nexec {target}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO),
           **(extra_env or {})}
    for name in ("PEL_STATE", "PEL_API_TOKEN", "PEL_ADMIN_TOKEN"):
        if name not in (extra_env or {}):
            env.pop(name, None)
    wrapped = "set -eu\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script
    return subprocess.run(["bash", "-c", wrapped], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
