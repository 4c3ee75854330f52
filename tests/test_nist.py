"""NIST StRD certified values: --method qr keeps at least 9 correct digits on every engine,
in the coefficients and in the standard errors, residual SD and R² (helpers.NIST_MIN_LRE).

The log relative error (LRE) of each coefficient is its number of correct digits;
the minimum over the coefficients is what counts. --method normal is reported
too (it loses digits on the hard sets: that is the lesson, not a bug).
"""

import numpy as np
import pytest

from helpers import NIST_DIR, check_nist_digits, lre, nist_certified, theta
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
def test_qr_keeps_nist_digits(name, engine):
    """Coefficients, standard errors, residual SD and R²: each to its dataset's least LRE."""
    check_nist_digits(name, fit_nist(name, engine, 'qr'), CERTIFIED[name], engine)


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
