"""Hostile IR files: structurally plausible IR with huge and non-finite numbers, lone surrogates, wrong arities and
wrong kinds is loaded, validated and run, and the only outcomes are a run or a coded error (a PelError whose code
is not E9999), never a traceback and never an internal error.

The property test mutates hand-built programs (tests/ir/ir_samples.py) at random places, re-hashes what still
decodes (a file that forges its own hash), then validates and runs it; PEL_HOSTILE_EXAMPLES raises the example
count for a long local run. The named cases below are the ones the issue reported.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pel import limits
from pel.backend import engine
from pel.diagnostics import PelError
from pel.ir import hashing, serialize, validate
from pel.ir import nodes as ir
from tests.ir.ir_samples import lit, rich_program, tiny_program

EXAMPLE_COUNT = int(os.environ.get("PEL_HOSTILE_EXAMPLES", "40"))
RUN_STEPS = 24  # a hostile horizon is the validator's business; the run itself stays short

_RAW = "__raw_json__:"  # a string standing for JSON text that Python's json cannot write (1e400)
HOSTILE_NUMBERS: tuple[Any, ...] = (  # benign first: hypothesis's simplest draws are files that run
    1, 0.5, 7, 0, -1, -0.0, 1e9, 10**9, 1e308, -1e308, 5e-324, 1e-308,
    10**400, -(10**400), 10**20, 2**63, 2**63 - 1, -(2**63) - 1, float("nan"), float("inf"),
    {"$float": "inf"}, {"$float": "-inf"}, {"$float": "nan"}, {"$float": "huge"},
    _RAW + "1e400", _RAW + "-1e400", _RAW + "1" + "0" * 400,
)
HOSTILE_OTHER: tuple[Any, ...] = (
    "\ud800", "a\udfffb", "", "x", "t", "\x00", "𝔘", "x" * 300, "Normal", "Mixture", "+", "^", "!", "sum", "nope",
    "var", "param", "local", "time", "horizon", "array", "initial", "shifted", "general", "literal", "scalar",
    "fatal", "policy_0", "Month", "Second", "Literal", "Ref", "BinaryChain",
    True, False, None, [], {}, [1, 2, 3], {"expr_type": "Nope"}, {"expr_type": "Literal", "value": 1e308},
    {"expr_type": "Literal", "value": "\ud800"}, {"expr_type": "BinaryChain", "first": 1, "links": []},
    {"expr_type": "Ref", "name": "x", "kind": "var"}, {"expr_type": "Ref", "name": "t", "kind": "time"},
)
HOSTILE = HOSTILE_NUMBERS + HOSTILE_OTHER
BASES = {"tiny": serialize.to_dict(tiny_program()), "rich": serialize.to_dict(rich_program())}


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a plain-data tree (the top excluded), depth first."""
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(data, list):
        for k, value in enumerate(data):
            out.append((*prefix, k))
            out.extend(_paths(value, (*prefix, k)))
    return out


def _apply(data: Any, path: tuple, action: str, value: Any) -> None:
    """One mutation at `path`: replace it, drop it, duplicate it, or add `value` beside it."""
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if action == "replace":
        parent[key] = value
    elif action == "drop":
        del parent[key]
    elif action == "duplicate" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(parent[key])))
    elif action == "extra" and isinstance(parent, dict):
        parent[f"{key}_extra"] = value
    elif isinstance(parent, list):
        parent.insert(key, value)  # a list one item longer: wrong arity


def _text(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=True)  # NaN/Infinity come out as JSON's non-standard constants
    return text.replace(f'"{_RAW}', "").replace('__raw_end"', "") if _RAW in text else text


def _raw_marked(value: Any) -> Any:
    return value + "__raw_end" if isinstance(value, str) and value.startswith(_RAW) else value


def _expect_coded(exc: PelError) -> None:
    assert exc.diagnostics, f"{type(exc).__name__} without diagnostics"
    assert exc.code != "E9999", f"internal error for a hostile IR file: {exc.render()}"
    for d in exc.diagnostics:
        assert d.code and d.code != "E9999", d.header()
    exc.render()


def load_validate_run(text: str) -> str:
    """What PEL does with an IR file, its hash forged to match: 'refused' (coded), or 'ran'."""
    try:
        program = serialize.loads_json(text, validate=False)
        program = hashing.with_hashes(program)  # a file that forges its own hashes gets past V012/V013
        validate.validate(program)
        steps = min(program.model.time_horizon, RUN_STEPS)
        engine.run(program, mode="deterministic", steps=steps)
        engine.run(program, mode="monte_carlo", steps=steps, runs=40, seed=3, threads=1)
    except PelError as exc:
        _expect_coded(exc)
        return "refused"
    return "ran"


def _strings(data: Any) -> list[str]:
    """The names and words of a base program: a hostile file reuses them in the wrong places."""
    return sorted({x for p in _paths(data) for x in [_at(data, p)] if isinstance(x, str)} | {
        k for p in _paths(data) if isinstance(p[-1], str) for k in [p[-1]]})


def _at(data: Any, path: tuple) -> Any:
    for key in path:
        data = data[key]
    return data


WORDS = {name: _strings(data) for name, data in BASES.items()}
_numbers = st.one_of(st.sampled_from(HOSTILE_NUMBERS), st.integers(), st.floats())
_anything = st.one_of(st.sampled_from(HOSTILE), st.integers(), st.floats(), st.text(max_size=8))


