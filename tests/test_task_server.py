"""The local runner's task server (jobs/task_server.py): a step's tasks forked from one warm
interpreter must behave as ``python SCRIPT ARGS`` subprocesses do (files, directory,
environment, command line, exit status, errors), stop when the phase is stopped, and fail
(not hang) when the server goes."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import numpy as np

from helpers import lstsq, make_linear, theta, write_csv
from jobs.mrjob_local import _run_in_threads, _TaskProcesses, _TaskServer

pytestmark = pytest.mark.skipif(not _TaskServer.enabled(), reason='needs Linux pidfds')

SCRIPT = r'''
import json, os, sys, time
if __name__ == '__main__':
    mode = sys.argv[1]
    if mode == 'report':
        data = sys.stdin.read()
        print(json.dumps({'ppid': os.getppid(), 'argv': sys.argv, 'cwd': os.getcwd(),
                          'env': os.environ.get('TASK_VALUE'), 'stdin': data,
                          'path0': sys.path[0], 'name': __name__}))
        print('to stderr', file=sys.stderr)
    elif mode == 'exit':
        sys.exit(int(sys.argv[2]))
    elif mode == 'raise':
        raise ValueError('boom in the task')
    elif mode == 'sleep':
        print('started', os.getpid(), flush=True)
        time.sleep(60)
'''


@pytest.fixture
def step(tmp_path):
    cache = tmp_path / 'cache'
    cache.mkdir()
    (cache / 'job.py').write_text(SCRIPT)
    wd = tmp_path / 'wd'
    wd.mkdir()
    os.symlink(cache / 'job.py', wd / 'job.py')  # as mrjob's working dirs link to the cache
    return tmp_path


def _run(tasks, step, n, args, env_of=lambda i: {}, stdin=b'in', server=True):
    """Run ``n`` tasks through ``tasks`` (with a fresh server); their outputs and errors."""
    tasks.server = _TaskServer(str(step), {'TASK_VALUE'}) if server else None
    funcs, outs = [], []
    for i in range(n):
        inp, out, err = (step / ('%s-%d' % (k, i)) for k in ('in', 'out', 'err'))
        inp.write_bytes(stdin)
        outs.append((out, err))

        def task(i=i, inp=inp, out=out, err=err):
            env = dict(os.environ, TASK_VALUE='v%d' % i, **env_of(i))
            with open(inp, 'rb') as a, open(out, 'wb') as b, open(err, 'wb') as c:
                tasks.invoke('mapper', 0, i, [sys.executable, 'job.py'] + args(i), 1,
                             a, b, c, str(step / 'wd'), env)
        funcs.append(task)
    try:
        _run_in_threads(funcs, 2, tasks)
    finally:
        if tasks.server is not None:
            tasks.server.close()
    return outs


def test_a_forked_task_gets_its_files_directory_environment_and_command_line(step):
    tasks = _TaskProcesses()
    outs = _run(tasks, step, 3, lambda i: ['report', 'arg%d' % i], stdin=b'the input\n')
    for i, (out, err) in enumerate(outs):
        got = json.loads(out.read_text())
        assert got['ppid'] != os.getpid()  # forked by the server, not started by this process
        assert got['argv'] == ['job.py', 'report', 'arg%d' % i]
        assert got['cwd'] == str(step / 'wd')
        assert got['env'] == 'v%d' % i  # a per-task variable
        assert got['stdin'] == 'the input\n'
        assert got['path0'] == str(step / 'cache')  # the script's directory, link resolved
        assert got['name'] == '__main__'
        assert err.read_text() == 'to stderr\n'
    assert len({json.loads(o.read_text())['ppid'] for o, _ in outs}) == 1  # one server


def test_a_task_whose_environment_differs_elsewhere_is_a_subprocess(step):
    tasks = _TaskProcesses()
    outs = _run(tasks, step, 2, lambda i: ['report'],
                env_of=lambda i: {'OTHER': 'x'} if i == 1 else {})
    # the first task to ask starts the server with its environment (either, they run at
    # once): the other, whose environment differs, is a subprocess of this process
    ppids = [json.loads(o.read_text())['ppid'] for o, _ in outs]
    assert sorted(p == os.getpid() for p in ppids) == [False, True]


def test_off_switch_and_the_same_output_either_way(step, monkeypatch):
    monkeypatch.setenv('DISTREG_TASK_SERVER', '0')
    assert not _TaskServer.enabled()
    tasks = _TaskProcesses()
    outs = _run(tasks, step, 1, lambda i: ['report'], server=False)
    got = json.loads(outs[0][0].read_text())
    assert got['ppid'] == os.getpid() and got['path0'] == str(step / 'cache')


@pytest.mark.parametrize('args,code,in_stderr', [
    (['exit', '3'], 3, ''),
    (['raise'], 1, 'ValueError: boom in the task'),
])
def test_a_failing_task_keeps_its_exit_status_and_its_traceback(step, args, code, in_stderr):
    from mrjob.local import _TaskFailedException
    tasks = _TaskProcesses()
    with pytest.raises(_TaskFailedException) as info:
        _run(tasks, step, 1, lambda i: args)
    assert 'returned non-zero exit status %d' % code in str(info.value)
    assert in_stderr in (step / 'err-0').read_text()


def test_a_stopped_phase_terminates_its_forked_tasks(step):
    tasks = _TaskProcesses()
    done = []

    def stop_soon():
        for _ in range(300):
            if all((step / ('out-%d' % i)).exists() and (step / ('out-%d' % i)).read_bytes()
                   for i in range(2)):
                break
            time.sleep(0.05)
        tasks.stop()
        done.append(time.time())

    threading.Thread(target=stop_soon).start()
    t0 = time.time()
    with pytest.raises(Exception):
        _run(tasks, step, 2, lambda i: ['sleep'])
    assert time.time() - t0 < 20  # not the tasks' 60 s
    assert done
    for i in range(2):
        assert (step / ('out-%d' % i)).read_text().startswith('started ')


def test_a_task_fails_and_does_not_hang_when_its_server_dies(step):
    from mrjob.local import _TaskFailedException
    tasks = _TaskProcesses()
    killed = []

    def kill_server():
        for _ in range(300):
            server = tasks.server
            out = step / 'out-0'
            if server is not None and out.exists() and out.read_bytes():
                os.kill(server._proc.pid, signal.SIGKILL)
                killed.append(server._proc.pid)
                return
            time.sleep(0.05)

    threading.Thread(target=kill_server).start()
    t0 = time.time()
    with pytest.raises(_TaskFailedException) as info:
        _run(tasks, step, 1, lambda i: ['sleep'])
    assert killed and time.time() - t0 < 20
    assert "task server ended before the task did" in str(info.value)
    # and the task went with its server (not left running on, orphaned)
    task = int((step / 'out-0').read_text().split()[1])
    for _ in range(100):
        if not _alive(task):
            break
        time.sleep(0.05)
    assert not _alive(task)


def _alive(pid):
    """Whether process ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False


