"""IR serialization: one data model (plain dicts built from the node dataclasses), two encodings (JSON, msgpack).

The converter is generic: it walks the dataclass fields and their type hints, so a new IR node or field needs
no code here. Expressions carry an `expr_type` tag and statements a `stmt_type` tag (the class name); other
dataclasses are untagged because their place in the tree fixes their class. Tuples become lists; fields equal to their default are omitted. Non-finite
floats (not representable in JSON) are written as `{"$float": "inf" | "-inf" | "nan"}` in both encodings.
Every decoding problem is an `IRError` with code V000 and the path of the offending value.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal

import msgpack

from pel.diagnostics import Diagnostic, IRError, Span
from pel.fileio import write_atomic
from pel.ir import nodes
from pel.ir.nodes import FORMAT_VERSION, Expr, Model, Program, Stmt

__all__ = [
    "to_dict",
    "from_dict",
    "encode",
    "decode",
    "dumps_json",
    "loads_json",
    "dumps_msgpack",
    "loads_msgpack",
    "save",
    "load",
]

_FLOAT_TAG = "$float"
CHAIN_TAG = "BinaryChain"  # a long left-nested chain of Binary nodes, written flat (see _encode_chain)
CHAIN_MIN = 32  # chains at least this long are written flat; shorter ones nest as BinaryOp always did
_TAGS: dict[type, str] = {Expr: "expr_type", Stmt: "stmt_type"}


def _subclasses(base: type) -> dict[str, type]:
    return {
        name: cls
        for name, cls in vars(nodes).items()
        if isinstance(cls, type)
        and issubclass(cls, base)
        and cls is not base
        and dataclasses.is_dataclass(cls)
    }


_BY_TAG: dict[type, dict[str, type]] = {base: _subclasses(base) for base in _TAGS}
_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    found = _HINTS.get(cls)
    if found is None:
        found = typing.get_type_hints(cls)
        _HINTS[cls] = found
    return found


def _tag_base(cls: type) -> type | None:
    for base in _TAGS:
        if issubclass(cls, base):
            return base
    return None


class _DecodeError(Exception):
    """Internal: a decoding problem at a path; turned into an IRError at the entry points."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


# ---------------------------------------------------------------------------------------------
# Encoding: dataclasses -> plain data
# ---------------------------------------------------------------------------------------------


