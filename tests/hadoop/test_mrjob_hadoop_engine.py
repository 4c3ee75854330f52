"""The distreg jobs as Hadoop streaming jobs on the MiniCluster's YARN (engine mrjob-hadoop).

The input is split into at least two map tasks; every pass is a YARN application that the
ResourceManager lists as FINISHED/SUCCEEDED; the answers agree with numpy's lstsq and the
textbook inference to 1e-9 relative, and --method qr keeps NIST's digits on Hadoop too.
"""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from helpers import (NIST_DIR, assert_ran_on_yarn, check_nist_digits, dependent_designs,
                     filip_like, lre, make_linear, nist_certified, ols_reference, theta, write_csv)
from distreg.errors import RankDeficientError
from distreg.loader import fill_line_numbers
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
    return path, reference, ols_reference(X, y)


@pytest.fixture(scope="module")
def parts_50k(tmp_path_factory, data_50k):
    """The same 50,000 rows as a local directory of two part files whose headers name the
    columns in different orders (issue 11: read by name, not by the first file's order)."""
    path, _, _ = data_50k
    lines = open(path).read().splitlines()
    names = lines[0].split(",")
    order = list(range(len(names)))[::-1]          # x8,...,x1,y
    d = tmp_path_factory.mktemp("parts50k") / "parts"
    d.mkdir()
    (d / "part-0.csv").write_text("\n".join(lines[:20_001]) + "\n")
    with open(d / "part-1.csv", "w") as f:
        f.write(",".join(names[j] for j in order) + "\n")
        for line in lines[20_001:]:
            fields = line.split(",")
            f.write(",".join(fields[j] for j in order) + "\n")
    return str(d)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def launched_maps(counters):
    job = {group.strip(): c for group, c in counters[0].items()}["Job Counters"]
    return job["Launched map tasks"]


def test_local_input_is_uploaded_and_agrees_with_numpy(hadoop_cluster, data_50k, parts_50k,
                                                       capfd):
    """A local directory (two part files, columns in another order in the second) is uploaded,
    read by column name in the Hadoop tasks and removed from HDFS again."""
    _, reference, lstsq = data_50k
    path = parts_50k
    engine = MRJobEngine(path, "mrjob-hadoop", extra_args=THREE_MAPS)
    try:
        record = fit(engine, FitOptions(method="normal"))
        uploaded = engine.job_input
        assert uploaded.startswith("hdfs:///user/")
        assert hdfs.exists(uploaded[len("hdfs://"):])
        assert launched_maps(engine.counters) >= 2
    finally:
        engine.close()
    assert_ran_on_yarn(hadoop_cluster.resourcemanager_web, engine.app_ids, 1)
    assert not hdfs.exists(uploaded[len("hdfs://"):]), "close() leaves the upload behind"
    err = capfd.readouterr().err
    assert "uploading %s" % path in err and "to HDFS" in err
    assert record["engine"] == "mrjob-hadoop" and record["method"] == "normal"
    assert record["n_rows"] == 50_000 and record["n_bad_rows"] == 0
    assert rel(theta(record), theta(reference)) <= 1e-9
    assert rel(theta(record), lstsq["theta"]) <= 1e-9
    for key in ("std_errors", "residual_sd", "rmse", "r2"):
        np.testing.assert_allclose(record["stats"][key], lstsq[key], rtol=1e-9, err_msg=key)


