"""Scenarios at run time: the program and parameter overrides that run a model under one of its `scenario` blocks.

A scenario value that is a number where the declaration is a number becomes an override (the model's kernels as
they are); a distribution, or a number where the declaration has a distribution, replaces the declaration in a
copy of the program (kernels of their own, compiled once and cached like any model's). Overrides given with the
run (`--set`, `params=`) win over the scenario's."""

from __future__ import annotations

import dataclasses

from pel.diagnostics import RunError, simple
from pel.ir import nodes as ir

SCENARIO_KEY = "scenario"  # metadata key of a program rewritten for a scenario (the scenario's name)


def names(program: ir.Program) -> list[str]:
    return [s.name for s in program.model.scenarios]


def apply(program: ir.Program, name: str) -> tuple[ir.Program, dict[str, float]]:
    """The program to run for scenario `name` and its overrides (step units); E0600 for an unknown name."""
    model = program.model
    sc = next((s for s in model.scenarios if s.name == name), None)
    if sc is None:
        known = ", ".join(names(program)) or "none"
        raise RunError(simple("E0600", f"{model.name} has no scenario {name!r}", hint=f"scenarios: {known}"))
    base = {p.name: p for p in model.params}
    overrides: dict[str, float] = {}
    replaced: dict[str, ir.Param] = {}
    for p in sc.params:
        old = base[p.name]
        constant = p.distribution is None and isinstance(p.value, ir.Literal) and p.central is not None
        if constant and old.distribution is None:
            overrides[p.name] = float(p.central)
        else:
            replaced[p.name] = p
    if replaced:
        params = tuple(replaced.get(p.name, p) for p in model.params)
        program = dataclasses.replace(program, model=dataclasses.replace(model, params=params),
                                      metadata={**program.metadata, SCENARIO_KEY: name})
    return program, overrides
