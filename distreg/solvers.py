"""Driver-side solves: from merged partials to coefficients, with honest conditioning checks.

Both solvers work on power-of-two column scaling D (exact in binary floating
point): the Gram becomes D G D, the R factor R D. The scaling removes the
spurious ill-conditioning of columns measured in different units, so the
condition number reported is the one that really costs digits.

Notes
-----
normal
    theta = (X'X + L I')^-1 X'y by Cholesky, I' the identity without the
    intercept's entry. Accuracy ~ cond(X)^2 * eps: fine for well-conditioned
    data, poor for NIST's harder sets (that is why ``qr`` exists).
qr
    R from TSQR of [X y]; theta = R_xx^-1 r_xy (accuracy ~ cond(X) * eps), then
    refinement passes theta += (R'R)^-1 X'(y - X theta) whose residuals are
    computed in extended precision (:class:`distreg.blocks.Refine`).
"""

import math
import sys

import numpy as np

from distreg import inference
from distreg.blocks import ZERO_EXP
from distreg.errors import (ColumnOverflowError, DistregError, RankDeficientError,
                            SingularMatrixError)

EPS = np.finfo(np.float64).eps

#: Above this (scaled) condition number the normal equations keep fewer than about
#: 7 of 16 digits: warn.
NORMAL_WARN_COND = 1e8
#: Above this (scaled) condition number of the model matrix a fit warns that digits may be
#: lost (qr's refinement recovers most of them, the normal equations cannot).
COND_WARN = 1e10
#: qr: above this condition number the standard errors are computed from an extended-precision
#: pass (see :meth:`QRState.refine_cov`): (R'R)^-1 from the float64 R keeps only about
#: 16 - log10(cond) digits.
COND_REFINE_COV = 1e6


def power_of_two_scale(norms):
    """Powers of two close to 1/norm for each column (1 for an all-zero column)."""
    norms = np.asarray(norms, dtype=np.float64)
    safe = np.where(norms > 0, norms, 1.0)
    return np.exp2(-np.round(np.log2(safe)))


def ridge_diagonal(p, intercept, ridge):
    """The ridge penalty's diagonal: L on every coefficient but the intercept."""
    d = np.full(p, float(ridge))
    if intercept and p:
        d[0] = 0.0
    return d


def _check_ridge(ridge):
    if not (ridge >= 0 and math.isfinite(ridge)):
        raise DistregError('--ridge must be a finite number >= 0, not %r' % ridge)


#: Rank tolerance of the R factor: column j is refused as a linear combination of the columns
#: before it when its distance from their span, |r_jj|, is at most this fraction of its norm.
#:
#: The rule separates *exact* dependence from ill-conditioning by what float64 can make of
#: an exactly dependent column: rounding the input to float64 (a few units of 2^-53 = 1.1e-16
#: per value, relative to the column itself) plus the rounding of the TSQR factorisation (at
#: most 1.1e-14 measured: a 0/1 dummy trap and a constant column, 1e6-4e6 rows in 64k-row
#: blocks) stays below 2^-40 = 9.1e-13 by a factor of 80 or more. A full-rank design, however
#: ill-conditioned, keeps its columns' distances: NIST's Filip (degree 10 on x in [-8.8, -3.1])
#: has 5.2e-8 and is fitted to 11 digits after refinement. R's ``lm`` (LINPACK dqrdc2) uses
#: 1e-7 and refuses Filip; distreg refuses only beyond what the data's own precision can
#: tell, i.e. from a scaled condition number of about 1e12-1e14 (and warns from 1e10).
RANK_TOL = 2.0 ** -40


def _zero_columns(diag_values, names=None, tiny=None):
    """Refuse columns whose sum of squares is 0 (``tiny``: their largest |entry|, when
    known, tells an all-zero column from one too small to square in float64)."""
    cols, reasons = [], []
    for i, v in enumerate(diag_values):
        if v == 0:
            cols.append(i)
            if tiny is not None and tiny[i] > 0:
                reasons.append('has values too small for float64 to fit (largest %.3g, below '
                               '1.5e-154 its square underflows); rescale it' % tiny[i])
            elif tiny is not None:
                reasons.append('is all zero')
            else:
                reasons.append('has a sum of squares of 0 in float64 (all its values are 0, '
                               'or smaller than 1.5e-154 in magnitude)')
    if cols:
        raise RankDeficientError(cols, reasons, names)


