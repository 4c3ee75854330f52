"""The iterative methods (gd, lbfgs, newton) of distreg.optim on the numpy engine.

References are computed here, independently of the engine: np.linalg.lstsq for
least squares, a plain Newton iteration on the whole matrix for logistic
regression. Tolerances: newton 1e-9 relative (it converges quadratically, its
default tol is 1e-12); gd and lbfgs to the ``tol`` they are run with (their
stopping rule estimates the distance to the optimum, see distreg.optim).
"""

import json

import numpy as np
import pytest

from distreg import blocks, optim
from distreg.design import Design
from distreg.errors import BadInputError, DistregError, NotConvergedError
from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.loader import Parsed
from distreg.numpy_engine import NumpyEngine
from distreg.result import theta_of
from helpers import (assert_linear_stats, logistic_std_errors, ols_reference, read_csv,
                     read_libsvm, reference_logistic, rel_diff)

TOL = {'gd': 1e-9, 'lbfgs': 1e-10}


@pytest.fixture(scope='module')
def linear_csv(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('optim') / 'linear.csv')
    generate(5000, 6, path, model='linear', seed=3)
    return path


@pytest.fixture(scope='module')
def logistic_csv(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('optim') / 'logistic.csv')
    generate(5000, 6, path, model='logistic', seed=4)
    return path


