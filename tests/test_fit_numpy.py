"""The engine-free driver on the numpy engine, against independent numpy references."""

import math

import numpy as np
import pytest

from helpers import (assert_linear_stats, lstsq, make_linear, ols_reference, read_csv, theta,
                     write_csv)
from distreg.errors import SingularMatrixError
from distreg.fit import FitOptions, fit
from distreg.inference import student_t_two_sided
from distreg.numpy_engine import NumpyEngine
from distreg.result import RECORD_KEYS, STATS_KEYS


def run(path, **kw):
    return fit(NumpyEngine(path, chunk_bytes=kw.pop('chunk_bytes', 4096)), FitOptions(**kw))


@pytest.mark.parametrize('n, p', [(50, 1), (500, 5), (3000, 12)])
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_agrees_with_lstsq(tmp_path, n, p, method):
    y, X = make_linear(n, p, seed=n + p)
    rec = run(write_csv(tmp_path / 'd.csv', y, X), method=method)
    np.testing.assert_allclose(theta(rec), lstsq(y, X), rtol=1e-9)
    assert_linear_stats(rec, ols_reference(X, y))
    assert rec['n_rows'] == n and rec['n_bad_rows'] == 0
    assert tuple(rec) == RECORD_KEYS + ('design',) and tuple(rec['stats']) == STATS_KEYS


@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_no_intercept_and_polynomial(tmp_path, method):
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 300)
    y = 0.5 * x - 1.25 * x ** 2 + 0.75 * x ** 3 + 0.01 * rng.normal(size=300)
    path = write_csv(tmp_path / 'p.csv', y, x[:, None])
    rec = run(path, method=method, intercept=False, poly_degree=3)
    V = np.column_stack([x, x ** 2, x ** 3])
    np.testing.assert_allclose(theta(rec), np.linalg.lstsq(V, y, rcond=None)[0], rtol=1e-9)
    assert_linear_stats(rec, ols_reference(x[:, None], y, intercept=False, degree=3))
    assert rec['intercept'] is None


@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_ridge_matches_its_closed_form(tmp_path, method):
    y, X = make_linear(400, 4, seed=9)
    lam = 25.0
    rec = run(write_csv(tmp_path / 'r.csv', y, X), method=method, ridge=lam)
    A = np.column_stack([np.ones(len(y)), X])
    D = np.diag([0.0, *[lam] * 4])          # the intercept is not penalised
    expected = np.linalg.solve(A.T @ A + D, A.T @ y)
    np.testing.assert_allclose(theta(rec), expected, rtol=1e-9)
    # the ridge sandwich sigma² (A'A + D)^-1 A'A (A'A + D)^-1 and the residual statistics
    assert_linear_stats(rec, ols_reference(X, y, ridge=lam))


def test_inference_matches_textbook_formulas(tmp_path):
    y, X = make_linear(200, 3, seed=11, noise=2.0)
    rec = run(write_csv(tmp_path / 'i.csv', y, X), method='qr')
    A = np.column_stack([np.ones(len(y)), X])
    b = np.linalg.lstsq(A, y, rcond=None)[0]
    r = y - A @ b
    n, p = A.shape
    s2 = r @ r / (n - p)
    se = np.sqrt(s2 * np.diag(np.linalg.inv(A.T @ A)))
    st = rec['stats']
    np.testing.assert_allclose(st['std_errors'], se, rtol=1e-9)
    np.testing.assert_allclose(st['t_values'], b / se, rtol=1e-8)
    np.testing.assert_allclose(st['residual_sd'], math.sqrt(s2), rtol=1e-10)
    np.testing.assert_allclose(st['rmse'], math.sqrt(r @ r / n), rtol=1e-10)
    np.testing.assert_allclose(st['r2'], 1 - (r @ r) / ((y - y.mean()) @ (y - y.mean())),
                               rtol=1e-12)


def test_student_t_with_one_degree_of_freedom_is_cauchy():
    for t in (0.3, 1.0, 7.0):
        assert student_t_two_sided(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t),
                                                          rel=1e-12)


@pytest.mark.parametrize('t, df', [(0.5, 3), (2.0, 10), (-3.1, 25), (1.5, 2), (4.0, 200)])
def test_student_t_p_values_match_numerical_integration(t, df):
    # P(|T| > |t|) = 2 * integral_{|t|}^{inf} f(u) du, integrated by Simpson's rule on
    # u = |t| + s/(1-s) (an independent way to the same number; the integrand
    # vanishes at s = 1 for df > 1)
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    s = np.linspace(0, 1, 200001)[:-1]
    u = abs(t) + s / (1 - s)
    f = c * (1 + u * u / df) ** (-(df + 1) / 2) / (1 - s) ** 2
    h = s[1] - s[0]
    integral = h / 3 * (f[0] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum() + f[-1])
    assert student_t_two_sided(t, df) == pytest.approx(2 * integral, rel=1e-6)


def test_collinear_columns_are_refused_with_the_condition_number(tmp_path):
    rng = np.random.default_rng(2)
    a = rng.normal(size=100)
    X = np.column_stack([a, 2 * a, rng.normal(size=100)])
    path = write_csv(tmp_path / 'c.csv', rng.normal(size=100), X)
    with pytest.raises(SingularMatrixError, match='condition number .*--method qr.*--ridge'):
        run(path, method='normal')
    with pytest.raises(SingularMatrixError, match='rank deficient'):
        run(path, method='qr')
    # ridge makes the answer unique: the closed form (A'A + L)^-1 A'y, intercept unpenalised
    ref = ols_reference(X, read_csv(path)[1], ridge=1.0)
    for method in ('normal', 'qr'):
        rec = run(path, method=method, ridge=1.0)
        assert rec['converged']
        np.testing.assert_allclose(theta(rec), ref['theta'], rtol=1e-9)
        assert_linear_stats(rec, ref)


def test_ill_conditioned_normal_equations_warn(tmp_path, capsys):
    rng = np.random.default_rng(3)
    a = rng.normal(size=200)
    X = np.column_stack([a, a + 1e-6 * rng.normal(size=200)])
    run(write_csv(tmp_path / 'w.csv', rng.normal(size=200), X), method='normal')
    err = capsys.readouterr().err
    assert 'ill-conditioned' in err and 'condition number' in err and '--method qr' in err


def test_chunk_size_does_not_change_the_answer(tmp_path):
    y, X = make_linear(2000, 3, seed=4)
    path = write_csv(tmp_path / 'k.csv', y, X)
    small = run(path, method='qr', chunk_bytes=1000)
    large = run(path, method='qr', chunk_bytes=1 << 20)
    np.testing.assert_allclose(theta(small), theta(large), rtol=1e-13)
