"""mrjob's ``-r local`` runner as distreg's jobs run on it (one concern of the overrides of
mrjob 0.7.4; docs/mrjob.md has the table, jobs/mrjob_imports.py the imports, jobs/mrjob_compat.py the job).

One byte range per core, read in place by its task as a Hadoop task reads its block (each
split ends at the first line end at or after the split size; tasks get the same
``map.input.file/start/length``); tasks started from threads so that an interrupted fit stops
and reaps them all (:class:`_TaskProcesses`), forked by one warm interpreter per step
(jobs/task_server.py, docs/task-server.md); a map task's combiner skipped when it emitted one
record (Hadoop may run a combiner zero times); ``dirs`` archives from jobs/mrjob_archives.py.
"""

import json
import os
import shutil
import subprocess
import threading
from functools import partial

from distreg.interrupt import deferred
from jobs.mrjob_archives import create_dir_archive, localize_dir_archive
from jobs.mrjob_imports import IN_PLACE_ENV, cache_conf_reads, import_runners

_SCAN = 1 << 16


_LOCAL_RUNNER = []


def local_runner_class():
    """The ``-r local`` runner class (see the module docstring), made on first use.

    Made here, not at import: ``mrjob.local`` imports ``mrjob.bin`` (and, unhidden, pyspark),
    which map and reduce tasks, which import this module, must not pay for.
    """
    if _LOCAL_RUNNER:
        return _LOCAL_RUNNER[0]
    import_runners()
    cache_conf_reads()
    from mrjob.cat import is_compressed
    from mrjob.local import LocalMRJobRunner

    class BlockSplitLocalRunner(LocalMRJobRunner):
        """``-r local`` for distreg's jobs (see the module docstring)."""

        def _pick_mapper_split_size(self, input_paths, step_num):
            total = sum(os.path.getsize(p) for p in input_paths)
            return -(-total // max(self._num_mappers(step_num), 1))  # ceiling division

        _in_place = False

        def _split_mapper_input(self, input_paths, step_num):
            input_paths = list(input_paths)
            self._in_place = False
            if ((step_num == 0 and self._uses_input_manifest())
                    or any(is_compressed(p) for p in input_paths)):
                return super()._split_mapper_input(input_paths, step_num)
            self._in_place = True
            split_size = max(self._pick_mapper_split_size(input_paths, step_num), 1)
            outputs = self._yield_split_fileobjs('mapper', step_num)
            splits = []
            for path in input_paths:
                size = os.path.getsize(path)
                with open(path, 'rb') as src:
                    start = 0
                    while True:
                        end = _line_end_after(src, start + split_size - 1, size)
                        # left empty: the task reads its range of the input in place
                        next(outputs).close()
                        splits.append(dict(file=path, start=start, length=end - start))
                        start = end
                        if start >= size:
                            break
            return splits


        def _env_for_task(self, task_type, step_num, task_num, map_split=None):
            env = super()._env_for_task(task_type, step_num, task_num, map_split)
            # what mrjob sets per task (its simulated jobconf): the task server's tasks may
            # differ from the first one there, and nowhere else
            self._per_task_env.update(k.replace('.', '_') for k in self._simulate_jobconf_for_step(
                task_type, step_num, task_num, map_split))
            self._per_task_env.add(IN_PLACE_ENV)
            if task_type == 'mapper' and map_split is not None and self._in_place:
                # the driver's working directory: the input's path may be relative to it
                env[IN_PLACE_ENV] = os.getcwd()
            return env

        def _run_mapper_and_combiner_func(self, step_num, task_num, map_split):
            step = self._get_step(step_num)
            if 'mapper' not in step or 'combiner' not in step:
                return super()._run_mapper_and_combiner_func(step_num, task_num, map_split)
            self.fs.mkdir(self._task_dir('combiner', step_num, task_num))
            return partial(
                _map_then_combine,
                self._run_task_func('mapper', step_num, task_num, map_split),
                self._run_task_func('combiner', step_num, task_num, map_split),
                self._sort_input_func(),
                self._task_output_path('mapper', step_num, task_num),
                self._task_input_path('combiner', step_num, task_num),
                self._task_output_path('combiner', step_num, task_num))

        # tasks in threads, each a subprocess this runner can stop (see _TaskProcesses)

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._tasks = _TaskProcesses()
            self._per_task_env = set()

        def _invoke_task_func(self, task_type, step_num, task_num):
            return partial(self._tasks.invoke, task_type, step_num, task_num,
                           self._substep_args(step_num, task_type), self._num_steps())

        def _run_multiple(self, funcs, num_processes=None):
            _run_in_threads(list(funcs), self._num_cores(), self._tasks)

        _first_server = None

        def run(self):
            # the first step's task server warms up while the job makes its archives and
            # distributed cache (jobs/task_server.py)
            try:
                if _TaskServer.enabled() and 'mapper' in self._get_step(0):
                    with deferred():  # started and recorded (closed below), or not started
                        self._first_server = _TaskServer(self._step_dir(0),
                                                         self._per_task_env)
                        self._first_server.spawn(self._substep_args(0, 'mapper'),
                                                 self._env_for_task('mapper', 0, 0))
                return super().run()
            finally:
                with deferred():
                    if self._first_server is not None:  # the first step never started
                        self._first_server.close()
                        self._first_server = None

        def _run_streaming_step(self, step, step_num):
            # one warm interpreter per step forks its tasks (jobs/task_server.py)
            try:
                with deferred():  # handed over whole: closed below, or else by run()
                    server, self._first_server = self._first_server, None
                    if server is None and _TaskServer.enabled():
                        server = _TaskServer(self._step_dir(step_num), self._per_task_env)
                    self._tasks.server = server
                return super()._run_streaming_step(step, step_num)
            finally:
                with deferred():
                    server, self._tasks.server = self._tasks.server, None
                    if server is not None:
                        server.close()

        def _create_dir_archive(self, dir_path):
            # jobs/mrjob_archives.py: made once per unchanged directory, level 1, bytecode
            if not create_dir_archive(self, dir_path):
                super()._create_dir_archive(dir_path)

        def _create_dist_cache_dir(self, step_num):
            # mrjob's own, except that an archive of jobs/mrjob_archives.py's disk cache is
            # unpacked there once and linked to (localize_dir_archive), not unpacked per job
            from mrjob.fs.local import _from_file_uri
            from mrjob.sim import _chmod_u_rx
            from mrjob.util import unarchive
            self.fs.mkdir(self._dist_cache_dir(step_num))
            for name, path in self._working_dir_mgr.name_to_path('file').items():
                path = _from_file_uri(path)
                dest = self._path_in_dist_cache_dir(name, step_num)
                shutil.copy(path, dest)
                _chmod_u_rx(dest)
            for name, path in self._working_dir_mgr.name_to_path('archive').items():
                path = _from_file_uri(path)
                dest = self._path_in_dist_cache_dir(name, step_num)
                if not localize_dir_archive(path, dest):
                    unarchive(path, dest)
                    _chmod_u_rx(dest, recursive=True)

        def _get_local_tmp_dir(self):
            with deferred():  # made and recorded, or not made
                return super()._get_local_tmp_dir()

        def cleanup(self, mode=None):
            with deferred():  # a SIGTERM cannot stop the rmtree half-way
                super().cleanup(mode)

    _LOCAL_RUNNER.append(BlockSplitLocalRunner)
    return BlockSplitLocalRunner



class _TaskProcesses:
    """The task subprocesses of one local runner, which the runner can stop.

    Replaces: mrjob's ``_run_multiple`` (a ``multiprocessing.Pool`` per map and per reduce
    phase, whose workers each run one task with ``check_call``). Each task is still a
    subprocess, started here from a thread: the Pool's forked workers could not be stopped
    cleanly (a SIGTERM or Ctrl-C raised while the Pool was being made left workers that
    held the caller's stdout open for ever, and a terminated worker left its task running on
    in the scratch directory being removed). Here an interrupted or failed phase terminates
    every running task, waits for it, and only then lets the exception go on.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._running = set()
        self._stopped = False
        #: the step's :class:`_TaskServer`, or None: each task a fresh subprocess
        self.server = None

    def invoke(self, task_type, step_num, task_num, args, num_steps, stdin, stdout, stderr,
               wd, env):
        """mrjob's ``_invoke_task_in_subprocess``, with the process kept for :meth:`stop`:
        forked by the step's task server when it can run this task, else a subprocess."""
        from mrjob.local import _TaskFailedException
        server, proc = self.server, None
        if server is not None and server.ready(args, wd, env) and not self._stopped:
            proc = server.fork(args, wd, env, stdin, stdout, stderr)
        with self._lock:
            if self._stopped:
                if proc is not None:  # forked as the phase was being stopped: not left on
                    proc.kill()
                    proc.wait()
                raise _Stopped()
            if proc is None:
                proc = subprocess.Popen(args, stdin=stdin, stdout=stdout, stderr=stderr,
                                        cwd=wd, env=env)
            self._running.add(proc)
        try:
            returncode = proc.wait()
        finally:
            with self._lock:
                self._running.discard(proc)
        if returncode is None:
            raise _TaskFailedException(
                reason='the step\'s task server ended before the task did (%s)'
                % server.why(), step_num=step_num, num_steps=num_steps,
                task_type=task_type, task_num=task_num)
        if returncode:
            raise _TaskFailedException(
                reason=str(subprocess.CalledProcessError(returncode, args)),
                step_num=step_num, num_steps=num_steps, task_type=task_type,
                task_num=task_num)

    def stop(self, grace=5.0):
        """Start no more tasks; terminate the running ones (SIGKILL after ``grace`` s)."""
        with self._lock:
            self._stopped = True
            procs = list(self._running)
        if self.server is not None:
            self.server.abort_start()  # a task waiting for the server to start waits no more
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def reset(self):
        with self._lock:
            self._stopped = False


class _TaskServer:
    """The driver's side of jobs/task_server.py: one server per step, started as the job
    starts (the first step's, :meth:`BlockSplitLocalRunner.run`) or by the step's first task
    (a later step's), with the tasks' interpreter, script and environment; it forks every
    task it can run: the same interpreter and script, and an environment that differs from
    the first task's only in the variables mrjob sets per task (its simulated jobconf:
    ``mapreduce_task_id``, ``map_input_file``, ...) and :data:`IN_PLACE_ENV`. Any other
    task, or every task when the server cannot start, is a subprocess as in mrjob.
    ``DISTREG_TASK_SERVER=0`` turns it off.
    """

    #: how long a task waits for the server to import the job script
    START_TIMEOUT = 120.0

    @staticmethod
    def enabled(environ=os.environ):
        import signal
        import socket
        return (environ.get('DISTREG_TASK_SERVER', '1') != '0'
                and hasattr(os, 'pidfd_open') and hasattr(signal, 'pidfd_send_signal')
                and hasattr(socket, 'send_fds'))

    def __init__(self, step_dir, per_task_env):
        self._dir = step_dir
        #: names of the variables mrjob sets per task (the runner adds to it)
        self._per_task_env = per_task_env
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._send_lock = threading.Lock()
        self._proc = self._control = None
        self._args = self._env = None
        self._failed = None

    def ready(self, args, wd, env):
        """Whether this task can be forked by the server (started by the first task asked,
        unless :meth:`spawn` started it; given the job script by the first task asked)."""
        with self._lock:
            if self._proc is None and self._failed is None:
                self.spawn(args[:2], env)
            if self._failed is None and not self._preloading:
                self._preload(args, wd)
        if self._failed is None:
            self._ready.wait(self.START_TIMEOUT)
        if self._failed is not None or not self._ready.is_set():
            return False
        if list(args[:2]) != self._args:
            return False
        keys = (set(env) | set(self._env)) - self._per_task_env
        return all(env.get(k) == self._env.get(k) for k in keys)

    def spawn(self, args, env):
        """Start the server: interpreter ``args[0]``, for tasks of the job script ``args[1]``
        (as the tasks' command lines name it), with the tasks' environment ``env``."""
        import socket
        if len(args) < 2 or not args[1].endswith('.py'):
            self._failed = 'not a python job script: %r' % (args[:2],)
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        os.makedirs(self._dir, exist_ok=True)
        self._stderr = os.path.join(self._dir, 'task-server-stderr')
        try:
            with open(self._stderr, 'wb') as err:
                self._proc = subprocess.Popen(
                    [args[0], os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           'task_server.py'), str(theirs.fileno())],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                    cwd=self._dir, env=env, pass_fds=[theirs.fileno()])
        except OSError as e:
            ours.close()
            self._failed = str(e)
            return
        finally:
            theirs.close()
        self._control, self._args, self._env = ours, list(args[:2]), dict(env)

    _preloading = False

    def _preload(self, args, wd):
        """Have the server import the job script of this task (from the step's cache)."""
        self._preloading = True
        if list(args[:2]) != self._args:
            self._failed = 'started for %r, asked for %r' % (self._args, list(args[:2]))
            return
        script = os.path.realpath(os.path.join(wd, args[1]))
        try:
            self._control.send(json.dumps({'script': script}).encode())
        except OSError as e:
            self._failed = str(e)
            return
        threading.Thread(target=self._await_ready, daemon=True).start()

    def _await_ready(self):
        from jobs.task_server import READY
        try:
            msg = self._control.recv(64)
        except OSError as e:
            msg = None
            self._failed = str(e)
        if msg == READY:
            self._ready.set()
        else:
            self._failed = self._failed or self.why()
            self._ready.set()

    #: how long the server may take to say it forked a task
    FORK_TIMEOUT = 60.0

    def fork(self, args, wd, env, stdin, stdout, stderr):
        """A :class:`_ForkedTask` for this task, or None when the request could not be sent
        (nothing was forked: the task can run as a subprocess). A request sent but not
        answered is a task lost (its ``wait()`` says None), never a task run twice."""
        import socket
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        request = json.dumps({'args': list(args), 'cwd': wd, 'env': dict(env)}).encode()
        try:
            with self._send_lock:
                socket.send_fds(self._control, [request], [theirs.fileno(), stdin.fileno(),
                                                           stdout.fileno(), stderr.fileno()])
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        try:
            ours.settimeout(self.FORK_TIMEOUT)
            reply = ours.recv(256)
            ours.settimeout(None)
        except OSError:
            reply = b''
        if not reply:
            ours.close()
            return _ForkedTask(None, None)
        return _ForkedTask(json.loads(reply)['pid'], ours)

    def why(self):
        """What the server's stderr ends with (why it ended), or its exit status."""
        if self._failed:
            return self._failed
        tail = ''
        try:
            with open(self._stderr, 'rb') as f:
                tail = f.read()[-2000:].decode('utf-8', 'replace').strip()
        except OSError:
            pass
        code = self._proc.poll() if self._proc is not None else None
        return (tail.splitlines() or ['exit status %s' % code])[-1]

    def _shutdown(self):
        """The control socket shut both ways: the server reads its end, a thread waiting
        for ``ready`` wakes."""
        import socket
        try:
            self._control.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def abort_start(self):
        if self._control is not None and not self._ready.is_set():
            self._shutdown()

    def close(self, timeout=10.0):
        """End the server: it kills any task still running, then exits."""
        if self._control is not None:
            self._shutdown()
            self._control.close()
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


