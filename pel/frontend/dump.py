"""Deterministic text dumps of tokens and ASTs (for `--emit tokens|ast` and golden tests)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields

from pel.diagnostics import Span
from pel.frontend import ast
from pel.frontend.lexer import Token


def _value_text(value: object) -> str:
    if isinstance(value, tuple):  # NUMBER (value, text, integral), MONEY/PERCENT/DURATION (…, text)
        return json.dumps(value[1] if len(value) == 3 and isinstance(value[2], bool) else value[-1],
                          ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def dump_tokens(tokens: Iterable[Token]) -> str:
    """One token per line: `line:col TYPE value` (value as written, JSON-quoted)."""
    lines = [f"{tok.span.line}:{tok.span.col} {tok.type} {_value_text(tok.value)}" for tok in tokens]
    return "\n".join(lines) + "\n"


def _span_text(span: Span) -> str:
    return f"@{span.line}:{span.col}-{span.end_line}:{span.end_col}"


def _scalar(value: object) -> str:
    if isinstance(value, Span):
        return _span_text(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _is_node_field(value: object) -> bool:
    return isinstance(value, ast.Node) or (isinstance(value, tuple) and any(isinstance(v, ast.Node) for v in value))


def dump_ast(node: ast.Node, types: dict[int, str] | None = None) -> str:
    """An indented tree: one node per line with its scalar fields and span; child nodes below, by field."""
    out: list[str] = []
    _dump(node, "", 0, types or {}, out)
    return "\n".join(out) + "\n"


def _dump(node: ast.Node, label: str, depth: int, types: dict[int, str], out: list[str]) -> None:
    scalars, children = [], []
    for f in fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if _is_node_field(value):
            children.append((f.name, value))
        elif value is not None and value != () and value != "":
            scalars.append(f"{f.name}={_scalar(value)}")
    typ = f" :: {types[id(node)]}" if id(node) in types else ""
    head = f"{label}: " if label else ""
    out.append(f"{'  ' * depth}{head}{type(node).__name__} {' '.join(scalars)} {_span_text(node.span)}{typ}"
               .replace("  @", " @"))
    for name, value in children:
        if isinstance(value, ast.Node):
            _dump(value, name, depth + 1, types, out)
        else:
            for i, item in enumerate(value):
                if isinstance(item, ast.Node):
                    _dump(item, f"{name}[{i}]", depth + 1, types, out)
