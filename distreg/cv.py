"""One-pass k-fold cross-validation of penalised least squares: ``distreg cv``.

One pass of the ``foldgram`` aggregate (:class:`distreg.blocks.FoldGram`) gives the
centred moments of ``z = [model columns, y]`` of each of K folds (a row's fold: a stable
hash of its file and position, :mod:`distreg.folds`). Then, with no further pass, for every
penalty and every fold j:

- the *training* statistics are the other folds' moments merged (Chan et al.);
- the coefficients minimise ``1/2 sum w (y - x'theta)^2 + L/2 |theta'|^2 + L1 |theta'|_1``
  over the training rows (theta' without the intercept: the objective of ``distreg fit``);
  a ridge by Cholesky on the centred Gram, a lasso / elastic net by coordinate descent
  (warm-started along the penalties, largest first: the exact solution on the support of
  the answer before is taken when it satisfies the optimality conditions,
  :func:`distreg.solvers.elastic_net_warm`);
- fold j is scored from its own moments: with ``v = [-theta, 1]`` and the fold's mean m
  and centred M2, its residual sum of squares is ``W (v'm)^2 + v'M2 v`` (no cancellation of
  y'y against theta'X'y), RMSE ``sqrt(SSE / W)`` and R² ``1 - SSE / M2_yy`` (around the
  fold's own mean, as scikit-learn's ``r2_score``), W the fold's weight (its rows without
  ``--weight-col``).

The best penalty has the smallest mean held-out RMSE over the folds (the first listed on
a tie); the record is the normal-equations fit of all the rows at that penalty, from the
merged statistics (what ``distreg fit --ridge BEST`` / ``--l1 BEST`` gives), with the table
under ``cv``.

``--l1 path``: 100 penalties log-spaced from l1_max down to l1_max x 1e-4, l1_max =
max_j |c_j| of the centred X'y of all the rows (without an intercept: the raw X'y): the
smallest L1 that zeroes every coefficient (glmnet's lambda_max in the sum scale; a ridge
part does not change it).
"""

import math

import numpy as np

from distreg import blocks, optim, solvers
from distreg.errors import DistregError, SingularMatrixError

#: --l1 path: how many penalties, and the smallest as a fraction of l1_max
PATH_POINTS = 100
PATH_RATIO = 1e-4
#: the foldgram aggregate's name
AGGREGATE = 'foldgram'


def parse_penalties(text, flag, allow_path=False):
    """The penalties of ``--ridge 0,0.1,1`` (or ``--l1 path``) as a list of floats (or 'path')."""
    if allow_path and text.strip() == 'path':
        return 'path'
    out = []
    for part in text.split(','):
        try:
            v = float(part)
        except ValueError:
            raise DistregError('%s takes numbers separated by commas%s, not %r'
                               % (flag, " or 'path'" if allow_path else '', text))
        if not (v >= 0 and math.isfinite(v)):
            raise DistregError('%s: every penalty must be a finite number >= 0, not %r'
                               % (flag, part.strip()))
        out.append(v)
    return out


def check_options(options, folds, ridges, l1s):
    """Refuse what cv cannot do, before any engine starts."""
    if folds is None or folds < 2:
        raise DistregError('--folds must be an integer >= 2, not %r' % (folds,))
    if options.method != 'normal' or options.model != 'linear':
        raise DistregError('distreg cv solves every fold from the normal equations\' '
                           'statistics: it needs --model linear and --method normal, not '
                           '--model %s --method %s' % (options.model, options.method))
    if l1s is not None and len(ridges) > 1:
        raise DistregError('--l1 with a list of --ridge values: give one --ridge (the L2 part '
                           'of the elastic net) and the L1 penalties to search')


class Stats:
    """Weight, column means and centred M2 of some rows' ``z = [model columns, y]``."""

    def __init__(self, w, mean, m2):
        self.w, self.mean, self.m2 = float(w), mean, m2

    def merge(self, other):
        if other.w == 0:
            return self
        if self.w == 0:
            return other
        total = self.w + other.w
        delta = other.mean - self.mean
        return Stats(total, self.mean + delta * (other.w / total),
                     self.m2 + other.m2 + np.outer(delta, delta) * (self.w * other.w / total))

    def problem(self, intercept):
        """(C, c) of the coefficients' quadratic: centred without the intercept's column when
        there is an intercept, raw (M2 + W m m') without one."""
        p = len(self.mean) - 1
        if intercept:
            return self.m2[1:p, 1:p], self.m2[1:p, p]
        raw = self.m2 + self.w * np.outer(self.mean, self.mean)
        return raw[:p, :p], raw[:p, p]

    def coefficients(self, b, intercept):
        """theta from the non-intercept coefficients ``b`` (intercept = ybar - xbar'b)."""
        if not intercept:
            return b
        p = len(self.mean) - 1
        return np.concatenate([[self.mean[p] - self.mean[1:p] @ b], b])

    def sse(self, theta):
        """Weighted residual sum of squares of these rows at ``theta`` (extended precision)."""
        LD = np.longdouble
        v = np.concatenate([-np.asarray(theta, dtype=LD), [LD(1)]])
        r_mean = v @ self.mean.astype(LD)
        return float(max(LD(self.w) * r_mean * r_mean + v @ self.m2.astype(LD) @ v, LD(0)))


