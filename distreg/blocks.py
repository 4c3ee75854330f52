"""Block functions and merges: the distributed aggregates every method is made of.

This is the home of every aggregate (DESIGN.md: "apply a pure function to each
block of rows, combine the block results with an associative merge"); the table
:data:`AGGREGATES` at the end names them all. The driver steps that use them
are in :mod:`distreg.optim`.

An aggregate turns one parsed block (:class:`distreg.loader.Parsed`) into a
*partial* (a dict of counts and numpy arrays), and merges two partials into one
with an associative ``merge``. Engines only run "map the block function, merge,
collect"; the driver turns the total into an answer (:mod:`distreg.solvers`).

Partials travel between tasks as JSON (:func:`encode` / :func:`decode`): float64
as numbers that round-trip exactly, extended precision (``np.longdouble``) as a
pair of float64 (hi + lo), which holds its 64-bit mantissa exactly.

LibSVM blocks may have fewer feature columns than others (absent features are
0); merges pad the narrower partial with zeros, which is exact for every
aggregate here.

Every partial has ``n`` (rows used), ``n_bad`` (rows rejected) and the label's
count-mean-M2 (``y_mean``, ``y_m2``, merged by Chan et al.'s pairwise update),
which gives the total sum of squares without cancellation.

Sample weights (``--weight-col``, the parsed block's ``w``) are frequency weights: a
row of weight k counts as k copies of the row. A weighted partial also has ``w_sum``
(the sum of the weights, the n of inference) and ``n_zero_w`` (rows of weight 0); its
label mean and M2 are weighted, and every sum over rows is weighted (X'WX, X'Wy, the
R of the rows scaled by sqrt(w), the weighted loss and gradient). Without weights
(``w`` None) the block functions do exactly their unweighted arithmetic.
"""

import dataclasses
import json
import struct

import numpy as np

from distreg.errors import DistregError, EmptyInputError

LD = np.longdouble


# --------------------------------------------------------------------------- common parts

def _y_stats(y, w=None):
    if len(y) == 0:
        out = dict(n=0, y_mean=0.0, y_m2=0.0)
        if w is not None:
            out.update(w_sum=0.0, n_zero_w=0)
        return out
    # labels near the float64 limit overflow these sums (to inf): the methods that can fit
    # such labels (qr) do not use them; the others say so (no warning from every task)
    with np.errstate(over='ignore', invalid='ignore'):
        if w is None:
            mean = float(np.mean(y))
            return dict(n=int(len(y)), y_mean=mean, y_m2=float(np.sum((y - mean) ** 2)))
        w_sum = float(np.sum(w))
        mean = float(w @ y) / w_sum if w_sum > 0 else 0.0
        return dict(n=int(len(y)), y_mean=mean, y_m2=float(w @ ((y - mean) ** 2)),
                    w_sum=w_sum, n_zero_w=int(np.count_nonzero(w == 0)))


def _merge_y_stats(a, b):
    n = a['n'] + b['n']
    weighted = 'w_sum' in a or 'w_sum' in b
    # the weight of each side: its row count without weights (then this is the count update)
    wa, wb = a.get('w_sum', a['n']), b.get('w_sum', b['n'])
    if wa == 0 or wb == 0:
        src = a if wb == 0 else b
        out = dict(n=n, y_mean=src['y_mean'], y_m2=src['y_m2'])
    else:
        total = wa + wb
        delta = b['y_mean'] - a['y_mean']
        out = dict(n=n, y_mean=a['y_mean'] + delta * wb / total,
                   y_m2=a['y_m2'] + b['y_m2'] + delta * delta * wa * wb / total)
    if weighted:
        out.update(w_sum=wa + wb, n_zero_w=a.get('n_zero_w', 0) + b.get('n_zero_w', 0))
    return out


def _pad_vector(v, p):
    if len(v) == p:
        return v
    out = np.zeros(p, dtype=v.dtype)
    out[:len(v)] = v
    return out


def _pad_square(m, p, before=None):
    """Pad a square matrix to p x p with zero rows/columns, inserted at ``before`` (default end)."""
    k = m.shape[0]
    if k == p:
        return m
    at = k if before is None else before
    idx = np.r_[np.arange(at), np.arange(at + p - k, p)]
    out = np.zeros((p, p), dtype=m.dtype)
    out[np.ix_(idx, idx)] = m
    return out


def _with_levels(design, parsed, params, name=None):
    """``design`` with the levels of ``params``; a block with categorical text and no
    levels to encode it is an error (never a fit that leaves those columns out)."""
    design = design.with_levels(params.get('levels'))
    if parsed.cats is not None and not design.levels and name != 'levels':
        raise DistregError('the input has categorical columns but the %s pass was given no '
                           'levels: run the levels pass first (distreg fit does; a job run by '
                           'hand takes them in --params as {"levels": [[column, [level, ...]], '
                           '...]})' % (name or 'scoring'))
    return design


class Aggregate:
    """One distributed aggregate: ``block(parsed, design, params)`` and ``merge(a, b)``."""
    name = None

    def block(self, parsed, design, params):
        # the categorical columns' levels ride with the parameters of every pass (the levels
        # pass found them): every engine's tasks get them without knowing about them
        design = _with_levels(design, parsed, params, self.name)
        part = _y_stats(parsed.y, parsed.w)
        part['n_bad'] = len(parsed.rejects)
        if part['n']:
            # values near the float64 limit overflow sums to inf: the driver checks the
            # merged total and names the column; a warning from every task would only be
            # noise (and mrjob's inline runner fails on a warning: its stderr takes bytes)
            with np.errstate(over='ignore', invalid='ignore'):
                part.update(self._block(parsed, design, params))
        return part

    def merge(self, a, b):
        with np.errstate(over='ignore', invalid='ignore'):
            return self._merge_parts(a, b)

    def _merge_parts(self, a, b):
        out = _merge_y_stats(a, b)
        out['n_bad'] = a['n_bad'] + b['n_bad']
        if a['n'] == 0 or b['n'] == 0:
            src = a if b['n'] == 0 else b
            out.update({k: v for k, v in src.items() if k not in out})
        else:
            out.update(self._merge(a, b))
        return out

    def _block(self, parsed, design, params):
        raise NotImplementedError

    def _merge(self, a, b):
        raise NotImplementedError


# --------------------------------------------------------------------------- normal

