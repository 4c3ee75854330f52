"""Categorical columns on spark-rdd and spark-mllib: the levels pass on the cached blocks and
the one-hot design, against numpy's lstsq on pandas.get_dummies (as tests/test_categorical.py
does for numpy and mrjob)."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_helpers import rel_diff, spark_fit
from test_categorical import lstsq, make_data, one_hot, write_csv, write_wide_csv
from distreg import scoring
from distreg.engine import make_engine
from distreg.errors import BadInputError, DistregError
from distreg.result import load, theta_of


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('spark-categorical')
    df = make_data(1200, 17)
    return df, write_csv(d / 'c.csv', df), d


@pytest.mark.parametrize('method', ['normal', 'qr', 'lbfgs'])
def test_rdd_fit_matches_lstsq_on_the_one_hot_matrix(spark, data, method):
    df, path, _ = data
    record = spark_fit(spark, path, method=method, categorical='region,grade', tol=1e-14,
                       max_iter=300)
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= (1e-12 if method != 'lbfgs' else 1e-8)
    assert record['design']['levels'] == [['region', ['east', 'north', 'south', 'west']],
                                          ['grade', ['10', '8', '9']]]


def test_rdd_weighted_and_without_intercept(spark, data):
    df, _, d = data
    path = write_csv(d / 'w.csv', df, ('y', 'x1', 'w', 'region', 'x2', 'grade'))
    record = spark_fit(spark, path, method='qr', categorical='region,grade', weight_col='w')
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy(), df['w'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    record = spark_fit(spark, path, categorical='grade,region', weight_col='w',
                       intercept=False)
    ref = lstsq(one_hot(df, ['grade', 'region'], intercept=False), df['y'].to_numpy(),
                df['w'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12


@pytest.mark.parametrize('intercept', [True, False])
def test_mllib_takes_the_cores_one_hot_columns(spark, data, intercept):
    df, path, _ = data
    record = spark_fit(spark, path, engine='spark-mllib', method='normal',
                       categorical='region,grade', intercept=intercept)
    ref = lstsq(one_hot(df, ['region', 'grade'], intercept=intercept), df['y'].to_numpy())
    # MLlib's normal solver (tests/spark_jobs/test_spark_mllib.py's agreement)
    assert rel_diff(theta_of(record), ref) <= 1e-9
    assert record['design']['levels'][0] == ['region', ['east', 'north', 'south', 'west']]


def test_mllib_weighted_categorical(spark, data):
    df, _, d = data
    path = write_csv(d / 'mw.csv', df, ('y', 'x1', 'w', 'region', 'x2', 'grade'))
    record = spark_fit(spark, path, engine='spark-mllib', method='normal',
                       categorical='region,grade', weight_col='w')
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy(), df['w'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-9


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_parquet_string_and_dictionary_columns(spark, data, engine):
    df, _, d = data
    path = str(d / ('c-%s.parquet' % engine))
    pq.write_table(pa.table({
        'y': df['y'].to_numpy(), 'x1': df['x1'].to_numpy(), 'x2': df['x2'].to_numpy(),
        'region': pa.array(df['region'].tolist()),
        'grade': pa.array(df['grade'].tolist()).dictionary_encode()}), path,
        row_group_size=300)
    record = spark_fit(spark, path, engine=engine, method='normal',
                       features='x1,x2,region,grade')
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= (1e-12 if engine == 'spark-rdd' else 1e-9)


def test_a_column_of_5000_levels_is_refused(spark, tmp_path):
    path = write_wide_csv(tmp_path / 'wide.csv')
    for engine in ('spark-rdd', 'spark-mllib'):
        with pytest.raises(DistregError, match="'city' has more than 1000 levels"):
            spark_fit(spark, str(path), engine=engine, categorical='city')


def test_rdd_predict_refuses_an_unseen_level(spark, data, tmp_path):
    df, path, _ = data
    record = spark_fit(spark, path, categorical='region,grade')
    rec = tmp_path / 'r.json'
    rec.write_text(json.dumps(record))
    new = df.iloc[:40].copy()
    new.loc[new.index[6], 'grade'] = '11'
    bad = write_csv(tmp_path / 'bad.csv', new)
    model = scoring.Model(load(str(rec)))
    engine = make_engine('spark-rdd', bad, spark=spark)
    try:
        with pytest.raises(BadInputError, match=r"line 8: field 5 \(column 'grade'\) is '11', "
                                                r"a level not seen in training"):
            scoring.predict(engine, model, str(tmp_path / 'p.txt'))
    finally:
        engine.close()
    engine = make_engine('spark-rdd', bad, spark=spark)
    try:
        scoring.predict(engine, model, str(tmp_path / 'p.txt'), bad_rows='skip')
    finally:
        engine.close()
    lines = (tmp_path / 'p.txt').read_text().split('\n')
    assert lines[6] == ''
    keep = np.delete(np.arange(40), 6)
    np.testing.assert_allclose([float(lines[i]) for i in keep],
                               (one_hot(df, ['region', 'grade']) @ theta_of(record))[keep],
                               rtol=1e-12, atol=1e-12)
