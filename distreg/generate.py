"""Synthetic data with a known answer: ``distreg generate`` writes the data and PATH.truth.json.

Features are standard normal and every value is written with 10 significant
digits (a 1M x 20 CSV is about 275 MB); the label is
``intercept + X beta + noise * N(0, 1)`` (linear), a Bernoulli draw with
probability ``sigmoid(intercept + X beta)`` (logistic) or a Poisson count of mean
``exp(intercept + X beta)`` (poisson; ``noise`` is not used). What is in the file is
the data: a fit is checked against a reference fit of the same file, the truth
file says what the generator meant (it differs from the best fit by the noise).

A table as users have them (``--categorical K``, ``--weights``): a text column ``region``
of K levels, each adding its own effect to the linear predictor (the first level, sorted,
adds 0: the coefficients of ``region[T.level]`` are the effects), and a column ``w`` of
integer frequency weights 0..3 (they do not change the label's distribution).
"""

import json

import numpy as np

from distreg.errors import DistregError
from distreg.loader import FORMATS, MODELS

#: Rows generated and written at a time (bounded memory for any --rows).
ROWS_PER_CHUNK = 100_000
#: With --format libsvm a feature is 0 (and so absent from its line) with this probability.
LIBSVM_ZERO_FRACTION = 0.3
#: The levels of ``--categorical K``'s column ``region`` (K <= 8; beyond, level001, ...).
REGIONS = ('central', 'coast', 'east', 'island', 'mountain', 'north', 'south', 'west')


def truth_path(out):
    return out + '.truth.json'


def generate(rows, features, out, model='linear', noise=0.1, seed=0, fmt='csv', categorical=0,
             weights=False):
    """Write ``rows`` x ``features`` data to ``out`` and its truth file; return the truth dict.
    ``categorical``: the levels of a column ``region`` (0: none); ``weights``: a column ``w``."""
    if rows < 1 or features < 1:
        raise DistregError('--rows and --features must be >= 1 (got %r, %r)' % (rows, features))
    if not 0 <= categorical <= 1000 or categorical == 1:
        raise DistregError('--categorical must be 0 (none) or 2..1000 levels, not %r'
                           % categorical)
    if (categorical or weights) and fmt == 'libsvm':
        raise DistregError('--categorical and --weights write columns: use --format csv or '
                           'parquet')
    if model not in MODELS or fmt not in FORMATS:
        raise DistregError('--model must be one of %s and --format one of %s'
                           % (', '.join(MODELS), ', '.join(FORMATS)))
    if not noise >= 0:
        raise DistregError('--noise must be >= 0, not %r' % noise)
    rng = np.random.default_rng(seed)
    if model == 'linear':
        beta = np.round(rng.uniform(-5, 5, features), 3)
        intercept = float(np.round(rng.uniform(-5, 5), 3))
    elif model == 'logistic':
        # small enough that the classes overlap (a finite maximum-likelihood answer)
        beta = np.round(rng.normal(0, 1.0 / np.sqrt(features), features), 3)
        intercept = float(np.round(rng.normal(0, 0.5), 3))
    else:
        # counts of a few on average: exp(eta) stays moderate for standard normal features
        beta = np.round(rng.normal(0, 0.5 / np.sqrt(features), features), 3)
        intercept = float(np.round(rng.normal(1.0, 0.3), 3))
    levels = (list(REGIONS[:categorical]) if categorical <= len(REGIONS)
              else ['level%03d' % i for i in range(1, categorical + 1)])
    effects = np.round(rng.uniform(-2, 2, categorical), 3) if categorical else np.zeros(0)
    if categorical:
        effects[0] = 0.0       # the reference level (the first, sorted)
    extra = (['region'] if categorical else []) + (['w'] if weights else [])
    with _output(out, fmt, features, model, extra) as f:
        if fmt == 'csv':
            f.write(','.join(['y'] + ['x%d' % j for j in range(1, features + 1)] + extra)
                    + '\n')
        for start in range(0, rows, ROWS_PER_CHUNK):
            n = min(ROWS_PER_CHUNK, rows - start)
            X = _round_significant(rng.standard_normal((n, features)))
            if fmt == 'libsvm':
                X[rng.random((n, features)) < LIBSVM_ZERO_FRACTION] = 0.0
            eta = intercept + X @ beta
            columns = []
            if categorical:
                code = rng.integers(0, categorical, n)
                eta = eta + effects[code]
                columns.append(np.array(levels, dtype=object)[code])
            if weights:
                columns.append(rng.integers(0, 4, n))
            if model == 'linear':
                y = _round_significant(eta + noise * rng.standard_normal(n))
            elif model == 'logistic':
                y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int64)
            else:
                y = rng.poisson(np.exp(eta)).astype(np.int64)
            if fmt == 'parquet':
                f.write([y] + [X[:, j] for j in range(features)] + columns)  # one row group
            else:
                f.write(_format_rows(y, X, fmt, columns))
    truth = dict(engine='truth', method='generator', model=model, intercept=intercept,
                 coefficients=beta.tolist(), rows=rows, features=features, noise=noise,
                 seed=seed, format=fmt)
    if categorical:
        # as the fit names them: region[T.level], the first level the reference
        truth['categorical'] = {'region[T.%s]' % lv: float(e)
                                for lv, e in zip(levels[1:], effects[1:])}
    if weights:
        truth['weight_col'] = 'w'
    with open(truth_path(out), 'w') as f:
        json.dump(truth, f, indent=1)
        f.write('\n')
    return truth


def _output(out, fmt, features, model, extra=()):
    """The file being written: text, or (Parquet) a writer of one row group per batch."""
    if fmt != 'parquet':
        return open(out, 'w', newline='')
    import pyarrow as pa
    from distreg.parquet import Writer
    names = ['y'] + ['x%d' % j for j in range(1, features + 1)] + list(extra)
    # a logistic or Poisson label is an integer column, as in the CSV ("0", "1", "7"); region
    # is text, the weights integers
    types = {'region': pa.string(), 'w': pa.int64()}
    if model != 'linear':
        types['y'] = pa.int64()
    return Writer(out, names, types)


def _round_significant(a, digits=10):
    """Round to ``digits`` significant digits: the nearest double to a short decimal."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(divide='ignore'):
        exponent = np.floor(np.log10(np.abs(np.where(a == 0, 1.0, a))))
    scale = 10.0 ** (digits - 1 - exponent)
    # a power of ten up to 1e22 is exact, so round(a*s)/s is correctly rounded
    return np.where(np.abs(scale) < 1e22, np.round(a * scale) / scale, a)


def _format_rows(y, X, fmt, extra=()):
    # Arrow formats a whole column at once (shortest round-trip text of each double).
    import pyarrow as pa
    import pyarrow.compute as pc
    ytext = pc.cast(pa.array(y), pa.string()).to_pylist()
    cols = [pc.cast(pa.array(X[:, j]), pa.string()).to_pylist() for j in range(X.shape[1])]
    cols += [pc.cast(pa.array(c), pa.string()).to_pylist() for c in extra]
    if fmt == 'csv':
        return ''.join(','.join(row) + '\n' for row in zip(ytext, *cols))
    lines = []
    for i, label in enumerate(ytext):
        items = ['%d:%s' % (j + 1, cols[j][i]) for j in np.flatnonzero(X[i])]
        lines.append(' '.join([label] + items) + '\n')
    return ''.join(lines)
