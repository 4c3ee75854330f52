"""spark-rdd --method qr keeps at least 9 correct digits (min LRE over the coefficients) on every
NIST StRD linear least-squares dataset in ../shared/nist."""

import json
import math
import os

import pytest
from spark_helpers import spark_fit

from distreg.result import theta_of

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NIST = os.path.join(os.path.dirname(REPO), 'shared', 'nist')


def certified():
    with open(os.path.join(NIST, 'certified.json')) as f:
        return json.load(f)


def lre(estimate, cert):
    if estimate == cert:
        return 15.0
    if cert == 0:
        return -math.log10(abs(estimate))
    return min(15.0, -math.log10(abs(estimate - cert) / abs(cert)))


@pytest.mark.parametrize('name', sorted(certified()))
def test_qr_lre_at_least_9(spark, name):
    cert = certified()[name]
    rec = spark_fit(spark, os.path.join(NIST, name + '.csv'), method='qr',
                    intercept=cert['intercept'], poly_degree=cert.get('degree', 1))
    assert rec['n_rows'] == cert['n']
    digits = min(lre(e, c) for e, c in zip(theta_of(rec), cert['beta']))
    assert digits >= 9, '%s: min LRE %.2f' % (name, digits)
