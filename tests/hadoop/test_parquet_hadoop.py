"""Parquet on mrjob-hadoop (issue 22, item 1): a local Parquet file is uploaded to the
MiniCluster's HDFS; the job's input is the manifest of its row groups; each map task reads its
row groups from HDFS through WebHDFS by byte ranges (the footer and those column chunks only),
never the whole file. The answer is that of the same rows as CSV on numpy to 1e-12."""

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import assert_ran_on_yarn, lstsq, make_linear, theta, write_csv
from distreg.fit import FitOptions, fit
from distreg.numpy_engine import NumpyEngine
from hdfs_utils import hdfs
from jobs.engine import MRJobEngine

pytestmark = pytest.mark.hadoop


def test_parquet_row_groups_read_from_hdfs_by_several_map_tasks(hadoop_cluster, tmp_path):
    y, X = make_linear(7000, 4, seed=70)
    rng = np.random.default_rng(71)
    path = str(tmp_path / 'seven.parquet')
    cols = {'y': y, **{'x%d' % (j + 1): X[:, j] for j in range(4)}}
    # a wide column nobody selects: the tasks must not read it
    cols['unused'] = pa.array(list(rng.normal(size=(7000, 64))), pa.list_(pa.float64()))
    pq.write_table(pa.table(cols), path, row_group_size=1000)
    assert pq.ParquetFile(path).metadata.num_row_groups == 7
    csv = write_csv(tmp_path / 'same.csv', y, X)
    reference = fit(NumpyEngine(csv), FitOptions(method='normal'))
    engine = MRJobEngine(path, 'mrjob-hadoop',
                         extra_args=['--jobconf', 'mapreduce.job.maps=3'])
    try:
        record = fit(engine, FitOptions(method='normal'))
        manifest = engine.job_input
        assert manifest.startswith('hdfs:///user/') and hdfs.exists(manifest[len('hdfs://'):])
        counters = engine.counters[-1]['distreg']
    finally:
        engine.close()
    assert not hdfs.exists(manifest[len('hdfs://'):])
    assert_ran_on_yarn(hadoop_cluster.resourcemanager_web, engine.app_ids,
                       len(record['timings']['pass_seconds']))
    np.testing.assert_allclose(theta(record), theta(reference), rtol=1e-12)
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)
    assert record['n_rows'] == 7000
    assert counters['row groups read'] == 7
    assert counters['map tasks that read row groups'] >= 2
    # every task read footers and its own column chunks: far less than the file
    assert 0 < counters['bytes read through WebHDFS'] < os.path.getsize(path) / 2


def _partitioned_on_hdfs(tmp_path, hdfs_dir):
    """A Hive-style partitioned Parquet directory put on HDFS, and its rows."""
    rng = np.random.default_rng(72)
    k = rng.integers(1, 4, 3000)
    y0, X = make_linear(3000, 3, seed=72)
    y = y0 + 0.5 * k
    root = tmp_path / 'parts'
    for v in sorted(set(k)):
        d = root / ('k=%d' % v)
        d.mkdir(parents=True)
        rows = k == v
        pq.write_table(pa.table({'y': y[rows], **{'x%d' % (j + 1): X[rows, j]
                                                  for j in range(3)}}),
                       str(d / 'part-00000.parquet'), row_group_size=400)
    (root / '_SUCCESS').write_text('')
    hdfs.put(str(root), hdfs_dir + '/parts', new_parent=True)
    return hdfs_dir + '/parts', y, np.column_stack([X, k])


def test_hdfs_parquet_directory_on_mrjob_hadoop(hadoop_cluster, hdfs_dir, tmp_path):
    remote, y, X = _partitioned_on_hdfs(tmp_path, hdfs_dir)
    engine = MRJobEngine('%s%s' % (hadoop_cluster.namenode, remote), 'mrjob-hadoop')
    try:
        record = fit(engine, FitOptions(method='normal'))
        counters = engine.counters[-1]['distreg']
    finally:
        engine.close()
    assert record['design']['feature_names'] == ['x1', 'x2', 'x3', 'k']
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)
    assert record['n_rows'] == 3000
    assert counters['map tasks that read row groups'] >= 2


