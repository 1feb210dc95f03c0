"""Runtime helpers the generated model code imports: jit decorator, fault codes, guarded math, inverse CDFs."""

from __future__ import annotations

import math
import os

import numpy as np

from pel.lang.distributions import CODES as _DIST_CODES

# ---------------------------------------------------------------------------------------------
# The jit decorator: numba nopython (cached, GIL released), or plain Python when PEL_JIT=0
# ---------------------------------------------------------------------------------------------

JIT_ENABLED = os.environ.get("PEL_JIT", "1").strip() != "0"

CACHING = [True]  # False while a kernel module is made without a cache folder (numba needs a file to cache)

if JIT_ENABLED:
    import numba

    def jit(fn):  # noqa: ANN001, ANN201 - decorator
        """Compile with numba (no fallback: a typing failure raises when the kernel is first called)."""
        return numba.njit(nogil=True, cache=CACHING[0], error_model="numpy")(fn)

    def jit_inline(fn):  # noqa: ANN001, ANN201 - decorator
        """Small hot helpers: inlined into the kernel at numba-IR level (calls between compiled
        functions are not inlined by LLVM and cost more than the helper itself)."""
        return numba.njit(nogil=True, cache=CACHING[0], error_model="numpy", inline="always")(fn)

else:

    def jit_inline(fn):  # noqa: ANN001, ANN201 - decorator
        """PEL_JIT=0: the same code runs as plain Python, for debugging."""
        return fn


    def jit(fn):  # noqa: ANN001, ANN201 - decorator
        """PEL_JIT=0: the same code runs as plain Python, for debugging."""
        return fn


# ---------------------------------------------------------------------------------------------
# Fault kinds: a path that faults stops; deterministic runs raise, Monte Carlo counts them
# ---------------------------------------------------------------------------------------------

F_OK = 0
F_INDEX = 1  # series index outside 0..T_max
F_NOT_YET = 2  # series value not yet computed
F_DIV0 = 3  # division (or modulo) by zero
F_LOG = 4  # log of a non-positive number
F_SQRT = 5  # square root of a negative number
F_NONFINITE = 6  # overflow / inf / nan produced
F_DOMAIN = 7  # other domain error (pow of a negative base to a fractional power, ...)
F_DIST = 8  # invalid distribution parameter
F_ARRAY = 9  # array index out of range
F_UNDEFINED = 10  # no rule defines the variable at this step
F_EMPTY = 11  # min/max/avg over an empty range
F_NOCONV = 12  # irr found no root
F_NORETURN = 13  # a function ended without return

FAULT_NAMES = {
    F_INDEX: "index_out_of_range",
    F_NOT_YET: "not_yet_computed",
    F_DIV0: "division_by_zero",
    F_LOG: "log_of_non_positive",
    F_SQRT: "sqrt_of_negative",
    F_NONFINITE: "non_finite",
    F_DOMAIN: "domain_error",
    F_DIST: "invalid_distribution_parameter",
    F_ARRAY: "array_index_out_of_range",
    F_UNDEFINED: "undefined_value",
    F_EMPTY: "empty_range",
    F_NOCONV: "no_convergence",
    F_NORETURN: "missing_return",
}

FAULT_TEXT = {
    F_INDEX: "series index outside 0..T_max",
    F_NOT_YET: "series value read before it is computed",
    F_DIV0: "division by zero",
    F_LOG: "logarithm of a non-positive number",
    F_SQRT: "square root of a negative number",
    F_NONFINITE: "overflow or undefined result (inf/nan)",
    F_DOMAIN: "argument outside the function's domain",
    F_DIST: "invalid distribution parameter",
    F_ARRAY: "array index out of range",
    F_UNDEFINED: "no rule defines the value at this step",
    F_EMPTY: "min/max/avg of an empty range",
    F_NOCONV: "irr did not converge",
    F_NORETURN: "function ended without a return",
}

FAULT_CODES = {k: ("E0301" if k in (F_INDEX, F_NOT_YET, F_ARRAY, F_UNDEFINED) else "E0800") for k in FAULT_NAMES}

# path status values (st[i, 0])
S_OK = 0
S_FAULT = 1
S_FATAL = 2

# distribution type codes: the language table's (pel.lang.distributions), plus the natural-scale LogNormal
D_NORMAL = _DIST_CODES["Normal"]
D_LOGNORMAL = _DIST_CODES["LogNormal"]
D_BETA = _DIST_CODES["Beta"]
D_UNIFORM = _DIST_CODES["Uniform"]
D_TRIANGULAR = _DIST_CODES["Triangular"]
D_PARETO = _DIST_CODES["Pareto"]
D_LOGNORMAL_NAT = 6  # LogNormal given by its natural-scale mean and sd
D_EXPONENTIAL = _DIST_CODES["Exponential"]
D_WEIBULL = _DIST_CODES["Weibull"]
D_GAMMA = _DIST_CODES["Gamma"]
D_STUDENT_T = _DIST_CODES["StudentT"]
D_PERT = _DIST_CODES["PERT"]
D_POISSON = _DIST_CODES["Poisson"]
D_BERNOULLI = _DIST_CODES["Bernoulli"]
D_BINOMIAL = _DIST_CODES["Binomial"]

SQRT2 = math.sqrt(2.0)