def test_job_script_runs_on_hadoop(hadoop_cluster, hdfs_dir, data_50k):
    """`python jobs/normal.py -r hadoop --conf-path configs/mrjob.conf hdfs:///...`, as the
    README says: the job finds the cluster and runs its tasks with this interpreter."""
    path, _, lstsq = data_50k
    remote = f"{hdfs_dir}/d50k.csv"
    hdfs.put(path, remote)
    proc = subprocess.run(
        [sys.executable, "jobs/normal.py", "-r", "hadoop", "--conf-path", CONF,
         f"{hadoop_cluster.namenode}{remote}"], capture_output=True, text=True,
        cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # mrjob passes on `hadoop jar`'s log: the application YARN ran the job as
    submitted = re.findall(r"Submitted application (application_\d+_\d+)", proc.stderr)
    assert_ran_on_yarn(hadoop_cluster.resourcemanager_web, submitted, 1)
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["engine"] == "mrjob-hadoop"
    assert rel(theta(record), lstsq["theta"]) <= 1e-9


@pytest.mark.parametrize("name", ["Wampler3"])
def test_nist_qr_on_an_hdfs_input_keeps_nist_digits(hadoop_cluster, hdfs_dir, name, capfd):
    """Coefficients, standard errors, residual SD and R² to the dataset's least LRE
    (helpers.NIST_MIN_LRE) on Hadoop, from an hdfs:// input cut into 3 map tasks: Wampler3,
    the degree-5 polynomial (expanded in the tasks) whose standard errors are hardest. A qr fit
    here is a TSQR pass and refinement passes, one YARN application each (about half a minute
    each), so one dataset; every set runs on mrjob-local, which runs the same jobs."""
    c = nist_certified()[name]
    remote = f"{hdfs_dir}/{name}.csv"
    hdfs.put(str(NIST_DIR / f"{name}.csv"), remote)
    engine = MRJobEngine(f"{hadoop_cluster.namenode}{remote}", "mrjob-hadoop",
                         extra_args=THREE_MAPS)
    try:
        record = fit(engine, FitOptions(method="qr", intercept=c["intercept"],
                                        poly_degree=c.get("degree", 1)))
        assert launched_maps(engine.counters) >= 2
    finally:
        engine.close()
    assert_ran_on_yarn(hadoop_cluster.resourcemanager_web, engine.app_ids,
                       len(record["timings"]["pass_seconds"]))
    assert "uploading" not in capfd.readouterr().err
    assert hdfs.exists(remote), "the user's own HDFS input is never removed"
    rows = len(open(NIST_DIR / f"{name}.csv").read().splitlines()) - 1
    assert record["method"] == "qr" and record["n_rows"] == rows
    digits = check_nist_digits(name, record, c, "mrjob-hadoop")
    print(f"{name} on mrjob-hadoop: LRE {digits}")


def test_ill_conditioned_is_fitted_and_dependent_refused_on_hadoop(hadoop_cluster, hdfs_dir,
                                                                  tmp_path):
    """Issue 21 on YARN: the exact-rational degree-10 problem (scaled condition number about
    3e9; R's 1e-7 rank rule refuses it) to >= 9 digits, standard errors >= 8, from an hdfs://
    input in 3 map tasks; a column that is the sum of three others is refused by name after
    the TSQR pass."""
    problem = filip_like(tmp_path / "filip_like.csv")
    remote = f"{hdfs_dir}/filip_like.csv"
    hdfs.put(problem["path"], remote)
    engine = MRJobEngine(f"{hadoop_cluster.namenode}{remote}", "mrjob-hadoop",
                         extra_args=THREE_MAPS)
    try:
        record = fit(engine, FitOptions(method="qr", poly_degree=10))
    finally:
        engine.close()
    coef = lre(theta(record), problem["beta"]).min()
    se = lre(record["stats"]["std_errors"], problem["std_errors"]).min()
    print(f"filip_like on mrjob-hadoop: LRE coef {coef:.2f}, std errors {se:.2f}")
    assert coef >= 9 and se >= 8 and record["n_rows"] == problem["n"]
    path, column, why, _ = dependent_designs(tmp_path)["sum_of_others"]
    engine = MRJobEngine(path, "mrjob-hadoop")
    try:
        with pytest.raises(RankDeficientError, match=f"column '{column}' {why}"):
            fit(engine, FitOptions(method="qr"))
    finally:
        engine.close()
    assert len(engine.app_ids) == 1     # refused after the TSQR pass, no refinement pass


def test_cli_bad_row_names_the_local_file_and_line(hadoop_cluster, tmp_path):
    """`distreg fit local.csv --engine mrjob-hadoop` with a bad row in the middle of the
    second Hadoop split: exit 1, the user's file (not its HDFS copy) and the exact line."""
    y, X = make_linear(3000, 3, seed=5)
    path = write_csv(tmp_path / "bad.csv", y, X)
    lines = open(path).read().splitlines()
    lines[2500] = lines[2500].replace(",", ",abc", 1)
    open(path, "w").write("\n".join(lines) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "distreg.cli", "fit", path, "--engine", "mrjob-hadoop",
         "--method", "normal", "--quiet"], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "uploading %s" % path in proc.stderr
    message = proc.stderr.strip().splitlines()[-1]
    assert message.startswith("distreg: error: %s, line 2501: " % path), message
    assert "abc" in message


def test_rows_of_an_hdfs_file_are_placed_by_reading_hdfs(hadoop_cluster, hdfs_dir, tmp_path):
    """A bad row of a Hadoop split of an hdfs:// input knows only its split's start and how
    far after the split's first line it is; the driver streams the file from HDFS (as far as
    needed) to give it its exact offset and line number."""
    lines = [b"y,x"] + [b"%d,%d" % (i, i * 7) for i in range(3000)]
    local = tmp_path / "rows.csv"
    local.write_bytes(b"\n".join(lines) + b"\n")
    remote = f"{hdfs_dir}/rows.csv"
    hdfs.put(local, remote)
    starts = np.cumsum([0] + [len(line) + 1 for line in lines[:-1]])
    split_start = int(starts[1234]) + 2          # mid-line: the split's first line is 1236
    first = int(starts[1235])
    index = 2000                                 # 0-based: line 2001
    bad = {"file": f"hdfs://{remote}", "line": None, "split_start": split_start,
           "offset": split_start + int(starts[index]) - first, "text": "x", "reason": "test"}
    fill_line_numbers([bad], hdfs.open_stream)
    assert (bad["line"], bad["offset"]) == (index + 1, int(starts[index]))


def test_weighted_fit_on_hadoop_is_the_duplicated_rows(hadoop_cluster, tmp_path):
    """--weight-col on YARN (three map tasks): integer weights give the coefficients and the
    standard errors of the duplicated rows, and the weight counts of the record."""
    from helpers import weighted_data, write_duplicated, write_weighted
    y, X, w = weighted_data(30_000, 51)
    path = write_weighted(tmp_path / "w.csv", y, X, w)
    duplicated = fit(NumpyEngine(write_duplicated(tmp_path / "dup.csv", y, X, w)),
                     FitOptions(method="qr"))
    engine = MRJobEngine(path, "mrjob-hadoop", extra_args=THREE_MAPS)
    try:
        record = fit(engine, FitOptions(method="qr", weight_col="w"))
        assert launched_maps(engine.counters) >= 2
    finally:
        engine.close()
    assert len(engine.app_ids) == 1 + record["iterations"]   # the TSQR pass, then refinement
    assert_ran_on_yarn(hadoop_cluster.resourcemanager_web, engine.app_ids, len(engine.app_ids))
    assert rel(theta(record), theta(duplicated)) <= 1e-12
    np.testing.assert_allclose(record["stats"]["std_errors"], duplicated["stats"]["std_errors"],
                               rtol=1e-10)
    assert record["sum_weights"] == duplicated["n_rows"] == w.sum()
    assert record["n_rows_zero_weight"] == int(np.sum(w == 0))
    assert record["design"]["weight_col"] == "w"
