"""The driver steps of every method (DESIGN.md: "hand the total to the driver").

This is the home of the drivers: ``normal`` and ``qr`` (closed forms, with
refinement passes), and the iterative methods gradient descent, L-BFGS and
Newton (IRLS), for linear, logistic and Poisson models. A driver asks the engine only
for distributed aggregates (their block functions and merges live in
:mod:`distreg.blocks`) and does its updates here; the method table that names
them is :data:`distreg.fit.METHODS`.

The iterative methods ask for the aggregates, evaluated at a parameter vector theta:

``gradient`` (keys ``loss``, ``grad``)
    the data part of the objective and its gradient at theta;
``hessian`` (keys ``loss``, ``grad``, ``hess``)
    the same and X'WX at theta (W = I for linear, p(1-p) for logistic, exp(eta) for
    Poisson; a Poisson ``hessian`` also has the sums of :func:`poisson_stats`).

Both take the parameters ``{'theta': [...], 'model': 'linear'|'logistic'|'poisson'}``. A
theta shorter than a block's model matrix is padded with zeros (the first pass
runs at ``theta = []``: the engine's answer tells the driver how many
coefficients there are, which LibSVM input only knows once it has been read).

Notes
-----
The objective is the sum over rows, with the ridge penalty on every coefficient
but the intercept, on the same scale as the closed forms' ``(X'X + L I')``::

    linear:    f(theta) = 1/2 sum (y - x'theta)^2                 + L/2 |theta'|^2
    logistic:  f(theta) = sum log(1 + exp(x'theta)) - y x'theta   + L/2 |theta'|^2
    poisson:   f(theta) = sum exp(eta) - y eta                    + L/2 |theta'|^2

so ``gd``/``lbfgs``/``newton`` converge to the answer of ``normal`` with the
same ``--ridge``. The logistic loss and residual are formed from ``e^-|eta|``
(``distreg.blocks._logistic_piece``): no overflow for any eta, and no cancellation
in a residual near 0. Poisson: eta = x'theta + o, o the offset of ``--offset-col``
(0 without), and the loss leaves out its constant sum log(y!); every sum is weighted
by the frequency weights of ``--weight-col``. A Poisson point whose exp(eta) would
overflow (:data:`distreg.blocks.POISSON_MAX_ETA`) has an infinite loss, so the line
searches back off from it (docs/poisson.md).

Stopping rule (all three): the method stops when its next step, an estimate of
the distance to the optimum, is at most ``tol`` relative to theta in the max
norm, ``max|step| <= tol * max|theta|`` -- the same norm-wise relative measure
``distreg compare`` uses. For Newton and L-BFGS (quadratic / superlinear
convergence) the next step bounds the remaining error well; for gradient
descent the Barzilai-Borwein step is only a curvature estimate along recent
directions, so its answer is checked against looser bounds in the tests.
"""

import math
import time
from collections import deque

import numpy as np

from distreg import blocks, inference, solvers
from distreg.errors import DistregError, NotConvergedError

ITERATIVE_METHODS = ('gd', 'lbfgs', 'newton')

#: qr: refinement stops when the correction is this small relative to theta (norm-wise).
QR_TOL = 1e-15
#: qr: at most this many refinement passes unless --max-iter says otherwise.
QR_MAX_REFINE = 4

#: --l1: coordinate descent stops when a sweep moves no coefficient by more than this
#: relative to the largest; and it makes at most this many sweeps (unless --max-iter).
ENET_TOL = 1e-13
ENET_MAX_SWEEPS = 100000

#: Default relative tolerance of each method (see the module notes).
DEFAULT_TOL = {'gd': 1e-9, 'lbfgs': 1e-10, 'newton': 1e-12}
#: Default iteration limit of each method.
DEFAULT_MAX_ITER = {'gd': 2000, 'lbfgs': 500, 'newton': 50}

