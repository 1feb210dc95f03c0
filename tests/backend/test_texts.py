"""Texts in a model: a variable bound to a string literal is reported as written, and comparisons of texts
known before the run are decided at code generation (the kernels hold numbers only)."""

from __future__ import annotations

import json

import pytest

import pel

P = '{ source: "s", method: "observed", confidence: 0.9 }'
MODEL = f"""
model Texts {{
  param region: String = "EMEA" {P}
  var label = "hello"
  var same = "a" == "b"
  var differs = "a" != "b"
  var is_emea = region == "EMEA"
  var by_label = if label == "hello" then 10 else 20
}}
"""


@pytest.mark.parametrize("mode", ["deterministic", "monte_carlo"])
def test_texts_are_reported_and_compared(mode: str) -> None:
    res = pel.compile_string(MODEL).run(mode, runs=50, steps=3)
    out = json.loads(res.to_json())
    assert out["status"] == "success"
    assert out["label"] == {"value": "hello"}
    got = {k: out[k]["value"] if mode == "deterministic" else out[k]["mean"] for k in ("same", "differs",
                                                                                          "is_emea", "by_label")}
    assert got == {"same": False if mode == "deterministic" else 0.0, "differs": True if mode == "deterministic"
                   else 1.0, "is_emea": True if mode == "deterministic" else 1.0, "by_label": 10.0}
