"""spark-rdd --method qr keeps at least 9 correct digits on every NIST StRD linear least-squares
dataset (see helpers.NIST_DIR): coefficients, standard errors, residual SD and R², each to its
dataset's least LRE (helpers.NIST_MIN_LRE)."""

import pytest
from helpers import NIST_DIR, check_nist_digits, nist_certified
from spark_helpers import spark_fit


def certified():
    return nist_certified()


@pytest.mark.parametrize('name', sorted(certified()))
def test_qr_keeps_nist_digits(spark, name):
    cert = certified()[name]
    rec = spark_fit(spark, str(NIST_DIR / (name + '.csv')), method='qr',
                    intercept=cert['intercept'], poly_degree=cert.get('degree', 1))
    check_nist_digits(name, rec, cert, 'spark-rdd')
