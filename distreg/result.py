"""The result record (the JSON other tools read) and its human summary table."""

import json
import math

from distreg.solvers import COND_WARN

#: Keys of the result record, in order (DESIGN.md's contract).
#: ``n_rows_zero_weight`` and ``sum_weights``: with ``--weight-col`` only (else None); the
#: weights are frequency weights (sum_weights is the n of inference, see distreg.inference).
RECORD_KEYS = ('engine', 'method', 'model', 'intercept', 'coefficients', 'n_rows',
               'n_bad_rows', 'n_rows_zero_weight', 'sum_weights', 'iterations', 'converged',
               'seconds', 'timings', 'stats', 'history')
#: Keys of one ``history`` entry (one per iteration of an iterative method; iteration 0 is
#: the starting point; ``seconds`` from the method's start, the load not included;
#: ``grad_norm`` and ``seconds`` may be None when the engine does not report them: MLlib).
HISTORY_KEYS = ('iteration', 'loss', 'grad_norm', 'seconds')
#: ``condition_number``: the model matrix's, after power-of-two column scaling (normal and qr;
#: None for the iterative methods); ``cov_type``: the covariance behind ``std_errors``
#: (``--cov``: nonrobust, or HC0-HC3 and cluster:COL, whose t values are z values);
#: ``n_clusters``: the clusters of ``--cov cluster:COL`` (None for another covariance).
STATS_KEYS = ('r2', 'rmse', 'residual_sd', 'std_errors', 't_values', 'p_values',
              'condition_number', 'cov_type', 'n_clusters')
#: Further ``stats`` of a Poisson record (``--model poisson`` only; see
#: :func:`distreg.optim.poisson_stats`): the family and link by name, the deviance, Pearson's
#: chi2, the null (intercept-only) deviance, the log-likelihood and the AIC.
POISSON_STATS_KEYS = ('family', 'link', 'deviance', 'pearson_chi2', 'null_deviance',
                      'log_likelihood', 'aic')
#: Keys of the record's ``design``: what ``predict`` and ``evaluate`` need to read new rows
#: the way the model's rows were read (any engine's record works on any engine).
#: ``weight_col``: the sample-weight column (None without), never a feature;
#: ``cluster_col``: the column of ``--cov cluster:COL`` (None without), never a feature;
#: ``offset_col``: the offset column of a Poisson model (None without), never a feature;
#: records written before they existed have none (:data:`OPTIONAL_DESIGN_KEYS`).
#: ``levels``: the categorical columns (``--categorical``) and their levels, in the model
#: matrix's order, ``[[column, [level, ...]], ...]`` (levels sorted by their text; None
#: without); ``feature_names`` and ``n_features`` are the numeric features only.
DESIGN_KEYS = ('poly_degree', 'n_features', 'format', 'label_col', 'feature_names',
               'weight_col', 'cluster_col', 'offset_col', 'levels')
OPTIONAL_DESIGN_KEYS = ('weight_col', 'cluster_col', 'offset_col', 'levels')


def make_record(engine, method, model, theta, intercept, n_rows, n_bad_rows, iterations,
                converged, stats, seconds=None, timings=None, history=None,
                n_rows_zero_weight=None, sum_weights=None):
    """Build a result record. ``theta`` has the intercept first when ``intercept``.

    ``history``: the iterations' entries (:data:`HISTORY_KEYS`); empty for a closed form.
    """
    theta = [float(v) for v in theta]
    return dict(
        engine=engine, method=method, model=model,
        intercept=theta[0] if intercept else None,
        coefficients=theta[1:] if intercept else theta,
        n_rows=int(n_rows), n_bad_rows=int(n_bad_rows),
        n_rows_zero_weight=None if n_rows_zero_weight is None else int(n_rows_zero_weight),
        sum_weights=None if sum_weights is None else float(sum_weights),
        iterations=int(iterations), converged=bool(converged),
        seconds=seconds,
        timings=timings or dict(load_seconds=None, pass_seconds=[]),
        stats={k: stats.get(k) for k in stats_keys(model)},
        history=[{k: h.get(k) for k in HISTORY_KEYS} for h in history or []])


