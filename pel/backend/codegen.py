"""Code generation: an ir.Program -> the sources of its kernel chunks, one compiled function each.

The model's work for one time step is a sequence of items (variables in dependency order, then policies, outputs
and constraints; parameters once before step 0), cut into chunks (`pel.backend.chunking`). Each chunk is one
numba function that runs its items for every path of a block at one step: paths are the inner loop, so state
lives in arrays (row views hoisted out of the loop) instead of thousands of locals, and each function stays
small enough for numba's passes to cost the same per item at any model size. A chunk's source names nothing
global: every index into the run's arrays (rows, parameters, fault sites, constraints) is read from its `ix`
array, filled by the engine, so editing one formula changes one chunk's source and no other chunk recompiles.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath

from pel import __version__
from pel.backend import chunking
from pel.backend import runtime as rt
from pel.backend.emit import Emitter, as_f, const_value, is_const, num, unsupported
from pel.backend.exprgen import PER_CALL_TIME, Ctx, ExprGen, constant_dist_args
from pel.backend.namespace import sanitize
from pel.ir import nodes as ir

ITEM_NODES = 24  # expression nodes of an ordinary item (`mrr[t] = customers[t] * arpu` is 4); a chunk's budget
MESSAGE_INLINE = 64  # message values evaluated in the chunk function itself; more go to helper functions
KERNEL_ARGS = ("s, T, det, P, out, tmp, st, Z, L, K, cfirst, ccount, cmsg, wlog, wvals, evc, ov, PP, zmat, btab, "
               "ovm, ovv, ix")


@dataclass
class ChunkSource:
    """One generated module: its text, its key, and what each entry of its `ix` array must hold."""

    kind: str  # "params" | "step" | "funcs"
    text: str
    slots: list[tuple] = field(default_factory=list)  # ix[k] holds the resolution of slots[k] (see kernel.py)
    sites: list[tuple[str, str, tuple | None]] = field(default_factory=list)
    streams: list[tuple[str, int]] = field(default_factory=list)
    emits: list[tuple[str, str]] = field(default_factory=list)
    n_constraints: int = 0
    imports: tuple[str, ...] = ()  # generated modules this one imports
    key: str = ""
    label: str = ""  # what it holds, for progress and `--emit python`
    n_items: int = 0  # parameters, variables, policies, outputs and constraints it computes

    @property
    def module(self) -> str:
        return f"pel_k_{self.key}"


@dataclass
class KernelSource:
    """Everything the engine needs from code generation: the modules and the tables that map what the kernels
    record (sites, constraints, draw rows) back to the model."""

    chunks: list[ChunkSource]  # params chunks first, then step chunks in step order
    funcs: ChunkSource | None
    params: tuple[str, ...]
    dist_columns: tuple[str, ...]
    beta_tables: tuple[str, ...]
    outputs: tuple[str, ...]  # rows of `out`
    tmp_vars: dict[str, tuple[int, bool]]  # rows of `tmp`: name -> (steps read back, needs every step)
    sticky: tuple[str, ...]
    prev_params: tuple[str, ...]
    arrays: dict[str, int]  # computed arrays -> length (rows of L)
    constants: dict[str, tuple[float, ...]]  # constant arrays -> elements (in K)
    sites: tuple[tuple[str, str, tuple | None], ...]
    constraints: tuple[tuple[str, str], ...]
    messages: tuple[tuple[tuple[str | None, str], ...], ...]
    streams: tuple[tuple[str, int], ...]
    emits: tuple[tuple[str, str], ...]
    fixed: tuple[tuple[str, float, bool], ...] = ()  # parameters set from data, no code: (name, value, overridable)
    # parameters drawn from a distribution with constant arguments, sampled from a table (rt.sample_table), no
    # code: (name, distribution code, (a, b, c)); their fault sites follow the chunks' in `sites`
    tabled: tuple[tuple[str, int, tuple[float, float, float]], ...] = ()
    texts: dict[str, str] = field(default_factory=dict)  # variables and parameters holding a text, by name

    def text(self) -> str:
        """All modules, as `pel compile --emit python` prints them."""
        mods = ([self.funcs] if self.funcs else []) + self.chunks
        return "\n".join(f"# ===== {m.module}.py: {m.label}\n{m.text}" for m in mods)


_COMMENT = re.compile(r"^\s*#.*$", re.MULTILINE)


def source_key(text: str, *parts: str) -> str:
    """Content key of a module: its code without comments (origin lines move when lines are added above; the
    code does not), PEL's version, the runtime helpers it imports and the keys of generated modules it imports."""
    h = hashlib.sha256()
    for part in (_COMMENT.sub("", text), __version__, rt.source_digest(), *parts):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:32]


class Chunk:
    """Per-chunk state: its slots, hoisted views, locals and local numbering (nothing global leaks in)."""

    def __init__(self, kind: str) -> None:
        self.src = ChunkSource(kind, "")
        self.slot_index: dict[tuple, int] = {}
        self.slot_ids: dict[tuple, str] = {}
        self.views: dict[tuple, str] = {}
        self.pre: list[str] = []
        self.locals: dict[str, str] = {}  # var (or param) name -> the local holding its value at this step
        self.messages: list[tuple[tuple[str | None, str], ...]] = []
        self.helpers: list[str] = []  # functions of the module besides the chunk's (long messages)
        self.err = False
        self.count = 0

    def next(self) -> int:
        self.count += 1
        return self.count


