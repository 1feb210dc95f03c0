"""The client side of `pel rollout|promote|rollback --server URL`: one admin request, its answer, coded errors.

It uses only the standard library (urllib), so the commands work where the server's dependencies are not
installed. A server that cannot be reached is E1118; an answer that is not 2xx is E1119 with the server's own
code and message; neither ever shows a traceback."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from pel.diagnostics import PelError, simple


class ControlError(PelError):
    """A rollout command failed: the server cannot be reached, or it refused the request."""

    phase = "rollout"


def endpoint(server: str, model: str, action: str) -> str:
    """`http://host:8000` + model + action -> `http://host:8000/models/<model>/<action>` (the model name quoted)."""
    parts = urllib.parse.urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ControlError(simple("E0011", f"--server {server!r}: expected an http:// or https:// URL such as "
                                           "http://localhost:8000"))
    base = server.rstrip("/")
    return f"{base}/models/{urllib.parse.quote(model, safe='@')}/{action}"


def call(server: str, model: str, action: str, body: dict[str, Any] | None, token: str | None,
         timeout_s: float = 30.0) -> dict[str, Any]:
    """POST `body` to the admin endpoint `action` of `model` with the admin token; the JSON answer."""
    url = endpoint(server, model, action)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body if body is not None else {}).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 (the scheme is checked)
            text = answer.read()
    except urllib.error.HTTPError as exc:
        raise ControlError(simple("E1119", _refusal(url, exc.code, exc.read()), hint=_hint(exc.code))) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ControlError(simple("E1118", f"cannot reach the server at {server}: {reason}",
                                  hint="check --server and that `pel serve --releases` runs there")) from None
    try:
        out = json.loads(text)
    except ValueError:
        raise ControlError(simple("E1119", f"{url} answered something that is not JSON: {text[:200]!r}")) from None
    if not isinstance(out, dict):
        raise ControlError(simple("E1119", f"{url} answered JSON that is not an object"))
    return out


def _refusal(url: str, status: int, raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        code = f" [{body['code']}]" if body.get("code") else ""
        return f"{url} refused the request with HTTP {status}{code}: {body['detail']}"
    return f"{url} refused the request with HTTP {status}: {raw[:200].decode(errors='replace')}"


def _hint(status: int) -> str | None:
    if status in (401, 403):
        return "give the server's admin token with --token or PEL_ADMIN_TOKEN (not the run token)"
    if status == 404:
        return "the model must be served from --releases; GET /models/<name>/versions lists its versions"
    return None


def render(state: dict[str, Any]) -> str:
    """The versions answer as text: which version is active, canary and shadow."""
    lines = [f"{state.get('model')}: active {state.get('active')}"]
    canary, shadow = state.get("canary"), state.get("shadow")
    if canary:
        lines.append(f"  canary {canary['version']} ({canary['weight']:g}% of requests)")
    if shadow:
        lines.append(f"  shadow {shadow['version']} (beside {shadow['weight']:g}% of the active version's requests)")
    previous = state.get("previous") or []
    if previous:
        lines.append(f"  rollback goes to {previous[-1]}")
    return "\n".join(lines) + "\n"