class Gram(Aggregate):
    """``X'X``, ``X'y`` and ``y'y`` of the block's model matrix (the normal equations);
    with weights ``X'WX``, ``X'Wy`` and ``y'Wy``."""
    name = 'gram'

    def _block(self, parsed, design, params):
        X = design.matrix(parsed.X, cats=parsed.cats)
        y = parsed.y
        if parsed.w is None:
            return dict(xtx=X.T @ X, xty=X.T @ y, yty=float(y @ y))
        Xw = X * parsed.w[:, None]
        return dict(xtx=Xw.T @ X, xty=Xw.T @ y, yty=float((parsed.w * y) @ y))

    def _merge(self, a, b):
        p = max(len(a['xty']), len(b['xty']))
        return dict(xtx=_pad_square(a['xtx'], p) + _pad_square(b['xtx'], p),
                    xty=_pad_vector(a['xty'], p) + _pad_vector(b['xty'], p),
                    yty=a['yty'] + b['yty'])


class FoldGram(Aggregate):
    """K Grams in one partial: the centred moments of ``z = [model columns, y]`` of each fold.

    ``distreg cv``'s one pass (:mod:`distreg.cv`). A row's fold is ``key mod K``
    (``params['folds']`` = K; the key is the row's stable hash, :mod:`distreg.folds`).
    Per fold: ``fold_n`` (rows), ``fold_w`` (their weight: the row count without weights),
    ``fold_mean`` (K x q, the weighted column means of z) and ``fold_m2`` (K x q x q, the
    weighted centred cross-products sum w (z - mean)(z - mean)'), merged by Chan et al.'s
    pairwise update, column by column as the label's M2 is. Centred sums keep the digits
    that ``X'X`` itself loses to the columns' means: a held-out fold's residual sum of squares
    is formed from them without the cancellation of y'y - 2 theta'X'y + theta'X'X theta.
    The raw Gram of a fold is ``fold_m2 + fold_w mean mean'``.
    """
    name = 'foldgram'

    def _block(self, parsed, design, params):
        from distreg import folds
        k = int(params['folds'])
        if parsed.keys is None:
            raise ValueError('the foldgram aggregate needs the rows\' keys (a schema with '
                             'row_keys: distreg.loader.keyed)')
        fold = folds.folds_of(parsed.keys, k)
        # the model columns but the intercept's (a column of ones: mean 1, centred 0, put in
        # below); degree 1 reads the parsed block as it is (no copy with a ones column)
        A = (parsed.X if design.plain else
             _without_intercept(design).matrix(parsed.X, cats=parsed.cats))
        off = int(design.intercept)
        q = off + A.shape[1] + 1
        w_k, mean, m2 = np.zeros(k), np.zeros((k, q)), np.zeros((k, q, q))
        if off:
            mean[:, 0] = 1.0
        n_k = np.bincount(fold, minlength=k).astype(np.int64)
        for j in np.flatnonzero(n_k):
            rows = fold == j
            Aj, yj = A[rows], parsed.y[rows]
            wj = None if parsed.w is None else parsed.w[rows]
            w_k[j] = len(yj) if wj is None else wj.sum()
            if w_k[j] <= 0:
                continue
            mx = Aj.mean(axis=0) if wj is None else (wj @ Aj) / w_k[j]
            my = yj.mean() if wj is None else (wj @ yj) / w_k[j]
            Aj -= mx                       # Aj is this fold's own copy: centred in place
            cy = yj - my
            Aw = Aj if wj is None else Aj * wj[:, None]
            cyw = cy if wj is None else cy * wj
            mean[j, off:-1], mean[j, -1] = mx, my
            m2[j, off:-1, off:-1] = Aw.T @ Aj
            m2[j, off:-1, -1] = m2[j, -1, off:-1] = Aw.T @ cy
            m2[j, -1, -1] = cyw @ cy
        return dict(fold_n=n_k, fold_w=w_k, fold_mean=mean, fold_m2=m2)

    def _merge(self, a, b):
        q = max(a['fold_mean'].shape[1], b['fold_mean'].shape[1])
        ma, mb = (_pad_folds(part, q) for part in (a, b))
        wa, wb = a['fold_w'], b['fold_w']
        total = wa + wb
        share = np.divide(wb, total, out=np.zeros_like(total), where=total > 0)
        delta = mb[0] - ma[0]
        mean = ma[0] + delta * share[:, None]
        m2 = ma[1] + mb[1] + (wa * share)[:, None, None] * delta[:, :, None] * delta[:, None, :]
        return dict(fold_n=a['fold_n'] + b['fold_n'], fold_w=total, fold_mean=mean, fold_m2=m2)


def _without_intercept(design):
    """The design's columns without its intercept (a foldgram partial puts that in itself);
    categorical columns encoded as with it (each drops its first level)."""
    if not design.intercept:
        return design
    return dataclasses.replace(design, intercept=False, full_first=False)


def _pad_folds(part, q):
    """A foldgram partial's means and M2 with q columns (LibSVM: absent features, before y)."""
    mean, m2 = part['fold_mean'], part['fold_m2']
    k0 = mean.shape[1]
    if k0 == q:
        return mean, m2
    idx = np.r_[np.arange(k0 - 1), q - 1]
    out_mean = np.zeros((len(mean), q))
    out_mean[:, idx] = mean
    out_m2 = np.zeros((len(mean), q, q))
    out_m2[:, idx[:, None], idx[None, :]] = m2
    return out_mean, out_m2


# --------------------------------------------------------------------------- qr

def _r_factor(Z):
    """Upper-triangular R (k x k) of Z (rows x k), rows padded with zeros when rows < k."""
    k = Z.shape[1]
    R = np.linalg.qr(Z, mode='r')
    if R.shape[0] < k:
        R = np.vstack([R, np.zeros((k - R.shape[0], k))])
    # A unique sign makes R independent of how the rows were split.
    signs = np.where(np.diag(R) < 0, -1.0, 1.0)
    return R * signs[:, None]


#: Scale exponent of an all-zero column: any other block's exponent wins the merge.
ZERO_EXP = -4096


def column_exponents(Z):
    """Per column, the e of a power-of-two scale: max|Z_j| < 2^e (ZERO_EXP for zeros)."""
    top = np.max(np.abs(Z), axis=0) if len(Z) else np.zeros(Z.shape[1])
    e = np.frexp(top)[1].astype(np.int64)
    return np.where(top > 0, e, ZERO_EXP)


