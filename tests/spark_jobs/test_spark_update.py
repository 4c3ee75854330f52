"""``distreg update`` on spark-rdd (the new rows' one pass on Spark) and spark-mllib's clear
refusal of --keep-stats (issue 23 item 1; numpy and mrjob: tests/test_update.py)."""

import json

import numpy as np
import pytest
from spark_helpers import numpy_fit, spark_fit

from helpers import make_linear, write_csv
from distreg import update
from distreg.engine import make_engine
from distreg.errors import DistregError
from distreg.result import dumps, theta_of


@pytest.fixture(scope='module')
def parts(tmp_path_factory):
    y, X = make_linear(8000, 4, seed=32)
    d = tmp_path_factory.mktemp('update')
    return (write_csv(d / 'all.csv', y, X), write_csv(d / 'old.csv', y[:7000], X[:7000]),
            write_csv(d / 'new.csv', y[7000:], X[7000:]))


@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_spark_rdd_updates_a_fit_with_new_rows(spark, parts, method):
    path_all, path_old, path_new = parts
    full = numpy_fit(path_all, method=method)
    old = json.loads(dumps(spark_fit(spark, path_old, method=method, keep_stats=True)))
    engine = make_engine('spark-rdd', path_new, spark=spark)
    try:
        new = update.update(old, 'old.json', engine)
    finally:
        engine.close()
    assert new['n_rows'] == 8000
    got, want = np.array(theta_of(new)), np.array(theta_of(full))
    assert np.max(np.abs(got - want)) / np.max(np.abs(want)) <= 1e-12


def test_spark_mllib_refuses_keep_stats(spark, parts):
    with pytest.raises(DistregError, match='not on spark-mllib.*use spark-rdd'):
        spark_fit(spark, parts[1], engine='spark-mllib', method='normal', keep_stats=True)
