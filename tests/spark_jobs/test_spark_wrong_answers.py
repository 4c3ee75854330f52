"""The probe's wrong answers on Spark (issue 11): part files with other headers, rank-deficient
columns and separated classes on spark-rdd and spark-mllib."""

import numpy as np
import pytest
from spark_helpers import spark_fit

from helpers import lstsq, make_linear
from distreg.errors import DistregError, NotConvergedError, SingularMatrixError


def write_rows(path, names, columns, rows):
    with open(path, 'w') as f:
        f.write(','.join(names) + '\n')
        for i in rows:
            f.write(','.join(repr(float(c[i])) for c in columns) + '\n')
    return str(path)


@pytest.fixture(scope='module')
def parts(tmp_path_factory):
    y, X = make_linear(400, 3, seed=11)
    a, b, c = X.T
    d = tmp_path_factory.mktemp('parts')
    write_rows(d / 'part-0.csv', ['y', 'a', 'b', 'c'], [y, a, b, c], range(0, 150))
    write_rows(d / 'part-1.csv', ['c', 'y', 'b', 'a'], [c, y, b, a], range(150, 400))
    other = tmp_path_factory.mktemp('other')
    write_rows(other / 'part-0.csv', ['y', 'a', 'b', 'c'], [y, a, b, c], range(0, 150))
    write_rows(other / 'part-1.csv', ['y', 'a', 'b', 'z'], [y, a, b, c], range(150, 400))
    return str(d), str(other), lstsq(y, X)


@pytest.mark.parametrize('engine, reader', [('spark-rdd', 'direct'), ('spark-rdd', 'hadoop'),
                                            ('spark-mllib', 'auto')])
def test_part_files_in_another_order_are_read_by_name(spark, parts, engine, reader):
    path, _, expected = parts
    record = spark_fit(spark, path, engine=engine, reader=reader, method='normal')
    got = np.array([record['intercept']] + record['coefficients'])
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize('engine, reader', [('spark-rdd', 'direct'), ('spark-rdd', 'hadoop'),
                                            ('spark-mllib', 'auto')])
def test_part_files_with_other_columns_are_an_error(spark, parts, engine, reader):
    _, other, _ = parts
    with pytest.raises(DistregError, match='part-0.csv has y,a,b,c but .*part-1.csv has y,a,b,z'):
        spark_fit(spark, other, engine=engine, reader=reader)


@pytest.fixture(scope='module')
def rank_files(tmp_path_factory):
    rng = np.random.default_rng(4)
    n = 300
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = 1 + 2 * a - b + 0.1 * rng.normal(size=n)
    x = rng.normal(size=n)
    d = tmp_path_factory.mktemp('rank')
    return dict(
        dup=write_rows(d / 'dup.csv', ['y', 'a', 'b', 'a_again'], [y, a, b, a], range(n)),
        const=write_rows(d / 'const.csv', ['y', 'a', 'k', 'b'], [y, a, np.full(n, 5.0), b],
                         range(n)),
        wide=write_rows(d / 'wide.csv', ['y'] + ['x%d' % j for j in range(8)],
                        list(rng.normal(size=(9, 5))), range(5)),
        separated=write_rows(d / 'sep.csv', ['y', 'x'], [(x > 0).astype(float), x], range(n)))


@pytest.mark.parametrize('engine, method', [('spark-rdd', 'qr'), ('spark-mllib', 'normal'),
                                            ('spark-mllib', 'lbfgs')])
@pytest.mark.parametrize('case, pattern', [
    ('dup', "column 'a_again' is a linear combination"),
    ('const', "column 'k' is constant"),
    ('wide', '5 rows but the model has 9 coefficients'),
])
def test_rank_deficient_columns_are_refused(spark, rank_files, engine, method, case, pattern):
    with pytest.raises(SingularMatrixError, match=pattern):
        spark_fit(spark, rank_files[case], engine=engine, method=method)


@pytest.mark.parametrize('method', ['lbfgs', 'newton'])
def test_mllib_refuses_separated_classes(spark, rank_files, method):
    with pytest.raises(NotConvergedError, match='perfectly separated'):
        spark_fit(spark, rank_files['separated'], engine='spark-mllib', model='logistic',
                  method=method)


def test_mllib_with_a_ridge_answers_separated_classes(spark, rank_files):
    record = spark_fit(spark, rank_files['separated'], engine='spark-mllib', model='logistic',
                       method='lbfgs', ridge=1.0)
    assert np.isfinite(record['coefficients']).all()
