"""Model and assumption hashes: stable across processes, blind to metadata, sensitive to the model."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

from pel.ir import nodes as ir
from pel.ir.hashing import assumption_hash, canonical_json, model_hash, with_hashes
from pel.ir.serialize import dumps_json, dumps_msgpack, loads_json, loads_msgpack
from tests.ir.ir_samples import rich_program, tiny_program

REPO = Path(__file__).resolve().parents[2]
HASH = re.compile(r"^sha256:[0-9a-f]{64}$")


def test_hash_shape() -> None:
    program = rich_program()
    assert HASH.match(model_hash(program))
    assert HASH.match(assumption_hash(program))
    assert model_hash(program) == model_hash(program.model)


def test_with_hashes_fills_metadata_and_keeps_the_rest() -> None:
    program = tiny_program()
    bare = dataclasses.replace(program, metadata={"source_file": "x.pel"})
    hashed = with_hashes(bare)
    assert hashed.metadata["model_hash"] == model_hash(bare)
    assert hashed.metadata["assumption_hash"] == assumption_hash(bare)
    assert hashed.metadata["source_file"] == "x.pel"
    assert bare.metadata == {"source_file": "x.pel"}  # the input is not changed


def test_metadata_does_not_change_the_hash() -> None:
    program = rich_program()
    other = dataclasses.replace(
        program, metadata={"source_file": "/elsewhere/model.pel", "compiled_at": "now"}
    )
    assert model_hash(other) == model_hash(program)


def test_hash_survives_both_encodings() -> None:
    program = rich_program()
    assert model_hash(loads_json(dumps_json(program))) == model_hash(program)
    assert model_hash(loads_msgpack(dumps_msgpack(program))) == model_hash(program)


def test_one_and_one_point_zero_hash_alike() -> None:
    base = tiny_program()
    as_int = dataclasses.replace(base.model.params[0], value=ir.Literal(1), central=1)
    as_float = dataclasses.replace(base.model.params[0], value=ir.Literal(1.0), central=1.0)
    assert model_hash(tiny_program(params=(as_int,))) == model_hash(tiny_program(params=(as_float,)))
    assert canonical_json({"a": 1.0, "b": [2.0, 0.5]}) == '{"a":1,"b":[2,0.5]}'


def test_any_model_change_changes_the_hash() -> None:
    base = tiny_program()
    changed = dataclasses.replace(base.model.params[0], value=ir.Literal(1.0000000001))
    assert model_hash(tiny_program(params=(changed,))) != model_hash(base)
    assert model_hash(tiny_program(time_horizon=7)) != model_hash(base)


def test_assumption_hash_tracks_provenance_only() -> None:
    base = tiny_program()
    p = base.model.params[0]
    new_value = dataclasses.replace(p, value=ir.Literal(2.0))
    new_source = dataclasses.replace(p, provenance=dataclasses.replace(p.provenance, source="someone else"))
    assert assumption_hash(tiny_program(params=(new_value,))) == assumption_hash(base)
    assert assumption_hash(tiny_program(params=(new_source,))) != assumption_hash(base)


_CHILD = """
import runpy, sys
from pel.ir.hashing import model_hash, assumption_hash
from pel.ir.serialize import loads_json
samples = runpy.run_path(sys.argv[1])
program = samples["rich_program"]()
loaded = loads_json(open(sys.argv[2], encoding="utf-8").read())
print(model_hash(program), assumption_hash(program), model_hash(loaded))
"""


def test_hash_is_identical_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    program = rich_program()
    ir_file = tmp_path / "rich.ir.json"
    ir_file.write_text(dumps_json(program), encoding="utf-8")
    samples = Path(__file__).with_name("ir_samples.py")
    outputs = []
    for seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(samples), str(ir_file)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        outputs.append(done.stdout.split())
    expected = [model_hash(program), assumption_hash(program), model_hash(program)]
    assert all(out == expected for out in outputs), outputs