def _encode_float(value: float) -> float | dict:
    if math.isfinite(value):
        return float(value)
    return {_FLOAT_TAG: "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


@functools.cache
def _wants_float(hint: Any) -> bool:
    """True when an int in this position should be written as a float (the field is typed float, not int)."""
    if hint is float:
        return True
    args = typing.get_args(hint)
    return float in args and int not in args


_MISSING = object()
_LOC = object()  # marks `Loc` fields in an encoding plan
_EXACT_INT_LIMIT = 2**53  # integral floats below this are exact as ints
_PLANS: dict[type, tuple[str | None, str, tuple[tuple[str, Any, Any], ...]]] = {}


def _plan(cls: type) -> tuple[str | None, str, tuple[tuple[str, Any, Any], ...]]:
    """How to encode one node class: its tag key and value, and per field (name, hint, default or _MISSING).

    Built once per class: encoding is the hot path of hashing and saving a program.
    """
    found = _PLANS.get(cls)
    if found is None:
        hints = _hints(cls)
        base = _tag_base(cls)
        items = []
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()  # IR defaults are immutable values: one instance serves all
            else:
                default = _MISSING
            hint = hints[f.name]
            items.append((f.name, _LOC if hint == nodes.Loc else hint, default))
        found = (_TAGS[base] if base is not None else None, cls.__name__, tuple(items))
        _PLANS[cls] = found
    return found


def encode(value: Any, hint: Any = None) -> Any:
    """Any IR value (a node, a tuple, a scalar) as plain JSON-compatible data.

    Fields equal to their declared default are left out: shorter files, still one canonical form.
    """
    return _encode(value, hint)


def encode_canonical(value: Any) -> Any:
    """Like `encode`, with integral floats written as ints, so that 1 and 1.0 hash alike (the hashing form).

    Every object's keys come out sorted, so that the JSON text needs no `sort_keys` pass.
    """
    return _encode_canonical(value)


_TAG_ENTRY = object()  # marks the tag in a canonical plan: (tag key, _TAG_ENTRY, tag value)
_CANONICAL_PLANS: dict[type, tuple[tuple[str, Any, Any], ...]] = {}


def _canonical_plan(cls: type) -> tuple[tuple[str, Any, Any], ...]:
    """The entries of `_plan(cls)`, the tag among them, sorted by key; a field's hint is kept only as _LOC
    (no other hint matters to the canonical form: ints stay ints)."""
    found = _CANONICAL_PLANS.get(cls)
    if found is None:
        tag_key, tag, items = _plan(cls)
        entries = [(name, _LOC if hint is _LOC else None, default) for name, hint, default in items]
        if tag_key is not None:
            entries.append((tag_key, _TAG_ENTRY, tag))
        found = tuple(sorted(entries, key=lambda entry: entry[0]))
        _CANONICAL_PLANS[cls] = found
    return found


def _encode_canonical(value: Any) -> Any:
    """`_encode` for hashing: no hints (ints stay ints), integral floats as ints, sorted keys (the hot path of
    `model_hash`)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is nodes.Binary:
        chain = _encode_chain(value, _encode_canonical, canonical=True)
        if chain is not None:
            return chain
    plan = _CANONICAL_PLANS.get(kind)
    if plan is None and dataclasses.is_dataclass(kind):
        plan = _canonical_plan(kind)
    if plan is not None:
        out: dict[str, Any] = {}
        for name, mark, default in plan:
            if mark is _TAG_ENTRY:
                out[name] = default
                continue
            item = getattr(value, name)
            if default is not _MISSING and type(item) is type(default) and item == default:
                continue
            if mark is _LOC and type(item) is tuple:  # source spans: four ints, the commonest field
                out[name] = list(item)
                continue
            out[name] = _encode_canonical(item)
        return out
    if kind is tuple or kind is list:
        return [_encode_canonical(v) for v in value]
    if kind is float:
        if value.is_integer() and abs(value) < _EXACT_INT_LIMIT:
            return int(value)
        return _encode_float(value)
    if kind is int:
        return value
    if isinstance(value, dict):
        encoded = {str(k): _encode_canonical(v) for k, v in value.items()}
        return dict(sorted(encoded.items()))
    if isinstance(value, bool):  # subclasses of the plain types (numpy scalars among them)
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return _encode_canonical(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, tuple | list):
        return _encode_canonical(tuple(value))
    raise TypeError(f"cannot serialize a value of type {type(value).__name__} in the IR")


def _encode(value: Any, hint: Any) -> Any:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is float:
        return _encode_float(value)
    if kind is tuple or kind is list:
        item_hints = _item_hints(hint, len(value))
        return [_encode(v, h) for v, h in zip(value, item_hints, strict=True)]
    if kind is int:
        return float(value) if _wants_float(hint) else value
    if kind is nodes.Binary:
        chain = _encode_chain(value, lambda v: _encode(v, None), canonical=False)
        if chain is not None:
            return chain
    if dataclasses.is_dataclass(kind):
        tag_key, tag, items = _plan(kind)
        out: dict[str, Any] = {tag_key: tag} if tag_key is not None else {}
        for name, field_hint, default in items:
            item = getattr(value, name)
            if default is not _MISSING and type(item) is type(default) and item == default:
                continue
            if field_hint is _LOC and type(item) is tuple:  # source spans: four ints, the commonest field
                out[name] = list(item)
                continue
            out[name] = _encode(item, field_hint)
        return out
    if isinstance(value, dict):
        return {str(k): _encode(v, None) for k, v in value.items()}
    if isinstance(value, bool):  # subclasses of the plain types (numpy scalars among them)
        return bool(value)
    if isinstance(value, int):
        return _encode(int(value), hint)
    if isinstance(value, float):
        return _encode(float(value), hint)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, tuple | list):
        return _encode(tuple(value), hint)
    raise TypeError(f"cannot serialize a value of type {type(value).__name__} in the IR")


def _encode_chain(value: nodes.Binary, enc: Any, canonical: bool) -> dict | None:
    """A left-nested chain of CHAIN_MIN or more Binary nodes as one flat object, so that neither encoding nests
    a flat sum of ten thousand terms ten thousand levels deep: {"expr_type": "BinaryChain", "first": leftmost
    operand, "links": [{"operator", "right", "loc"}, ...] bottom-up}. Decoding rebuilds the same nodes."""
    first, chain = nodes.left_spine(value)
    if len(chain) < CHAIN_MIN:
        return None
    links = []
    for node in chain:
        link = {"operator": node.op, "right": enc(node.right)}
        if node.loc is not None:
            link["loc"] = list(node.loc)
        links.append(dict(sorted(link.items())) if canonical else link)
    return {"expr_type": CHAIN_TAG, "first": enc(first), "links": links}


def _decode_chain(data: dict, path: str) -> nodes.Binary:
    """The nodes of a BinaryChain object (strict: exactly its three keys, each link exactly its own)."""
    if set(data) != {"expr_type", "first", "links"} or not isinstance(data["links"], list) or not data["links"]:
        raise _DecodeError(path, "a BinaryChain has exactly 'first' and a non-empty list of 'links'")
    expr: Expr = decode(data["first"], Expr, f"{path}.first")
    for k, link in enumerate(data["links"]):
        at = f"{path}.links[{k}]"
        if not isinstance(link, dict) or not {"operator", "right"} <= set(link) <= {"operator", "right", "loc"}:
            raise _DecodeError(at, "a chain link has 'operator', 'right' and optionally 'loc'")
        op = decode(link["operator"], str, f"{at}.operator")
        loc = decode(link.get("loc"), nodes.Loc, f"{at}.loc")
        expr = nodes.Binary(op, expr, decode(link["right"], Expr, f"{at}.right"), loc)
    return expr  # type: ignore[return-value]


def _item_hints(hint: Any, n: int) -> list[Any] | tuple[Any, ...]:
    if hint is None:
        return [None] * n
    variadic = _variadic_hint(hint)
    if variadic is not _MISSING:
        return [variadic] * n
    return _fixed_item_hints(hint, n)


@functools.cache
def _fixed_item_hints(hint: Any, n: int) -> tuple[Any, ...]:
    hint = _strip_optional(hint)
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == n:
            return tuple(args)
    return (None,) * n


@functools.cache
def _variadic_hint(hint: Any) -> Any:
    """The element hint of `tuple[X, ...]` (optional allowed), else _MISSING."""
    inner = _strip_optional(hint)
    if typing.get_origin(inner) is tuple:
        args = typing.get_args(inner)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    return _MISSING


def _strip_optional(hint: Any) -> Any:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def to_dict(program: Program) -> dict:
    """The program as plain data (the common data model of both encodings)."""
    return {
        "format_version": program.format_version,
        "model": encode(program.model),
        "metadata": encode(program.metadata),
    }


# ---------------------------------------------------------------------------------------------
# Decoding: plain data -> dataclasses (strict, with paths)
# ---------------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
    }.get(type(value), type(value).__name__)


def _hint_name(hint: Any) -> str:
    if isinstance(hint, type):
        return {
            float: "a number",
            int: "an integer",
            str: "a string",
            bool: "a boolean",
            dict: "an object",
        }.get(hint, f"a {hint.__name__} object")
    return str(hint).replace("pel.ir.nodes.", "")


_INT_LIMIT = 2**63  # integers in the IR are 64-bit (steps, sites, seeds): a larger one is not PEL's
_SURROGATE = re.compile("[\ud800-\udfff]")  # half of a UTF-16 pair: no character, and not UTF-8 text


def _decode_float(value: Any, path: str) -> float:
    if isinstance(value, bool):
        raise _DecodeError(path, "expected a number, got a boolean")
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            raise _DecodeError(path, "number out of range (PEL numbers are 64-bit floats)") from None
    if isinstance(value, float):
        return value
    if isinstance(value, dict) and set(value) == {_FLOAT_TAG}:
        spelled = value[_FLOAT_TAG]
        if spelled in ("inf", "-inf", "nan"):
            return float(spelled)
    raise _DecodeError(path, f"expected a number, got {_type_name(value)}")


def _decode_scalar(value: Any, hint: type, path: str) -> Any:
    if hint is float:
        return _decode_float(value, path)
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            if not -_INT_LIMIT <= value < _INT_LIMIT:
                raise _DecodeError(path, "integer out of range (PEL integers are 64-bit)")
            return value
        raise _DecodeError(path, f"expected an integer, got {_type_name(value)}")
    if hint is str:
        if type(value) is str:
            return _text(value, path)
        raise _DecodeError(path, f"expected {_hint_name(hint)}, got {_type_name(value)}")
    if hint is bool:
        if type(value) is bool:
            return value
        raise _DecodeError(path, f"expected {_hint_name(hint)}, got {_type_name(value)}")
    if hint is dict:
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            _check_plain(value, path)
            return value
        raise _DecodeError(path, f"expected an object with string keys, got {_type_name(value)}")
    raise _DecodeError(path, f"unsupported type {hint!r}")


def _text(value: str, path: str) -> str:
    """A string of the IR, refused when it holds a lone surrogate (JSON's "\\ud800" escapes can make one)."""
    if _SURROGATE.search(value):
        raise _DecodeError(path, "a string holds a lone surrogate (\\ud800-\\udfff): not Unicode text")
    return value


def _check_plain(value: dict, path: str) -> None:
    """Free-form data (the metadata) holds only what every encoding and every output can carry: text without
    lone surrogates, 64-bit integers, finite numbers. Walked without recursion."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str):
                    raise _DecodeError(at, f"expected string keys, got {_type_name(key)}")
                _text(key, at)
                stack.append((inner, f"{at}.{key}"))
        elif isinstance(item, list):
            stack.extend((inner, f"{at}[{k}]") for k, inner in enumerate(item))
        elif isinstance(item, str):
            _text(item, at)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -_INT_LIMIT <= item < _INT_LIMIT:
                raise _DecodeError(at, "integer out of range (PEL integers are 64-bit)")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _DecodeError(at, "number out of range (PEL numbers are finite 64-bit floats)")
        else:
            raise _DecodeError(at, f"unexpected {_type_name(item)}")


def _decode_union(value: Any, args: tuple, path: str) -> Any:
    if value is None:
        if type(None) in args:
            return None
        raise _DecodeError(path, "expected a value, got null")
    alternatives = [a for a in args if a is not type(None)]
    if len(alternatives) == 1:
        return decode(value, alternatives[0], path)
    # A union of scalars (Literal.value: float | bool | str): pick by the JSON type.
    if isinstance(value, bool) and bool in alternatives:
        return value
    if isinstance(value, str) and str in alternatives:
        return _text(value, path)
    if float in alternatives and not isinstance(value, (bool, str)):
        return _decode_float(value, path)
    raise _DecodeError(
        path, f"expected one of {', '.join(_hint_name(a) for a in alternatives)}, got {_type_name(value)}"
    )


def _decode_tuple(value: Any, args: tuple, path: str) -> tuple:
    if not isinstance(value, (list, tuple)):
        raise _DecodeError(path, f"expected a list, got {_type_name(value)}")
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(decode(v, args[0], f"{path}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise _DecodeError(path, f"expected a list of {len(args)} items, got {len(value)}")
    return tuple(decode(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))


def _decode_dataclass(value: Any, cls: type, path: str) -> Any:
    if not isinstance(value, dict):
        raise _DecodeError(path, f"expected {_hint_name(cls)}, got {_type_name(value)}")
    base = _tag_base(cls)
    data = dict(value)
    if base is not None:
        tag_key = _TAGS[base]
        if tag_key not in data:
            raise _DecodeError(path, f"missing field '{tag_key}'")
        tag = data.pop(tag_key)
        if base is Expr and tag == CHAIN_TAG and cls in (Expr, nodes.Binary):
            return _decode_chain({tag_key: tag, **data}, path)
        known = _BY_TAG[base]
        if not isinstance(tag, str) or tag not in known:
            raise _DecodeError(
                path, f"unknown {tag_key} {tag!r} (expected one of {', '.join(sorted(known))})"
            )
        actual = known[tag]
        if not issubclass(actual, cls):
            raise _DecodeError(path, f"expected {_hint_name(cls)}, got {tag_key} {tag!r}")
        cls = actual
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = decode(data.pop(f.name), hints[f.name], f"{path}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _DecodeError(path, f"missing field '{f.name}' of {cls.__name__}")
    if data:
        raise _DecodeError(path, f"unknown field(s) {', '.join(sorted(map(str, data)))} in {cls.__name__}")
    return cls(**kwargs)


def decode(value: Any, hint: Any, path: str) -> Any:
    """Plain data -> the IR value described by `hint`; raises _DecodeError with the path on any mismatch."""
    origin = typing.get_origin(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return _decode_union(value, typing.get_args(hint), path)
    if origin is tuple:
        return _decode_tuple(value, typing.get_args(hint), path)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _decode_dataclass(value, hint, path)
    if value is None:
        raise _DecodeError(path, f"expected {_hint_name(hint)}, got null")
    return _decode_scalar(value, hint, path)


def _ir_error(message: str, file: str) -> IRError:
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")  # names from the file, shown safely
    return IRError(Diagnostic("error", "V000", message, Span(file, 0, 0, 0, 0)))


def from_dict(data: Any, *, file: str = "<ir>") -> Program:
    """Plain data -> Program (structure only; `pel.ir.validate` checks the meaning). Raises IRError V000."""
    if not isinstance(data, dict):
        raise _ir_error(f"an IR file holds an object at the top, got {_type_name(data)}", file)
    version = data.get("format_version")
    if version is None:
        raise _ir_error("not a PEL IR file: no 'format_version' at the top", file)
    if version != FORMAT_VERSION:
        raise _ir_error(
            f"IR format {version} is not supported by this PEL (reads {FORMAT_VERSION}); recompile the model",
            file,
        )
    unknown = set(data) - {"format_version", "model", "metadata"}
    try:
        if unknown:
            raise _DecodeError("<top>", f"unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        for key in ("model", "metadata"):
            if key not in data:
                raise _DecodeError("<top>", f"missing field '{key}'")
        model = decode(data["model"], Model, "model")
        metadata = decode(data["metadata"], dict, "metadata")
    except _DecodeError as exc:
        raise _ir_error(str(exc), file) from None
    except RecursionError:
        raise _ir_error("the IR is nested too deeply to read", file) from None
    return Program(format_version=version, model=model, metadata=metadata)


# ---------------------------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------------------------


def dumps_json(program: Program) -> str:
    """Canonical, reviewable JSON: sorted keys, one-space indent, UTF-8 text, floats as shortest repr."""
    return json.dumps(to_dict(program), sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def _finish(program: Program, validate: bool, file: str) -> Program:
    if validate:
        from pel.ir.validate import validate as run_validation  # local: validate imports this module

        try:
            run_validation(program)
        except RecursionError:
            raise _ir_error("the IR is nested too deeply to validate", file) from None
    return program


def loads_json(text: str | bytes, *, file: str = "<ir>", validate: bool = True) -> Program:
    """Parse IR JSON text; refuses bad JSON, another format version and malformed structure (IRError)."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
        raise _ir_error(f"not valid IR JSON: {exc}", file) from None
    except RecursionError:
        raise _ir_error("the IR JSON is nested too deeply to read", file) from None
    return _finish(from_dict(data, file=file), validate, file)


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-standard JSON constant {name}")


def dumps_msgpack(program: Program) -> bytes:
    """The same data model as msgpack (floats as float64, strings as UTF-8)."""
    return msgpack.packb(to_dict(program), use_bin_type=True)


def loads_msgpack(data: bytes, *, file: str = "<ir>", validate: bool = True) -> Program:
    """Parse IR msgpack bytes; refuses truncated/garbage input like `loads_json`."""
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.ExtraData) as exc:
        raise _ir_error(f"not valid IR msgpack: {type(exc).__name__}: {exc}", file) from None
    except RecursionError:
        raise _ir_error("the IR msgpack is nested too deeply to read", file) from None
    return _finish(from_dict(obj, file=file), validate, file)


def _format_of(path: Path) -> Literal["json", "msgpack"]:
    name = path.name.lower()
    if name.endswith(".msgpack"):
        return "msgpack"
    if name.endswith(".json"):
        return "json"
    raise IRError(
        Diagnostic(
            "error",
            "V000",
            f"cannot tell the IR encoding of '{path}'",
            Span(str(path), 0, 0, 0, 0),
            hint="IR files end in .ir.json or .ir.msgpack",
        )
    )


def save(program: Program, path: str | Path, format: Literal["json", "msgpack"] | None = None) -> Path:
    """Write the program; `format` defaults to the one the suffix names (.ir.json / .ir.msgpack)."""
    path = Path(path)
    fmt = format or _format_of(path)
    if fmt == "json":
        data = dumps_json(program).encode("utf-8")
    elif fmt == "msgpack":
        data = dumps_msgpack(program)
    else:
        raise ValueError(f"unknown IR format {fmt!r} (json or msgpack)")
    write_atomic(path, data, 0o644)  # a kill or a full disk leaves the previous file whole
    return path


def load(path: str | Path, *, validate: bool = True) -> Program:
    """Read an .ir.json or .ir.msgpack file (chosen by suffix) and validate it."""
    path = Path(path)
    fmt = _format_of(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _ir_error(f"cannot read IR file: {exc.strerror or exc}", str(path)) from None
    if fmt == "json":
        return loads_json(raw, file=str(path), validate=validate)
    return loads_msgpack(raw, file=str(path), validate=validate)
