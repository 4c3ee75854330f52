"""The options of a fit, written once: name, type, default, legal values, help.

This is the home of every ``distreg fit`` option (DESIGN.md's "Contract the rest of
the world sees"). From :data:`OPTIONS` are built:

- the ``distreg fit`` switches (and the spark-submit scripts'): :func:`add_arguments`;
- the :class:`distreg.fit.FitOptions` dataclass (its fields and defaults);
- the mrjob jobs' switches (:mod:`jobs.block_job`, for a job run by hand) and the one
  JSON passthrough argument ``--fit-options`` that ``distreg fit`` hands its jobs
  (:func:`to_json` / :func:`from_json`), as it hands them the schema.

A new option is one entry here (with ``job=True`` when the map tasks need it), its
check in :meth:`distreg.fit.FitOptions.validate` when it has one beyond its legal
values, and the code that uses it.
"""

import json
from dataclasses import dataclass

from distreg.loader import BAD_ROW_POLICIES, FORMAT_CHOICES, MODELS

#: ``--cov`` names: the covariance of the coefficients (distreg.optim.robust_cov); and
#: ``cluster:COL``, clustered by the values of column COL (see :func:`cluster_col`).
COV_TYPES = ('nonrobust', 'HC0', 'HC1', 'HC2', 'HC3')
CLUSTER = 'cluster:'


def cluster_col(cov):
    """The column of ``--cov cluster:COL`` (None for another --cov)."""
    return cov[len(CLUSTER):] if isinstance(cov, str) and cov.startswith(CLUSTER) else None

#: ``--method`` names; distreg.fit.METHODS maps each to its driver (a test keeps them equal).
METHOD_NAMES = ('normal', 'qr', 'gd', 'lbfgs', 'newton')


@dataclass(frozen=True)
class Option:
    name: str               # the attribute (FitOptions field, argparse dest)
    flag: str               # the command-line switch
    type: object            # how a switch's text becomes the value (None: kept as text)
    default: object
    choices: tuple = None   # legal values, or None
    help: str = None
    #: a switch that turns the option off (``--no-intercept``: intercept=False)
    negates: bool = False
    #: a switch that turns the option on (``--keep-stats``: keep_stats=True)
    switch: bool = False
    #: the map tasks need it (passed to mrjob's tasks; a job run by hand takes the switch)
    job: bool = False
    #: a switch of ``distreg fit`` (False: set by other commands, e.g. predict's n_features)
    fit_switch: bool = True
    #: the value's name in usage lines and the README's table (``--ridge L``)
    metavar: str = None