@jit
def setf(err, code):
    """Record the first fault of the current evaluation."""
    if err[0] == 0:
        err[0] = code


# ---------------------------------------------------------------------------------------------
# Guarded reads and arithmetic
# ---------------------------------------------------------------------------------------------


@jit
def rd(vals, j, i, idx, lim, T, err):
    """vals[j, i, idx] with idx checked: integral, in 0..T, and <= lim (the last computed step)."""
    if not (idx >= 0.0):
        setf(err, F_INDEX)
        return np.nan
    if idx > T:
        setf(err, F_INDEX)
        return np.nan
    k = int(idx)
    if k != idx:
        setf(err, F_INDEX)
        return np.nan
    if k > lim:
        setf(err, F_NOT_YET)
        return np.nan
    return vals[j, i, k]


@jit
def arr(a, idx, err):
    """Element of a constant array, index checked."""
    if not (idx >= 0.0) or idx >= a.shape[0]:
        setf(err, F_ARRAY)
        return np.nan
    k = int(idx)
    if k != idx:
        setf(err, F_ARRAY)
        return np.nan
    return a[k]


@jit
def to_step(x, err):
    """A range bound as an integer; a non-finite or huge bound faults (and yields an empty range)."""
    if not (abs(x) < 1e9):
        setf(err, F_NONFINITE)
        return 0
    return int(math.floor(x + 0.5)) if abs(x - math.floor(x + 0.5)) < 1e-9 else int(math.floor(x))


@jit
def div(a, b, err):
    if b == 0.0:
        setf(err, F_DIV0)
        return np.nan
    return a / b


@jit
def mod(a, b, err):
    if b == 0.0:
        setf(err, F_DIV0)
        return np.nan
    return a - b * math.floor(a / b)


@jit
def pw(a, b, err):
    if a == 0.0 and b < 0.0:
        setf(err, F_DIV0)
        return np.nan
    if a < 0.0 and b != math.floor(b):
        setf(err, F_DOMAIN)
        return np.nan
    r = a**b
    if not math.isfinite(r):
        setf(err, F_NONFINITE)
    return r


@jit
def ln(x, err):
    if not (x > 0.0):
        setf(err, F_LOG)
        return np.nan
    return math.log(x)


@jit
def logb(x, base, err):
    if not (x > 0.0) or not (base > 0.0) or base == 1.0:
        setf(err, F_LOG)
        return np.nan
    return math.log(x) / math.log(base)


@jit
def sqrt(x, err):
    if x < 0.0:
        setf(err, F_SQRT)
        return np.nan
    return math.sqrt(x)


@jit
def ex(x, err):
    if x > 709.78:
        setf(err, F_NONFINITE)
        return np.nan
    return math.exp(x)


@jit
def rnd(x, n):
    """round(x, n): half to even, like Python's round."""
    f = 10.0**n
    y = x * f
    r = math.floor(y)
    d = y - r
    if d > 0.5 or (d == 0.5 and r % 2.0 != 0.0):
        r += 1.0
    return r / f


@jit
def clamp(x, lo, hi):
    return min(max(x, lo), hi)


@jit
def fin(x, err):
    """The value of a finished statement: a non-finite result is a fault."""
    if not math.isfinite(x):
        setf(err, F_NONFINITE)
    return x


# ---------------------------------------------------------------------------------------------
# Series functions (a series is a 1-D view, `n` its valid length)
# ---------------------------------------------------------------------------------------------


@jit
def s_sum(a, n):
    acc = 0.0
    for k in range(n):
        acc += a[k]
    return acc


@jit
def s_avg(a, n, err):
    if n <= 0:
        setf(err, F_EMPTY)
        return np.nan
    return s_sum(a, n) / n


@jit
def s_min(a, n, err):
    if n <= 0:
        setf(err, F_EMPTY)
        return np.nan
    m = a[0]
    for k in range(1, n):
        m = min(m, a[k])
    return m


@jit
def s_max(a, n, err):
    if n <= 0:
        setf(err, F_EMPTY)
        return np.nan
    m = a[0]
    for k in range(1, n):
        m = max(m, a[k])
    return m


@jit
def s_count(a, n):
    c = 0.0
    for k in range(n):
        if a[k] != 0.0:
            c += 1.0
    return c


@jit
def s_npv(a, n, r, err):
    if r <= -1.0:
        setf(err, F_DOMAIN)
        return np.nan
    acc = 0.0
    f = 1.0
    for k in range(n):
        acc += a[k] / f
        f *= 1.0 + r
    return acc


# time value of money: numpy-financial's conventions (rate per period, when 0: payments at the end of each period,
# 1: at its start; signs: money paid out negative)


@jit
def _when_ok(when, err):
    if when != 0.0 and when != 1.0:
        setf(err, F_DOMAIN)
        return False
    return True


@jit
def f_fv(r, n, pmt, pv, when, err):
    """The future value after n periods of a present value pv and payments pmt."""
    if not _when_ok(when, err):
        return np.nan
    if r == 0.0:
        return -(pv + pmt * n)
    g = (1.0 + r) ** n
    return -(pv * g + pmt * (1.0 + r * when) / r * (g - 1.0))


