"""Iterative methods on YARN: Newton (IRLS) for logistic regression, one Hadoop streaming job
per pass on the MiniCluster, against a plain Newton written here and the numpy engine."""

import numpy as np
import pytest

from helpers import theta
from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.numpy_engine import NumpyEngine
from jobs.engine import MRJobEngine

pytestmark = pytest.mark.hadoop

ITERS = 2


def plain_newton(path, iters):
    """Newton on the log-likelihood from theta = 0, full steps; losses at 0 and each step."""
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    y, X = data[:, 0], np.column_stack([np.ones(len(data)), data[:, 1:]])
    theta_k = np.zeros(X.shape[1])
    losses = []
    for _ in range(iters + 1):
        eta = X @ theta_k
        losses.append(float(np.sum(np.logaddexp(0.0, eta) - y * eta)))
        if len(losses) > iters:
            break
        p = 1.0 / (1.0 + np.exp(-eta))
        H = X.T @ (X * (p * (1 - p))[:, None])
        theta_k = theta_k - np.linalg.solve(H, X.T @ (p - y))
    return theta_k, losses


def test_newton_two_iterations_on_yarn_agree_with_numpy(hadoop_cluster, tmp_path):
    path = str(tmp_path / "logistic.csv")
    generate(20_000, 4, path, model="logistic", seed=61)
    # --tol 0: exactly ITERS iterations, whatever the engine
    options = dict(method="newton", model="logistic", tol=0.0, max_iter=ITERS)
    engine = MRJobEngine(path, "mrjob-hadoop", extra_args=["--jobconf", "mapreduce.job.maps=2"])
    try:
        rec = fit(engine, FitOptions(**options))
        maps = {g.strip(): c for g, c in engine.counters[0].items()}["Job Counters"]
        assert maps["Launched map tasks"] >= 2
    finally:
        engine.close()
    ref = fit(NumpyEngine(path), FitOptions(**options))
    expected, losses = plain_newton(path, ITERS)
    # full steps all the way (no halving), so the plain Newton is the same iteration
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert rec["engine"] == "mrjob-hadoop" and rec["iterations"] == ITERS
    assert not rec["converged"]  # two iterations do not reach the optimum
    # one job per pass: the Hessian at 0, then one per iteration
    assert len(rec["timings"]["pass_seconds"]) == ITERS + 1
    got = np.array(theta(rec))
    assert np.max(np.abs(got - expected)) <= 1e-9 * np.max(np.abs(expected))
    assert np.max(np.abs(got - np.array(theta(ref)))) <= 1e-9 * np.max(np.abs(expected))
    np.testing.assert_allclose([h["loss"] for h in rec["history"]], losses, rtol=1e-9, atol=0)
    np.testing.assert_allclose([h["loss"] for h in rec["history"]],
                               [h["loss"] for h in ref["history"]], rtol=1e-9, atol=0)


def test_sigterm_kills_the_running_yarn_application(hadoop_cluster, tmp_path):
    """A mrjob-hadoop fit terminated while its job runs on YARN: the process exits 143, the
    ResourceManager lists the application KILLED (mrjob alone leaves it running, reading an
    input that is being removed), and the input's upload and mrjob's tmp dirs leave HDFS."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from helpers import ROOT, yarn_applications
    from hdfs_utils import hdfs
    path = str(tmp_path / "logistic.csv")
    generate(20_000, 4, path, model="logistic", seed=62)
    before = set(yarn_applications(hadoop_cluster.resourcemanager_web))
    import getpass
    user = os.environ.get("HADOOP_USER_NAME") or getpass.getuser()

    def tmp_dirs():
        """distreg's input uploads and mrjob's job dirs on HDFS."""
        return {e.path for d in ("/user/%s/tmp/distreg" % user, "/user/%s/tmp/mrjob" % user)
                if hdfs.exists(d) for e in hdfs.ls(d)}

    left_before = tmp_dirs()
    proc = subprocess.Popen(
        [sys.executable, "-m", "distreg.cli", "fit", path, "--engine", "mrjob-hadoop",
         "--model", "logistic", "--method", "gd", "--tol", "1e-300", "--max-iter", "1000",
         "--quiet", "--out", str(tmp_path / "r.json")],
        cwd=str(ROOT), env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    running, deadline = None, time.monotonic() + 240
    while running is None and time.monotonic() < deadline and proc.poll() is None:
        apps = yarn_applications(hadoop_cluster.resourcemanager_web)
        running = next((a for a, v in apps.items() if a not in before
                        and v["state"] == "RUNNING"), None)
        time.sleep(0.5)
    assert running, "no YARN application ran: %s" % (proc.poll(),)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 143, err
    assert "distreg: killed YARN application %s" % running in err, err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 60
    while yarn_applications(hadoop_cluster.resourcemanager_web)[running]["state"] != "KILLED":
        assert time.monotonic() < deadline, yarn_applications(
            hadoop_cluster.resourcemanager_web)[running]
        time.sleep(1)
    assert not (tmp_path / "r.json").exists()
    assert tmp_dirs() <= left_before, tmp_dirs() - left_before
