"""Code generation: an ir.Program -> the source of one Python module whose kernels numba compiles."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath

from pel import __version__
from pel.backend import runtime as rt
from pel.backend.namespace import Namespace
from pel.diagnostics import IRError, Span, simple
from pel.ir import nodes as ir
from pel.ir.validate import DIST_PARAMS

KERNEL_ARGS = "det, T, zmat, btab, ovm, ovv, vals, pout, st, cfirst, ccount, cmsg, wlog, wvals, evc"

DIST_CODES = {
    "Normal": rt.D_NORMAL,
    "LogNormal": rt.D_LOGNORMAL,
    "Beta": rt.D_BETA,
    "Uniform": rt.D_UNIFORM,
    "Triangular": rt.D_TRIANGULAR,
    "Pareto": rt.D_PARETO,
}
ARITH = {"+", "-", "*"}
COMPARE = {"==", "!=", "<", "<=", ">", ">="}
SERIES_FUNCS = {"sum", "avg", "length", "count", "npv", "irr", "cumsum", "lag"}


def unsupported(what: str, program: ir.Program | None = None, loc: ir.Loc = None) -> IRError:
    """The IR uses something this backend cannot run (an internal error: validation should have caught it)."""
    span = None
    if program is not None and loc:
        span = Span.from_list(str(program.metadata.get("source_file", "<model>")), list(loc))
    return IRError(simple("E9999", f"the backend cannot run this IR: {what}", span))


@dataclass
class Ctx:
    """Where an expression is evaluated."""

    time: str  # Python expression of t (a float); "" inside user functions
    pos: int | None  # row of the variable being computed (reads of later rows see step s-1); None: all done
    owner: str  # name keying inline random streams
    scope: dict[str, str] = field(default_factory=dict)  # PEL local -> identifier
    in_func: bool = False
    toff: int | None = None  # the time is the integer step s + toff (None: not statically known)
    smin: int = 0  # the code runs only at steps s >= smin


class Emitter:
    """Indented lines of Python."""

    def __init__(self, indent: int = 0) -> None:
        self.lines: list[str] = []
        self.ind = indent

    def line(self, text: str) -> None:
        self.lines.append("    " * self.ind + text)

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header)
        self.ind += 1
        yield
        self.ind -= 1


def as_f(code: str, typ: str) -> str:
    return f"(1.0 if {code} else 0.0)" if typ == "b" else code


def as_b(code: str, typ: str) -> str:
    return code if typ == "b" else f"({code} != 0.0)"


SIMPLE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|-?[0-9.e+-]+|\(-?[0-9.e+-]+\))$")


def num(value: float) -> str:
    value = float(value)
    if value != value:
        return "np.nan"
    if value in (float("inf"), float("-inf")):
        return "np.inf" if value > 0 else "(-np.inf)"
    return repr(value)


class Generator:
    """Walks one model and writes its module."""

    def __init__(self, program: ir.Program) -> None:
        self.program = program
        self.model = program.model
        self.ns = Namespace()
        self.src_name = PurePath(str(program.metadata.get("source_file", "model.pel")) or "model.pel").name
        m = self.model
        self.var_names: list[str] = list(m.order)
        known = {v.name for v in m.vars}
        if set(self.var_names) != known or len(self.var_names) != len(known):
            raise unsupported("model.order does not list every variable exactly once", program)
        self.vars = {v.name: v for v in m.vars}
        self.output_exprs = [o for o in m.outputs if o.expr is not None]
        self.var_names += [o.name for o in self.output_exprs]
        self.row = {name: j for j, name in enumerate(self.var_names)}
        self.params = {p.name: p for p in m.params}
        self.param_ident = {p.name: self.ns.ident("p", p.name) for p in m.params}
        self.arrays: dict[str, str] = {}  # arrays (params and vars bound to array literals) -> identifier
        self.array_values: dict[str, tuple[float, ...]] = {}  # elements of the constant ones
        self.array_len: dict[str, int] = {}
        self.computed: dict[str, ir.ArrayLiteral] = {}  # array vars with non-constant elements: per-path buffers
        self.string_params: set[str] = set()
        self.funcs = {f.name: self.ns.ident("f", f.name) for f in m.funcs}
        self.func_defs = {f.name: f for f in m.funcs}
        self.dist_columns: list[str] = [p.name for p in m.params if p.distribution is not None]
        self.beta_tables: list[str] = []  # Beta parameters, in the order of their rows of btab
        self.streams: list[tuple[str, int]] = []
        self._stream_count: dict[str, int] = {}
        self.sites: list[tuple[str, str, tuple | None]] = []
        self.emits: list[tuple[str, str]] = []
        self.prev_params: set[str] = set()
        self.policy_vars = {
            a.target for pol in m.policies for a in _actions(pol.actions) if a.target_kind == "var"
        }
        self.sticky = [n for n in m.order if n in self.policy_vars and not self.vars[n].series]
        self.msg_kinds: list[tuple[tuple[str | None, str], ...]] = []
        self.array_vars: set[str] = set()
        for v in m.vars:
            lit = array_literal(v, program)
            if lit is not None:
                self.array_vars.add(v.name)
                self.array_len[v.name] = len(lit.elements)
                if all(is_const(x) for x in lit.elements):
                    self.arrays[v.name] = self.ns.ident("A", v.name)
                    self.array_values[v.name] = tuple(const_value(x, program) for x in lit.elements)
                else:
                    self.arrays[v.name] = self.ns.ident("L", v.name)
                    self.computed[v.name] = lit
        # Where the fault of the current evaluation is kept: the `err` array inside user functions (the runtime
        # helpers' channel), a local integer inside run_path (a register: LLVM folds the checks it can prove).
        self.errv = "err[0]"
        for p in m.params:
            if isinstance(p.value, ir.ArrayLiteral):
                self.arrays[p.name] = self.ns.ident("A", p.name)
                self.array_values[p.name] = tuple(const_value(x, program) for x in p.value.elements)
                self.array_len[p.name] = len(p.value.elements)
            elif isinstance(p.value, ir.Literal) and isinstance(p.value.value, str):
                self.string_params.add(p.name)

    # -- bookkeeping ---------------------------------------------------------------------------

    def site(self, kind: str, name: str, loc: ir.Loc) -> int:
        self.sites.append((kind, name, tuple(loc) if loc else None))
        return len(self.sites) - 1

    def origin(self, loc: ir.Loc, what: str) -> str:
        """An origin comment; ascii() escapes line breaks so a name can never end the comment."""
        line = f":{loc[0]}" if loc else ""
        return f"# {ascii(self.src_name)[1:-1]}{line}  {ascii(what)[1:-1]}"

    def stream(self, owner: str) -> str:
        k = self._stream_count.get(owner, 0)
        self._stream_count[owner] = k + 1
        self.streams.append((owner, k))
        return f"g_{len(self.streams) - 1}"

    def lim(self, name: str, ctx: Ctx) -> str:
        if ctx.pos is None or self.row[name] < ctx.pos:
            return "s"
        return "(s - 1)"

    def finish(self, em: Emitter, start: int, code: str, site: str | int) -> None:
        """End of a statement whose lines begin at em.lines[start] and whose value is `code`: a non-finite
        value or a recorded fault stops the path. The error flag is only consulted where something in the
        statement can set it (the generated lines mention `err`)."""
        faulty = "err" in code or any("err" in line for line in em.lines[start:])
        with em.block(f"if not math.isfinite({code}):"):
            self.setf(em, rt.F_NONFINITE)
            if not faulty:
                self.fail(em, site)
        if faulty:
            with em.block(f"if {self.errv} != 0:"):
                self.fail(em, site)

    def reset_if_faulty(self, em: Emitter, start: int, code: str, name: str, value: str) -> None:
        """Inside constraints and policies an unevaluable expression takes `value` and clears the fault."""
        if "err" in code or any("err" in line for line in em.lines[start:]):
            with em.block(f"if {self.errv} != 0:"):
                em.line(f"{self.errv} = 0")
                if self.errv == "ferr":
                    em.line("err[0] = 0")
                em.line(f"{name} = {value}")

    def guarded_bool(self, name: str, cond: ir.Expr, ctx: Ctx, em: Emitter, value: str) -> None:
        """Emit `name = cond`, with `value` in its place (and the fault cleared) when it cannot be evaluated."""
        start = len(em.lines)
        code = self.bexpr(cond, ctx, em)
        em.line(f"{name} = {code}")
        self.reset_if_faulty(em, start, code, name, value)

    def fail(self, em: Emitter, site: str | int) -> None:
        em.line(f"rt.fail_at(st, i, s, {site}, {self.errv})")
        em.line("return")

    # -- expressions -----------------------------------------------------------------------------

    def expr(self, e: ir.Expr, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        """Emit the statements `e` needs into `em`; return (atom, type) with type "f" (float) or "b"."""
        method = getattr(self, "x_" + type(e).__name__, None)
        if method is None:
            raise unsupported(f"expression {type(e).__name__}", self.program, getattr(e, "loc", None))
        return method(e, ctx, em)

    def fexpr(self, e: ir.Expr, ctx: Ctx, em: Emitter) -> str:
        return as_f(*self.expr(e, ctx, em))

    def bexpr(self, e: ir.Expr, ctx: Ctx, em: Emitter) -> str:
        return as_b(*self.expr(e, ctx, em))

    def x_Literal(self, e: ir.Literal, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if isinstance(e.value, bool):
            return ("True" if e.value else "False"), "b"
        if isinstance(e.value, str):
            raise unsupported(f"string value {e.value!r} in an expression", self.program, e.loc)
        return num(e.value), "f"

    def param_read(self, name: str, loc: ir.Loc) -> tuple[str, str]:
        if name not in self.params:
            raise unsupported(f"unknown parameter {name!r}", self.program, loc)
        if name in self.arrays or name in self.string_params:
            raise unsupported(f"parameter {name!r} is not a number", self.program, loc)
        p = self.params[name]
        ident = self.param_ident[name]
        return (f"({ident} != 0.0)", "b") if p.type.kind == "Boolean" else (ident, "f")

    def var_read(self, name: str, index: str, ctx: Ctx, loc: ir.Loc, em: Emitter,
                 aff: tuple[str, int] | None = None) -> tuple[str, str]:
        """A guarded read of `name` at step `index` (float code), inline; `aff` is the index as ("s", d) = s + d
        or ("c", k) when statically known, which lets the checks fold away and reads hit registers."""
        if name not in self.row:
            raise unsupported(f"unknown variable {name!r}", self.program, loc)
        if ctx.in_func:
            raise unsupported(f"function reads model variable {name!r}", self.program, loc)
        if name in self.array_vars:
            raise unsupported(f"array {name!r} used as a number", self.program, loc)
        code = self.emit_read(self.row[name], index, ctx, em, aff)
        var = self.vars.get(name)
        if var is not None and var.type.kind == "Boolean":
            return f"({code} != 0.0)", "b"
        return code, "f"

    def setf(self, em: Emitter, code: int) -> None:
        """Record fault `code` unless one is already recorded (inline rt.setf)."""
        with em.block(f"if {self.errv} == 0:"):
            em.line(f"{self.errv} = {code}")

    def hcall(self, em: Emitter, code: str) -> str:
        """A call of a runtime helper that records faults in the `err` array: inside run_path it is hoisted
        into its own statement and its fault copied at once into the local flag, so the first fault of an
        evaluation is still the one kept. Invariant: err[0] != 0 only while ferr != 0 (both are cleared
        together); not clearing err[0] here measured 2x faster (LLVM keeps the loop's flags in registers)."""
        if self.errv != "ferr":
            return code
        tmp = self.ns.temp()
        em.line(f"{tmp} = {code}")
        with em.block("if ferr == 0:"):
            em.line("ferr = err[0]")
        return tmp

    def atom(self, code: str, em: Emitter) -> str:
        """`code` as a simple name or number, hoisted into a temporary if needed (keeps evaluation order)."""
        if SIMPLE.match(code):
            return code
        tmp = self.ns.temp()
        em.line(f"{tmp} = {code}")
        return tmp

    def guarded(self, em: Emitter, args: list[str], checks: list[tuple[str, int]], value: str,
                post: tuple[str, int] | None = None) -> str:
        """Inline guarded operation: the first failing check records its fault and gives NaN."""
        names = [self.atom(a, em) for a in args]
        res = self.ns.temp()
        for k, (cond, code) in enumerate(checks):
            with em.block(f"{'if' if k == 0 else 'elif'} {cond.format(*names)}:"):
                self.setf(em, code)
                em.line(f"{res} = np.nan")
        with em.block("else:"):
            em.line(f"{res} = {value.format(*names)}")
            if post is not None:
                with em.block(f"if {post[0].format(res)}:"):
                    self.setf(em, post[1])
        return res

    def affine(self, e: ir.Expr, ctx: Ctx) -> tuple[str, int] | None:
        """The index `e` as ("s", d) meaning s + d, or ("c", k) a constant step; None if not static."""
        if isinstance(e, ir.Ref) and e.kind == "time" and not ctx.in_func and ctx.toff is not None:
            return ("s", ctx.toff)
        if isinstance(e, ir.Literal) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool):
            v = float(e.value)
            return ("c", int(v)) if math.isfinite(v) and v == math.floor(v) and abs(v) < 1e9 else None
        if isinstance(e, ir.Unary) and e.op == "-":
            a = self.affine(e.operand, ctx)
            return ("c", -a[1]) if a is not None and a[0] == "c" else None
        if isinstance(e, ir.Binary) and e.op in ("+", "-"):
            a, b = self.affine(e.left, ctx), self.affine(e.right, ctx)
            if a is None or b is None or b[0] == "s" and (e.op == "-" or a[0] == "s"):
                return None
            if e.op == "-":
                return (a[0], a[1] - b[1])
            return ("s" if "s" in (a[0], b[0]) else "c", a[1] + b[1])
        return None

    def emit_read(self, j: int, index: str, ctx: Ctx, em: Emitter, aff: tuple[str, int] | None) -> str:
        """Inline rt.rd: index integral, in 0..T and already computed; statically true checks are not emitted."""
        prev_only = not (ctx.pos is None or j < ctx.pos)  # the row is not computed yet at this step
        lim = "(s - 1)" if prev_only else "s"
        checks: list[tuple[str, int]] = []
        if aff is not None and aff[0] == "s":
            d = aff[1]
            if d < 0 and -d > ctx.smin:
                checks.append((f"s < {-d}", rt.F_INDEX))
            elif d > 0:
                checks.append((f"s > T - {d}", rt.F_INDEX))
            if d > (-1 if prev_only else 0):
                checks.append(("True", rt.F_NOT_YET))
            value = f"vals[{j}, i, s{d:+d}]" if d else f"vals[{j}, i, s]"
            if j < len(self.model.order):  # registers: c_j holds the latest value, q_j the one before
                if d == (-1 if prev_only else 0):
                    value = f"c_{j}"
                elif d == -1:
                    value = f"q_{j}"
        elif aff is not None:
            k = aff[1]
            if k < 0:
                checks.append(("True", rt.F_INDEX))
            else:
                checks.append((f"{k} > T", rt.F_INDEX))
                checks.append((f"{k} > {lim}", rt.F_NOT_YET))
            value = f"vals[{j}, i, {max(k, 0)}]"
        else:
            x, k = self.atom(index, em), self.ns.temp()
            em.line(f"{k} = -1")
            with em.block(f"if {x} >= 0.0 and {x} <= T:"):
                em.line(f"{k} = int({x})")
                with em.block(f"if {k} != {x}:"):
                    em.line(f"{k} = -1")
            checks = [(f"{k} < 0", rt.F_INDEX), (f"{k} > {lim}", rt.F_NOT_YET)]
            value = f"vals[{j}, i, {k}]"
        if not checks:
            return value
        return self.guarded(em, [], checks, value)

    def x_Ref(self, e: ir.Ref, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if e.kind == "param":
            return self.param_read(e.name, e.loc)
        if e.kind == "var":
            aff = ("s", ctx.toff) if ctx.toff is not None and not ctx.in_func else None
            return self.var_read(e.name, ctx.time, ctx, e.loc, em, aff)
        if e.kind == "local":
            if e.name not in ctx.scope:
                raise unsupported(f"unknown local {e.name!r}", self.program, e.loc)
            return ctx.scope[e.name], "f"
        if e.kind == "time":
            if ctx.in_func:
                raise unsupported("`t` inside a function", self.program, e.loc)
            return ctx.time, "f"
        if e.kind == "horizon":
            return "float(T)", "f"
        raise unsupported(f"reference kind {e.kind!r}", self.program, e.loc)

    def x_Index(self, e: ir.Index, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if e.kind == "param":
            return self.param_read(e.name, e.loc)
        if e.kind != "array":
            aff = self.affine(e.index, ctx)
            idx = "" if aff is not None else self.fexpr(e.index, ctx, em)
            return self.var_read(e.name, idx, ctx, e.loc, em, aff)
        if e.name not in self.arrays:
            raise unsupported(f"{e.name!r} is not a constant array", self.program, e.loc)
        return self.array_read(e, ctx, em), "f"

    def check_buffer(self, name: str, ctx: Ctx, loc: ir.Loc) -> None:
        """A computed array's buffer holds its elements at step s once its row has run at step s, and those of
        step s-1 before: a read must want exactly that step."""
        if name not in self.computed:
            return
        if ctx.in_func:
            raise unsupported(f"function reads model variable {name!r}", self.program, loc)
        done = ctx.pos is None or self.row[name] < ctx.pos
        if not (ctx.toff == 0 if done else ctx.toff == -1 and ctx.smin >= 1):
            raise unsupported(f"array {name!r} read at another step than its current one", self.program, loc)

    def array_read(self, e: ir.Index, ctx: Ctx, em: Emitter) -> str:
        """An element of an array, inline (rt.arr's checks): a constant in-range index reads the element (a
        constant array's element is folded in); any index outside 0..n-1 or not integral records F_ARRAY
        (E0301) and gives NaN."""
        self.check_buffer(e.name, ctx, e.loc)
        n = self.array_len[e.name]
        aff = self.affine(e.index, ctx)
        if aff is not None and aff[0] == "c":
            if 0 <= aff[1] < n:
                if e.name in self.computed:
                    return f"{self.arrays[e.name]}[{aff[1]}]"
                return num(self.array_values[e.name][aff[1]])
            return self.guarded(em, [], [("True", rt.F_ARRAY)], "np.nan")
        idx = self.fexpr(e.index, ctx, em)
        return self.guarded(em, [idx], [(f"not ({{0}} >= 0.0) or {{0}} >= {n}.0 or {{0}} != math.floor({{0}})",
                                         rt.F_ARRAY)], f"{self.arrays[e.name]}[int({{0}})]")

    def x_Binary(self, e: ir.Binary, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if e.op in ("&&", "||"):
            tmp = self.ns.temp()
            em.line(f"{tmp} = {self.bexpr(e.left, ctx, em)}")
            with em.block(f"if {tmp}:" if e.op == "&&" else f"if not {tmp}:"):
                em.line(f"{tmp} = {self.bexpr(e.right, ctx, em)}")
            return tmp, "b"
        left, lt = self.expr(e.left, ctx, em)
        right, rt_ = self.expr(e.right, ctx, em)
        if e.op in COMPARE:
            if lt == rt_ == "b" and e.op in ("==", "!="):
                return f"({left} {e.op} {right})", "b"
            return f"({as_f(left, lt)} {e.op} {as_f(right, rt_)})", "b"
        left, right = as_f(left, lt), as_f(right, rt_)
        if e.op in ARITH:
            return f"({left} {e.op} {right})", "f"
        if e.op == "/":
            return self.div(em, left, right), "f"
        if e.op == "%":
            return self.guarded(em, [left, right], [("{1} == 0.0", rt.F_DIV0)],
                                "{0} - {1} * math.floor({0} / {1})"), "f"
        if e.op == "^":
            return self.pw(em, left, right), "f"
        raise unsupported(f"operator {e.op!r}", self.program, e.loc)

    def div(self, em: Emitter, a: str, b: str) -> str:
        return self.guarded(em, [a, b], [("{1} == 0.0", rt.F_DIV0)], "{0} / {1}")

    def pw(self, em: Emitter, a: str, b: str) -> str:
        """Inline rt.pw."""
        return self.guarded(em, [a, b], [("{0} == 0.0 and {1} < 0.0", rt.F_DIV0),
                                         ("{0} < 0.0 and {1} != math.floor({1})", rt.F_DOMAIN)],
                            "{0} ** {1}", post=("not math.isfinite({})", rt.F_NONFINITE))

    def x_Unary(self, e: ir.Unary, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if e.op == "!":
            return f"(not {self.bexpr(e.operand, ctx, em)})", "b"
        if e.op == "-":
            return f"(-{self.fexpr(e.operand, ctx, em)})", "f"
        if e.op == "+":
            return self.fexpr(e.operand, ctx, em), "f"
        raise unsupported(f"unary operator {e.op!r}", self.program, e.loc)

    def x_IfThenElse(self, e: ir.IfThenElse, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        cond = self.bexpr(e.condition, ctx, em)
        tmp = self.ns.temp()
        then_em, else_em = Emitter(em.ind + 1), Emitter(em.ind + 1)
        then_code, tt = self.expr(e.then_branch, ctx, then_em)
        if e.else_branch is None:
            else_code, et = "True", "b"
        else:
            else_code, et = self.expr(e.else_branch, ctx, else_em)
        typ = "b" if tt == et == "b" else "f"
        conv = as_b if typ == "b" else as_f
        em.line(f"if {cond}:")
        em.lines += then_em.lines
        em.line(f"    {tmp} = {conv(then_code, tt)}")
        em.line("else:")
        em.lines += else_em.lines
        em.line(f"    {tmp} = {conv(else_code, et)}")
        return tmp, typ

    def dist_args(self, d: ir.Distribution, ctx: Ctx, em: Emitter) -> tuple[int, list[str]]:
        if d.distribution_type not in DIST_CODES:
            raise unsupported(f"distribution {d.distribution_type!r}", self.program, d.loc)
        names = DIST_PARAMS[d.distribution_type]
        try:
            args = [self.fexpr(d.param(n), ctx, em) for n in names]
        except KeyError as exc:
            raise unsupported(f"{d.distribution_type} without parameter {exc}", self.program, d.loc) from None
        code = DIST_CODES[d.distribution_type]
        if d.distribution_type == "LogNormal" and not d.log_space:
            code = rt.D_LOGNORMAL_NAT
        while len(args) < 3:
            args.append("0.0")
        return code, args

    def mixture_args(self, d: ir.Distribution, ctx: Ctx, em: Emitter) -> str:
        if not d.components or len(d.components) != len(d.weights):
            raise unsupported("Mixture without matching components and weights", self.program, d.loc)
        parts = [self.dist_args(c, ctx, em) for c in d.components]
        cols = [tuple(a[k] for _, a in parts) for k in range(3)]
        codes = "(" + ", ".join(str(c) for c, _ in parts) + ",)"
        tup = ["(" + ", ".join(col) + ",)" for col in cols]
        weights = "(" + ", ".join(num(w) for w in d.weights) + ",)"
        return f"{codes}, {tup[0]}, {tup[1]}, {tup[2]}, {weights}"

    def x_Distribution(self, e: ir.Distribution, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if ctx.in_func:
            raise unsupported("a distribution inside a function", self.program, e.loc)
        g = self.stream(ctx.owner)
        if e.distribution_type == "Mixture":
            return self.hcall(em, f"rt.draw_mix({g}, det, {self.mixture_args(e, ctx, em)}, err)"), "f"
        code, args = self.dist_args(e, ctx, em)
        if code not in (rt.D_NORMAL, rt.D_LOGNORMAL):
            return self.hcall(em, f"rt.draw({g}, det, {code}, {', '.join(args)}, err)"), "f"
        # inline rt.draw for the normal family: mu + sigma * z (exp of it for LogNormal)
        a, b = self.atom(args[0], em), self.atom(args[1], em)
        res = self.ns.temp()
        sample = f"{a} + {b} * {g}.standard_normal()"
        if code == rt.D_LOGNORMAL:
            sample = f"math.exp({sample})"
        with em.block("if det:"):
            em.line(f"{res} = {self.hcall(em, f'rt.central({code}, {a}, {b}, 0.0, err)')}")
        try:  # literal parameters are checked here, others at each draw
            valid = float(b) > 0.0 and math.isfinite(float(a)) and math.isfinite(float(b))
        except ValueError:
            valid = False
        if not valid:
            with em.block(f"elif not ({b} > 0.0 and math.isfinite({a}) and math.isfinite({b})):"):
                em.line(f"{g}.standard_normal()")  # rt.draw consumes the number before it checks
                self.setf(em, rt.F_DIST)
                em.line(f"{res} = np.nan")
        with em.block("else:"):
            em.line(f"{res} = {sample}")
        return res, "f"

    def x_Aggregation(self, e: ir.Aggregation, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        kind = e.aggregation_type
        if kind not in ("sum", "avg", "min", "max", "count"):
            raise unsupported(f"aggregation {kind!r}", self.program, e.loc)
        lo, hi = self.ns.temp(), self.ns.temp()
        em.line(f"{lo} = {self.hcall(em, f'rt.to_step({self.fexpr(e.start, ctx, em)}, err)')}")
        em.line(f"{hi} = {self.hcall(em, f'rt.to_step({self.fexpr(e.end, ctx, em)}, err)')}")
        acc, cnt, k = self.ns.temp(), self.ns.temp(), self.ns.temp()
        init = {"min": "np.inf", "max": "-np.inf"}.get(kind, "0.0")
        em.line(f"{acc} = {init}")
        em.line(f"{cnt} = 0")
        local = self.ns.fresh("l", e.var)
        inner = Ctx(ctx.time, ctx.pos, ctx.owner, {**ctx.scope, e.var: local}, ctx.in_func, ctx.toff, ctx.smin)
        with em.block(f"for {k} in range({lo}, {hi} + 1):"):
            em.line(f"{local} = float({k})")
            if e.filter is not None:
                em.line(f"if not {self.bexpr(e.filter, inner, em)}:")
                em.line("    continue")
            body, bt = self.expr(e.body, inner, em)
            if kind == "count":
                em.line(f"if {as_b(body, bt)}:")
                em.line(f"    {acc} += 1.0")
            elif kind in ("sum", "avg"):
                em.line(f"{acc} += {as_f(body, bt)}")
            else:
                em.line(f"{acc} = {kind}({acc}, {as_f(body, bt)})")
            em.line(f"{cnt} += 1")
        if kind in ("avg", "min", "max"):
            with em.block(f"if {cnt} == 0:"):
                self.setf(em, rt.F_EMPTY)
        if kind == "avg":
            return f"({acc} / max({cnt}, 1))", "f"
        return acc, "f"

    def x_Changes(self, e: ir.Changes, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if e.kind == "param":
            self.param_read(e.name, e.loc)
            self.prev_params.add(e.name)
            ident = self.param_ident[e.name]
            return f"(s >= 1 and {ident} != pp_{ident})", "b"
        if e.name not in self.row:
            raise unsupported(f"unknown variable {e.name!r}", self.program, e.loc)
        j = self.row[e.name]
        return f"(s >= 1 and vals[{j}, i, s] != vals[{j}, i, s - 1])", "b"

    def x_ArrayLiteral(self, e: ir.ArrayLiteral, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        raise unsupported("an array literal outside a function argument", self.program, e.loc)

    def x_SeriesRef(self, e: ir.SeriesRef, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        raise unsupported(f"whole series {e.name!r} used as a number", self.program, e.loc)

    # -- calls ---------------------------------------------------------------------------------

    def series(self, arg: ir.Expr, ctx: Ctx, em: Emitter) -> tuple[str, str] | None:
        """(array, valid length) of a whole-series argument, or None when `arg` is a scalar."""
        name = getattr(arg, "name", None)
        if isinstance(arg, ir.SeriesRef) or (isinstance(arg, ir.Ref) and arg.kind == "var"):
            if name in self.arrays:
                self.check_buffer(name, ctx, arg.loc)
                return self.arrays[name], str(self.array_len[name])
            if name in self.row and not ctx.in_func:
                lim = self.lim(name, ctx)
                return f"vals[{self.row[name]}, i, :]", f"({lim} + 1)"
            if isinstance(arg, ir.SeriesRef) and name in self.params:
                return None
            if isinstance(arg, ir.SeriesRef):
                raise unsupported(f"unknown series {name!r}", self.program, arg.loc)
        if isinstance(arg, ir.ArrayLiteral):
            items = ", ".join(self.fexpr(x, ctx, em) for x in arg.elements)
            tmp = self.ns.temp()
            em.line(f"{tmp} = np.array([{items}], dtype=np.float64)")
            return tmp, f"{len(arg.elements)}"
        return None

    def scalar_arg(self, arg: ir.Expr, ctx: Ctx, em: Emitter) -> str:
        if isinstance(arg, ir.SeriesRef) and arg.kind == "param":
            return self.param_read(arg.name, arg.loc)[0]
        return self.fexpr(arg, ctx, em)

    def x_Call(self, e: ir.Call, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        fn, args = e.function, e.args
        if fn in self.funcs:
            fdef = self.func_defs[fn]
            if len(args) != len(fdef.params):
                raise unsupported(f"{fn} called with {len(args)} arguments", self.program, e.loc)
            vals = [self.scalar_arg(a, ctx, em) for a in args]
            return self.hcall(em, f"{self.funcs[fn]}({', '.join(vals + ['err'])})"), "f"
        handler = getattr(self, "c_" + fn, None)
        if handler is None:
            raise unsupported(f"unknown function {fn!r}", self.program, e.loc)
        return handler(e, ctx, em)

    def _n(self, e: ir.Call, *counts: int) -> None:
        if len(e.args) not in counts:
            raise unsupported(f"{e.function} with {len(e.args)} arguments", self.program, e.loc)

    def _unary(self, e: ir.Call, ctx: Ctx, em: Emitter, template: str) -> tuple[str, str]:
        self._n(e, 1)
        return template.format(self.scalar_arg(e.args[0], ctx, em)), "f"

    def c_abs(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._unary(e, ctx, em, "abs({})")

    def c_floor(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._unary(e, ctx, em, "np.floor({})")

    def c_ceil(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._unary(e, ctx, em, "np.ceil({})")

    def _guarded1(self, e: ir.Call, ctx: Ctx, em: Emitter, cond: str, code: int, value: str) -> tuple[str, str]:
        self._n(e, 1)
        return self.guarded(em, [self.scalar_arg(e.args[0], ctx, em)], [(cond, code)], value), "f"

    def c_sqrt(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._guarded1(e, ctx, em, "{0} < 0.0", rt.F_SQRT, "math.sqrt({0})")

    def c_exp(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._guarded1(e, ctx, em, "{0} > 709.78", rt.F_NONFINITE, "math.exp({0})")

    def c_ln(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._guarded1(e, ctx, em, "not ({0} > 0.0)", rt.F_LOG, "math.log({0})")

    def c_log(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1, 2)
        if len(e.args) == 1:
            return self.c_ln(e, ctx, em)
        x, b = (self.scalar_arg(a, ctx, em) for a in e.args)
        return self.guarded(em, [x, b], [("not ({0} > 0.0) or not ({1} > 0.0) or {1} == 1.0", rt.F_LOG)],
                            "math.log({0}) / math.log({1})"), "f"

    def c_pow(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 2)
        b, x = (self.scalar_arg(a, ctx, em) for a in e.args)
        return self.pw(em, b, x), "f"

    def c_round(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1, 2)
        vals = [self.scalar_arg(a, ctx, em) for a in e.args]
        return f"rt.rnd({vals[0]}, {vals[1] if len(vals) > 1 else '0.0'})", "f"

    def c_clamp(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 3)
        x, lo, hi = (self.scalar_arg(a, ctx, em) for a in e.args)
        return f"rt.clamp({x}, {lo}, {hi})", "f"

    def _minmax(self, e: ir.Call, ctx: Ctx, em: Emitter, which: str) -> tuple[str, str]:
        if len(e.args) == 1:
            ser = self.series(e.args[0], ctx, em)
            if ser is None:
                return self.scalar_arg(e.args[0], ctx, em), "f"
            return self.hcall(em, f"rt.s_{which}({ser[0]}, {ser[1]}, err)"), "f"
        if not e.args:
            raise unsupported(f"{which}() without arguments", self.program, e.loc)
        vals = [self.scalar_arg(a, ctx, em) for a in e.args]
        code = vals[0]
        for v in vals[1:]:
            code = f"{which}({code}, {v})"
        return code, "f"

    def c_min(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._minmax(e, ctx, em, "min")

    def c_max(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._minmax(e, ctx, em, "max")

    def _series_fn(self, e: ir.Call, ctx: Ctx, em: Emitter, template: str, scalar: str,
                   helper: bool = False) -> tuple[str, str]:
        self._n(e, 1)
        ser = self.series(e.args[0], ctx, em)
        if ser is None:
            return scalar.format(self.scalar_arg(e.args[0], ctx, em)), "f"
        code = template.format(a=ser[0], n=ser[1])
        return (self.hcall(em, code) if helper else code), "f"

    def c_sum(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._series_fn(e, ctx, em, "rt.s_sum({a}, {n})", "{}")

    def c_avg(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._series_fn(e, ctx, em, "rt.s_avg({a}, {n}, err)", "{}", helper=True)

    c_mean = c_avg

    def c_length(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._series_fn(e, ctx, em, "float({n})", "(1.0 + 0.0 * {})")

    def c_count(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._series_fn(e, ctx, em, "rt.s_count({a}, {n})", "(1.0 if {} != 0.0 else 0.0)")

    def c_npv(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 2)
        ser = self.series(e.args[0], ctx, em)
        if ser is None:
            raise unsupported("npv of a scalar", self.program, e.loc)
        rate = self.scalar_arg(e.args[1], ctx, em)
        return self.hcall(em, f"rt.s_npv({ser[0]}, {ser[1]}, {rate}, err)"), "f"

    def c_irr(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1)
        ser = self.series(e.args[0], ctx, em)
        if ser is None:
            raise unsupported("irr of a scalar", self.program, e.loc)
        return self.hcall(em, f"rt.s_irr({ser[0]}, {ser[1]}, err)"), "f"

    def _series_name(self, e: ir.Call) -> str:
        arg = e.args[0]
        if isinstance(arg, (ir.SeriesRef, ir.Ref)) and arg.name in self.row:
            return arg.name
        raise unsupported(f"{e.function} needs a model variable as its first argument", self.program, e.loc)

    def c_cumsum(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1)
        name = self._series_name(e)
        j = self.row[name]
        return self.hcall(em, f"rt.s_cumsum(vals, {j}, i, {ctx.time}, {self.lim(name, ctx)}, T, err)"), "f"

    def c_lag(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1, 2)
        name = self._series_name(e)
        k = self.scalar_arg(e.args[1], ctx, em) if len(e.args) == 2 else "1.0"
        kaff = self.affine(e.args[1], ctx) if len(e.args) == 2 else ("c", 1)
        aff = None
        if kaff is not None and kaff[0] == "c" and ctx.toff is not None and not ctx.in_func:
            aff = ("s", ctx.toff - kaff[1])
        return self.var_read(name, f"({ctx.time} - {k})", ctx, e.loc, em, aff)

    def c_percentChange(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1)
        arg = e.args[0]
        if isinstance(arg, (ir.Ref, ir.SeriesRef)) and arg.kind == "param":
            now = self.param_read(arg.name, arg.loc)[0]
            self.prev_params.add(arg.name)
            return self.div(em, f"({now} - pp_{now})", f"pp_{now}"), "f"
        name = self._series_name(e)
        toff = ctx.toff if not ctx.in_func else None
        now = self.var_read(name, ctx.time, ctx, e.loc, em, None if toff is None else ("s", toff))[0]
        prev = self.var_read(name, f"({ctx.time} - 1.0)", ctx, e.loc, em,
                             None if toff is None else ("s", toff - 1))[0]
        return self.div(em, f"({now} - {prev})", prev), "f"

    # -- user functions ---------------------------------------------------------------------------

    def gen_func(self, f: ir.Func) -> list[str]:
        em = Emitter(1)
        scope = {name: self.ns.fresh("l", name) for name in f.params}
        args = [*scope.values(), "err"]
        ctx = Ctx("", None, f.name, dict(scope), in_func=True)
        self.stmts(f.body, ctx, em)
        em.line("rt.setf(err, rt.F_NORETURN)")
        em.line("return np.nan")
        head = [self.origin(f.loc, f"func {f.name}"), "@jit", f"def {self.funcs[f.name]}({', '.join(args)}):"]
        return head + em.lines

    def stmts(self, body: tuple[ir.Stmt, ...], ctx: Ctx, em: Emitter) -> None:
        if not body:
            em.line("pass")
        for st in body:
            if isinstance(st, ir.Let):
                value = self.fexpr(st.value, ctx, em)
                if st.name not in ctx.scope:
                    ctx.scope[st.name] = self.ns.fresh("l", st.name)
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
                lo, hi, k = self.ns.temp(), self.ns.temp(), self.ns.temp()
                em.line(f"{lo} = rt.to_step({self.fexpr(st.start, ctx, em)}, err)")
                em.line(f"{hi} = rt.to_step({self.fexpr(st.end, ctx, em)}, err)")
                if st.var not in ctx.scope:
                    ctx.scope[st.var] = self.ns.fresh("l", st.var)
                with em.block(f"for {k} in range({lo}, {hi} + 1):"):
                    em.line(f"{ctx.scope[st.var]} = float({k})")
                    self.stmts(st.body, ctx, em)
            else:
                raise unsupported(f"statement {type(st).__name__} in a function", self.program, getattr(st, "loc", None))

    # -- the per-path function ------------------------------------------------------------------

    def gen_params(self, em: Emitter) -> None:
        for k, p in enumerate(self.model.params):
            ident = self.param_ident[p.name]
            em.line(self.origin(p.loc, f"param {p.name}"))
            if p.name in self.arrays or p.name in self.string_params:
                em.line(f"{ident} = np.nan")
                continue
            site = self.site("param", p.name, p.loc)
            ctx = Ctx("0.0", 0, p.name)
            start = len(em.lines)
            with em.block(f"if ovm[{k}]:"):
                em.line(f"{ident} = ovv[{k}]")
            with em.block("else:"):
                d = p.distribution
                if d is not None:
                    col = self.dist_columns.index(p.name)
                    if d.distribution_type == "Mixture":
                        args = self.mixture_args(d, ctx, em)
                        with em.block("if det:"):
                            em.line(f"{ident} = {self.hcall(em, f'rt.mix_central({args}, err)')}")
                        with em.block("else:"):
                            em.line(f"{ident} = {self.hcall(em, f'rt.mix_from_z({args}, zmat[i, {col}], err)')}")
                    else:
                        code, a = self.dist_args(d, ctx, em)
                        args = f"{code}, {', '.join(a)}"
                        sample = f"rt.from_z({args}, zmat[i, {col}], err)"
                        if d.distribution_type == "Beta":  # tabulated quantile (see rt.from_z_beta)
                            self.beta_tables.append(p.name)
                            sample = f"rt.from_z_beta(btab[{len(self.beta_tables) - 1}], {a[0]}, {a[1]}, zmat[i, {col}], err)"
                        with em.block("if det:"):
                            em.line(f"{ident} = {self.hcall(em, f'rt.central({args}, err)')}")
                        with em.block("else:"):
                            em.line(f"{ident} = {self.hcall(em, sample)}")
                elif p.value is not None:
                    em.line(f"{ident} = {self.fexpr(p.value, ctx, em)}")
                else:
                    raise unsupported(f"parameter {p.name!r} has neither value nor distribution", self.program, p.loc)
            self.finish(em, start, ident, site)
            em.line(f"pout[i, {k}] = {ident}")

    def gen_var(self, j: int, var: ir.Var, em: Emitter) -> None:
        em.line(self.origin(var.loc, f"var {var.name}"))
        if var.name in self.array_vars:  # an array (a module table or a buffer): its row holds no number
            lit = self.computed.get(var.name)
            ctx = Ctx("tf", j, var.name, toff=0)
            for k, elem in enumerate(lit.elements if lit is not None else ()):
                site = self.site("var", var.name, getattr(elem, "loc", None) or var.loc)
                start = len(em.lines)
                tmp = self.ns.temp()
                em.line(f"{tmp} = {self.fexpr(elem, ctx, em)}")
                self.finish(em, start, tmp, site)
                em.line(f"{self.arrays[var.name]}[{k}] = {tmp}")
            em.line(f"vals[{j}, i, s] = np.nan")
            return
        start = len(em.lines)
        out = self.ns.temp()
        done = self.ns.temp()
        em.line(f"{out} = 0.0")
        em.line(f"{done} = False")
        em.line("site = -1")
        if var.name in self.sticky:
            with em.block(f"if s > 0 and ov_{j}:"):
                em.line(f"{out} = vals[{j}, i, s - 1]")
                em.line(f"{done} = True")
        rules = sorted(var.rules, key=lambda r: 0 if r.kind in ("initial", "literal") else 1)
        for rule in rules:
            site = self.site("var", var.name, rule.loc or var.loc)
            if rule.kind in ("initial", "literal"):
                at = 0 if rule.at is None else int(rule.at)
                header, time = f"if not {done} and s == {at}:", "tf"
            elif rule.kind == "shifted":
                header, time = f"if not {done} and s >= {int(rule.shift)}:", f"(tf - {float(rule.shift)!r})"
            elif rule.kind in ("general", "scalar"):
                header, time = f"if not {done}:", "tf"
            else:
                raise unsupported(f"rule kind {rule.kind!r}", self.program, rule.loc)
            shifted = rule.kind == "shifted"
            ctx = Ctx(time, j, var.name, toff=-int(rule.shift) if shifted else 0,
                      smin=int(rule.shift) if shifted else 0)
            em.line(self.origin(rule.loc, f"{var.name} ({rule.kind})"))
            with em.block(header):
                em.line(f"site = {site}")
                if rule.guard is not None:
                    em.line(f"if {self.bexpr(rule.guard, ctx, em)}:")
                    em.ind += 1
                em.line(f"{out} = {self.fexpr(rule.expr, ctx, em)}")
                em.line(f"{done} = True")
                if rule.guard is not None:
                    em.ind -= 1
        undefined = self.site("var", var.name, var.loc)
        total = any(r.kind in ("general", "scalar") and r.guard is None for r in rules)
        if not total:  # some step may have no rule
            with em.block(f"if not {done}:"):
                em.line(f"site = {undefined}")
                self.setf(em, rt.F_UNDEFINED)
        self.finish(em, start, out, "site")
        em.line(f"vals[{j}, i, s] = {out}")
        em.line(f"q_{j} = c_{j}")
        em.line(f"c_{j} = {out}")

    def gen_output_expr(self, j: int, out: ir.Output, em: Emitter) -> None:
        site = self.site("output", out.name, getattr(out.expr, "loc", None))
        em.line(self.origin(getattr(out.expr, "loc", None), f"output {out.name}"))
        ctx = Ctx("tf", None, "output:" + out.name, toff=0)
        start = len(em.lines)
        tmp = self.ns.temp()
        em.line(f"{tmp} = {self.fexpr(out.expr, ctx, em)}")
        self.finish(em, start, tmp, site)
        em.line(f"vals[{j}, i, s] = {tmp}")

    def gen_policy(self, pol: ir.Policy, em: Emitter) -> None:
        em.line(self.origin(pol.loc, f"policy {pol.name}"))
        site = self.site("policy", pol.name, pol.loc)
        ctx = Ctx("tf", None, "policy:" + pol.name, toff=0)
        trig = self.ns.temp()
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
                self.emits.append((pol.name, st.event_name))
                em.line(f"evc[{len(self.emits) - 1}, s] += 1")
            elif isinstance(st, ir.If):
                cond = self.ns.temp()
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
            self.param_read(a.target, a.loc)
            cur = self.param_ident[a.target]
        elif a.target_kind == "var" and a.target in self.vars and a.target not in self.array_vars:
            cur = f"c_{self.row[a.target]}"
        else:
            raise unsupported(f"policy target {a.target!r}", self.program, a.loc)
        new = {"assign": value, "multiply": f"({cur} * {value})", "add": f"({cur} + {value})"}.get(a.action_type)
        if new is None:
            raise unsupported(f"action {a.action_type!r}", self.program, a.loc)
        tmp = self.ns.temp()
        em.line(f"{tmp} = {new}")
        self.finish(em, start, tmp, site)
        if a.target_kind == "var":
            em.line(f"vals[{self.row[a.target]}, i, s] = {tmp}")
        em.line(f"{cur} = {tmp}")
        if a.target in self.sticky and a.target_kind == "var":
            em.line(f"ov_{self.row[a.target]} = True")

    def gen_constraint(self, c_index: int, c: ir.Constraint, em: Emitter) -> None:
        em.line(self.origin(c.loc, f"constraint {c.name} ({c.severity})"))
        look = int(c.lookahead)
        tc, tcf = self.ns.temp(), self.ns.temp()
        em.line(f"{tc} = s - {look}")
        em.line(f"{tcf} = float({tc})")
        ctx = Ctx(tcf, None, "constraint:" + c.name, toff=-look)
        sc = c.scope
        if sc.type == "all":
            cond_scope = f"{tc} >= 0"
        elif sc.type == "range":
            cond_scope = f"{tc} >= {int(sc.start or 0)} and {tc} <= {int(sc.end if sc.end is not None else 10**9)}"
        elif sc.type == "specific":
            cond_scope = f"{tc} == {int(sc.timestep or 0)}"
        elif sc.type == "cond" and sc.condition is not None:
            inscope = self.ns.temp()
            em.line(f"{inscope} = False")
            with em.block(f"if {tc} >= 0:"):
                self.guarded_bool(inscope, sc.condition, ctx, em, "False")
            cond_scope = inscope
        else:
            raise unsupported(f"constraint scope {sc.type!r}", self.program, c.loc)
        with em.block(f"if {cond_scope}:"):
            ok = self.ns.temp()
            self.guarded_bool(ok, c.condition, ctx, em, "True")  # an unevaluable instance is skipped
            with em.block(f"if not {ok}:"):
                self.violation(c_index, c, ctx, tc, em)

    def violation(self, c_index: int, c: ir.Constraint, ctx: Ctx, tc: str, em: Emitter) -> None:
        parts = [(p.text, p.expr) for p in c.message]
        kinds: list[tuple[str | None, str]] = []
        temps: list[str] = []
        for text, expr in parts:
            if expr is None:
                kinds.append((text or "", "text"))
                continue
            start = len(em.lines)
            code, typ = self.expr(expr, ctx, em)
            tmp = self.ns.temp()
            em.line(f"{tmp} = {as_f(code, typ)}")
            self.reset_if_faulty(em, start, code, tmp, "np.nan")
            kinds.append((None, typ))
            temps.append(tmp)
        self.msg_kinds.append(tuple(kinds))
        em.line(f"ccount[i, {c_index}] += 1")
        with em.block(f"if cfirst[i, {c_index}] < 0:"):
            em.line(f"cfirst[i, {c_index}] = {tc}")
            for m, tmp in enumerate(temps):
                em.line(f"cmsg[i, {c_index}, {m}] = {tmp}")
        with em.block("if det:"):
            em.line(f"wlog[{c_index}, {tc}] = 1")
            for m, tmp in enumerate(temps):
                em.line(f"wvals[{c_index}, {tc}, {m}] = {tmp}")
        if c.severity == "fatal":
            em.line("st[i, 0] = rt.S_FATAL")
            em.line("st[i, 1] = s")
            em.line(f"st[i, 2] = {c_index}")
            em.line("return")

    def gen_path(self) -> list[str]:
        m = self.model
        em = Emitter(1)
        self.errv = "ferr"
        em.line("err[0] = 0")
        em.line("ferr = 0")
        em.line("s = 0")
        self.gen_params(em)
        for j, _ in enumerate(m.order):
            em.line(f"c_{j} = 0.0")
            em.line(f"q_{j} = 0.0")
            if m.order[j] in self.sticky:
                em.line(f"ov_{j} = False")
        body = Emitter(2)
        for j, name in enumerate(m.order):
            self.gen_var(j, self.vars[name], body)
        for pol in m.policies:
            self.gen_policy(pol, body)
        for k, out in enumerate(self.output_exprs):
            self.gen_output_expr(len(m.order) + k, out, body)
        for c_index, c in enumerate(m.constraints):
            self.gen_constraint(c_index, c, body)
        for name in sorted(self.prev_params):
            body.line(f"pp_{self.param_ident[name]} = {self.param_ident[name]}")
        for name in sorted(self.prev_params):
            em.line(f"pp_{self.param_ident[name]} = {self.param_ident[name]}")
        em.line("for s in range(T + 1):")
        em.ind += 1
        em.line("tf = float(s)")
        em.lines += body.lines
        gens = "".join(f", g_{k}" for k in range(len(self.streams)))
        bufs = "".join(f", {self.arrays[name]}" for name in self.computed)
        self.errv = "err[0]"
        # inlined into the kernel's loop: a call passing a dozen arrays costs about 60 ns per path
        head = ["@rt.jit_inline", f"def run_path(i, {KERNEL_ARGS}, err{gens}{bufs}):"]
        return head + self.prune(em.lines)

    def prune(self, lines: list[str]) -> list[str]:
        """Drop what nothing reads: q_j registers never used, and the stores of variables that are not outputs
        and are never read from memory (every read of them hit a register)."""
        m = self.model
        text = "\n".join(lines)
        outputs = {o.name for o in m.outputs} or set(m.order)
        drop: list[re.Pattern[str]] = []
        for j, name in enumerate(m.order):
            if not re.search(rf"\bq_{j}\b(?! = )", text):
                drop.append(re.compile(rf"^\s*q_{j} = "))
            mem = re.compile(rf"(?<![A-Za-z0-9_])vals(?:\[{j}, |, {j}, )")
            if name not in outputs and not any(mem.search(x) and not re.match(rf"^\s*vals\[{j}, i, s\] = ", x)
                                               for x in lines):
                drop.append(re.compile(rf"^\s*vals\[{j}, i, s\] = "))
        return [x for x in lines if not any(p.match(x) for p in drop)]

    # -- the module -----------------------------------------------------------------------------

    def module(self) -> str:
        funcs: list[str] = []
        for f in self.model.funcs:
            funcs += self.gen_func(f) + ["", ""]
        path = self.gen_path()
        gens = "".join(f", g_{k}" for k in range(len(self.streams)))
        kernel = [
            "@jit",
            f"def kernel({KERNEL_ARGS}{gens}):",
            '    """Run every path of one block (rows of vals) serially; faults and stops go to st."""',
            "    err = np.zeros(1, np.int64)",
            *(f"    {self.arrays[name]} = np.empty({self.array_len[name]})" for name in self.computed),
            "    for i in range(vals.shape[1]):",
            f"        run_path(i, {KERNEL_ARGS}, err{gens}{''.join(f', {self.arrays[n]}' for n in self.computed)})",
        ]
        return "\n".join(self.header() + self.tables() + [""] + funcs + path + ["", ""] + kernel) + "\n"

    def header(self) -> list[str]:
        meta = self.program.metadata
        return [
            '"""PEL generated module: generated from the IR, never edit."""',
            f"# model: {ascii(self.model.name)}",
            f"# ir_hash: {ascii(str(meta.get('model_hash', '')))}",
            f"# pel_version: {__version__}",
            f"# source: {ascii(self.src_name)}",
            "# ruff: noqa",
            "import math",
            "",
            "import numpy as np",
            "",
            "from pel.backend import runtime as rt",
            "from pel.backend.runtime import jit",
            "",
        ]

    def tables(self) -> list[str]:
        m = self.model
        lines = [
            f"MODEL_NAME = {m.name!r}",
            f"PEL_VERSION = {__version__!r}",
            f"PARAMS = {tuple(p.name for p in m.params)!r}",
            f"DIST_COLUMNS = {tuple(self.dist_columns)!r}",
            f"BETA_TABLES = {tuple(self.beta_tables)!r}",
            f"VARS = {tuple(self.var_names)!r}",
            f"SITES = {tuple(self.sites)!r}",
            f"CONSTRAINTS = {tuple((c.name, c.severity) for c in m.constraints)!r}",
            f"MESSAGES = {tuple(self.msg_kinds)!r}",
            f"STREAMS = {tuple(self.streams)!r}",
            f"EMITS = {tuple(self.emits)!r}",
        ]
        for name, ident in self.arrays.items():
            if name in self.computed:
                continue
            items = ", ".join(num(x) for x in self.array_values[name])
            lines.append(f"{ident} = np.array([{items}], dtype=np.float64)")
        return lines


def is_const(e: ir.Expr) -> bool:
    """Whether `e` is a number const_value can read (a numeric literal, possibly negated)."""
    if isinstance(e, ir.Unary) and e.op == "-":
        return is_const(e.operand)
    return isinstance(e, ir.Literal) and isinstance(e.value, (int, float)) and not isinstance(e.value, bool)


def const_value(e: ir.Expr, program: ir.Program) -> float:
    """The number a constant array element denotes."""
    if isinstance(e, ir.Literal) and not isinstance(e.value, str):
        return float(e.value)
    if isinstance(e, ir.Unary) and e.op == "-":
        return -const_value(e.operand, program)
    raise unsupported("a non-constant array element", program, getattr(e, "loc", None))


def array_literal(var: ir.Var, program: ir.Program) -> ir.ArrayLiteral | None:
    """The array literal a variable is bound to (`var nums = [10, 20, 30]`), or None for other variables. A
    variable of Array type must have exactly one unguarded rule giving an array literal."""
    lits = [r for r in var.rules if isinstance(r.expr, ir.ArrayLiteral)]
    if not lits and var.type.kind != "Array":
        return None
    if len(var.rules) != 1 or not lits or var.rules[0].kind not in ("scalar", "general") or var.rules[0].guard:
        raise unsupported(f"array variable {var.name!r} must be bound once to an array literal", program, var.loc)
    return lits[0].expr


def _actions(body: tuple[ir.Stmt, ...]) -> Iterator[ir.Action]:
    for st in body:
        if isinstance(st, ir.Action):
            yield st
        elif isinstance(st, ir.If):
            yield from _actions(st.then)
            yield from _actions(st.else_)


def generate(program: ir.Program) -> str:
    """The Python source of the model's module (what `pel compile --emit python` prints)."""
    return Generator(program).module()
