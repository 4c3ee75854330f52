"""Iterative methods on the mrjob engines: one job per pass over the input (jobs/gradient.py,
jobs/hessian.py), run to convergence and checked against references computed in the test
(np.linalg.lstsq and the textbook inference for least squares, a plain Newton on the whole
matrix for logistic regression), not against another distreg engine."""

import numpy as np
import pytest

from helpers import (assert_linear_stats, logistic_std_errors, ols_reference, read_csv,
                     rel_diff)
from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.result import theta_of
from jobs.engine import JOBS, MRJobEngine

# The methods' default tolerances (distreg.optim.DEFAULT_TOL): their stopping rules bound the
# relative distance to the optimum by this.
TOL = {'gd': 1e-9, 'lbfgs': 1e-10, 'newton': 1e-9}


@pytest.fixture(scope='module')
def logistic_csv(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('mrjob-iter') / 'logistic.csv')
    generate(1500, 2, path, model='logistic', seed=11)
    return path


@pytest.fixture(scope='module')
def linear_csv(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('mrjob-iter') / 'linear.csv')
    generate(3000, 3, path, seed=12)
    return path


def test_every_aggregate_has_a_job():
    from distreg import blocks
    assert set(JOBS) == set(blocks.AGGREGATES)


def check_logistic(rec, path, method):
    X, y = read_csv(path)
    ref, se = logistic_std_errors(X, y)
    assert rec['converged'] and rec['model'] == 'logistic' and rec['n_rows'] == len(y)
    assert rel_diff(theta_of(rec), ref) <= TOL[method]
    np.testing.assert_allclose(rec['stats']['std_errors'], se, rtol=1e-9)
    assert rec['stats']['r2'] is None


def test_lbfgs_logistic_on_mrjob_local(logistic_csv):
    rec = fit(MRJobEngine(logistic_csv, 'mrjob-local'),
              FitOptions(method='lbfgs', model='logistic', tol=TOL['lbfgs']))
    assert rec['engine'] == 'mrjob-local'
    check_logistic(rec, logistic_csv, 'lbfgs')
    # one job per pass: the start (hessian), each line-search evaluation, the final hessian
    assert len(rec['timings']['pass_seconds']) >= rec['iterations'] + 2


@pytest.mark.parametrize('method', ['gd', 'newton'])
def test_logistic_on_mrjob_inline(logistic_csv, method):
    rec = fit(MRJobEngine(logistic_csv, 'mrjob-inline'),
              FitOptions(method=method, model='logistic'))
    assert rec['engine'] == 'mrjob-inline' and rec['method'] == method
    check_logistic(rec, logistic_csv, method)
    assert len(rec['timings']['pass_seconds']) >= rec['iterations']


@pytest.mark.parametrize('method', ['gd', 'newton'])
def test_linear_on_mrjob_inline(linear_csv, method):
    X, y = read_csv(linear_csv)
    ref = ols_reference(X, y)
    rec = fit(MRJobEngine(linear_csv, 'mrjob-inline'), FitOptions(method=method))
    assert rec['converged'] and rec['n_rows'] == len(y)
    assert rel_diff(theta_of(rec), ref['theta']) <= TOL[method]
    assert_linear_stats(rec, ref)
    if method == 'newton':
        assert rec['iterations'] == 1   # one Newton step solves a quadratic exactly
