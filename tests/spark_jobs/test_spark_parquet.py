"""Parquet input on spark-rdd and spark-mllib (issue 22, item 1): row groups read per
partition into the same cached numpy blocks; the same answer as the same rows in CSV to 1e-12;
partition directories; nulls under fail and skip."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import (lstsq, make_linear, weighted_data, write_csv, write_duplicated,
                     write_weighted)
from spark_helpers import numpy_fit, spark_fit

from distreg.errors import BadInputError
from distreg.generate import generate
from distreg.result import theta_of


def write_parquet(path, y, X, row_group_rows=None, y_mask=None, x_mask=None):
    cols = {'y': pa.array(y, mask=y_mask)}
    for j in range(X.shape[1]):
        cols['x%d' % (j + 1)] = pa.array(X[:, j], mask=x_mask if j == 0 else None)
    pq.write_table(pa.table(cols), str(path), row_group_size=row_group_rows)
    return str(path)


@pytest.fixture(scope='module')
def same_rows(tmp_path_factory):
    d = tmp_path_factory.mktemp('spq')
    y, X = make_linear(3000, 4, seed=15)
    return write_csv(d / 'd.csv', y, X), write_parquet(d / 'd.parquet', y, X, 400), y, X


@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_spark_rdd_parquet_agrees_with_csv(spark, same_rows, method):
    csv, parquet, y, X = same_rows
    a = spark_fit(spark, csv, method=method)
    b = spark_fit(spark, parquet, method=method)
    np.testing.assert_allclose(theta_of(b), theta_of(a), rtol=1e-12)
    np.testing.assert_allclose(theta_of(b), lstsq(y, X), rtol=1e-9)
    assert b['n_rows'] == len(y) and b['design']['format'] == 'parquet'


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_spark_parquet_file_read_as_text_is_named(spark, same_rows, tmp_path, engine):
    """--format csv on a Parquet file, a Parquet part file among CSV ones: named as
    Parquet (as on the other engines: tests/test_parquet.py)."""
    from distreg.errors import DistregError
    csv, parquet = same_rows[:2]
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    (mixed / 'part-00000.csv').write_bytes(open(csv, 'rb').read())
    (mixed / 'part-00001.csv').write_bytes(open(parquet, 'rb').read())
    with pytest.raises(DistregError, match='is a Parquet file .* not CSV text'):
        spark_fit(spark, parquet, engine=engine, format='csv')
    with pytest.raises(DistregError, match='part-00001.csv is a Parquet file .* among the '
                                           'text files'):
        spark_fit(spark, str(mixed), engine=engine)


def test_spark_rdd_reads_row_groups_in_several_partitions(spark, same_rows):
    from distreg.engine import make_engine
    from distreg.fit import FitOptions
    engine = make_engine('spark-rdd', same_rows[1], spark=spark)
    try:
        engine.prepare(FitOptions())
        # 8 row groups over local[2]'s two cores: two partitions, each its own groups
        assert engine.n_partitions == 2
        counts = engine.cached.map(lambda b: b.n_rows).collect()
        # whole row groups (7 of 400 rows, then 200), in order, about half the rows each
        assert counts == [1600, 1400]
    finally:
        engine.close()


def test_spark_mllib_parquet_agrees_with_csv(spark, same_rows):
    csv, parquet, y, X = same_rows
    a = spark_fit(spark, csv, engine='spark-mllib', method='normal')
    b = spark_fit(spark, parquet, engine='spark-mllib', method='normal')
    np.testing.assert_allclose(theta_of(b), theta_of(a), rtol=1e-12)
    assert b['engine'] == 'spark-mllib' and b['n_rows'] == len(y)


@pytest.mark.parametrize('engine, method', [('spark-rdd', 'normal'), ('spark-rdd', 'qr'),
                                            ('spark-mllib', 'normal')])
def test_spark_parquet_weights_are_the_csv_weights(spark, tmp_path, engine, method):
    """--weight-col on Parquet: the same fit as the same weighted rows in CSV (read by the
    same engine) and as numpy's fit of each row written w times."""
    y, X, w = weighted_data(1200, 43)
    parquet = tmp_path / 'w.parquet'
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'w': w, 'x2': X[:, 1], 'x3': X[:, 2]}),
                   str(parquet), row_group_size=300)
    csv = write_weighted(tmp_path / 'w.csv', y, X, w)
    got = spark_fit(spark, str(parquet), engine=engine, method=method, weight_col='w')
    same = spark_fit(spark, csv, engine=engine, method=method, weight_col='w')
    np.testing.assert_allclose(theta_of(got), theta_of(same), rtol=1e-12)
    dup = numpy_fit(write_duplicated(tmp_path / 'dup.csv', y, X, w), method=method)
    np.testing.assert_allclose(theta_of(got), theta_of(dup), rtol=1e-9)
    np.testing.assert_allclose(got['stats']['std_errors'], dup['stats']['std_errors'],
                               rtol=1e-9)
    assert got['sum_weights'] == w.sum() and got['design']['weight_col'] == 'w'


