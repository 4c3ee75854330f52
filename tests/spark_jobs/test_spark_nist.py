"""spark-rdd --method qr keeps at least 9 correct digits (min LRE over the coefficients) on every
NIST StRD linear least-squares dataset (see helpers.NIST_DIR): each set's own minimum,
helpers.QR_MIN_LRE, as on the other engines."""

import numpy as np
import pytest
from helpers import NIST_DIR, QR_MIN_LRE, lre, nist_certified
from spark_helpers import spark_fit

from distreg.result import theta_of


def certified():
    return nist_certified()


@pytest.mark.parametrize('name', sorted(certified()))
def test_qr_keeps_its_digits(spark, name):
    cert = certified()[name]
    rec = spark_fit(spark, str(NIST_DIR / (name + '.csv')), method='qr',
                    intercept=cert['intercept'], poly_degree=cert.get('degree', 1))
    assert rec['n_rows'] == cert['n']
    digits = lre(theta_of(rec), cert['beta'])
    assert digits.min() >= QR_MIN_LRE[name], '%s: LRE %s' % (name, np.round(digits, 2))
