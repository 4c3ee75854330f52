"""Helpers of the tests: the NIST reference data, LRE, small generated datasets, references.

(Not in conftest.py: each test directory has a conftest of its own, and ``from conftest
import`` would find whichever was imported last.)
"""

import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# NIST's StRD data: DISTREG_NIST_DIR; else ../shared/nist beside the repository; else the
# copy in tests/nist (public domain, the same files), so a clone anywhere has them.
NIST_DIR = Path(os.environ.get('DISTREG_NIST_DIR') or next(
    (d for d in (ROOT.parent / 'shared' / 'nist', ROOT / 'tests' / 'nist')
     if (d / 'certified.json').exists()), ROOT / 'tests' / 'nist'))


def nist_certified():
    path = NIST_DIR / 'certified.json'
    if not path.exists():
        raise FileNotFoundError('NIST reference data not found at %s (DISTREG_NIST_DIR, '
                                '../shared/nist beside the repository, or tests/nist)' % NIST_DIR)
    with open(path) as f:
        return json.load(f)


def lre(estimate, certified):
    """Log relative error (correct digits) of each coefficient, capped at 15 for exact hits."""
    estimate = np.asarray(estimate, dtype=float)
    certified = np.asarray(certified, dtype=float)
    err = np.abs(estimate - certified) / np.abs(certified)
    return -np.log10(np.maximum(err, 1e-15))


def theta(record):
    return ([record['intercept']] if record['intercept'] is not None else []) + \
        list(record['coefficients'])


def write_csv(path, y, X, header=True):
    with open(path, 'w') as f:
        if header:
            f.write(','.join(['y'] + ['x%d' % j for j in range(1, X.shape[1] + 1)]) + '\n')
        for yi, row in zip(y, X):
            f.write(','.join(repr(float(v)) for v in [yi, *row]) + '\n')
    return str(path)


def make_linear(n, p, seed=0, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * rng.uniform(0.5, 3, size=p) + rng.uniform(-2, 2, size=p)
    beta = rng.uniform(-4, 4, size=p)
    y = 1.5 + X @ beta + noise * rng.normal(size=n)
    return y, X


def lstsq(y, X, intercept=True):
    """Independent reference: numpy's SVD-based least squares on the same data."""
    A = np.column_stack([np.ones(len(y)), X]) if intercept else X
    return np.linalg.lstsq(A, y, rcond=None)[0]
