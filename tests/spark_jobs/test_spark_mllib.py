"""spark-mllib agrees with the numpy engine, regularisation off unless said: LinearRegression
normal and GLR IRLS to 1e-9 relative (closed form / Newton); MLlib's l-bfgs (LinearRegression,
LogisticRegression) to 1e-6 relative (it stops on the relative change of the loss, tol 1e-12,
which fixes the coefficients to about 1e-7 here). Statistics where MLlib gives them."""

import numpy as np
import pytest
from spark_helpers import numpy_fit, rel_diff, spark_fit

from distreg.errors import DistregError
from distreg.result import theta_of

AGREE = {'normal': 1e-9, 'newton': 1e-9, 'lbfgs': 1e-6}


def check_inference(rec, ref):
    """Std errors and t/z to 1e-6 relative; p values to 1e-10 absolute (MLlib forms them as
    1 - cdf, so the tiny ones come out as 0)."""
    for key in ('std_errors', 't_values'):
        np.testing.assert_allclose(rec['stats'][key], ref['stats'][key], rtol=1e-6)
    np.testing.assert_allclose(rec['stats']['p_values'], ref['stats']['p_values'], rtol=1e-6,
                               atol=1e-10)


@pytest.mark.parametrize('method', ['normal', 'lbfgs'])
def test_linear(spark, linear_csv, method):
    ref = numpy_fit(linear_csv, method='normal')
    rec = spark_fit(spark, linear_csv, 'spark-mllib', method=method)
    assert rec['engine'] == 'spark-mllib' and rec['converged'] and rec['n_rows'] == 4000
    assert rel_diff(theta_of(rec), theta_of(ref)) <= AGREE[method]
    assert rec['stats']['r2'] == pytest.approx(ref['stats']['r2'], rel=1e-9)
    assert rec['stats']['rmse'] == pytest.approx(ref['stats']['rmse'], rel=1e-6)
    assert rec['stats']['residual_sd'] == pytest.approx(ref['stats']['residual_sd'], rel=1e-6)
    if method == 'normal':  # MLlib has standard errors only for its normal solver
        check_inference(rec, ref)
    else:
        assert rec['stats']['std_errors'] is None


@pytest.mark.parametrize('method', ['lbfgs', 'newton'])
def test_logistic(spark, logistic_csv, method):
    ref = numpy_fit(logistic_csv, method='newton', model='logistic')
    rec = spark_fit(spark, logistic_csv, 'spark-mllib', method=method, model='logistic')
    assert rec['model'] == 'logistic' and rec['converged']
    assert rel_diff(theta_of(rec), theta_of(ref)) <= AGREE[method]
    if method == 'newton':  # GLR's IRLS: std errors from its Fisher information
        check_inference(rec, ref)


@pytest.mark.parametrize('model,method,ridge', [('linear', 'normal', 400.0),
                                                ('logistic', 'lbfgs', 300.0)])
def test_ridge_maps_to_regparam(spark, linear_csv, logistic_csv, model, method, ridge):
    """LinearRegression's mapping (the same regParam for both its solvers) is checked with the
    normal solver, exactly (1e-9). LogisticRegression has only l-bfgs, which with a penalty
    stops after a few iterations whatever its tol (breeze's absolute floor 1e-8 on the gradient
    norm): 1e-5 relative."""
    agree = {'normal': 1e-9, 'lbfgs': 1e-5}[method]
    path = linear_csv if model == 'linear' else logistic_csv
    for intercept in (True, False):
        ref = numpy_fit(path, method='newton', model=model, ridge=ridge, intercept=intercept)
        rec = spark_fit(spark, path, 'spark-mllib', method=method, model=model, ridge=ridge,
                        intercept=intercept)
        assert rel_diff(theta_of(rec), theta_of(ref)) <= agree


@pytest.mark.parametrize('model,method', [('linear', 'qr'), ('linear', 'gd'),
                                          ('logistic', 'gd')])
def test_unsupported_methods_are_refused(spark, linear_csv, model, method):
    with pytest.raises(DistregError, match='spark-mllib has no --method %s' % method):
        spark_fit(spark, linear_csv, 'spark-mllib', method=method, model=model)


def test_glr_refuses_ridge(spark, logistic_csv):
    with pytest.raises(DistregError, match='cannot apply --ridge'):
        spark_fit(spark, logistic_csv, 'spark-mllib', method='newton', model='logistic',
                  ridge=1.0)


def test_logistic_agrees_across_engines(spark, logistic_csv):
    """numpy, spark-rdd (gd, lbfgs, newton) and spark-mllib (lbfgs, newton): one answer."""
    ref = numpy_fit(logistic_csv, method='newton', model='logistic')
    recs = [spark_fit(spark, logistic_csv, 'spark-rdd', method=m, model='logistic', tol=1e-9)
            for m in ('gd', 'lbfgs', 'newton')]
    recs += [spark_fit(spark, logistic_csv, 'spark-mllib', method=m, model='logistic')
             for m in ('lbfgs', 'newton')]
    for rec in recs:
        assert rel_diff(theta_of(rec), theta_of(ref)) <= 1e-6, (rec['engine'], rec['method'])


@pytest.mark.parametrize('model,method,other', [('linear', 'normal', '--method qr'),
                                                ('logistic', 'newton', '--method newton')])
def test_more_than_4096_features_refused_before_training(spark, tmp_path, model, method, other):
    """MLlib's normal-equation solver (WeightedLeastSquares) takes at most 4,096 features:
    one line of distreg's, naming spark-rdd, instead of a Java exception mid-training."""
    from distreg.generate import generate
    path = str(tmp_path / 'wide.csv')
    generate(20, 4097, path, model=model, seed=33)
    with pytest.raises(DistregError) as err:
        spark_fit(spark, path, 'spark-mllib', method=method, model=model)
    message = str(err.value)
    assert '\n' not in message
    assert 'at most 4096 features and this input has 4097' in message
    assert '--engine spark-rdd %s' % other in message
