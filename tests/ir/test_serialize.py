"""IR serialization: lossless JSON and msgpack round trips, canonical output, and clean refusals of bad input."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import msgpack
import pytest

from pel.diagnostics import IRError
from pel.ir import nodes as ir
from pel.ir.hashing import with_hashes
from pel.ir.serialize import (
    dumps_json,
    dumps_msgpack,
    from_dict,
    load,
    loads_json,
    loads_msgpack,
    save,
    to_dict,
)
from tests.ir.ir_samples import rich_program, tiny_program


def _all_node_classes(base: type) -> set[str]:
    return {
        name
        for name, cls in vars(ir).items()
        if isinstance(cls, type) and issubclass(cls, base) and cls is not base
    }


def _used_classes(program: ir.Program) -> set[str]:
    seen: set[str] = set()

    def walk(value: object) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            seen.add(type(value).__name__)
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))
        elif isinstance(value, tuple):
            for item in value:
                walk(item)

    walk(program.model)
    return seen


def test_rich_program_uses_every_node_type() -> None:
    used = _used_classes(rich_program())
    assert _all_node_classes(ir.Expr) <= used
    assert _all_node_classes(ir.Stmt) <= used


def test_json_round_trip_is_lossless() -> None:
    program = rich_program()
    text = dumps_json(program)
    back = loads_json(text)
    assert back == program
    assert dumps_json(back) == text


def test_msgpack_round_trip_is_lossless() -> None:
    program = rich_program()
    back = loads_msgpack(dumps_msgpack(program))
    assert back == program
    assert isinstance(back.model.params, tuple) and isinstance(back.model.vars[0].rules, tuple)
    assert dumps_msgpack(back) == dumps_msgpack(program)


def test_json_and_msgpack_share_one_data_model() -> None:
    program = rich_program()
    via_json = json.loads(dumps_json(program))
    via_msgpack = msgpack.unpackb(dumps_msgpack(program), raw=False)
    assert via_json == via_msgpack == to_dict(program)


def test_json_is_canonical_and_tagged() -> None:
    text = dumps_json(rich_program())
    data = json.loads(text)
    assert list(data) == ["format_version", "metadata", "model"]
    assert data["format_version"] == ir.FORMAT_VERSION
    assert '"expr_type": "Aggregation"' in text and '"stmt_type": "Action"' in text
    assert "«ünïcode»" in text  # ensure_ascii=False
    assert text == json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def test_floats_round_trip_exactly() -> None:
    values = [0.1 + 0.2, 1e-300, 123456789.123456789, -0.0, 5e-324, math.pi, math.inf, -math.inf]
    params = tuple(
        ir.Param(
            f"p{i}",
            tiny_program().model.params[0].type,
            ir.Literal(v),
            None,
            tiny_program().model.params[0].provenance,
        )
        for i, v in enumerate(values)
    )
    program = tiny_program(params=(*tiny_program().model.params, *params))
    for back in (
        loads_json(dumps_json(program), validate=False),
        loads_msgpack(dumps_msgpack(program), validate=False),
    ):
        got = [p.value.value for p in back.model.params[1:]]
        assert [repr(v) for v in got] == [repr(v) for v in values]


def test_nan_literal_round_trips() -> None:
    base = tiny_program()
    p = dataclasses.replace(base.model.params[0], value=ir.Literal(math.nan))
    program = tiny_program(params=(p,))
    back = loads_json(dumps_json(program), validate=False)
    assert math.isnan(back.model.params[0].value.value)


def test_ints_in_float_fields_are_written_as_floats() -> None:
    base = tiny_program()
    p = dataclasses.replace(base.model.params[0], value=ir.Literal(3), central=3)
    data = to_dict(tiny_program(params=(p,)))
    assert data["model"]["params"][0]["value"]["value"] == 3.0
    assert isinstance(data["model"]["params"][0]["central"], float)
    assert isinstance(data["model"]["time_horizon"], int)


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_save_and_load_by_suffix(tmp_path: Path, fmt: str) -> None:
    program = rich_program()
    path = save(program, tmp_path / f"rich.ir.{fmt}")
    assert path.exists()
    assert load(path) == program
    if fmt == "json":
        assert path.read_text(encoding="utf-8") == dumps_json(program)


def test_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IRError) as info:
        load(tmp_path / "model.txt")
    assert info.value.code == "V000"


def test_missing_file_is_an_ir_error(tmp_path: Path) -> None:
    with pytest.raises(IRError) as info:
        load(tmp_path / "absent.ir.json")
    assert info.value.code == "V000"
    assert "cannot read" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


def _refused(text: str | bytes, *, msgpack_format: bool = False) -> IRError:
    with pytest.raises(IRError) as info:
        if msgpack_format:
            loads_msgpack(text, file="bad.ir.msgpack")  # type: ignore[arg-type]
        else:
            loads_json(text, file="bad.ir.json")
    return info.value


@pytest.mark.parametrize(
    "text", ["", "{", "not json", "[1, 2", '{"format_version": NaN}', "\xff", "null", "[]"]
)
def test_garbage_json_is_refused(text: str) -> None:
    err = _refused(text)
    assert err.code == "V000"
    assert err.diagnostics[0].span is not None and err.diagnostics[0].span.file == "bad.ir.json"


def test_truncated_json_is_refused() -> None:
    text = dumps_json(rich_program())
    assert _refused(text[: len(text) // 2]).code == "V000"


@pytest.mark.parametrize("cut", [1, 10, 100, 1000, -1])
def test_truncated_msgpack_is_refused(cut: int) -> None:
    data = dumps_msgpack(rich_program())
    assert _refused(data[:cut], msgpack_format=True).code == "V000"


@pytest.mark.parametrize(
    "data", [b"", b"\xc1", b"\x00\x01\x02", b"garbage bytes here", msgpack.packb([1, 2])]
)
def test_garbage_msgpack_is_refused(data: bytes) -> None:
    assert _refused(data, msgpack_format=True).code == "V000"


def test_other_format_version_is_refused_with_a_clear_message() -> None:
    data = to_dict(rich_program())
    data["format_version"] = "0.2.0"
    err = _refused(json.dumps(data))
    assert err.code == "V000"
    assert "IR format 0.2.0 is not supported by this PEL (reads 0.1.0); recompile the model" in str(err)


def test_missing_format_version_is_refused() -> None:
    data = to_dict(rich_program())
    del data["format_version"]
    assert "format_version" in str(_refused(json.dumps(data)))


def _mutated(mutate) -> str:
    data = to_dict(rich_program())
    mutate(data)
    return json.dumps(data)


def test_wrong_type_reports_the_path() -> None:
    def mutate(d: dict) -> None:
        d["model"]["vars"][0]["rules"][1]["expr"]["op"] = 3

    err = _refused(_mutated(mutate))
    assert err.code == "V000"
    assert "model.vars[0].rules[1].expr.op: expected a string, got integer" in str(err)


def test_unknown_tag_is_refused() -> None:
    def mutate(d: dict) -> None:
        d["model"]["vars"][0]["rules"][0]["expr"]["expr_type"] = "Lambda"

    err = _refused(_mutated(mutate))
    assert "model.vars[0].rules[0].expr: unknown expr_type 'Lambda'" in str(err)


def test_statement_where_expression_expected_is_refused() -> None:
    def mutate(d: dict) -> None:
        d["model"]["vars"][0]["rules"][0]["expr"] = {
            "stmt_type": "Return",
            "value": {"expr_type": "Literal", "value": 1},
        }

    assert "missing field 'expr_type'" in str(_refused(_mutated(mutate)))


def test_missing_field_is_refused() -> None:
    def mutate(d: dict) -> None:
        del d["model"]["params"][0]["provenance"]["confidence"]

    err = _refused(_mutated(mutate))
    assert "model.params[0].provenance: missing field 'confidence'" in str(err)


def test_unknown_field_is_refused() -> None:
    def mutate(d: dict) -> None:
        d["model"]["params"][0]["colour"] = "blue"

    assert "unknown field(s) colour" in str(_refused(_mutated(mutate)))


def test_bad_loc_is_refused() -> None:
    def mutate(d: dict) -> None:
        d["model"]["vars"][0]["loc"] = [1, 2, 3]

    assert "model.vars[0].loc: expected a list of 4 items" in str(_refused(_mutated(mutate)))


def test_boolean_is_not_a_number() -> None:
    def mutate(d: dict) -> None:
        d["model"]["time_horizon"] = True

    assert "model.time_horizon: expected an integer, got boolean" in str(_refused(_mutated(mutate)))


def test_deeply_nested_input_is_refused_cleanly() -> None:
    expr: dict = {"expr_type": "Literal", "value": 1.0}
    for _ in range(480):
        expr = {"expr_type": "Unary", "op": "-", "operand": expr}
    data = to_dict(rich_program())
    data["model"]["vars"][0]["rules"][0]["expr"] = expr
    with pytest.raises(IRError):
        loads_msgpack(msgpack.packb(data))
    with pytest.raises(IRError):
        loads_json("[" * 100_000 + "]" * 100_000)


def test_from_dict_needs_an_object() -> None:
    with pytest.raises(IRError):
        from_dict([1, 2, 3])  # type: ignore[arg-type]


def test_validation_runs_on_load_and_can_be_skipped() -> None:
    program = rich_program()
    broken = dataclasses.replace(program.model, order=("cost", "mrr", "total", "npv_value"))
    bad = with_hashes(dataclasses.replace(program, model=broken))
    text = dumps_json(bad)
    with pytest.raises(IRError) as info:
        loads_json(text)
    assert info.value.code == "V001"
    assert loads_json(text, validate=False) == bad
