"""A real Spark standalone cluster on this machine: one master and N workers on 127.0.0.1.

    python -m spark_jobs.cluster up [--workers 2] [--cores 1] [--memory 2g] [--dir .spark]
    python -m spark_jobs.cluster status [--dir .spark]
    python -m spark_jobs.cluster down [--dir .spark]

``up`` starts Spark's own daemons (``spark-class org.apache.spark.deploy.master.Master``
and ``...deploy.worker.Worker``, from the pip pyspark or SPARK_HOME) on free
ports, waits until the master lists every worker ALIVE and writes the state
(master URL, web UI, process ids, logs) to ``DIR/cluster.json``; it prints the
master URL. ``down`` stops exactly those processes, by process id. Logs go to
``DIR/logs``, the workers' scratch space to ``DIR/work``.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from distreg import PROJECT_ROOT
from distreg.errors import DistregError
from spark_jobs.session import prepare_environment, spark_home

PROJECT = PROJECT_ROOT
DEFAULT_DIR = os.path.join(PROJECT, '.spark')
HOST = '127.0.0.1'
STATE_FILE = 'cluster.json'
#: Seconds to wait for the master to list every worker ALIVE.
START_TIMEOUT = 120
#: Seconds a daemon gets to exit after SIGTERM before SIGKILL.
STOP_TIMEOUT = 20


def free_port():
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _daemon(cls, args, log_path, env):
    spark_class = os.path.join(spark_home(), 'bin', 'spark-class')
    log = open(log_path, 'ab')
    # spark-class execs java: the process id is the JVM's. A session of its own, so
    # that a Ctrl-C in the shell that started it does not reach the cluster.
    return subprocess.Popen([spark_class, cls] + args, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def start(state_dir=DEFAULT_DIR, workers=2, cores=1, memory='2g', timeout=START_TIMEOUT):
    """Start a master and ``workers`` workers; return the state dict (also in cluster.json).

    Parameters
    ----------
    state_dir : str
        Where cluster.json, logs/ and work/ go.
    workers : int, default 2
        Number of workers (>= 1).
    cores : int, default 1
        Cores each worker offers (>= 1).
    memory : str, default '2g'
        Memory each worker offers, Spark's notation (``512m``, ``2g``).
    timeout : float
        Seconds to wait for every worker to register ALIVE.
    """
    if workers < 1 or cores < 1:
        raise DistregError('workers and cores must be >= 1, not %r and %r' % (workers, cores))
    if read_state(state_dir) is not None:
        raise DistregError('a cluster is already recorded in %s; stop it first (down)'
                           % os.path.join(state_dir, STATE_FILE))
    prepare_environment()
    logs = os.path.join(state_dir, 'logs')
    os.makedirs(logs, exist_ok=True)
    env = dict(os.environ, SPARK_HOME=spark_home(), SPARK_LOCAL_IP=HOST,
               SPARK_NO_DAEMONIZE='1')
    master_port, master_ui = free_port(), free_port()
    state = dict(master_url='spark://%s:%d' % (HOST, master_port),
                 web_url='http://%s:%d' % (HOST, master_ui), state_dir=state_dir,
                 processes=[])
    procs = []
    try:
        procs.append(('master', _daemon(
            'org.apache.spark.deploy.master.Master',
            ['--host', HOST, '--port', str(master_port), '--webui-port', str(master_ui)],
            os.path.join(logs, 'master.log'), env)))
        _wait(lambda: _master_json(state['web_url']) is not None, timeout, procs,
              'the master to answer on %s' % state['web_url'])
        for i in range(1, workers + 1):
            work = os.path.join(state_dir, 'work', 'worker%d' % i)
            os.makedirs(work, exist_ok=True)
            procs.append(('worker%d' % i, _daemon(
                'org.apache.spark.deploy.worker.Worker',
                ['--host', HOST, '--port', str(free_port()), '--webui-port', str(free_port()),
                 '--cores', str(cores), '--memory', memory, '--work-dir', work,
                 state['master_url']],
                os.path.join(logs, 'worker%d.log' % i), env)))
        _wait(lambda: alive_workers(state['web_url']) >= workers, timeout, procs,
              '%d workers to be ALIVE at %s' % (workers, state['master_url']))
    except BaseException:
        _stop_pids([p.pid for _, p in procs])
        raise
    state['processes'] = [dict(role=role, pid=p.pid) for role, p in procs]
    with open(os.path.join(state_dir, STATE_FILE), 'w') as f:
        json.dump(state, f, indent=1)
    return state


def _wait(ready, timeout, procs, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for role, p in procs:
            if p.poll() is not None:
                raise DistregError('the Spark %s exited (status %s) while waiting for %s; see '
                                   'its log' % (role, p.returncode, what))
        if ready():
            return
        time.sleep(0.5)
    raise DistregError('timed out after %ds waiting for %s' % (timeout, what))


def _master_json(web_url):
    try:
        with urllib.request.urlopen(web_url + '/json/', timeout=5) as r:
            return json.load(r)
    except (OSError, ValueError):
        return None


def alive_workers(web_url):
    """Number of workers the master lists as ALIVE (0 when it does not answer)."""
    info = _master_json(web_url)
    if info is None:
        return 0
    return sum(1 for w in info.get('workers', []) if w.get('state') == 'ALIVE')


def read_state(state_dir=DEFAULT_DIR):
    path = os.path.join(state_dir, STATE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def _is_spark_daemon(pid):
    """True when ``pid`` is still one of Spark's deploy daemons (not a recycled pid)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return b'org.apache.spark.deploy.' in f.read()
    except OSError:
        return False


def _stop_pids(pids):
    live = [pid for pid in pids if _is_spark_daemon(pid)]
    for pid in live:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for pid in live:
        while _is_spark_daemon(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
        if _is_spark_daemon(pid):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)


def _reap(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(state_dir=DEFAULT_DIR):
    """Stop the cluster recorded in ``state_dir`` (workers first), by process id."""
    state = read_state(state_dir)
    if state is None:
        return None
    pids = [p['pid'] for p in state['processes']]
    _stop_pids(pids[::-1])
    os.remove(os.path.join(state_dir, STATE_FILE))
    return state


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m spark_jobs.cluster',
                                description=__doc__.split('\n')[0])
    p.add_argument('action', choices=('up', 'down', 'status'))
    p.add_argument('--dir', default=DEFAULT_DIR, help='state directory. Default: %(default)s')
    p.add_argument('--workers', type=int, default=2, help='Default: %(default)s')
    p.add_argument('--cores', type=int, default=1, help='cores per worker. Default: %(default)s')
    p.add_argument('--memory', default='2g', help='memory per worker. Default: %(default)s')
    args = p.parse_args(argv)
    try:
        if args.action == 'up':
            state = start(args.dir, args.workers, args.cores, args.memory)
            print(state['master_url'])
            print('master web UI %s; logs in %s; stop with: python -m spark_jobs.cluster down'
                  % (state['web_url'], os.path.join(args.dir, 'logs')), file=sys.stderr)
        elif args.action == 'down':
            state = stop(args.dir)
            print('stopped %s' % state['master_url'] if state else 'no cluster recorded in %s'
                  % args.dir, file=sys.stderr)
        else:
            state = read_state(args.dir)
            if state is None:
                print('no cluster recorded in %s' % args.dir)
                return 1
            print('%s: %d of %d workers ALIVE' % (state['master_url'],
                                                  alive_workers(state['web_url']),
                                                  len(state['processes']) - 1))
    except DistregError as e:
        print('error: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