class TSQR(Aggregate):
    """R factor of the block ``[X y]``; merged by QR of the two stacked R's (TSQR).

    R'R equals [X y]'[X y], but R is formed by orthogonal transformations of the
    data itself, so it keeps the digits that forming X'X loses.

    The partial's ``r`` is the R of the columns scaled by powers of two,
    ``[X y] 2^-e`` with ``e = r_exp`` (exact in binary), so that no sum of squares
    overflows or underflows whatever the columns' units: values near the float64
    limit (1e200) fit like any others. A merge scales both R's to the larger
    exponent of each column before stacking them. With weights, the rows are scaled by
    sqrt(w) first (R'R = [X y]'W[X y]).
    """
    name = 'tsqr'

    def _block(self, parsed, design, params):
        Z = np.column_stack([design.matrix(parsed.X, cats=parsed.cats), parsed.y])
        if parsed.w is not None:
            Z *= np.sqrt(parsed.w)[:, None]
        e = column_exponents(Z)
        return dict(r=_r_factor(np.ldexp(Z, -e)), r_exp=e)

    def _merge(self, a, b):
        p = max(a['r'].shape[0], b['r'].shape[0])
        rs, es = [], []
        for part in (a, b):
            k = part['r'].shape[0]
            # the label's column is the last: pad feature columns in front of it
            rs.append(_pad_square(part['r'], p, before=k - 1))
            e = np.full(p, ZERO_EXP, dtype=np.int64)
            e[:k - 1], e[-1] = part['r_exp'][:k - 1], part['r_exp'][-1]
            es.append(e)
        e = np.maximum(es[0], es[1])
        stacked = np.vstack([np.ldexp(r, ei - e) for r, ei in zip(rs, es)])
        return dict(r=_r_factor(stacked), r_exp=e)


class Refine(Aggregate):
    """``g = X'(y - X theta)`` and ``sum r^2`` with the residual in extended precision.

    The model matrix is formed in ``np.longdouble`` from the parsed doubles (so
    powers keep 64 bits), and the residual, the products and their sums are all
    extended precision: the correction solved from ``g`` then recovers the digits
    that the float64 R factor could not.

    With ``rinv`` (R^-1 of the TSQR partial, scaled units) the pass also sums
    ``qtq = Q'Q`` for Q = X R^-1 in extended precision: the standard errors of an
    ill-conditioned fit come from it (:meth:`distreg.solvers.QRState.refine_cov`).
    """
    name = 'refine'

    def _block(self, parsed, design, params):
        theta = np.asarray(params['theta'], dtype=LD)
        X = design.matrix(parsed.X, dtype=LD, cats=parsed.cats)
        y = parsed.y.astype(LD)
        if params.get('exp') is not None:
            # the TSQR partial's column scaling (``r_exp``): theta is in scaled units
            e = np.asarray(params['exp'], dtype=np.int64)
            X = np.ldexp(X, -e[:X.shape[1]])
            y = np.ldexp(y, -e[-1])
        r = y - X @ theta[:X.shape[1]]
        # with weights: X'W r, r'W r and Q'W Q (in extended precision, as the rest)
        w = None if parsed.w is None else parsed.w.astype(LD)
        wr = r if w is None else w * r
        out = dict(g=X.T @ wr, rss=np.sum(wr * r))
        if params.get('rinv') is not None:
            rinv = np.asarray(params['rinv'], dtype=LD)
            Q = X @ rinv[:X.shape[1]]
            out['qtq'] = (Q if w is None else Q * w[:, None]).T @ Q
        return out

    def _merge(self, a, b):
        p = max(len(a['g']), len(b['g']))
        out = dict(g=_pad_vector(a['g'], p) + _pad_vector(b['g'], p), rss=a['rss'] + b['rss'])
        if 'qtq' in a:
            out['qtq'] = a['qtq'] + b['qtq']
        return out


class Sandwich(Aggregate):
    """The meat of White's heteroskedasticity-robust covariance: ``X' diag(w) X`` with
    ``w_i = e_i^2`` (HC0, HC1), ``e_i^2 / (1 - h_i)`` (HC2) or ``e_i^2 / (1 - h_i)^2`` (HC3),
    where ``e = y - X theta`` and ``h_i = x_i' A x_i`` the row's leverage (``A`` =
    (X'X)^-1, the parameter ``bread``). Partial keys ``meat`` and ``n_leverage_one``
    (rows whose 1 - h_i is not above 1e-12: HC2 and HC3 are not defined there).

    With ``cov`` ``cluster:COL`` the partial holds instead each cluster's score
    ``s_g = X_g' W_g e_g`` (the meat is ``sum_g s_g s_g'``): ``cluster_keys`` (the ids,
    sorted), ``cluster_scores`` (one row per id) and ``cluster_rows`` (its rows of weight
    > 0). Partials merge by id, in any order.
    """
    name = 'sandwich'

    def _block(self, parsed, design, params):
        b = _Block(parsed, design)
        e = parsed.y - b.eta(theta_for(params['theta'], b.p))
        if params['cov'].startswith('cluster:'):
            return self._cluster_block(parsed, design, b, e)
        w = e * e
        n_one = 0
        if params['cov'] in ('HC2', 'HC3'):
            X = b.M if b.M is not None else design.matrix(parsed.X, cats=parsed.cats)
            A = np.asarray(params['bread'], dtype=np.float64)[:b.p, :b.p]
            one_minus_h = 1.0 - np.einsum('ij,ij->i', X @ A, X)
            bad = one_minus_h <= 1e-12
            if parsed.w is not None:
                bad &= parsed.w > 0      # a row of weight 0 is not in the fit
            n_one = int(bad.sum())
            one_minus_h[bad] = 1.0
            w = w / (one_minus_h if params['cov'] == 'HC2' else one_minus_h ** 2)
        if parsed.w is not None:
            # frequency weights: a row of weight k is k copies of the row (each with the
            # row's own leverage x'Ax, A = (X'WX)^-1)
            w = w * parsed.w
        return dict(meat=b.xtwx(w), n_leverage_one=n_one)

    @staticmethod
    def _cluster_block(parsed, design, b, e):
        if parsed.g is None:
            raise DistregError('--cov cluster: the rows were read without their cluster column')
        u = e if parsed.w is None else e * parsed.w
        A = b.M if b.M is not None else design.matrix(parsed.X, cats=parsed.cats)
        rows = np.ones(len(e)) if parsed.w is None else (parsed.w > 0).astype(np.float64)
        return _by_cluster(parsed.g, A * u[:, None], rows)

    def _merge(self, a, b):
        if 'cluster_keys' in a:
            p = max(a['cluster_scores'].shape[1], b['cluster_scores'].shape[1])
            return _by_cluster(np.concatenate([a['cluster_keys'], b['cluster_keys']]),
                               np.vstack([_pad_columns(a['cluster_scores'], p),
                                          _pad_columns(b['cluster_scores'], p)]),
                               np.concatenate([a['cluster_rows'], b['cluster_rows']]))
        p = max(len(a['meat']), len(b['meat']))
        return dict(meat=_pad_square(a['meat'], p) + _pad_square(b['meat'], p),
                    n_leverage_one=a['n_leverage_one'] + b['n_leverage_one'])