def column_norms(A):
    """Euclidean norms of the columns of ``A``, without underflow for tiny columns."""
    A = np.asarray(A, dtype=np.float64)
    top = np.max(np.abs(A), axis=0) if A.size else np.zeros(A.shape[1])
    safe = np.where(top > 0, top, 1.0)
    return np.linalg.norm(A / safe, axis=0) * top


def check_rank(R, intercept, names=None, tol=RANK_TOL):
    """Refuse a rank-deficient R factor (of the model matrix X, R'R = X'X).

    ``|r_jj|`` is the distance of column j from the span of the columns before it,
    ``||R[:, j]||`` its norm (column scaling does not change the ratio): a ratio at
    most ``tol`` (:data:`RANK_TOL`, where the reasons for its value are) marks column j
    as a linear combination of the others. The same rule on every engine (spark-mllib
    included), since every engine's R is the same up to rounding.
    """
    R = np.asarray(R, dtype=np.float64)
    top = np.max(np.abs(R), axis=0) if R.size else np.zeros(0)
    norms = column_norms(R)
    _zero_columns(norms, names, tiny=top)
    cols, reasons = [], []
    for j in range(R.shape[1]):
        if norms[j] < np.finfo(np.float64).tiny:
            cols.append(j)
            reasons.append('has only subnormal values (its norm is %.3g, below 2.2e-308: '
                           'too few digits to fit; rescale it)' % norms[j])
            continue
        if abs(R[j, j]) > tol * norms[j]:
            continue
        cols.append(j)
        if intercept and j > 0 and np.linalg.norm(R[1:j + 1, j]) <= tol * norms[j]:
            reasons.append('is constant (a multiple of the intercept)')
        else:
            reasons.append('is a linear combination of the columns before it')
    if cols:
        raise RankDeficientError(cols, reasons, names)


def rows_in_fit(part):
    """Rows that count in a fit: those used, less the rows of weight 0."""
    return part['n'] - part.get('n_zero_w', 0)


def check_rows_for_columns(n, p, ridge):
    """Refuse fewer rows than coefficients (no unique least-squares answer) without a ridge."""
    if n < p and not ridge:
        raise SingularMatrixError(
            'the input has %d rows but the model has %d coefficients: with fewer rows than '
            'coefficients they are not determined by the data; drop columns, add rows or use '
            '--ridge L' % (n, p))


def warn(message):
    """One warning line on stderr (every driver warns this way)."""
    print('distreg: warning: ' + message, file=sys.stderr)


def check_sums_finite(gram, label_sum_sq, method, least_squares=True):
    """Stop with the column's name when a sum of squares overflowed (values near 1e154+).

    ``gram`` is X'X (or X'WX), ``label_sum_sq`` y'y or None; a column whose squares
    overflow has an infinite diagonal entry.
    """
    with np.errstate(invalid='ignore'):
        bad = np.flatnonzero(~np.isfinite(np.diag(gram)) | ~np.isfinite(gram).all(axis=0))
    hint = ('use --method qr, which scales each column by a power of two before any sum '
            'of squares, or rescale it' if least_squares else 'rescale it')
    if len(bad):
        raise ColumnOverflowError(
            'the sum of squares of {column} overflows float64: its values are too large for '
            '%s, which square them; %s' % (method, hint), column=int(bad[0]))
    if label_sum_sq is not None and not math.isfinite(label_sum_sq):
        raise DistregError('the sum of squares of the label overflows float64: its values are '
                           'too large for %s, which square them; %s' % (method, hint))


class Solution:
    """Coefficients and what inference needs: (X'X)^-1 pieces and sums of squares."""

    def __init__(self, theta, cov, rss, cond, warnings=(), bread=None):
        self.theta = theta          # float64 coefficients (intercept first)
        self.cov = cov              # unscaled covariance factor: sigma^2 * cov = Var(theta)
        self.bread = bread          # (X'X + L I')^-1: the robust sandwich's bread
        self.rss = rss              # residual sum of squares at theta
        self.cond = cond            # condition number after column scaling
        self.warnings = list(warnings)