def stats_keys(model):
    """The keys of a record's ``stats`` for ``model``."""
    return STATS_KEYS + (POISSON_STATS_KEYS if model == 'poisson' else ())


def check_finite(record, names):
    """Refuse a record with NaN or Inf in it (JSON has no such numbers; no tool could read it).

    ``names`` are the coefficients' names, intercept first (as in ``stats``).
    """
    from distreg.errors import DistregError
    fields = [('coefficient', [record['intercept']] if record['intercept'] is not None else [])]
    fields[0][1].extend(record['coefficients'])
    fields += [(k, record['stats'].get(k)) for k in stats_keys(record['model'])]
    for what, value in fields:
        values = value if isinstance(value, list) else [value]
        for i, v in enumerate(values):
            if isinstance(v, float) and not math.isfinite(v):
                of = ' of %s' % names[i] if isinstance(value, list) and i < len(names) else ''
                raise DistregError(
                    'the %s%s is %r: beyond what float64 holds (values near the float64 '
                    'limit?); rescale the data. No result written' % (what, of, v))


def design_of(schema, poly_degree, n_features, levels=None):
    """The record's ``design``: the input's format, the label column (by name when the
    input had a header, else by index), the raw features' names and count, the degree,
    the categorical columns' levels."""
    label = weight = cluster = offset = None
    if schema.format in ('csv', 'parquet') and schema.label is not None:
        def name(i):
            return schema.names[i] if schema.names else i
        label = name(schema.label)
        if schema.weight is not None:
            weight = name(schema.weight)
        if schema.cluster is not None:
            cluster = name(schema.cluster)
        if schema.offset is not None:
            offset = name(schema.offset)
    return dict(poly_degree=int(poly_degree), n_features=int(n_features), format=schema.format,
                label_col=label, feature_names=schema.feature_names(), weight_col=weight,
                cluster_col=cluster, offset_col=offset,
                levels=[[str(name), list(values)] for name, values in levels] if levels else None)


def theta_of(record):
    """Coefficients with the intercept first (when there is one), as in ``stats``."""
    head = [] if record['intercept'] is None else [record['intercept']]
    return head + list(record['coefficients'])


def dumps(record):
    """JSON text; floats written so they round-trip exactly (Python's repr)."""
    return json.dumps(record, indent=1, allow_nan=False)


def write(record, path):
    write_atomic(path, dumps(record) + '\n')


def write_atomic(path, text):
    """Write ``text`` to ``path`` whole or not at all: a temporary name in the same
    directory, then a rename (a failed or interrupted write leaves ``path`` as it was)."""
    import os
    import tempfile
    from distreg.interrupt import check, deferred
    check()  # a SIGTERM raised before, and caught by code that catches everything
    folder = os.path.dirname(os.path.abspath(path))
    with deferred():  # a SIGTERM waits: no temporary file is left between mkstemp and try
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp',
                                   dir=folder)
        try:
            with os.fdopen(fd, 'w') as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


def load(path):
    """The result record in the file ``path``; a clear error for a file that cannot be read
    or is not a record (update, merge, predict, evaluate take one)."""
    from distreg.errors import DistregError
    try:
        with open(path) as f:
            record = json.load(f)
    except OSError as e:
        raise DistregError('cannot read the record %s: %s' % (path, e.strerror or e))
    except ValueError as e:   # not JSON (json.JSONDecodeError), or not UTF-8 text
        raise DistregError('%s is not a distreg result record: it is not JSON (%s)'
                           % (path, str(e).split('\n')[0][:200]))
    if not isinstance(record, dict):
        raise DistregError('%s is not a distreg result record: it holds a JSON %s, not an '
                           'object' % (path, type(record).__name__))
    # records written before `history` existed are still records (of no known history)
    record.setdefault('history', [])
    # nor are those written before --weight-col (unweighted: no weight counts)
    record.setdefault('n_rows_zero_weight', None)
    record.setdefault('sum_weights', None)
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise DistregError('%s is not a distreg result record: missing %s'
                           % (path, ', '.join(missing)))
    return record