@jit
def f_pmt(r, n, pv, fv, when, err):
    """The payment per period that turns pv into fv over n periods."""
    if not _when_ok(when, err):
        return np.nan
    if r == 0.0:
        if n == 0.0:
            setf(err, F_DOMAIN)
            return np.nan
        return -(fv + pv) / n
    g = (1.0 + r) ** n
    if g == 1.0:
        setf(err, F_DOMAIN)
        return np.nan
    return -(fv + pv * g) * r / ((1.0 + r * when) * (g - 1.0))


@jit
def f_pv(r, n, pmt, fv, when, err):
    """The present value of n payments pmt and a final value fv."""
    if not _when_ok(when, err):
        return np.nan
    if r == 0.0:
        return -(fv + pmt * n)
    g = (1.0 + r) ** n
    return -(fv + pmt * (1.0 + r * when) / r * (g - 1.0)) / g


@jit
def f_nper(r, pmt, pv, fv, when, err):
    """The number of periods of payments pmt that turn pv into fv."""
    if not _when_ok(when, err):
        return np.nan
    if r == 0.0:
        if pmt == 0.0:
            setf(err, F_DOMAIN)
            return np.nan
        return -(fv + pv) / pmt
    z = pmt * (1.0 + r * when) / r
    ratio = (z - fv) / (pv + z)
    if not ratio > 0.0 or r <= -1.0:
        setf(err, F_DOMAIN)
        return np.nan
    return math.log(ratio) / math.log1p(r)


@jit
def f_ipmt(r, per, n, pv, fv, when, err):
    """The interest part of payment number per (1..n)."""
    if not (1.0 <= per <= n) or not _when_ok(when, err):
        setf(err, F_DOMAIN)
        return np.nan
    total = f_pmt(r, n, pv, fv, when, err)
    interest = f_fv(r, per - 1.0, total, pv, when, err) * r
    if when == 1.0:
        if per == 1.0:
            return 0.0
        interest = interest / (1.0 + r)
    return interest


@jit
def f_ppmt(r, per, n, pv, fv, when, err):
    """The principal part of payment number per (1..n): the payment less its interest."""
    return f_pmt(r, n, pv, fv, when, err) - f_ipmt(r, per, n, pv, fv, when, err)


@jit
def s_lookup(x, xs, nx, ys, ny, err):
    """Piecewise-linear interpolation of the table (xs, ys) at x, clamped to the end values; xs strictly
    increasing and as long as ys, else a domain fault."""
    if nx != ny or nx < 1:
        setf(err, F_DOMAIN)
        return np.nan
    for k in range(1, nx):
        if not xs[k] > xs[k - 1]:
            setf(err, F_DOMAIN)
            return np.nan
    if x <= xs[0]:
        return ys[0]
    if x >= xs[nx - 1]:
        return ys[nx - 1]
    lo = 0
    hi = nx - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid
        else:
            hi = mid
    w = (x - xs[lo]) / (xs[hi] - xs[lo])
    return ys[lo] + w * (ys[hi] - ys[lo])


@jit
def s_irr(a, n, err):
    """The rate r with npv(a, r) = 0, by bisection on (-0.9999, 1e6)."""
    lo = -0.9999
    hi = 1.0
    flo = s_npv(a, n, lo, err)
    fhi = s_npv(a, n, hi, err)
    while fhi * flo > 0.0 and hi < 1e6:
        hi *= 2.0
        fhi = s_npv(a, n, hi, err)
    if fhi * flo > 0.0 or not math.isfinite(flo) or not math.isfinite(fhi):
        setf(err, F_NOCONV)
        return np.nan
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        fm = s_npv(a, n, mid, err)
        if fm == 0.0:
            return mid
        if (fm > 0.0) == (flo > 0.0):
            lo = mid
            flo = fm
        else:
            hi = mid
        if hi - lo < 1e-14:
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------------------------------------
# Special functions: normal CDF / quantile, regularized incomplete beta and its inverse
# ---------------------------------------------------------------------------------------------


@jit
def ncdf(z):
    return 0.5 * math.erfc(-z / SQRT2)


@jit
def nppf(p):
    """Inverse normal CDF: Acklam's rational approximation refined by one Halley step (~1e-15)."""
    if p <= 0.0:
        return -np.inf
    if p >= 1.0:
        return np.inf
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e00) * q
               - 2.549732539343734e00) * q + 4.374664141464968e00) * q + 2.938163982698783e00) / (
            (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e00) * q
             + 3.754408661907416e00) * q + 1.0)
    elif p <= 1.0 - plow:
        q = p - 0.5
        r = q * q
        x = (((((-3.969683028665376e01 * r + 2.209460984245205e02) * r - 2.759285104469687e02) * r
               + 1.383577518672690e02) * r - 3.066479806614716e01) * r + 2.506628277459239e00) * q / (
            ((((-5.447609879822406e01 * r + 1.615858368580409e02) * r - 1.556989798598866e02) * r
              + 6.680131188771972e01) * r - 1.328068155288572e01) * r + 1.0)
    else:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((-7.784894002430293e-03 * q - 3.223964580411365e-01) * q - 2.400758277161838e00) * q
                - 2.549732539343734e00) * q + 4.374664141464968e00) * q + 2.938163982698783e00) / (
            (((7.784695709041462e-03 * q + 3.224671290700398e-01) * q + 2.445134137142996e00) * q
             + 3.754408661907416e00) * q + 1.0)
    e = ncdf(x) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