def test_a_server_that_cannot_import_the_script_leaves_the_tasks_to_subprocesses(step):
    (step / 'cache' / 'job.py').write_text(SCRIPT + '\nimport no_such_module_here\n')
    tasks = _TaskProcesses()
    from mrjob.local import _TaskFailedException
    with pytest.raises(_TaskFailedException):
        _run(tasks, step, 1, lambda i: ['report'])
    # the task ran as a subprocess and failed there, with Python's own message
    assert "No module named 'no_such_module_here'" in (step / 'err-0').read_text()


def test_mrjob_local_fits_agree_with_and_without_the_server(tmp_path, monkeypatch):
    from distreg.fit import FitOptions, fit
    from jobs.engine import MRJobEngine
    forked, fork = [], _TaskServer.fork

    def counting_fork(self, *args):
        proc = fork(self, *args)
        forked.append(proc is not None)
        return proc
    monkeypatch.setattr(_TaskServer, 'fork', counting_fork)
    y, X = make_linear(3000, 4, seed=11)
    path = tmp_path / 'data.csv'
    write_csv(path, y, X)
    coefs = {}
    for on in ('1', '0'):
        monkeypatch.setenv('DISTREG_TASK_SERVER', on)
        rec = fit(MRJobEngine(str(path), 'mrjob-local'), FitOptions(method='qr'))
        coefs[on] = theta(rec)
        assert rec['n_rows'] == 3000
        # on: every task of the qr fit's jobs (2 map tasks and a reducer each) was forked
        assert (len(forked) >= 3 and all(forked)) if on == '1' else not forked
        del forked[:]
    np.testing.assert_allclose(coefs['1'], lstsq(y, X), rtol=1e-10)
    assert list(coefs['1']) == list(coefs['0'])  # the same code on the same splits


