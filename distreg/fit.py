"""The engine-free driver: a method is a sequence of distributed aggregates and driver steps.

:data:`METHODS` is the method table (``--method`` name -> driver in :mod:`distreg.optim`).

An *engine* knows how to run one aggregate over all the data ("map the block
function, merge, collect"); this module knows what to ask for and what to do
with the answers. It never sees a row.

The engine contract (what ``engine`` is) is written in :mod:`distreg.engine`.
"""

import time
from dataclasses import dataclass

from distreg import blocks, optim, result
from distreg.design import Design
from distreg.errors import DistregError
from distreg.loader import BAD_ROW_POLICIES, FORMAT_CHOICES, MODELS


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
        if self.max_iter is not None and self.max_iter < 0:
            raise DistregError('--max-iter must be >= 0, not %r' % self.max_iter)
        if self.tol is not None and not self.tol > 0:
            raise DistregError('--tol must be > 0, not %r' % self.tol)
        self.design()  # checks the degree
        return self

    def design(self):
        return Design(intercept=self.intercept, degree=self.poly_degree)


class _TimedEngine:
    """Wraps an engine to time each pass over the data, and to check that rows are left."""

    def __init__(self, engine):
        self.engine = engine
        self.pass_seconds = []

    def aggregate(self, name, params=None):
        t0 = time.perf_counter()
        part = self.engine.aggregate(name, params or {})
        self.pass_seconds.append(time.perf_counter() - t0)
        if part is None or part['n'] == 0:
            # the one empty-input check of every engine: no block at all, or no usable row
            blocks.check_rows(part if part is not None
                              else {'n': 0, 'n_bad': len(self.engine.rejects)})
        return part


def fit(engine, options, names=None):
    """Fit with ``engine``; return the result record (see :mod:`distreg.result`).

    ``names`` receives the coefficient names (without intercept) when a list is given.
    """
    options.validate()
    t0 = time.perf_counter()
    schema = engine.prepare(options)
    if engine.trains_itself:
        out = engine.solve(options)
        pass_seconds = out.pop('pass_seconds', [])
    else:
        timed = _TimedEngine(engine)
        out = METHODS[options.method](timed, options)
        pass_seconds = timed.pass_seconds
    record = result.make_record(
        engine.name, options.method, options.model, out['theta'], options.intercept,
        out['n_rows'], out['n_bad_rows'], out['iterations'], out['converged'], out['stats'],
        seconds=time.perf_counter() - t0,
        timings=dict(load_seconds=engine.load_seconds, pass_seconds=pass_seconds))
    if names is not None:
        names[:] = coefficient_names(schema, options, len(record['coefficients']))
    return record


def coefficient_names(schema, options, n_coef):
    raw = schema.feature_names()
    design = options.design()
    if raw is None:
        raw = ['x%d' % i for i in range(1, design.n_raw(n_coef + int(options.intercept)) + 1)]
    return design.coef_names(raw)


#: The method table: ``--method`` name -> its driver (:mod:`distreg.optim`). A new method is a
#: driver there and one entry here.
METHODS = {'normal': optim.fit_normal, 'qr': optim.fit_qr, 'gd': optim.fit_gd,
           'lbfgs': optim.fit_lbfgs, 'newton': optim.fit_newton}
