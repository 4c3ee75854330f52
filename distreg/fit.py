"""The engine-free driver: a method is a sequence of distributed aggregates and driver steps.

:data:`METHODS` is the method table (``--method`` name -> driver in :mod:`distreg.optim`).

An *engine* knows how to run one aggregate over all the data ("map the block
function, merge, collect"); this module knows what to ask for and what to do
with the answers. It never sees a row.

The engine contract (what ``engine`` is) is written in :mod:`distreg.engine`.
"""

import time
from dataclasses import field, make_dataclass

from distreg import blocks, optim, result
from distreg.design import Design
from distreg.errors import DistregError
from distreg.options import OPTIONS


class _FitOptionsChecks:
    """What :class:`FitOptions` adds to its fields (built from :data:`distreg.options.OPTIONS`)."""

    def validate(self):
        for o in OPTIONS:
            value = getattr(self, o.name)
            if o.choices is not None and value not in o.choices:
                raise DistregError('%s must be one of %s, not %r'
                                   % (o.flag, ', '.join(o.choices), value))
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


#: Everything ``distreg fit`` takes besides the input and the engine: one field per
#: :data:`distreg.options.OPTIONS` entry, with its default (see there for each one's meaning).
FitOptions = make_dataclass(
    'FitOptions', [(o.name, object, field(default=o.default)) for o in OPTIONS],
    bases=(_FitOptionsChecks,), namespace={'__module__': __name__})


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


def fit(engine, options, names=None, checked=False):
    """Fit with ``engine``; return the result record (see :mod:`distreg.result`).

    ``names`` receives the coefficient names (without intercept) when a list is given;
    ``checked``: ``options.validate()`` has run already (the command line's, once per fit).
    """
    if not checked:
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