def fold_stats(total):
    """The :class:`Stats` of each fold of a merged foldgram partial."""
    return [Stats(w, mean, m2) for w, mean, m2 in
            zip(total['fold_w'], total['fold_mean'], total['fold_m2'])]


def check_folds(total, k):
    """Refuse K > n and a fold without rows (or without weight), with the numbers."""
    blocks.check_rows(total)
    n = solvers.rows_in_fit(total)
    if k > n:
        raise DistregError('--folds %d is more than the %d rows of the input: every fold needs '
                           'rows; use --folds %d or fewer' % (k, n, max(2, n)))
    empty = [j for j in range(k) if total['fold_w'][j] <= 0]
    if empty:
        raise DistregError('fold %d of %d has no rows%s (%d rows in all; a row\'s fold is a '
                           'hash of its file and position): use fewer folds'
                           % (empty[0], k, ' of weight > 0' if total['fold_n'][empty[0]] else '',
                              n))


def solve_ridge(C, c, ridge, what):
    """``(C + ridge I) b = c`` by Cholesky, columns scaled by powers of two."""
    p = len(c)
    if p == 0:
        return np.zeros(0)
    d = solvers.power_of_two_scale(np.sqrt(np.maximum(np.diag(C), 0.0)))
    A = C * np.outer(d, d) + np.diag(np.full(p, float(ridge)) * d * d)
    try:
        cond = np.linalg.cond(A)
        if not np.isfinite(cond) or cond * np.finfo(float).eps >= 1:
            raise np.linalg.LinAlgError
        L = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise SingularMatrixError(
            'the normal equations of %s are singular at --ridge %r: the coefficients are not '
            'determined (collinear columns, or fewer training rows than coefficients); use a '
            'ridge > 0' % (what, ridge))
    y = np.linalg.solve(L, c * d)
    return np.linalg.solve(L.T, y) * d


def _fits(train, intercept, penalties, kind, ridge, tol, max_sweeps, what):
    """theta of ``train`` at each penalty (l1: in the given order, each warm-started)."""
    C, c = train.problem(intercept)
    out, b = [], None
    for pen in penalties:
        if kind == 'ridge':
            b = solve_ridge(C, c, pen, what)
        else:
            b, _, converged = solvers.elastic_net_warm(C, c, ridge, pen, b, tol, max_sweeps)
            if not converged:
                solvers.warn('cv --l1 %r on %s: coordinate descent did not converge in %d '
                             'sweeps; raise --max-iter' % (pen, what, max_sweeps))
        out.append(train.coefficients(b, intercept))
    return out


def l1_path(total_stats, intercept, points=PATH_POINTS, ratio=PATH_RATIO):
    """glmnet's path: ``points`` L1 penalties log-spaced from l1_max down to l1_max x ratio."""
    _, c = total_stats.problem(intercept)
    top = float(np.max(np.abs(c))) if len(c) else 0.0
    if top == 0:
        raise DistregError('--l1 path: every coefficient is 0 at any L1 (X\'y is 0): no path')
    return list(np.geomspace(top, top * ratio, points))


def cross_validate(total, options, k, ridges, l1s):
    """The table of a merged foldgram partial: per penalty, each fold's held-out RMSE and R²."""
    folds = fold_stats(total)
    everything = folds[0]
    for f in folds[1:]:
        everything = everything.merge(f)
    if l1s is None:
        kind, penalties, ridge = 'ridge', list(ridges), None
    else:
        kind, ridge = 'l1', ridges[0]
        penalties = l1_path(everything, options.intercept) if l1s == 'path' else list(l1s)
    tol = options.tol if options.tol else optim.ENET_TOL
    max_sweeps = options.max_iter if options.max_iter is not None else optim.ENET_MAX_SWEEPS
    # l1: warm starts go from the largest penalty down; the table keeps the given order
    order = sorted(range(len(penalties)), key=lambda i: -penalties[i]) if kind == 'l1' \
        else list(range(len(penalties)))
    rmse = np.zeros((len(penalties), k))
    r2 = np.full((len(penalties), k), np.nan)
    for j in range(k):
        train = None
        for i, f in enumerate(folds):
            if i != j:
                train = f if train is None else train.merge(f)
        thetas = _fits(train, options.intercept, [penalties[i] for i in order], kind, ridge,
                       tol, max_sweeps, 'the folds other than %d' % j)
        held = folds[j]
        for i, theta in zip(order, thetas):
            sse = held.sse(theta)
            rmse[i, j] = math.sqrt(sse / held.w)
            tss = float(held.m2[-1, -1])
            r2[i, j] = 1.0 - sse / tss if tss > 0 else np.nan
    mean = rmse.mean(axis=1)
    best = int(np.argmin(mean))
    return dict(folds=k, penalty=kind, ridge=ridge, values=[float(v) for v in penalties],
                rmse=rmse.tolist(), r2=[[None if np.isnan(v) else float(v) for v in row]
                                        for row in r2],
                rmse_mean=mean.tolist(), rmse_sd=rmse.std(axis=1, ddof=1).tolist(),
                r2_mean=_nan_none(np.nanmean(r2, axis=1) if np.isfinite(r2).any() else
                                  np.full(len(penalties), np.nan)),
                r2_sd=_nan_none(np.nanstd(r2, axis=1, ddof=1) if np.isfinite(r2).any() else
                                np.full(len(penalties), np.nan)),
                best=float(penalties[best]), best_index=best,
                rule='smallest mean held-out RMSE over the folds',
                fold_rows=[int(n) for n in total['fold_n']],
                fold_weights=[float(w) for w in total['fold_w']] if 'w_sum' in total else None,
                path='%d values log-spaced from l1_max to l1_max x %g' % (PATH_POINTS, PATH_RATIO)
                if l1s == 'path' else None)


