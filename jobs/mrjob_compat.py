"""Every override of mrjob 0.7.4's internals, in one place (DESIGN.md: the mrjob engine is "one
MRJob step"; this module is where that step leans on mrjob beyond its public API).

docs/mrjob.md has the table: each override, what mrjob does instead, why distreg needs it, and
the test that fails when mrjob's behaviour under it changes (tests/test_mrjob_compat.py checks
that the table has a row for every override and that every test it names exists).
:data:`OVERRIDES` lists every private name of mrjob used here. What mrjob's public options
can do is left to them (one map task per core: the local runner's ``num_cores``).

- **Imports**: the launcher imports mrjob without setuptools' distutils shim or pyspark, and
  parses a conf file once while it is unchanged.
- **The job** (:class:`CompatJob`): switches added at launch reach every task; a map task
  hands its whole split to the job's vectorised ``map_task``.
- **The local runner** (:func:`local_runner_class`): one byte range per core, read in place
  by its task as a Hadoop task reads its block (each split ends at the first line end at or
  after the split size; tasks get the same ``map.input.file/start/length``); tasks started
  from threads so that an interrupted fit stops and reaps them all (:class:`_TaskProcesses`),
  forked by one warm interpreter per step (jobs/task_server.py, docs/task-server.md); a map
  task's combiner skipped when it emitted one record (Hadoop may run a combiner zero
  times); ``dirs`` archives made once per unchanged directory, with bytecode.
- **The Hadoop runner** (:func:`hadoop_runner_class`): fewer ``hadoop`` client JVMs per job
  (``hadoop version`` once per process, one ``fs -put`` for the working dir, one ``fs -cat``
  for the output; what lands on HDFS, and where, is unchanged), and an interrupted step's
  YARN application killed.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from functools import partial

from distreg.interrupt import deferred

#: mrjob's version these overrides were written and measured against (see the test
#: tests/test_mrjob_compat.py, which fails when mrjob's internals change).
MRJOB_VERSION = '0.7.4'

#: Set by the local runner for a map task that reads its split of the input in place.
IN_PLACE_ENV = 'DISTREG_SPLIT_IN_PLACE'

_SCAN = 1 << 16


# --------------------------------------------------------------------------- imports

def prefer_stdlib_distutils():
    """Replaces: setuptools' ``.pth`` hook answering mrjob's ``import distutils``.

    In a virtualenv the hook imports most of setuptools, in every launcher and every task;
    Python 3.11 still ships ``distutils``, so import that one. (Tasks get
    ``SETUPTOOLS_USE_DISTUTILS=stdlib`` from the conf's cmdenv, which the hook reads at start;
    the launcher has started by then, hence this.)
    """
    if 'distutils' in sys.modules:
        return
    hooks = [f for f in sys.meta_path if type(f).__name__ == 'DistutilsMetaFinder']
    for hook in hooks:
        sys.meta_path.remove(hook)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', DeprecationWarning)
            import distutils  # noqa: F401
    finally:
        sys.meta_path[0:0] = hooks


prefer_stdlib_distutils()  # before mrjob's first import, below

from mrjob.job import MRJob  # noqa: E402


def import_runners():
    """Replaces: ``mrjob.bin`` importing ``pyspark``, for mrjob's Spark runner.

    distreg does not use mrjob's Spark steps or runner (its Spark engines are its own), so
    ``mrjob.bin`` is imported with pyspark hidden (``sys.modules['pyspark'] = None``), and
    un-hidden after, so a later ``import pyspark`` in the same process works as usual.
    """
    if 'mrjob.bin' in sys.modules:
        return
    hide = 'pyspark' not in sys.modules
    if hide:
        sys.modules['pyspark'] = None  # `import pyspark` raises ImportError
    try:
        import mrjob.bin  # noqa: F401
    finally:
        if hide:
            del sys.modules['pyspark']


def cache_conf_reads():
    """Replaces: mrjob reading and parsing its conf file (YAML, a pure-Python parser) for
    every runner it makes, on the launch of every pass of an iterative fit. A file is parsed once per process while its path, size and mtime stay the same;
    each runner gets a copy of its own (mrjob's code may change what it gets)."""
    import copy
    import mrjob.conf
    read = mrjob.conf._conf_object_at_path
    if getattr(read, 'distreg_cached', False):
        return
    parsed = {}

    def cached(conf_path):
        try:
            st = os.stat(conf_path)
        except (OSError, TypeError):  # None, or missing: mrjob's own answer or error
            return read(conf_path)
        key = (os.path.realpath(conf_path), st.st_size, st.st_mtime_ns)
        if key not in parsed:
            parsed[key] = read(conf_path)
        return copy.deepcopy(parsed[key])

    cached.distreg_cached = True
    mrjob.conf._conf_object_at_path = cached


# --------------------------------------------------------------------------- the job side

class CompatJob(MRJob):
    """The MRJob internals distreg's jobs override, each with what it replaces and why.

    A subclass provides :meth:`launch_args` (switches added when the job is launched) and
    :meth:`map_task` (the whole map task: what ``mapper_init``/``mapper``/``mapper_final``
    do per line in mrjob).
    """

    def launch_args(self):
        """Switches to add to the command line before the runner is made (default none)."""
        return []

    def add_args(self, extra):
        """Replaces: nothing public in mrjob adds switches after parsing. Rewrites the job's
        private ``_cl_args`` (what mrjob passes on to every task) and parses them again, so
        that e.g. the sniffed ``--schema`` reaches every task without being read again there.
        """
        if extra:
            self._cl_args = list(self._cl_args) + list(extra)
            self.load_args(self._cl_args)

    def make_runner(self):
        """mrjob's ``make_runner``, after :func:`import_runners` and :meth:`launch_args`."""
        import_runners()
        self.add_args(self.launch_args())
        return super().make_runner()

    @contextmanager
    def filesystem(self):
        """The runner's filesystem (hdfs://, s3:// with the user's credentials), without
        :meth:`launch_args` (mrjob's own ``make_runner``; used to read the input's first line)."""
        with MRJob.make_runner(self) as probe:
            yield probe.fs

    def _runner_class(self):
        """Replaces: mrjob's ``-r local`` and ``-r hadoop`` runner classes with
        :class:`BlockSplitLocalRunner` and :class:`FewerClientsHadoopRunner` (mrjob 0.7.4
        chooses the class in this private method; there is no option for it)."""
        runner = self.options.runner or 'inline'
        if runner == 'local':
            return local_runner_class()
        if runner == 'hadoop':
            return hadoop_runner_class()
        return super()._runner_class()

    def run_mapper(self, step_num=0):
        """Replaces: mrjob's per-line map task (decode each line, call ``mapper``, encode).

        The task's input goes to :meth:`map_task` whole (stdin, or the paths given to
        ``--mapper``) and its output pairs are written with the step's protocol. Measured
        (issue 2): per-line protocol handling cost more than the arithmetic.
        """
        _, write = self.pick_protocols(step_num, 'mapper')
        for key, value in self.map_task(self.stdin, self.options.args or ['-']):
            self.stdout.write(write(key, value) + b'\n')

    def map_task(self, stdin, paths):
        raise NotImplementedError

    def mapper_unused(self, key, value):
        """mrjob runs a map task only for a step with a mapper; :meth:`run_mapper` never calls
        it (mrjob's Spark runner would, which distreg does not use)."""
        raise NotImplementedError('distreg jobs read their split in run_mapper')


# --------------------------------------------------------------------------- the local runner


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
            if _TaskServer.enabled() and 'mapper' in self._get_step(0):
                self._first_server = _TaskServer(self._step_dir(0), self._per_task_env)
                self._first_server.spawn(self._substep_args(0, 'mapper'),
                                         self._env_for_task('mapper', 0, 0))
            try:
                return super().run()
            finally:
                with deferred():
                    if self._first_server is not None:  # the first step never started
                        self._first_server.close()
                        self._first_server = None

        def _run_streaming_step(self, step, step_num):
            # one warm interpreter per step forks its tasks (jobs/task_server.py)
            server, self._first_server = self._first_server, None
            if server is None and _TaskServer.enabled():
                server = _TaskServer(self._step_dir(step_num), self._per_task_env)
            self._tasks.server = server
            try:
                return super()._run_streaming_step(step, step_num)
            finally:
                with deferred():
                    server, self._tasks.server = self._tasks.server, None
                    if server is not None:
                        server.close()

        def _create_dir_archive(self, dir_path):
            # mrjob tars and gzips (level 9) every `dirs` entry for every job, before any task
            # starts, and again on every pass of an iterative fit. Here a local directory's archive is the same tar of the same
            # files (every file mrjob's own would hold, under the same names) gzipped at
            # level 1, and a directory unchanged since an earlier job of this process (the
            # same files, sizes and mtimes) gets that job's bytes again.
            tar_gz_path = self._dir_archive_path(dir_path)
            if (tar_gz_path in self._dir_archives_created or '://' in dir_path
                    or not os.path.isdir(dir_path)):
                return super()._create_dir_archive(dir_path)
            signature = _dir_signature(dir_path)
            hit = _DIR_ARCHIVES.get(dir_path)
            if hit is None or hit[0] != signature:
                hit = _DIR_ARCHIVES[dir_path] = (signature, _tar_gz(dir_path, signature))
            os.makedirs(os.path.dirname(tar_gz_path), exist_ok=True)
            with open(tar_gz_path, 'wb') as f:
                f.write(hit[1])
            self._dir_archives_created.add(tar_gz_path)

        def _get_local_tmp_dir(self):
            with deferred():  # made and recorded, or not made
                return super()._get_local_tmp_dir()

        def cleanup(self, mode=None):
            with deferred():  # a SIGTERM cannot stop the rmtree half-way
                super().cleanup(mode)

    _LOCAL_RUNNER.append(BlockSplitLocalRunner)
    return BlockSplitLocalRunner


#: ``dirs`` archives made by the local runner in this process: {dir: (signature, bytes)}
_DIR_ARCHIVES = {}


def _dir_signature(dir_path):
    """What a directory's archive depends on: every file's path, size and mtime (the files
    mrjob's local filesystem lists: symlinked directories followed)."""
    out = []
    for root, dirs, files in os.walk(dir_path, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            st = os.stat(os.path.join(root, name))
            out.append((os.path.join(root, name), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _tar_gz(dir_path, signature):
    """The bytes of a .tar.gz of the files listed in ``signature`` (level 1), named
    relative to ``dir_path``, as mrjob names them.

    Every ``.py`` file goes with its bytecode for this interpreter (the tasks' one), compiled
    here, in place of the directory's own ``__pycache__`` (which may be stale, or missing
    where nothing writes it: a read-only checkout, ``PYTHONDONTWRITEBYTECODE``): each job's
    task server imports distreg and jobs from bytecode instead of compiling them again.
    """
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz', compresslevel=1) as tar:
        for path, size, mtime_ns in signature:
            name = os.path.relpath(path, dir_path)
            if '__pycache__' in name.split(os.sep):
                continue
            tar.add(path, name, recursive=False)
            pyc = _bytecode(path, size, mtime_ns) if path.endswith('.py') else None
            if pyc is not None:
                info = tarfile.TarInfo(os.path.relpath(
                    importlib.util.cache_from_source(path), dir_path))
                info.size, info.mtime, info.mode = len(pyc), int(time.time()), 0o644
                tar.addfile(info, io.BytesIO(pyc))
    return buf.getvalue()


def _bytecode(path, size, mtime_ns):
    """A timestamp-checked .pyc of ``path`` (PEP 552: the import system's own format; it
    checks the source's mtime and size, which the archive keeps: those of the directory's
    signature), or None when the file does not compile (the task then reports that itself)."""
    import marshal
    with open(path, 'rb') as f:
        source = f.read()
    try:
        code = compile(source, path, 'exec', dont_inherit=True)
    except (SyntaxError, ValueError):
        return None
    return b''.join((importlib.util.MAGIC_NUMBER, (0).to_bytes(4, 'little'),
                     (mtime_ns // 10 ** 9 & 0xFFFFFFFF).to_bytes(4, 'little'),
                     (size & 0xFFFFFFFF).to_bytes(4, 'little'), marshal.dumps(code)))


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


_HADOOP_RUNNER = []
#: ``hadoop version`` of each ``hadoop`` command line, asked once per process
_HADOOP_VERSIONS = {}


def hadoop_runner_class():
    """The ``-r hadoop`` runner class (see the module docstring's "The hadoop runner")."""
    if _HADOOP_RUNNER:
        return _HADOOP_RUNNER[0]
    import_runners()
    cache_conf_reads()
    import posixpath
    from mrjob.hadoop import HadoopJobRunner
    from mrjob.parse import is_uri

    class FewerClientsHadoopRunner(HadoopJobRunner):
        """``-r hadoop`` with fewer ``hadoop`` client JVMs per job (same HDFS layout)."""

        def get_hadoop_version(self):
            key = tuple(self.get_hadoop_bin())
            if key in _HADOOP_VERSIONS:
                # what HadoopFilesystem caches per runner, kept for the process
                self.fs.hadoop._hadoop_version = _HADOOP_VERSIONS[key]
            else:
                _HADOOP_VERSIONS[key] = super().get_hadoop_version()
            return _HADOOP_VERSIONS[key]

        def _copy_files_to_wd_mirror(self):
            wd_mirror = self._wd_mirror()
            if not wd_mirror or not is_uri(wd_mirror):
                return super()._copy_files_to_wd_mirror()
            sources = []
            for kind in ('file', 'archive_file'):
                for name, path in sorted(self._working_dir_mgr.name_to_path(kind).items()):
                    dest = self._dest_in_wd_mirror(path, name)
                    if dest is None:
                        continue
                    if (is_uri(path) or os.path.basename(path) != name
                            or dest != posixpath.join(wd_mirror, name)):
                        return super()._copy_files_to_wd_mirror()
                    sources.append(path)
            self.fs.mkdir(wd_mirror)
            if sources:
                # one `hadoop fs -put A B C DIR` (names are unique in a working dir)
                self.fs.hadoop.invoke_hadoop(['fs', '-put'] + sources + [wd_mirror])

        def _upload_local_files(self):
            if self._upload_mgr and not self._upload_mgr.path_to_uri():
                # nothing to upload but the working dir, whose `mkdir -p` makes the prefix
                self._copy_files_to_wd_mirror()
                if self._wd_mirror():
                    return
            super()._upload_local_files()

        def cat_output(self):
            output_dir = self.get_output_dir()
            if (self._closed is True or output_dir is None
                    or not output_dir.startswith('hdfs://')):
                return super().cat_output()
            # Hadoop's own glob skips _SUCCESS; part files end with a newline, so their
            # concatenation is the same lines as mrjob's one `-cat` per part
            return self.fs.hadoop._cat_file(posixpath.join(output_dir, 'part-*'))

        def _run_hadoop(self, hadoop_args, env, record_callback):
            # Replaces: nothing; mrjob leaves a job it submitted running when its client is
            # interrupted (its _cleanup_job is disabled, mrjob #1241). A step interrupted
            # (SIGTERM, Ctrl-C) after YARN took it is killed, so that no application runs
            # on, reading an input and writing a tmp dir that are being removed. The
            # application id comes from the client's log records, which mrjob 0.7.4 hands to
            # its module's _log_record_from_hadoop (it ignores ``record_callback``): tapped
            # for the step, put back after.
            import mrjob.hadoop
            from mrjob.logs.step import _SUBMITTED_APPLICATION_RE  # the id mrjob parses
            submitted, log_record = [], mrjob.hadoop._log_record_from_hadoop

            def tap(record):
                m = _SUBMITTED_APPLICATION_RE.match(record.get('message') or '')
                if m:
                    submitted.append(m.group('application_id'))
                log_record(record)

            mrjob.hadoop._log_record_from_hadoop = tap
            try:
                return super()._run_hadoop(hadoop_args, env, record_callback)
            except BaseException:
                with deferred():
                    for app in submitted:
                        _kill_application(self.get_hadoop_bin(), app, env)
                raise
            finally:
                mrjob.hadoop._log_record_from_hadoop = log_record

        def cleanup(self, mode=None):
            with deferred():  # the HDFS and local tmp dirs go whole
                super().cleanup(mode)

    _HADOOP_RUNNER.append(FewerClientsHadoopRunner)
    return FewerClientsHadoopRunner


def _kill_application(hadoop_bin, app, env, timeout=120):
    """``yarn application -kill APP`` (Hadoop's ApplicationCLI, run by the ``hadoop``
    command as any main class); says what it did on stderr."""
    args = list(hadoop_bin) + ['org.apache.hadoop.yarn.client.cli.ApplicationCLI',
                               'application', '-kill', app]
    try:
        done = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)
        lines = done.stdout.decode('utf-8', 'replace').strip().splitlines()
        why = None if done.returncode == 0 else (lines[-1] if lines
                                                 else 'exit %d' % done.returncode)
    except (OSError, subprocess.TimeoutExpired) as e:
        why = str(e)
    if why is None:
        print('distreg: killed YARN application %s (its step was interrupted)' % app,
              file=sys.stderr)
    else:
        print('distreg: warning: could not kill YARN application %s (%s); kill it with '
              '`yarn application -kill %s`' % (app, why, app), file=sys.stderr)


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


# --------------------------------------------------------------------------- YARN

def yarn_application_ids(runner):
    """The YARN application ids of a finished runner's steps, in order.

    Reads: mrjob's hadoop runner's private ``_log_interpretations`` (one per step), where it
    keeps the ``application_id`` it parsed from ``hadoop jar``'s "Submitted application ..."
    line; mrjob has no public accessor. Runners without YARN (inline, local) have none.
    """
    return [i['step']['application_id'] for i in getattr(runner, '_log_interpretations', ())
            if (i.get('step') or {}).get('application_id')]


#: Every private name of mrjob used or overridden here, by class (or module) name:
#: tests/test_mrjob_compat.py checks that mrjob still has each, with the signature the
#: override was written against.
OVERRIDES = {
    'mrjob.conf': ('_conf_object_at_path',),
    'MRJob': ('_runner_class', 'run_mapper', 'pick_protocols', 'load_args'),
    'HadoopJobRunner': ('get_hadoop_version', '_copy_files_to_wd_mirror', '_upload_local_files',
                        'cat_output', 'get_hadoop_bin', '_wd_mirror', '_dest_in_wd_mirror',
                        'get_output_dir', '_run_hadoop'),
    'HadoopFilesystem': ('invoke_hadoop', '_cat_file', 'get_hadoop_version'),
    'LocalMRJobRunner': ('_num_mappers', '_pick_mapper_split_size', '_split_mapper_input',
                         '_env_for_task', '_run_mapper_and_combiner_func', '_jobconf_for_step',
                         '_num_cores', '_uses_input_manifest', '_yield_split_fileobjs',
                         '_get_step', '_task_dir', '_run_task_func', '_sort_input_func',
                         '_task_output_path', '_task_input_path', '_invoke_task_func',
                         '_run_multiple', '_get_local_tmp_dir', '_substep_args', '_num_steps',
                         '_run_streaming_step', '_step_dir', '_simulate_jobconf_for_step',
                         '_create_dir_archive', '_dir_archive_path', 'run'),
}