@jit
def _betacf(a, b, x):
    """Continued fraction of the incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < tiny:
        d = tiny
    d = 1.0 / d
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < tiny:
            d = tiny
        c = 1.0 + aa / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        de = d * c
        h *= de
        if abs(de - 1.0) < 1e-15:
            break
    return h


@jit
def _betainc_n(a, b, x, lnorm):
    """I_x(a, b) given lnorm = log(1 / B(a, b)) (hoisted out of the inverse's iterations)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = lnorm + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


@jit
def betainc(a, b, x):
    """Regularized incomplete beta I_x(a, b)."""
    return _betainc_n(a, b, x, math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))


@jit
def _beta_start(p, a, b):
    """Initial guess of the Beta quantile (Abramowitz & Stegun 26.5.22 / the small-shape tail form)."""
    if a >= 1.0 and b >= 1.0:
        pp = p if p < 0.5 else 1.0 - p
        t = math.sqrt(-2.0 * math.log(pp))
        x = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t
        if p < 0.5:
            x = -x
        al = (x * x - 3.0) / 6.0
        h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0))
        w = x * math.sqrt(al + h) / h - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (al + 5.0 / 6.0 - 2.0 / (3.0 * h))
        return a / (a + b * math.exp(2.0 * w))
    lna = math.log(a / (a + b))
    lnb = math.log(b / (a + b))
    t = math.exp(a * lna) / a
    u = math.exp(b * lnb) / b
    w = t + u
    if p < t / w:
        return (a * w * p) ** (1.0 / a)
    return 1.0 - (b * w * (1.0 - p)) ** (1.0 / b)


@jit
def betappf(p, a, b):
    """Inverse of I_x(a, b) = p: Halley steps from a close start, kept inside a shrinking bracket."""
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    x = _beta_start(p, a, b)
    if x <= 0.0 or x >= 1.0:  # the tail form is exact to leading order: the quantile is not representable
        return min(max(x, 0.0), 1.0)
    return _beta_solve(p, a, b, x, math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b))


@jit
def _beta_solve(p, a, b, x, lnorm):
    """Halley iterations for I_x(a, b) = p from x. Convergence is cubic: after a step below 1e-7 relative the
    error left is far below rounding, so that step is the answer (no further evaluation)."""
    lo = 0.0
    hi = 1.0
    if not (0.0 < x < 1.0):
        x = a / (a + b)
    for _ in range(200):
        # _betainc_n(a, b, x, lnorm) - p written out, so that the density below reuses its two logarithms
        # (the same operations in the same order: the same bits, 20% faster per Beta draw)
        lx = math.log(x)
        l1 = math.log1p(-x)
        if x <= 0.0:
            f = 0.0 - p
        elif x >= 1.0:
            f = 1.0 - p
        else:
            lbt = lnorm + a * lx + b * l1
            if x < (a + 1.0) / (a + b + 2.0):
                f = math.exp(lbt) * _betacf(a, b, x) / a - p
            else:
                f = 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b - p
        if f == 0.0:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        dens = math.exp(lnorm + (a - 1.0) * lx + (b - 1.0) * l1)
        xn = -1.0
        if dens > 0.0:
            u = f / dens
            xn = x - u / (1.0 - 0.5 * min(1.0, u * ((a - 1.0) / x - (b - 1.0) / (1.0 - x))))
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi)
        elif abs(xn - x) <= 1e-7 * x:
            return xn
        if abs(xn - x) <= 1e-15 * max(x, 1e-300) or hi - lo < 1e-300:
            return xn
        x = xn
    return x


# ---------------------------------------------------------------------------------------------
# Gamma, Student's t and the discrete distributions: regularized incomplete gamma and its inverse, quantiles
# ---------------------------------------------------------------------------------------------


@jit
def _gamma_series(a, x, lg):
    """P(a, x) by its power series (x < a + 1)."""
    ap = a
    term = 1.0 / a
    total = term
    for _ in range(10000):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * 1e-17:
            break
    return total * math.exp(-x + a * math.log(x) - lg)