#: L-BFGS: pairs (s, y) kept.
LBFGS_MEMORY = 10
#: gd: the non-monotone line search compares with the largest of this many last values.
GD_MEMORY = 10
#: Sufficient-decrease constant of the line searches (Armijo).
ARMIJO_C = 1e-4
#: Halvings a line search may try before it gives up.
MAX_BACKTRACKS = 40
#: Relative size of the rounding noise in the summed loss: a trial point whose loss is
#: within this of the reference is not rejected for a difference nobody can measure.
LOSS_NOISE = 1e-12
#: Logistic: a mean log-loss below this means every row is predicted with near certainty,
#: i.e. the classes are separated and the likelihood has no finite maximum.
SEPARATED_MEAN_LOSS = 1e-6


# --------------------------------------------------------------------------- closed forms

def fit_normal(engine, options):
    return normal_answer(engine.aggregate('gram'), options)


def normal_answer(part, options):
    """The normal-equations answer from a merged ``gram`` partial (also the mrjob reducer's)."""
    blocks.check_rows(part)
    solvers.check_sums_finite(part['xtx'], part['yty'], 'the normal equations')
    if options.l1:
        return elastic_net_answer(part, options)
    sol = solvers.solve_normal(part, options.intercept, options.ridge)
    stats = inference.linear_stats(sol.theta, sol.cov, sol.rss, part, options.intercept)
    # the Gram's condition number is the square of the model matrix's
    stats['condition_number'] = math.sqrt(sol.cond)
    return dict(theta=sol.theta, **row_counts(part), iterations=0, converged=True,
                stats=stats, bread=sol.bread, partial=part)


def row_counts(part):
    """The record's counts of rows from a merged partial (weights: None without them)."""
    return dict(n_rows=part['n'], n_bad_rows=part['n_bad'],
                n_rows_zero_weight=part.get('n_zero_w'), sum_weights=part.get('w_sum'))


def elastic_net_answer(part, options):
    """Lasso / elastic net (``--l1``, with ``--ridge``) from a merged ``gram`` partial.

    No standard errors (a penalised fit's are not the least-squares ones); R² and RMSE
    from the sums: RSS = y'y - 2 theta'X'y + theta'X'X theta.
    """
    tol = options.tol if options.tol else ENET_TOL
    max_sweeps = options.max_iter if options.max_iter is not None else ENET_MAX_SWEEPS
    theta, sweeps, converged = solvers.solve_elastic_net(
        part, options.intercept, float(options.ridge), float(options.l1), tol, max_sweeps)
    G, b = part['xtx'], part['xty']
    rss = max(float(part['yty'] - 2 * theta @ b + theta @ G @ theta), 0.0)
    n = part.get('w_sum', part['n'])   # weights: n is their sum
    tss = part['y_m2'] if options.intercept else part['y_m2'] + n * part['y_mean'] ** 2
    stats = dict(r2=(1.0 - rss / tss) if tss > 0 else None, rmse=math.sqrt(rss / n),
                 residual_sd=None, std_errors=None, t_values=None, p_values=None)
    if not converged:
        solvers.warn('--l1: coordinate descent did not converge in %d sweeps (tolerance %g); '
                     'raise --max-iter' % (sweeps, tol))
    return dict(theta=theta, **row_counts(part), iterations=sweeps, converged=converged,
                stats=stats, partial=part)


def tsqr_answer(part, options):
    """The TSQR answer before any refinement pass, from a merged ``tsqr`` partial."""
    blocks.check_rows(part)
    state = solvers.QRState(part, options.intercept, options.ridge)
    stats = state.stats(state.theta, state.rss_tsqr, part)
    stats['condition_number'] = float(state.cond)
    return dict(theta=state.unscale(state.theta), **row_counts(part),
                iterations=0, converged=True, stats=stats, bread=state.bread(), partial=part)