def _by_cluster(keys, scores, rows):
    """Rows of ``scores`` (and ``rows``) summed by their ``keys``: a cluster partial."""
    ids, at = np.unique(keys, return_inverse=True)
    summed = np.empty((len(ids), scores.shape[1]))
    for j in range(scores.shape[1]):
        summed[:, j] = np.bincount(at, weights=scores[:, j], minlength=len(ids))
    return dict(cluster_keys=ids, cluster_scores=summed,
                cluster_rows=np.bincount(at, weights=rows, minlength=len(ids)))


def _pad_columns(a, p):
    """``a`` with zero columns appended up to ``p`` (LibSVM blocks may be narrower)."""
    return a if a.shape[1] == p else np.hstack([a, np.zeros((a.shape[0], p - a.shape[1]))])


# --------------------------------------------------------------------------- using a model

def margins(X, theta):
    """``X @ theta``, summed column by column in a fixed order.

    A row's value then depends on the row alone, never on the block it came in
    (BLAS picks kernels by block shape, and their sums may round differently):
    identical rows get identical scores on every engine, and ties stay ties.
    A block narrower than ``theta`` (LibSVM rows without the last features)
    uses the leading coefficients: the missing columns are zeros.
    """
    out = np.zeros(X.shape[0])
    for j in range(min(X.shape[1], len(theta))):
        out += X[:, j] * theta[j]
    return out


def sigmoid(m):
    """1 / (1 + exp(-m)) without overflow for either sign."""
    e = np.exp(-np.abs(m))
    return np.where(m >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _scores(parsed, design, params):
    """Linear predictions, logistic margins or Poisson linear predictors of a block at
    ``params['theta']`` (with the rows' offsets, ``--offset-col``, when they have them)."""
    design = _with_levels(design, parsed, params)
    m = margins(design.matrix(parsed.X, cats=parsed.cats),
                np.asarray(params['theta'], dtype=np.float64))
    return m if parsed.offset is None else m + parsed.offset


def _checked_poisson_mean(m):
    """exp(m) of rows being scored; a row beyond :data:`POISSON_MAX_ETA` is an error."""
    over = np.flatnonzero(m > POISSON_MAX_ETA)
    if len(over):
        from distreg.errors import DistregError
        raise DistregError('the Poisson mean exp(x\'theta) of %d row(s) overflows float64 '
                           '(x\'theta = %r > %g): the model does not fit these rows\' features'
                           % (len(over), float(m[over[0]]), POISSON_MAX_ETA))
    return np.exp(m)


def prediction_lines(parsed, design, params):
    """One text line per row of the block, in row order: what ``distreg predict`` writes.

    Linear: the prediction. Logistic: the probability of class 1 and the class
    at 0.5 (``p,c``). Poisson: the mean exp(x'theta + offset). Floats are written by
    ``repr`` (they round-trip exactly). A row rejected under ``--bad-rows skip`` keeps its place as ``None``.
    """
    m = _scores(parsed, design, params)
    if params['model'] == 'logistic':
        p = sigmoid(m)
        lines = ['%r,%d' % (v, c) for v, c in zip(p.tolist(), (p >= 0.5).tolist())]
    elif params['model'] == 'poisson':
        lines = [repr(v) for v in _checked_poisson_mean(m).tolist()]
    else:
        lines = [repr(v) for v in m.tolist()]
    for k, at in reversed(list(enumerate(parsed.reject_at))):
        lines.insert(at, None)
    return lines


class Evaluate(Aggregate):
    """Held-out metrics' sums of a block at ``theta`` (``params``: theta, model).

    Linear: ``sse`` (sum of squared errors) and ``sae`` (sum of absolute errors);
    with the label's count-mean-M2 they give RMSE, MAE and R². Logistic:
    ``log_loss_sum`` (from the margin m, as log(1 + exp(-m)) or log(1 + exp(m)),
    exact where 1 - p would cancel) and the confusion matrix at 0.5
    ``[[tn, fp], [fn, tp]]``. Poisson: ``sse`` and ``sae`` of y - exp(eta) and
    ``deviance_sum``, the sum of the rows' Poisson deviances. ROC AUC needs the scores in order: see
    :class:`AucRange`. The metrics are per row: sample weights are not used.
    """
    name = 'evaluate'

    def block(self, parsed, design, params):
        # held-out metrics count rows, not weights (README): the label's stats unweighted too
        return super().block(dataclasses.replace(parsed, w=None), design, params)

    def _block(self, parsed, design, params):
        m = _scores(parsed, design, params)
        y = parsed.y
        if params['model'] == 'logistic':
            pos = y == 1
            pred = sigmoid(m) >= 0.5
            confusion = np.array([[np.sum(~pos & ~pred), np.sum(~pos & pred)],
                                  [np.sum(pos & ~pred), np.sum(pos & pred)]], dtype=np.int64)
            return dict(log_loss_sum=float(np.sum(np.logaddexp(0.0, np.where(pos, -m, m)))),
                        confusion=confusion)
        if params['model'] == 'poisson':
            mu = _checked_poisson_mean(m)
            r = y - mu
            return dict(sse=float(r @ r), sae=float(np.sum(np.abs(r))),
                        deviance_sum=float(np.sum(poisson_deviance_terms(y, mu))))
        r = y - m
        return dict(sse=float(r @ r), sae=float(np.sum(np.abs(r))))

    def _merge(self, a, b):
        return {k: a[k] + b[k] for k in a
                if k in ('sse', 'sae', 'log_loss_sum', 'confusion', 'deviance_sum')}


def score_counts(parsed, design, params):
    """Distinct probabilities of a block (ascending) and the positive and negative rows at each.

    ``(scores, pos, neg)``: the block's share of what ROC AUC needs, a few
    numbers per distinct score; blocks' counts merge by :func:`merge_score_counts`.
    """
    p = sigmoid(_scores(parsed, design, params))
    y = parsed.y
    return distinct_score_counts(p, (y == 1).astype(np.int64), (y != 1).astype(np.int64))


def distinct_score_counts(scores, pos, neg):
    """Sorted distinct ``scores`` with the ``pos`` and ``neg`` counts of equal scores added."""
    s, inv = np.unique(scores, return_inverse=True)
    return (s, np.bincount(inv, weights=pos, minlength=len(s)).astype(np.int64),
            np.bincount(inv, weights=neg, minlength=len(s)).astype(np.int64))


def merge_score_counts(a, b):
    """Counts of two sets of rows: the union of their scores, counts added at equal scores."""
    if a is None:
        return b
    if b is None:
        return a
    return distinct_score_counts(np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]]),
                                 np.concatenate([a[2], b[2]]))


