"""The spark-submit scripts: local[2] and a real standalone cluster (1 master, 2 workers on
127.0.0.1) give the same records as the engines in this process, and the answers of the
references computed in the test (lstsq and the textbook inference, a plain Newton); on the
cluster, Spark's own event log and the workers' status show that tasks ran on executors of
both workers."""

import json
import os
import subprocess
import urllib.request
from collections import Counter

import numpy as np
import pytest
from helpers import (assert_linear_stats, logistic_std_errors, ols_reference, read_csv,
                     rel_diff)
from spark_helpers import spark_fit

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


def submit(master, script, *args, event_log=None, cwd=None):
    """Run a script (in ``cwd``); spark-submit merges the script's stderr into its stdout
    (Spark's PythonRunner), so the record is read from --out and messages from the merged
    output. With ``event_log`` (a directory), Spark writes its event log there."""
    cmd, env = spark_submit()
    conf = []
    if event_log:
        conf = ['--conf', 'spark.eventLog.enabled=true',
                '--conf', 'spark.eventLog.dir=file://%s' % event_log,
                # one plain JSON-lines file per application (Spark 4 rolls by default)
                '--conf', 'spark.eventLog.rolling.enabled=false',
                '--conf', 'spark.eventLog.compress=false']
    return subprocess.run(cmd + ['--master', master] + conf + [script] + list(args), env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, cwd=cwd)


def relative_copy(path, tmp_path, name):
    """(work dir, 'data/NAME'): a copy of ``path`` that the work dir names relatively. The
    executors do not run in the driver's directory: a relative input path must reach them
    as an absolute one (it failed with FileNotFoundError on every executor, issue 11)."""
    import shutil
    work = tmp_path / 'work'
    (work / 'data').mkdir(parents=True)
    shutil.copy(path, work / 'data' / name)
    return str(work), 'data/' + name


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def tasks_per_worker(standalone, event_log):
    """{worker id: tasks that succeeded on its executors} for the one application logged in
    ``event_log``: the task ends of Spark's event log name their executor; each worker's own
    status (/json of its web UI, listed by the master's) names the executors it ran for
    that application."""
    (name,) = os.listdir(event_log)
    with open(os.path.join(event_log, name)) as f:
        events = [json.loads(line) for line in f]
    (app_id,) = [e['App ID'] for e in events if e['Event'] == 'SparkListenerApplicationStart']
    tasks = Counter(e['Task Info']['Executor ID'] for e in events
                    if e['Event'] == 'SparkListenerTaskEnd'
                    and e['Task End Reason']['Reason'] == 'Success')
    worker_of = {}
    for worker in get_json(standalone['web_url'] + '/json/')['workers']:
        status = get_json(worker['webuiaddress'] + '/json/')
        for executor in status['executors'] + status['finishedexecutors']:
            if executor['appid'] == app_id:
                worker_of[str(executor['id'])] = worker['id']
    assert set(tasks) <= set(worker_of), (tasks, worker_of)  # no task on an unknown executor
    per_worker = Counter()
    for executor, n in tasks.items():
        per_worker[worker_of[executor]] += n
    return per_worker


def assert_ran_on_both_workers(standalone, event_log):
    per_worker = tasks_per_worker(standalone, event_log)
    assert len(per_worker) == 2 and min(per_worker.values()) > 0, per_worker


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
        elif isinstance(value, str):
            assert got['stats'][key] == value, key
        elif isinstance(value, list):
            np.testing.assert_allclose(got['stats'][key], value, rtol=1e-9, err_msg=key)
        else:
            assert got['stats'][key] == pytest.approx(value, rel=1e-9), key


def assert_logistic_reference(record, path):
    """lbfgs at its default tol (1e-10) against the plain Newton of the test."""
    X, y = read_csv(path)
    ref, se = logistic_std_errors(X, y)
    assert rel_diff(theta_of(record), ref) <= 1e-10
    np.testing.assert_allclose(record['stats']['std_errors'], se, rtol=1e-9)


def test_rdd_script_local(spark, logistic_csv, tmp_path):
    out = str(tmp_path / 'r.json')
    done = submit('local[2]', RDD_SCRIPT, logistic_csv, '--method', 'lbfgs',
                  '--model', 'logistic', '--out', out)
    expected = spark_fit(spark, logistic_csv, method='lbfgs', model='logistic')
    assert_same_record(record_of(done, out), expected)
    assert_logistic_reference(record_of(done, out), logistic_csv)
    # one progress display: distreg's line per iteration, not Spark's stage bars; log quiet
    assert 'distreg: lbfgs iteration 0: loss' in done.stdout
    assert '[Stage' not in done.stdout
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
    out, events = str(tmp_path / 'r.json'), tmp_path / 'events'
    events.mkdir()
    work, relative = relative_copy(logistic_csv, tmp_path, 'l.csv')
    done = submit(standalone['master_url'], RDD_SCRIPT, relative, '--method', 'lbfgs',
                  '--model', 'logistic', '--out', out, event_log=events, cwd=work)
    record = record_of(done, out)
    assert_ran_on_both_workers(standalone, events)
    assert_logistic_reference(record, logistic_csv)
    expected = spark_fit(spark, logistic_csv, method='lbfgs', model='logistic')
    assert_same_record(record, expected)


@pytest.mark.spark_cluster
def test_mllib_script_on_cluster(standalone, spark, linear_csv, tmp_path):
    out, events = str(tmp_path / 'r.json'), tmp_path / 'events'
    events.mkdir()
    work, relative = relative_copy(linear_csv, tmp_path, 'd.csv')
    done = submit(standalone['master_url'], MLLIB_SCRIPT, relative, '--method', 'normal',
                  '--out', out, event_log=events, cwd=work)
    record = record_of(done, out)
    assert_ran_on_both_workers(standalone, events)
    X, y = read_csv(linear_csv)
    ref = ols_reference(X, y)
    assert rel_diff(theta_of(record), ref['theta']) <= 1e-9
    assert_linear_stats(record, ref)
    expected = spark_fit(spark, linear_csv, 'spark-mllib', method='normal')
    assert_same_record(record, expected)


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
    X, y = read_csv(linear_csv)
    assert rel_diff(theta_of(expected), ols_reference(X, y)['theta']) <= 1e-9


@pytest.mark.spark_cluster
def test_relative_bad_row_on_cluster_names_the_file_as_given(standalone, tmp_path):
    """`distreg fit data/bad.csv --master spark://...` from the data's parent directory: the
    executors read the file (by its absolute URI) and the error names it as the user gave it.
    The scripts' cluster tests above fit relative paths on both engines."""
    import sys
    work = tmp_path / 'work'
    (work / 'data').mkdir(parents=True)
    (work / 'data' / 'bad.csv').write_text('y,x\n1,2\n3,4\n5,six\n')
    env = dict(os.environ, PYTHONPATH=PROJECT)
    cmd = [sys.executable, '-m', 'distreg.cli', 'fit', 'data/bad.csv', '--engine', 'spark-rdd',
           '--master', standalone['master_url'], '--quiet', '--out', 'r.json']
    done = subprocess.run(cmd, cwd=str(work), env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "distreg: error: data/bad.csv, line 4: field 2 (column 'x') is 'six'" in done.stderr
    assert 'FileNotFoundError' not in done.stderr
    assert not (work / 'r.json').exists()
