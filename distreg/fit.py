"""The engine-free driver: a method is a sequence of distributed aggregates and driver steps.

:data:`METHODS` is the method table (``--method`` name -> driver in :mod:`distreg.optim`).

An *engine* knows how to run one aggregate over all the data ("map the block
function, merge, collect"); this module knows what to ask for and what to do
with the answers. It never sees a row.

The engine contract (what ``engine`` is) is written in :mod:`distreg.engine`.
"""

import math
import time
from dataclasses import field, make_dataclass

from distreg import blocks, optim, parquet, result
from distreg.design import Design
from distreg.errors import ColumnOverflowError, DistregError, RankDeficientError
from distreg.options import COV_TYPES, OPTIONS, cluster_col


class _FitOptionsChecks:
    """What :class:`FitOptions` adds to its fields (built from :data:`distreg.options.OPTIONS`)."""

    def validate(self):
        for o in OPTIONS:
            value = getattr(self, o.name)
            if o.choices is not None and value not in o.choices:
                raise DistregError('%s must be one of %s, not %r'
                                   % (o.flag, ', '.join(o.choices), value))
        if self.model != 'linear' and self.method in ('normal', 'qr'):
            raise DistregError('--method %s solves least squares; %s regression has '
                               'no closed form: use --method newton, lbfgs or gd'
                               % (self.method, self.model))
        if self.offset_col is not None and self.model != 'poisson':
            raise DistregError('--offset-col is for --model poisson (an offset of the log '
                               'link), not --model %s' % self.model)
        if self.allow_noninteger and self.model != 'poisson':
            raise DistregError('--allow-noninteger is for --model poisson (its labels are '
                               'counts), not --model %s' % self.model)
        if self.max_iter is not None and self.max_iter < 0:
            raise DistregError('--max-iter must be >= 0, not %r' % self.max_iter)
        # 0 is allowed: no early stop, exactly --max-iter iterations (fixed-work benchmarks)
        if self.tol is not None and not self.tol >= 0:
            raise DistregError('--tol must be >= 0, not %r' % self.tol)
        if self.cov not in COV_TYPES and not cluster_col(self.cov):
            raise DistregError('--cov must be one of %s or cluster:COL (COL: the column of '
                               'the cluster ids), not %r' % (', '.join(COV_TYPES), self.cov))
        if self.cov != 'nonrobust':
            if self.model != 'linear' or self.method not in ('normal', 'qr'):
                raise DistregError('--cov %s is the sandwich of a least-squares fit: it needs '
                                   '--model linear and --method normal or qr' % self.cov)
            if self.ridge:
                raise DistregError('--cov %s with --ridge: the robust sandwich of a penalised '
                                   'fit is not defined here; drop one of them' % self.cov)
        if not (self.l1 >= 0 and math.isfinite(self.l1)):
            raise DistregError('--l1 must be a finite number >= 0, not %r' % self.l1)
        if self.l1 and (self.model != 'linear' or self.method != 'normal'):
            raise DistregError('--l1 is solved by coordinate descent on the Gram: it needs '
                               '--model linear and --method normal, not --method %s'
                               % self.method)
        if self.l1 and self.cov != 'nonrobust':
            raise DistregError('--cov %s with --l1: no standard errors for a lasso fit'
                               % self.cov)
        if self.keep_stats and self.categorical:
            raise DistregError('--keep-stats with --categorical: new rows may bring new levels, '
                               'which a kept X\'X cannot take; fit again instead')
        if self.keep_stats and (self.model != 'linear' or self.method not in ('normal', 'qr')):
            raise DistregError('--keep-stats keeps the statistics of a closed form: it needs '
                               '--model linear and --method normal or qr')
        if self.max_levels is None or int(self.max_levels) != self.max_levels \
                or self.max_levels < 1:
            raise DistregError('--max-levels must be a whole number >= 1, not %r'
                               % self.max_levels)
        self.design()  # checks the degree
        return self

    def design(self):
        """The design of these options (with ``levels``: predict's and evaluate's)."""
        return Design(intercept=self.intercept, degree=self.poly_degree).with_levels(
            self.levels)

    def cluster_col(self):
        """The column of ``--cov cluster:COL``, or None."""
        return cluster_col(self.cov)