@jit
def _gamma_cfrac(a, x, lg):
    """Q(a, x) by its continued fraction (x >= a + 1), Lentz's method."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return math.exp(-x + a * math.log(x) - lg) * h


@jit
def gamma_pq(a, x):
    """(P(a, x), Q(a, x)): the regularized lower and upper incomplete gamma functions, each to full precision."""
    if x <= 0.0:
        return 0.0, 1.0
    lg = math.lgamma(a)
    if x < a + 1.0:
        p = _gamma_series(a, x, lg)
        return p, 1.0 - p
    q = _gamma_cfrac(a, x, lg)
    return 1.0 - q, q


@jit
def gamma_p(a, x):
    return gamma_pq(a, x)[0]


@jit
def gammappf_z(a, z):
    """The quantile of Gamma(a, 1) at Phi(z): Newton steps inside a shrinking bracket on P (z <= 0) or Q (z > 0),
    from the Wilson-Hilferty start."""
    lower = z <= 0.0
    target = ncdf(z) if lower else ncdf(-z)
    if target <= 0.0:
        return 0.0 if lower else np.inf
    t = 1.0 - 1.0 / (9.0 * a) + z / (3.0 * math.sqrt(a))
    x = a * t * t * t if t > 0.0 else 0.0
    if not x > 0.0 or a < 1.0:
        u = ncdf(z)
        x = math.exp((math.log(max(u, 1e-300)) + math.lgamma(a + 1.0)) / a)
        if not (x > 0.0 and math.isfinite(x)):
            x = a
    lg = math.lgamma(a)
    lo = 0.0
    hi = np.inf
    for _ in range(200):
        p, q = gamma_pq(a, x)
        f = p - target if lower else target - q  # increasing in x either way
        if f == 0.0:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        dens = math.exp((a - 1.0) * math.log(x) - x - lg)
        xn = x - f / dens if dens > 0.0 else -1.0
        if not (lo < xn < hi):
            xn = 0.5 * (lo + hi) if hi < np.inf else 2.0 * x + 1.0
        if abs(xn - x) <= 1e-15 * x:
            return xn
        x = xn
    return x


@jit
def tppf_z(nu, z):
    """The quantile of Student's t with nu degrees of freedom at Phi(z), from the inverse incomplete beta."""
    if z == 0.0:
        return 0.0
    u = ncdf(-abs(z))  # the tail probability, in [0, 0.5)
    x = betappf(2.0 * u, 0.5 * nu, 0.5)
    if x <= 0.0:
        return -np.inf if z < 0.0 else np.inf
    t = math.sqrt(nu * (1.0 - x) / x)
    return -t if z < 0.0 else t


@jit
def poisson_ppf_z(lam, z):
    """The smallest k with P(X <= k) >= Phi(z) for X ~ Poisson(lam), from the normal approximation's guess; the
    upper tail compares survival probabilities so that it keeps its precision."""
    lower = z <= 0.0
    target = ncdf(z) if lower else ncdf(-z)
    k = max(0.0, math.floor(lam + z * math.sqrt(lam)))

    def ok(k):  # P(X <= k) >= u, i.e. Q(k+1, lam) >= u, or P(X > k) = P(k+1, lam) <= 1 - u
        p, q = gamma_pq(k + 1.0, lam)
        return q >= target if lower else p <= target

    if ok(k):
        while k > 0.0 and ok(k - 1.0):
            k -= 1.0
    else:
        while not ok(k):
            k += 1.0
    return k


@jit
def binom_ppf_z(n, pr, z):
    """The smallest k with P(X <= k) >= Phi(z) for X ~ Binomial(n, pr) (CDF from the incomplete beta)."""
    lower = z <= 0.0
    target = ncdf(z) if lower else ncdf(-z)
    k = min(n, max(0.0, math.floor(n * pr + z * math.sqrt(n * pr * (1.0 - pr)))))

    def ok(k):
        if k >= n:
            return True
        cdf_k = betainc(n - k, k + 1.0, 1.0 - pr)
        return cdf_k >= target if lower else 1.0 - cdf_k <= target

    if ok(k):
        while k > 0.0 and ok(k - 1.0):
            k -= 1.0
    else:
        while not ok(k):
            k += 1.0
    return k


# Beta quantile tables: for a Beta parameter with constant shapes the engine tabulates the quantile on a
# fine grid of standard-normal scores once per process (solved to full precision); a path then needs one cubic
# interpolation of its logarithm and one exp. The log turns the power-law tails into near-quadratics, so the
# interpolated quantile agrees with the solver to about 1e-12 relative (tested to 1e-10 over the grid) at about
# 1/20 of the solver's cost, which dominated the per-path cost of a model with a Beta parameter.
BTAB_K = 8193  # nodes per side
BTAB_Z = 8.0  # |z| covered; scores beyond use the general solver
BTAB_LEN = 3 + 2 * BTAB_K


@jit
def beta_table(a, b, out):
    """Fill `out` (BTAB_LEN): header (a, b, log 1/B(a, b)), log quantiles at z in [-Z, 0], and the logs of the
    complements 1 - x at z in [0, Z] (solved in the other tail, as from_z does); -inf where one underflows."""
    out[0] = a
    out[1] = b
    out[2] = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    h = BTAB_Z / (BTAB_K - 1)
    x = betappf(ncdf(-BTAB_Z), a, b)
    y = betappf(ncdf(-BTAB_Z), b, a)
    for k in range(BTAB_K):  # continuation: each node starts from its neighbour's quantile
        x = _beta_solve(ncdf((k - (BTAB_K - 1)) * h), a, b, x, out[2])
        out[3 + k] = math.log(x) if x > 0.0 else -np.inf
        y = _beta_solve(ncdf(-((BTAB_K - 1 - k) * h)), b, a, y, out[2])
        out[3 + 2 * BTAB_K - 1 - k] = math.log(y) if y > 0.0 else -np.inf


@jit_inline
def from_z_beta(tab, a, b, z, err):
    """from_z for a Beta(a, b): from the table `tab` when it was built for these shapes (four-node Lagrange
    interpolation of the log quantile), else, or where the table's logs underflowed, the solver."""
    if not (tab[0] == a and tab[1] == b and abs(z) < BTAB_Z):
        return from_z(D_BETA, a, b, 0.0, z, err)
    h = BTAB_Z / (BTAB_K - 1)
    if z <= 0.0:
        u = (z + BTAB_Z) / h
        base = 3
    else:
        u = z / h
        base = 3 + BTAB_K
    j = min(max(int(u) - 1, 0), BTAB_K - 4)
    t = u - j
    y0 = tab[base + j]
    y1 = tab[base + j + 1]
    y2 = tab[base + j + 2]
    y3 = tab[base + j + 3]
    if not (y0 > -np.inf and y3 > -np.inf):  # a node underflowed (extreme shapes): solve instead
        return from_z(D_BETA, a, b, 0.0, z, err)
    t1 = t - 1.0
    t2 = t - 2.0
    t3 = t - 3.0
    y = (-y0 * t1 * t2 * t3 + y3 * t * t1 * t2) / 6.0 + (y1 * t2 - y2 * t1) * t * t3 / 2.0
    if z <= 0.0:
        return math.exp(y)
    return 1.0 - math.exp(y)