def summary(record, names=None):
    """A statsmodels-like text table of one record."""
    theta = theta_of(record)
    stats = record['stats']
    if names is None:
        names = ['x%d' % i for i in range(1, len(record['coefficients']) + 1)]
    labels = (['intercept'] if record['intercept'] is not None else []) + list(names)
    width = 78
    title = '%s regression: %s, method %s' % (record['model'], record['engine'], record['method'])
    lines = ['=' * width, title.center(width), '=' * width]
    info = [('Rows used:', record['n_rows']), ('Rejected rows:', record['n_bad_rows'])]
    if record.get('sum_weights') is not None:
        # frequency weights: a row of weight k counts as k rows in every statistic
        info += [('Weights:', 'frequency (n = sum w)'),
                 ('Sum of weights:', _num(record['sum_weights'])),
                 ('Zero-weight rows:', record['n_rows_zero_weight']), ('', '')]
    if record['model'] == 'poisson':
        info += [('Family:', 'Poisson'), ('Link:', 'log'),
                 ('Deviance:', _num(stats.get('deviance'))),
                 ('Pearson chi2:', _num(stats.get('pearson_chi2'))),
                 ('Null deviance:', _num(stats.get('null_deviance'))),
                 ('Log-likelihood:', _num(stats.get('log_likelihood'))),
                 ('AIC:', _num(stats.get('aic'))), ('', '')]
    info += [('Iterations:', record['iterations']),
             ('Converged:', 'yes' if record['converged'] else 'NO'),
             ('R-squared:', _num(stats.get('r2'))), ('RMSE:', _num(stats.get('rmse'))),
             ('Residual SD:', _num(stats.get('residual_sd'))),
             ('Seconds:', _num(record.get('seconds'), '%.3f'))]
    cond = stats.get('condition_number')
    if cond is not None:
        info.append(('Cond. No.:', _num(cond, '%.3g')))
    robust = stats.get('cov_type') not in (None, 'nonrobust')
    if stats.get('cov_type') is not None:
        clusters = ', %d clusters' % stats['n_clusters'] if stats.get('n_clusters') else ''
        info.append(('Covariance:', stats['cov_type'] + clusters +
                     (' (z, normal p)' if robust else '')))
    for i in range(0, len(info), 2):
        left = '%-15s %-22s' % (info[i][0], info[i][1])
        right = '%-15s %s' % info[i + 1] if i + 1 < len(info) else ''
        lines.append(left + ' ' + right)
    lines.append('-' * width)
    test = 'P>|z|' if record['model'] in ('logistic', 'poisson') or robust else 'P>|t|'
    lines.append('%-22s %20s %14s %10s %9s' % ('', 'coef', 'std err', 't' if test == 'P>|t|'
                                              else 'z', test))
    se = stats.get('std_errors') or [None] * len(theta)
    tv = stats.get('t_values') or [None] * len(theta)
    pv = stats.get('p_values') or [None] * len(theta)
    for label, c, s, t, p in zip(labels, theta, se, tv, pv):
        lines.append('%-22s %20s %14s %10s %9s' % (label[:22], '%.12g' % c, _num(s, '%.6g'),
                                                   _num(t, '%.4g'), _num(p, '%.3g')))
    lines.append('=' * width)
    if cond is not None and cond > COND_WARN:
        lines.append('Warning: the condition number is %.3g (above %.0e): the coefficients are '
                     'sensitive to the last digits of the data.' % (cond, COND_WARN))
    return '\n'.join(lines)


def _num(v, fmt='%.10g'):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return '-'
    return fmt % v
