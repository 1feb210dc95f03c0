"""Content hashes of an IR model: `model_hash` (the model object) and `assumption_hash` (its provenance)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from pel.ir.nodes import Model, Program
from pel.ir.serialize import encode_canonical

_EXACT_INT_LIMIT = 2**53


def _normalize(value: Any) -> Any:
    """Integral floats become ints (1.0 and 1 hash alike); containers are normalized recursively."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_INT_LIMIT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {k: _normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def canonical_json(data: Any) -> str:
    """Compact canonical JSON: sorted keys, no whitespace, UTF-8 text, normalized numbers."""
    return json.dumps(
        _normalize(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _sha256_encoded(data: Any) -> str:
    """The hash of data already in canonical form (from `encode_canonical`, keys sorted): no second
    normalizing walk, no sorting pass, and no cycle check (the encoding is a freshly built tree)."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False, check_circular=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_of(program_or_model: Program | Model) -> Model:
    if isinstance(program_or_model, Program):
        return program_or_model.model
    if isinstance(program_or_model, Model):
        return program_or_model
    raise TypeError(f"expected an ir.Program or ir.Model, got {type(program_or_model).__name__}")


def model_hash(program_or_model: Program | Model) -> str:
    """SHA-256 ("sha256:<hex>") of the canonical JSON of the `model` object (no metadata, timestamps or paths)."""
    return _sha256_encoded(encode_canonical(_model_of(program_or_model)))


def assumption_hash(program_or_model: Program | Model) -> str:
    """SHA-256 ("sha256:<hex>") of the canonical JSON of every parameter's provenance, keyed by parameter name
    (correlations included, as they are part of the provenance)."""
    model = _model_of(program_or_model)
    by_name = {p.name: encode_canonical(p.provenance) for p in model.params}
    return _sha256_encoded(dict(sorted(by_name.items())))


def with_hashes(program: Program) -> Program:
    """A copy of the program whose metadata carries `model_hash` and `assumption_hash`."""
    metadata = dict(program.metadata)
    metadata["model_hash"] = model_hash(program)
    metadata["assumption_hash"] = assumption_hash(program)
    return dataclasses.replace(program, metadata=metadata)