def solve_normal(part, intercept, ridge=0.0):
    """Solve the normal equations from a merged ``gram`` partial."""
    _check_ridge(ridge)
    G = part['xtx']
    b = part['xty']
    p = len(b)
    if not ridge:
        check_rows_for_columns(rows_in_fit(part), p, ridge)
        _zero_columns(np.diag(G))
    d = power_of_two_scale(np.sqrt(np.diag(G)))
    lam = ridge_diagonal(p, intercept, ridge)
    Gs = G * np.outer(d, d) + np.diag(lam * d * d)
    cond = _cond_sym(Gs)
    lead = ('the normal equations are singular to working precision (condition number %s '
            'after column scaling)' % _fmt_cond(cond))
    cols = [] if ridge else _gram_suspects(Gs)
    if cols:
        raise RankDeficientError(cols, [
            'is, within the precision of the normal equations, a linear combination of the '
            'columns before it (--method qr tells an exactly dependent column from an '
            'ill-conditioned one)'] * len(cols), lead=lead)
    if not np.isfinite(cond) or cond * EPS >= 1:
        raise SingularMatrixError(
            '%s: the coefficients are not determined. Columns may be collinear; '
            'use --method qr (more accurate) or --ridge L (unique answer)' % lead)
    warnings = []
    if cond > NORMAL_WARN_COND:
        warnings.append(
            'the normal equations are ill-conditioned (condition number %s after column '
            'scaling): about %d of 16 digits may be lost; use --method qr for an accurate '
            'answer or --ridge to regularise' % (_fmt_cond(cond), min(16, int(math.log10(cond)))))
    L = np.linalg.cholesky(Gs)
    ts = _cho_solve(L, b * d)
    theta = ts * d
    Ainv = _cho_solve(L, np.eye(p)) * np.outer(d, d)      # (X'X + L I')^-1
    cov = Ainv @ G @ Ainv if ridge else Ainv
    # y'y - 2 theta'X'y + theta'X'X theta: exact algebra, float64 cancellation (the lesson)
    rss = float(part['yty'] - 2 * theta @ b + theta @ G @ theta)
    for w in warnings:
        warn(w)
    return Solution(theta, cov, max(rss, 0.0), cond, warnings, bread=Ainv)


def solve_elastic_net(part, intercept, ridge, l1, tol=1e-13, max_sweeps=100000):
    """Lasso / elastic net by coordinate descent on the Gram (glmnet's covariance mode).

    Minimises ``1/2 sum (y - x'theta)^2 + l1 sum |theta_j| + ridge/2 sum theta_j^2`` over
    every coefficient but the intercept, which is not penalised: with an intercept the
    Gram is centred (X'X - n xbar xbar', X'y - n xbar ybar) and the intercept is
    ybar - xbar'theta at the end. A sweep updates each coefficient once,
    ``theta_j = S(c_j - sum_{k != j} C_jk theta_k, l1) / (C_jj + ridge)`` with S the soft
    threshold; the descent stops when a sweep moves no coefficient by more than ``tol``
    times the largest one. Returns (theta, sweeps, converged).
    """
    G = np.asarray(part['xtx'], dtype=np.float64)
    b = np.asarray(part['xty'], dtype=np.float64)
    if intercept:
        n = G[0, 0]
        xbar = G[0, 1:] / n
        ybar = b[0] / n
        C = G[1:, 1:] - n * np.outer(xbar, xbar)
        c = b[1:] - n * xbar * ybar
    else:
        C, c = G, b
    theta, sweeps, converged = coordinate_descent(C, c, ridge, l1, tol, max_sweeps)
    if intercept:
        theta = np.concatenate([[ybar - xbar @ theta], theta])
    return theta, sweeps, converged


def coordinate_descent(C, c, ridge, l1, tol=1e-13, max_sweeps=100000, theta=None):
    """Minimise ``1/2 t'Ct - c't + l1 |t|_1 + ridge/2 |t|^2`` by cyclic coordinate descent.

    The core of :func:`solve_elastic_net` (``C``, ``c``: the centred Gram and X'y, or the
    raw ones without an intercept); ``theta`` is a warm start (a path of penalties starts each
    from the answer before). Returns (theta, sweeps, converged).
    """
    p = len(c)
    theta = np.zeros(p) if theta is None else np.array(theta, dtype=np.float64)
    diag = np.diag(C) + ridge
    active = diag > 0
    theta[~active] = 0.0
    sweeps, converged = 0, p == 0
    for sweeps in range(1, max_sweeps + 1):
        biggest_move = 0.0
        for j in range(p):
            if not active[j]:
                continue
            z = c[j] - C[j] @ theta + C[j, j] * theta[j]
            new = math.copysign(max(abs(z) - l1, 0.0), z) / diag[j] + 0.0   # no -0.0
            biggest_move = max(biggest_move, abs(new - theta[j]))
            theta[j] = new
        if biggest_move <= tol * max(np.max(np.abs(theta)), np.finfo(float).tiny):
            converged = True
            break
    return theta, sweeps, converged


