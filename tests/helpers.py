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


# --------------------------------------------------------------------------- predict, evaluate

def write_tied_logistic(path, n, seed=0):
    """Logistic data whose features take 4 values each: many rows share a score (ties)."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, size=(n, 2)).astype(float)
    p = 1 / (1 + np.exp(-(-1.0 + 0.8 * X[:, 0] - 0.5 * X[:, 1])))
    y = (rng.uniform(size=n) < p).astype(float)
    write_csv(path, y, X)
    return y, X


def read_csv_columns(path):
    """Label and features of a CSV with a header (the test's own reading, not the loader's)."""
    data = np.loadtxt(path, delimiter=',', skiprows=1, ndmin=2)
    return data[:, 0], data[:, 1:]


def check_linear_metrics(metrics, y, pred):
    """Evaluate's metrics against numpy on the label and the predictions."""
    r = y - pred
    assert metrics['n'] == len(y)
    assert np.isclose(metrics['rmse'], np.sqrt(np.mean(r * r)), rtol=1e-12, atol=0)
    assert np.isclose(metrics['mae'], np.mean(np.abs(r)), rtol=1e-12, atol=0)
    assert np.isclose(metrics['r2'], 1 - r @ r / np.sum((y - y.mean()) ** 2), rtol=1e-12, atol=0)


def check_logistic_metrics(metrics, y, prob):
    """Evaluate's metrics against scikit-learn on the label and the predicted probabilities."""
    from sklearn.metrics import confusion_matrix, log_loss, roc_auc_score
    assert metrics['n'] == len(y)
    # exact AUC: integer counts in both, one division
    assert metrics['roc_auc'] == pytest_approx(roc_auc_score(y, prob), 1e-15)
    # tol: sklearn forms log(1 - p) from p, which cancels for p near 1 (ours uses the margin)
    assert metrics['log_loss'] == pytest_approx(log_loss(y, prob), 1e-10)
    (tn, fp), (fn, tp) = confusion_matrix(y, (prob >= 0.5).astype(float), labels=[0, 1])
    assert metrics['confusion'] == dict(tn=tn, fp=fp, fn=fn, tp=tp)
    assert metrics['accuracy'] == (tn + tp) / len(y)


def pytest_approx(value, rel):
    import pytest
    return pytest.approx(value, rel=rel, abs=0)


def read_predictions(path):
    """Lines of a predict output: floats, or (probability, class) pairs; '' stays ''."""
    with open(path) as f:
        return f.read().split('\n')[:-1]
