"""The mrjob jobs themselves (STYLE: each job has test_empty and one small canonical input)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, lstsq, make_linear, theta, write_csv
from jobs.gradient import MRLossGradient
from jobs.hessian import MRHessian
from jobs.normal import MRNormalEquations
from jobs.refine import MRRefinePass
from jobs.tsqr import MRTSQR

CONF = str(ROOT / 'configs' / 'mrjob.conf')


def run_job(job_cls, args):
    """Run a job in-process on the inline runner; return (output values, counters)."""
    job = job_cls(['-r', 'inline', '--conf-path', CONF] + args)
    with job.make_runner() as runner:
        runner.run()
        values = [v for _, v in job.parse_output(runner.cat_output())]
        return values, runner.counters()


@pytest.fixture(scope='module')
def canonical(tmp_path_factory):
    # y = 1 * x_0 + 2 * x_1 + 3, exactly
    rng = np.random.default_rng(0)
    X = rng.integers(-10, 10, size=(40, 2)).astype(float)
    y = X @ [1.0, 2.0] + 3.0
    return write_csv(tmp_path_factory.mktemp('canon') / 'c.csv', y, X), y, X


@pytest.mark.parametrize('job_cls', [MRNormalEquations, MRTSQR])
def test_canonical_input_solved_by_the_reducer(job_cls, canonical):
    path, y, X = canonical
    (record,), counters = run_job(job_cls, [path])
    np.testing.assert_allclose(theta(record), [3.0, 1.0, 2.0], rtol=1e-12)
    assert record['engine'] == 'mrjob-inline' and record['n_rows'] == 40
    # the inline runner splits the input into at least two map tasks
    assert counters[0]['distreg']['map tasks'] >= 2


def test_refine_pass_sums_the_residual_gradient(canonical, tmp_path):
    path, y, X = canonical
    th = [2.5, 1.25, 1.75]
    params = tmp_path / 'p.json'
    params.write_text(json.dumps({'theta': th}))
    (out,), _ = run_job(MRRefinePass, [path, '--params', str(params)])
    from distreg.blocks import decode
    part = decode(out['partial'])
    A = np.column_stack([np.ones(len(y)), X])
    np.testing.assert_allclose(part['g'].astype(float), A.T @ (y - A @ th), rtol=1e-13)


@pytest.mark.parametrize('job_cls', [MRNormalEquations, MRTSQR, MRRefinePass, MRLossGradient,
                                     MRHessian])
def test_empty(job_cls, tmp_path):
    empty = tmp_path / 'empty.csv'
    empty.write_text('')
    from distreg.errors import EmptyInputError
    with pytest.raises(EmptyInputError, match='empty'):
        run_job(job_cls, [str(empty)])


def test_header_only_input_is_reported_as_no_rows(tmp_path):
    path = tmp_path / 'h.csv'
    path.write_text('y,x1\n')
    (out,), _ = run_job(MRNormalEquations, [str(path)])
    assert 'no data rows' in out['error']['reason']


def test_job_runs_as_a_command_on_the_local_runner(tmp_path):
    y, X = make_linear(3000, 3, seed=1)
    path = write_csv(tmp_path / 'd.csv', y, X)
    out = subprocess.run([sys.executable, str(ROOT / 'jobs' / 'normal.py'), '-r', 'local',
                          '--conf-path', CONF, path], capture_output=True, text=True, check=True)
    record = json.loads(out.stdout)
    assert record['engine'] == 'mrjob-local'
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)


def test_bad_row_makes_the_command_fail_with_its_location(tmp_path):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x\n1,2\n3,four\n5,6\n')
    out = subprocess.run([sys.executable, str(ROOT / 'jobs' / 'normal.py'), '-r', 'local',
                          '--conf-path', CONF, str(path)], capture_output=True, text=True)
    assert out.returncode == 1
    assert "line 3: field 2 (column 'x') is 'four', not a number" in out.stderr
    assert out.stdout == ''
