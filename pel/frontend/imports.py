"""Import resolution: stdlib modules and .pel files inlined as namespaced funcs (ast.Model -> ast.Model).

Every function a model reaches through an import is copied into the model under its dotted name
(`import stdlib.unit_econ as econ` makes `econ.ltv_simple`; a bare call to a shipped stdlib function
makes `stdlib.unit_econ.ltv_simple`). A dot cannot occur in a PEL identifier, so these names never collide
with the model's own, messages show them as written, and the IR carries the imported code itself: it runs
without any source file and its hash covers what was imported.

An imported module may declare one name several times with different numbers of parameters (overloads:
`accounts_receivable(revenue, dso)` and `accounts_receivable(revenue, dso, terms)`). Each overload is copied
as `<name>/<arity>` and a call picks the one whose arity is the call's count of arguments (positional and
named); when none has it, the nearest, so that the checker reports the arity. Last, functions that take arrays
or texts are specialised for each call (pel.frontend.specialize).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from pel.diagnostics import CompileError, DiagnosticBag, Span, register_source
from pel.frontend import ast, specialize

__all__ = ["STDLIB_MODULES", "resolve", "stdlib_functions", "stdlib_source"]

STDLIB_MODULES = ("unit_econ", "retention", "cashflow", "capacity", "hiring", "funnel")
_FUNC_NAME = re.compile(r"^\s*func\s+([A-Za-z][A-Za-z0-9_]*)", re.MULTILINE)


def stdlib_source(module: str) -> str:
    """The PEL source of the shipped module `stdlib.<module>`."""
    return resources.files("pel.stdlib").joinpath(f"{module}.pel").read_text(encoding="utf-8")


@cache
def stdlib_functions() -> dict[str, str]:
    """Function name -> the shipped stdlib module that defines it."""
    return {name: mod for mod in STDLIB_MODULES for name in _FUNC_NAME.findall(stdlib_source(mod))}


@dataclass
class _Module:
    """One loaded module: the namespaced name of each of its functions, by local name (an overloaded name maps to
    its overload set, `_Resolver.overloads`)."""

    key: str  # "stdlib.unit_econ" or the resolved file path: what cycles are detected on
    funcs: dict[str, str] = field(default_factory=dict)


class _Resolver:
    def __init__(self, bag: DiagnosticBag) -> None:
        self.bag = bag
        self.loading: list[str] = []  # module keys being loaded, outermost first
        self.out: dict[str, ast.FuncDecl] = {}  # namespaced name -> function copied into the model
        self.overloads: dict[str, dict[int, str]] = {}  # namespaced name -> {arity: name of that overload}
        self.preludes: set[str] = set()  # shipped modules loaded for bare calls
        self.typed_sets: dict[str, list[str]] = {}  # overloads of one name and arity, told apart by their types

    # ------------------------------------------------------------------ one namespace (the model or a module)
    def namespace(self, model: ast.Model, base_dir: Path, prefix: str) -> dict[str, str]:
        """Load `model`'s imports and copy its functions in; returns local call name -> namespaced name."""
        names: dict[str, str] = {}  # bare names: own funcs and `from m import f`
        aliases: dict[str, _Module] = {}
        prefixes: dict[str, str] = {}
        seen_alias: dict[str, Span] = {}
        for imp in model.imports:
            alias = imp.alias or (Path(imp.module).stem if imp.is_file else imp.module.split(".")[-1])
            mod = self.load(imp, base_dir, f"{prefix}{alias}.")
            if mod is None:
                continue
            if imp.names:
                for n in imp.names:
                    if n not in mod.funcs:
                        self.unknown(n, imp.module, mod, imp.span)
                    elif n in names:
                        self.bag.error("E0601", f"'{n}' is imported twice", imp.span)
                    else:
                        names[n] = mod.funcs[n]
                continue
            if alias in seen_alias:
                self.bag.error("E0601", f"import alias '{alias}' is already used (line {seen_alias[alias].line})",
                               imp.span, "give one of the imports another name: `import ... as other`")
                continue
            seen_alias[alias] = imp.span
            aliases[alias] = mod
            prefixes[alias] = imp.module
        copies = self.overload_names(model, prefix) if prefix else {}
        for f in model.of(ast.FuncDecl):
            if prefix:
                names[f.name] = f"{prefix}{f.name}"
        rewrite = _Rewriter(self, names, aliases, prefixes)
        for f in model.of(ast.FuncDecl):
            if id(f) in copies:
                copied = dataclasses.replace(f, name=copies[id(f)])
                rewrite.rename_calls(copied)  # the module's tree was parsed for this load alone
                self.out[copied.name] = copied
        self.rewriter = rewrite
        return names

    def overload_names(self, model: ast.Model, prefix: str) -> dict[int, str]:
        """id(func) -> the name its copy gets: `<prefix><name>`, or `<prefix><name>/<arity>` when the module declares
        the name more than once. Several declarations of one arity are `<prefix><name>/<arity>#<k>`, and a call of
        that arity names their set, `<prefix><name>/<arity>`, which the checker resolves by the argument types
        (`typed_sets`). Two declarations with the same parameter types are E0601."""
        groups: dict[str, list[ast.FuncDecl]] = {}
        for f in model.of(ast.FuncDecl):
            groups.setdefault(f.name, []).append(f)
        out: dict[int, str] = {}
        for name, funcs in groups.items():
            if len(funcs) == 1:
                out[id(funcs[0])] = f"{prefix}{name}"
                continue
            table = self.overloads.setdefault(f"{prefix}{name}", {})
            by_arity: dict[int, list[ast.FuncDecl]] = {}
            for f in funcs:
                by_arity.setdefault(len(f.params), []).append(f)
            for arity, same in by_arity.items():
                table[arity] = f"{prefix}{name}/{arity}"
                if len(same) == 1:
                    out[id(same[0])] = table[arity]
                    continue
                seen: dict[tuple, ast.FuncDecl] = {}
                for k, f in enumerate(same, 1):
                    key = tuple(_type_key(p.type) for p in f.params)
                    if key in seen:
                        self.bag.error("E0601", f"function '{name}' is declared twice with the same parameter types",
                                       f.span, "overloads of one name differ in their number of parameters or in "
                                       "their types")
                        continue
                    seen[key] = f
                    out[id(f)] = f"{table[arity]}#{k}"
                    self.typed_sets.setdefault(table[arity], []).append(out[id(f)])
        return out

    def overload(self, name: str, call: ast.Call) -> str:
        """The overload of namespaced `name` that `call` picks (by its count of arguments), or `name` itself."""
        table = self.overloads.get(name)
        if not table:
            return name
        n = len(call.args) + len(call.kwargs)
        return table[n] if n in table else table[min(table, key=lambda arity: (abs(arity - n), arity))]

    def load(self, imp: ast.ImportDecl, base_dir: Path, prefix: str) -> _Module | None:
        """The module `imp` names, loaded and copied in under `prefix`; None (after an error) when it cannot be."""
        if imp.is_file:
            if "://" in imp.module:
                self.bag.error("E0610", f"cannot import '{imp.module}': only local .pel files can be imported",
                               imp.span)
                return None
            path = (base_dir / imp.module).resolve()
            key = str(path)
        else:
            parts = imp.module.split(".")
            if len(parts) != 2 or parts[0] != "stdlib" or parts[1] not in STDLIB_MODULES:
                close = difflib.get_close_matches(imp.module, [f"stdlib.{m}" for m in STDLIB_MODULES], n=1)
                hint = f"did you mean '{close[0]}'?" if close else \
                    "shipped modules: " + ", ".join(f"stdlib.{m}" for m in STDLIB_MODULES)
                self.bag.error("E0610", f"unknown module '{imp.module}'", imp.span, hint)
                return None
            key = imp.module
        if key in self.loading:
            chain = " -> ".join([*self.loading[self.loading.index(key):], key])
            self.bag.error("E0611", f"import cycle: {chain}", imp.span, "move the shared functions into a third file")
            return None
        text = self.read(imp, key)
        if text is None:
            return None
        return self.module(text, key, Path(key).parent if imp.is_file else base_dir, prefix)

    def read(self, imp: ast.ImportDecl, key: str) -> str | None:
        if not imp.is_file:
            return stdlib_source(key.split(".")[1])
        from pel.pipeline import read_source

        try:
            return read_source(key)
        except CompileError as exc:
            self.bag.error("E0610", f"cannot import '{imp.module}': {exc.diagnostics[0].message}", imp.span)
            return None

    def module(self, text: str, key: str, base_dir: Path, prefix: str) -> _Module | None:
        from pel.frontend import parser  # the parser imports nothing from this module

        name = key if "/" in key or "\\" in key else f"<{key}>"
        register_source(name, text)
        model = parser.parse(text, name)
        for item in model.items:
            if not isinstance(item, ast.FuncDecl):
                self.bag.error("E0612", f"an imported module may declare only functions; '{key}' declares "
                               f"a {type(item).__name__.removesuffix('Decl').lower()}", item.span,
                               "move it into the importing model")
        self.loading.append(key)
        try:
            outer = getattr(self, "rewriter", None)
            self.namespace(model, base_dir, prefix)
            self.rewriter = outer
        finally:
            self.loading.pop()
        return _Module(key, {f.name: f"{prefix}{f.name}" for f in model.of(ast.FuncDecl)})

    def unknown(self, name: str, module: str, mod: _Module, span: Span) -> None:
        close = difflib.get_close_matches(name, list(mod.funcs), n=1, cutoff=0.6)
        self.bag.error("E0600", f"module '{module}' has no function '{name}'", span,
                       f"did you mean '{close[0]}'?" if close else
                       "it provides: " + ", ".join(sorted(mod.funcs)) if mod.funcs else "it provides no functions")

    def prelude(self, name: str) -> str:
        """The namespaced name of shipped stdlib function `name`, loaded on first use."""
        mod = stdlib_functions()[name]
        if mod not in self.preludes:
            self.preludes.add(mod)
            self.module(stdlib_source(mod), f"stdlib.{mod}", Path("."), f"stdlib.{mod}.")
        return f"stdlib.{mod}.{name}"