@st.composite
def hostile_ir(draw: st.DrawFn) -> str:
    """A base program with one to three mutations; a replaced value is mostly of the kind it replaces (a number
    for a number, a name for a name), so that the file gets past decoding into validation and the run."""
    base = draw(st.sampled_from(sorted(BASES)))
    data = json.loads(json.dumps(BASES[base]))
    words = st.one_of(st.sampled_from(WORDS[base]), st.sampled_from(HOSTILE_OTHER[:7]))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = [p for p in _paths(data) if p[0] != "format_version"]
        leaves = [p for p in paths if not isinstance(_at(data, p), dict | list)]
        if draw(st.integers(0, 4)) and leaves:  # mostly a value in place, sometimes the structure
            path, action = draw(st.sampled_from(leaves)), "replace"
        else:
            path = draw(st.sampled_from(paths))
            action = draw(st.sampled_from(("replace", "drop", "duplicate", "extra", "insert")))
        current = _at(data, path)
        if draw(st.integers(0, 3)) == 3:
            value = draw(_anything)
        elif isinstance(current, bool):
            value = draw(st.one_of(st.booleans(), _numbers))
        elif isinstance(current, int | float) or (isinstance(current, dict) and "$float" in current):
            value = draw(_numbers)
        elif isinstance(current, str):
            value = draw(words)
        else:
            value = draw(_anything)
        try:
            _apply(data, path, action, copy.deepcopy(_raw_marked(value)))  # HOSTILE's lists stay as they are
        except (KeyError, IndexError, TypeError):
            continue
    return _text(data)


def _tiny_text(path: tuple, value: Any) -> str:
    data = json.loads(json.dumps(BASES["tiny"]))
    _apply(data, path, "replace", _raw_marked(value))
    return _text(data)


_RIGHT = ("model", "vars", 0, "rules", 1, "expr", "right")  # the 2.0 of x[t+1] = x[t] * 2.0


@settings(max_examples=EXAMPLE_COUNT, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(hostile_ir())
@example(_tiny_text((*_RIGHT, "value"), 1e308))  # runs into an overflow: E0800 at run time
@example(_tiny_text((*_RIGHT, "value"), "t"))  # a string in arithmetic: the backend refuses it (V000)
@example(_tiny_text((*_RIGHT, "value"), True))  # a boolean in arithmetic
@example(_tiny_text(("model", "vars", 0, "rules", 1, "shift"), 2**62))  # a recurrence past any horizon
@example(_tiny_text(("model", "vars", 0, "rules", 1, "expr", "left", "index"), {"expr_type": "Literal",
                                                                                  "value": -1e300}))
@example(_tiny_text(("model", "params", 0, "value", "value"), -1e308))
def test_hostile_ir_runs_or_is_refused_with_a_code(text: str) -> None:
    load_validate_run(text)


def test_the_samples_themselves_are_sound() -> None:
    for data in BASES.values():
        validate.validate(serialize.from_dict(data))


# ---------------------------------------------------------------------------------------------
# The reported cases, one by one
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [_RAW + "1" + "0" * 400, _RAW + "1e400", 10**400, {"$float": "inf"}])
def test_huge_literal_values_are_refused(value: Any) -> None:
    text = _tiny_text(("model", "vars", 0, "rules", 1, "expr", "right", "value"), value)
    assert load_validate_run(text) == "refused"


@pytest.mark.parametrize("horizon", [10**9, 10**8, limits.MAX_STEPS + 1, 10**400, -1])
def test_a_horizon_beyond_the_limit_is_refused_before_any_memory_is_taken(horizon: int) -> None:
    text = _tiny_text(("model", "time_horizon"), horizon)
    with pytest.raises(PelError) as info:
        validate.validate(hashing.with_hashes(serialize.loads_json(text, validate=False)))
    _expect_coded(info.value)
    assert info.value.code in ("V014", "V000")


def test_a_horizon_at_the_limit_is_accepted() -> None:
    validate.validate(tiny_program(time_horizon=limits.MAX_STEPS))


def test_a_lone_surrogate_in_a_string_is_refused() -> None:
    text = _tiny_text(("model", "params", 0, "provenance", "source"), "\ud800")
    with pytest.raises(PelError) as info:
        serialize.loads_json(text)
    _expect_coded(info.value)
    assert "surrogate" in info.value.diagnostics[0].message


def test_runs_and_seed_beyond_the_limits_are_refused() -> None:
    program = tiny_program(simulate=ir.Simulate("monte_carlo", limits.MAX_RUNS + 1, limits.SEED_LIMIT))
    with pytest.raises(PelError) as info:
        validate.validate(program)
    assert {d.code for d in info.value.diagnostics} == {"V000"}
    assert len(info.value.diagnostics) == 2


def test_engine_refuses_runs_and_steps_beyond_the_limits() -> None:
    program = tiny_program()
    with pytest.raises(PelError, match="runs must be") as info:
        engine.run(program, mode="monte_carlo", runs=10**20)
    assert info.value.code == "E0011"
    with pytest.raises(PelError, match="steps must be") as info:
        engine.run(program, steps=limits.MAX_STEPS + 1)
    assert info.value.code == "E0011"


def test_pareto_whose_median_overflows_is_refused() -> None:
    dist = ir.Distribution("Pareto", (("xm", lit(1e-308)), ("alpha", lit(1e-308))))
    base = tiny_program()
    a = dataclasses.replace(base.model.params[0], value=None, distribution=dist, central=None)
    program = tiny_program(params=(a,))
    with pytest.raises(PelError) as info:
        validate.validate(program)
    assert info.value.code == "V007"
    assert "overflows" in info.value.diagnostics[0].message