# ---------------------------------------------------------------------------------------------
# Distributions: validity, central value, quantile from a standard-normal score, CDF
# ---------------------------------------------------------------------------------------------


@jit
def dist_ok(code, a, b, c):
    if code == D_NORMAL or code == D_LOGNORMAL:
        return b > 0.0 and math.isfinite(a) and math.isfinite(b)
    if code == D_BETA:
        return a > 0.0 and b > 0.0 and math.isfinite(a) and math.isfinite(b)
    if code == D_UNIFORM:
        return a < b and math.isfinite(a) and math.isfinite(b)
    if code == D_TRIANGULAR:
        return a <= b <= c and a < c and math.isfinite(a) and math.isfinite(c)
    if code == D_PARETO or code == D_LOGNORMAL_NAT:
        return a > 0.0 and b > 0.0 and math.isfinite(a) and math.isfinite(b)
    if code == D_EXPONENTIAL or code == D_POISSON:
        return a > 0.0 and math.isfinite(a)
    if code == D_WEIBULL or code == D_GAMMA:
        return a > 0.0 and b > 0.0 and math.isfinite(a) and math.isfinite(b)
    if code == D_STUDENT_T:
        return a > 0.0 and c > 0.0 and math.isfinite(b) and math.isfinite(c) and not math.isnan(a)
    if code == D_PERT:
        return a <= b <= c and a < c and math.isfinite(a) and math.isfinite(c)
    if code == D_BERNOULLI:
        return 0.0 <= a <= 1.0
    if code == D_BINOMIAL:
        return 0.0 <= a < 9.0e15 and math.floor(a) == a and 0.0 <= b <= 1.0
    return False


@jit
def ln_mu(m, s):
    """mu of the underlying normal for a natural-scale mean m and sd s (moment matched)."""
    return math.log(m) - 0.5 * math.log1p((s / m) * (s / m))


@jit
def ln_sigma(m, s):
    """sigma of the underlying normal for a natural-scale mean m and sd s (moment matched)."""
    return math.sqrt(math.log1p((s / m) * (s / m)))


@jit
def central(code, a, b, c, err):
    """The deterministic-mode value of a distribution (LANGUAGE.md §2.3)."""
    if not dist_ok(code, a, b, c):
        setf(err, F_DIST)
        return np.nan
    if code == D_NORMAL:
        return a
    if code == D_LOGNORMAL:
        return math.exp(a)
    if code == D_LOGNORMAL_NAT:
        return a
    if code == D_BETA:
        return a / (a + b)
    if code == D_UNIFORM:
        return 0.5 * (a + b)
    if code == D_TRIANGULAR:
        return b
    if code == D_PARETO:
        return a * 2.0 ** (1.0 / b)
    if code == D_EXPONENTIAL:
        return math.log(2.0) / a
    if code == D_WEIBULL:
        return b * math.log(2.0) ** (1.0 / a)
    if code == D_GAMMA:
        return gammappf_z(a, 0.0) * b
    if code == D_STUDENT_T:
        return b
    if code == D_PERT:
        return (a + 4.0 * b + c) / 6.0
    if code == D_POISSON or code == D_BERNOULLI:
        return a
    return a * b  # Binomial: n p


@jit
def from_z(code, a, b, c, z, err):
    """The quantile at Phi(z): inverse-CDF sampling driven by a standard-normal score (copula-ready)."""
    if not dist_ok(code, a, b, c):
        setf(err, F_DIST)
        return np.nan
    if code == D_NORMAL:
        return a + b * z
    if code == D_LOGNORMAL:
        return math.exp(a + b * z)
    if code == D_LOGNORMAL_NAT:
        return math.exp(ln_mu(a, b) + ln_sigma(a, b) * z)
    if code == D_UNIFORM:
        return a + (b - a) * ncdf(z)
    if code == D_TRIANGULAR:
        u = ncdf(z)
        fc = (b - a) / (c - a)
        if u < fc:
            return a + math.sqrt(u * (c - a) * (b - a))
        return c - math.sqrt(ncdf(-z) * (c - a) * (c - b))
    if code == D_PARETO:
        return a * ncdf(-z) ** (-1.0 / b)
    if code == D_EXPONENTIAL:
        return -math.log(ncdf(-z)) / a
    if code == D_WEIBULL:
        return b * (-math.log(ncdf(-z))) ** (1.0 / a)
    if code == D_GAMMA:
        return gammappf_z(a, z) * b
    if code == D_STUDENT_T:
        return b + c * tppf_z(a, z)
    if code == D_PERT:
        al = 1.0 + 4.0 * (b - a) / (c - a)
        be = 1.0 + 4.0 * (c - b) / (c - a)
        if z <= 0.0:
            return a + (c - a) * betappf(ncdf(z), al, be)
        return c - (c - a) * betappf(ncdf(-z), be, al)
    if code == D_POISSON:
        return poisson_ppf_z(a, z)
    if code == D_BERNOULLI:
        return 0.0 if ncdf(z) <= 1.0 - a else 1.0
    if code == D_BINOMIAL:
        return binom_ppf_z(a, b, z)
    # Beta: use the tail with the better precision
    if z <= 0.0:
        return betappf(ncdf(z), a, b)
    return 1.0 - betappf(ncdf(-z), b, a)


