"""spark-mllib against references computed in the test (np.linalg.lstsq and the textbook
inference for least squares, a plain Newton on the whole matrix for logistic regression),
regularisation off unless said: LinearRegression normal and GLR IRLS to 1e-9 relative (closed
form / Newton); MLlib's l-bfgs (LinearRegression, LogisticRegression) to 1e-6 relative (it
stops on the relative change of the loss, tol 1e-12, which fixes the coefficients to about 1e-7
here). Statistics where MLlib gives them, to 1e-9."""

import numpy as np
import pytest
from helpers import logistic_std_errors, ols_reference, read_csv, rel_diff
from spark_helpers import spark_fit

from distreg.errors import DistregError
from distreg.inference import normal_two_sided, student_t_two_sided
from distreg.result import theta_of

AGREE = {'normal': 1e-9, 'newton': 1e-9, 'lbfgs': 1e-6}


def check_inference(rec, theta, se, df=None):
    """Std errors and t/z to 1e-9 relative; p values (Student's t with df degrees of freedom,
    or the normal) to 1e-6 relative and 1e-10 absolute (MLlib forms them as 1 - cdf, so the
    tiny ones come out as 0)."""
    np.testing.assert_allclose(rec['stats']['std_errors'], se, rtol=1e-9)
    np.testing.assert_allclose(rec['stats']['t_values'], theta / se, rtol=1e-9)
    p = [student_t_two_sided(t, df) if df else normal_two_sided(t) for t in theta / se]
    np.testing.assert_allclose(rec['stats']['p_values'], p, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize('method', ['normal', 'lbfgs'])
def test_linear(spark, linear_csv, method):
    X, y = read_csv(linear_csv)
    ref = ols_reference(X, y)
    rec = spark_fit(spark, linear_csv, 'spark-mllib', method=method)
    assert rec['engine'] == 'spark-mllib' and rec['converged'] and rec['n_rows'] == 4000
    assert rel_diff(theta_of(rec), ref['theta']) <= AGREE[method]
    # at an answer 1e-7 from the optimum the residual statistics move by its square only
    for key in ('r2', 'rmse', 'residual_sd'):
        assert rec['stats'][key] == pytest.approx(ref[key], rel=1e-9), key
    if method == 'normal':  # MLlib has standard errors only for its normal solver
        check_inference(rec, ref['theta'], ref['std_errors'], df=len(y) - X.shape[1] - 1)
    else:
        assert rec['stats']['std_errors'] is None


@pytest.mark.parametrize('method', ['lbfgs', 'newton'])
def test_logistic(spark, logistic_csv, method):
    X, y = read_csv(logistic_csv)
    ref, se = logistic_std_errors(X, y)
    rec = spark_fit(spark, logistic_csv, 'spark-mllib', method=method, model='logistic')
    assert rec['model'] == 'logistic' and rec['converged']
    assert rel_diff(theta_of(rec), ref) <= AGREE[method]
    if method == 'newton':  # GLR's IRLS: std errors from its Fisher information
        check_inference(rec, ref, se)


@pytest.mark.parametrize('model,method,ridge', [('linear', 'normal', 400.0),
                                                ('logistic', 'lbfgs', 300.0)])
def test_ridge_maps_to_regparam(spark, linear_csv, logistic_csv, model, method, ridge):
    """LinearRegression's mapping (the same regParam for both its solvers) is checked with the
    normal solver, exactly (1e-9). LogisticRegression has only l-bfgs, which with a penalty
    stops after a few iterations whatever its tol (breeze's absolute floor 1e-8 on the gradient
    norm): 1e-5 relative."""
    agree = {'normal': 1e-9, 'lbfgs': 1e-5}[method]  # tol: MLlib's l-bfgs stopping rule (above)
    path = linear_csv if model == 'linear' else logistic_csv
    X, y = read_csv(path)
    for intercept in (True, False):
        if model == 'linear':
            ref = ols_reference(X, y, intercept=intercept, ridge=ridge)['theta']
        else:
            ref = logistic_std_errors(X, y, ridge=ridge, intercept=intercept)[0]
        rec = spark_fit(spark, path, 'spark-mllib', method=method, model=model, ridge=ridge,
                        intercept=intercept)
        assert rel_diff(theta_of(rec), ref) <= agree


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
    X, y = read_csv(logistic_csv)
    ref = logistic_std_errors(X, y)[0]
    recs = [spark_fit(spark, logistic_csv, 'spark-rdd', method=m, model='logistic', tol=1e-9)
            for m in ('gd', 'lbfgs', 'newton')]
    recs += [spark_fit(spark, logistic_csv, 'spark-mllib', method=m, model='logistic')
             for m in ('lbfgs', 'newton')]
    for rec in recs:
        # MLlib's l-bfgs bounds this (see the module docstring); the others reach 1e-9
        agree = 1e-6 if rec['engine'] == 'spark-mllib' and rec['method'] == 'lbfgs' else 1e-9
        assert rel_diff(theta_of(rec), ref) <= agree, (rec['engine'], rec['method'])


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