#: Everything ``distreg fit`` takes besides the input and the engine: one field per
#: :data:`distreg.options.OPTIONS` entry, with its default (see there for each one's meaning).
FitOptions = make_dataclass(
    'FitOptions', [(o.name, object, field(default=o.default)) for o in OPTIONS],
    bases=(_FitOptionsChecks,), namespace={'__module__': __name__})


class _TimedEngine:
    """Wraps an engine to time each pass over the data, and to check that rows are left."""

    def __init__(self, engine, progress=None):
        self.engine = engine
        self.pass_seconds = []
        #: the categorical columns' levels, given to every pass after the levels pass
        self.levels = None
        #: where the iterative methods print one line per iteration (None: nowhere)
        self.progress = progress

    def aggregate(self, name, params=None):
        t0 = time.perf_counter()
        params = params or {}
        if self.levels:
            params = dict(params, levels=self.levels)
        part = self.engine.aggregate(name, params)
        self.pass_seconds.append(time.perf_counter() - t0)
        if part is None or part['n'] == 0:
            # the one empty-input check of every engine: no block at all, or no usable row
            blocks.check_rows(part if part is not None
                              else {'n': 0, 'n_bad': len(self.engine.rejects)})
        return part


def fit(engine, options, names=None, checked=False, progress=None, driver=None):
    """Fit with ``engine``; return the result record (see :mod:`distreg.result`).

    ``names`` receives the coefficient names (without intercept) when a list is given;
    ``checked``: ``options.validate()`` has run already (the command line's, once per fit);
    ``progress``: a stream (e.g. ``sys.stderr``) that gets one line per iteration of an
    iterative method, whatever the engine; ``driver``: the method's driver in place of
    ``METHODS[options.method]`` (:func:`distreg.update.update`'s).
    """
    if not checked:
        options.validate()
    if options.cov != 'nonrobust' and engine.trains_itself:
        raise DistregError('--cov %s is not on %s: use spark-rdd' % (options.cov, engine.name))
    if (options.keep_stats or driver is not None) and engine.trains_itself:
        raise DistregError('--keep-stats, update and merge are not on %s (MLlib keeps no '
                           'statistics of its own): use spark-rdd' % engine.name)
    t0 = time.perf_counter()
    schema = engine.prepare(options)
    if options.offset_col is not None and getattr(schema, 'offset', None) is None:
        raise DistregError('--offset-col %s: %s input has no offset column'
                           % (options.offset_col, schema.format))
    if options.weight_col is not None and getattr(schema, 'weight', None) is None:
        raise DistregError('--weight-col %s: %s input has no weight column'
                           % (options.weight_col, schema.format))
    if options.keep_stats and getattr(schema, 'categorical', None):
        # (a Parquet text column is categorical without --categorical: the same rule; an
        # update's options keep statistics too)
        raise DistregError('%s has categorical columns (%s): kept statistics (--keep-stats, '
                           'update, merge) cannot take them, as other rows may bring other '
                           'levels; fit again instead'
                           % (engine.path, ', '.join(schema.categorical_names())))
    levels = None
    try:
        if engine.trains_itself:
            # (it ran the levels pass in prepare: its library is handed the one-hot columns)
            levels = getattr(engine, 'levels', None)
            out = engine.solve(options, progress=progress)
            pass_seconds = out.pop('pass_seconds', [])
        else:
            timed = _TimedEngine(engine, progress)
            levels = timed.levels = find_levels(timed.aggregate, schema, options)
            out = (driver or METHODS[options.method])(timed, options)
            if options.cov != 'nonrobust':
                optim.robust_cov(timed, out, options.cov)
            pass_seconds = timed.pass_seconds
    except ColumnOverflowError as e:
        raise e.name(model_column_names(schema, options, e.column + 1, levels))
    except RankDeficientError as e:
        if e.names is not None or not e.columns:
            raise
        # the solvers know column numbers; the message names the columns
        raise e.named(model_column_names(schema, options, max(e.columns) + 1,
                                         levels)) from None
    if out['stats'].get('std_errors') is not None:
        out['stats']['cov_type'] = options.cov
    timings = dict(load_seconds=engine.load_seconds, pass_seconds=pass_seconds)
    # what an engine says it recovered from on the way (spark-rdd: failed task attempts,
    # cached partitions recomputed from the input), so that a record shows its fit survived
    timings.update(getattr(engine, 'recovery', None) or {})   # optional (distreg.engine)
    record = result.make_record(
        engine.name, options.method, options.model, out['theta'], options.intercept,
        out['n_rows'], out['n_bad_rows'], out['iterations'], out['converged'], out['stats'],
        seconds=time.perf_counter() - t0, timings=timings, history=out.get('history'),
        n_rows_zero_weight=out.get('n_rows_zero_weight'), sum_weights=out.get('sum_weights'))
    coef_names = coefficient_names(schema, options, len(record['coefficients']), levels)
    result.check_finite(record, ['intercept'] * options.intercept + coef_names)
    if names is not None:
        names[:] = coef_names
    record['design'] = result.design_of(
        schema, options.poly_degree,
        options.design().with_levels(levels).n_raw(len(out['theta'])), levels)
    if options.keep_stats:
        keep_stats(record, out['partial'], options,
                   parquet.input_sources(engine.path, schema.format))
    return record