def test_hdfs_parquet_weights_from_a_partition_column_on_mrjob_hadoop(hadoop_cluster, hdfs_dir,
                                                                     tmp_path):
    """--weight-col names the partition column k (1..3): weighted least squares on HDFS."""
    remote, y, X = _partitioned_on_hdfs(tmp_path, hdfs_dir)
    engine = MRJobEngine('%s%s' % (hadoop_cluster.namenode, remote), 'mrjob-hadoop')
    try:
        record = fit(engine, FitOptions(method='qr', weight_col='k'))
    finally:
        engine.close()
    w = X[:, 3]
    r = np.sqrt(w)   # the reference: the rows scaled by sqrt(w)
    A = np.column_stack([np.ones(len(y)), X[:, :3]])
    np.testing.assert_allclose(theta(record), np.linalg.lstsq(r[:, None] * A, r * y,
                                                              rcond=None)[0], rtol=1e-9)
    assert record['design']['feature_names'] == ['x1', 'x2', 'x3']
    assert record['sum_weights'] == w.sum() and record['n_rows'] == 3000


def test_hdfs_parquet_clustered_errors_on_mrjob_hadoop(hadoop_cluster, hdfs_dir, tmp_path):
    """--cov cluster:k clusters by the partition column k: the scores per cluster are summed
    by the map tasks and merged by id, against statsmodels' cluster covariance."""
    import statsmodels.api as sm
    remote, y, X = _partitioned_on_hdfs(tmp_path, hdfs_dir)
    engine = MRJobEngine('%s%s' % (hadoop_cluster.namenode, remote), 'mrjob-hadoop')
    try:
        record = fit(engine, FitOptions(method='normal', cov='cluster:k'))
    finally:
        engine.close()
    ref = sm.OLS(y, np.column_stack([np.ones(len(y)), X[:, :3]])).fit(
        cov_type='cluster', cov_kwds={'groups': X[:, 3]})
    np.testing.assert_allclose(record['stats']['std_errors'], ref.bse, rtol=1e-9)
    assert record['stats']['n_clusters'] == 3 and record['design']['cluster_col'] == 'k'


def test_hdfs_parquet_on_spark_rdd_on_yarn(hadoop_cluster, hdfs_dir, tmp_path):
    import json
    import subprocess
    import sys
    remote, y, X = _partitioned_on_hdfs(tmp_path, hdfs_dir)
    out = str(tmp_path / 'r.json')
    run = subprocess.run([sys.executable, '-m', 'distreg.cli', 'fit', 'hdfs://' + remote,
                          '--engine', 'spark-rdd', '--method', 'qr', '--master', 'yarn',
                          '--quiet', '--out', out], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    with open(out) as f:
        record = json.load(f)
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)
    assert record['n_rows'] == 3000 and record['engine'] == 'spark-rdd'


def test_hdfs_parquet_nulls_fail_and_skip_on_mrjob_hadoop(hadoop_cluster, hdfs_dir, tmp_path):
    """A null read by a Hadoop task is named by the HDFS file, row group, row and column;
    skipped, it is counted and kept, and the fit is that of the other rows."""
    y, X = make_linear(2000, 3, seed=73)
    bad = [5, 1234]
    local = str(tmp_path / 'nulls.parquet')
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0],
                             'x2': pa.array(X[:, 1], mask=np.isin(np.arange(2000), bad)),
                             'x3': X[:, 2]}), local, row_group_size=500)
    hdfs.put(local, hdfs_dir + '/nulls.parquet', new_parent=True)
    uri = '%s%s/nulls.parquet' % (hadoop_cluster.namenode, hdfs_dir)
    from distreg.errors import BadInputError
    engine = MRJobEngine(uri, 'mrjob-hadoop')
    try:
        with pytest.raises(BadInputError) as e:
            fit(engine, FitOptions(method='normal'))
    finally:
        engine.close()
    assert str(e.value).startswith(hdfs_dir + "/nulls.parquet, row group 0, row index 5: "
                                   "column 'x2' is null (expected a number)"), str(e.value)
    engine = MRJobEngine(uri, 'mrjob-hadoop')
    try:
        record = fit(engine, FitOptions(method='normal', bad_rows='skip'))
        rejects = engine.rejects
    finally:
        engine.close()
    keep = ~np.isin(np.arange(2000), bad)
    np.testing.assert_allclose(theta(record), lstsq(y[keep], X[keep]), rtol=1e-9)
    assert record['n_bad_rows'] == 2
    assert sorted((d['row_group'], d['row'], d['file_row']) for d in rejects) == \
        [(0, 5, 5), (2, 234, 1234)]