def elastic_net_warm(C, c, ridge, l1, theta, tol=1e-13, max_sweeps=100000, tries=4):
    """The elastic net's answer from a warm start: exact on a guessed support, else descent.

    The support A of ``theta`` (the answer at the penalty before, on a path) and the signs s
    of its coefficients give the minimiser with that support, the solution of
    ``(C_AA + ridge I) b_A = c_A - l1 s``. It is the answer when b_A keeps the signs s and
    every other coordinate satisfies |c_j - C_jA b_A| <= l1 (the optimality conditions);
    coordinates that break the latter join A with the sign of their gradient, up to
    ``tries`` times. Otherwise (a sign changes, C_AA is singular) :func:`coordinate_descent`
    runs from ``theta``. Returns (theta, sweeps, converged); sweeps is 0 for an exact answer.
    """
    p = len(c)
    theta = np.zeros(p) if theta is None else np.asarray(theta, dtype=np.float64)
    active = theta != 0
    signs = np.sign(theta)
    for _ in range(tries):
        A = np.flatnonzero(active)
        try:
            b = np.linalg.solve(C[np.ix_(A, A)] + ridge * np.eye(len(A)), c[A] - l1 * signs[A])
        except np.linalg.LinAlgError:
            break
        if not np.all(np.sign(b) == signs[A]):
            break
        exact = np.zeros(p)
        exact[A] = b
        grad = c - C @ exact
        broken = ~active & (np.abs(grad) > l1) & (np.diag(C) + ridge > 0)
        if not broken.any():
            return exact, 0, True
        active |= broken
        signs[broken] = np.sign(grad[broken])
    return coordinate_descent(C, c, ridge, l1, tol, max_sweeps, theta)


