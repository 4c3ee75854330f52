"""Sample weights (--weight-col) on spark-rdd and spark-mllib (MLlib's weightCol).

Integer weights against the duplicated rows (numpy), and the standard errors against
statsmodels' frequency weights (GLM freq_weights), as tests/test_weights.py does for
numpy and mrjob.
"""

from contextlib import closing

import numpy as np
import pytest
import statsmodels.api as sm

from helpers import glm, weighted_data, write_duplicated, write_weighted
from spark_helpers import numpy_fit, rel_diff, spark_fit
from distreg.errors import BadInputError, EmptyInputError
from distreg.result import theta_of


#: the core's methods: to 1e-12 for the closed forms, to each iterative method's tolerance
TOL = {'normal': 1e-12, 'qr': 1e-12, 'lbfgs': 1e-10, 'newton': 1e-9}
#: MLlib's own iterations stop on its own tolerance (tests/spark_jobs/test_spark_mllib.py)
MLLIB_AGREE = {'normal': 1e-9, 'newton': 1e-9, 'lbfgs': 1e-6}


@pytest.fixture(scope='module')
def linear(tmp_path_factory):
    d = tmp_path_factory.mktemp('spark-weights')
    y, X, w = weighted_data(1200, 41)
    return (write_weighted(d / 'w.csv', y, X, w), write_duplicated(d / 'dup.csv', y, X, w),
            y, X, w)


@pytest.fixture(scope='module')
def logistic(tmp_path_factory):
    d = tmp_path_factory.mktemp('spark-weights-logistic')
    y, X, w = weighted_data(1200, 42, 'logistic')
    return (write_weighted(d / 'w.csv', y, X, w), write_duplicated(d / 'dup.csv', y, X, w),
            y, X, w)


@pytest.mark.parametrize('method', ['normal', 'qr', 'lbfgs'])
def test_rdd_linear_weights_are_duplicated_rows(spark, linear, method):
    wpath, dpath, y, X, w = linear
    got = spark_fit(spark, wpath, method=method, weight_col='w')
    dup = numpy_fit(dpath, method=method)
    assert rel_diff(theta_of(got), theta_of(dup)) <= TOL[method]
    assert got['sum_weights'] == dup['n_rows'] and got['n_rows'] == len(y)
    assert got['n_rows_zero_weight'] == int(np.sum(w == 0))
    if method != 'lbfgs':
        np.testing.assert_allclose(got['stats']['std_errors'], dup['stats']['std_errors'],
                                   rtol=1e-10)


def test_rdd_logistic_newton_is_glm_freq_weights(spark, logistic):
    wpath, dpath, y, X, w = logistic
    got = spark_fit(spark, wpath, method='newton', model='logistic', weight_col='w')
    dup = numpy_fit(dpath, method='newton', model='logistic')
    assert rel_diff(theta_of(got), theta_of(dup)) <= TOL['newton']
    ref = glm(y, X, w, sm.families.Binomial())
    np.testing.assert_allclose(got['stats']['std_errors'], ref.bse, rtol=1e-8)


def test_mllib_linear_normal_frequency_weights(spark, linear):
    wpath, dpath, y, X, w = linear
    got = spark_fit(spark, wpath, 'spark-mllib', method='normal', weight_col='w')
    dup = numpy_fit(dpath, method='normal')
    assert rel_diff(theta_of(got), theta_of(dup)) <= MLLIB_AGREE['normal']
    ref = glm(y, X, w, sm.families.Gaussian())
    np.testing.assert_allclose(got['stats']['std_errors'], ref.bse, rtol=1e-9)
    np.testing.assert_allclose(got['stats']['t_values'], ref.params / ref.bse, rtol=1e-9)
    for key in ('r2', 'rmse', 'residual_sd'):
        assert got['stats'][key] == pytest.approx(dup['stats'][key], rel=1e-9), key
    assert got['sum_weights'] == w.sum() and got['n_rows_zero_weight'] == int(np.sum(w == 0))


@pytest.mark.parametrize('method', ['newton', 'lbfgs'])
def test_mllib_logistic_weights_are_duplicated_rows(spark, logistic, method):
    wpath, dpath, y, X, w = logistic
    got = spark_fit(spark, wpath, 'spark-mllib', method=method, model='logistic',
                    weight_col='w')
    dup = numpy_fit(dpath, method='newton', model='logistic')
    assert rel_diff(theta_of(got), theta_of(dup)) <= MLLIB_AGREE[method]
    if method == 'newton':
        ref = glm(y, X, w, sm.families.Binomial())
        np.testing.assert_allclose(got['stats']['std_errors'], ref.bse, rtol=1e-8)


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_bad_and_zero_weights(spark, tmp_path, engine):
    bad = tmp_path / 'bad.csv'
    bad.write_text('y,x,w\n1,2,1\n3,4,-0.5\n5,7,2\n')
    with pytest.raises(BadInputError, match="line 3: field 3 \\(column 'w'\\) is -0.5: a "
                                            "weight must be >= 0"):
        spark_fit(spark, str(bad), engine, weight_col='w')
    zero = tmp_path / 'zero.csv'
    zero.write_text('y,x,w\n1,2,0\n3,4,0\n5,7,0\n')
    with pytest.raises(EmptyInputError, match='every weight of the input is 0'):
        spark_fit(spark, str(zero), engine, weight_col='w')


@pytest.mark.parametrize('model, method', [('linear', 'normal'), ('logistic', 'lbfgs')])
def test_mllib_weighted_ridge_is_ridge_on_duplicated_rows(spark, linear, logistic, model,
                                                          method):
    """MLlib's regParam for a weighted fit: its objective is the weighted mean (sum(w), the
    weighted sd of the label), so --ridge L means on it what it means on the other engines."""
    wpath, dpath, *_ = linear if model == 'linear' else logistic
    got = spark_fit(spark, wpath, 'spark-mllib', method=method, model=model, ridge=30.0,
                    weight_col='w')
    dup = numpy_fit(dpath, method='normal' if model == 'linear' else 'newton', model=model,
                    ridge=30.0)
    assert rel_diff(theta_of(got), theta_of(dup)) <= MLLIB_AGREE[method]


def test_rdd_predict_and_evaluate_leave_the_weight_out(spark, linear, tmp_path):
    """A weighted model scores an input with its weight column on spark-rdd: the weight is
    read, never a feature; evaluate's metrics are per row (unweighted)."""
    from distreg import scoring
    from distreg.engine import make_engine
    wpath, _, y, X, w = linear
    model = scoring.Model(numpy_fit(wpath, method='qr', weight_col='w'))
    out = str(tmp_path / 'p.txt')
    with closing(make_engine('spark-rdd', wpath, spark=spark)) as e:
        scoring.predict(e, model, out)
    theta = np.array(theta_of(model.record))
    expected = theta[0] + X @ theta[1:]
    np.testing.assert_allclose([float(v) for v in open(out).read().split()], expected,
                               rtol=1e-12)
    with closing(make_engine('spark-rdd', wpath, spark=spark)) as e:
        m = scoring.evaluate(e, model)
    assert m['n'] == len(y)
    assert m['rmse'] == pytest.approx(np.sqrt(np.mean((y - expected) ** 2)), rel=1e-12)
