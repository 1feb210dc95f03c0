"""Compile-time specialisation of functions that take arrays or texts (ast.Model -> ast.Model).

The kernels compute with floats and a function's parameters are numbers, so a `func` with an `Array<T>` or a
`String` parameter, or an `Array<T>` result, is a *template*: every call of it is resolved when the model
compiles, into an ordinary function of numbers made for that call. Templates never reach the checker's function
table, the IR or the backend; their copies are checked (types and units) like any function, with the element
types. A template that no call uses is parsed only.

Texts. A text parameter receives a text known at compile time: a string literal, a parameter or variable bound
to one (and changed by no scenario), or, inside a template, a text parameter of the caller. Each distinct text
gets its own copy, in which the parameter is replaced by the literal: `shape == "linear"` then compares two
literals, which code generation decides, and no text reaches the kernels. A parameter accepts the texts its body
compares it with (`==`, `!=`) and those accepted where it is passed on to another template; any other text is
refused, so the final `else` of a chain of comparisons is never taken.

Arrays. An array parameter receives an array whose length is known at compile time: a `[…]` literal, a range
with literal bounds, or an array parameter or variable bound to one (or to an array-valued call). Each length
gets its own copy, in which the parameter becomes one number parameter per element, `xs[0]`, `xs[1]`, … (a
bracket never occurs in an identifier, so these cannot collide with a name of the model). In the body:
- arrays combine element by element, as in numpy: `xs * ys`, `xs - avg(xs)`, `min(demands, cap)`, a number
  with an array, a function of numbers applied to arrays; the lengths must be equal;
- an array in a built-in's series argument is the list of its elements (`sum(xs * ys)`, `max(xs)`,
  `product(xs)`), `length(xs)` is the number of elements, and `xs[2]` (a constant index) is that element;
- `sum(e for i in a..b)` with constant bounds is unrolled, so `xs[i]` inside it is an element too.
A template returning an array is made once per element: the call becomes `[f[…][0](…), f[…][1](…), …]`, so a
variable it defines is an array of known length, exactly like one written with `[…]`.

Codes: E0620 a text argument not known at compile time; E0621 a text the function does not accept; E0622 an
array argument whose length is unknown, arrays of different lengths combined, an array where a number is
needed (or the reverse), or an array-valued call whose arguments draw a distribution (each element's call would
draw its own); E0301 a constant index outside an array. An error inside a template is reported at the model's
call that led to it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from pel.diagnostics import DiagnosticBag, Span
from pel.frontend import ast
from pel.frontend.constants import whole_value
from pel.lang import distributions as lang_dists
from pel.lang import functions as lang_funcs

__all__ = ["expand", "is_template"]

_WHOLE_KINDS = (lang_funcs.SERIES, lang_funcs.VAR, lang_funcs.TRACKED)  # arguments a built-in reads as a whole


def is_template(f: ast.FuncDecl) -> bool:
    """Whether `f` takes an array or a text, or returns an array (and so is specialised per call)."""
    return any(_kind(p.type) != "number" for p in f.params) or _kind(f.returns) == "array"


def expand(model: ast.Model, bag: DiagnosticBag) -> ast.Model:
    """`model` with every call of a template replaced by a call of its copy for that call's texts and lengths."""
    templates = {f.name: f for f in model.of(ast.FuncDecl) if is_template(f)}
    if not templates:
        return model
    return _Specializer(model, templates, bag).run()


def _kind(te: ast.TypeExpr | None) -> str:
    if te is None:
        return "number"
    return {"Array": "array", "String": "text"}.get(te.name, "number")


def _element(te: ast.TypeExpr | None) -> ast.TypeExpr | None:
    return te.args[0] if te is not None and te.args else None