class QRState:
    """The TSQR answer and what refinement passes need.

    Works in the units of the TSQR partial: its R is that of the columns of [X y]
    scaled by powers of two (``r_exp``, see :class:`distreg.blocks.TSQR`), so
    ``theta``, the refinement and the sums of squares here are those of the scaled
    problem; :meth:`unscale` and :meth:`stats` give the user's units.
    """

    def __init__(self, part, intercept, ridge=0.0):
        _check_ridge(ridge)
        r = part['r']
        p = r.shape[0] - 1
        R = r[:p, :p]
        rhs = r[:p, p]
        if not ridge:
            # known after the first pass: say so now, before any refinement pass
            check_rows_for_columns(rows_in_fit(part), p, ridge)
            check_rank(R, intercept)
        e = np.asarray(part.get('r_exp', np.zeros(p + 1, dtype=np.int64)), dtype=np.int64)
        #: column scale exponents of [X y] (0 for an all-zero column)
        self.exp = np.where(e == ZERO_EXP, 0, e)
        self.intercept = intercept
        # L |theta|^2 in scaled units: theta = theta_s 2^(e_y - e_x), the loss over 2^(2 e_y)
        self.lam = np.ldexp(ridge_diagonal(p, intercept, ridge), -2 * self.exp[:p])
        self.d = power_of_two_scale(column_norms(R))
        Rs = R * self.d
        if ridge:
            # [R; sqrt(L) I'] D: the ridge problem as an ordinary least-squares one
            aug = np.vstack([np.column_stack([Rs, rhs]),
                             np.column_stack([np.diag(np.sqrt(self.lam) * self.d), np.zeros(p)])])
            ra = np.linalg.qr(aug, mode='r')
            Rs, rhs = ra[:p, :p], ra[:p, p]
        self.Rs = Rs
        self._gram = R.T @ R if ridge else None   # R'R = X'X, for the ridge covariance
        sv = np.linalg.svd(Rs, compute_uv=False)
        self.cond = sv[0] / sv[-1] if sv[-1] > 0 else np.inf
        if not np.isfinite(self.cond) or self.cond * EPS >= 1:
            raise SingularMatrixError(
                'the model matrix is rank deficient (condition number %s after column '
                'scaling): the coefficients are not determined. Drop collinear columns or '
                'use --ridge L' % _fmt_cond(self.cond))
        self.warnings = []
        if self.cond > COND_WARN:
            self.warnings.append(ill_conditioned_warning(self.cond))
            warn(self.warnings[-1])
        #: R^-1 (:meth:`rinv`) and (X'X)^-1 from the extended-precision Q'Q (:meth:`refine_cov`)
        self._rinv = None
        self._cov = None
        self.theta = _solve_upper(Rs, rhs) * self.d
        # ||y - X theta||^2 = r_yy^2 + ||R theta - r_xy||^2 for any theta (ridge or not)
        fit_gap = R @ self.theta - r[:p, p]
        self.rss_tsqr = float(r[p, p] ** 2 + fit_gap @ fit_gap)
        # the total sum of squares from R, in scaled units: with the intercept first,
        # what of y is orthogonal to the ones column is R's label column below row 0
        y_col = r[int(bool(intercept) and p > 0):, p]
        self.tss = float(y_col @ y_col)

    def unscale(self, theta):
        """Coefficients in the user's units; an error naming a column when one overflows."""
        with np.errstate(over='ignore'):
            out = np.ldexp(theta, self.exp[-1] - self.exp[:-1])
        bad = np.flatnonzero(~np.isfinite(out))
        if len(bad):
            raise ColumnOverflowError(
                'the coefficient of {column} is beyond the float64 range (about '
                '2^%d): the label is too large or the column too small to fit in float64; '
                'rescale them' % int(np.frexp(theta[bad[0]])[1] + self.exp[-1]
                                      - self.exp[bad[0]]), column=int(bad[0]))
        return out

    def rel_change(self, delta, theta):
        """max-norm ``|delta| / |theta|`` measured in the user's units, overflow-free."""
        w = np.ldexp(1.0, self.exp[:-1].min() - self.exp[:-1])   # 2^-e_x up to a factor
        top = float(np.linalg.norm(theta * w))
        return float(np.linalg.norm(delta * w)) / max(top, np.finfo(float).tiny)

    def stats(self, theta, rss, part):
        """The record's ``stats`` (user's units) from scaled ``theta`` and ``rss``."""
        scaled = dict(part, y_mean=0.0, y_m2=self.tss)
        st = inference.linear_stats(theta, self.cov(), rss, scaled, self.intercept)
        ey = int(self.exp[-1])
        with np.errstate(over='ignore'):
            for key in ('rmse', 'residual_sd'):
                if st[key] is not None:
                    st[key] = float(np.ldexp(st[key], ey))
            if st['std_errors'] is not None:
                st['std_errors'] = np.ldexp(np.asarray(st['std_errors']),
                                            ey - self.exp[:-1]).tolist()
        return st

    def correction(self, g_ext, theta):
        """Refinement step from the extended-precision gradient ``X'(y - X theta)``."""
        g = g_ext - self.lam.astype(np.longdouble) * np.asarray(theta, dtype=np.longdouble)
        gs = np.asarray(g * self.d, dtype=np.float64)
        return _solve_upper(self.Rs, _solve_lower(self.Rs.T, gs)) * self.d

    def wants_cov_pass(self):
        """Whether the standard errors need the extended-precision pass of :meth:`refine_cov`."""
        return self._gram is None and self.cond > COND_REFINE_COV

    def rinv(self):
        """R^-1 (scaled units) for the refinement pass that measures ``Q'Q``, Q = X R^-1."""
        if self._rinv is None:
            self._rinv = _solve_upper(self.Rs, np.eye(len(self.d))) * self.d[:, None]
        return self._rinv

    def refine_cov(self, qtq):
        """(X'X)^-1 = R^-1 (Q'Q)^-1 R^-T with ``qtq`` = Q'Q summed in extended precision.

        The identity holds for any invertible R^-1; with the float64 R of TSQR, Q = X R^-1
        is orthonormal to about cond * 1e-16, so (Q'Q)^-1 is computed accurately and the
        standard errors keep the digits that (R'R)^-1 alone loses on ill-conditioned data.
        """
        F = np.asarray(qtq, dtype=np.float64)
        F = (F + F.T) / 2
        try:
            L = np.linalg.cholesky(F)
        except np.linalg.LinAlgError:
            return      # Q'Q not positive definite in float64: keep (R'R)^-1
        Rinv = self.rinv()
        Finv = _cho_solve(L, np.eye(len(F)))
        self._cov = Rinv @ Finv @ Rinv.T

    def bread(self):
        """(X'X)^-1 (with a ridge, (X'X+L)^-1) in the user's units: the robust sandwich's bread."""
        A = self._cov if self._cov is not None else self.rinv() @ self.rinv().T
        e = self.exp[:-1]
        with np.errstate(over='ignore'):
            return np.ldexp(A, -(e[:, None] + e[None, :]))

    def cov(self):
        """(X'X)^-1 from R; with a ridge, the sandwich (X'X+L)^-1 X'X (X'X+L)^-1."""
        if self._cov is not None:
            return self._cov
        Rinv = self.rinv()
        Ainv = Rinv @ Rinv.T
        if self._gram is not None:
            return Ainv @ self._gram @ Ainv
        return Ainv


