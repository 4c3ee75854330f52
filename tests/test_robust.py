"""Heteroskedasticity-robust standard errors (--cov HC0..HC3; issue 23 item 4): one more pass
over the data after a normal or qr fit, on every engine that runs the core (Spark:
tests/spark_jobs/test_spark_robust.py), against statsmodels' OLS(...).fit(cov_type=...)
computed in the test on the same rows (test-only reference): standard errors and z values
to 1e-9 relative, two-sided normal p values likewise."""

import json

import numpy as np
import pytest
import statsmodels.api as sm

from helpers import write_csv
from distreg.cli import main, make_engine
from distreg.errors import DistregError
from distreg.fit import FitOptions, fit

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


@pytest.fixture(scope='module')
def hetero(tmp_path_factory):
    """3,000 rows whose noise grows with |x1| (where robust and classical errors differ)."""
    rng = np.random.default_rng(23)
    n = 3000
    X = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1]
    y = 2 + X @ [1.0, -0.2, 5.0] + rng.normal(size=n) * (0.5 + np.abs(X[:, 0]))
    path = write_csv(tmp_path_factory.mktemp('robust') / 'hetero.csv', y, X)
    return path, X, y


def reference(X, y, cov_type, degree=1):
    """statsmodels on the model matrix built here, in distreg's order (1, x1, x1^2, x2, ...)."""
    design = np.column_stack([np.ones(len(y))] + [X[:, j] ** k for j in range(X.shape[1])
                                                  for k in range(1, degree + 1)])
    return sm.OLS(y, design).fit(cov_type=cov_type)


def check_against(record, ref, cov_type):
    stats = record['stats']
    assert stats['cov_type'] == cov_type
    np.testing.assert_allclose(stats['std_errors'], ref.bse, rtol=1e-9)
    np.testing.assert_allclose(stats['t_values'], ref.tvalues, rtol=1e-9)
    np.testing.assert_allclose(stats['p_values'], ref.pvalues, rtol=1e-9, atol=1e-300)
    # the coefficients are the fit's, whatever the covariance
    np.testing.assert_allclose([record['intercept']] + record['coefficients'], ref.params,
                               rtol=1e-9)


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('method', ['normal', 'qr'])
@pytest.mark.parametrize('cov_type', ['HC0', 'HC1', 'HC2', 'HC3'])
def test_robust_standard_errors_match_statsmodels(hetero, engine, method, cov_type):
    path, X, y = hetero
    record = fit(make_engine(engine, path), FitOptions(method=method, cov=cov_type))
    check_against(record, reference(X, y, cov_type), cov_type)
    # and they are not the classical ones: the noise is heteroskedastic
    classical = reference(X, y, 'nonrobust').bse
    assert np.max(np.abs(np.asarray(record['stats']['std_errors']) / classical - 1)) > 0.05


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_robust_with_a_polynomial_design(hetero, engine):
    path, X, y = hetero
    record = fit(make_engine(engine, path), FitOptions(method='qr', cov='HC3', poly_degree=2))
    check_against(record, reference(X, y, 'HC3', degree=2), 'HC3')


def test_nonrobust_is_the_default_and_says_so(hetero):
    path, X, y = hetero
    record = fit(make_engine('numpy', path), FitOptions(method='qr'))
    assert record['stats']['cov_type'] == 'nonrobust'
    np.testing.assert_allclose(record['stats']['std_errors'], reference(X, y, 'nonrobust').bse,
                               rtol=1e-9)


@pytest.mark.parametrize('options, message', [
    (dict(model='logistic', method='newton'), '--model linear and --method normal or qr'),
    (dict(method='lbfgs'), '--model linear and --method normal or qr'),
    (dict(method='qr', ridge=1.0), 'with --ridge'),
])
def test_robust_refuses_what_it_does_not_define(hetero, options, message):
    with pytest.raises(DistregError, match=message):
        fit(make_engine('numpy', hetero[0]), FitOptions(cov='HC1', **options))


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_hc2_hc3_refuse_a_row_of_leverage_one(tmp_path, engine):
    rng = np.random.default_rng(5)
    n = 50
    x = rng.normal(size=n)
    only = np.zeros(n)
    only[7] = 1.0          # a column non-zero in one row: that row's leverage is 1
    y = 1 + x + rng.normal(size=n)
    path = write_csv(tmp_path / 'lev.csv', y, np.column_stack([x, only]))
    with pytest.raises(DistregError, match='1 row.s. have leverage 1'):
        fit(make_engine(engine, path), FitOptions(method='qr', cov='HC2'))
    record = fit(make_engine(engine, path), FitOptions(method='qr', cov='HC0'))
    ref = sm.OLS(y, np.column_stack([np.ones(n), x, only])).fit(cov_type='HC0')
    np.testing.assert_allclose(record['stats']['std_errors'], ref.bse, rtol=1e-9, atol=1e-12)


def test_the_cli_summary_names_the_covariance(hetero, tmp_path, capsys):
    out = tmp_path / 'r.json'
    assert main(['fit', hetero[0], '--engine', 'mrjob-local', '--method', 'normal',
                 '--cov', 'HC1', '--out', str(out)]) == 0
    captured = capsys.readouterr().out
    assert 'Covariance:     HC1 (z, normal p)' in captured and 'P>|z|' in captured
    record = json.loads(out.read_text())
    assert record['stats']['cov_type'] == 'HC1'
    # one pass for the fit, one for the sandwich
    assert len(record['timings']['pass_seconds']) == 2


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
@pytest.mark.parametrize('cov_type', ['HC0', 'HC1', 'HC2', 'HC3'])
def test_robust_with_frequency_weights_is_the_duplicated_rows(hetero, tmp_path, engine,
                                                              cov_type):
    """Integer weights: the same robust errors as the rows written that many times."""
    _, X, y = hetero
    rng = np.random.default_rng(9)
    w = rng.integers(0, 4, size=len(y))
    weighted = tmp_path / 'w.csv'
    with open(weighted, 'w') as f:
        f.write('y,x1,x2,x3,w\n')
        for i in range(len(y)):
            f.write(','.join(repr(float(v)) for v in (y[i], *X[i], w[i])) + '\n')
    keep = np.repeat(np.arange(len(y)), w)
    record = fit(make_engine(engine, str(weighted)),
                 FitOptions(method='qr', cov=cov_type, weight_col='w'))
    check_against(record, reference(X[keep], y[keep], cov_type), cov_type)
