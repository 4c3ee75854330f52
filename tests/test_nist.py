"""NIST StRD certified values: --method qr keeps at least 9 correct digits on every engine.

The log relative error (LRE) of each coefficient is its number of correct digits; the
minimum over the coefficients is what counts. Each dataset has its own minimum per method
(helpers.QR_MIN_LRE, NORMAL_MIN_LRE): qr far above 9, normal as many digits as it keeps on
that set (it loses digits on the hard sets: that is the lesson, not a bug). normal refuses
only where helpers.NORMAL_REFUSES says it must.
"""

import numpy as np
import pytest

from helpers import (NIST_DIR, NORMAL_MIN_LRE, NORMAL_REFUSES, QR_MIN_LRE, lre,
                     nist_certified, theta)
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
    assert set(QR_MIN_LRE) == set(NORMAL_MIN_LRE) == set(CERTIFIED)
    assert min(QR_MIN_LRE.values()) >= 9 and NORMAL_REFUSES <= set(CERTIFIED)


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('name', sorted(CERTIFIED))
def test_qr_keeps_nine_digits(name, engine):
    record = fit_nist(name, engine, 'qr')
    digits = lre(theta(record), CERTIFIED[name]['beta'])
    assert digits.min() >= QR_MIN_LRE[name], '%s on %s: LRE %s' % (
        name, engine, np.round(digits, 2))
    assert record['n_rows'] == CERTIFIED[name]['n']
    assert record['converged']


@pytest.mark.parametrize('name', sorted(CERTIFIED))
def test_qr_statistics_match_certified(name):
    """Residual SD and R² come from extended-precision residuals: many digits too."""
    c = CERTIFIED[name]
    stats = fit_nist(name, 'numpy', 'qr')['stats']
    if c['residual_sd'] == 0:          # an exact fit: the residual is rounding noise
        assert stats['residual_sd'] < 1e-12 * np.abs(c['beta']).max()
    else:
        assert lre([stats['residual_sd']], [c['residual_sd']]).min() >= 9
    assert lre([stats['r2']], [c['r_squared']]).min() >= 9
    sd = np.array(c['beta_sd'])
    if (sd > 0).all():
        assert lre(stats['std_errors'], sd).min() >= 6


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