class _ForkedTask:
    """A task forked by the task server, with the part of ``Popen``'s interface
    :class:`_TaskProcesses` uses. ``returncode`` None after :meth:`wait`: the server ended
    without saying how the task did."""

    def __init__(self, pid, conn):
        self.pid = pid
        self._conn = conn  # None: lost before the server said it was forked
        self._done = threading.Event()
        self._reader = threading.Lock()  # one thread reads the status, others wait for it
        self.returncode = None
        if conn is None:
            self._done.set()

    def wait(self, timeout=None):
        if timeout is None and self._reader.acquire(blocking=False):
            if not self._done.is_set():
                try:
                    reply = self._conn.recv(256)
                except OSError:
                    reply = b''
                self.returncode = json.loads(reply)['status'] if reply else None
                self._conn.close()
                self._done.set()
            return self.returncode
        if not self._done.wait(timeout):
            raise subprocess.TimeoutExpired(self.pid, timeout)
        return self.returncode

    def poll(self):
        return self.returncode if self._done.is_set() else None

    def _send(self, what):
        try:
            if not self._done.is_set():
                self._conn.send(what)
        except OSError:
            pass

    def terminate(self):
        self._send(b'T')

    def kill(self):
        self._send(b'K')


class _Stopped(Exception):
    """A task not started: its phase was being stopped."""


def _run_in_threads(funcs, workers, tasks):
    """Run no-argument functions, ``workers`` at a time, as mrjob's ``_run_multiple`` does:
    the first failure (in task order) is raised once the others are stopped."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
    tasks.reset()
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    try:
        futures = [pool.submit(f) for f in funcs]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                raise future.exception()
    except BaseException:
        with deferred():
            tasks.stop()
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _map_then_combine(run_mapper, run_combiner, sort_input, mapper_output, combiner_input,
                      combiner_output):
    run_mapper()
    if _records(mapper_output, limit=2) <= 1:
        shutil.copyfile(mapper_output, combiner_output)
    else:
        sort_input([mapper_output], combiner_input)
        run_combiner()


def _records(path, limit):
    """Number of lines of ``path``, counting no further than ``limit``."""
    n = 0
    with open(path, 'rb') as f:
        for _ in f:
            n += 1
            if n >= limit:
                break
    return n


def _line_end_after(src, pos, size):
    """Offset just past the first newline at or after ``pos`` (or the file's size)."""
    if pos >= size:
        return size
    src.seek(pos)
    while True:
        data = src.read(_SCAN)
        if not data:
            return size
        i = data.find(b'\n')
        if i >= 0:
            return pos + i + 1
        pos += len(data)