class AucRange:
    """What ROC AUC needs of the rows whose scores lie in one range, exactly, in integers.

    ``pos`` and ``neg`` count the rows of each class; ``c2`` is twice the number of
    (positive, negative) pairs of the range ordered right (the positive scores
    higher) plus the tied pairs (a tie counts one half: hence twice);
    ``lo``/``hi`` are the lowest and the highest score with their counts
    ``(score, pos, neg)``. Two ranges merge (:meth:`merge`) when all scores of
    the first are <= all scores of the second, which is what an engine's sort
    gives: Spark's ``sortByKey`` partitions, MapReduce's sorted keys. A score
    shared by both ends is a tie across the boundary and is counted as one.

    Notes
    -----
    AUC = P(s+ > s-) + P(s+ = s-) / 2 = c2 / (2 pos neg) (the Mann-Whitney U
    statistic with mid-ranks for ties, what scikit-learn's ``roc_auc_score`` gives).
    Exact while ``2 pos neg`` fits in 63 bits (some 3e9 rows of each class).
    """

    def __init__(self, pos=0, neg=0, c2=0, lo=None, hi=None):
        self.pos, self.neg, self.c2, self.lo, self.hi = int(pos), int(neg), int(c2), lo, hi

    @classmethod
    def from_counts(cls, scores, pos, neg):
        """The range of sorted distinct ``scores`` with their class counts."""
        if len(scores) == 0:
            return cls()
        neg_below = np.cumsum(neg) - neg
        c2 = int(np.sum(pos * (2 * neg_below + neg)))
        return cls(np.sum(pos), np.sum(neg), c2,
                   (float(scores[0]), int(pos[0]), int(neg[0])),
                   (float(scores[-1]), int(pos[-1]), int(neg[-1])))

    def merge(self, upper):
        """This range and ``upper`` (every score of it >= every score of this one)."""
        a, b = self, upper
        if a.lo is None:
            return b
        if b.lo is None:
            return a
        c2 = a.c2 + b.c2 + 2 * b.pos * a.neg
        lo, hi = a.lo, b.hi
        if a.hi[0] == b.lo[0]:
            # the boundary score's pairs across the two ranges are ties, counted 1 (of 2)
            c2 += a.hi[1] * b.lo[2] - b.lo[1] * a.hi[2]
            both = (a.hi[0], a.hi[1] + b.lo[1], a.hi[2] + b.lo[2])
            if a.lo[0] == a.hi[0]:
                lo = both
            if b.hi[0] == b.lo[0]:
                hi = both
        return AucRange(a.pos + b.pos, a.neg + b.neg, c2, lo, hi)

    def auc(self):
        """ROC AUC, or None without rows of both classes."""
        if self.pos == 0 or self.neg == 0:
            return None
        return self.c2 / (2.0 * self.pos * self.neg)

    def to_json(self):
        return dict(pos=self.pos, neg=self.neg, c2=self.c2, lo=self.lo, hi=self.hi)

    @classmethod
    def from_json(cls, d):
        return cls(d['pos'], d['neg'], d['c2'], d['lo'] and tuple(d['lo']),
                   d['hi'] and tuple(d['hi']))


def sortable_bits(scores):
    """Unsigned integers that sort as the float64 ``scores`` do.

    IEEE-754 doubles compare as their bit patterns once the sign bit is set for
    positives and every bit is flipped for negatives.
    """
    bits = np.asarray(scores, dtype=np.float64).view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint64(1 << 63))


def sortable_key(score):
    """Text that sorts as the float ``score`` does (for a MapReduce shuffle's byte order)."""
    return '%016x' % int(sortable_bits([score])[0])


def score_of_key(key):
    """Inverse of :func:`sortable_key`."""
    bits = int(key, 16)
    bits = bits ^ (1 << 63) if bits >> 63 else bits ^ 0xFFFFFFFFFFFFFFFF
    return float(np.array(bits, dtype=np.uint64).view(np.float64))


#: Leading bits of :func:`sortable_bits` that name a score's bucket: 11 of the exponent and
#: 12 of the mantissa, so [0.5, 1) alone spreads over 4096 buckets.
BUCKET_BITS = 24


def score_buckets(counts):
    """Sorted distinct score counts cut into buckets: ``[(key, (scores, pos, neg)), ...]``.

    A bucket is every score sharing the leading :data:`BUCKET_BITS` of
    :func:`sortable_bits`; its key (hex text) sorts as its scores do, so a sort
    of the buckets by key (a shuffle, ``sortByKey``) orders the scores, while
    a bucket's own scores travel as one record. Buckets of several blocks with
    one key are merged by :func:`merge_score_counts`; :meth:`AucRange.from_counts`
    of each bucket, merged in key order, is the exact AUC.
    """
    s, p, n = counts
    if len(s) == 0:
        return []
    prefix = sortable_bits(s) >> np.uint64(64 - BUCKET_BITS)
    starts = np.r_[0, np.flatnonzero(np.diff(prefix)) + 1]
    ends = np.r_[starts[1:], len(s)]
    width = (BUCKET_BITS + 3) // 4
    return [('%0*x' % (width, int(prefix[a])), (s[a:b], p[a:b], n[a:b]))
            for a, b in zip(starts, ends)]


# --------------------------------------------------------------------------- iterative methods (gradient, hessian)

def theta_for(theta, p):
    """theta fitted to a block with p model columns: zero-padded or cut (absent features)."""
    theta = np.asarray(theta, dtype=np.float64)
    if len(theta) >= p:
        return theta[:p]
    return np.concatenate([theta, np.zeros(p - len(theta))])


