"""One warm interpreter per step of a local job, which forks the step's tasks.

mrjob's local runner starts every task (mapper, combiner, reducer) as ``python
job.py --step-num=N --mapper ...``: a fresh interpreter that imports numpy, mrjob
and distreg again before the task reads a byte. A job's map tasks start
together and its reducer after them, so that cost is paid twice per job, by
every pass of an iterative fit; on a small input it is most of the job.

Here the runner starts this server once per step, with the environment of the
step's tasks, as the job starts (while the runner makes its archives and its
distributed cache, the server imports numpy, mrjob and pyarrow); it then imports the job
script from the step's distributed cache directory (where the script and the
shipped ``distreg`` and ``jobs`` archives are, the ``sys.path[0]`` of a task)
once. Each task is then a ``fork()`` of
it that takes the task's stdin, stdout and stderr files (passed as file
descriptors), working directory, environment and command line, and runs the
job script as ``__main__`` there, exactly as ``python job.py ...`` would
(mrjob's own task code: ``MRJob.run()``). A task is still a process of its own,
with its own exit status; what the step's tasks share is the imports, as the
tasks of one Hadoop 1 job shared a JVM with ``mapred.job.reuse.jvm.num.tasks``.
Every job starts its own server: a MapReduce job still launches its workers
anew, which is the cost the thesis measures (``make thesis``, where
``mrjob-local-fresh`` is the same fit with a fresh interpreter per task, and
``make bench``'s ``DISTREG_TASK_SERVER=0`` contender: docs/thesis.md and
docs/bench.md have the numbers; docs/task-server.md tells the story).

Protocol (Unix ``SOCK_SEQPACKET`` sockets, JSON, no pickle): the runner sends
``{"script"}`` (the server answers ``ready`` once it is imported), then for each task
``{"args", "cwd", "env"}`` with four descriptors (a socket of the task's own,
stdin, stdout, stderr) on the control socket; the server answers on the task's
socket with ``{"pid"}`` and, when the task ends, ``{"status"}`` (a returncode as
``subprocess`` gives it); ``T`` or ``K`` sent on the task's socket terminate or
kill the task. When the control socket closes (the runner ended, or died), the
server kills the tasks still running and exits; a server killed outright takes its
tasks with it (``PR_SET_PDEATHSIG``).
"""

import io
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import traceback

#: What the server writes on the control socket once the job script is imported.
READY = b'ready'

_PR_SET_PDEATHSIG = 1
_PRCTL = None


def _load_prctl():
    global _PRCTL
    try:
        import ctypes
        _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        _PRCTL = None


def warm_up():
    """What every distreg task imports, before the step's job script is known.

    mrjob.conf imports PyYAML when it can, to read mrjob.conf files, which a task
    never does (the runner read them): hidden from the tasks' imports, so
    mrjob takes its JSON fallback, which no task reaches.
    """
    sys.modules.setdefault('yaml', None)
    for name in ('numpy', 'mrjob.job', 'pyarrow', 'pyarrow.csv', 'pyarrow.compute',
                 'pyarrow.parquet'):
        # pyarrow: the loader's CSV parser and distreg.parquet's reader, else imported at each
        # map task's first chunk or row group, inside its map time
        try:
            __import__(name)
        except ImportError:
            pass  # the job script's own imports say what is missing