def ill_conditioned_warning(cond):
    """The warning line of a model matrix whose (scaled) condition number is above COND_WARN."""
    return ('the model matrix is ill-conditioned (condition number %s after column scaling): '
            'a change in the data\'s last digit can change about the last %d digits of the '
            'coefficients; centring or rescaling columns (or a lower --poly-degree) helps'
            % (_fmt_cond(cond), min(16, int(math.log10(cond)))))


def solve_spd(H, b):
    """Solve H x = b for a symmetric positive definite H, on power-of-two scaled columns."""
    d = power_of_two_scale(np.sqrt(np.abs(np.diag(H))))
    Hs = H * np.outer(d, d)
    w = np.linalg.eigvalsh(Hs)
    cond = w[-1] / w[0] if w[0] > 0 else np.inf
    if not np.isfinite(cond) or cond * EPS >= 1:
        raise SingularMatrixError(
            'the Hessian X\'WX is singular (condition number %s after column scaling): the '
            'coefficients are not determined. Columns may be collinear, or (logistic) the '
            'classes perfectly separated; use --ridge L' % _fmt_cond(cond))
    L = np.linalg.cholesky(Hs)
    return _cho_solve(L, b * d if b.ndim == 1 else b * d[:, None]) * (
        d if b.ndim == 1 else d[:, None])


def _gram_suspects(G):
    """Columns of a (scaled) Gram that the normal equations cannot tell from a linear
    combination of the columns before them.

    Column j's Cholesky pivot is its squared distance from the span of the columns before
    it, and the Gram holds it only to about float64's rounding of the column's sum of
    squares: a pivot at most :data:`RANK_TOL` of that sum (a distance of at most 9.5e-7 of the
    column's norm, where qr tells down to 9.1e-13) is refused. The factorisation passes over
    such columns, so that each later one is judged against the others.
    """
    try:
        L = np.linalg.cholesky(G)
        if np.all(np.diag(L) ** 2 > RANK_TOL * np.diag(G)):
            return []
    except np.linalg.LinAlgError:
        pass
    keep, L, out = [], np.zeros((0, 0)), []
    for j in range(len(G)):
        g = G[keep, j]
        l = _solve_lower(L, g) if keep else np.zeros(0)
        pivot = G[j, j] - l @ l
        if not G[j, j] > 0 or pivot <= RANK_TOL * G[j, j]:
            out.append(j)
            continue
        k = len(keep)
        grown = np.zeros((k + 1, k + 1))
        grown[:k, :k] = L
        grown[k, :k] = l
        grown[k, k] = math.sqrt(pivot)
        L = grown
        keep.append(j)
    return out


def _cond_sym(A):
    w = np.linalg.eigvalsh(A)
    if w[0] <= 0:
        return np.inf
    return w[-1] / w[0]


def _fmt_cond(c):
    return 'inf' if not np.isfinite(c) else '%.3g' % c


def _cho_solve(L, b):
    return _solve_upper(L.T, _solve_lower(L, b))


def _solve_lower(L, b):
    """Forward substitution (L lower triangular); b a vector or a matrix."""
    b = np.array(b, dtype=np.float64)
    x = np.zeros_like(b)
    for i in range(L.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]
    return x


def _solve_upper(U, b):
    """Back substitution (U upper triangular); b a vector or a matrix."""
    b = np.array(b, dtype=np.float64)
    x = np.zeros_like(b)
    for i in range(U.shape[0] - 1, -1, -1):
        x[i] = (b[i] - U[i, i + 1:] @ x[i + 1:]) / U[i, i]
    return x