class _Refused(Exception):  # noqa: N818 - a refusal, reported as a diagnostic
    def __init__(self, code: str, message: str, span: Span | None = None, hint: str | None = None,
                 checker_reports: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.span, self.hint = code, message, span, hint
        self.checker_reports = checker_reports  # the checker says it, against the template's stand-in


@dataclass
class _Env:
    """What the names of a template body denote in one copy."""

    arrays: dict[str, list[ast.Expr]] = field(default_factory=dict)  # array parameter -> its elements
    texts: dict[str, str] = field(default_factory=dict)  # text parameter -> its text
    numbers: dict[str, int] = field(default_factory=dict)  # variable of an unrolled comprehension -> its value

    def with_number(self, name: str, value: int) -> _Env:
        return _Env(self.arrays, self.texts, {**self.numbers, name: value})


@dataclass(frozen=True)
class _Key:
    """A copy of a template: the text or the length each parameter got (None: a number), and the element."""

    template: str
    parts: tuple[tuple[str, str | int | None], ...]
    element: int | None = None


class _Specializer:
    def __init__(self, model: ast.Model, templates: dict[str, ast.FuncDecl], bag: DiagnosticBag) -> None:
        self.model = model
        self.templates = templates
        self.bag = bag
        self.funcs = {f.name for f in model.of(ast.FuncDecl)}
        self.copies: dict[_Key, ast.FuncDecl] = {}
        self.by_template: dict[str, list[ast.FuncDecl]] = {name: [] for name in templates}
        self.making: set[_Key] = set()
        self.failed: set[str] = set()  # templates with a refused call: kept as an untyped stand-in
        self.site: Span | None = None  # the model's call being resolved (where errors inside templates go)
        self.within: list[str] = []  # the templates whose bodies are being read, innermost last
        self.decls: dict[str, ast.Item] = {}
        self.rules: dict[str, list[ast.SeriesRule]] = {}
        for item in model.items:
            if isinstance(item, ast.ParamDecl | ast.VarDecl):
                self.decls.setdefault(item.name, item)
            elif isinstance(item, ast.SeriesRule) and item.index is None:
                self.rules.setdefault(item.target, []).append(item)
        self.scenario_params = {e.name for sc in model.of(ast.ScenarioDecl) for e in sc.entries}
        self.done: dict[int, ast.Item] = {}  # id(item) -> the item with its calls resolved
        self.active: set[int] = set()
        self.accepts: dict[tuple[str, str], frozenset[str]] = {}

    def refuse(self, code: str, message: str, hint: str | None = None, span: Span | None = None) -> _Refused:
        """A refusal; inside a template, said of the template and reported at the model's call."""
        if span is None and self.within:
            message = f"in '{self.within[-1]}': {message}"
        return _Refused(code, message, span or self.site, hint)

    # ------------------------------------------------------------------ the model
    def run(self) -> ast.Model:
        for item in self.model.items:
            if not (isinstance(item, ast.FuncDecl) and item.name in self.templates):
                self.item(item)
        items: list[ast.Item] = []
        for item in self.model.items:
            if isinstance(item, ast.FuncDecl) and item.name in self.templates:
                items += self.by_template[item.name]
                if item.name in self.failed:
                    items.append(_stand_in(item))
            else:
                items.append(self.done[id(item)])
        return dataclasses.replace(self.model, items=tuple(items))

    def item(self, item: ast.Item) -> ast.Item:
        """`item` with its calls of templates resolved (once; a variable's length may be asked for earlier)."""
        key = id(item)
        if key not in self.done:
            self.active.add(key)
            calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self.templates
                        for n in item.walk())
            self.done[key] = self.rebuild(item) if calls else item
            self.active.discard(key)
        return self.done[key]

    def rebuild(self, node: ast.Node) -> ast.Node:
        """`node` with every call of a template under it resolved; untouched subtrees are kept as they are."""
        if isinstance(node, ast.Binary):  # a long chain is walked in a loop, not recursively
            first, chain = ast.left_spine(node)
            acc = self.rebuild(first)
            for link in chain:
                right = self.rebuild(link.right)
                acc = link if acc is link.left and right is link.right else \
                    dataclasses.replace(link, left=acc, right=right)
            return acc
        node = _map_children(node, self.rebuild)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.templates:
            return self.model_call(node)
        return node

    def model_call(self, call: ast.Call) -> ast.Expr:
        f = self.templates[call.func.id]
        outer, self.site = self.site, call.span  # a variable's length can be asked for inside another call
        try:
            n = self.call_shape(f, call, None)
            if n is None:
                return self.call(f, call, None, None)
            if n > 1 and _draws(call):
                raise _Refused("E0622", f"'{ast.shown_name(f.name)}' gives an array, and its arguments draw a distribution: each "
                               "element's call would draw its own", call.span,
                               "draw it in a parameter (`param x: T ~ …`) and pass the parameter")
            return ast.ArrayLit(call.span, tuple(self.call(f, call, None, k) for k in range(n)))
        except _Refused as r:
            if not r.checker_reports:
                self.bag.error(r.code, r.message, r.span or call.span, r.hint)
            self.failed.add(f.name)
            return call
        finally:
            self.site = outer

    # ------------------------------------------------------------------ what the model's names hold
    def model_text(self, name: str, span: Span) -> str | None:
        """The text the model's parameter or variable `name` is bound to, None when it is not bound to one."""
        item = self.binding(name)
        value = item.value if item is not None else None  # type: ignore[attr-defined]
        if not isinstance(value, ast.String):
            return None
        if name in self.scenario_params:
            raise _Refused("E0620", f"'{name}' chooses what a function computes when the model compiles; a scenario "
                           "cannot change it", span, "give the function the text itself in each model variant")
        return value.value

    def model_array(self, name: str) -> int | None:
        """The length of the model's array parameter or variable `name`, when it is bound to an array of known
        length; None otherwise."""
        item = self.binding(name)
        if item is None or id(item) in self.active:
            return None
        value = self.item(item).value  # type: ignore[attr-defined]
        if isinstance(value, ast.ArrayLit):
            return len(value.elements)
        bounds = _range_bounds(value)
        return None if bounds is None else max(bounds[1] - bounds[0] + 1, 0)

    def binding(self, name: str) -> ast.Item | None:
        """The one item giving `name` its whole value: a parameter, `var x = e`, or `var x` with one `x = e`."""
        decl = self.decls.get(name)
        rules = self.rules.get(name, [])
        if isinstance(decl, ast.ParamDecl):
            return decl if decl.value is not None else None
        if not isinstance(decl, ast.VarDecl) or decl.index is not None:
            return None
        if decl.value is not None:
            return None if rules else decl
        return rules[0] if len(rules) == 1 and rules[0].guard is None else None

    # ------------------------------------------------------------------ calls
    def bind(self, f: ast.FuncDecl, call: ast.Call, env: _Env | None) -> dict[str, ast.Expr]:
        """Parameter -> argument; a bad call is the checker's to report (at model level) or the template's error."""
        names = [p.name for p in f.params]
        given = dict(zip(names, call.args, strict=False))
        problem = None
        if len(call.args) > len(names):
            problem = f"'{ast.shown_name(f.name)}' takes {len(names)} arguments, {len(call.args) + len(call.kwargs)} given"
        for kw in call.kwargs:
            if problem is None and kw.name not in names:
                problem = f"'{ast.shown_name(f.name)}' has no parameter '{kw.name}'"
            elif problem is None and kw.name in given:
                problem = f"argument '{kw.name}' given twice"
            given[kw.name] = kw.value
        missing = [n for n in names if n not in given]
        if missing and problem is None:
            problem = f"'{ast.shown_name(f.name)}' is missing argument '{missing[0]}'"
        if problem is not None:
            raise _Refused("E0100", problem, self.site or call.span, checker_reports=env is None)
        return given

    def key(self, f: ast.FuncDecl, given: dict[str, ast.Expr], env: _Env | None) -> tuple[_Key, int | None]:
        """The copy `f` needs for these arguments, and the length its scalar parameters are broadcast over."""
        parts: list[tuple[str, str | int | None]] = []
        spread = None
        for p in f.params:
            a, kind = given[p.name], _kind(p.type)
            if kind == "text":
                text = self.text_arg(f, p, a, env)
                parts.append((p.name, text))
            elif kind == "array":
                parts.append((p.name, len(self.array_arg(f, p, a, env))))
            else:
                parts.append((p.name, None))
                if env is not None:
                    spread = self.same(spread, self.shape(a, env), a)
        return _Key(f.name, tuple(parts)), spread

    def call_shape(self, f: ast.FuncDecl, call: ast.Call, env: _Env | None) -> int | None:
        """The length of the array `call` gives, None for a number."""
        key, spread = self.key(f, self.bind(f, call, env), env)
        if _kind(f.returns) != "array":
            return spread
        if spread is not None:
            raise self.refuse("E0622", f"'{ast.shown_name(f.name)}' gives an array: it cannot also be applied element by element")
        return self.result_length(f, key)

    def call(self, f: ast.FuncDecl, call: ast.Call, env: _Env | None, elem: int | None) -> ast.Call:
        """`call` of template `f` as a call of its copy (element `elem` of an array-valued call)."""
        given = self.bind(f, call, env)
        key, _ = self.key(f, given, env)
        args: list[ast.Expr] = []
        for p in f.params:
            a, kind = given[p.name], _kind(p.type)
            if kind == "array":
                args += self.array_arg(f, p, a, env)
            elif kind == "number":
                args.append(a if env is None else self.scalar(a, env, elem))
        if _kind(f.returns) == "array":
            key = dataclasses.replace(key, element=elem)
        copy = self.copy(f, key)
        return ast.Call(call.span, ast.Name(call.func.span, copy.name), tuple(args))

    def text_arg(self, f: ast.FuncDecl, p: ast.FuncParam, a: ast.Expr, env: _Env | None) -> str:
        value = a if env is None else self.scalar(a, env, None)
        text = value.value if isinstance(value, ast.String) else \
            self.model_text(value.id, a.span) if env is None and isinstance(value, ast.Name) else None
        if text is None:
            raise self.refuse("E0620", f"argument '{p.name}' of '{ast.shown_name(f.name)}' must be a text known when the model "
                              'compiles', 'write the text itself (`"…"`) or a parameter bound to one '
                              '(`param x: String = "…"`)', a.span if env is None else None)
        accepted = self.accepted(f, p.name)
        if accepted and text not in accepted:
            raise self.refuse("E0621", f"'{ast.shown_name(f.name)}' does not know the {p.name} {json.dumps(text)}",
                              "it accepts " + ", ".join(json.dumps(x) for x in sorted(accepted)),
                              a.span if env is None else None)
        return text

    def array_arg(self, f: ast.FuncDecl, p: ast.FuncParam, a: ast.Expr, env: _Env | None) -> list[ast.Expr]:
        """The elements passed for array parameter `p` (each becomes an argument of the copy)."""
        items = self.model_elements(f, p, a) if env is None else self.whole(a, env, f"argument '{p.name}' of "
                                                                                  f"'{ast.shown_name(f.name)}'")
        if not items:
            raise self.refuse("E0622", f"argument '{p.name}' of '{ast.shown_name(f.name)}' is an empty array", None,
                              a.span if env is None else None)
        return items

    def model_elements(self, f: ast.FuncDecl, p: ast.FuncParam, a: ast.Expr) -> list[ast.Expr]:
        if isinstance(a, ast.ArrayLit):
            return list(a.elements)
        bounds = _range_bounds(a)
        if bounds is not None:
            return [_number(a.span, k) for k in range(bounds[0], bounds[1] + 1)]
        n = self.model_array(a.id) if isinstance(a, ast.Name) else None
        if n is None and isinstance(a, ast.Name) and a.id not in self.decls:
            raise _Refused("E0600", f"undefined identifier '{a.id}'", a.span, checker_reports=True)  # said once
        if n is None:
            raise _Refused("E0622", f"argument '{p.name}' of '{ast.shown_name(f.name)}' must be an array whose length is known when "
                           "the model compiles", a.span, "pass `[…]`, or an array parameter or variable bound to one")
        return [ast.Index(a.span, a, _number(a.span, k)) for k in range(n)]

    def accepted(self, f: ast.FuncDecl, pname: str) -> frozenset[str]:
        """The texts text parameter `pname` of `f` is compared with, or accepted where it is passed on."""
        memo = (f.name, pname)
        if memo in self.accepts:
            return self.accepts[memo]
        self.accepts[memo] = frozenset()  # a template passing the text round in a cycle adds nothing
        found: set[str] = set()
        for s in f.body:
            for n in s.walk():
                if isinstance(n, ast.Binary) and n.op in ("==", "!="):
                    for a, b in ((n.left, n.right), (n.right, n.left)):
                        if isinstance(a, ast.Name) and a.id == pname and isinstance(b, ast.String):
                            found.add(b.value)
                elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in self.templates:
                    g = self.templates[n.func.id]
                    passed = dict(zip((q.name for q in g.params), n.args, strict=False))
                    passed.update({kw.name: kw.value for kw in n.kwargs})
                    for q in g.params:
                        a = passed.get(q.name)
                        if _kind(q.type) == "text" and isinstance(a, ast.Name) and a.id == pname:
                            found |= self.accepted(g, q.name)
        self.accepts[memo] = frozenset(found)
        return self.accepts[memo]

    # ------------------------------------------------------------------ copies
    def copy(self, f: ast.FuncDecl, key: _Key) -> ast.FuncDecl:
        """The function of numbers that template `f` becomes for `key` (made once)."""
        if key in self.copies:
            return self.copies[key]
        if key in self.making:
            raise self.refuse("E0622", f"it calls '{ast.shown_name(f.name)}' again: functions cannot be recursive")
        self.making.add(key)
        self.within.append(f.name)
        try:
            env, params = self.copy_params(f, key)
            body = self.stmts(f.body, env, key.element, f)
        finally:
            self.making.discard(key)
            self.within.pop()
        shown = ", ".join(f"{n}={json.dumps(v)}" if isinstance(v, str) else f"{n}[{v}]" for n, v in key.parts
                          if v is not None)
        name = f"{f.name}[{shown}]" + ("" if key.element is None else f"[{key.element}]")
        returns = _element(f.returns) if key.element is not None else f.returns
        made = ast.FuncDecl(f.span, name, tuple(params), returns, body)
        self.copies[key] = made
        self.by_template[f.name].append(made)
        return made

    def copy_params(self, f: ast.FuncDecl, key: _Key) -> tuple[_Env, list[ast.FuncParam]]:
        env, params = _Env(), []
        for p, (_, got) in zip(f.params, key.parts, strict=True):
            kind = _kind(p.type)
            if kind == "text":
                env.texts[p.name] = str(got)
            elif kind == "array":
                names = [f"{p.name}[{k}]" for k in range(int(got or 0))]
                env.arrays[p.name] = [ast.Name(p.span, n) for n in names]
                params += [ast.FuncParam(p.span, n, _element(p.type)) for n in names]
            else:
                params.append(p)
        return env, params

    def result_length(self, f: ast.FuncDecl, key: _Key) -> int:
        env, _ = self.copy_params(f, key)
        self.within.append(f.name)
        try:
            lengths = {self.shape(s.value, env) for s in _returns(f.body)}
        finally:
            self.within.pop()
        if len(lengths) != 1 or None in lengths:
            result = "a number" if lengths == {None} else "not of one length"
            raise self.refuse("E0622", f"it is declared to return an array, but its result is {result}")
        return int(lengths.pop())  # type: ignore[arg-type]

    def stmts(self, body: tuple[ast.Stmt, ...], env: _Env, elem: int | None, f: ast.FuncDecl) -> tuple[ast.Stmt, ...]:
        out: list[ast.Stmt] = []
        for s in body:
            if isinstance(s, ast.ReturnStmt) and s.value is not None:
                n = self.shape(s.value, env)
                if n is not None and elem is None:
                    raise self.refuse("E0622", "it returns an array but is declared to return a number")
                out.append(dataclasses.replace(s, value=self.scalar(s.value, env, elem if n is not None else None)))
            elif isinstance(s, ast.IfStmt):
                out.append(dataclasses.replace(s, cond=self.scalar(s.cond, env, None),
                                               then=self.stmts(s.then, env, elem, f),
                                               else_=self.stmts(s.else_, env, elem, f)))
            elif isinstance(s, ast.ForStmt):
                out.append(dataclasses.replace(s, start=self.scalar(s.start, env, None),
                                               end=self.scalar(s.end, env, None),
                                               body=self.stmts(s.body, env, elem, f)))
            else:
                out.append(self.local(s, env) if isinstance(s, ast.LetStmt) else self.children(s, env, None))
        return tuple(out)

    def local(self, s: ast.LetStmt, env: _Env) -> ast.Stmt:
        """A local of a copy holds a number: not an array, not a text (the kernels hold neither)."""
        if s.name in env.arrays or s.name in env.texts:
            raise self.refuse("E0622", f"local '{s.name}' hides a parameter")
        made = self.children(s, env, None)
        if isinstance(made.value, ast.String):  # type: ignore[attr-defined]
            raise self.refuse("E0620", f"local '{s.name}' would hold a text: compare the text parameter itself")
        return made

    def children(self, node: ast.Node, env: _Env, elem: int | None) -> ast.Node:
        """`node` with each expression under it (directly or in a named argument) made a number expression."""
        def one(x: ast.Node) -> ast.Node:
            if isinstance(x, ast.Expr):
                return self.scalar(x, env, elem)
            return _map_children(x, one) if isinstance(x, ast.KwArg) else x

        return _map_children(node, one)

    # ------------------------------------------------------------------ template bodies
    def same(self, a: int | None, b: int | None, node: ast.Node) -> int | None:
        if a is not None and b is not None and a != b:
            raise self.refuse("E0622", f"arrays of {a} and {b} elements are combined element by element in "
                              f"`{ast.source_text(node)}`", "give the arrays the same length")
        return a if a is not None else b

    def shape(self, e: ast.Expr, env: _Env) -> int | None:  # noqa: C901 - one case per kind of node
        """The length of the array `e` is in a template body, None for a number."""
        if isinstance(e, ast.Name):
            return len(env.arrays[e.id]) if e.id in env.arrays else None
        if isinstance(e, ast.ArrayLit):
            return len(e.elements)
        if isinstance(e, ast.RangeExpr):
            bounds = _range_bounds(self.scalar(e, env, None, whole_range=True))
            return None if bounds is None else max(bounds[1] - bounds[0] + 1, 0)
        if isinstance(e, ast.Binary):
            first, chain = ast.left_spine(e)
            n = self.shape(first, env)
            for link in chain:
                n = self.same(n, self.shape(link.right, env), link)
            return n
        if isinstance(e, ast.Unary):
            return self.shape(e.operand, env)
        if isinstance(e, ast.IfExpr):
            n = self.same(self.shape(e.cond, env), self.shape(e.then, env), e)
            return self.same(n, self.shape(e.else_, env), e) if e.else_ is not None else n
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            fn = e.func.id
            if fn in self.templates:
                return self.call_shape(self.templates[fn], e, env)
            kinds = None if fn in self.funcs or fn not in lang_funcs.NAMES else lang_funcs.arg_kinds(fn, len(e.args))
            n = None
            for k, a in enumerate(e.args):
                if kinds is None and fn in self.funcs or kinds is not None and kinds[k] == lang_funcs.NUM:
                    n = self.same(n, self.shape(a, env), e)
            return n
        return None

    def whole(self, e: ast.Expr, env: _Env, what: str | None = None) -> list[ast.Expr]:
        """The elements of array `e` (`what`, for a message), each a number expression."""
        n = self.shape(e, env)
        if n is None:
            raise self.refuse("E0622", f"{what or f'`{ast.source_text(e)}`'} must be an array, found a number")
        if n > 1 and _draws(e):
            raise self.refuse("E0622", f"`{ast.source_text(e)}` draws a distribution in an array")
        return [self.scalar(e, env, k) for k in range(n)]

    def scalar(self, e: ast.Expr, env: _Env, elem: int | None,  # noqa: C901 - one case per kind of node
               whole_range: bool = False) -> ast.Expr:
        """`e` as a number expression of the copy: element `elem` of it when it is an array."""
        if isinstance(e, ast.Name):
            if e.id in env.numbers:
                return _number(e.span, env.numbers[e.id])
            if e.id in env.texts:
                return ast.String(e.span, env.texts[e.id])
            if e.id in env.arrays:
                return env.arrays[e.id][self.element(e, elem)]
            return e
        if isinstance(e, ast.ArrayLit):
            return self.scalar(e.elements[self.element(e, elem)], env, None)
        if isinstance(e, ast.RangeExpr):
            e = self.children(e, env, None)
            if whole_range:
                return e
            bounds = _range_bounds(e)
            if bounds is None:
                raise self.refuse("E0622", f"the range `{ast.source_text(e)}` needs constant bounds")
            return _number(e.span, bounds[0] + self.element(e, elem))
        if isinstance(e, ast.Index) and isinstance(e.base, ast.Name) and e.base.id in env.arrays:
            return self.index(e, env)
        if isinstance(e, ast.Binary):
            first, chain = ast.left_spine(e)
            acc = self.scalar(first, env, elem)
            for link in chain:
                acc = dataclasses.replace(link, left=acc, right=self.scalar(link.right, env, elem))
            return acc
        if isinstance(e, ast.Call) and isinstance(e.func, ast.Name):
            return self.call_in_body(e, env, elem)
        if isinstance(e, ast.Comprehension) and _mentions(e, env):
            return self.unroll(e, env)
        return self.children(e, env, elem)

    def element(self, e: ast.Expr, elem: int | None) -> int:
        if elem is None:
            raise self.refuse("E0622", f"the array `{ast.source_text(e)}` is used where a number is needed",
                              "reduce it (`sum(xs)`, `max(xs)`) or take one element (`xs[0]`)")
        return elem

    def index(self, e: ast.Index, env: _Env) -> ast.Expr:
        items = env.arrays[e.base.id]  # type: ignore[attr-defined]
        k = whole_value(self.scalar(e.index, env, None))
        if k is None:
            raise self.refuse("E0622", f"`{ast.source_text(e)}`: an array parameter can only be indexed with a constant "
                              "(or inside `sum(… for i in a..b)`)", "combine arrays element by element: `sum(xs * ys)`")
        if not 0 <= k < len(items):
            raise self.refuse("E0301", f"`{ast.source_text(e)}`: index {k} is outside the {len(items)} elements of "
                              f"'{ast.source_text(e.base)}'")
        return items[k]

    def call_in_body(self, e: ast.Call, env: _Env, elem: int | None) -> ast.Expr:
        fn = e.func.id  # type: ignore[attr-defined]
        if fn in self.templates:
            return self.call(self.templates[fn], e, env, elem)
        kinds = None if fn in self.funcs or fn not in lang_funcs.NAMES else lang_funcs.arg_kinds(fn, len(e.args))
        n = self.shape(e.args[0], env) if kinds is not None and fn in ("length", "len") else None
        if n is not None:
            return _number(e.span, n)
        args = []
        for k, a in enumerate(e.args):
            if kinds is not None and kinds[k] in _WHOLE_KINDS and self.shape(a, env) is not None:
                args.append(ast.ArrayLit(a.span, tuple(self.whole(a, env))))
            else:
                args.append(self.scalar(a, env, elem if kinds is None or kinds[k] == lang_funcs.NUM else None))
        kwargs = tuple(dataclasses.replace(kw, value=self.scalar(kw.value, env, None)) for kw in e.kwargs)
        return dataclasses.replace(e, args=tuple(args), kwargs=kwargs)

    def unroll(self, e: ast.Comprehension, env: _Env) -> ast.Expr:
        """`sum(xs[i] * w for i in 0..length(xs) - 1)` as `sum([xs[0] * w, xs[1] * w, …])`."""
        lo, hi = whole_value(self.scalar(e.start, env, None)), whole_value(self.scalar(e.end, env, None))
        if lo is None or hi is None or e.cond is not None:
            raise self.refuse("E0622", f"`{ast.source_text(e)}` goes over an array: it needs constant bounds and no `if`",
                              "combine arrays element by element instead: `sum(xs * ys)`")
        items = tuple(self.scalar(e.body, env.with_number(e.var, k), None) for k in range(lo, hi + 1))
        return ast.Call(e.span, ast.Name(e.span, e.func), (ast.ArrayLit(e.span, items),))


