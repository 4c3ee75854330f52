"""NIST StRD certified values: --method qr keeps at least 9 correct digits on every engine.

The log relative error (LRE) of each coefficient is its number of correct digits;
the minimum over the coefficients is what counts. --method normal is reported
too (it loses digits on the hard sets: that is the lesson, not a bug).
"""

import numpy as np
import pytest

from helpers import NIST_DIR, lre, nist_certified, theta
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


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('name', sorted(CERTIFIED))
def test_qr_keeps_nine_digits(name, engine):
    record = fit_nist(name, engine, 'qr')
    digits = lre(theta(record), CERTIFIED[name]['beta'])
    assert digits.min() >= 9, '%s on %s: LRE %s' % (name, engine, np.round(digits, 2))
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


@pytest.mark.parametrize('name', sorted(CERTIFIED))
def test_normal_equations_are_exact_where_the_data_allow(name):
    """Reported, not a target: normal either answers (LRE printed) or refuses clearly."""
    try:
        record = fit_nist(name, 'numpy', 'normal')
    except SingularMatrixError as e:
        assert '--method qr' in str(e)
        return
    digits = lre(theta(record), CERTIFIED[name]['beta']).min()
    print('%s normal LRE %.2f' % (name, digits))
    assert digits > 0