def _nan_none(a):
    return [None if not np.isfinite(v) else float(v) for v in a]


def gram_partial(total, everything):
    """The ``gram`` partial of all the rows (what ``distreg fit --method normal`` sums) from
    the merged fold moments: X'X, X'y, y'y from M2 + W m m'."""
    raw = everything.m2 + everything.w * np.outer(everything.mean, everything.mean)
    p = len(everything.mean) - 1
    part = {key: total[key] for key in ('n', 'n_bad', 'y_mean', 'y_m2', 'w_sum', 'n_zero_w')
            if key in total}
    part.update(xtx=raw[:p, :p], xty=raw[:p, p], yty=float(raw[p, p]))
    return part


def driver(k, ridges, l1s, holder):
    """The :func:`distreg.fit.fit` driver of ``distreg cv``: one pass, the table into
    ``holder['cv']``, and the normal-equations answer of all the rows at the best penalty
    (``options.ridge`` or ``options.l1`` set to it, as ``fit --ridge BEST`` would have)."""
    def run(timed, options):
        total = timed.aggregate(AGGREGATE, {'folds': k})
        check_folds(total, k)
        table = cross_validate(total, options, k, ridges, l1s)
        holder['cv'] = table
        if table['penalty'] == 'ridge':
            options.ridge = table['best']
        else:
            options.ridge, options.l1 = table['ridge'], table['best']
        everything = fold_stats(total)[0]
        for f in fold_stats(total)[1:]:
            everything = everything.merge(f)
        return optim.normal_answer(gram_partial(total, everything), options)
    return run


def run(engine, options, k, ridges, l1s=None):
    """Cross-validate on ``engine`` (one pass): the record refitted at the best penalty, with
    the table under ``cv``. ``options`` (checked :class:`distreg.fit.FitOptions` with
    ``folds=k``) gets ``ridge`` / ``l1`` set to the best penalty."""
    from distreg import fit as fit_mod
    if engine.trains_itself:
        raise DistregError('distreg cv is not on %s: use spark-rdd (MLlib keeps no statistics '
                           'of its own; its CrossValidator reads the data once per fold and '
                           'penalty)' % engine.name)
    check_options(options, k, ridges, l1s)
    holder = {}
    record = fit_mod.fit(engine, options, checked=True, driver=driver(k, ridges, l1s, holder))
    record['cv'] = holder['cv']
    return record


def table_text(cv):
    """The table ``distreg cv`` prints: per penalty, mean +- sd of the folds' RMSE and R²."""
    name = 'L1' if cv['penalty'] == 'l1' else 'ridge'
    lines = ['%d-fold cross-validation, %s penalties%s; best: smallest mean held-out RMSE'
             % (cv['folds'], name, '' if cv['ridge'] is None or cv['penalty'] == 'ridge'
                else ' (ridge %g)' % cv['ridge']),
             '  %-12s %-24s %-24s' % (name, 'RMSE mean +- sd', 'R2 mean +- sd')]
    for i, v in enumerate(cv['values']):
        r2m, r2s = cv['r2_mean'][i], cv['r2_sd'][i]
        lines.append('%s %-12.6g %-24s %-24s' % (
            '*' if i == cv['best_index'] else ' ', v,
            '%.6g +- %.3g' % (cv['rmse_mean'][i], cv['rmse_sd'][i]),
            '-' if r2m is None else '%.6f +- %.3g' % (r2m, r2s or 0.0)))
    lines.append('best %s: %.6g (rows per fold: %s)'
                 % (name, cv['best'], ', '.join(str(n) for n in cv['fold_rows'])))
    return '\n'.join(lines)
