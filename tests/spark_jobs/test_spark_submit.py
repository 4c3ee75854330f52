"""The spark-submit scripts: local[2] and a real standalone cluster (1 master, 2 workers on
127.0.0.1) give the same records as the engines in this process."""

import json
import os
import subprocess

import numpy as np
import pytest
from spark_helpers import rel_diff, spark_fit

from distreg.result import theta_of
from spark_jobs import cluster as cluster_mod
from spark_jobs.session import PROJECT, spark_submit

RDD_SCRIPT = os.path.join(PROJECT, 'spark_jobs', 'rdd_regression.py')
MLLIB_SCRIPT = os.path.join(PROJECT, 'spark_jobs', 'mllib_regression.py')


@pytest.fixture(scope='session')
def standalone(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp('spark-cluster'))
    try:
        state = cluster_mod.start(state_dir, workers=2, cores=1, memory='1g')
        yield state
    finally:
        cluster_mod.stop(state_dir)


def submit(master, script, *args):
    """Run a script; spark-submit merges the script's stderr into its stdout (Spark's
    PythonRunner), so the record is read from --out and messages from the merged output."""
    cmd, env = spark_submit()
    return subprocess.run(cmd + ['--master', master, script] + list(args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300)


def record_of(done, out):
    assert done.returncode == 0, done.stdout
    with open(out) as f:
        return json.load(f)


def assert_same_record(got, expected):
    for key in ('engine', 'method', 'model', 'n_rows', 'n_bad_rows', 'iterations', 'converged'):
        assert got[key] == expected[key], key
    # partials may be merged in another order: the last bits of a sum may differ
    assert rel_diff(theta_of(got), theta_of(expected)) <= 1e-12
    for key, value in expected['stats'].items():
        if value is None:
            assert got['stats'][key] is None, key
        elif isinstance(value, list):
            np.testing.assert_allclose(got['stats'][key], value, rtol=1e-9, err_msg=key)
        else:
            assert got['stats'][key] == pytest.approx(value, rel=1e-9), key


def test_rdd_script_local(spark, logistic_csv, tmp_path):
    out = str(tmp_path / 'r.json')
    done = submit('local[2]', RDD_SCRIPT, logistic_csv, '--method', 'lbfgs',
                  '--model', 'logistic', '--out', out)
    expected = spark_fit(spark, logistic_csv, method='lbfgs', model='logistic')
    assert_same_record(record_of(done, out), expected)
    assert '[Stage' in done.stdout  # progress visible, log quiet
    assert ' INFO ' not in done.stdout


def test_mllib_script_local_bad_row(tmp_path):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x\n1,2\n3,4\n5,six\n')
    out = tmp_path / 'r.json'
    done = submit('local[2]', MLLIB_SCRIPT, str(path), '--out', str(out))
    assert done.returncode == 1
    assert ("distreg: error: %s, line 4: field 2 (column 'x') is 'six', not a number; the line "
            "was: '5,six'" % path) in done.stdout
    assert not out.exists()


def test_script_usage_error():
    done = submit('local[1]', RDD_SCRIPT, 'x.csv', '--method', 'sgd')
    assert done.returncode == 2 and 'usage: spark-submit' in done.stdout


@pytest.mark.spark_cluster
def test_cluster_has_two_workers(standalone):
    assert cluster_mod.alive_workers(standalone['web_url']) == 2
    assert standalone['master_url'].startswith('spark://127.0.0.1:')


@pytest.mark.spark_cluster
def test_rdd_script_on_cluster(standalone, spark, logistic_csv, tmp_path):
    out = str(tmp_path / 'r.json')
    done = submit(standalone['master_url'], RDD_SCRIPT, logistic_csv, '--method', 'lbfgs',
                  '--model', 'logistic', '--out', out)
    expected = spark_fit(spark, logistic_csv, method='lbfgs', model='logistic')
    assert_same_record(record_of(done, out), expected)


@pytest.mark.spark_cluster
def test_mllib_script_on_cluster(standalone, spark, linear_csv, tmp_path):
    out = str(tmp_path / 'r.json')
    done = submit(standalone['master_url'], MLLIB_SCRIPT, linear_csv, '--method', 'normal',
                  '--out', out)
    expected = spark_fit(spark, linear_csv, 'spark-mllib', method='normal')
    assert_same_record(record_of(done, out), expected)


def test_system_spark_found_through_findspark(tmp_path, linear_csv, spark):
    """No pip pyspark on the path, a Spark install in SPARK_HOME: the script finds it
    through findspark and gives the same record."""
    import sys
    import sysconfig
    from spark_jobs.session import spark_home
    pip_spark = spark_home()
    home = tmp_path / 'spark-3rd-party'
    (home / 'python' / 'lib').mkdir(parents=True)
    for name in ('bin', 'jars'):
        os.symlink(os.path.join(pip_spark, name), home / name)
    for zipped in os.listdir(os.path.join(pip_spark, 'python', 'lib')):
        os.symlink(os.path.join(pip_spark, 'python', 'lib', zipped), home / 'python' / 'lib' / zipped)
    os.symlink(pip_spark, home / 'python' / 'pyspark')
    # every installed package but pyspark
    site = tmp_path / 'site'
    site.mkdir()
    purelib = sysconfig.get_paths()['purelib']
    for name in os.listdir(purelib):
        if not name.startswith('pyspark'):
            os.symlink(os.path.join(purelib, name), site / name)
    out = tmp_path / 'r.json'
    _, env = spark_submit()
    env.update(SPARK_HOME=str(home), PYTHONPATH='%s:%s' % (site, PROJECT))
    check = subprocess.run([sys.executable, '-S', '-c', 'import pyspark'], env=env,
                           capture_output=True, text=True)
    assert check.returncode != 0  # really no pyspark without findspark
    done = subprocess.run([sys.executable, '-S', RDD_SCRIPT, linear_csv, '--method', 'qr',
                           '--out', str(out)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    expected = spark_fit(spark, linear_csv, method='qr')
    assert_same_record(record_of(done, str(out)), expected)


@pytest.mark.spark_cluster
@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_relative_input_path_on_cluster(standalone, linear_csv, tmp_path, engine):
    """The executors do not run in the driver's directory: a relative input path must
    reach them as an absolute one (it failed with FileNotFoundError on every executor)."""
    import shutil
    import sys
    work = tmp_path / 'work'
    (work / 'data').mkdir(parents=True)
    shutil.copy(linear_csv, work / 'data' / 'd.csv')
    bad = work / 'data' / 'bad.csv'
    bad.write_text('y,x\n1,2\n3,4\n5,six\n')
    env = dict(os.environ, PYTHONPATH=PROJECT)
    cmd = [sys.executable, '-m', 'distreg.cli', 'fit', 'data/d.csv', '--engine', engine,
           '--master', standalone['master_url'], '--quiet', '--out', 'r.json']
    done = subprocess.run(cmd, cwd=str(work), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    expected = spark_fit_numpy(linear_csv)
    with open(work / 'r.json') as f:
        assert rel_diff(theta_of(json.load(f)), theta_of(expected)) <= 1e-9
    # a bad row still names the file as the user gave it
    cmd[4] = 'data/bad.csv'
    done = subprocess.run(cmd, cwd=str(work), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 1
    assert "distreg: error: data/bad.csv, line 4: field 2 (column 'x') is 'six'" in done.stderr
    assert 'FileNotFoundError' not in done.stderr


def spark_fit_numpy(path):
    from spark_helpers import numpy_fit
    return numpy_fit(path, method='normal')