# ---------------------------------------------------------------------------------------------- helpers


def _map_children(node: ast.Node, fn) -> ast.Node:  # noqa: ANN001 - fn: Node -> Node
    """`node` with `fn` applied to each child node (a new node only when a child changed)."""
    changes = {}
    for f in dataclasses.fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if isinstance(value, ast.Node):
            new = fn(value)
        elif isinstance(value, tuple) and any(isinstance(x, ast.Node) for x in value):
            new = tuple(fn(x) if isinstance(x, ast.Node) else x for x in value)
            if all(a is b for a, b in zip(new, value, strict=True)):
                new = value
        else:
            continue
        if new is not value:
            changes[f.name] = new
    return dataclasses.replace(node, **changes) if changes else node


def _stand_in(f: ast.FuncDecl) -> ast.FuncDecl:
    """An untyped stand-in for a template whose call was refused, so that the checker reports nothing twice."""
    params = tuple(dataclasses.replace(p, type=None) for p in f.params)
    return dataclasses.replace(f, params=params, body=())


def _returns(body: tuple[ast.Stmt, ...]) -> list[ast.ReturnStmt]:
    return [s for top in body for s in top.walk() if isinstance(s, ast.ReturnStmt) and s.value is not None]


def _number(span: Span, k: int) -> ast.Number:
    return ast.Number(span, float(k), str(k), True)


def _range_bounds(e: ast.Expr | None) -> tuple[int, int] | None:
    if not isinstance(e, ast.RangeExpr):
        return None
    lo, hi = whole_value(e.start), whole_value(e.end)
    return None if lo is None or hi is None else (lo, hi)


def _draws(e: ast.Node) -> bool:
    """Whether `e` draws from a distribution."""
    return any(isinstance(n, ast.Dist) or isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
               and n.func.id in lang_dists.DISTRIBUTIONS for n in e.walk())


def _mentions(e: ast.Node, env: _Env) -> bool:
    return any(isinstance(n, ast.Name) and (n.id in env.arrays or n.id in env.texts) for n in e.walk())
