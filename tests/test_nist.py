"""NIST StRD certified values: --method qr keeps at least 9 correct digits on every engine,
in the coefficients and in the standard errors, residual SD and R² (helpers.NIST_MIN_LRE).

The log relative error (LRE) of each coefficient is its number of correct digits; the
minimum over the coefficients is what counts. Each dataset has its own minimum per method
(helpers.QR_MIN_LRE, NORMAL_MIN_LRE): qr far above 9, normal as many digits as it keeps on
that set (it loses digits on the hard sets: that is the lesson, not a bug). normal refuses
only where helpers.NORMAL_REFUSES says it must.
"""

import numpy as np
import pytest

from helpers import (NIST_DIR, NIST_MIN_LRE, NORMAL_MIN_LRE, NORMAL_REFUSES, QR_MIN_LRE,
                     check_nist_digits, lre, nist_certified, theta)
from distreg.cli import make_engine
from distreg.errors import SingularMatrixError
from distreg.fit import FitOptions, fit

CERTIFIED = nist_certified()
ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


def fit_nist(name, engine, method):
    c = CERTIFIED[name]
    options = FitOptions(method=method, intercept=c['intercept'],
                         poly_degree=c.get('degree', 1))
    return fit(make_engine(engine, str(NIST_DIR / ('%s.csv' % name))), options)


def test_every_dataset_has_its_minimums():
    assert set(CERTIFIED) <= set(QR_MIN_LRE) == set(NORMAL_MIN_LRE) == set(NIST_MIN_LRE)
    assert min(QR_MIN_LRE.values()) >= 9 and NORMAL_REFUSES <= set(QR_MIN_LRE)


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('name', sorted(CERTIFIED))
def test_qr_keeps_nist_digits(name, engine):
    """Coefficients, standard errors, residual SD and R²: each to its dataset's least LRE."""
    check_nist_digits(name, fit_nist(name, engine, 'qr'), CERTIFIED[name], engine)


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
@pytest.mark.parametrize('name', sorted(CERTIFIED))
def test_normal_equations_keep_their_digits_or_refuse_where_named(name, engine):
    """normal answers with at least its minimum LRE on this set, or (only on the sets named
    in NORMAL_REFUSES) refuses with a message pointing to --method qr."""
    if name in NORMAL_REFUSES:
        with pytest.raises(SingularMatrixError, match='--method qr'):
            fit_nist(name, engine, 'normal')
        return
    record = fit_nist(name, engine, 'normal')
    digits = lre(theta(record), CERTIFIED[name]['beta'])
    print('%s normal on %s: LRE %.2f' % (name, engine, digits.min()))
    assert digits.min() >= NORMAL_MIN_LRE[name], '%s on %s: LRE %s' % (
        name, engine, np.round(digits, 2))
    assert record['n_rows'] == CERTIFIED[name]['n'] and record['converged']
