"""Spark on YARN (the MiniCluster's ResourceManager) and predict/evaluate on Hadoop.

- ``distreg fit --engine spark-rdd --master yarn``, a spark-mllib fit in a YARN session and
  ``spark-submit --master yarn spark_jobs/rdd_regression.py hdfs:///...`` agree with numpy to
  1e-9, and the ResourceManager reports each application FINISHED / SUCCEEDED; Spark's jars
  archive on HDFS is made once and reused (same modification time across applications).
- predict and evaluate on mrjob-hadoop and on spark-rdd on YARN agree with the test's own
  numpy product and with scikit-learn's metrics.

Each YARN application costs a minute or two on a loaded 2-core machine: few of them.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from helpers import (ROOT, check_linear_metrics, check_logistic_metrics, close_predictions,
                     make_linear, read_csv_columns, read_predictions, theta, write_csv,
                     write_tied_logistic)
from distreg import scoring
from distreg.engine import make_engine
from distreg.fit import FitOptions, fit
from distreg.numpy_engine import NumpyEngine
from hdfs_utils import hdfs
from hdfs_utils.env import environment
from jobs.engine import MRJobEngine
from spark_jobs import yarn
from spark_jobs.session import get_session, spark_submit, yarn_submit_args

pytestmark = pytest.mark.hadoop


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def apps(cluster):
    with urllib.request.urlopen(cluster.resourcemanager_web + "/ws/v1/cluster/apps",
                                timeout=10) as r:
        return (json.load(r).get("apps") or {}).get("app") or []


def finished_apps(cluster, since_ms, name_part):
    """The YARN applications started since ``since_ms`` whose name has ``name_part``."""
    return [a for a in apps(cluster) if a["startedTime"] >= since_ms and name_part in a["name"]]


def wait_final(cluster, app_id, timeout=60):
    """The application's (state, finalStatus) once YARN has recorded the end."""
    deadline = time.time() + timeout
    while True:
        app = next(a for a in apps(cluster) if a["id"] == app_id)
        if app["state"] in ("FINISHED", "FAILED", "KILLED") or time.time() > deadline:
            return app["state"], app["finalStatus"]
        time.sleep(1)


@pytest.fixture(scope="module")
def linear_on_hdfs(hadoop_cluster_for_module, tmp_path_factory):
    y, X = make_linear(20_000, 5, seed=71)
    local = write_csv(tmp_path_factory.mktemp("yarn") / "d.csv", y, X)
    remote = "/tests/yarn/d.csv"
    hdfs.put(local, remote, overwrite=True)
    reference = theta(fit(NumpyEngine(local), FitOptions(method="qr")))
    return local, "hdfs://" + remote, reference


def archive_mtime():
    import pyspark
    path = yarn.staging_dir(pyspark.__version__) + "/spark-jars.zip"
    return [s.modified for s in hdfs.ls(path)]


def test_cli_fit_on_yarn_agrees_and_succeeds(hadoop_cluster, linear_on_hdfs, tmp_path):
    _, remote, reference = linear_on_hdfs
    since = int(time.time() * 1000)
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, "-m", "distreg.cli", "fit", remote, "--engine",
                           "spark-rdd", "--method", "qr", "--master", "yarn", "--quiet",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["n_rows"] == 20_000
    assert rel(theta(record), reference) <= 1e-9
    [app] = finished_apps(hadoop_cluster, since, "distreg-spark-rdd")
    assert app["applicationType"] == "SPARK"
    assert wait_final(hadoop_cluster, app["id"]) == ("FINISHED", "SUCCEEDED")


@pytest.fixture
def yarn_session(hadoop_cluster_for_module):
    """A SparkSession on the MiniCluster's YARN, for one test: it holds YARN's containers, so
    it must end before another YARN application of the module is submitted. One SparkContext
    per process: the tests that use it run before any other Spark test (tests/conftest.py
    orders them first). What Spark's set-up puts in os.environ is taken out again."""
    from pyspark import SparkContext
    assert SparkContext._active_spark_context is None, "a Spark session runs already"
    with environment():
        session = get_session("distreg-tests-yarn", "yarn")
        try:
            yield session
        finally:
            app_id = session.sparkContext.applicationId
            session.stop()
    assert wait_final(hadoop_cluster_for_module, app_id) == ("FINISHED", "SUCCEEDED")