@jit
def cdf(code, a, b, c, x):
    if code == D_NORMAL:
        return ncdf((x - a) / b)
    if code == D_LOGNORMAL:
        return 0.0 if x <= 0.0 else ncdf((math.log(x) - a) / b)
    if code == D_LOGNORMAL_NAT:
        return 0.0 if x <= 0.0 else ncdf((math.log(x) - ln_mu(a, b)) / ln_sigma(a, b))
    if code == D_UNIFORM:
        return min(max((x - a) / (b - a), 0.0), 1.0)
    if code == D_TRIANGULAR:
        if x <= a:
            return 0.0
        if x >= c:
            return 1.0
        if x <= b:
            return (x - a) * (x - a) / ((c - a) * (b - a))
        return 1.0 - (c - x) * (c - x) / ((c - a) * (c - b))
    if code == D_PARETO:
        return 0.0 if x <= a else 1.0 - (a / x) ** b
    if code == D_EXPONENTIAL:
        return 0.0 if x <= 0.0 else -math.expm1(-a * x)
    if code == D_WEIBULL:
        return 0.0 if x <= 0.0 else -math.expm1(-((x / b) ** a))
    if code == D_GAMMA:
        return gamma_p(a, x / b)
    if code == D_STUDENT_T:
        t = (x - b) / c
        tail = 0.5 * betainc(0.5 * a, 0.5, a / (a + t * t))
        return tail if t < 0.0 else 1.0 - tail
    if code == D_PERT:
        if x <= a:
            return 0.0
        if x >= c:
            return 1.0
        return betainc(1.0 + 4.0 * (b - a) / (c - a), 1.0 + 4.0 * (c - b) / (c - a), (x - a) / (c - a))
    if code == D_POISSON:
        return 0.0 if x < 0.0 else 1.0 - gamma_p(math.floor(x) + 1.0, a)
    if code == D_BERNOULLI:
        return 0.0 if x < 0.0 else (1.0 - a if x < 1.0 else 1.0)
    if code == D_BINOMIAL:
        if x < 0.0:
            return 0.0
        k = math.floor(x)
        return 1.0 if k >= a else betainc(a - k, k + 1.0, 1.0 - b)
    return betainc(a, b, x)


@jit
def disc_central(values, weights, err):
    """The expected value of a discrete distribution over `values` (increasing) with `weights` (summing to 1)."""
    acc = 0.0
    for k in range(len(values)):
        acc += weights[k] * values[k]
    return acc


@jit
def disc_from_z(values, weights, z, err):
    """The quantile at Phi(z) of a discrete distribution: the smallest value whose cumulative weight reaches it
    (from the top for z > 0, so that the upper tail keeps its precision)."""
    n = len(values)
    if z <= 0.0:
        u = ncdf(z)
        acc = 0.0
        for k in range(n):
            acc += weights[k]
            if u <= acc:
                return values[k]
        return values[n - 1]
    tail = ncdf(-z)  # P(X > x) must fall to tail or below
    acc = 0.0
    for k in range(n - 1, 0, -1):
        acc += weights[k]
        if acc > tail:
            return values[k]
    return values[0]


@jit
def mix_central(codes, pa, pb, pc, w, err):
    acc = 0.0
    for k in range(len(codes)):
        acc += w[k] * central(codes[k], pa[k], pb[k], pc[k], err)
    return acc


@jit
def mix_from_z(codes, pa, pb, pc, w, z, err):
    """Mixture quantile at Phi(z) by bisection on the mixture CDF, bracketed by the component quantiles."""
    lo = np.inf
    hi = -np.inf
    for k in range(len(codes)):
        q = from_z(codes[k], pa[k], pb[k], pc[k], z, err)
        lo = min(lo, q)
        hi = max(hi, q)
    if err[0] != 0:
        return np.nan
    u = ncdf(z)
    for _ in range(200):
        if hi - lo <= 1e-15 * max(abs(lo), abs(hi)) or hi - lo <= 1e-300:
            break
        mid = 0.5 * (lo + hi)
        f = 0.0
        for k in range(len(codes)):
            f += w[k] * cdf(codes[k], pa[k], pb[k], pc[k], mid)
        if f < u:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@jit
def draw(g, det, code, a, b, c, err):
    """An inline draw: the central value in deterministic mode, else a fresh sample from generator g."""
    if det:
        return central(code, a, b, c, err)
    return from_z(code, a, b, c, g.standard_normal(), err)


@jit
def draw_mix(g, det, codes, pa, pb, pc, w, err):
    if det:
        return mix_central(codes, pa, pb, pc, w, err)
    return mix_from_z(codes, pa, pb, pc, w, g.standard_normal(), err)