def serve(control_fd):
    """The server's main loop (in the process the runner started)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides what a Ctrl-C stops
    _load_prctl()
    control = socket.socket(fileno=control_fd)
    sys.path.pop(0)  # this file's directory: the project's jobs/, not the shipped one
    warm_up()
    # then the step's job script, in its distributed cache directory
    msg = control.recv(1 << 16)
    if not msg:
        return
    script = json.loads(msg)['script']
    os.chdir(os.path.dirname(script))
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name='__distreg_preload__')
    sys.stdout.flush()
    sys.stderr.flush()
    control.send(READY)
    sel = selectors.DefaultSelector()
    sel.register(control, selectors.EVENT_READ, ('control', None))
    tasks = {}  # pid -> (pidfd, task socket)
    try:
        while True:
            for key, _ in sel.select():
                kind, data = key.data
                if kind == 'control':
                    msg, fds, _, _ = socket.recv_fds(control, 1 << 20, 4)
                    if not msg:
                        return
                    pid, pidfd, conn = _start(msg, fds, control, sel, tasks)
                    tasks[pid] = (pidfd, conn)
                    sel.register(pidfd, selectors.EVENT_READ, ('exit', pid))
                    sel.register(conn, selectors.EVENT_READ, ('signal', pid))
                elif kind == 'signal':
                    pidfd, conn = tasks[data]
                    what = conn.recv(16)
                    if not what:  # the runner let go of this task: it is not wanted
                        sel.unregister(conn)
                    try:
                        signal.pidfd_send_signal(pidfd, signal.SIGTERM if what[:1] == b'T'
                                                 else signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                else:
                    pidfd, conn = tasks.pop(data)
                    _, status = os.waitpid(data, 0)
                    sel.unregister(pidfd)
                    os.close(pidfd)
                    try:
                        sel.unregister(conn)
                    except KeyError:
                        pass
                    try:
                        conn.send(json.dumps(
                            {'status': os.waitstatus_to_exitcode(status)}).encode())
                    except OSError:
                        pass
                    conn.close()
    finally:
        for pid, (pidfd, _) in tasks.items():
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)


def _start(msg, fds, control, sel, tasks):
    """Fork one task; returns (pid, pidfd, its socket). The child never returns."""
    request = json.loads(msg)
    conn_fd, stdin, stdout, stderr = fds
    conn = socket.socket(fileno=conn_fd)
    sys.stdout.flush()
    sys.stderr.flush()
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            # a task whose server is gone (killed) is killed too, not left running on
            if _PRCTL is not None:
                _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != server:
                os._exit(70)
            os.dup2(stdin, 0)
            os.dup2(stdout, 1)
            os.dup2(stderr, 2)
            keep = {0, 1, 2}
            for fd in [control.fileno(), sel.fileno(), conn_fd, stdin, stdout, stderr] + [
                    f for pidfd, c in tasks.values() for f in (pidfd, c.fileno())]:
                if fd not in keep:
                    os.close(fd)
        except BaseException:
            os._exit(70)
        _run_task(request)  # never returns
    for fd in (stdin, stdout, stderr):
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    conn.send(json.dumps({'pid': pid}).encode())
    return pid, pidfd, conn


def _run_task(request):
    """In the forked child: become ``python SCRIPT ARGS...`` in the task's directory."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        encoding, errors = sys.stdout.encoding, sys.stdout.errors
        sys.stdin = sys.__stdin__ = open(0, 'r', encoding=encoding, closefd=False)
        sys.stdout = sys.__stdout__ = open(1, 'w', encoding=encoding, errors=errors,
                                           closefd=False)
        sys.stderr = sys.__stderr__ = io.TextIOWrapper(
            open(2, 'wb', buffering=0, closefd=False), encoding=encoding,
            errors='backslashreplace', line_buffering=True)
        os.chdir(request['cwd'])
        os.environ.clear()
        os.environ.update(request['env'])
        script = request['args'][1]
        sys.argv = list(request['args'][1:])
        # as `python SCRIPT`: the script's directory, symlinks resolved, leads sys.path
        sys.path[0] = os.path.dirname(os.path.realpath(script))
        try:
            runpy.run_path(script, run_name='__main__')
            code = 0
        except SystemExit as e:
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            traceback.print_exc()
            code = 128 + signal.SIGINT
        except BaseException:
            traceback.print_exc()
            code = 1
        import logging
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
    finally:
        os._exit(code & 0xff)


if __name__ == '__main__':
    serve(int(sys.argv[1]))
    os._exit(0)  # nothing to tear down: its tasks are reaped, its output is theirs