class _Rewriter:
    """Renames calls in one namespace: `alias.f(...)`, imported and own bare names, shipped stdlib names."""

    def __init__(self, owner: _Resolver, names: dict[str, str], aliases: dict[str, _Module],
                 modules: dict[str, str]) -> None:
        self.owner = owner
        self.names = names
        self.aliases = aliases
        self.modules = modules
        self.defined: set[str] = set()  # model-level names that shadow shipped stdlib functions

    def rename_calls(self, root: ast.Node) -> None:
        """Rename, in place, every call under `root` to an imported or stdlib function. The tree is the one the
        parser has just built for this compile, so nothing else holds it; the walk is iterative (`Node.walk`):
        a chain of ten thousand operators is that deep, and this pass must not recurse along it."""
        for n in root.walk():
            if isinstance(n, ast.Call):
                new = self.call(n)
                if new is not n:
                    object.__setattr__(n, "func", new.func)

    def call(self, e: ast.Call) -> ast.Call:
        f = e.func
        if isinstance(f, ast.Member) and isinstance(f.base, ast.Name) and f.base.id in self.aliases:
            mod = self.aliases[f.base.id]
            if f.attr not in mod.funcs:
                self.owner.unknown(f.attr, self.modules[f.base.id], mod, f.span)
                return e
            return dataclasses.replace(e, func=ast.Name(f.span, self.owner.overload(mod.funcs[f.attr], e)))
        if isinstance(f, ast.Name):
            if f.id in self.names:
                return dataclasses.replace(e, func=ast.Name(f.span, self.owner.overload(self.names[f.id], e)))
            if f.id in stdlib_functions() and f.id not in self.defined:
                return dataclasses.replace(e, func=ast.Name(f.span, self.owner.overload(self.owner.prelude(f.id), e)))
        return e


def resolve(model: ast.Model, file: str, bag: DiagnosticBag) -> ast.Model:
    """`model` with every imported function copied in under its dotted name and every call to one renamed."""
    from pel.frontend.checker import BUILTINS

    base_dir = Path(file).parent if not file.startswith("<") else Path.cwd()
    r = _Resolver(bag)
    r.loading.append(str(Path(file).resolve()) if not file.startswith("<") else file)
    r.namespace(model, base_dir, "")
    r.rewriter.defined = {i.name for i in model.items if hasattr(i, "name")} | set(BUILTINS)
    for item in model.items:
        r.rewriter.rename_calls(item)
    if r.out:
        model = dataclasses.replace(model, items=(*r.out.values(), *model.items),
                                    overloads=tuple((k, tuple(v)) for k, v in r.typed_sets.items()))
    return specialize.expand(model, bag)


def _type_key(t: ast.TypeExpr | None) -> object:
    """A parameter's declared type, without its location (to tell two overloads' signatures apart)."""
    if t is None:
        return None
    return t.name, tuple(_type_key(a) for a in t.args), t.per