class _Block:
    """The model matrix of a parsed block, without forming it when the design is plain.

    With degree 1, X = [1, X_raw]: X theta and X'v are computed from X_raw
    directly, which saves copying the block on every pass.
    """

    def __init__(self, parsed, design):
        self.design = design
        self.raw = parsed.X
        #: the rows' offsets (added to eta), or None
        self.offset = parsed.offset
        self.p = design.n_coef(parsed.X.shape[1])
        self.M = None if design.plain else design.matrix(parsed.X, cats=parsed.cats)

    def eta(self, theta):
        """X theta (plus the offset, when the rows have one)."""
        if self.M is not None:
            eta = self.M @ theta
        elif self.design.intercept:
            eta = self.raw @ theta[1:] + theta[0]
        else:
            eta = self.raw @ theta
        return eta if self.offset is None else eta + self.offset

    def xt(self, v):
        if self.M is not None:
            return self.M.T @ v
        if self.design.intercept:
            return np.concatenate([[v.sum()], self.raw.T @ v])
        return self.raw.T @ v

    def xtwx(self, w):
        """X'WX; ``w`` None means W = I (no weighting pass)."""
        A = self.M if self.M is not None else self.raw
        Aw = A if w is None else A * w[:, None]
        G = Aw.T @ A
        if self.M is not None or not self.design.intercept:
            return G
        # [1, X_raw]'W[1, X_raw] from X_raw alone: no copy of the block with a ones column
        s = Aw.sum(axis=0)
        out = np.empty((G.shape[0] + 1, G.shape[0] + 1))
        out[0, 0] = len(A) if w is None else w.sum()
        out[0, 1:] = out[1:, 0] = s
        out[1:, 1:] = G
        return out


#: Rows per piece of the logistic loss's elementwise work: its temporaries stay in the
#: cache (measured at 500,000 rows: 13 ms in pieces of 65,536 rows, 40 ms whole)
LOGISTIC_CHUNK = 65536


def _loss_and_residual(model, eta, y, w=None):
    """Data loss and d loss / d eta (the 'residual' whose X'-product is the gradient);
    with sample weights ``w``, both weighted row by row."""
    if model == 'linear':
        r = eta - y
        if w is None:
            return 0.5 * float(r @ r), r
        wr = w * r
        return 0.5 * float(wr @ r), wr
    if model == 'logistic':
        r = np.empty_like(eta)
        loss = 0.0
        for i in range(0, len(eta), LOGISTIC_CHUNK):
            piece = slice(i, i + LOGISTIC_CHUNK)
            loss += _logistic_piece(eta[piece], y[piece], r[piece],
                                    None if w is None else w[piece])
        return loss, r
    if model == 'poisson':
        # the Poisson negative log-likelihood without its constant sum log(y!):
        # sum exp(eta) - y eta; d/d eta = exp(eta) - y
        mu = poisson_mean(eta)
        terms = mu - y * eta
        r = mu - y
        if w is None:
            return float(np.sum(terms)), r
        return float(w @ terms), w * r
    raise ValueError('model must be linear, logistic or poisson, not %r' % (model,))


#: Poisson: the largest linear predictor (eta, with the offset) whose mean exp(eta) is taken
#: as it is. Above it (exp(eta) > 1e304) the mean, the loss and X'WX are near or beyond the
#: float64 limit: the block reports the rows (``n_overflow``) and the driver backs off or
#: stops with a message, never with an infinite answer.
POISSON_MAX_ETA = 700.0


def poisson_mean(eta):
    """exp(eta), the Poisson mean of the log link, with eta capped at :data:`POISSON_MAX_ETA`
    (a row beyond it is counted by the block and never reaches an answer)."""
    return np.exp(np.minimum(eta, POISSON_MAX_ETA))


def _poisson_overflow(eta, w=None):
    """Rows whose linear predictor is beyond :data:`POISSON_MAX_ETA` (weight 0: not in the fit)."""
    over = eta > POISSON_MAX_ETA
    if w is not None:
        over &= w > 0
    return int(np.count_nonzero(over))


def poisson_deviance_terms(y, mu):
    """Each row's Poisson deviance 2 (y log(y / mu) - (y - mu)), with 0 log 0 = 0."""
    with np.errstate(divide='ignore', invalid='ignore'):
        ylog = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return 2.0 * (ylog - (y - mu))


def _poisson_sums(y, mu, w=None, offset=None):
    """The sums behind the Poisson fit's statistics (:func:`distreg.optim.poisson_stats`):
    deviance, Pearson chi2, sum y, sum y log y and sum log(y!) (all weighted by ``w``);
    with an offset o also sum exp(o) and sum y o (the null model's)."""
    from math import lgamma
    ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
    # log(y!) by lgamma, once per distinct label (counts repeat a lot)
    vals, inv = np.unique(y, return_inverse=True)
    lgam = np.array([lgamma(v + 1.0) for v in vals.tolist()])[inv.ravel()]
    cols = [poisson_deviance_terms(y, mu), (y - mu) ** 2 / mu, y, ylogy, lgam]
    if offset is not None:
        cols += [np.exp(np.minimum(offset, POISSON_MAX_ETA)), y * offset]
    return dict(zip(POISSON_SUMS + POISSON_OFFSET_SUMS,
                    (float(np.sum(c)) if w is None else float(w @ c) for c in cols)))


#: Keys of the Poisson sums in a ``hessian`` partial (added by the merge).
POISSON_SUMS = ('deviance', 'pearson_chi2', 'y_sum', 'y_log_y', 'log_y_factorial')
#: ... and with an offset (``--offset-col``).
POISSON_OFFSET_SUMS = ('exp_offset_sum', 'y_offset_sum')


def _logistic_piece(eta, y, r, w=None):
    """The loss sum log(1 + e^eta) - y eta of a piece; its residual p - y into ``r``.

    From e = e^-|eta| (in (0, 1]: no overflow for any eta): log(1 + e^eta) =
    max(eta, 0) + log1p(e), and with q = e / (1 + e) = p(-|eta|), the residual is
    q - y where eta < 0 and (1 - y) - q where eta >= 0 (p = 1 - q there): never a
    difference of two numbers near 1, so a tiny residual keeps its digits (0/1 labels).
    """
    e = np.exp(-np.abs(eta))
    soft = np.log1p(e)
    soft += np.maximum(eta, 0.0)
    loss = float(np.sum(soft - y * eta)) if w is None else float(w @ (soft - y * eta))
    q = e / (1.0 + e)
    np.copyto(r, np.where(eta >= 0.0, (1.0 - y) - q, q - y))
    if w is not None:
        r *= w
    return loss