@pytest.fixture(scope='module')
def scaled_csv(tmp_path_factory):
    """Columns in very different units and two strongly correlated ones."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal((4000, 4))
    X = np.column_stack([z[:, 0] * 1000 + 50, z[:, 1] * 0.01, z[:, 0] * 1000 + z[:, 2] * 100,
                         z[:, 3] + 3])
    eta = 0.3 + X @ np.array([0.001, 20, -0.0005, -0.2])
    y = (rng.random(len(eta)) < 1 / (1 + np.exp(-eta))).astype(float)
    path = str(tmp_path_factory.mktemp('optim') / 'scaled.csv')
    np.savetxt(path, np.column_stack([y, X]), delimiter=',', fmt='%.17g',
               header='y,a,b,c,d', comments='')
    return path


def run(path, **kw):
    return fit(NumpyEngine(path), FitOptions(**kw))


# --------------------------------------------------------------------------- aggregates

@pytest.mark.parametrize('model', ['linear', 'logistic'])
@pytest.mark.parametrize('degree', [1, 2])
def test_block_functions_match_direct_formulas_and_merge(model, degree):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = (rng.random(300) < 0.5).astype(float) if model == 'logistic' else rng.standard_normal(300)
    design = Design(intercept=True, degree=degree)
    M = design.matrix(X)
    theta = rng.standard_normal(M.shape[1])
    params = {'theta': theta.tolist(), 'model': model}
    whole = blocks.block_partial('hessian', Parsed(X, y), design, params)
    parts = [blocks.block_partial('hessian', Parsed(X[i:i + 70], y[i:i + 70]), design, params)
             for i in range(0, 300, 70)]
    merged = blocks.merge_all('hessian', parts)
    eta = M @ theta
    if model == 'linear':
        loss, r, w = 0.5 * np.sum((eta - y) ** 2), eta - y, np.ones(300)
    else:
        p = 1 / (1 + np.exp(-eta))
        loss = -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))
        r, w = p - y, p * (1 - p)
    for part in (whole, merged):
        assert part['n'] == 300
        assert part['loss'] == pytest.approx(loss, rel=1e-12)
        np.testing.assert_allclose(part['grad'], M.T @ r, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(part['hess'], (M * w[:, None]).T @ M, rtol=1e-10, atol=1e-10)
    grad_only = blocks.block_partial('gradient', Parsed(X, y), design, params)
    assert set(grad_only) >= {'loss', 'grad'} and 'hess' not in grad_only
    # partials cross process boundaries as JSON
    back = blocks.decode(json.loads(json.dumps(blocks.encode(merged))))
    np.testing.assert_array_equal(back['hess'], merged['hess'])


def test_logistic_block_is_stable_for_huge_margins():
    X = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    part = blocks.block_partial('hessian', Parsed(X, y), Design(),
                                {'theta': [0.0, 1.0], 'model': 'logistic'})
    assert np.isfinite(part['loss']) and part['loss'] == pytest.approx(2e4)
    assert np.all(np.isfinite(part['grad'])) and np.all(np.isfinite(part['hess']))


def test_short_theta_is_zero_padded():
    X = np.arange(6.0).reshape(3, 2)
    y = np.array([1.0, 2.0, 3.0])
    a = blocks.block_partial('gradient', Parsed(X, y), Design(), {'theta': [], 'model': 'linear'})
    b = blocks.block_partial('gradient', Parsed(X, y), Design(),
                             {'theta': [0.0, 0.0, 0.0], 'model': 'linear'})
    np.testing.assert_array_equal(a['grad'], b['grad'])


# --------------------------------------------------------------------------- linear

@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
def test_linear_matches_lstsq(linear_csv, method):
    X, y = read_csv(linear_csv)
    ref = ols_reference(X, y)
    rec = run(linear_csv, method=method)
    assert rec['converged']
    assert rel_diff(theta_of(rec), ref['theta']) <= TOL.get(method, 1e-9)
    # inference from the Hessian at the answer = the textbook sigma² (X'X)^-1
    assert_linear_stats(rec, ref)
    if method == 'newton':
        assert rec['iterations'] == 1 and len(rec['timings']['pass_seconds']) == 1
    else:
        assert rec['iterations'] >= 1
        assert len(rec['timings']['pass_seconds']) > rec['iterations']


@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
def test_linear_ridge_no_intercept_poly(linear_csv, method):
    X, y = read_csv(linear_csv)
    X = X[:, :3]
    M = np.column_stack([X, X ** 2])[:, [0, 3, 1, 4, 2, 5]]  # x1, x1^2, x2, x2^2, ...
    ridge = 50.0
    ref = np.linalg.solve(M.T @ M + ridge * np.eye(6), M.T @ y)
    path = linear_csv + '.3.csv'
    np.savetxt(path, np.column_stack([y, X]), delimiter=',', fmt='%.17g')
    rec = run(path, method=method, intercept=False, poly_degree=2, ridge=ridge)
    assert rec['intercept'] is None and len(rec['coefficients']) == 6
    assert rel_diff(theta_of(rec), ref) <= TOL.get(method, 1e-9)
    assert_linear_stats(rec, ols_reference(X, y, intercept=False, degree=2, ridge=ridge))


# --------------------------------------------------------------------------- logistic

@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
def test_logistic_matches_reference_newton(logistic_csv, method):
    X, y = read_csv(logistic_csv)
    ref, cov, _ = reference_logistic(X, y)
    rec = run(logistic_csv, method=method, model='logistic')
    assert rec['converged'] and rec['model'] == 'logistic'
    assert rel_diff(theta_of(rec), ref) <= TOL.get(method, 1e-9)
    se = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(rec['stats']['std_errors'], se, rtol=1e-9)
    # t = theta / se carries theta's error, which is relative to the largest coefficient
    assert rel_diff(rec['stats']['t_values'], ref / se) <= TOL.get(method, 1e-9)
    from math import erfc, sqrt
    np.testing.assert_allclose(rec['stats']['p_values'],
                               [erfc(abs(z) / sqrt(2)) for z in ref / se], rtol=1e-6, atol=1e-300)
    assert rec['stats']['r2'] is None and rec['stats']['rmse'] is None
    assert rec['stats']['residual_sd'] is None


@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
def test_logistic_badly_scaled_columns(scaled_csv, method):
    X, y = read_csv(scaled_csv)
    ref, _, _ = reference_logistic(X, y)
    rec = run(scaled_csv, method=method, model='logistic')
    assert rec['converged']
    assert rel_diff(theta_of(rec), ref) <= TOL.get(method, 1e-9)


@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
def test_logistic_ridge(logistic_csv, method):
    X, y = read_csv(logistic_csv)
    ref, se = logistic_std_errors(X, y, ridge=30.0)
    rec = run(logistic_csv, method=method, model='logistic', ridge=30.0)
    assert rel_diff(theta_of(rec), ref) <= TOL.get(method, 1e-9)
    np.testing.assert_allclose(rec['stats']['std_errors'], se, rtol=1e-9)


def test_methods_agree_with_each_other(logistic_csv):
    recs = {m: run(logistic_csv, method=m, model='logistic', tol=1e-7)
            for m in ('gd', 'lbfgs', 'newton')}
    for m in ('gd', 'lbfgs'):
        assert rel_diff(theta_of(recs[m]), theta_of(recs['newton'])) <= 1e-7


def test_libsvm_input(tmp_path):
    path = str(tmp_path / 'd.libsvm')
    generate(2000, 5, path, model='logistic', seed=7, fmt='libsvm')
    X, y = read_libsvm(path)
    ref, se = logistic_std_errors(X, y)
    for method in ('newton', 'lbfgs'):
        rec = run(path, method=method, model='logistic')
        assert len(rec['coefficients']) == X.shape[1] and rec['n_rows'] == len(y)
        assert rel_diff(theta_of(rec), ref) <= TOL.get(method, 1e-9)
        np.testing.assert_allclose(rec['stats']['std_errors'], se, rtol=1e-9)


# --------------------------------------------------------------------------- failures

def test_not_converged_is_reported(logistic_csv, capsys):
    rec = run(logistic_csv, method='gd', model='logistic', max_iter=2)
    assert rec['converged'] is False and rec['iterations'] == 2
    assert 'did not converge in 2 iterations' in capsys.readouterr().err


@pytest.mark.parametrize('method', ['newton', 'lbfgs'])
def test_separated_classes_fail_clearly(tmp_path, method):
    x = np.linspace(-1, 1, 100)
    path = str(tmp_path / 'sep.csv')
    np.savetxt(path, np.column_stack([(x > 0.01).astype(int), x]), delimiter=',', fmt='%.17g')
    with pytest.raises(NotConvergedError, match='perfectly separated.*--ridge'):
        run(path, method=method, model='logistic')


def test_logistic_label_outside_0_1(tmp_path):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x\n1,0.5\n0,0.1\n2,0.3\n')
    with pytest.raises(BadInputError) as e:
        run(str(path), method='newton', model='logistic')
    msg = str(e.value)
    assert 'line 4' in msg and 'not 0 or 1' in msg and "'2,0.3'" in msg


def test_logistic_needs_an_iterative_method(logistic_csv):
    with pytest.raises(DistregError, match='no closed form'):
        run(logistic_csv, method='normal', model='logistic')


def test_defaults_cover_every_iterative_method():
    assert set(optim.DEFAULT_TOL) == set(optim.DEFAULT_MAX_ITER) == set(optim.ITERATIVE_METHODS)