def test_spark_logistic_from_generated_parquet(spark, tmp_path):
    csv, parquet = str(tmp_path / 'l.csv'), str(tmp_path / 'l.parquet')
    generate(2000, 3, csv, model='logistic', seed=7)
    generate(2000, 3, parquet, model='logistic', seed=7, fmt='parquet')
    for engine, method in (('spark-rdd', 'newton'), ('spark-mllib', 'lbfgs')):
        a = spark_fit(spark, csv, engine=engine, model='logistic', method=method)
        b = spark_fit(spark, parquet, engine=engine, model='logistic', method=method)
        np.testing.assert_allclose(theta_of(b), theta_of(a), rtol=1e-12)


def test_spark_partition_directories(spark, tmp_path):
    rng = np.random.default_rng(3)
    k = rng.integers(1, 4, 600)
    y0, X = make_linear(600, 2, seed=3)
    y = y0 - 1.25 * k
    root = tmp_path / 'parts'
    for v in sorted(set(k)):
        os.makedirs(root / ('k=%d' % v))
        write_parquet(root / ('k=%d' % v) / 'part-0.parquet', y[k == v], X[k == v], 50)
    (root / '_SUCCESS').write_text('')
    rec = spark_fit(spark, str(root), method='qr')
    np.testing.assert_allclose(theta_of(rec), lstsq(y, np.column_stack([X, k])), rtol=1e-9)


def test_spark_nulls_fail_and_skip(spark, tmp_path):
    y, X = make_linear(500, 2, seed=8)
    bad = [77, 311]
    path = write_parquet(tmp_path / 'n.parquet', y, X, 100,
                         x_mask=np.isin(np.arange(500), bad))
    with pytest.raises(BadInputError) as e:
        spark_fit(spark, path)
    assert str(e.value).startswith(path + ', row group 0, row index 77: '
                                   "column 'x1' is null (expected a number)")
    rec = spark_fit(spark, path, bad_rows='skip')
    keep = ~np.isin(np.arange(500), bad)
    np.testing.assert_allclose(theta_of(rec), lstsq(y[keep], X[keep]), rtol=1e-9)
    assert rec['n_bad_rows'] == 2 and rec['n_rows'] == 498


def test_spark_predict_to_parquet_and_evaluate(spark, same_rows, tmp_path):
    from distreg import scoring
    from distreg.engine import make_engine
    csv, parquet, y, X = same_rows
    record = spark_fit(spark, parquet, method='qr')
    model = scoring.Model(record)
    out = str(tmp_path / 'p.parquet')
    engine = make_engine('spark-rdd', parquet, spark=spark)
    try:
        scoring.predict(engine, model, out)
    finally:
        engine.close()
    pred = pq.read_table(out).column('prediction').to_numpy()
    expected = record['intercept'] + X @ np.array(record['coefficients'])
    np.testing.assert_allclose(pred, expected, rtol=1e-12)   # every row, in input order
    metrics = []
    for path in (csv, parquet):
        engine = make_engine('spark-rdd', path, spark=spark)
        try:
            metrics.append(scoring.evaluate(engine, model))
        finally:
            engine.close()
    assert metrics[0]['n'] == metrics[1]['n'] == len(y)
    assert metrics[1]['rmse'] == pytest.approx(metrics[0]['rmse'], rel=1e-12)