def fit_qr(engine, options):
    """TSQR, then refinement passes with extended-precision residuals.

    Stops when the correction is below ``tol`` (default 1e-15) relative to theta,
    or when it stops shrinking (the extended-precision noise floor), or after
    ``max_iter`` passes (default 4). theta, the passes and the sums of squares are in
    the scaled units of the TSQR partial (see :class:`distreg.solvers.QRState`).
    """
    part = engine.aggregate('tsqr')
    blocks.check_rows(part)
    state = solvers.QRState(part, options.intercept, options.ridge)
    theta = state.theta
    state.unscale(theta)  # a coefficient beyond float64 fails now, not after the passes
    rss = state.rss_tsqr
    tol = options.tol or QR_TOL
    max_passes = QR_MAX_REFINE if options.max_iter is None else options.max_iter
    # no refinement asked for: the TSQR answer is final, as the normal one is
    passes, converged, prev = 0, max_passes == 0, math.inf
    for passes in range(1, max_passes + 1):
        params = {'theta': theta.tolist(), 'exp': state.exp.tolist()}
        if passes == 1 and state.wants_cov_pass():
            # ill-conditioned: the same pass measures Q'Q for accurate standard errors
            params['rinv'] = state.rinv().tolist()
        ref = engine.aggregate('refine', params)
        if 'qtq' in ref:
            state.refine_cov(ref['qtq'])
        delta = state.correction(ref['g'], theta)
        # RSS(theta + delta) = RSS(theta) - 2 delta'g + delta'X'X delta, in extended precision
        Rd = state.Rs @ (delta / state.d)
        ld = np.longdouble
        rss = float(ref['rss'] - 2 * np.dot(delta.astype(ld), ref['g']) + ld(Rd @ Rd))
        theta = theta + delta
        size = state.rel_change(delta, theta)
        if size <= tol:
            converged = True
            break
        if size > 0.5 * prev:
            # no longer shrinking: at the noise floor of the extended-precision sums
            converged = size < 1e-9
            break
        prev = size
    stats = state.stats(theta, max(rss, 0.0), part)
    stats['condition_number'] = float(state.cond)
    return dict(theta=state.unscale(theta), **row_counts(part),
                iterations=passes, converged=converged, stats=stats, bread=state.bread(),
                partial=part)


def robust_cov(engine, out, cov_type):
    """Replace ``out``'s standard errors by White's sandwich (one more pass over the data).

    cov = A M A with A = (X'X)^-1 (``out['bread']``) and M the :class:`distreg.blocks.Sandwich`
    meat at the fitted theta; HC1 scales it by n / (n - p). As statsmodels' OLS
    ``cov_type='HC0'..'HC3'``, whose robust inference uses the normal distribution: the
    record's t values are z values and the p values two-sided normal ones.

    ``cluster:COL``: M = sum over the G clusters of s_g s_g' (s_g = X_g' e_g), scaled by
    G / (G - 1) * (n - 1) / (n - p): statsmodels' ``cov_type='cluster'`` (its default
    correction); G counts the clusters with rows (of weight > 0) and goes in
    ``stats['n_clusters']``.
    """
    theta = np.asarray(out['theta'], dtype=np.float64)
    params = {'theta': theta.tolist(), 'cov': cov_type}
    if cov_type in ('HC2', 'HC3'):
        params['bread'] = np.asarray(out['bread']).tolist()
    part = engine.aggregate('sandwich', params)
    if cov_type.startswith('cluster:'):
        return _cluster_cov(out, part, cov_type, theta)
    if part['n_leverage_one']:
        raise DistregError('--cov %s divides by 1 - h, the leverage of each row, and %d row(s) '
                           'have leverage 1 (their residual is 0 whatever the data): %s is not '
                           'defined here; use --cov HC0 or HC1'
                           % (cov_type, part['n_leverage_one'], cov_type))
    A = np.asarray(out['bread'], dtype=np.float64)
    cov = A @ part['meat'] @ A
    n, p = part.get('w_sum', part['n']), len(theta)   # weights: n is their sum
    if cov_type == 'HC1':
        if n <= p:
            raise DistregError('--cov HC1 scales by n / (n - p): %d rows for %d coefficients'
                               % (n, p))
        cov = cov * (n / (n - p))
    out['stats'].update(inference.robust_stats(theta, cov))


