"""Lasso and elastic net from the Gram (--l1, with --ridge; issue 23 item 3): coordinate descent
on X'X, intercept unpenalised, against scikit-learn's Lasso / ElasticNet (test-only) on the
same rows at tol 1e-14, on numpy, mrjob-inline and mrjob-local (spark: test_spark_elastic_net).

distreg's objective is the sum-scale one of --ridge:
    1/2 sum (y - x'theta)^2 + L1 sum |theta_j| + L/2 sum theta_j^2
which is scikit-learn's 1/(2n) |r|^2 + alpha l1_ratio |theta|_1 + alpha (1 - l1_ratio)/2
|theta|^2 times n, with alpha = (L1 + L) / n and l1_ratio = L1 / (L1 + L)."""

import numpy as np
import pytest
from sklearn.linear_model import ElasticNet, Lasso

from helpers import write_csv
from distreg.cli import make_engine
from distreg.errors import DistregError
from distreg.fit import FitOptions, fit
from distreg.result import theta_of

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


@pytest.fixture(scope='module')
def sparse_truth(tmp_path_factory):
    rng = np.random.default_rng(33)
    n = 2000
    X = rng.normal(size=(n, 6)) * [1, 2, 0.5, 1, 3, 1] + [0, 5, 0, -2, 0, 1]
    y = 3 + X @ [1.5, 0, 0, -2, 0.1, 0] + rng.normal(size=n)
    return write_csv(tmp_path_factory.mktemp('enet') / 'e.csv', y, X), X, y


def sklearn_answer(X, y, l1, ridge, intercept=True):
    n = len(y)
    if ridge == 0:
        m = Lasso(alpha=l1 / n, fit_intercept=intercept, tol=1e-14, max_iter=10 ** 6)
    else:
        m = ElasticNet(alpha=(l1 + ridge) / n, l1_ratio=l1 / (l1 + ridge),
                       fit_intercept=intercept, tol=1e-14, max_iter=10 ** 6)
    m.fit(X, y)
    return np.concatenate([[m.intercept_], m.coef_]) if intercept else m.coef_


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('l1, ridge', [(1.0, 0.0), (100.0, 0.0), (50.0, 30.0), (500.0, 0.0)])
def test_lasso_and_elastic_net_match_scikit_learn(sparse_truth, engine, l1, ridge):
    path, X, y = sparse_truth
    record = fit(make_engine(engine, path), FitOptions(method='normal', l1=l1, ridge=ridge))
    want = sklearn_answer(X, y, l1, ridge)
    got = np.array(theta_of(record))
    assert np.max(np.abs(got - want)) / np.max(np.abs(want)) <= 1e-10
    # the same coefficients are exactly zero (the soft threshold), not merely small
    assert list(got[1:] == 0) == list(want[1:] == 0)
    assert record['converged'] and record['stats']['std_errors'] is None
    r2 = 1 - np.sum((y - np.column_stack([np.ones(len(y)), X]) @ got) ** 2) / \
        np.sum((y - y.mean()) ** 2)
    assert record['stats']['r2'] == pytest.approx(r2, rel=1e-10)


def test_lasso_without_intercept(sparse_truth):
    path, X, y = sparse_truth
    record = fit(make_engine('numpy', path), FitOptions(method='normal', l1=100.0,
                                                        intercept=False))
    want = sklearn_answer(X, y, 100.0, 0.0, intercept=False)
    assert np.max(np.abs(np.array(record['coefficients']) - want)) <= 1e-10 * np.max(abs(want))


def test_a_large_l1_zeroes_every_coefficient_and_keeps_the_mean(sparse_truth):
    path, X, y = sparse_truth
    record = fit(make_engine('numpy', path), FitOptions(method='normal', l1=1e9))
    assert record['coefficients'] == [0.0] * 6
    assert record['intercept'] == pytest.approx(y.mean(), rel=1e-13)


@pytest.mark.parametrize('options, message', [
    (dict(method='gd', l1=1.0), '--l1 is solved by coordinate descent on the Gram'),
    (dict(method='qr', l1=1.0), 'not --method qr'),
    (dict(method='newton', model='logistic', l1=1.0), '--model linear and --method normal'),
    (dict(method='normal', l1=-1.0), '--l1 must be a finite number >= 0'),
    (dict(method='normal', l1=1.0, cov='HC0'), 'no standard errors for a lasso fit'),
])
def test_l1_refuses_what_it_does_not_solve(sparse_truth, options, message):
    with pytest.raises(DistregError, match=message):
        fit(make_engine('numpy', sparse_truth[0]), FitOptions(**options))
