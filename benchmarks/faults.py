"""``make faults``: the fault tolerance of the systems distreg runs on, shown on the real ones.

HDFS keeps replicas of each block on several DataNodes (after Google's GFS), MapReduce runs a
failed task again, Spark recomputes a lost partition from its lineage. Each scenario here
injects one fault into a real ``distreg`` fit, collects the evidence that the fault really
happened from the system's own reports (the NameNode, the job's counters, Spark's master and
driver) and compares the answer with the same fit without the fault::

    python benchmarks/faults.py [hadoop] [spark]      # default: both

- hadoop, HDFS: a MiniCluster of 3 DataNodes, replication 2, the input in 1 MiB blocks (3 map
  tasks). A replica of every block has digits changed on disk (the text still parses: only
  the checksums can tell); then a DataNode holding replicas is shut down.
- hadoop, MapReduce: the first attempt of map task 0, then of the reduce task, exits 1
  (``DISTREG_FAULT``, a test-only switch of jobs/block_job.py).
- spark: a standalone cluster of 2 workers; one worker and its executor are killed (SIGKILL)
  in the middle of a cached, iterating gd fit. And on ``local[2,3]`` the first attempt of
  one task fails (``DISTREG_FAULT`` read on the executor, spark_jobs/engine.py).

The tests (tests/hadoop/test_faults.py, tests/spark_jobs/test_faults_spark.py) run these same
scenarios and assert on the evidence they return.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from distreg.fit import FitOptions, fit  # noqa: E402
from distreg.generate import generate  # noqa: E402
from distreg.result import theta_of  # noqa: E402
from hdfs_utils import faults as hdfs_faults  # noqa: E402
from hdfs_utils import hdfs, minicluster  # noqa: E402
from hdfs_utils.env import RUN_DIR, environment, hadoop_bin  # noqa: E402

#: The fault scenarios' own MiniCluster (apart from make hadoop-up's and the tests' clusters).
FAULT_RUN_DIR = RUN_DIR / 'hadoop-faults'
#: HDFS block size of the fault inputs: a 3 MB input is 3 blocks, hence 3 map tasks.
BLOCK_BYTES = 1 << 20
RDD_SCRIPT = os.path.join(ROOT, 'spark_jobs', 'rdd_regression.py')
#: The Spark fit that gets a worker killed under it: logistic gd to a tight tolerance makes
#: a dozen passes over the cache, time to kill a worker after the second.
SPARK_FIT = ['--model', 'logistic', '--method', 'gd', '--tol', '1e-13']


def rel_diff(a, b):
    """Largest absolute difference relative to the largest coefficient of ``b``."""
    a, b = np.asarray(theta_of(a), float), np.asarray(theta_of(b), float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _quiet(_message):
    pass


def _say(message):
    # flushed: the story is read as it happens, and the fits take minutes
    print(message, flush=True)


# --------------------------------------------------------------------------- Hadoop

@contextlib.contextmanager
def hadoop_cluster(run_dir=FAULT_RUN_DIR, say=_quiet):
    """A MiniCluster of 3 DataNodes and replication 2, its environment in ``os.environ``
    while it runs; stopped (by its pid) on the way out."""
    minicluster.down(run_dir)  # one left behind by a killed run
    t0 = time.monotonic()
    # three DataNodes on a loaded 2-core machine can take more than the default 90 s
    with minicluster.running(run_dir, timeout=300, datanodes=3, replication=2) as info:
        say('MiniCluster up in %.0f s: 3 DataNodes, replication 2 (%s)'
            % (time.monotonic() - t0, info.namenode))
        with environment(info.env()):
            yield info


def make_input(path, rows=38_000, features=5, seed=11):
    """A linear CSV of about 3 MB (3 HDFS blocks of 1 MiB)."""
    generate(rows, features, path, model='linear', seed=seed)
    return path


def put_input(info, local, remote):
    """Upload ``local`` in 1 MiB blocks (``dfs.blocksize``), verified by checksum."""
    hdfs.mkdir(os.path.dirname(remote))
    done = subprocess.run([str(hadoop_bin()), 'fs', '-D', 'dfs.blocksize=%d' % BLOCK_BYTES,
                           '-put', local, remote], env={**os.environ, **info.env()},
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError('put %s failed: %s' % (local, done.stderr.strip()[-300:]))
    hdfs.verify(local, remote)
    return remote


def fit_hadoop(remote, fault=None):
    """``distreg fit hdfs://REMOTE --engine mrjob-hadoop --method normal``; returns
    (record, the job's counters). ``fault``: the test-only DISTREG_FAULT for the tasks."""
    from jobs.engine import MRJobEngine
    extra = ['--cmdenv', 'DISTREG_FAULT=%s' % fault] if fault else []
    engine = MRJobEngine('hdfs://' + remote, 'mrjob-hadoop', extra_args=extra)
    try:
        record = fit(engine, FitOptions(method='normal'))
    finally:
        engine.close()
    return record, engine.counters


def job_counter(counters, name):
    """A counter of Hadoop's "Job Counters" group (0 when the job did not count it)."""
    groups = {group.strip(): values for group, values in counters[0].items()}
    return groups.get('Job Counters', {}).get(name, 0)


def corrupt_replica_scenario(info, remote, reference, say=_quiet, max_runs=3):
    """Digits changed in one replica of every block; the fit reads the file.

    Each read of a block goes to one of its two replicas (the NameNode shuffles replicas at
    equal distance), so a fit may happen to read only good ones: the fit runs again (at most
    ``max_runs`` times) until a reader has met a corrupt replica.
    """
    corrupted = []
    for replicas in hdfs_faults.block_locations(info, remote):
        hdfs_faults.corrupt_replica(replicas[0])
        corrupted.append((replicas[0].block_id, replicas[0].xfer))
    say('changed 8 digits in one replica of each of the %d blocks of %s, on disk behind '
        "HDFS's back: %s" % (len(corrupted), remote,
                             ', '.join('blk_%d on %s' % c for c in corrupted)))
    mark = hdfs_faults.log_size(info)
    runs, reported = [], []
    while len(runs) < max_runs and not reported:
        t0 = time.monotonic()
        record, _ = fit_hadoop(remote)
        runs.append(dict(seconds=time.monotonic() - t0, rel_diff=rel_diff(record, reference)))
        reported = hdfs_faults.reported_corrupt(info, mark)
        say('fit %d (%.0f s): coefficients differ from the fit before the fault by %.1e; '
            'corrupt replicas the readers reported to the NameNode: %s'
            % (len(runs), runs[-1]['seconds'], runs[-1]['rel_diff'],
               ', '.join('blk_%d on %s' % r for r in reported) or 'none yet'))
    return dict(corrupted=corrupted, reported=reported, runs=runs, record=record)


def datanode_loss_scenario(info, remote, reference, say=_quiet, timeout=90):
    """A DataNode holding replicas of the input is shut down; the fit reads the input."""
    blocks = hdfs_faults.block_locations(info, remote)
    victim = blocks[0][0]
    held = [replicas[0].block_id for replicas in blocks
            if any(r.xfer == victim.xfer for r in replicas)]
    before = hdfs_faults.namenode_state(info)
    say('DataNode %s (data transfer; IPC port %d) holds a replica of %d of the %d blocks; '
        'NameNode: %d live, %d dead'
        % (victim.xfer, victim.ipc_port, len(held), len(blocks), before['NumLiveDataNodes'],
           before['NumDeadDataNodes']))
    say('hdfs dfsadmin -shutdownDatanode 127.0.0.1:%d: %s'
        % (victim.ipc_port, hdfs_faults.stop_datanode(info, victim)))
    t0 = time.monotonic()
    record, _ = fit_hadoop(remote)
    seconds = time.monotonic() - t0
    diff = rel_diff(record, reference)
    say('fit right after (%.0f s): coefficients differ from the fit before the fault by %.1e'
        % (seconds, diff))
    state = hdfs_faults.wait_for(
        lambda: (lambda s: s if s['NumDeadDataNodes'] > before['NumDeadDataNodes'] else None)(
            hdfs_faults.namenode_state(info)), timeout, 'the NameNode to declare it dead')

    def rereplicated():
        now = hdfs_faults.block_locations(info, remote)
        ok = all(len(replicas) >= 2 and all(r.xfer != victim.xfer for r in replicas)
                 for replicas in now)
        return now if ok else None
    after = hdfs_faults.wait_for(rereplicated, timeout, 'the lost replicas to be copied again')
    say('NameNode: %d live, %d dead DataNodes; every block has 2 replicas again, none on %s '
        '(copied from the surviving replica)' % (state['NumLiveDataNodes'],
                                                 state['NumDeadDataNodes'], victim.xfer))
    return dict(victim=victim, held=held, dead_before=before['NumDeadDataNodes'],
                dead_after=state['NumDeadDataNodes'], live_after=state['NumLiveDataNodes'],
                locations_after=[[r.xfer for r in replicas] for replicas in after],
                record=record, rel_diff=diff, seconds=seconds)


def task_failure_scenario(remote, reference, kinds=('map', 'reduce'), say=_quiet):
    """One fit in which the first attempt of task 0 of each of ``kinds`` exits 1.

    Returns, per kind, the job's failed and launched attempts of that kind, and the record."""
    fault = ','.join('%s:0' % kind for kind in kinds)
    t0 = time.monotonic()
    record, counters = fit_hadoop(remote, fault=fault)
    seconds = time.monotonic() - t0
    diff = rel_diff(record, reference)
    seen = dict(record=record, rel_diff=diff, seconds=seconds)
    for kind in kinds:
        seen[kind] = dict(failed=job_counter(counters, 'Failed %s tasks' % kind),
                          launched=job_counter(counters, 'Launched %s tasks' % kind))
    say('DISTREG_FAULT=%s (%.0f s): job counters: %s; YARN ran them again; coefficients '
        'differ from the fit without the fault by %.1e'
        % (fault, seconds, ', '.join('%d failed %s task attempt(s) of %d launched'
                                     % (seen[k]['failed'], k, seen[k]['launched'])
                                     for k in kinds), diff))
    return seen


def run_hadoop(say=None):
    say = say or _say
    say('== HDFS and MapReduce (mrjob-hadoop --method normal on a 3-DataNode MiniCluster)')
    with tempfile.TemporaryDirectory(prefix='distreg-faults-') as tmp, \
            hadoop_cluster(say=say) as info:
        local = make_input(os.path.join(tmp, 'd.csv'))
        remote = put_input(info, local, '/faults/d.csv')
        copy = put_input(info, local, '/faults/d-copy.csv')
        t0 = time.monotonic()
        reference, counters = fit_hadoop(remote)
        say('fit before any fault (%.0f s): %d map tasks, intercept %r'
            % (time.monotonic() - t0, job_counter(counters, 'Launched map tasks'),
               reference['intercept']))
        say('-- a corrupted replica')
        corrupt_replica_scenario(info, copy, reference, say)
        say('-- a failed map task and a failed reduce task (one job)')
        task_failure_scenario(remote, reference, ('map', 'reduce'), say)
        say('-- a lost DataNode')
        datanode_loss_scenario(info, remote, reference, say)


# --------------------------------------------------------------------------- Spark

def spark_submit_fit(master, path, args, out, log, env=None, conf=()):
    """Start ``spark-submit rdd_regression.py`` in the background; returns the Popen."""
    from spark_jobs.session import spark_submit
    cmd, base_env = spark_submit()
    confs = [item for pair in conf for item in ('--conf', pair)]
    return subprocess.Popen(cmd + ['--master', master] + confs
                            + [RDD_SCRIPT, path, '--out', out] + list(args),
                            env={**base_env, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT)


def _read_record(process, out, log_path, timeout=600):
    process.wait(timeout=timeout)
    with open(log_path, errors='replace') as f:
        log = f.read()
    if process.returncode != 0:
        raise RuntimeError('spark-submit exited %d: %s' % (process.returncode, log[-2000:]))
    with open(out) as f:
        return json.load(f), log


def spark_fit(master, path, tmp, name, args=SPARK_FIT, env=None):
    """One spark-submit fit to the end: (record, its merged output)."""
    out, log_path = os.path.join(tmp, name + '.json'), os.path.join(tmp, name + '.log')
    with open(log_path, 'wb') as log:
        process = spark_submit_fit(master, path, args, out, log, env)
    return _read_record(process, out, log_path)


def _rest(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def recovery_lines(log):
    return [line for line in log.splitlines() if line.startswith('distreg: spark-rdd pass')]


def worker_kill_scenario(state, path, reference, tmp, say=_quiet, timeout=300):
    """Kill one worker and its executor (SIGKILL) after the second pass over the cache."""
    from spark_jobs import cluster
    ui_port = cluster.free_port()
    api = 'http://127.0.0.1:%d/api/v1/applications' % ui_port
    out, log_path = os.path.join(tmp, 'kill.json'), os.path.join(tmp, 'kill.log')
    with open(log_path, 'wb') as log:
        # the application's REST API (off in configs/spark) shows its jobs and executors
        process = spark_submit_fit(state['master_url'], path, SPARK_FIT, out, log,
                                   conf=['spark.ui.enabled=true', 'spark.ui.port=%d' % ui_port])
    try:
        deadline = time.monotonic() + timeout
        app, jobs_cached, victim = None, None, None
        while victim is None:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the fit ended (or timed out) before a worker could be '
                                   'killed in the middle of it; see %s' % log_path)
            time.sleep(0.2)
            apps = _rest(api)
            if not apps:
                continue
            app = apps[0]['id']
            executors = _rest('%s/%s/executors' % (api, app)) or []
            jobs = _rest('%s/%s/jobs' % (api, app)) or []
            done = sum(1 for job in jobs if job['status'] == 'SUCCEEDED')
            holders = sorted((e['rddBlocks'], e['id']) for e in executors
                             if e['id'] != 'driver' and e['rddBlocks'] > 0)
            if jobs_cached is None and holders:
                jobs_cached = done  # the cache is materialised: the passes start
            if jobs_cached is not None and done >= jobs_cached + 2 and holders:
                victim = holders[-1]
        blocks, executor = victim
        role, executor_pid = cluster.executors(state)[executor]
        killed = cluster.kill_worker(state, role)
        say('cache built, %d more Spark job(s) done: SIGKILL to %s (pid %d) and its executor %s '
            '(pid %d, holding %d cached partition(s)): %d processes'
            % (done - jobs_cached, role, killed[0], executor, executor_pid, blocks,
               len(killed)))
        removed = None
        while process.poll() is None and removed is None:
            for e in _rest('%s/%s/allexecutors' % (api, app)) or []:
                if e['id'] == executor and not e['isActive']:
                    removed = e.get('removeReason') or 'removed'
            time.sleep(0.2)
        workers = [w['state'] for w in (cluster.master_status(state['web_url']) or {})
                   .get('workers', [])]
        record, log = _read_record(process, out, log_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    diff = rel_diff(record, reference)
    say('driver: executor %s removed (%s); master: workers %s' % (executor, removed, workers))
    for line in recovery_lines(log):
        say(line)
    say('fit finished: %d iterations, %d task attempts failed and ran again, %d cached '
        'partitions recomputed; coefficients differ from the fit without the fault by %.1e'
        % (record['iterations'], record['timings']['failed_tasks'],
           record['timings']['recomputed_partitions'], diff))
    return dict(executor=executor, killed=killed, removed=removed, workers=workers,
                record=record, log=log, rel_diff=diff)


def task_retry_scenario(path, reference, tmp, say=_quiet):
    """On ``local[2,3]`` (3 attempts per task), the first attempt of partition 1 fails."""
    record, log = spark_fit('local[2,3]', path, tmp, 'retry', env={'DISTREG_FAULT': 'spark:1'})
    diff = rel_diff(record, reference)
    say('local[2,3], DISTREG_FAULT=spark:1: %s' % (' / '.join(recovery_lines(log)) or
                                                   'no failure noted'))
    say('fit finished: %d task attempt(s) failed and ran again; coefficients differ from the '
        'fit without the fault by %.1e' % (record['timings']['failed_tasks'], diff))
    return dict(record=record, log=log, rel_diff=diff)


def make_spark_input(path, rows=20_000, features=5, seed=12):
    generate(rows, features, path, model='logistic', seed=seed)
    return path


def run_spark(say=None):
    say = say or _say
    from spark_jobs import cluster
    say('== Spark (spark-rdd, logistic gd over a cached RDD)')
    with tempfile.TemporaryDirectory(prefix='distreg-faults-') as tmp:
        path = make_spark_input(os.path.join(tmp, 'l.csv'))
        reference, _ = spark_fit('local[2]', path, tmp, 'reference')
        say('fit without a fault (local[2]): %d iterations' % reference['iterations'])
        say('-- a task that fails once')
        task_retry_scenario(path, reference, tmp, say)
        say('-- a worker lost in the middle of the fit')
        state_dir = os.path.join(tmp, 'spark-cluster')
        state = cluster.start(state_dir, workers=2, cores=1, memory='1g')
        try:
            say('standalone cluster %s: %d workers ALIVE'
                % (state['master_url'], cluster.alive_workers(state['web_url'])))
            worker_kill_scenario(state, path, reference, tmp, say)
        finally:
            cluster.stop(state_dir)


def main(argv=None):
    parts = (argv if argv is not None else sys.argv[1:]) or ['hadoop', 'spark']
    t0 = time.monotonic()
    if 'hadoop' in parts:
        run_hadoop()
    if 'spark' in parts:
        run_spark()
    print('== done in %.0f s (the machine is shared: seconds vary)' % (time.monotonic() - t0))
    return 0


if __name__ == '__main__':
    sys.exit(main())