def _cluster_cov(out, part, cov_type, theta):
    """The clustered covariance of :func:`robust_cov` from the merged cluster partial."""
    present = part['cluster_rows'] > 0
    G = int(present.sum())
    if G < 2:
        raise DistregError('--cov %s needs rows in at least 2 clusters to estimate a '
                           'covariance, and column %s has %s'
                           % (cov_type, cov_type.split(':', 1)[1],
                              'a single value (%s)' % _id(part['cluster_keys'][present][0])
                              if G else 'no cluster with rows'))
    S = part['cluster_scores'][present]
    A = np.asarray(out['bread'], dtype=np.float64)
    p = len(theta)
    S = S[:, :p] if S.shape[1] >= p else np.hstack([S, np.zeros((G, p - S.shape[1]))])
    n = part.get('w_sum', part['n'])   # weights: n is their sum
    if n <= p:
        raise DistregError('--cov %s scales by (n - 1) / (n - p): %d rows for %d coefficients'
                           % (cov_type, n, p))
    cov = A @ (S.T @ S) @ A * (G / (G - 1) * (n - 1) / (n - p))
    out['stats'].update(inference.robust_stats(theta, cov))
    out['stats']['n_clusters'] = G


def _id(v):
    """A cluster id as the user wrote it (7, not 7.0)."""
    return int(v) if float(v).is_integer() else v


# --------------------------------------------------------------------------- the objective

