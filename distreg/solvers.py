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
from distreg.errors import ColumnOverflowError, DistregError, SingularMatrixError

EPS = np.finfo(np.float64).eps

#: Above this (scaled) condition number the normal equations keep fewer than about
#: 7 of 16 digits: warn.
NORMAL_WARN_COND = 1e8
#: Above this the R factor itself keeps fewer than about 4 digits: warn for qr too.
QR_WARN_COND = 1e12


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


def _zero_columns(diag_values):
    zero = [i for i, v in enumerate(diag_values) if v == 0]
    if zero:
        which = ', '.join(str(i) for i in zero)
        raise SingularMatrixError(
            'the model matrix has an all-zero column (%s): its coefficient is not '
            'determined; drop the column or use --ridge' % which)


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

    def __init__(self, theta, cov, rss, cond, warnings=()):
        self.theta = theta          # float64 coefficients (intercept first)
        self.cov = cov              # unscaled covariance factor: sigma^2 * cov = Var(theta)
        self.rss = rss              # residual sum of squares at theta
        self.cond = cond            # condition number after column scaling
        self.warnings = list(warnings)


def solve_normal(part, intercept, ridge=0.0):
    """Solve the normal equations from a merged ``gram`` partial."""
    _check_ridge(ridge)
    G = part['xtx']
    b = part['xty']
    p = len(b)
    _zero_columns(np.diag(G))
    d = power_of_two_scale(np.sqrt(np.diag(G)))
    lam = ridge_diagonal(p, intercept, ridge)
    Gs = G * np.outer(d, d) + np.diag(lam * d * d)
    cond = _cond_sym(Gs)
    if not np.isfinite(cond) or cond * EPS >= 1:
        raise SingularMatrixError(
            'the normal equations are singular (condition number %s after column '
            'scaling): the coefficients are not determined. Columns may be collinear; '
            'use --method qr (more accurate) or --ridge L (unique answer)' % _fmt_cond(cond))
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
    return Solution(theta, cov, max(rss, 0.0), cond, warnings)


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
        _zero_columns(np.linalg.norm(R, axis=0))
        e = np.asarray(part.get('r_exp', np.zeros(p + 1, dtype=np.int64)), dtype=np.int64)
        #: column scale exponents of [X y] (0 for an all-zero column)
        self.exp = np.where(e == ZERO_EXP, 0, e)
        self.intercept = intercept
        # L |theta|^2 in scaled units: theta = theta_s 2^(e_y - e_x), the loss over 2^(2 e_y)
        self.lam = np.ldexp(ridge_diagonal(p, intercept, ridge), -2 * self.exp[:p])
        self.d = power_of_two_scale(np.linalg.norm(R, axis=0))
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
        if self.cond > QR_WARN_COND:
            self.warnings.append(
                'the model matrix is ill-conditioned (condition number %s after column '
                'scaling): refinement may not recover all digits; consider --ridge'
                % _fmt_cond(self.cond))
            warn(self.warnings[-1])
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

    def cov(self):
        """(X'X)^-1 from R; with a ridge, the sandwich (X'X+L)^-1 X'X (X'X+L)^-1."""
        Rinv = _solve_upper(self.Rs, np.eye(len(self.d)))
        Ainv = (Rinv @ Rinv.T) * np.outer(self.d, self.d)
        if self._gram is not None:
            return Ainv @ self._gram @ Ainv
        return Ainv


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
