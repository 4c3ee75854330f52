"""Iterative methods on the mrjob engines: one job per pass over the input (jobs/gradient.py,
jobs/hessian.py), agreeing with the numpy engine to the method's tolerance."""

import numpy as np

from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.numpy_engine import NumpyEngine
from distreg.result import theta_of
from jobs.engine import JOBS, MRJobEngine


def rel_diff(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_every_aggregate_has_a_job():
    from distreg import blocks
    assert set(JOBS) == set(blocks.AGGREGATES)


def test_lbfgs_logistic_on_mrjob_local(tmp_path):
    path = str(tmp_path / 'small.csv')
    generate(1500, 2, path, model='logistic', seed=11)
    tol = 1e-3  # each pass is a local Hadoop-style job (seconds): few passes
    options = dict(method='lbfgs', model='logistic', tol=tol)
    rec = fit(MRJobEngine(path, 'mrjob-local'), FitOptions(**options))
    ref = fit(NumpyEngine(path), FitOptions(method='newton', model='logistic'))
    assert rec['engine'] == 'mrjob-local' and rec['converged']
    assert rel_diff(theta_of(rec), theta_of(ref)) <= tol
    # one job per pass: the start (hessian), each line-search evaluation, the final hessian
    assert len(rec['timings']['pass_seconds']) >= rec['iterations'] + 2
    np.testing.assert_allclose(rec['stats']['std_errors'], ref['stats']['std_errors'], rtol=1e-2)


def test_newton_linear_on_mrjob_inline(tmp_path):
    path = str(tmp_path / 'lin.csv')
    generate(3000, 3, path, seed=12)
    rec = fit(MRJobEngine(path, 'mrjob-inline'), FitOptions(method='newton'))
    ref = fit(NumpyEngine(path), FitOptions(method='normal'))
    assert rec['iterations'] == 1
    assert rel_diff(theta_of(rec), theta_of(ref)) <= 1e-9