class _Objective:
    """The penalised objective, evaluated by the engine one pass at a time."""

    def __init__(self, engine, options):
        self.engine = engine
        self.method = options.method
        self.model = options.model
        self.intercept = options.intercept
        self.ridge = float(options.ridge)
        self.lam = None
        self.part = None
        #: the iteration under way (1-based; 0 before the first), for messages
        self.iteration = 0
        #: accepted iterates (logistic without ridge: the separation probe's history)
        self.accepted = []
        #: (f, g) of the last evaluation, in theta's units (for the history)
        self.last = None
        #: one entry per iteration, iteration 0 the starting point (see :meth:`log_iteration`)
        self.history = []
        #: where the per-iteration lines go (the engine's ``progress`` stream; None: nowhere)
        self.progress = getattr(engine, 'progress', None)
        self.t0 = time.perf_counter()
        self._t_last = self.t0

    def evaluate(self, theta, aggregate='gradient'):
        """(f, g) at theta; ``self.part`` keeps the engine's merged partial."""
        params = {'theta': [float(v) for v in theta], 'model': self.model}
        if self.model == 'logistic' and not self.ridge and len(self.accepted) >= 2:
            # how the iterates grew over the last quarter of the run: on separable data they
            # grow along a separating direction, which this finds long before the iterate
            # itself separates (the offset it still carries fades only slowly)
            k = len(self.accepted)
            params['probe'] = (self.accepted[-1] - self.accepted[k * 3 // 4]).tolist()
        part = self.engine.aggregate(aggregate, params)
        blocks.check_rows(part)
        if self.model == 'poisson':
            self._check_poisson(part)
            if part['n_overflow']:
                # a trial point too far out: an infinite loss, so the line search backs off
                # (the point never becomes an answer; self.last stays the last finite one)
                return math.inf, None
        if 'hess' in part:
            solvers.check_sums_finite(part['hess'], None, '--method %s' % self.method,
                                      least_squares=self.model == 'linear')
        p = len(part['grad'])
        if self.lam is None:
            self.lam = solvers.ridge_diagonal(p, self.intercept, self.ridge)
        theta = blocks.theta_for(theta, p)
        f = part['loss'] + 0.5 * float(np.sum(self.lam * theta * theta))
        g = part['grad'] + self.lam * theta
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            raise NotConvergedError('the %s loss is not finite at the current coefficients '
                                    '(%r): the data overflow float64 (values near its limit?); '
                                    'rescale the label and the features%s'
                                    % (self.model, f, ' or use --method qr'
                                       if self.model == 'linear' else ''))
        self.part = part
        self._check_separated(part)
        self.last = (f, g)
        return f, g

    def _check_poisson(self, part):
        """Refuse what has no finite Poisson answer, before any iteration runs into it."""
        if self.last is not None:
            return
        if self.intercept and part['y_mean'] == 0.0:
            raise NotConvergedError(
                'every label is 0: the Poisson log-likelihood keeps rising as the intercept '
                'goes to -infinity (a mean of 0), so no finite maximum-likelihood answer exists')
        if part['n_overflow']:
            raise DistregError(
                'the Poisson mean exp(eta) of %d row(s) overflows float64 at the starting '
                'point (eta, the offset with theta = 0, is above %g): check the offset column'
                % (part['n_overflow'], blocks.POISSON_MAX_ETA))

    def log_iteration(self, iteration):
        """Record (and print, with a progress stream) the point last evaluated as ``iteration``.

        ``seconds`` counts from the start of the method (the data's load is in the record's
        ``timings.load_seconds``); one line per iteration on the progress stream, printed by
        the driver itself, so every engine shows the same progress.
        """
        f, g = self.last
        now = time.perf_counter()
        entry = dict(iteration=int(iteration), loss=float(f),
                     grad_norm=float(np.linalg.norm(g)), seconds=now - self.t0)
        self.history.append(entry)
        if self.progress is not None:
            print('distreg: %s iteration %d: loss %.10g  |grad| %.4g  %.3f s (total %.3f s)'
                  % (self.method, iteration, f, entry['grad_norm'], now - self._t_last,
                     entry['seconds']), file=self.progress, flush=True)
        self._t_last = now

    def _check_separated(self, part):
        """Stop as soon as a theta tried separates the classes (see :func:`distreg.blocks._misclassified`).

        Checked at every pass, so every engine (same passes, same exact count) stops at
        the same iteration with the same message, in a few passes instead of running to
        --max-iter while the coefficients grow without bound. With a ridge the optimum is
        finite whatever the data: no check.
        """
        if self.model != 'logistic' or self.ridge:
            return
        if part.get('n_wrong') == 0:
            what = 'the coefficients tried put'
        elif part.get('n_wrong_probe') == 0:
            what = 'the direction the coefficients grow in puts'
        else:
            return
        raise NotConvergedError(
            'the classes are perfectly separated: at iteration %d, %s every one of the %d '
            'rows strictly on its own side (label 1: x\'theta > 0, label 0: x\'theta < 0), so '
            'the log-likelihood keeps rising as the coefficients grow and no finite '
            'maximum-likelihood answer exists; use --ridge L for a finite one'
            % (self.iteration, what, part['n']))

    def accept(self, theta):
        """Record an accepted iterate (the separation probe's history)."""
        if self.model == 'logistic' and not self.ridge:
            self.accepted.append(np.array(theta, dtype=np.float64))

    def start_scaled(self):
        """First pass, at theta = 0: the number of coefficients and the column scaling.

        First-order methods work on u = theta / d, d the power-of-two scaling of
        the columns of X'WX at 0 (exact in binary), so that columns in different
        units do not slow them down: returns (u0, f, grad_u).
        """
        f, g = self.evaluate([], 'hessian')
        diag = np.sqrt(np.abs(np.diag(self.part['hess'])) + self.lam)
        self.d = solvers.power_of_two_scale(diag)
        return np.zeros(len(g)), f, g * self.d

    def evaluate_scaled(self, u):
        f, g = self.evaluate(self.d * u)
        return f, None if g is None else g * self.d


def _rel_size(step, theta):
    """max|step| / max|theta| (0/0 = 0: nothing left to move)."""
    top = float(np.max(np.abs(step))) if len(step) else 0.0
    if top == 0.0:
        return 0.0
    scale = float(np.max(np.abs(theta))) if len(theta) else 0.0
    return top / scale if scale > 0 else math.inf


def _accept(f_trial, f_ref, decrease):
    """Armijo with room for the rounding noise of a sum over many rows."""
    return f_trial <= f_ref - ARMIJO_C * decrease + LOSS_NOISE * abs(f_ref)


# --------------------------------------------------------------------------- gd

def fit_gd(engine, options):
    """Batch gradient descent with Barzilai-Borwein steps and a non-monotone line search.

    Notes
    -----
    theta_{k+1} = theta_k - a_k g_k with the BB step a_k = s's / s'y (s, y the
    last changes of theta and gradient), accepted when
    f(theta_{k+1}) <= max of the last 10 f - 1e-4 a_k |g_k|^2 (Grippo-Lampariello-
    Lucidi), halved otherwise. No learning rate to tune: the first step is
    1 / |g_0| and every later one comes from the curvature the data show.
    """
    tol, max_iter = _limits('gd', options)
    obj = _Objective(engine, options)
    u, f, g = obj.start_scaled()
    obj.log_iteration(0)
    alpha = 1.0 / max(float(np.linalg.norm(g)), np.finfo(float).tiny)
    history = deque([f], maxlen=GD_MEMORY)
    steps = deque(maxlen=GD_MEMORY)
    converged = _rel_size(g, u) == 0.0
    it = 0
    while not converged and it < max_iter:
        obj.iteration = it + 1
        gg = float(g @ g)
        step = alpha
        for _ in range(MAX_BACKTRACKS):
            trial = u - step * g
            f_t, g_t = obj.evaluate_scaled(trial)
            if _accept(f_t, max(history), step * gg):
                break
            step *= 0.5
        else:
            _fail_line_search('gd', it, f, obj)
        it += 1
        obj.log_iteration(it)
        s, yv = trial - u, g_t - g
        u, f, g = trial, f_t, g_t
        obj.accept(obj.d * u)
        history.append(f)
        sy = float(s @ yv)
        alpha = float(s @ s) / sy if sy > 0 else step * 2.0
        steps.append(alpha)
        # the longest recent BB step (about 1 / the smallest curvature seen) times the
        # gradient: a cautious estimate of the distance still to go
        converged = _rel_size(obj.d * max(steps) * g, obj.d * u) <= tol
    return _finish('gd', obj, obj.d * u, it, converged, tol)


# --------------------------------------------------------------------------- lbfgs

def _two_loop(g, pairs):
    """-H g for the L-BFGS inverse-Hessian estimate H of the (s, y, 1/s'y) pairs."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        alphas.append(a)
        q -= a * y
    if pairs:
        s, y, _ = pairs[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * float(y @ q)
        q += (a - b) * s
    return -q


def fit_lbfgs(engine, options):
    """Limited-memory BFGS (10 pairs) with a backtracking Armijo line search.

    Notes
    -----
    The direction d = -H g comes from the two-loop recursion; the first step
    (no pairs yet) is scaled to length 1. A pair (s, y) is kept only when
    s'y > 0, so H stays positive definite. The method stops when the next
    direction, the quasi-Newton estimate of theta* - theta, is below ``tol``.
    """
    tol, max_iter = _limits('lbfgs', options)
    obj = _Objective(engine, options)
    u, f, g = obj.start_scaled()
    obj.log_iteration(0)
    pairs = deque(maxlen=LBFGS_MEMORY)
    d = -g / max(float(np.linalg.norm(g)), np.finfo(float).tiny)
    converged = _rel_size(g, u) == 0.0
    it = 0
    while not converged and it < max_iter:
        obj.iteration = it + 1
        slope = float(g @ d)
        if slope >= 0:  # lost descent (rounding): restart from steepest descent
            pairs.clear()
            d = -g / max(float(np.linalg.norm(g)), np.finfo(float).tiny)
            slope = float(g @ d)
        step = 1.0
        for _ in range(MAX_BACKTRACKS):
            trial = u + step * d
            f_t, g_t = obj.evaluate_scaled(trial)
            if _accept(f_t, f, -step * slope):
                break
            step *= 0.5
        else:
            _fail_line_search('lbfgs', it, f, obj)
        it += 1
        obj.log_iteration(it)
        s, yv = trial - u, g_t - g
        u, f, g = trial, f_t, g_t
        obj.accept(obj.d * u)
        sy = float(s @ yv)
        if sy > np.finfo(float).eps * float(yv @ yv):
            pairs.append((s, yv, 1.0 / sy))
        d = _two_loop(g, list(pairs))
        converged = _rel_size(obj.d * d, obj.d * u) <= tol
    return _finish('lbfgs', obj, obj.d * u, it, converged, tol)


# --------------------------------------------------------------------------- newton

def fit_newton(engine, options):
    """Newton's method (IRLS for logistic), with step halving when the loss rises.

    Notes
    -----
    theta_{k+1} = theta_k - (X'WX + L I')^-1 (g_k + L I' theta_k). For the
    linear model the Hessian is X'X whatever theta: one step from 0 is the
    exact least-squares answer, solved and checked like ``--method normal``.
    """
    tol, max_iter = _limits('newton', options)
    obj = _Objective(engine, options)
    if options.model == 'linear':
        return _newton_linear(obj, options)
    f, g = obj.evaluate([], 'hessian')
    obj.log_iteration(0)
    theta = np.zeros(len(g))
    obj.accept(theta)
    converged, it = False, 0
    while it < max_iter:
        H = obj.part['hess'] + np.diag(obj.lam)
        delta = -solvers.solve_spd(H, g)
        it += 1
        obj.iteration = it
        theta_new = theta + delta
        if _rel_size(delta, theta_new) <= tol:
            theta, converged = theta_new, True
            break
        for _ in range(MAX_BACKTRACKS):
            f_new, g_new = obj.evaluate(theta + delta, 'hessian')
            if f_new <= f + LOSS_NOISE * abs(f):
                break
            delta *= 0.5
        else:
            _fail_line_search('newton', it, f, obj)
        theta, f, g = theta + delta, f_new, g_new
        obj.accept(theta)
        obj.log_iteration(it)
    # obj.part: the Hessian at the last evaluated theta (the optimum to within tol)
    return _answer('newton', obj, theta, it, converged, tol)


def _newton_linear(obj, options):
    obj.evaluate([], 'hessian')
    part = obj.part
    # at theta = 0: grad = -X'y and loss = y'y / 2, so this is the normal equations' partial
    gram = dict(part, xtx=part['hess'], xty=-part['grad'], yty=2.0 * part['loss'])
    answer = normal_answer(gram, options)
    answer['iterations'] = 1
    obj.log_iteration(0)
    answer['history'] = obj.history
    return answer


# --------------------------------------------------------------------------- answer

def _limits(method, options):
    tol = options.tol if options.tol is not None else DEFAULT_TOL[method]
    max_iter = options.max_iter if options.max_iter is not None else DEFAULT_MAX_ITER[method]
    return tol, max_iter


def _check_separation(obj):
    check_separation(obj.part, obj.model, obj.ridge)


def check_separation(part, model, ridge):
    """Refuse an answer whose mean log-loss (``part``: a merged ``gradient`` partial at it)
    shows separated classes; also for answers of other trainers (MLlib)."""
    n = part.get('w_sum', part['n'])   # with weights, the loss is a weighted sum
    if model == 'logistic' and not ridge and part['loss'] < SEPARATED_MEAN_LOSS * n:
        raise NotConvergedError(
            'the classes are (almost) perfectly separated: the log-likelihood keeps rising as '
            'the coefficients grow (mean log-loss %.3g), so no finite maximum-likelihood '
            'answer exists; use --ridge L for a finite one' % (part['loss'] / n))


def _fail_line_search(method, it, f, obj):
    _check_separation(obj)
    raise NotConvergedError('%s: the line search found no decrease of the loss (%r) after '
                            '%d halvings at iteration %d; the data may be badly scaled'
                            % (method, f, MAX_BACKTRACKS, it + 1))


def _finish(method, obj, theta, iterations, converged, tol):
    """One more pass at the answer for X'WX: the inverse Hessian gives the standard errors."""
    obj.evaluate(theta, 'hessian')
    return _answer(method, obj, theta, iterations, converged, tol)


def _answer(method, obj, theta, iterations, converged, tol):
    part = obj.part
    if not converged:
        _check_separation(obj)
    # --tol 0 asks for exactly --max-iter iterations: no advice to raise it
    if not converged and tol > 0:
        solvers.warn('%s did not converge in %d iterations (tolerance %g): the coefficients '
                     'are the last iterate, not the optimum; raise --max-iter'
                     % (method, iterations, tol))
    H = part['hess']
    Hp = H + np.diag(obj.lam)
    p = len(theta)
    Hinv = solvers.solve_spd(Hp, np.eye(p))
    # with a ridge, the sandwich (H + L)^-1 H (H + L)^-1, as the closed forms do
    cov = Hinv @ H @ Hinv if obj.ridge else Hinv
    if obj.model == 'linear':
        rss = 2.0 * part['loss']
        stats = inference.linear_stats(theta, cov, rss, part, obj.intercept)
    else:
        stats = logistic_stats(theta, cov)
    if obj.model == 'poisson':
        stats.update(poisson_stats(part, len(theta)))
    return dict(theta=theta, **row_counts(part),
                iterations=iterations, converged=converged, stats=stats, history=obj.history)


def logistic_stats(theta, cov):
    """Standard errors from the inverse Hessian, z values and two-sided normal p values.

    R², RMSE and the residual standard deviation do not apply (None).
    """
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    z = [float(t / s) if s > 0 else None for t, s in zip(theta, se)]
    return dict(r2=None, rmse=None, residual_sd=None, std_errors=se.tolist(), t_values=z,
                p_values=[None if v is None else inference.normal_two_sided(v) for v in z])


def poisson_stats(part, p):
    """The Poisson fit's goodness-of-fit statistics from a merged ``hessian`` partial at
    the answer (its ``loss`` is the data loss, sum w (mu - y eta), without a penalty).

    Notes
    -----
    As statsmodels' GLM(family=Poisson()) with ``freq_weights`` w (every sum weighted)::

        deviance       = sum 2 w (y log(y / mu) - (y - mu))           (0 log 0 = 0)
        pearson_chi2   = sum w (y - mu)^2 / mu
        log_likelihood = sum w (y eta - mu - log(y!)) = -(loss + sum w log(y!))
        aic            = -2 log_likelihood + 2 p
        null_deviance  = the deviance of the intercept-only model (with the offset, with or
                         without an intercept in the fit): its mean c exp(o), c = sum w y /
                         sum w exp(o), so null_deviance = 2 (sum w y log y - sum w y log c
                         - sum w y o) (0 when every label is 0)
    """
    y_sum = part['y_sum']
    exp_offset = part.get('exp_offset_sum', part.get('w_sum', part['n']))
    null = 2.0 * (part['y_log_y'] - part.get('y_offset_sum', 0.0)
                  - (y_sum * math.log(y_sum / exp_offset) if y_sum > 0 else 0.0))
    llf = -(part['loss'] + part['log_y_factorial'])
    return dict(family='Poisson', link='log', deviance=part['deviance'],
                pearson_chi2=part['pearson_chi2'], null_deviance=max(null, 0.0),
                log_likelihood=llf, aic=-2.0 * llf + 2.0 * p)
