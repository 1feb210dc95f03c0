"""The results' metadata keys are one list (pel.resultkeys): every key a run writes is in it, and a variable
may not take one of its names."""

from __future__ import annotations

import json

import pytest

import pel
from pel.diagnostics import PelError
from pel.resultkeys import RESULT_KEYS

MODEL = "model K {\n  var x[t] = t + 1\n  var y = x[t] * 2\n}\n"


def test_every_metadata_key_a_run_writes_is_listed() -> None:
    model = pel.compile_string(MODEL)
    for res in (model.run(steps=2), model.run("monte_carlo", runs=64, steps=2, until_se=0.5)):
        written = set(json.loads(res.to_json())) - set(res.variables)
        assert written <= RESULT_KEYS, written - RESULT_KEYS
    assert {"convergence", "settings_from", "failed_paths", "percentiles"} <= written


@pytest.mark.parametrize("name", sorted(RESULT_KEYS))
def test_a_variable_named_like_a_metadata_key_is_refused(name: str) -> None:
    with pytest.raises(PelError) as exc:
        pel.compile_string(f"model K {{\n  var {name} = 1\n}}\n")
    assert exc.value.diagnostics[0].code != "E9999"