# ---------------------------------------------------------------------------------------------
# Path bookkeeping and whole-series reads used by the generated code
# ---------------------------------------------------------------------------------------------


@jit
def fail_at(st, i, s, site, kind):
    """Mark path i as faulted at step s by the statement `site` with fault `kind` (st is (4, paths))."""
    st[0, i] = S_FAULT
    st[1, i] = s
    st[2, i] = site
    st[3, i] = kind


@jit
def s_cumsum(ser, tt, lim, T, err):
    """ser[0] + ... + ser[tt] (one path's series), each step checked: integral, in 0..T and <= lim."""
    acc = 0.0
    n = to_step(tt, err)
    for k in range(n + 1):
        if k > T:
            setf(err, F_INDEX)
            return np.nan
        if k > lim:
            setf(err, F_NOT_YET)
            return np.nan
        acc += ser[k]
    return acc


@jit
def s_delay(ser, tt, lim, T, tau, stages, err):
    """A system-dynamics delay of `stages` first-order stages, delay time tau steps in all, of one path's series at
    step tt: each stage's output o follows o[k+1] = o[k] + (input[k] - o[k]) * stages / tau (Euler steps of one
    model step), starting in equilibrium at ser[0]. One stage is SMOOTH and DELAY1, three DELAY3."""
    n = to_step(tt, err)
    if not tau > 0.0:
        setf(err, F_DOMAIN)
        return np.nan
    if n > T:
        setf(err, F_INDEX)
        return np.nan
    if max(n - 1, 0) > lim:
        setf(err, F_NOT_YET)
        return np.nan
    o = np.full(stages, ser[0])
    rate = stages / tau
    for k in range(n):
        inp = ser[k]
        for j in range(stages):
            old = o[j]
            o[j] = old + (inp - old) * rate
            inp = old
    return o[stages - 1]


@jit
def fill_normals(g, out):
    """Fill out (steps, paths) with standard normals from generator g, row by row (numpy's own algorithm)."""
    for t in range(out.shape[0]):
        for i in range(out.shape[1]):
            out[t, i] = g.standard_normal()


if not JIT_ENABLED:

    def fill_normals(g, out):  # noqa: ANN001, ANN201, F811 - the same numbers in one numpy call
        """PEL_JIT=0: the same numbers, drawn by numpy in one call."""
        g.standard_normal(out=out)


@jit
def violated(ccount, cfirst, wlog, det, c, i, tc):
    """Count a violation of constraint c by path i at step tc; which of its message values to keep: bit 1 the
    path's first violation (cmsg), bit 2 a deterministic run's log (wvals)."""
    ccount[c, i] += 1
    w = 0
    if cfirst[c, i] < 0:
        cfirst[c, i] = tc
        w = 1
    if det:
        wlog[c, tc] = 1
        w |= 2
    return w


@jit
def message(cmsg, wvals, w, c, i, tc, m, x):
    """Keep message value m of a violation of constraint c (see violated)."""
    if w & 1:
        cmsg[c, m, i] = x
    if w & 2:
        wvals[c, tc, m] = x


@jit
def messages(cmsg, wvals, w, c, i, tc, first, xs):
    """Keep message values first.. (xs) of a violation of constraint c, as `message` does for one."""
    for k in range(xs.shape[0]):
        if w & 1:
            cmsg[c, first + k, i] = xs[k]
        if w & 2:
            wvals[c, tc, first + k] = xs[k]


@jit
def stop_fatal(st, i, s, c):
    """Path i stopped by fatal constraint c at step s."""
    st[0, i] = S_FATAL
    st[1, i] = s
    st[2, i] = c



@jit
def sample_table(s, det, P, st, zmat, btab, ovm, ovv, rows, codes, args, zcols, btabs, sites):
    """Parameters drawn from a distribution with constant arguments, as data rather than code: for every path
    still running, parameter j (row rows[j] of P) is the override when one is set, else its central value
    (det) or the quantile of its score zmat[zcols[j]] (Beta from table btabs[j] when >= 0); a fault stops
    the path at sites[j]. The same calls, in the same order per path, as a generated parameter statement."""
    err = np.zeros(1, np.int64)
    for i in range(st.shape[1]):
        if st[0, i] != 0:
            continue
        for j in range(rows.shape[0]):
            r = rows[j]
            if ovm[r]:
                v = ovv[r]
            elif det:
                v = central(codes[j], args[j, 0], args[j, 1], args[j, 2], err)
            elif btabs[j] >= 0:
                v = from_z_beta(btab[btabs[j]], args[j, 0], args[j, 1], zmat[zcols[j], i], err)
            else:
                v = from_z(codes[j], args[j, 0], args[j, 1], args[j, 2], zmat[zcols[j], i], err)
            kind = err[0]
            if kind == 0 and not math.isfinite(v):
                kind = F_NONFINITE
            if kind != 0:
                fail_at(st, i, s, sites[j], kind)
                err[0] = 0
                break
            P[r, i] = v


_DIGEST: list[str] = []


def source_digest() -> str:
    """SHA-256 of this file: generated kernels import these helpers, and numba's cache does not see them."""
    if not _DIGEST:
        import hashlib

        with open(__file__, "rb") as fh:
            _DIGEST.append(hashlib.sha256(fh.read()).hexdigest())
    return _DIGEST[0]
