"""Expression code generation: IR expressions -> Python statements and an atom, evaluated for one path `i`.

Values read from the model's state go through the chunk's hoisted row views (`Storage` in codegen): a read of
`x[t-1]` is `v3[i]`, where `v3 = tmp[base + (s - 1) % depth]` was bound once per kernel call. Faults never raise:
the first one of an evaluation is kept in `ferr` (the local flag) and the statement that owns it stops the path.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

from pel.backend import runtime as rt
from pel.backend.emit import SIMPLE, Emitter, as_b, as_f, const_value, is_const, num, unsupported
from pel.ir import nodes as ir
from pel.ir.affine import Affine, combine
from pel.ir.validate import DIST_PARAMS
from pel.lang import distributions as lang_dists

DIST_CODES = lang_dists.CODES  # the language table's runtime code of each (not mixed) distribution
ARITH = {"+", "-", "*"}


def dist_code(d: ir.Distribution) -> int:
    """The runtime's code of a (not mixed) distribution: LogNormal given by its natural-scale mean and sd is its
    own code."""
    if d.distribution_type == "LogNormal" and not d.log_space:
        return rt.D_LOGNORMAL_NAT
    return DIST_CODES[d.distribution_type]


def constant_dist_args(d: ir.Distribution) -> tuple[int, tuple[float, float, float]] | None:
    """(code, (a, b, c)) of a distribution whose arguments are all numbers, as the kernels sample it (the
    parameter table, drift's declared quantiles); None for a mixture, a missing or a non-constant argument."""
    if d.distribution_type not in DIST_CODES:
        return None
    try:
        exprs = [d.param(n) for n in DIST_PARAMS[d.distribution_type]]
    except KeyError:
        return None
    if not all(is_const(e) for e in exprs):
        return None
    args = [const_value(e, None) for e in exprs] + [0.0] * (3 - len(exprs))
    return dist_code(d), (args[0], args[1], args[2])


COMPARE = {"==", "!=", "<", "<=", ">", ">="}
MAX_NEST = 6  # parentheses an expression may build up before it is hoisted into a temporary
SPINE_INLINE = 64  # links of an operator chain generated in place; a longer chain goes through helper functions
TIME_DEPTH = 16  # nesting of a step-only expression hoisted out of the loop over paths
PER_CALL_TIME = re.compile(r"^(?:tf|\(tf - [0-9.]+\))$")  # times known before the loop over paths


@dataclass
class Ctx:
    """Where an expression is evaluated."""

    time: str  # Python expression of t (a float); "" inside user functions
    pos: int | None  # position (in step order) of the item being computed; reads of later items see step s-1
    owner: str  # name keying inline random streams
    scope: dict[str, str] = field(default_factory=dict)  # PEL local -> identifier
    in_func: bool = False
    toff: int | None = None  # the time is the integer step s + toff (None: not statically known)
    smin: int = 0  # the code runs only at steps s >= smin
    last: bool = False  # the code runs only at the last step, s == T (a whole-run value that reads every step)


class ExprGen:
    """Expression and call emission; the storage hooks (`view`, `param_code`, ...) are the subclass's."""

    program: ir.Program
    errv: str

    # -- fault bookkeeping ------------------------------------------------------------------------

    def setf(self, em: Emitter, code: int) -> None:
        """Record fault `code` unless one is already recorded."""
        with em.block(f"if {self.errv} == 0:"):
            em.line(f"{self.errv} = {code}")

    def hcall(self, em: Emitter, code: str) -> str:
        """A call of a runtime helper that records faults in the `err` array: in the kernel it is hoisted into its
        own statement and its fault copied at once into the local flag, so the first fault is still the one
        kept. Invariant: err[0] != 0 only while ferr != 0 (both are cleared together)."""
        self.uses_err()
        if self.errv != "ferr":
            return code
        tmp = self.temp()
        em.line(f"{tmp} = {code}")
        with em.block("if ferr == 0:"):
            em.line("ferr = err[0]")
        return tmp

    def atom(self, code: str, em: Emitter) -> str:
        """`code` as a simple name or number, hoisted into a temporary if needed (keeps evaluation order)."""
        if SIMPLE.match(code):
            return code
        tmp = self.temp()
        em.line(f"{tmp} = {code}")
        return tmp

    def guarded(self, em: Emitter, args: list[str], checks: list[tuple[str, int]], value: str,
                post: tuple[str, int] | None = None) -> str:
        """Inline guarded operation: the first failing check records its fault and gives NaN."""
        names = [self.atom(a, em) for a in args]
        res = self.temp()
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

    # -- expressions -------------------------------------------------------------------------------

    def expr(self, e: ir.Expr, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        """Emit the statements `e` needs into `em`; return (atom, type) with type "f" (float) or "b"."""
        if isinstance(e, (ir.Binary, ir.Unary, ir.IfThenElse)) and PER_CALL_TIME.match(ctx.time):
            hoisted = self.time_code(e, ctx.time, 0)
            if hoisted is not None:  # the same for every path: computed once per kernel call
                return self.view(("time", hoisted[0]), hoisted[0]), hoisted[1]
        method = getattr(self, "x_" + type(e).__name__, None)
        if method is None:
            raise unsupported(f"expression {type(e).__name__}", self.program, getattr(e, "loc", None))
        return method(e, ctx, em)

    def fexpr(self, e: ir.Expr, ctx: Ctx, em: Emitter) -> str:
        return as_f(*self.expr(e, ctx, em))

    def bexpr(self, e: ir.Expr, ctx: Ctx, em: Emitter) -> str:
        return as_b(*self.expr(e, ctx, em))

    def time_code(self, e: ir.Expr, time: str, depth: int) -> tuple[str, str] | None:
        """`e` as one pure expression of the step alone (literals, t, T_max; no operation that can fault), or
        None. Such conditions (`t % 12 == 0 && t > 0`) are evaluated before the loop over paths."""
        if depth > TIME_DEPTH:
            return None
        if isinstance(e, ir.Literal):
            return None if isinstance(e.value, str) else self.x_Literal(e, None, None)  # type: ignore[arg-type]
        if isinstance(e, ir.Ref) and e.kind in ("time", "horizon"):
            return (time if e.kind == "time" else "float(T)"), "f"
        if isinstance(e, ir.Unary) and e.op in ("-", "!"):
            a = self.time_code(e.operand, time, depth + 1)
            if a is None:
                return None
            return (f"(not {as_b(*a)})", "b") if e.op == "!" else (f"(-{as_f(*a)})", "f")
        if isinstance(e, ir.IfThenElse) and e.else_branch is not None:
            parts = [self.time_code(x, time, depth + 1) for x in (e.condition, e.then_branch, e.else_branch)]
            if None in parts or parts[1][1] != parts[2][1]:  # type: ignore[index]
                return None
            (c, ct), (a, at), (b, _) = parts  # type: ignore[misc]
            return f"({a} if {as_b(c, ct)} else {b})", at
        if not isinstance(e, ir.Binary):
            return None
        left, right = self.time_code(e.left, time, depth + 1), self.time_code(e.right, time, depth + 1)
        if left is None or right is None:
            return None
        (a, at), (b, bt) = left, right
        if e.op in ("&&", "||"):
            return f"({as_b(a, at)} {'and' if e.op == '&&' else 'or'} {as_b(b, bt)})", "b"
        if e.op in COMPARE:
            if at == bt == "b" and e.op in ("==", "!="):
                return f"({a} {e.op} {b})", "b"
            return f"({as_f(a, at)} {e.op} {as_f(b, bt)})", "b"
        a, b = as_f(a, at), as_f(b, bt)
        if e.op in ARITH:
            return f"({a} {e.op} {b})", "f"
        divisor = e.right.value if isinstance(e.right, ir.Literal) else None
        if e.op in ("/", "%") and isinstance(divisor, (int, float)) and not isinstance(divisor, bool) \
                and math.isfinite(divisor) and divisor != 0:
            return (f"({a} / {b})", "f") if e.op == "/" else (f"({a} - {b} * math.floor({a} / {b}))", "f")
        return None

    def x_Literal(self, e: ir.Literal, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if isinstance(e.value, bool):
            return ("True" if e.value else "False"), "b"
        if isinstance(e.value, str):
            raise unsupported(f"string value {e.value!r} in an expression", self.program, e.loc)
        return num(e.value), "f"

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
        if isinstance(e, ir.Binary) and e.op in ("+", "-"):  # a chain in a loop: no recursion in its length
            def form(x: tuple[str, int] | None) -> Affine | None:  # ("c", k) is pel.ir.affine's (None, k)
                return None if x is None else (None if x[0] == "c" else x[0], x[1])

            first, nodes = ir.left_spine(e, ("+", "-"))
            acc = form(self.affine(first, ctx))
            for node in nodes:
                acc = combine(acc, form(self.affine(node.right, ctx)), node.op)
            return None if acc is None else ("c" if acc[0] is None else acc[0], acc[1])
        return None

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
        return self.array_read(e, ctx, em), "f"

    def text_value(self, e: ir.Expr) -> str | None:
        """The text `e` denotes when it is one known before any run (a string literal), else None."""
        return e.value if isinstance(e, ir.Literal) and isinstance(e.value, str) else None

    def x_Binary(self, e: ir.Binary, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        """A left-nested chain is walked bottom-up in a loop; long ones go through temporaries so that no
        generated line nests deeper than MAX_NEST parentheses. Texts compare once, here: the kernel holds
        numbers only."""
        decided = self.text_compare(e)
        if decided is not None:
            return decided, "b"
        first, nodes = self.spine(e)
        code, typ = self.expr(first, ctx, em)
        if len(nodes) > SPINE_INLINE and not ctx.in_func:  # a very long chain: segments in helper functions
            for k in range(0, len(nodes), SPINE_INLINE):
                segment = nodes[k:k + SPINE_INLINE]
                code, typ = self.outline(lambda body, acc, t, seg=segment: self.links(seg, acc, t, ctx, body),
                                         code, typ, ctx, em)
            return code, typ
        return self.links(nodes, code, typ, ctx, em)

    def spine(self, e: ir.Binary) -> tuple[ir.Expr, list[ir.Binary]]:
        """`ir.left_spine`, stopping at a comparison of texts (decided on its own, in x_Binary)."""
        nodes: list[ir.Binary] = []
        x: ir.Expr = e
        while isinstance(x, ir.Binary) and self.text_compare(x) is None:
            nodes.append(x)
            x = x.left
        return x, nodes[::-1]

    def text_compare(self, e: ir.Binary) -> str | None:
        """"True" or "False" for `==` / `!=` of two texts known before the run, else None."""
        if e.op not in ("==", "!="):
            return None
        a, b = self.text_value(e.left), self.text_value(e.right)
        return None if a is None or b is None else ("True" if (a == b) == (e.op == "==") else "False")

    def links(self, nodes: list[ir.Binary], code: str, typ: str, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        """Apply the chain's nodes to the value of its left part, in order."""
        depth = 0
        for node in nodes:
            if depth >= MAX_NEST:
                code, depth = self.atom(code, em), 0
            code, typ = self.binary(node, code, typ, ctx, em)
            depth += 1
        return code, typ

    def binary(self, e: ir.Binary, left: str, lt: str, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        """`left op right` for one node of a chain, its left operand already emitted."""
        if e.op in ("&&", "||"):
            tmp = self.temp()
            em.line(f"{tmp} = {as_b(left, lt)}")
            with em.block(f"if {tmp}:" if e.op == "&&" else f"if not {tmp}:"):
                em.line(f"{tmp} = {self.bexpr(e.right, ctx, em)}")
            return tmp, "b"
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
        if e.op == "%" and _nonzero_number(right):
            a = self.atom(left, em)
            return f"({a} - {right} * math.floor({a} / {right}))", "f"
        if e.op == "%":
            return self.guarded(em, [left, right], [("{1} == 0.0", rt.F_DIV0)],
                                "{0} - {1} * math.floor({0} / {1})"), "f"
        if e.op == "^":
            return self.pw(em, left, right), "f"
        raise unsupported(f"operator {e.op!r}", self.program, e.loc)

    def div(self, em: Emitter, a: str, b: str) -> str:
        if _nonzero_number(b):
            return f"({a} / {b})"
        return self.guarded(em, [a, b], [("{1} == 0.0", rt.F_DIV0)], "{0} / {1}")

    def pw(self, em: Emitter, a: str, b: str) -> str:
        return self.guarded(em, [a, b], [("{0} == 0.0 and {1} < 0.0", rt.F_DIV0),
                                         ("{0} < 0.0 and {1} != math.floor({1})", rt.F_DOMAIN)],
                            "{0} ** {1}", post=("not math.isfinite({})", rt.F_NONFINITE))

    def x_Unary(self, e: ir.Unary, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        if e.op == "!":
            return f"(not {self.atom(self.bexpr(e.operand, ctx, em), em)})", "b"
        if e.op == "-":
            return f"(-{self.atom(self.fexpr(e.operand, ctx, em), em)})", "f"
        if e.op == "+":
            return self.fexpr(e.operand, ctx, em), "f"
        raise unsupported(f"unary operator {e.op!r}", self.program, e.loc)

    def x_IfThenElse(self, e: ir.IfThenElse, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        cond = self.bexpr(e.condition, ctx, em)
        tmp = self.temp()
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

    # -- distributions -------------------------------------------------------------------------------

    def dist_args(self, d: ir.Distribution, ctx: Ctx, em: Emitter) -> tuple[int, list[str]]:
        if d.distribution_type not in DIST_CODES:
            raise unsupported(f"distribution {d.distribution_type!r}", self.program, d.loc)
        names = DIST_PARAMS[d.distribution_type]
        try:
            args = [self.atom(self.fexpr(d.param(n), ctx, em), em) for n in names]
        except KeyError as exc:
            raise unsupported(f"{d.distribution_type} without parameter {exc}", self.program, d.loc) from None
        code = dist_code(d)
        while len(args) < 3:
            args.append("0.0")
        return code, args

    def discrete_args(self, d: ir.Distribution) -> str:
        """`(v0, v1, …,), (w0, w1, …,)`: a Discrete distribution's values and weights as tuple constants."""
        values = d.param("values")
        if not isinstance(values, ir.ArrayLiteral) or len(values.elements) != len(d.weights) or not d.weights:
            raise unsupported("Discrete without matching values and weights", self.program, d.loc)
        xs = "(" + ", ".join(num(const_value(x, self.program)) for x in values.elements) + ",)"
        ws = "(" + ", ".join(num(w) for w in d.weights) + ",)"
        return f"{xs}, {ws}"

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
        """An inline draw: its standard-normal score for this path and step is row `z` of Z (drawn by the
        engine, one row per draw site), turned into the distribution's quantile; the central value if det."""
        if ctx.in_func:
            raise unsupported("a distribution inside a function", self.program, e.loc)
        z = self.z_score(ctx.owner)
        if e.distribution_type == "Discrete":
            args = self.discrete_args(e)
            res = self.temp()
            with em.block("if det:"):
                em.line(f"{res} = {self.hcall(em, f'rt.disc_central({args}, err)')}")
            with em.block("else:"):
                em.line(f"{res} = {self.hcall(em, f'rt.disc_from_z({args}, {z}, err)')}")
            return res, "f"
        if e.distribution_type == "Mixture":
            args = self.mixture_args(e, ctx, em)
            res = self.temp()
            with em.block("if det:"):
                em.line(f"{res} = {self.hcall(em, f'rt.mix_central({args}, err)')}")
            with em.block("else:"):
                em.line(f"{res} = {self.hcall(em, f'rt.mix_from_z({args}, {z}, err)')}")
            return res, "f"
        code, args = self.dist_args(e, ctx, em)
        res = self.temp()
        with em.block("if det:"):
            em.line(f"{res} = {self.hcall(em, f'rt.central({code}, {args[0]}, {args[1]}, {args[2]}, err)')}")
        if code not in (rt.D_NORMAL, rt.D_LOGNORMAL):
            with em.block("else:"):
                em.line(f"{res} = {self.hcall(em, f'rt.from_z({code}, {args[0]}, {args[1]}, {args[2]}, {z}, err)')}")
            return res, "f"
        a, b = args[0], args[1]  # the normal family inline: mu + sigma * z (exp of it for LogNormal)
        sample = f"{a} + {b} * {z}"
        if code == rt.D_LOGNORMAL:
            sample = f"math.exp({sample})"
        try:  # literal parameters are checked here, others at each draw
            valid = float(b) > 0.0 and math.isfinite(float(a)) and math.isfinite(float(b))
        except ValueError:
            valid = False
        if not valid:
            with em.block(f"elif not ({b} > 0.0 and math.isfinite({a}) and math.isfinite({b})):"):
                self.setf(em, rt.F_DIST)
                em.line(f"{res} = np.nan")
        with em.block("else:"):
            em.line(f"{res} = {sample}")
        return res, "f"

    # -- aggregations, events, arrays -----------------------------------------------------------------

    def x_Aggregation(self, e: ir.Aggregation, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        kind = e.aggregation_type
        if kind not in ("sum", "avg", "min", "max", "count"):
            raise unsupported(f"aggregation {kind!r}", self.program, e.loc)
        lo, hi = self.temp(), self.temp()
        em.line(f"{lo} = {self.hcall(em, f'rt.to_step({self.fexpr(e.start, ctx, em)}, err)')}")
        em.line(f"{hi} = {self.hcall(em, f'rt.to_step({self.fexpr(e.end, ctx, em)}, err)')}")
        acc, cnt, k = self.temp(), self.temp(), self.temp()
        init = {"min": "np.inf", "max": "-np.inf"}.get(kind, "0.0")
        em.line(f"{acc} = {init}")
        em.line(f"{cnt} = 0")
        local = self.fresh("l", e.var)
        inner = dataclasses.replace(ctx, scope={**ctx.scope, e.var: local})
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

    def x_ArrayLiteral(self, e: ir.ArrayLiteral, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        raise unsupported("an array literal outside a function argument", self.program, e.loc)

    def x_SeriesRef(self, e: ir.SeriesRef, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        raise unsupported(f"whole series {e.name!r} used as a number", self.program, e.loc)

    # -- calls ----------------------------------------------------------------------------------------

    def scalar_arg(self, arg: ir.Expr, ctx: Ctx, em: Emitter) -> str:
        if isinstance(arg, ir.SeriesRef) and arg.kind == "param":
            return self.param_read(arg.name, arg.loc)[0]
        return self.atom(self.fexpr(arg, ctx, em), em)

    def x_Call(self, e: ir.Call, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        fn, args = e.function, e.args
        if fn in self.funcs:
            fdef = self.func_defs[fn]
            if len(args) != len(fdef.params):
                raise unsupported(f"{fn} called with {len(args)} arguments", self.program, e.loc)
            vals = [self.scalar_arg(a, ctx, em) for a in args]
            return self.hcall(em, f"{self.func_ident(fn)}({', '.join(vals + ['err'])})"), "f"
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
        return f"min(max({x}, {lo}), {hi})", "f"

    def _minmax(self, e: ir.Call, ctx: Ctx, em: Emitter, which: str) -> tuple[str, str]:
        if len(e.args) == 1:
            ser = self.series(e.args[0], ctx, em)
            if ser is None:
                return self.scalar_arg(e.args[0], ctx, em), "f"
            return self.hcall(em, f"rt.s_{which}({ser[0]}, {ser[1]}, err)"), "f"
        if not e.args:
            raise unsupported(f"{which}() without arguments", self.program, e.loc)
        code = self.scalar_arg(e.args[0], ctx, em)
        for a in e.args[1:]:
            code = self.atom(f"{which}({code}, {self.scalar_arg(a, ctx, em)})", em)
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

    def c_product(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._series_fn(e, ctx, em, "float(np.prod({a}[:{n}]))", "{}")

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
        if isinstance(arg, (ir.SeriesRef, ir.Ref)) and arg.name in self.pos:
            return arg.name
        raise unsupported(f"{e.function} needs a model variable as its first argument", self.program, e.loc)

    def c_cumsum(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1)
        name = self._series_name(e)
        if ctx.in_func:
            raise unsupported(f"function reads model variable {name!r}", self.program, e.loc)
        view = self.whole_series(name)
        return self.hcall(em, f"rt.s_cumsum({view}, {ctx.time}, {self.lim(name, ctx)}, T, err)"), "f"

    def c_lag(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1, 2)
        name = self._series_name(e)
        k = self.scalar_arg(e.args[1], ctx, em) if len(e.args) == 2 else "1.0"
        kaff = self.affine(e.args[1], ctx) if len(e.args) == 2 else ("c", 1)
        aff = None
        if kaff is not None and kaff[0] == "c" and ctx.toff is not None and not ctx.in_func:
            aff = ("s", ctx.toff - kaff[1])
        return self.var_read(name, f"({ctx.time} - {k})", ctx, e.loc, em, aff)

    def _finance(self, e: ir.Call, ctx: Ctx, em: Emitter, fn: str, required: int) -> tuple[str, str]:
        """A time-value-of-money call: its numbers, the optional fv and when defaulting to 0."""
        self._n(e, *range(required, required + 3))
        args = [self.scalar_arg(a, ctx, em) for a in e.args] + ["0.0"] * (required + 2 - len(e.args))
        return self.hcall(em, f"rt.{fn}({', '.join(args)}, err)"), "f"

    def c_pmt(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._finance(e, ctx, em, "f_pmt", 3)

    def c_pv(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._finance(e, ctx, em, "f_pv", 3)

    def c_fv(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._finance(e, ctx, em, "f_fv", 3)

    def c_nper(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._finance(e, ctx, em, "f_nper", 3)

    def c_ipmt(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._finance(e, ctx, em, "f_ipmt", 4)

    def c_ppmt(self, e, ctx, em):  # noqa: ANN001, ANN201
        return self._finance(e, ctx, em, "f_ppmt", 4)

    def c_lookup(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 3)
        x = self.scalar_arg(e.args[0], ctx, em)
        xs, ys = self.series(e.args[1], ctx, em), self.series(e.args[2], ctx, em)
        if xs is None or ys is None:
            raise unsupported("lookup needs two arrays (xs, ys)", self.program, e.loc)
        return self.hcall(em, f"rt.s_lookup({x}, {xs[0]}, {xs[1]}, {ys[0]}, {ys[1]}, err)"), "f"

    def _delay(self, e: ir.Call, ctx: Ctx, em: Emitter) -> tuple[str, str]:
        """smooth, delay1, delay3 of a model variable: its series up to the step before, Euler-stepped."""
        from pel.lang.functions import DELAYS

        self._n(e, 2)
        name = self._series_name(e)
        if ctx.in_func:
            raise unsupported(f"function reads model variable {name!r}", self.program, e.loc)
        tau = self.scalar_arg(e.args[1], ctx, em)
        view = self.whole_series(name)
        return self.hcall(em, f"rt.s_delay({view}, {ctx.time}, {self.lim(name, ctx)}, T, {tau}, "
                              f"{DELAYS[e.function]}, err)"), "f"

    c_smooth = c_delay1 = c_delay3 = _delay

    def c_percentChange(self, e, ctx, em):  # noqa: ANN001, ANN201
        self._n(e, 1)
        arg = e.args[0]
        if isinstance(arg, (ir.Ref, ir.SeriesRef)) and arg.kind == "param":
            now = self.param_read(arg.name, arg.loc)[0]
            prev = self.prev_param(arg.name)
            return self.div(em, f"({now} - {prev})", prev), "f"
        name = self._series_name(e)
        toff = ctx.toff if not ctx.in_func else None
        now = self.var_read(name, ctx.time, ctx, e.loc, em, None if toff is None else ("s", toff))[0]
        prev = self.var_read(name, f"({ctx.time} - 1.0)", ctx, e.loc, em,
                             None if toff is None else ("s", toff - 1))[0]
        return self.div(em, f"({now} - {prev})", prev), "f"


def _nonzero_number(code: str) -> bool:
    """Whether generated code `code` is a finite, non-zero number literal (a division by it cannot fault)."""
    try:
        value = float(code.strip("()"))
    except ValueError:
        return False
    return math.isfinite(value) and value != 0.0
