"""The engine-free driver: a method is a sequence of distributed aggregates and driver steps.

An *engine* knows how to run one aggregate over all the data ("map the block
function, merge, collect"); this module knows what to ask for and what to do
with the answers. It never sees a row.

Engine protocol (see :class:`distreg.numpy_engine.NumpyEngine`)::

    engine.name                         # 'numpy', 'mrjob-local', ...
    engine.prepare(options) -> Schema   # read the first line, set up; may cache data
    engine.aggregate(name, params)      # merged, decoded partial of aggregate `name`
    engine.rejects                      # rejected rows seen (bad_rows='skip')
    engine.load_seconds                 # time spent in prepare (load + parse + cache)

An engine that trains with a library of its own (MLlib) has no ``aggregate``;
it provides ``engine.solve(options)`` instead, returning what a solver returns
(plus ``pass_seconds`` when it knows them), and the record is made the same way.
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from distreg import inference, result, solvers
from distreg.design import Design
from distreg.errors import DistregError, EmptyInputError
from distreg.loader import BAD_ROW_POLICIES, FORMAT_CHOICES, MODELS

METHODS = ('normal', 'qr', 'gd', 'lbfgs', 'newton')

#: qr: refinement stops when the correction is this small relative to theta (norm-wise).
QR_TOL = 1e-15
#: qr: at most this many refinement passes unless --max-iter says otherwise.
QR_MAX_REFINE = 4


@dataclass
class FitOptions:
    """Everything ``distreg fit`` takes besides the input and the engine.

    Parameters
    ----------
    method : str, default 'normal'
        Supported options: normal, qr, gd, lbfgs, newton.
    model : str, default 'linear'
        Supported options: linear, logistic.
    intercept : bool, default True
    ridge : float, default 0.0
        L2 penalty added to every coefficient but the intercept.
    poly_degree : int, default 1
        Each raw feature x gives x, x², …, x^D.
    label_col : str or int or None
        Label column by name or index (CSV); default the first column.
    bad_rows : str, default 'fail'
        Supported options: fail, skip.
    max_iter, tol : optional
        Iteration limit and relative tolerance of iterative methods (qr: refinement passes).
    format : str, default 'auto'
        Supported options: auto, csv, libsvm (auto: LibSVM when the first line
        reads "label idx:val ...", else CSV).
    """
    method: str = 'normal'
    model: str = 'linear'
    intercept: bool = True
    ridge: float = 0.0
    poly_degree: int = 1
    label_col: object = None
    bad_rows: str = 'fail'
    max_iter: int = None
    tol: float = None
    format: str = 'auto'

    def validate(self):
        for what, value, choices in (('--method', self.method, METHODS),
                                     ('--model', self.model, MODELS),
                                     ('--bad-rows', self.bad_rows, BAD_ROW_POLICIES),
                                     ('--format', self.format, FORMAT_CHOICES)):
            if value not in choices:
                raise DistregError('%s must be one of %s, not %r'
                                   % (what, ', '.join(choices), value))
        if self.model == 'logistic' and self.method in ('normal', 'qr'):
            raise DistregError('--method %s solves least squares; logistic regression has '
                               'no closed form: use --method newton, lbfgs or gd' % self.method)
        if self.method not in SOLVERS:
            raise DistregError('--method %s is not available yet' % self.method)
        if self.max_iter is not None and self.max_iter < 0:
            raise DistregError('--max-iter must be >= 0, not %r' % self.max_iter)
        if self.tol is not None and not self.tol > 0:
            raise DistregError('--tol must be > 0, not %r' % self.tol)
        self.design()  # checks the degree
        return self

    def design(self):
        return Design(intercept=self.intercept, degree=self.poly_degree)


class _TimedEngine:
    """Wraps an engine to time each pass over the data."""

    def __init__(self, engine):
        self.engine = engine
        self.pass_seconds = []

    def aggregate(self, name, params=None):
        t0 = time.perf_counter()
        part = self.engine.aggregate(name, params or {})
        self.pass_seconds.append(time.perf_counter() - t0)
        return part


def fit(engine, options, names=None):
    """Fit with ``engine``; return the result record (see :mod:`distreg.result`).

    ``names`` receives the coefficient names (without intercept) when a list is given.
    """
    options.validate()
    t0 = time.perf_counter()
    schema = engine.prepare(options)
    if hasattr(engine, 'solve'):
        out = engine.solve(options)
        pass_seconds = out.pop('pass_seconds', [])
    else:
        timed = _TimedEngine(engine)
        out = SOLVERS[options.method](timed, options)
        pass_seconds = timed.pass_seconds
    timings = dict(load_seconds=engine.load_seconds, pass_seconds=pass_seconds)
    # what an engine says it recovered from on the way (spark-rdd: failed task attempts,
    # cached partitions recomputed from the input), so that a record shows its fit survived
    timings.update(getattr(engine, 'recovery', None) or {})
    record = result.make_record(
        engine.name, options.method, options.model, out['theta'], options.intercept,
        out['n_rows'], out['n_bad_rows'], out['iterations'], out['converged'], out['stats'],
        seconds=time.perf_counter() - t0, timings=timings)
    if names is not None:
        names[:] = coefficient_names(schema, options, len(record['coefficients']))
    return record


def coefficient_names(schema, options, n_coef):
    raw = schema.feature_names()
    design = options.design()
    if raw is None:
        raw = ['x%d' % i for i in range(1, design.n_raw(n_coef + int(options.intercept)) + 1)]
    return design.coef_names(raw)


def check_rows(part, what='the input'):
    """Stop with a clear message when no row is left to fit."""
    if part is None or part['n'] == 0:
        bad = 0 if part is None else part['n_bad']
        if bad:
            raise EmptyInputError('all %d rows of %s were rejected: nothing left to fit'
                                  % (bad, what))
        raise EmptyInputError('%s has no data rows: nothing to fit' % what)


# --------------------------------------------------------------------------- closed forms

def fit_normal(engine, options):
    return normal_answer(engine.aggregate('gram'), options)


def normal_answer(part, options):
    """The normal-equations answer from a merged ``gram`` partial (also the mrjob reducer's)."""
    check_rows(part)
    sol = solvers.solve_normal(part, options.intercept, options.ridge)
    stats = inference.linear_stats(sol.theta, sol.cov, sol.rss, part, options.intercept)
    return dict(theta=sol.theta, n_rows=part['n'], n_bad_rows=part['n_bad'], iterations=0,
                converged=True, stats=stats)


def tsqr_answer(part, options):
    """The TSQR answer before any refinement pass, from a merged ``tsqr`` partial."""
    check_rows(part)
    state = solvers.QRState(part, options.intercept, options.ridge)
    stats = inference.linear_stats(state.theta, state.cov(), state.rss_tsqr, part,
                                   options.intercept)
    return dict(theta=state.theta, n_rows=part['n'], n_bad_rows=part['n_bad'], iterations=0,
                converged=True, stats=stats)


def fit_qr(engine, options):
    """TSQR, then refinement passes with extended-precision residuals.

    Stops when the correction is below ``tol`` (default 1e-15) relative to theta,
    or when it stops shrinking (the extended-precision noise floor), or after
    ``max_iter`` passes (default 4).
    """
    part = engine.aggregate('tsqr')
    check_rows(part)
    state = solvers.QRState(part, options.intercept, options.ridge)
    theta = state.theta
    rss = state.rss_tsqr
    tol = options.tol or QR_TOL
    max_passes = QR_MAX_REFINE if options.max_iter is None else options.max_iter
    # no refinement asked for: the TSQR answer is final, as the normal one is
    passes, converged, prev = 0, max_passes == 0, math.inf
    for passes in range(1, max_passes + 1):
        ref = engine.aggregate('refine', {'theta': theta.tolist()})
        delta = state.correction(ref['g'], theta)
        # RSS(theta + delta) = RSS(theta) - 2 delta'g + delta'X'X delta, in extended precision
        Rd = state.Rs @ (delta / state.d)
        ld = np.longdouble
        rss = float(ref['rss'] - 2 * np.dot(delta.astype(ld), ref['g']) + ld(Rd @ Rd))
        theta = theta + delta
        size = np.linalg.norm(delta) / max(np.linalg.norm(theta), np.finfo(float).tiny)
        if size <= tol:
            converged = True
            break
        if size > 0.5 * prev:
            # no longer shrinking: at the noise floor of the extended-precision sums
            converged = size < 1e-9
            break
        prev = size
    stats = inference.linear_stats(theta, state.cov(), max(rss, 0.0), part, options.intercept)
    return dict(theta=theta, n_rows=part['n'], n_bad_rows=part['n_bad'], iterations=passes,
                converged=converged, stats=stats)


SOLVERS = {'normal': fit_normal, 'qr': fit_qr}


def register_solver(method, fn):
    """Add an iterative method (see :mod:`distreg.optim`)."""
    SOLVERS[method] = fn
    return fn


# The iterative methods register themselves (they import this module, hence the late import).
from distreg import optim  # noqa: E402,F401
