"""The iteration history of every engine: the same loss at every iteration (same algorithm,
same data), checked against losses computed here from the file with plain numpy."""

import io

import numpy as np

from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.numpy_engine import NumpyEngine
from distreg.result import HISTORY_KEYS, theta_of
from jobs.engine import MRJobEngine
from spark_jobs.engine import RDDEngine

ITERS = 4


def logistic_loss_and_grad(path, theta):
    """sum log(1 + e^eta) - y eta and its gradient, straight from the CSV (intercept first)."""
    data = np.loadtxt(path, delimiter=',', skiprows=1)
    y, X = data[:, 0], np.column_stack([np.ones(len(data)), data[:, 1:]])
    eta = X @ theta
    p = 1.0 / (1.0 + np.exp(-eta))
    return float(np.sum(np.logaddexp(0.0, eta) - y * eta)), X.T @ (p - y)


def test_history_is_the_same_on_numpy_mrjob_and_spark(tmp_path, spark):
    path = str(tmp_path / 'logistic.csv')
    generate(3000, 3, path, model='logistic', seed=31)
    # --tol 0: no early stop, exactly ITERS iterations on every engine
    options = dict(method='gd', model='logistic', tol=0.0, max_iter=ITERS)
    progress = io.StringIO()
    records = {
        'numpy': fit(NumpyEngine(path), FitOptions(**options)),
        'mrjob-local': fit(MRJobEngine(path, 'mrjob-local'), FitOptions(**options),
                           progress=progress),
    }
    engine = RDDEngine(path, spark=spark)
    try:
        records['spark-rdd'] = fit(engine, FitOptions(**options))
    finally:
        engine.close()
    n = 3000
    for name, rec in records.items():
        hist = rec['history']
        assert rec['iterations'] == ITERS and not rec['converged'], name
        assert [h['iteration'] for h in hist] == list(range(ITERS + 1)), name
        assert all(set(h) == set(HISTORY_KEYS) for h in hist), name
        # iteration 0 is theta = 0: n log 2, whatever the data
        assert abs(hist[0]['loss'] - n * np.log(2.0)) <= 1e-12 * n, name
        seconds = [h['seconds'] for h in hist]
        assert all(b > a for a, b in zip(seconds, seconds[1:])), name
        # the last entry is the loss and gradient at the answer, as numpy computes them here
        f, g = logistic_loss_and_grad(path, np.array(theta_of(rec)))
        assert abs(hist[-1]['loss'] - f) <= 1e-9 * f, name
        assert abs(hist[-1]['grad_norm'] - np.linalg.norm(g)) <= 1e-6 * np.linalg.norm(g), name
    ref = [h['loss'] for h in records['numpy']['history']]
    for name in ('mrjob-local', 'spark-rdd'):
        got = [h['loss'] for h in records[name]['history']]
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=0, err_msg=name)
    # the driver printed one line per iteration for the mrjob engine (one job per iteration)
    lines = progress.getvalue().splitlines()
    assert len(lines) == ITERS + 1
    assert all(line.startswith('distreg: gd iteration %d: loss ' % i)
               for i, line in enumerate(lines))


def test_closed_form_has_empty_history(tmp_path):
    path = str(tmp_path / 'linear.csv')
    generate(500, 2, path, seed=32)
    rec = fit(NumpyEngine(path), FitOptions(method='normal'))
    assert rec['history'] == []


def test_probes_sharing_a_session_count_only_their_own_passes(spark, tmp_path):
    """make scaling runs many fits in one SparkSession: each probe's passes are its own
    (a reused job group name once counted every earlier fit's tasks in the later ones)."""
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    from benchmarks.probes import Probe
    from distreg.engine import make_engine
    from distreg.fit import FitOptions, fit
    from helpers import make_linear, write_csv
    y, X = make_linear(2000, 3, seed=5)
    path = tmp_path / 'd.csv'
    write_csv(path, y, X)
    seen = []
    for _ in range(3):
        probe = Probe(make_engine('spark-rdd', str(path), spark=spark), spark=spark)
        try:
            fit(probe, FitOptions(method='normal'))
        finally:
            probe.close()
        seen.append(probe.passes[-1]['tasks'])
        # the pass's own tasks, one per partition on local[2]: not the close's clean-up job
        # over the cached partitions, which ran after the pass on the same thread
        assert seen[-1] == min(probe.engine.n_partitions, 2)
        assert spark.sparkContext.getLocalProperty('spark.jobGroup.id') is None
    assert seen == [seen[0]] * 3
