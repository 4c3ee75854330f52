"""Ill-conditioned is not rank deficient, on Spark (issue 21; the numpy and mrjob side is
tests/test_rank.py): spark-rdd fits the exact-rational full-rank problems to >= 9 digits
(standard errors >= 8); spark-rdd (qr, normal) and spark-mllib (its TSQR pass, the same
rule as every engine) refuse the exactly dependent designs by name, and spark-mllib accepts
the full-rank ones (its own solver's digits are MLlib's, not checked here)."""

import pytest
from spark_helpers import spark_fit

from helpers import dependent_designs, hard_problems, lre, theta
from distreg.errors import RankDeficientError


@pytest.fixture(scope='module')
def hard(tmp_path_factory):
    return hard_problems(tmp_path_factory.mktemp('hard'))


@pytest.fixture(scope='module')
def dependent(tmp_path_factory):
    return dependent_designs(tmp_path_factory.mktemp('dependent'))


@pytest.mark.parametrize('case', ['filip_like', 'longley_like'])
def test_spark_rdd_fits_full_rank_ill_conditioned_designs(spark, hard, case):
    problem, degree = hard[case]
    record = spark_fit(spark, problem['path'], method='qr', poly_degree=degree)
    coef = lre(theta(record), problem['beta']).min()
    se = lre(record['stats']['std_errors'], problem['std_errors']).min()
    assert coef >= 9 and se >= 8, (coef, se)
    assert record['n_rows'] == problem['n'] and record['converged']
    print('%s on spark-rdd: LRE coef %.2f, std errors %.2f' % (case, coef, se))


@pytest.mark.parametrize('case', ['filip_like', 'longley_like'])
def test_spark_mllib_accepts_full_rank_ill_conditioned_designs(spark, hard, case):
    problem, degree = hard[case]
    record = spark_fit(spark, problem['path'], engine='spark-mllib', method='normal',
                       poly_degree=degree)
    assert record['n_rows'] == problem['n'] and len(theta(record)) == len(problem['beta'])


@pytest.mark.parametrize('engine, method', [('spark-rdd', 'qr'), ('spark-rdd', 'normal'),
                                            ('spark-mllib', 'normal')])
@pytest.mark.parametrize('case', ['duplicate', 'constant', 'sum_of_others', 'affine',
                                  'dummy_trap', 'poly_duplicate'])
def test_exactly_dependent_designs_are_refused_by_name(spark, dependent, engine, method, case):
    path, column, why, degree = dependent[case]
    with pytest.raises(RankDeficientError) as err:
        spark_fit(spark, path, engine=engine, method=method, poly_degree=degree)
    if method == 'normal' and engine == 'spark-rdd':
        why = 'is, within the precision of the normal equations, a linear combination'
    assert "column '%s' %s" % (column, why) in str(err.value)