def _misclassified(eta, y, w=None):
    """Rows not strictly on their label's side of the hyperplane eta = 0 (an exact count).

    When it is 0 the hyperplane separates the classes with a positive margin on every
    row: scaling theta up drives every row's log-loss to 0, so the log-likelihood has
    no finite maximum (complete separation). An integer, so every engine gets the
    same count whatever the order of its sums. A row of weight 0 is not in the likelihood:
    not counted.
    """
    wrong = np.where(y == 1.0, eta <= 0.0, eta >= 0.0)
    if w is not None:
        wrong &= w > 0
    return int(np.count_nonzero(wrong))


def _weights(model, eta):
    """The Hessian's row weights: None for 1 (linear), p(1 - p) (logistic), exp(eta)
    (Poisson: the Fisher information's, equal to the Hessian's for the log link)."""
    if model == 'linear':
        return None
    if model == 'poisson':
        return poisson_mean(eta)
    return np.exp(-np.logaddexp(0.0, -eta) - np.logaddexp(0.0, eta))


#: Bytes of raw features in a piece of a block (:func:`row_pieces`).
PIECE_BYTES = 2 << 20


def row_pieces(parsed, min_rows=1024):
    """``parsed`` as pieces of consecutive rows (views), each about :data:`PIECE_BYTES` of
    features: the whole block when it is that small. A pass evaluated a piece at a time
    keeps its row-length temporaries (eta, residual, loss terms) in the CPU's cache and
    malloc's heap; over a whole block of 500,000 rows each was megabytes of fresh pages,
    and the pass spent more on them than on the arithmetic (3x on two tasks at once)."""
    n = len(parsed.y)
    step = max(min_rows, PIECE_BYTES // (8 * max(1, parsed.X.shape[1])))
    if n <= step:
        yield parsed
        return
    # every per-row array of Parsed (all its fields but the rejected rows' list)
    rows = [f.name for f in dataclasses.fields(parsed) if f.name not in ('rejects', 'reject_at')]
    for start in range(0, n, step):
        piece = slice(start, start + step)
        yield dataclasses.replace(parsed, rejects=[], reject_at=[], **{
            k: getattr(parsed, k)[piece] for k in rows if getattr(parsed, k) is not None})


class LossGradient(Aggregate):
    """Data loss and its gradient at theta (partial keys ``loss``, ``grad``), summed over
    the block's pieces (:func:`row_pieces`)."""
    name = 'gradient'

    def _block(self, parsed, design, params):
        total = None
        for piece in row_pieces(parsed):
            part = self._piece(piece, design, params)
            total = part if total is None else self._merge(total, part)
        return total

    def _piece(self, parsed, design, params):
        return self._at_theta(parsed, design, params)[0]

    @staticmethod
    def _at_theta(parsed, design, params):
        """(loss/grad partial, the block's model matrix, eta) at theta."""
        b = _Block(parsed, design)
        eta = b.eta(theta_for(params['theta'], b.p))
        loss, r = _loss_and_residual(params['model'], eta, parsed.y, parsed.w)
        part = dict(loss=loss, grad=b.xt(r))
        if params['model'] == 'poisson':
            part['n_overflow'] = _poisson_overflow(eta, parsed.w)
        if params['model'] == 'logistic':
            part['n_wrong'] = _misclassified(eta, parsed.y, parsed.w)
            if params.get('probe') is not None:
                part['n_wrong_probe'] = _misclassified(
                    b.eta(theta_for(params['probe'], b.p)), parsed.y, parsed.w)
        return part, b, eta

    def _merge(self, a, b):
        p = max(len(a['grad']), len(b['grad']))
        out = dict(loss=a['loss'] + b['loss'],
                   grad=_pad_vector(a['grad'], p) + _pad_vector(b['grad'], p))
        for key in (('n_wrong', 'n_wrong_probe', 'n_overflow') + POISSON_SUMS
                    + POISSON_OFFSET_SUMS):
            if key in a:
                out[key] = a[key] + b[key]
        return out


class Hessian(LossGradient):
    """Loss, gradient and X'WX at theta (partial keys ``loss``, ``grad``, ``hess``)."""
    name = 'hessian'

    def _piece(self, parsed, design, params):
        part, b, eta = self._at_theta(parsed, design, params)
        w = _weights(params['model'], eta)
        if parsed.w is not None:
            w = parsed.w if w is None else w * parsed.w
        part['hess'] = b.xtwx(w)
        if params['model'] == 'poisson':
            part.update(_poisson_sums(parsed.y, poisson_mean(eta), parsed.w, parsed.offset))
        return part

    def _merge(self, a, b):
        out = super()._merge(a, b)
        p = len(out['grad'])
        out['hess'] = _pad_square(a['hess'], p) + _pad_square(b['hess'], p)
        return out



# --------------------------------------------------------------------------- levels

class Levels(Aggregate):
    """The distinct levels of each categorical column (``parsed.cats``), the pass before a
    fit with ``--categorical``. Partial keys: ``levels`` (per column, its levels sorted)
    and ``over`` (per column, True when it has more than ``params['max_levels']``).

    A set never grows past ``max_levels + 1`` levels (the smallest ones): a column of a
    million distinct values costs each task and the merge that many strings at most,
    never memory in proportion to the rows, and the driver still knows it is too many.
    """
    name = 'levels'

    def _block(self, parsed, design, params):
        cap = int(params['max_levels']) + 1
        levels, over = [], []
        for c in range(parsed.cats.shape[1] if parsed.cats is not None else 0):
            found = np.unique(parsed.cats[:, c]).tolist()
            levels.append(found[:cap])
            over.append(len(found) >= cap)
        return dict(levels=levels, over=over, max_levels=cap - 1)

    def _merge(self, a, b):
        cap = a['max_levels'] + 1
        levels = [sorted(set(x) | set(y))[:cap] for x, y in zip(a['levels'], b['levels'])]
        return dict(levels=levels, over=[len(v) >= cap for v in levels],
                    max_levels=a['max_levels'])


def checked_levels(part, names):
    """``[[column, [level, ...]], ...]`` from a merged ``levels`` partial; a column with
    too many levels is an error naming it (``names``: the categorical columns)."""
    for name, levels, over in zip(names, part['levels'], part['over']):
        if over:
            raise DistregError(
                'categorical column %r has more than %d levels (--max-levels; the first are '
                '%s): a one-hot design that wide is not fitted here; raise --max-levels if it '
                'is meant, or leave the column out (a Parquet text column is categorical '
                'unless --features names the others)'
                % (name, part['max_levels'], ', '.join(map(repr, levels[:5]))))
    return [[name, list(levels)] for name, levels in zip(names, part['levels'])]


# --------------------------------------------------------------------------- the table

#: Every aggregate, by the name engines are asked for. A new aggregate is a class above and
#: one entry here (and, for mrjob, a job in jobs/; see jobs/engine.py's JOBS).
AGGREGATES = {agg.name: agg for agg in (Gram(), FoldGram(), TSQR(), Refine(), Sandwich(),
                                         LossGradient(), Hessian(), Evaluate(), Levels())}


def block_partial(name, parsed, design, params=None):
    return AGGREGATES[name].block(parsed, design, params or {})


def merge_partials(name, a, b):
    if a is None:
        return b
    if b is None:
        return a
    return AGGREGATES[name].merge(a, b)


def merge_all(name, partials):
    total = None
    for part in partials:
        total = merge_partials(name, total, part)
    return total


def check_rows(part, what='the input'):
    """Stop with a clear message when no row is left to fit (or every weight is 0)."""
    if part is None or part['n'] == 0:
        bad = 0 if part is None else part['n_bad']
        if bad:
            raise EmptyInputError('all %d rows of %s were rejected: nothing left to fit'
                                  % (bad, what))
        raise EmptyInputError('%s has no data rows: nothing to fit' % what)
    if part.get('w_sum') == 0:
        raise EmptyInputError('every weight of %s is 0 (%d rows): a row of weight 0 counts '
                              'as no row, so nothing is left to fit' % (what, part['n']))



# --------------------------------------------------------------------------- JSON

def encode(part):
    """JSON-ready form of a partial: exact float64 numbers, longdouble as hi/lo pairs."""
    out = {}
    for k, v in part.items():
        if isinstance(v, np.ndarray) or isinstance(v, np.generic):
            arr = np.asarray(v)
            if arr.dtype == LD:
                hi = arr.astype(np.float64)
                lo = (arr - hi.astype(LD)).astype(np.float64)
                out[k] = {'ld': hi.tolist(), 'lo': lo.tolist()}
            elif arr.dtype.kind in 'iu':
                out[k] = {'i8': arr.tolist()}
            else:
                out[k] = {'f8': arr.astype(np.float64).tolist()}
        else:
            out[k] = v
    return out


def decode(obj):
    """Inverse of :func:`encode`."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            if 'ld' in v:
                out[k] = np.asarray(v['ld'], dtype=LD) + np.asarray(v['lo'], dtype=LD)
            elif 'i8' in v:
                out[k] = np.asarray(v['i8'], dtype=np.int64)
            else:
                out[k] = np.asarray(v['f8'], dtype=np.float64)
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------- raw bytes

#: First bytes of a packed partial (format version 1).
PACK_MAGIC = b'DRP1'


def pack(part):
    """A partial as bytes: a small JSON header, then each array's raw little-endian float64.

    The same values as :func:`encode` (longdouble as hi + lo float64 pairs), but an
    array costs 8 bytes a number instead of ~20 characters of JSON text, and nothing
    parses it but :func:`unpack` (no pickle): what a task hands a Spark driver when
    partials are p x p matrices.
    """
    head, chunks, offset = {'scalars': {}, 'arrays': []}, [], 0
    for k, v in part.items():
        if not isinstance(v, (np.ndarray, np.generic)):
            head['scalars'][k] = v
            continue
        arr = np.asarray(v)
        if arr.dtype == LD:
            hi = arr.astype(np.float64)
            pieces = [('ld', hi), ('lo', (arr - hi.astype(LD)).astype(np.float64))]
        elif arr.dtype.kind in 'iu':
            pieces = [('i8', arr.astype('<i8'))]
        else:
            pieces = [('f8', arr.astype('<f8'))]
        for kind, a in pieces:
            a = np.ascontiguousarray(a, dtype='<i8' if kind == 'i8' else '<f8')
            # a Gram, a Hessian, a sandwich's meat: its upper triangle is all of it, half
            # the bytes a task hands the JVM (where a wide partial's copies live)
            layout = ['upper'] if _exactly_symmetric(a) else []
            data = (np.concatenate([a[i, i:] for i in range(a.shape[0])]) if layout
                    else a).tobytes()
            head['arrays'].append([k, kind, list(arr.shape), offset, len(data)] + layout)
            chunks.append(data)
            offset += len(data)
    header = json.dumps(head).encode('utf-8')
    return b''.join([PACK_MAGIC, struct.pack('<Q', len(header)), header] + chunks)


def _exactly_symmetric(a):
    """A square matrix equal to its transpose bit for bit (packed as its upper triangle)."""
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] < 2:
        return False
    bits = a.view(np.int64)  # bits, not values: -0.0 and NaNs come back as they went
    return np.array_equal(bits, bits.T)


def _from_upper(values, shape):
    """The symmetric matrix whose upper triangle, row by row, is ``values``."""
    p = shape[0]
    if len(shape) != 2 or shape[1] != p or len(values) != p * (p + 1) // 2:
        raise ValueError('packed partial damaged: %d numbers are not the upper triangle '
                         'of a %s matrix' % (len(values), 'x'.join(map(str, shape))))
    out = np.empty((p, p), dtype=values.dtype)
    start = 0
    for i in range(p):
        out[i, i:] = values[start:start + p - i]
        out[i:, i] = values[start:start + p - i]
        start += p - i
    return out


def unpack(data):
    """Inverse of :func:`pack` (the arrays are read-only views of ``data`` where possible)."""
    data = memoryview(data)
    if bytes(data[:4]) != PACK_MAGIC:
        raise ValueError('not a packed partial (its first bytes are %r)' % bytes(data[:4]))
    (size,) = struct.unpack('<Q', data[4:12])
    head = json.loads(bytes(data[12:12 + size]).decode('utf-8'))
    body = data[12 + size:]
    out = dict(head['scalars'])
    pending = {}
    for k, kind, shape, offset, length, *layout in head['arrays']:
        if offset < 0 or offset + length > len(body):
            raise ValueError('packed partial truncated: %r needs bytes %d..%d of %d'
                             % (k, offset, offset + length, len(body)))
        arr = np.frombuffer(body[offset:offset + length],
                            dtype='<i8' if kind == 'i8' else '<f8')
        arr = _from_upper(arr, shape) if layout == ['upper'] else arr.reshape(shape)
        if kind == 'ld':
            pending[k] = arr
        elif kind == 'lo':
            out[k] = pending.pop(k).astype(LD) + arr.astype(LD)
        elif kind == 'i8':
            out[k] = arr.astype(np.int64)
        else:
            out[k] = arr.astype(np.float64)
    return out