#: ``--keep-stats``: the methods whose answer is a function of one merged partial, and its
#: aggregate (distreg.update merges them)
STATS_AGGREGATE = {'normal': 'gram', 'qr': 'tsqr'}
#: the fit options a record's statistics depend on (and that merging must agree on)
STATS_OPTIONS = ('method', 'model', 'intercept', 'ridge', 'l1', 'poly_degree', 'cov')


def keep_stats(record, partial, options, sources=None):
    """Put the statistics of ``partial`` (the fit's merged partial) in ``record``, with the
    input files they hold (``sources``, :func:`distreg.parquet.input_sources`)."""
    record['sufficient_stats'] = dict(
        aggregate=STATS_AGGREGATE[options.method],
        options={k: getattr(options, k) for k in STATS_OPTIONS},
        partial=blocks.encode(partial), sources=sources)
    seal_stats(record)


def stats_digest(record):
    """SHA-256 of the record's design and statistics (all but the digest itself), as
    canonical JSON text: floats as Python writes them, which read back bit for bit."""
    import hashlib
    import json
    st = {k: v for k, v in record['sufficient_stats'].items() if k != 'digest'}
    text = json.dumps({'design': record.get('design'), 'sufficient_stats': st},
                      sort_keys=True, separators=(',', ':'))
    return 'sha256:' + hashlib.sha256(text.encode('utf-8')).hexdigest()


def seal_stats(record):
    """Write the digest of ``record``'s statistics into them: update and merge take only
    statistics as distreg wrote them (an edited number would be merged into a wrong answer
    that no check of shapes could see)."""
    record['sufficient_stats']['digest'] = stats_digest(record)


def find_levels(aggregate, schema, options):
    """The levels pass: ``[[column, [level, ...]], ...]`` of the categorical columns, by
    ``aggregate('levels', params)`` (an engine's own aggregate); None without them."""
    if not getattr(schema, 'categorical', None):
        return None
    part = aggregate('levels', {'max_levels': int(options.max_levels)})
    blocks.check_rows(part)
    return blocks.checked_levels(part, schema.categorical_names())


def model_column_names(schema, options, at_least, levels=None):
    """Names of the model matrix's columns (intercept first), at least ``at_least`` of them."""
    # (LibSVM: the width is known from the data only; this many names cover any column)
    n_coef = options.poly_degree * at_least
    return ['intercept'] * options.intercept + coefficient_names(schema, options, n_coef,
                                                                 levels)


def coefficient_names(schema, options, n_coef, levels=None):
    raw = schema.feature_names()
    design = options.design().with_levels(levels)
    if raw is None:
        raw = ['x%d' % i for i in range(1, design.n_raw(n_coef + int(options.intercept)) + 1)]
    return design.coef_names(raw)


#: The method table: ``--method`` name -> its driver (:mod:`distreg.optim`). A new method is a
#: driver there and one entry here.
METHODS = {'normal': optim.fit_normal, 'qr': optim.fit_qr, 'gd': optim.fit_gd,
           'lbfgs': optim.fit_lbfgs, 'newton': optim.fit_newton}
