"""Rollout endpoints of `pel serve --releases`: a model's versions, and canary, shadow, promote and rollback.

Reading the versions needs the run token (as every model route); changing the routing needs the admin token
(`PEL_ADMIN_TOKEN`, `Authorization: Bearer <admin token>`), which the run token never stands in for. A server
without an admin token refuses every change (403, E1112): the endpoints are never open."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Security
from fastapi.security import HTTPBearer

from pel.monitor.state import Rollout
from pel.server import logs
from pel.server.errors import ApiError
from pel.server.metrics import Metrics
from pel.server.releases import Releases, split_name
from pel.server.schemas import ErrorBody, PromoteRequest, RolloutRequest, Routed, VersionInfo, Versions

ADMIN_ACTIONS = ("rollout", "promote", "rollback")
MAX_PREVIOUS = 100  # earlier active versions kept for rollbacks


def admin_path(path: str) -> bool:
    """Whether `path` is an admin endpoint (checked against the admin token, not the run token)."""
    parts = path.split("/")
    return len(parts) == 4 and parts[0] == "" and parts[1] == "models" and parts[3] in ADMIN_ACTIONS


def admin_guard(token: str | None) -> Callable[[Request], Awaitable[None]]:
    """A dependency that lets a request through only with `Authorization: Bearer <token>`."""
    expected = None if token is None else f"Bearer {token}".encode()

    async def check(request: Request) -> None:
        if expected is None:
            raise ApiError(403, "E1112", "this server has no admin token: start it with PEL_ADMIN_TOKEN set to "
                                         "change rollouts")
        given = request.headers.get("authorization", "").encode()
        if not given:
            raise ApiError(401, "E1113", "the admin token is required (Authorization: Bearer <PEL_ADMIN_TOKEN>)",
                           headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(given, expected):
            raise ApiError(403, "E1113", "this token may not change rollouts: the admin token (PEL_ADMIN_TOKEN) "
                                         "is required")

    return check


def versions_body(releases: Releases, name: str) -> Versions:
    """The versions of a released model with their roles, and its rollout state."""
    state = releases.state(name)
    if state is None:
        raise ApiError(404, "E1111", f"{name!r} is not a released model of this server", "name")
    roles = {state.active: "active"}
    if state.canary is not None:
        roles[state.canary] = "canary"
    if state.shadow is not None:
        roles[state.shadow] = "shadow"
    infos = [VersionInfo(version=v, hash=None if e.model is None else e.model.hash, file=e.path.name,
                         role=roles.get(v), error=None if e.model is not None else e.error_code)  # type: ignore[arg-type]
             for v, e in releases.versions(name).items()]
    return Versions(model=name, active=state.active, previous=list(state.previous), updated_at=state.updated_at,
                    canary=None if state.canary is None else Routed(version=state.canary, weight=state.canary_weight),
                    shadow=None if state.shadow is None else Routed(version=state.shadow, weight=state.shadow_weight),
                    versions=infos)


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {401: "no token given", 403: "not the admin token, or the server has none (E1112)",
            404: "not a released model (E1111), or no such release (E1110)",
            409: "a change the state does not allow (E1114–E1117), or a version whose file does not load",
            422: "invalid request (the message names the field)"}
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


def routes(releases: Releases, metrics: Metrics, admin_token: str | None, secured: list[Any]) -> APIRouter:
    """The versions endpoint (run token) and the admin endpoints of rollouts."""
    router = APIRouter(tags=["releases"])
    admin = [Security(HTTPBearer(auto_error=False, scheme_name="admin token")), Depends(admin_guard(admin_token))]

    def released_name(name: str) -> str:
        bare, version = split_name(name)
        if version is not None or bare not in releases:
            raise ApiError(404, "E1111", f"{name!r} is not a released model of this server (served with "
                                         f"--releases: {', '.join(releases.names()) or 'none'})", "name")
        return bare

    def loadable(name: str, version: str) -> None:
        entry = releases.versions(name).get(version)
        if entry is None:
            raise ApiError(404, "E1110", f"model {name!r} has no release {version!r} (released: "
                                         f"{', '.join(releases.versions(name))})", "version")
        if entry.model is None:
            raise ApiError(409, entry.error_code or "E9999", f"release {version} of {name!r} ({entry.path.name}) "
                                                             f"does not load: {entry.error}", "version")

    async def changed(name: str, action: str, change: Callable[[Rollout], Rollout]) -> Versions:
        before, after = await asyncio.to_thread(releases.change, name, change)
        for entry in releases.answering(name):
            metrics.serve(name, entry.model, entry.version)  # type: ignore[arg-type]
        metrics.rollout(after)
        logs.log_rollout(model=name, action=action, state=after.to_dict(), before=before.to_dict())
        return versions_body(releases, name)

    @router.get("/models/{name}/versions", response_model=Versions, dependencies=secured,
                responses=_responses(401, 404))
    async def get_versions(name: str) -> Versions:
        """A released model's versions (with their model hashes) and which is active, canary or shadow."""
        return versions_body(releases, released_name(name))

    @router.post("/models/{name}/rollout", response_model=Versions, dependencies=admin,
                 responses=_responses(401, 403, 404, 409, 422))
    async def rollout(name: str, body: Annotated[RolloutRequest, Body()]) -> Versions:
        """Route `weight` percent of requests to a canary version, or run a shadow version beside the active one
        on `weight` percent of its requests (its answers are compared, never returned). `version: null` ends the
        canary or shadow. Admin token."""
        name = released_name(name)
        version, mode = body.version, body.mode
        if version is not None:
            loadable(name, version)
            if mode == "canary" and body.weight is None:
                raise ApiError(422, "E1114", "a canary needs a weight: the percent of requests it answers (0-100)",
                               "weight")
        weight = 100.0 if body.weight is None else float(body.weight)

        def change(state: Rollout) -> Rollout:
            if version is None:
                return replace(state, canary=None, canary_weight=0.0) if mode == "canary" else \
                    replace(state, shadow=None, shadow_weight=0.0)
            if version == state.active:
                raise ApiError(409, "E1114", f"{version} is the active version of {name!r}; roll out another one",
                               "version")
            if mode == "canary":
                state = replace(state, canary=version, canary_weight=weight)
                return replace(state, shadow=None, shadow_weight=0.0) if state.shadow == version else state
            state = replace(state, shadow=version, shadow_weight=weight)
            return replace(state, canary=None, canary_weight=0.0) if state.canary == version else state

        return await changed(name, "rollout", change)

    @router.post("/models/{name}/promote", response_model=Versions, dependencies=admin,
                 responses=_responses(401, 403, 404, 409, 422))
    async def promote(name: str, body: Annotated[PromoteRequest | None, Body()] = None) -> Versions:
        """Make a version active: the one named, else the canary, else the shadow. The version it replaces is
        remembered for a rollback. Admin token."""
        name = released_name(name)
        named = None if body is None else body.version
        if named is not None:
            loadable(name, named)

        def change(state: Rollout) -> Rollout:
            version = named or state.canary or state.shadow
            if version is None:
                raise ApiError(409, "E1116", f"model {name!r} has no canary or shadow to promote; name the version",
                               "version")
            if version == state.active:
                raise ApiError(409, "E1116", f"{version} is already the active version of {name!r}", "version")
            state = replace(state, active=version, previous=(*state.previous, state.active)[-MAX_PREVIOUS:])
            if state.canary == version:
                state = replace(state, canary=None, canary_weight=0.0)
            if state.shadow == version:
                state = replace(state, shadow=None, shadow_weight=0.0)
            return state

        return await changed(name, "promote", change)

    @router.post("/models/{name}/rollback", response_model=Versions, dependencies=admin,
                 responses=_responses(401, 403, 404, 409))
    async def rollback(name: str) -> Versions:
        """Make the previous active version active again, and end any canary and shadow. Admin token."""
        name = released_name(name)

        def change(state: Rollout) -> Rollout:
            if not state.previous:
                raise ApiError(409, "E1115", f"model {name!r} has no previous active version to roll back to")
            back = state.previous[-1]
            if back not in releases.versions(name):
                raise ApiError(409, "E1117", f"the previous version {back} of model {name!r} is no longer in the "
                                             "release folder; promote a version instead")
            return Rollout(name, back, state.previous[:-1])

        return await changed(name, "rollback", change)

    return router
