"""``distreg cv`` on spark-rdd (both readers: Python byte ranges, and Hadoop's TextInputFormat
with its own byte offsets; Parquet row groups) against the brute-force folds of
tests/test_cv.py, and spark-mllib's clear refusal."""

import numpy as np
import pytest

from helpers import make_linear, write_csv
from test_cv import (RIDGES, check_brute_force, close, ref_cv, ref_fold, ref_folds, ref_rows,
                     write_parquet_parts)
from distreg import cv
from distreg.engine import make_engine
from distreg.errors import DistregError
from distreg.fit import FitOptions, fit
from distreg.result import theta_of


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    y, X = make_linear(3000, 4, seed=231, noise=0.5)
    y = y + 40.0
    d = tmp_path_factory.mktemp('cv') / 'parts'
    d.mkdir()
    files = [write_csv(d / 'part-00000.csv', y[:1800], X[:1800]),
             write_csv(d / 'part-00001.csv', y[1800:], X[1800:])]
    return dict(dir=str(d), files=files)


def spark_cv(spark, path, k, ridges, l1s=None, reader='auto', engine='spark-rdd'):
    eng = make_engine(engine, path, spark=spark, reader=reader)
    try:
        return cv.run(eng, FitOptions(method='normal', folds=k).validate(), k, ridges, l1s)
    finally:
        eng.close()


@pytest.mark.parametrize('reader', ['direct', 'hadoop'])
def test_spark_rdd_ridge_cv_is_k_separate_fits(spark, data, reader):
    k = 5
    record = spark_cv(spark, data['dir'], k, RIDGES, reader=reader)
    check_brute_force(record, data['files'], k, RIDGES)
    want = fit(make_engine('numpy', data['dir']),
               FitOptions(method='normal', ridge=record['cv']['best']))
    close(theta_of(record), theta_of(want), 1e-12)


def test_spark_rdd_lasso_path(spark, data):
    k = 3
    record = spark_cv(spark, data['dir'], k, [0.0], 'path')
    rows = ref_rows(data['files'])
    table = np.array([r for _, _, r in rows])
    fold = ref_folds(rows, k)
    for i in (0, 50, 99):
        rmse, _ = ref_cv(table[:, 0], table[:, 1:], fold, k, l1=record['cv']['values'][i])
        close(record['cv']['rmse'][i], rmse, 1e-10)


def test_spark_rdd_parquet_folds(spark, tmp_path):
    y, X = make_linear(2500, 3, seed=77, noise=0.3)
    d = str(tmp_path / 'pq')
    where = write_parquet_parts(d, y, X)
    k = 4
    fold = np.array([ref_fold(name, (g << 32) + r, k) for name, g, r in where])
    record = spark_cv(spark, d, k, [0.0, 3.0])
    assert record['cv']['fold_rows'] == np.bincount(fold, minlength=k).tolist()
    rmse, _ = ref_cv(y, X, fold, k, ridge=3.0)
    close(record['cv']['rmse'][1], rmse, 1e-10)


def test_spark_mllib_refuses_cv(spark, data):
    with pytest.raises(DistregError, match='not on spark-mllib: use spark-rdd'):
        spark_cv(spark, data['dir'], 5, [0.0, 1.0], engine='spark-mllib')


@pytest.mark.parametrize('reader', ['direct', 'hadoop'])
def test_spark_rdd_skipped_bad_rows_take_no_fold(spark, tmp_path, reader):
    y, X = make_linear(2000, 3, seed=4)
    path = write_csv(tmp_path / 'bad.csv', y, X)
    lines = open(path).read().splitlines(keepends=True)
    for i in (5, 901, 1500):
        lines[i] = lines[i].replace(',', ',oops,', 1)
    open(path, 'w').write(''.join(lines))
    k = 4
    eng = make_engine('spark-rdd', path, spark=spark, reader=reader)
    try:
        record = cv.run(eng, FitOptions(method='normal', folds=k, bad_rows='skip').validate(),
                        k, [1.0])
    finally:
        eng.close()
    rows = ref_rows([path], skip_bad=True)
    table = np.array([r for _, _, r in rows])
    fold = ref_folds(rows, k)
    assert record['cv']['fold_rows'] == np.bincount(fold, minlength=k).tolist()
    rmse, _ = ref_cv(table[:, 0], table[:, 1:], fold, k, ridge=1.0)
    close(record['cv']['rmse'][0], rmse, 1e-10)