def test_a_dirs_archive_is_reused_only_while_its_directory_is_unchanged(tmp_path):
    import tarfile
    from jobs import mrjob_archives
    from jobs.engine import DEFAULT_CONF
    from jobs.normal import MRNormalEquations
    y, X = make_linear(20, 2)
    data = tmp_path / 'data.csv'
    write_csv(data, y, X)
    extra = tmp_path / 'extra'
    extra.mkdir()
    (extra / 'a.txt').write_text('one')

    class Job(MRNormalEquations):
        def dirs(self):
            return [str(extra) + '#extra']

    def archive():
        job = Job(['-r', 'local', '--conf-path', DEFAULT_CONF, str(data)])
        with job.make_runner() as runner:
            runner._create_dir_archives()
            with tarfile.open(runner._dir_archive_path(str(extra))) as t:
                return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}

    assert archive() == {'a.txt': b'one'}
    kept = mrjob_archives._DIR_ARCHIVES[str(extra)]
    assert archive() == {'a.txt': b'one'}
    assert mrjob_archives._DIR_ARCHIVES[str(extra)] is kept  # written from the kept bytes
    (extra / 'a.txt').write_text('two!')
    (extra / 'b.txt').write_text('new')
    assert archive() == {'a.txt': b'two!', 'b.txt': b'new'}
    assert mrjob_archives._DIR_ARCHIVES[str(extra)] is not kept


def test_a_dirs_archive_is_kept_on_disk_for_later_processes(tmp_path, monkeypatch):
    """A later process (here: the in-process cache emptied) takes an unchanged directory's
    archive from the disk cache, byte for byte, without making it; a changed directory, or a
    cache file cut short or altered, gets a new archive; the directory's archive of its
    earlier state is removed from the cache."""
    from jobs import mrjob_archives
    monkeypatch.setenv('DISTREG_CACHE_DIR', str(tmp_path / 'cache'))
    src = tmp_path / 'src'
    src.mkdir()
    (src / 'm.py').write_text('X = 1\n')

    class Runner:
        def __init__(self, n):
            self._dir_archives_created = set()
            self.path = str(tmp_path / ('archive%d.tar.gz' % n))

        def _dir_archive_path(self, dir_path):
            return self.path

    made = []
    real_tar_gz = mrjob_archives._tar_gz
    monkeypatch.setattr(mrjob_archives, '_tar_gz',
                        lambda d, sig: made.append(d) or real_tar_gz(d, sig))

    def archive(n):
        mrjob_archives._DIR_ARCHIVES.pop(str(src), None)  # as a new process
        runner = Runner(n)
        assert mrjob_archives.create_dir_archive(runner, str(src))
        with open(runner.path, 'rb') as f:
            return f.read()

    first = archive(1)
    assert made == [str(src)]
    cache = os.listdir(tmp_path / 'cache' / 'dir-archives')
    assert len(cache) == 1
    assert archive(2) == first and made == [str(src)]  # from the disk cache
    stored = tmp_path / 'cache' / 'dir-archives' / cache[0]
    blob = stored.read_bytes()
    stored.write_bytes(blob[:-40] + blob[-32:])  # cut short: a miss, made again
    assert archive(3) == first and len(made) == 2
    stored.write_bytes(blob[:100] + bytes([blob[100] ^ 1]) + blob[101:])  # altered
    assert archive(4) == first and len(made) == 3
    assert archive(5) == first and len(made) == 3
    (src / 'm.py').write_text('X = 22\n')
    changed = archive(6)
    assert changed != first and len(made) == 4
    assert os.listdir(tmp_path / 'cache' / 'dir-archives') != cache  # the old state removed
    assert len(os.listdir(tmp_path / 'cache' / 'dir-archives')) == 1