def test_mllib_and_predict_evaluate_in_a_yarn_session(hadoop_cluster, yarn_session,
                                                      linear_on_hdfs, tmp_path):
    local, remote, reference = linear_on_hdfs
    before = archive_mtime()
    assert yarn_session.conf.get("spark.yarn.archive").endswith("/spark-jars.zip")
    assert yarn_session.conf.get("spark.executorEnv.PYSPARK_PYTHON") == sys.executable
    engine = make_engine("spark-mllib", remote, spark=yarn_session)
    try:
        record = fit(engine, FitOptions(method="normal"))
    finally:
        engine.close()
    assert rel(theta(record), reference) <= 1e-9
    # predict and evaluate on YARN with a model fitted by numpy
    model = scoring.Model(fit(NumpyEngine(local), FitOptions(method="qr")))
    out = str(tmp_path / "p.txt")
    scoring.predict(make_engine("spark-rdd", remote, spark=yarn_session), model, out)
    pred = np.array([float(v) for v in read_predictions(out)])
    y, X = read_csv_columns(local)
    assert close_predictions(pred, np.column_stack([np.ones(len(X)), X]) @ model.theta)
    m = scoring.evaluate(make_engine("spark-rdd", remote, spark=yarn_session), model)
    check_linear_metrics(m, y, pred)
    assert archive_mtime() == before   # the jars went up once, not per application


@pytest.fixture(scope="module")
def tied_logistic(hadoop_cluster_for_module, tmp_path_factory):
    """(local held-out file, its HDFS copy, labels, the test's own probabilities, the model)."""
    d = tmp_path_factory.mktemp("tied")
    write_tied_logistic(d / "train.csv", 3000, seed=1)
    y, X = write_tied_logistic(d / "held.csv", 4000, seed=2)
    held = str(d / "held.csv")
    hdfs.put(held, "/tests/yarn/held.csv", overwrite=True)
    model = scoring.Model(fit(NumpyEngine(str(d / "train.csv")),
                              FitOptions(model="logistic", method="newton")))
    prob = 1 / (1 + np.exp(-(np.column_stack([np.ones(len(X)), X]) @ model.theta)))
    return held, "hdfs:///tests/yarn/held.csv", y, prob, model


def evaluate_and_check(engine, model, y, prob):
    try:
        m = scoring.evaluate(engine, model)
    finally:
        engine.close()
    check_logistic_metrics(m, y, prob)


def test_logistic_evaluate_on_yarn(hadoop_cluster, yarn_session, tied_logistic):
    _, remote, y, prob, model = tied_logistic
    evaluate_and_check(make_engine("spark-rdd", remote, spark=yarn_session), model, y, prob)


# Not beside the YARN session's test: a streaming job submitted while that session holds its
# containers waits for YARN's memory until the session ends.
def test_logistic_evaluate_on_hadoop(hadoop_cluster, tied_logistic):
    held, _, y, prob, model = tied_logistic
    evaluate_and_check(MRJobEngine(held, "mrjob-hadoop"), model, y, prob)


def test_predict_on_hadoop_local_and_hdfs_outputs(hadoop_cluster, linear_on_hdfs, tmp_path):
    local, remote, _ = linear_on_hdfs
    model = scoring.Model(fit(NumpyEngine(local), FitOptions(method="qr")))
    y, X = read_csv_columns(local)
    expected = np.column_stack([np.ones(len(X)), X]) @ model.theta
    out = str(tmp_path / "p.txt")
    scoring.predict(MRJobEngine(remote, "mrjob-hadoop"), model, out)
    assert close_predictions([float(v) for v in read_predictions(out)], expected)
    target = "hdfs:///tests/yarn/predictions"
    scoring.predict(MRJobEngine(remote, "mrjob-hadoop"), model, target)
    parts = sorted(s.path for s in hdfs.ls(target) if os.path.basename(s.path).startswith("part-"))
    lines = b"".join(hdfs.cat(p) for p in parts).decode().split("\n")[:-1]
    assert close_predictions([float(v) for v in lines], expected)


def test_spark_submit_on_yarn(hadoop_cluster, linear_on_hdfs, tmp_path, monkeypatch):
    _, remote, reference = linear_on_hdfs
    monkeypatch.setenv("PYSPARK_ARCHIVES_PATH", "")   # yarn_submit_args sets it: undone after
    since = int(time.time() * 1000)
    cmd, env = spark_submit()
    args = yarn_submit_args()          # also puts HADOOP_CONF_DIR, PYSPARK_ARCHIVES_PATH in env
    env.update({k: os.environ[k] for k in ("HADOOP_CONF_DIR", "PYSPARK_ARCHIVES_PATH")})
    out = tmp_path / "r.json"
    done = subprocess.run(cmd + args + [os.path.join(ROOT, "spark_jobs", "rdd_regression.py"),
                                        remote, "--method", "qr", "--out", str(out)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:]
    assert rel(theta(json.loads(out.read_text())), reference) <= 1e-9
    [app] = finished_apps(hadoop_cluster, since, "distreg spark-rdd")
    assert wait_final(hadoop_cluster, app["id"]) == ("FINISHED", "SUCCEEDED")
