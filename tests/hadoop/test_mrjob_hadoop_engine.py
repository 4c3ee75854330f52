"""The distreg jobs as Hadoop streaming jobs on the MiniCluster's YARN (engine mrjob-hadoop).

The input is split into at least two map tasks; the answers agree with the numpy engine (and
with numpy's lstsq) to 1e-9 relative, and --method qr keeps NIST's nine digits on Hadoop too.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import NIST_DIR, lre, make_linear, nist_certified, theta, write_csv
from distreg.errors import BadInputError
from distreg.fit import FitOptions, fit
from distreg.numpy_engine import NumpyEngine
from hdfs_utils import hdfs
from hdfs_utils.env import PROJECT_ROOT
from jobs.engine import MRJobEngine

pytestmark = pytest.mark.hadoop

CONF = str(PROJECT_ROOT / "configs" / "mrjob.conf")
# Streaming's (old-API) TextInputFormat cuts the file into about this many splits.
THREE_MAPS = ["--jobconf", "mapreduce.job.maps=3"]


@pytest.fixture(scope="module")
def data_50k(tmp_path_factory):
    y, X = make_linear(50_000, 8, seed=50)
    path = write_csv(tmp_path_factory.mktemp("hadoop") / "d50k.csv", y, X)
    reference = fit(NumpyEngine(path), FitOptions(method="qr"))
    A = np.column_stack([np.ones(len(y)), X])
    return path, reference, np.linalg.lstsq(A, y, rcond=None)[0]


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def launched_maps(counters):
    job = {group.strip(): c for group, c in counters[0].items()}["Job Counters"]
    return job["Launched map tasks"]


@pytest.mark.parametrize("method", ["normal", "qr"])
def test_local_input_is_uploaded_and_agrees_with_numpy(hadoop_cluster, data_50k, method,
                                                       capfd):
    path, reference, lstsq = data_50k
    engine = MRJobEngine(path, "mrjob-hadoop", extra_args=THREE_MAPS)
    try:
        record = fit(engine, FitOptions(method=method))
        uploaded = engine.job_input
        assert uploaded.startswith("hdfs:///user/")
        assert hdfs.exists(uploaded[len("hdfs://"):])
        assert launched_maps(engine.counters) >= 2
    finally:
        engine.close()
    assert not hdfs.exists(uploaded[len("hdfs://"):]), "close() leaves the upload behind"
    err = capfd.readouterr().err
    assert "uploading %s" % path in err and "to HDFS" in err
    assert record["engine"] == "mrjob-hadoop"
    assert record["n_rows"] == 50_000 and record["n_bad_rows"] == 0
    assert rel(theta(record), theta(reference)) <= 1e-9
    assert rel(theta(record), lstsq) <= 1e-9
    assert rel(record["stats"]["std_errors"], reference["stats"]["std_errors"]) <= 1e-9


def test_cli_reads_hdfs_input(hadoop_cluster, hdfs_dir, data_50k, tmp_path):
    path, reference, _ = data_50k
    remote = f"{hdfs_dir}/d50k.csv"
    hdfs.put(path, remote)
    out = tmp_path / "hadoop-normal.json"
    proc = subprocess.run(
        [sys.executable, "-m", "distreg.cli", "fit", f"hdfs://{remote}",
         "--engine", "mrjob-hadoop", "--method", "normal", "--quiet", "--out", str(out)],
        capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "uploading" not in proc.stderr
    assert hdfs.exists(remote), "the user's own HDFS input is never removed"
    record = json.loads(out.read_text())
    assert record["n_rows"] == 50_000
    assert rel(theta(record), theta(reference)) <= 1e-9


def test_job_script_runs_on_hadoop(hadoop_cluster, hdfs_dir, data_50k):
    """`python jobs/normal.py -r hadoop --conf-path configs/mrjob.conf hdfs:///...`, as the
    README says: the job finds the cluster and runs its tasks with this interpreter."""
    path, reference, _ = data_50k
    remote = f"{hdfs_dir}/d50k.csv"
    hdfs.put(path, remote)
    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.run(
        [sys.executable, "jobs/normal.py", "-r", "hadoop", "--conf-path", CONF,
         f"hdfs://{remote}"], capture_output=True, text=True, cwd=PROJECT_ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["engine"] == "mrjob-hadoop"
    assert rel(theta(record), theta(reference)) <= 1e-9


def test_nist_qr_keeps_nine_digits_on_hadoop(hadoop_cluster):
    """Longley: the ill-conditioned one of the multi-feature sets (each Hadoop job costs
    about half a minute here, so one dataset; every set runs on the other engines)."""
    c = nist_certified()["Longley"]
    engine = MRJobEngine(str(NIST_DIR / "Longley.csv"), "mrjob-hadoop")
    try:
        record = fit(engine, FitOptions(method="qr", intercept=c["intercept"]))
    finally:
        engine.close()
    digits = lre(theta(record), c["beta"])
    assert digits.min() >= 9, f"Longley on Hadoop: LRE {np.round(digits, 2)}"
    assert record["n_rows"] == c["n"] and record["converged"]


def test_bad_row_names_the_local_file_and_line(hadoop_cluster, tmp_path):
    y, X = make_linear(3000, 3, seed=5)
    path = write_csv(tmp_path / "bad.csv", y, X)
    lines = open(path).read().splitlines()
    lines[2500] = lines[2500].replace(",", ",abc", 1)
    open(path, "w").write("\n".join(lines) + "\n")
    engine = MRJobEngine(path, "mrjob-hadoop", extra_args=THREE_MAPS)
    try:
        with pytest.raises(BadInputError) as err:
            fit(engine, FitOptions(method="normal"))
    finally:
        engine.close()
    message = str(err.value)
    assert path in message and "line 2501" in message and "abc" in message