def test_a_cached_dirs_archive_is_unpacked_once_and_linked_to(tmp_path, monkeypatch):
    """A job whose ``dirs`` archive is in the disk cache links its distributed cache entry to
    one unpacked copy (files user read and execute, as mrjob makes them); the next job
    links to the same copy without unpacking; a job's cleanup removes its link, not the
    files; the fit is the same as with mrjob's own unpacking (an archive not from the cache,
    here one the cache could not keep)."""
    from jobs import mrjob_archives
    from jobs.engine import MRJobEngine
    from distreg.fit import FitOptions
    import mrjob.util
    cache = tmp_path / 'cache'
    monkeypatch.setenv('DISTREG_CACHE_DIR', str(cache))
    y, X = make_linear(200, 2)
    data = tmp_path / 'data.csv'
    write_csv(data, y, X)
    unpacked = []
    real_unarchive = mrjob.util.unarchive
    monkeypatch.setattr(mrjob.util, 'unarchive',
                        lambda path, dest: unpacked.append(dest) or real_unarchive(path, dest))
    links = []
    real_localize = mrjob_archives.localize_dir_archive

    def localize(path, dest):
        done = real_localize(path, dest)
        if done:
            links.append((dest, os.path.realpath(dest)))
            assert os.path.islink(dest)
            assert os.listdir(dest)
        return done
    import jobs.mrjob_local
    monkeypatch.setattr(jobs.mrjob_local, 'localize_dir_archive', localize)

    def fit():
        engine = MRJobEngine(str(data), 'mrjob-local')
        try:
            engine.prepare(FitOptions())
            return engine.aggregate('gram', {})
        finally:
            engine.close()

    mrjob_archives._DIR_ARCHIVES.clear()  # as a new process: the archives from the cache
    first = fit()
    assert len(links) == 2 and len(unpacked) == 2  # distreg and jobs, unpacked once each
    assert all(str(cache) in target for _, target in links)
    for _, target in links:
        modes = {os.stat(os.path.join(r, f)).st_mode & 0o777
                 for r, _, fs in os.walk(target) for f in fs}
        assert modes == {0o500}
    second = fit()
    assert len(links) == 4 and len(unpacked) == 2  # linked again, not unpacked
    assert [t for _, t in links[2:]] == [t for _, t in links[:2]]
    for dest, target in links:
        assert not os.path.lexists(dest) and os.listdir(target)  # the job's link is gone
    monkeypatch.setenv('DISTREG_CACHE_DIR', str(tmp_path / 'not-a-dir'))
    (tmp_path / 'not-a-dir').write_text('a file: nothing can be kept under it')
    mrjob_archives._DIR_ARCHIVES.clear()
    third = fit()
    assert len(links) == 4 and len(unpacked) == 4  # mrjob's own unpacking in the job
    for part in (second, third):
        assert part['n'] == first['n'] == 200
        for key in ('xtx', 'xty', 'yty'):
            np.testing.assert_allclose(part[key], first[key], rtol=1e-12)


def test_a_dirs_archive_carries_bytecode_the_interpreter_accepts(tmp_path):
    """Each .py goes with a .pyc compiled for this interpreter, which an import from the
    extracted archive uses (python -v says it matches its source); the directory's own
    __pycache__ (here a stale file) is not shipped; a file that does not compile goes
    without one."""
    import io
    import tarfile
    from jobs import mrjob_archives
    src = tmp_path / 'src'
    (src / 'pk' / '__pycache__').mkdir(parents=True)
    (src / 'pk' / '__init__.py').write_text('X = 41 + 1\n')
    (src / 'pk' / 'broken.py').write_text('def (:\n')
    (src / 'pk' / '__pycache__' / '__init__.cpython-311.pyc').write_bytes(b'stale')
    data = mrjob_archives._tar_gz(str(src), mrjob_archives._dir_signature(str(src)))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = sorted(tar.getnames())
        tar.extractall(tmp_path / 'out')
    cached = os.path.relpath(importlib.util.cache_from_source('pk/__init__.py'))
    assert names == sorted(['pk/__init__.py', 'pk/broken.py', cached])
    assert (tmp_path / 'out' / cached).read_bytes() != b'stale'
    out = subprocess.run([sys.executable, '-v', '-c', 'import pk; print(pk.X)'],
                         cwd=tmp_path / 'out', capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONDONTWRITEBYTECODE='1'))
    assert out.returncode == 0 and out.stdout.strip() == '42', out.stderr[-2000:]
    assert "code object from '%s'" % (tmp_path / 'out' / cached) in out.stderr