class Generator(ExprGen):
    """Walks one model and writes its chunks."""

    def __init__(self, program: ir.Program) -> None:
        self.program = program
        self.model = m = program.model
        self.src_name = PurePath(str(program.metadata.get("source_file", "model.pel")) or "model.pel").name
        known = {v.name for v in m.vars}
        if set(m.order) != known or len(m.order) != len(known):
            raise unsupported("model.order does not list every variable exactly once", program)
        self.vars = {v.name: v for v in m.vars}
        # whole-run variables -> the step their value is computed at (None: the last step T)
        self.once = {v.name: v.rules[0].at for v in m.vars if len(v.rules) == 1 and v.rules[0].kind == "once"}
        self.output_exprs = [o for o in m.outputs if o.expr is not None]
        self.pos = {name: j for j, name in enumerate(list(m.order) + [o.name for o in self.output_exprs])}
        self.outputs = tuple(m.output_names())
        for name in self.outputs:
            if name not in self.pos:
                raise unsupported(f"output {name!r} is not a variable", program)
        self.out_row = {name: k for k, name in enumerate(self.outputs)}
        self.tmp: dict[str, list] = {n: [1, False] for n in m.order if n not in self.out_row}  # [need, full]
        self.params = {p.name: p for p in m.params}
        self.param_index = {p.name: k for k, p in enumerate(m.params)}
        self.dist_columns = tuple(p.name for p in m.params if p.distribution is not None)
        self.beta_tables = tuple(p.name for p in m.params
                                 if p.distribution is not None and p.distribution.distribution_type == "Beta")
        self.constants: dict[str, tuple[float, ...]] = {}
        self.computed: dict[str, ir.ArrayLiteral] = {}
        self.string_params: set[str] = set()
        self.func_defs = {f.name: f for f in m.funcs}
        self.funcs = {f.name: f"f_{k}_{sanitize(f.name)}" for k, f in enumerate(m.funcs)}
        self.prev_params: set[str] = set()
        self.policy_vars = {a.target for pol in m.policies for a in _actions(pol.actions) if a.target_kind == "var"}
        self.sticky = tuple(n for n in m.order if n in self.policy_vars and not self.vars[n].series)
        self.array_vars: set[str] = set()
        for v in m.vars:
            lit = array_literal(v, program)
            if lit is None:
                continue
            self.array_vars.add(v.name)
            if all(is_const(x) for x in lit.elements):
                self.constants[v.name] = tuple(const_value(x, program) for x in lit.elements)
            else:
                self.computed[v.name] = lit
        for p in m.params:
            if isinstance(p.value, ir.ArrayLiteral):
                self.constants[p.name] = tuple(const_value(x, program) for x in p.value.elements)
            elif isinstance(p.value, ir.Literal) and isinstance(p.value.value, str):
                self.string_params.add(p.name)
        # text: string parameters and variables bound once to a string literal (no number in their rows)
        self.texts: dict[str, str] = {p.name: p.value.value for p in m.params if p.name in self.string_params}
        for v in m.vars:
            lone = v.rules[0] if len(v.rules) == 1 else None
            if lone is not None and lone.guard is None and isinstance(lone.expr, ir.Literal) \
                    and isinstance(lone.expr.value, str):
                self.texts[v.name] = lone.expr.value
        self.stream_count: dict[str, int] = {}
        self.errv = "ferr"
        self.chunk = Chunk("funcs")

    # -- per-chunk names ----------------------------------------------------------------------------

    def temp(self) -> str:
        return f"_t{self.chunk.next()}"

    def fresh(self, prefix: str, name: str) -> str:
        return f"{prefix}_{self.chunk.next()}_{sanitize(name)}"

    def uses_err(self) -> None:
        self.chunk.err = True

    def slot(self, key: tuple, inline: bool = False) -> str:
        """ix[k], where slots[k] == key: as a local bound at the top of the chunk function, or (`inline`, for the
        preamble's own use) the expression itself (every statement costs compile time)."""
        c = self.chunk
        if key not in c.slot_index:
            c.slot_index[key] = len(c.src.slots)
            c.src.slots.append(key)
        k = c.slot_index[key]
        if key in c.slot_ids:
            return c.slot_ids[key]
        if inline:
            return f"ix[{k}]"
        c.slot_ids[key] = f"x{k}"
        c.pre.append(f"x{k} = ix[{k}]")
        return c.slot_ids[key]

    def view(self, key: tuple, expr: str) -> str:
        """A value bound once per kernel call, before the loop over paths (a row index, a slice of K); `expr`
        may use inline slots. Element reads then index the block's arrays directly: `out[x3, v1, i]`."""
        c = self.chunk
        if key not in c.views:
            name = f"v{len(c.views)}"
            c.views[key] = name
            c.pre.append(f"{name} = {expr}")
        return c.views[key]

    def origin(self, loc: ir.Loc, what: str) -> str:
        """An origin comment; ascii() escapes line breaks so a name can never end the comment."""
        line = f":{loc[0]}" if loc else ""
        return f"# {ascii(self.src_name)[1:-1]}{line}  {ascii(what)[1:-1]}"

    def site(self, kind: str, name: str, loc: ir.Loc) -> int:
        self.chunk.src.sites.append((kind, name, tuple(loc) if loc else None))
        return len(self.chunk.src.sites) - 1

    def func_ident(self, name: str) -> str:
        return self.funcs[name]

    # -- storage hooks of ExprGen ------------------------------------------------------------------------

    def row_elem(self, name: str, d: int) -> str:
        """Variable `name` at step s + d (d <= 0 for every value that is read), for path i."""
        if name in self.out_row:
            r = self.slot(("out", name))
            at = "s" if d == 0 else self.view(("step", d), f"(s - {-d}) % (T + 1)")
            return f"out[{r}, {at}, i]"
        if d < 0:
            self.tmp[name][0] = max(self.tmp[name][0], 1 - d)
        b, dep = self.slot(("tmpb", name), inline=True), self.slot(("tmpd", name), inline=True)
        at = "s" if d == 0 else f"(s - {-d})"
        return f"tmp[{self.view(('row', name, d), f'{b} + {at} % {dep}')}, i]"

    def step_elem(self, name: str, k: int) -> str:
        """Variable `name` at the constant step k (0 <= k; reads check k <= T), for path i."""
        if name in self.out_row:
            return f"out[{self.slot(('out', name))}, {self.view(('at', k), f'min({k}, T)')}, i]"
        self.tmp[name][1] = True
        b = self.slot(("tmpb", name), inline=True)
        return f"tmp[{self.view(('at', name, k), f'{b} + min({k}, T)')}, i]"

    def dyn_elem(self, name: str, k: str) -> str:
        """Variable `name` at the step held in the integer `k` (checked by the caller), for path i."""
        if name in self.out_row:
            return f"out[{self.slot(('out', name))}, {k}, i]"
        self.tmp[name][1] = True
        return f"tmp[{self.slot(('tmpb', name))} + {k}, i]"

    def whole_series(self, name: str) -> str:
        """Every step of variable `name` for path i (a strided view)."""
        if name in self.out_row:
            return f"out[{self.slot(('out', name))}, :, i]"
        self.tmp[name][1] = True
        b = self.slot(("tmpb", name))
        return f"tmp[{b}:{b} + T + 1, i]"

    def lim(self, name: str, ctx: Ctx) -> str:
        return "s" if ctx.pos is None or self.pos[name] < ctx.pos else "(s - 1)"

    def param_read(self, name: str, loc: ir.Loc) -> tuple[str, str]:
        if name not in self.params:
            raise unsupported(f"unknown parameter {name!r}", self.program, loc)
        if name in self.constants or name in self.string_params:
            raise unsupported(f"parameter {name!r} is not a number", self.program, loc)
        code = self.chunk.locals.get(name) or self.param_elem(name)
        return (f"({code} != 0.0)", "b") if self.params[name].type.kind == "Boolean" else (code, "f")

    def text_value(self, e: ir.Expr) -> str | None:
        if isinstance(e, ir.Ref) and e.kind in ("param", "var"):
            return self.texts.get(e.name)
        return super().text_value(e)

    def param_elem(self, name: str) -> str:
        return f"P[{self.slot(('param', name))}, i]"

    def prev_param(self, name: str) -> str:
        self.param_read(name, None)
        self.prev_params.add(name)
        return f"PP[{self.slot(('pp', name))}, i]"

    def z_score(self, owner: str) -> str:
        k = self.stream_count.get(owner, 0)
        self.stream_count[owner] = k + 1
        src = self.chunk.src
        src.streams.append((owner, k))
        local = len(src.streams) - 1
        zb = self.slot(("zbase",), inline=True)
        row = self.view(("z", local), f"{zb} + {local}")
        return f"Z[{row}, {self.view(('zstep',), 's % Z.shape[1]')}, i]"

    def var_read(self, name: str, index: str, ctx: Ctx, loc: ir.Loc, em: Emitter,
                 aff: tuple[str, int] | None = None) -> tuple[str, str]:
        """A guarded read of `name` at step `index` (float code); `aff` is the index as ("s", d) = s + d or
        ("c", k) when statically known, which lets the checks fold away and reads hit hoisted views."""
        if name not in self.pos:
            raise unsupported(f"unknown variable {name!r}", self.program, loc)
        if ctx.in_func:
            raise unsupported(f"function reads model variable {name!r}", self.program, loc)
        if name in self.array_vars:
            raise unsupported(f"array {name!r} used as a number", self.program, loc)
        prev_only = not (ctx.pos is None or self.pos[name] < ctx.pos)  # not computed yet at this step
        lim = "(s - 1)" if prev_only else "s"
        checks: list[tuple[str, int]] = []
        if name in self.once:  # a whole-run value exists from its step on (a later reader needs no check)
            at = self.once[name]
            if not (ctx.last or at is not None and ctx.smin >= at):
                checks.append((f"s < {'T' if at is None else int(at)}", rt.F_NOT_YET))
        if aff is not None and aff[0] == "s":
            d = aff[1]
            if d < 0 and -d > ctx.smin:
                checks.append((f"s < {-d}", rt.F_INDEX))
            elif d > 0:
                checks.append((f"s > T - {d}", rt.F_INDEX))
            if d > (-1 if prev_only else 0):
                checks.append(("True", rt.F_NOT_YET))
            local = self.chunk.locals.get(name)
            value = local if d == 0 and local is not None and not prev_only else self.row_elem(name, min(d, 0))
        elif aff is not None:
            k = aff[1]
            if k < 0:
                checks.append(("True", rt.F_INDEX))
            else:
                checks.append((f"{k} > T", rt.F_INDEX))
                checks.append((f"{k} > {lim}", rt.F_NOT_YET))
            value = self.step_elem(name, max(k, 0))
        else:
            x, k = self.atom(index, em), self.temp()
            em.line(f"{k} = -1")
            with em.block(f"if {x} >= 0.0 and {x} <= T:"):
                em.line(f"{k} = int({x})")
                with em.block(f"if {k} != {x}:"):
                    em.line(f"{k} = -1")
            checks = [(f"{k} < 0", rt.F_INDEX), (f"{k} > {lim}", rt.F_NOT_YET)]
            value = self.dyn_elem(name, k)
        code = self.guarded(em, [], checks, value) if checks else value
        var = self.vars.get(name)
        if var is not None and var.type.kind == "Boolean":
            return f"({code} != 0.0)", "b"
        return code, "f"

    def check_buffer(self, name: str, ctx: Ctx, loc: ir.Loc) -> None:
        """A computed array's rows hold its elements at step s once its item has run at step s, and those of
        step s-1 before: a read must want exactly that step."""
        if name not in self.computed:
            return
        if ctx.in_func:
            raise unsupported(f"function reads model variable {name!r}", self.program, loc)
        done = ctx.pos is None or self.pos[name] < ctx.pos
        if not (ctx.toff == 0 if done else ctx.toff == -1 and ctx.smin >= 1):
            raise unsupported(f"array {name!r} read at another step than its current one", self.program, loc)

    def const_array(self, name: str) -> str:
        """The elements of a constant array (a slice of K)."""
        kb = self.slot(("K", name), inline=True)
        return self.view(("K", name), f"K[{kb}:{kb} + {len(self.constants[name])}]")

    def array_read(self, e: ir.Index, ctx: Ctx, em: Emitter) -> str:
        """An element of an array: a constant in-range index of a constant array is folded in; any index outside
        0..n-1 or not integral records F_ARRAY (E0301) and gives NaN."""
        if e.name not in self.constants and e.name not in self.computed:
            raise unsupported(f"{e.name!r} is not an array", self.program, e.loc)
        self.check_buffer(e.name, ctx, e.loc)
        computed = e.name in self.computed
        n = len(self.computed[e.name].elements) if computed else len(self.constants[e.name])
        aff = self.affine(e.index, ctx)
        if aff is not None and aff[0] == "c":
            if 0 <= aff[1] < n:
                if computed:
                    lb = self.slot(("L", e.name), inline=True)
                    return f"L[{self.view(('L', e.name, aff[1]), f'{lb} + {aff[1]}')}, i]"
                return num(self.constants[e.name][aff[1]])
            return self.guarded(em, [], [("True", rt.F_ARRAY)], "np.nan")
        idx = self.fexpr(e.index, ctx, em)
        element = f"L[{self.slot(('L', e.name))} + int({{0}}), i]" if computed else f"{self.const_array(e.name)}[int({{0}})]"
        return self.guarded(em, [idx], [(f"not ({{0}} >= 0.0) or {{0}} >= {n}.0 or {{0}} != math.floor({{0}})",
                                         rt.F_ARRAY)], element)

    def series(self, arg: ir.Expr, ctx: Ctx, em: Emitter) -> tuple[str, str] | None:
        """(array, valid length) of a whole-series argument, or None when `arg` is a scalar."""
        name = getattr(arg, "name", None)
        if isinstance(arg, ir.SeriesRef) or (isinstance(arg, ir.Ref) and arg.kind == "var"):
            if name in self.constants:
                return self.const_array(name), str(len(self.constants[name]))
            if name in self.computed:
                self.check_buffer(name, ctx, arg.loc)
                lb = self.slot(("L", name))
                n = len(self.computed[name].elements)
                return f"L[{lb}:{lb} + {n}, i]", str(n)
            if name in self.pos and not ctx.in_func:
                return self.whole_series(name), f"({self.lim(name, ctx)} + 1)"
            if isinstance(arg, ir.SeriesRef) and name in self.params:
                return None
            if isinstance(arg, ir.SeriesRef):
                raise unsupported(f"unknown series {name!r}", self.program, arg.loc)
        if isinstance(arg, ir.ArrayLiteral):
            items = ", ".join(self.scalar_arg(x, ctx, em) for x in arg.elements)
            tmp = self.temp()
            em.line(f"{tmp} = np.array([{items}], dtype=np.float64)")
            return tmp, f"{len(arg.elements)}"
        return None

    def x_Changes(self, e: ir.Changes, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if e.kind == "param":
            now = self.param_read(e.name, e.loc)[0]
            return f"(s >= 1 and {now} != {self.prev_param(e.name)})", "b"
        if e.name not in self.pos or e.name in self.array_vars:
            raise unsupported(f"unknown variable {e.name!r}", self.program, e.loc)
        now = self.chunk.locals.get(e.name) or self.row_elem(e.name, 0)
        return f"(s >= 1 and {now} != {self.row_elem(e.name, -1)})", "b"

    # -- statements ------------------------------------------------------------------------------------

    def finish(self, em: Emitter, start: int, code: str, site: str | int) -> None:
        """End of a statement whose lines begin at em.lines[start] and whose value is `code`: a non-finite value
        or a recorded fault stops the path. The flag is only consulted where the statement can set it."""
        faulty = "err" in code or any("err" in line for line in em.lines[start:])
        with em.block(f"if not math.isfinite({code}):"):
            if faulty:
                self.setf(em, rt.F_NONFINITE)
            else:  # nothing in the statement can have recorded a fault: the flag is still clear
                em.line(f"{self.errv} = {rt.F_NONFINITE}")
                self.fail(em, site)
        if faulty:
            with em.block(f"if {self.errv} != 0:"):
                self.fail(em, site)

    def fail(self, em: Emitter, site: str | int) -> None:
        """Leave the path's evaluation with the fault recorded at `site` (a local site number)."""
        em.line(f"fsite = {self.slot(('sites',))} + {site}")
        em.line("break")

    def reset_if_faulty(self, em: Emitter, start: int, code: str, name: str, value: str) -> None:
        """Inside constraints and policies an unevaluable expression takes `value` and clears the fault."""
        if "err" in code or any("err" in line for line in em.lines[start:]):
            with em.block(f"if {self.errv} != 0:"):
                em.line(f"{self.errv} = 0")
                if self.chunk.err:
                    em.line("err[0] = 0")
                em.line(f"{name} = {value}")

    def guarded_bool(self, name: str, cond: ir.Expr, ctx: Ctx, em: Emitter, value: str) -> None:
        """Emit `name = cond`, with `value` in its place (and the fault cleared) when it cannot be evaluated."""
        start = len(em.lines)
        code = self.bexpr(cond, ctx, em)
        em.line(f"{name} = {code}")
        self.reset_if_faulty(em, start, code, name, value)

    # -- items ------------------------------------------------------------------------------------------

    def gen_param(self, p: ir.Param, em: Emitter) -> None:
        em.line(self.origin(p.loc, f"param {p.name}"))
        local = self.fresh("p", p.name)
        row = self.param_elem(p.name)
        if p.name in self.constants or p.name in self.string_params:
            em.line(f"{row} = np.nan")
            return
        site = self.site("param", p.name, p.loc)
        ctx = Ctx("0.0", 0, p.name, toff=0)
        k = self.slot(("param", p.name))
        start = len(em.lines)
        with em.block(f"if ovm[{k}]:"):
            em.line(f"{local} = ovv[{k}]")
        with em.block("else:"):
            d = p.distribution
            if d is not None:
                col = self.slot(("zcol", p.name))
                if d.distribution_type == "Discrete":
                    args = self.discrete_args(d)
                    with em.block("if det:"):
                        em.line(f"{local} = {self.hcall(em, f'rt.disc_central({args}, err)')}")
                    with em.block("else:"):
                        em.line(f"{local} = {self.hcall(em, f'rt.disc_from_z({args}, zmat[{col}, i], err)')}")
                elif d.distribution_type == "Mixture":
                    args = self.mixture_args(d, ctx, em)
                    with em.block("if det:"):
                        em.line(f"{local} = {self.hcall(em, f'rt.mix_central({args}, err)')}")
                    with em.block("else:"):
                        em.line(f"{local} = {self.hcall(em, f'rt.mix_from_z({args}, zmat[{col}, i], err)')}")
                else:
                    code, a = self.dist_args(d, ctx, em)
                    args = f"{code}, {', '.join(a)}"
                    sample = f"rt.from_z({args}, zmat[{col}, i], err)"
                    if d.distribution_type == "Beta":  # tabulated quantile (see rt.from_z_beta)
                        sample = f"rt.from_z_beta(btab[{self.slot(('btab', p.name))}], {a[0]}, {a[1]}, zmat[{col}, i], err)"
                    with em.block("if det:"):
                        em.line(f"{local} = {self.hcall(em, f'rt.central({args}, err)')}")
                    with em.block("else:"):
                        em.line(f"{local} = {self.hcall(em, sample)}")
            elif p.value is not None:
                em.line(f"{local} = {self.fexpr(p.value, ctx, em)}")
            else:
                raise unsupported(f"parameter {p.name!r} has neither value nor distribution", self.program, p.loc)
        self.finish(em, start, local, site)
        em.line(f"{row} = {local}")
        self.chunk.locals[p.name] = local

    def store(self, name: str, value: str, em: Emitter) -> None:
        """Write variable `name`'s value at step s (and keep it in a local for later items of the chunk)."""
        em.line(f"{self.row_elem(name, 0)} = {value}")
        self.chunk.locals[name] = value

    def gen_var(self, var: ir.Var, em: Emitter) -> None:
        em.line(self.origin(var.loc, f"var {var.name}"))
        j = self.pos[var.name]
        if var.name in self.array_vars:  # an array (K or rows of L): its own row holds no number
            lit = self.computed.get(var.name)
            ctx = Ctx("tf", j, var.name, toff=0)
            for k, elem in enumerate(lit.elements if lit is not None else ()):
                site = self.site("var", var.name, getattr(elem, "loc", None) or var.loc)
                start = len(em.lines)
                tmp = self.temp()
                em.line(f"{tmp} = {self.fexpr(elem, ctx, em)}")
                self.finish(em, start, tmp, site)
                lb = self.slot(("L", var.name), inline=True)
                em.line(f"L[{self.view(('L', var.name, k), f'{lb} + {k}')}, i] = {tmp}")
            em.line(f"{self.row_elem(var.name, 0)} = np.nan")
            return
        if var.name in self.texts:  # a text: reported as written, its row holds no number
            em.line(f"{self.row_elem(var.name, 0)} = np.nan")
            return
        if var.name in self.once:
            if var.name in self.sticky:
                raise unsupported(f"a policy changes whole-run variable {var.name!r}", self.program, var.loc)
            self.gen_once(var, var.rules[0], em)
            return
        rules = sorted(var.rules, key=lambda r: 0 if r.kind in ("initial", "literal") else 1)
        for rule in rules:
            if rule.kind not in ("initial", "literal", "shifted", "general", "scalar"):
                raise unsupported(f"rule kind {rule.kind!r}", self.program, rule.loc)
        start = len(em.lines)
        out = self.temp()
        if var.name in self.sticky or any(r.guard is not None for r in rules):
            site = self.var_rules_flagged(var, rules, out, em)
        else:
            site = self.var_rules_chain(var, rules, out, em)
        self.finish(em, start, out, site)
        self.store(var.name, out, em)

    def gen_once(self, var: ir.Var, rule: ir.Rule, em: Emitter) -> None:
        """A whole-run value: computed once, at step `at` (the last step T when None), held after it, NaN before
        it (readers check the step). A run that ends before step `at` faults at its last step (E0301)."""
        if rule.kind != "once" or rule.guard is not None:
            raise unsupported(f"whole-run variable {var.name!r} with a rule of kind {rule.kind!r}", self.program,
                              rule.loc)
        at = "T" if rule.at is None else str(int(rule.at))
        out = self.temp()
        site = self.site("var", var.name, rule.loc or var.loc)
        em.line(self.origin(rule.loc, f"{var.name} (once, at {'the last step' if rule.at is None else 'step ' + at})"))
        with em.block(f"if s == {at}:"):
            start = len(em.lines)
            ctx = Ctx("tf", self.pos[var.name], var.name, toff=0, smin=int(rule.at or 0), last=rule.at is None)
            em.line(f"{out} = {self.fexpr(rule.expr, ctx, em)}")
            self.finish(em, start, out, site)
        if rule.at is not None:
            with em.block(f"elif s > {at}:"):
                em.line(f"{out} = {self.row_elem(var.name, -1)}")
            with em.block("elif s == T:"):  # the run ends before the step the value needs
                em.line(f"{out} = np.nan")
                em.line(f"{self.errv} = {rt.F_INDEX}")
                self.fail(em, site)
        with em.block("else:"):
            em.line(f"{out} = np.nan")
        self.store(var.name, out, em)

    def rule_ctx(self, var: ir.Var, rule: ir.Rule) -> Ctx:
        j = self.pos[var.name]
        if rule.kind == "shifted":
            k = int(rule.shift)
            return Ctx(f"(tf - {float(k)!r})", j, var.name, toff=-k, smin=k)
        return Ctx("tf", j, var.name, toff=0)

    def rule_test(self, rule: ir.Rule) -> str | None:
        """The step condition under which `rule` applies (None: every step)."""
        if rule.kind in ("initial", "literal"):
            return f"s == {0 if rule.at is None else int(rule.at)}"
        if rule.kind == "shifted":
            return f"s >= {int(rule.shift)}"
        return None

    def var_rules_chain(self, var: ir.Var, rules: list[ir.Rule], out: str, em: Emitter) -> str:
        """Unguarded rules as one if/elif chain on the step (literal steps first); returns the fault site's code.
        A single rule for every step is straight-line code."""
        if len(rules) == 1 and self.rule_test(rules[0]) is None:
            site = self.site("var", var.name, rules[0].loc or var.loc)
            em.line(self.origin(rules[0].loc, f"{var.name} ({rules[0].kind})"))
            em.line(f"{out} = {self.fexpr(rules[0].expr, self.rule_ctx(var, rules[0]), em)}")
            return str(site)
        total = False
        literal = {0 if r.at is None else int(r.at) for r in rules if r.kind in ("initial", "literal")}
        for k, rule in enumerate(rules):
            site = self.site("var", var.name, rule.loc or var.loc)
            test = self.rule_test(rule)
            if rule.kind == "shifted" and k == len(rules) - 1 and all(x in literal for x in range(int(rule.shift))):
                test = None  # the literal steps cover every step before the shift: this is every other step
            em.line(self.origin(rule.loc, f"{var.name} ({rule.kind})"))
            with em.block(f"{'if' if k == 0 else 'elif'} {test}:" if test is not None else "else:"):
                em.line(f"site = {site}")
                em.line(f"{out} = {self.fexpr(rule.expr, self.rule_ctx(var, rule), em)}")
            if test is None:
                total = True
                break
        if not total:  # a step no rule covers
            with em.block("else:"):
                em.line(f"site = {self.site('var', var.name, var.loc)}")
                em.line(f"{out} = 0.0")
                em.line(f"ferr = {rt.F_UNDEFINED}")
        return "site"

    def var_rules_flagged(self, var: ir.Var, rules: list[ir.Rule], out: str, em: Emitter) -> str:
        """Rules with guards (or a variable a policy may pin): tried in order until one applies."""
        done = self.temp()
        em.line(f"{out} = 0.0")
        em.line(f"{done} = False")
        em.line("site = -1")
        if var.name in self.sticky:
            with em.block(f"if s > 0 and ov[{self.slot(('ov', var.name))}, i]:"):
                em.line(f"{out} = {self.row_elem(var.name, -1)}")
                em.line(f"{done} = True")
        for rule in rules:
            site = self.site("var", var.name, rule.loc or var.loc)
            test = self.rule_test(rule)
            ctx = self.rule_ctx(var, rule)
            em.line(self.origin(rule.loc, f"{var.name} ({rule.kind})"))
            with em.block(f"if not {done}" + (f" and {test}:" if test else ":")):
                em.line(f"site = {site}")
                if rule.guard is not None:
                    em.line(f"if {self.bexpr(rule.guard, ctx, em)}:")
                    em.ind += 1
                em.line(f"{out} = {self.fexpr(rule.expr, ctx, em)}")
                em.line(f"{done} = True")
                if rule.guard is not None:
                    em.ind -= 1
        undefined = self.site("var", var.name, var.loc)
        if not any(r.kind in ("general", "scalar") and r.guard is None for r in rules):  # a step may have no rule
            with em.block(f"if not {done}:"):
                em.line(f"site = {undefined}")
                self.setf(em, rt.F_UNDEFINED)
        return "site"

    def gen_output_expr(self, out: ir.Output, em: Emitter) -> None:
        site = self.site("output", out.name, getattr(out.expr, "loc", None))
        em.line(self.origin(getattr(out.expr, "loc", None), f"output {out.name}"))
        ctx = Ctx("tf", None, "output:" + out.name, toff=0)
        start = len(em.lines)
        tmp = self.temp()
        em.line(f"{tmp} = {self.fexpr(out.expr, ctx, em)}")
        self.finish(em, start, tmp, site)
        self.store(out.name, tmp, em)

    def gen_policy(self, pol: ir.Policy, em: Emitter) -> None:
        em.line(self.origin(pol.loc, f"policy {pol.name}"))
        site = self.site("policy", pol.name, pol.loc)
        ctx = Ctx("tf", None, "policy:" + pol.name, toff=0)
        trig = self.temp()
        self.guarded_bool(trig, pol.trigger, ctx, em, "False")  # an unevaluable trigger is false
        with em.block(f"if {trig}:"):
            self.actions(pol, pol.actions, ctx, em, site)

    def actions(self, pol: ir.Policy, body: tuple[ir.Stmt, ...], ctx: Ctx, em: Emitter, site: int) -> None:
        if not body:
            em.line("pass")
        for st in body:
            if isinstance(st, ir.Action):
                self.action(st, ctx, em, site)
            elif isinstance(st, ir.Emit):
                self.chunk.src.emits.append((pol.name, st.event_name))
                em.line(f"evc[{self.slot(('ebase',))} + {len(self.chunk.src.emits) - 1}, s] += 1")
            elif isinstance(st, ir.If):
                cond = self.temp()
                self.guarded_bool(cond, st.condition, ctx, em, "False")
                with em.block(f"if {cond}:"):
                    self.actions(pol, st.then, ctx, em, site)
                if st.else_:
                    with em.block("else:"):
                        self.actions(pol, st.else_, ctx, em, site)
            else:
                raise unsupported(f"statement {type(st).__name__} in a policy", self.program, pol.loc)

    def action(self, a: ir.Action, ctx: Ctx, em: Emitter, site: int) -> None:
        em.line(self.origin(a.loc, f"{a.action_type} {a.target}"))
        start = len(em.lines)
        value = self.fexpr(a.value, ctx, em)
        if a.target_kind == "param":
            cur = self.param_read(a.target, a.loc)[0]
            if self.params[a.target].type.kind == "Boolean":
                cur = self.param_elem(a.target)
        elif a.target_kind == "var" and a.target in self.vars and a.target not in self.array_vars:
            cur = self.chunk.locals.get(a.target) or self.row_elem(a.target, 0)
        else:
            raise unsupported(f"policy target {a.target!r}", self.program, a.loc)
        new = {"assign": value, "multiply": f"({cur} * {value})", "add": f"({cur} + {value})"}.get(a.action_type)
        if new is None:
            raise unsupported(f"action {a.action_type!r}", self.program, a.loc)
        tmp = self.temp()
        em.line(f"{tmp} = {new}")
        self.finish(em, start, tmp, site)
        if a.target_kind == "var":
            em.line(f"{self.row_elem(a.target, 0)} = {tmp}")
            if a.target in self.chunk.locals:
                em.line(f"{self.chunk.locals[a.target]} = {tmp}")
            if a.target in self.sticky:
                em.line(f"ov[{self.slot(('ov', a.target))}, i] = True")
        else:
            em.line(f"{self.param_elem(a.target)} = {tmp}")

    def gen_constraint(self, c: ir.Constraint, em: Emitter) -> None:
        em.line(self.origin(c.loc, f"constraint {c.name} ({c.severity})"))
        c_local = self.chunk.src.n_constraints
        self.chunk.src.n_constraints += 1
        look = int(c.lookahead)
        if look == 0:  # the instance of this step: t is s itself
            tc, tcf = "s", "tf"
        else:
            tc, tcf = self.temp(), self.temp()
            em.line(f"{tc} = s - {look}")
            em.line(f"{tcf} = float({tc})")
        sc = c.scope
        # a constraint checked at one step only (a whole-run condition) reads whole-run values unchecked
        once = look == 0 and (sc.type == "specific" or sc.type == "cond" and _is_last_step(sc.condition))
        ctx = Ctx(tcf, None, "constraint:" + c.name, toff=-look, smin=int(sc.timestep or 0) if once else 0,
                  last=once and sc.type == "cond")
        nonneg = "True" if look == 0 else f"{tc} >= 0"
        if sc.type == "all":
            cond_scope = nonneg
        elif sc.type == "range":
            cond_scope = f"{tc} >= {int(sc.start or 0)} and {tc} <= {int(sc.end if sc.end is not None else 10**9)}"
        elif sc.type == "specific":
            cond_scope = f"{tc} == {int(sc.timestep or 0)}"
        elif sc.type == "cond" and sc.condition is not None:
            inscope = self.temp()
            em.line(f"{inscope} = False")
            with em.block(f"if {nonneg}:"):
                self.guarded_bool(inscope, sc.condition, ctx, em, "False")
            cond_scope = inscope
        else:
            raise unsupported(f"constraint scope {sc.type!r}", self.program, c.loc)
        if cond_scope != "True":
            em.line(f"if {cond_scope}:")
            em.ind += 1
        ok = self.temp()
        self.guarded_bool(ok, c.condition, ctx, em, "True")  # an unevaluable instance is skipped
        with em.block(f"if not {ok}:"):
            self.violation(c_local, c, ctx, tc, em)
        if cond_scope != "True":
            em.ind -= 1

    def violation(self, c_local: int, c: ir.Constraint, ctx: Ctx, tc: str, em: Emitter) -> None:
        """Count the violation; evaluate the message's values only when they are kept (the path's first
        violation of this constraint, or any in a deterministic run); a fatal one stops the path."""
        cid = self.view(("c", c_local), f"{self.slot(('cbase',), inline=True)} + {c_local}")
        w = self.temp()
        em.line(f"{w} = rt.violated(ccount, cfirst, wlog, det, {cid}, i, {tc})")
        parts = [part.expr for part in c.message if part.expr is not None]
        types: list[str] = []
        if parts:
            with em.block(f"if {w} != 0:"):
                if len(parts) <= MESSAGE_INLINE:
                    types = self.message_parts(parts, 0, ctx, em, w, cid, tc)
                else:
                    types = self.message_helpers(parts, ctx, em, w, cid, tc)
        it = iter(types)
        self.chunk.messages.append(tuple((part.text or "", "text") if part.expr is None else (None, next(it))
                                         for part in c.message))
        if c.severity == "fatal":
            em.line(f"rt.stop_fatal(st, i, s, {cid})")
            em.line("break")

    def message_parts(self, parts: list[ir.Expr], first: int, ctx: Ctx, em: Emitter, w: str, cid: str,
                      tc: str) -> list[str]:
        """Evaluate message values number first.. and keep them; an unevaluable one is NaN (printed `?`)."""
        types = []
        if len(parts) == 1:
            mz = self.temp()  # a zero numba does not type as a literal: one rt.message overload, not one per index
            em.line(f"{mz} = {cid} - {cid}")
        else:  # values gathered in one array, kept by one call (a call per value costs more to compile)
            mv = self.temp()
            em.line(f"{mv} = np.empty({len(parts)})")
        for k, expr in enumerate(parts):
            start = len(em.lines)
            code, typ = self.expr(expr, ctx, em)
            tmp = self.temp()
            em.line(f"{tmp} = {as_f(code, typ)}")
            self.reset_if_faulty(em, start, code, tmp, "np.nan")
            if len(parts) == 1:
                em.line(f"rt.message(cmsg, wvals, {w}, {cid}, i, {tc}, {mz} + {first}, {tmp})")
            else:
                em.line(f"{mv}[{k}] = {tmp}")
            types.append(typ)
        if len(parts) > 1:
            em.line(f"rt.messages(cmsg, wvals, {w}, {cid}, i, {tc}, {cid} - {cid} + {first}, {mv})")
        return types

    def message_helpers(self, parts: list[ir.Expr], ctx: Ctx, em: Emitter, w: str, cid: str,
                        tc: str) -> list[str]:
        """A message with very many values: MESSAGE_INLINE values per helper function of the module (each
        compiled on its own, so no function grows with the message), called only when the values are kept."""
        types: list[str] = []
        for first in range(0, len(parts), MESSAGE_INLINE):
            with self.helper_scope() as body:
                body.line("ferr = 0")
                tcf = "tf" if tc == "s" else "float(tc)"
                hctx = dataclasses.replace(ctx, time=tcf, scope=dict(ctx.scope))
                types += self.message_parts(parts[first:first + MESSAGE_INLINE], first, hctx, body, "w", "cid", "tc")
                name = self.add_helper(["w", "cid", "tc"], body, own_err=True)
            em.line(f"{name}({KERNEL_ARGS}, i, {w}, {cid}, {tc})")
        return types

    @contextmanager
    def helper_scope(self) -> Iterator[Emitter]:
        """Generate a helper function of the chunk's module: its own preamble, views and locals (the chunk's
        slots are shared: helpers index the same `ix`)."""
        c = self.chunk
        saved = (c.pre, c.views, c.locals, c.err, c.slot_ids, self.errv)
        c.pre, c.views, c.locals, c.err, c.slot_ids = [], {}, {}, False, {}
        try:
            yield Emitter(1)
        finally:
            c.pre, c.views, c.locals, c.err, c.slot_ids, self.errv = saved

    def add_helper(self, params: list[str], body: Emitter, own_err: bool) -> str:
        """Append the helper whose body is `body` (inside helper_scope); its name."""
        c = self.chunk
        name = f"h_{len(c.helpers)}"
        c.helpers.append("\n".join([
            "", "", "@jit", f"def {name}({', '.join([KERNEL_ARGS, 'i', *params])}):",
            "    tf = float(s)",
            *(["    err = np.zeros(1, np.int64)"] if own_err and c.err else []),
            *("    " + x for x in c.pre), *body.lines]))
        return name

    def outline(self, apply: Callable[[Emitter, str, str], tuple[str, str]], code: str, typ: str, ctx: Ctx,
                em: Emitter) -> tuple[str, str]:
        """Run `apply(em, acc, type)` (a segment of a long operator chain) in a helper function of its own,
        so that no function grows with the chain: acc goes in, the segment's value comes back (faults
        through the err channel, as runtime helpers report them)."""
        acc_in = self.atom(as_f(code, typ), em)
        time_param = [] if PER_CALL_TIME.match(ctx.time) else [ctx.time]
        with self.helper_scope() as body:
            self.errv = "err[0]"
            body.line("acc = (accv != 0.0)" if typ == "b" else "acc = accv")
            out_code, out_typ = apply(body, "acc", typ)
            body.line(f"return {as_f(out_code, out_typ)}")
            name = self.add_helper(["err", "accv", *time_param], body, own_err=False)
        result = self.hcall(em, f"{name}({', '.join([KERNEL_ARGS, 'i', 'err', acc_in, *time_param])})")
        return (f"({result} != 0.0)", "b") if out_typ == "b" else (result, "f")

    # -- user functions -----------------------------------------------------------------------------------

    def gen_func(self, f: ir.Func) -> list[str]:
        self.errv = "err[0]"  # a function's faults go through the helpers' channel
        try:
            return self._gen_func(f)
        finally:
            self.errv = "ferr"

    def _gen_func(self, f: ir.Func) -> list[str]:
        em = Emitter(1)
        scope = {name: self.fresh("l", name) for name in f.params}
        ctx = Ctx("", None, f.name, dict(scope), in_func=True)
        self.stmts(f.body, ctx, em)
        em.line("rt.setf(err, rt.F_NORETURN)")
        em.line("return np.nan")
        head = [self.origin(f.loc, f"func {f.name}"), "@jit", f"def {self.funcs[f.name]}({', '.join([*scope.values(), 'err'])}):"]
        return head + em.lines

    def stmts(self, body: tuple[ir.Stmt, ...], ctx: Ctx, em: Emitter) -> None:
        if not body:
            em.line("pass")
        for st in body:
            if isinstance(st, ir.Let):
                value = self.fexpr(st.value, ctx, em)
                if st.name not in ctx.scope:
                    ctx.scope[st.name] = self.fresh("l", st.name)
                em.line(f"{ctx.scope[st.name]} = {value}")
            elif isinstance(st, ir.Return):
                em.line(f"return {self.fexpr(st.value, ctx, em)}")
            elif isinstance(st, ir.If):
                with em.block(f"if {self.bexpr(st.condition, ctx, em)}:"):
                    self.stmts(st.then, ctx, em)
                if st.else_:
                    with em.block("else:"):
                        self.stmts(st.else_, ctx, em)
            elif isinstance(st, ir.For):
                lo, hi, k = self.temp(), self.temp(), self.temp()
                em.line(f"{lo} = rt.to_step({self.fexpr(st.start, ctx, em)}, err)")
                em.line(f"{hi} = rt.to_step({self.fexpr(st.end, ctx, em)}, err)")
                if st.var not in ctx.scope:
                    ctx.scope[st.var] = self.fresh("l", st.var)
                with em.block(f"for {k} in range({lo}, {hi} + 1):"):
                    em.line(f"{ctx.scope[st.var]} = float({k})")
                    self.stmts(st.body, ctx, em)
            else:
                raise unsupported(f"statement {type(st).__name__} in a function", self.program, getattr(st, "loc", None))

    # -- modules ------------------------------------------------------------------------------------------

    def header(self, what: str) -> list[str]:
        return [
            '"""PEL generated kernel module: generated from the IR, never edit."""',
            f"# model: {ascii(self.model.name)}  ({what})",
            f"# ir_hash: {ascii(str(self.program.metadata.get('model_hash', '')))}",
            f"# pel_version: {__version__}",
            f"# source: {ascii(self.src_name)}",
            "# ruff: noqa",
            "import math",
            "",
            "import numpy as np",
            "",
            "from pel.backend import runtime as rt",
            "from pel.backend.runtime import jit",
        ]

    def funcs_module(self) -> ChunkSource | None:
        if not self.model.funcs:
            return None
        self.chunk = Chunk("funcs")
        body: list[str] = []
        for f in self.model.funcs:
            body += ["", ""] + self.gen_func(f)
        src = self.chunk.src
        src.text = "\n".join(self.header("user functions") + body) + "\n"
        src.key = source_key(src.text)
        src.label = "user functions"
        return src

    def chunk_module(self, kind: str, items: list[chunking.Item], funcs: ChunkSource | None) -> ChunkSource:
        self.chunk = c = Chunk(kind)
        body = Emitter(3)
        for item in items:
            if item.kind == "param":
                self.gen_param(self.params[item.name], body)
            elif item.kind == "var":
                self.gen_var(self.vars[item.name], body)
            elif item.kind == "policy":
                self.gen_policy(self.policies[item.name], body)
            elif item.kind == "output":
                self.gen_output_expr(self.output_by_name[item.name], body)
            else:
                self.gen_constraint(self.constraints[item.name], body)
        used_funcs = [ident for name, ident in self.funcs.items() if any(ident + "(" in x for x in body.lines)]
        imports = []
        if used_funcs and funcs is not None:
            imports.append(f"from {funcs.module} import {', '.join(used_funcs)}")
            c.src.imports = (funcs.module,)
        label = (f"{kind}: {items[0].kind} {items[0].name} .. {items[-1].kind} {items[-1].name} ({len(items)} items)"
                 if items else f"{kind}: none")
        label = ascii(label)[1:-1]  # names reach the module only escaped, in comments
        fn = [
            "", "",
            "@jit",
            f"def {kind}({KERNEL_ARGS}):",
            f"    # {label}",
            '    """The chunk\'s items at step s (parameters: before step 0) for every path of a block."""',
            "    tf = float(s)",
            *(["    err = np.zeros(1, np.int64)"] if c.err else []),
            *("    " + x for x in c.pre),
            "    for i in range(st.shape[1]):",
            "        if st[0, i] != 0:",
            "            continue",
            "        ferr = 0",
            "        fsite = -1",
            "        while True:",
            *body.lines,
            "            break",
            "        if fsite >= 0:",
            "            rt.fail_at(st, i, s, fsite, ferr)",
            *(["            err[0] = 0  # err[0] != 0 only while ferr != 0: cleared with it"] if c.err else []),
        ]
        c.src.text = "\n".join(self.header(label) + imports + c.helpers + fn) + "\n"
        c.src.key = source_key(c.src.text, *(funcs.key for _ in c.src.imports if funcs is not None))
        c.src.label = label
        c.src.n_items = len(items)
        return c.src

    def kernel_source(self) -> KernelSource:
        m = self.model
        self.policies = {p.name: p for p in m.policies}
        self.constraints = {c.name: c for c in m.constraints}
        self.output_by_name = {o.name: o for o in self.output_exprs}
        funcs = self.funcs_module()
        def weight(obj: object) -> int:  # a large item counts as several: ITEM_NODES nodes per unit
            return 1 + ir.size(obj) // ITEM_NODES

        fixed = self.fixed_params()
        tabled = self.tabled_params(fixed)
        params = [chunking.Item("param", p.name, weight(p)) for p in m.params
                  if p.name not in fixed and p.name not in tabled]
        steps = [chunking.Item("var", n, weight(self.vars[n].rules)) for n in m.order]
        steps += [chunking.Item("policy", p.name, weight(p)) for p in m.policies]
        steps += [chunking.Item("output", o.name, weight(o)) for o in self.output_exprs]
        steps += [chunking.Item("constraint", c.name, weight(c)) for c in m.constraints]
        chunks = [self.chunk_module("params", group, funcs) for group in chunking.partition(params)]
        if not chunks:  # the engine counts on at least one params chunk
            chunks.append(self.chunk_module("params", [], funcs))
        messages: list = []
        for group in chunking.partition(steps):
            chunks.append(self.chunk_module("step", group, funcs))
            messages += self.chunk.messages
        return KernelSource(
            chunks=chunks, funcs=funcs,
            params=tuple(p.name for p in m.params), dist_columns=self.dist_columns, beta_tables=self.beta_tables,
            outputs=self.outputs, tmp_vars={n: (need, full) for n, (need, full) in self.tmp.items()},
            sticky=self.sticky, prev_params=tuple(sorted(self.prev_params)),
            arrays={n: len(lit.elements) for n, lit in self.computed.items()}, constants=self.constants,
            sites=tuple(s for ch in chunks for s in ch.sites) + tuple(
                ("param", p.name, tuple(p.loc) if p.loc else None) for p in m.params if p.name in tabled),
            constraints=tuple((c.name, c.severity) for c in m.constraints), messages=tuple(messages),
            streams=tuple(s for ch in chunks for s in ch.streams),
            emits=tuple(e for ch in chunks for e in ch.emits),
            fixed=tuple((name, value, ov) for name, (value, ov) in fixed.items()),
            tabled=tuple((name, code, args) for name, (code, args) in tabled.items()),
            texts=dict(self.texts),
        )

    def fixed_params(self) -> dict[str, tuple[float, bool]]:
        """Parameters whose value is known before any path runs (a finite number, or a string or array that
        lives elsewhere and whose row holds NaN): the block driver writes their rows, so they cost no code."""
        fixed: dict[str, tuple[float, bool]] = {}
        for p in self.model.params:
            if p.name in self.constants or p.name in self.string_params:
                fixed[p.name] = (math.nan, False)
            elif p.distribution is None and p.value is not None and is_const(p.value):
                value = const_value(p.value, self.program)
                if math.isfinite(value):
                    fixed[p.name] = (value, True)
        return fixed


    def tabled_params(self, fixed: dict[str, tuple[float, bool]]) -> dict[str, tuple[int, tuple[float, ...]]]:
        """Parameters drawn from one (not mixed) distribution whose arguments are all numbers: sampled from a
        table by one runtime routine, so a model's hundreds of uncertain assumptions cost no compiled code
        (inverse CDFs inlined per parameter made parameter chunks the slowest code to compile)."""
        tabled: dict[str, tuple[int, tuple[float, ...]]] = {}
        for p in self.model.params:
            found = None if p.name in fixed or p.distribution is None else constant_dist_args(p.distribution)
            if found is not None:
                tabled[p.name] = found
        return tabled


def array_literal(var: ir.Var, program: ir.Program) -> ir.ArrayLiteral | None:
    """The array literal a variable is bound to (`var nums = [10, 20, 30]`), or None for other variables. A
    variable of Array type must have exactly one unguarded rule giving an array literal."""
    lits = [r for r in var.rules if isinstance(r.expr, ir.ArrayLiteral)]
    if not lits and var.type.kind != "Array":
        return None
    if len(var.rules) != 1 or not lits or var.rules[0].kind not in ("scalar", "general") or var.rules[0].guard:
        raise unsupported(f"array variable {var.name!r} must be bound once to an array literal", program, var.loc)
    return lits[0].expr


def _is_last_step(e: ir.Expr | None) -> bool:
    """Whether a scope condition is `t == t_max` (how a whole-run constraint is checked at the last step)."""
    return isinstance(e, ir.Binary) and e.op == "==" and {(x.kind if isinstance(x, ir.Ref) else None)
                                                          for x in (e.left, e.right)} == {"time", "horizon"}


def _actions(body: tuple[ir.Stmt, ...]) -> list[ir.Action]:
    out: list[ir.Action] = []
    stack = list(reversed(body))
    while stack:
        st = stack.pop()
        if isinstance(st, ir.Action):
            out.append(st)
        elif isinstance(st, ir.If):
            stack += reversed(st.then + st.else_)
    return out


def kernel_source(program: ir.Program) -> KernelSource:
    """The kernel modules of `program` and their tables."""
    return Generator(program).kernel_source()


def generate(program: ir.Program) -> str:
    """The Python source of the model's kernels (what `pel compile --emit python` prints)."""
    return kernel_source(program).text()