OPTIONS = (
    Option('method', '--method', str, 'normal', METHOD_NAMES,
           'normal (normal equations), qr (TSQR + refinement), gd, lbfgs, newton'),
    Option('model', '--model', str, 'linear', MODELS,
           'linear (least squares), logistic (labels in {0, 1}) or poisson (counts, log '
           'link; docs/poisson.md)', job=True),
    Option('intercept', '--no-intercept', None, True, negates=True,
           help='fit without an intercept', job=True),
    Option('ridge', '--ridge', float, 0.0,
           help='L2 penalty on every coefficient but the intercept', job=True, metavar='L'),
    Option('l1', '--l1', float, 0.0,
           help='L1 penalty (lasso; elastic net with --ridge) on every coefficient but the '
                "intercept; --method normal: coordinate descent on X'X", metavar='L1'),
    Option('poly_degree', '--poly-degree', int, 1,
           help='each raw feature x gives x, x^2, ..., x^D', job=True, metavar='D'),
    Option('label_col', '--label-col', None, None,
           help='label column by name (needs a header) or index. Default: first', job=True,
           metavar='C'),
    Option('weight_col', '--weight-col', None, None,
           help='sample-weight column (finite, >= 0), by name or index: frequency weights '
                '(weight k = the row k times); not a feature. Default: none', job=True,
           metavar='W'),
    Option('offset_col', '--offset-col', None, None,
           help='poisson: offset column (finite), by name or index: added to every row\'s '
                'linear predictor, log(mu) = x\'theta + offset (e.g. the log of the exposure); '
                'not a feature. Default: none', job=True, metavar='O'),
    Option('allow_noninteger', '--allow-noninteger', None, False, switch=True,
           help='poisson: take any label >= 0, not only counts (else a non-integer label is '
                'a bad row)', job=True),
    Option('format', '--format', str, 'auto', FORMAT_CHOICES,
           'input format; auto: Parquet when the file starts with PAR1, LibSVM when the '
           'first line reads "label idx:val ...", else CSV', job=True),
    Option('features', '--features', None, None,
           help='Parquet: the feature columns, by name, separated by commas. Default: every '
                'numeric column but the label', job=True, metavar='A,B'),
    Option('categorical', '--categorical', None, None,
           help='categorical columns, by name (or index without a header), separated by '
                'commas: one-hot, levels in sorted order, the first dropped with an intercept '
                '(a string or dictionary Parquet column in --features is one already). '
                'Default: none', job=True, metavar='C1,C2'),
    Option('max_levels', '--max-levels', int, 1000,
           help='the most levels a categorical column may have (more: an error, found in '
                'the levels pass before the fit)', job=True, metavar='K'),
    Option('bad_rows', '--bad-rows', str, 'fail', BAD_ROW_POLICIES,
           'fail: stop at the first bad row; skip: leave bad rows out, count them and keep '
           'them', job=True),
    Option('max_iter', '--max-iter', int, None,
           help='iterative methods: iteration limit (qr: refinement passes)', metavar='N'),
    Option('tol', '--tol', float, None, help='iterative methods: relative tolerance; 0 runs '
           'exactly --max-iter iterations', metavar='T'),
    Option('cov', '--cov', str, 'nonrobust', None,
           "standard errors (normal, qr): nonrobust, sigma^2 (X'X)^-1; HC0-HC3, White's "
           "heteroskedasticity-robust sandwich as statsmodels' cov_type; cluster:COL, "
           "clustered by the numeric ids in column COL (one more pass; z and normal p values)",
           job=True, metavar='{nonrobust,HC0,HC1,HC2,HC3,cluster:COL}'),
    Option('keep_stats', '--keep-stats', None, False, switch=True,
           help="normal, qr: keep the sufficient statistics (X'X or TSQR's R) in the record, "
                'for distreg update and merge'),
    Option('folds', '--folds', int, None,
           help='distreg cv: the number of folds (each row is in fold key mod K, its key a '
                'stable hash of its file and position: distreg/folds.py)',
           job=True, fit_switch=False, metavar='K'),
    Option('n_features', '--n-features', int, None,
           help='predict, evaluate: the raw features of the model; the input has them, with '
                'or without the label (see distreg.loader.sniff_schema)',
           job=True, fit_switch=False),
    Option('levels', '--levels', json.loads, None,
           help='predict, evaluate: the levels of the model\'s categorical columns '
                '([[column, [level, ...]], ...], from its record); a level not among them is '
                'a bad row', job=True, fit_switch=False),
)

JOB_OPTIONS = tuple(o for o in OPTIONS if o.job)
FIT_SWITCHES = tuple(o for o in OPTIONS if o.fit_switch)


def add_arguments(parser, options=FIT_SWITCHES, add=None):
    """Add the switches of ``options`` to an argparse parser (``add``: its add_argument)."""
    add = add or parser.add_argument
    for o in options:
        if o.negates or o.switch:
            add(o.flag, dest=o.name, action='store_false' if o.negates else 'store_true',
                default=o.default, help=o.help)
            continue
        kw = dict(dest=o.name, default=o.default, help=o.help)
        if o.metavar is not None:
            kw['metavar'] = o.metavar
        if o.type is not None:
            kw['type'] = o.type
        if o.choices is not None:
            kw['choices'] = o.choices
        add(o.flag, **kw)


def values(namespace, options=OPTIONS):
    """{name: value} of ``options`` from a parsed argparse namespace."""
    return {o.name: getattr(namespace, o.name, o.default) for o in options}


def to_json(fit_options, options=JOB_OPTIONS):
    """The ``--fit-options`` passthrough of the map tasks (floats round-trip exactly)."""
    return json.dumps({o.name: getattr(fit_options, o.name) for o in options},
                      allow_nan=False)


def from_json(text):
    return json.loads(text)
