"""SIGTERM and Ctrl-C at awkward moments: distreg/interrupt.py and the local runner's tasks.

Found by CI: a SIGTERM that arrived while mrjob's local runner was making its
``multiprocessing.Pool`` left two pool workers behind, holding the caller's stdout and
stderr open (the test waiting for the process hung for 120 s); one that arrived inside a
clean-up's ``rmtree`` left the job's scratch directory behind.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from helpers import ROOT, make_linear
from distreg import cli, interrupt, result
from jobs.mrjob_local import _run_in_threads, _TaskProcesses


@pytest.fixture
def installed():
    previous = interrupt.install()
    yield
    interrupt.uninstall(previous)


def test_sigterm_raises_interrupted(installed):
    with pytest.raises(interrupt.Interrupted):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler runs before this returns


def test_sigterm_waits_for_the_end_of_a_deferred_block(installed):
    done = []
    with pytest.raises(interrupt.Interrupted):
        with interrupt.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            with interrupt.deferred():  # nested: raised only when the outer block ends
                time.sleep(0.1)
            done.append('block')
        done.append('after')  # not reached
    assert done == ['block']


def test_only_the_first_sigterm_is_raised(installed):
    with pytest.raises(interrupt.Interrupted):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    # the clean-up after the first one is not interrupted by a second
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)


def _swallow_a_sigterm():
    """What code that catches everything does (mrjob 0.7.4's runner set-up has such)."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    except:  # noqa: E722 (the point of the test)
        pass


def test_a_swallowed_sigterm_is_raised_again_and_nothing_is_written(installed, tmp_path):
    assert not interrupt.raised()
    interrupt.check()  # nothing raised yet: nothing to do
    _swallow_a_sigterm()
    assert interrupt.raised()
    with pytest.raises(interrupt.Interrupted):
        interrupt.check()
    with pytest.raises(interrupt.Interrupted):
        result.write_atomic(str(tmp_path / 'r.json'), '{}')
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('then', ['fails', 'succeeds'])
def test_a_command_that_swallowed_a_sigterm_ends_terminated(monkeypatch, capsys, then):
    """Exit 143 and 'terminated', whether the swallower then failed (mrjob's combine_lists:
    a TypeError traceback) or went on to the end (a whole-looking result)."""
    def command(args):
        _swallow_a_sigterm()
        if then == 'fails':
            raise TypeError('expected str, bytes or os.PathLike object, not list')
        return 0
    monkeypatch.setattr(cli, 'cmd_merge', command)
    assert cli.main(['merge', 'a.json', 'b.json', '--out', 'r.json']) == 143
    err = capsys.readouterr().err
    assert 'distreg: terminated' in err and 'Traceback' not in err and 'TypeError' not in err


def test_a_registered_clean_up_runs_once():
    calls = []
    key = interrupt.register(calls.append, 'a')
    interrupt.done(key)
    interrupt.done(key)
    interrupt.done(None)  # nothing registered
    interrupt.run_registered()
    assert calls == ['a']


def test_a_clean_up_a_sigterm_skipped_runs_at_the_commands_end(monkeypatch, tmp_path):
    """A SIGTERM raised before a finally's clean-up starts (ExitStack's case): the command
    line's end runs it."""
    made = tmp_path / 'scratch'

    def command(args):
        with interrupt.deferred():
            made.mkdir()
            key = interrupt.register(shutil.rmtree, str(made))
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # raised here
        interrupt.done(key)  # not reached
    monkeypatch.setattr(cli, 'cmd_merge', command)
    assert cli.main(['merge', 'a.json', 'b.json', '--out', 'r.json']) == 143
    assert not made.exists()


def test_a_sigterm_in_the_runner_set_up_waits_for_it(monkeypatch, tmp_path, capsys):
    """The measured case: a SIGTERM while mrjob made the runner, inside a bare ``except:``
    (runner._default_opts around getpass.getuser) went unseen and the fit went on to write
    its record, exit 0. Now exit 143, nothing written, no scratch left (the runner's set-up
    is deferred; a SIGTERM swallowed anyway is raised again at the job's end)."""
    import getpass
    import tempfile
    y, X = make_linear(200, 2, seed=4)
    data = tmp_path / 'd.csv'
    np.savetxt(data, np.column_stack([y, X]), delimiter=',', header='y,a,b', comments='')
    scratch = tmp_path / 'scratch'
    scratch.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(scratch))

    def getuser():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
        return 'someone'
    monkeypatch.setattr(getpass, 'getuser', getuser)
    out = tmp_path / 'r.json'
    code = cli.main(['fit', str(data), '--engine', 'mrjob-inline', '--method', 'normal',
                     '--out', str(out)])
    assert code == 143, capsys.readouterr().err
    assert not out.exists() and os.listdir(scratch) == []


def test_deferred_without_a_handler_does_nothing():
    with interrupt.deferred():
        pass


def _sleeper(tasks, seconds, out):
    """A task function as the runner makes them: a real subprocess that sleeps."""
    def run():
        with open(os.devnull, 'rb') as stdin, open(os.devnull, 'wb') as null:
            tasks.invoke('mapper', 0, len(out), [sys.executable, '-c',
                                                 'import time; time.sleep(%r)' % seconds],
                         1, stdin, null, null, str(ROOT), dict(os.environ))
        out.append('done')
    return run


@pytest.fixture
def ctrl_c():
    """SIGUSR2 raises KeyboardInterrupt in the main thread, as Ctrl-C does (a real SIGINT
    would also reach pytest's own handler)."""
    def raise_it(signum, frame):
        raise KeyboardInterrupt()
    previous = signal.signal(signal.SIGUSR2, raise_it)
    yield signal.SIGUSR2
    signal.signal(signal.SIGUSR2, previous)


def test_an_interrupted_phase_stops_its_tasks_before_going_on(ctrl_c):
    """Ctrl-C while four 60 s tasks run two at a time: both running are terminated, the
    other two never start, and the exception goes on within seconds."""
    tasks, out = _TaskProcesses(), []
    funcs = [_sleeper(tasks, 60, out) for _ in range(4)]
    main = threading.get_ident()
    started = []

    def interrupt_soon():
        while len(tasks._running) < 2:
            time.sleep(0.01)
        started.extend(p.pid for p in tasks._running)
        signal.pthread_kill(main, ctrl_c)

    threading.Thread(target=interrupt_soon, daemon=True).start()
    t0 = time.time()
    with pytest.raises(KeyboardInterrupt):
        _run_in_threads(funcs, 2, tasks)
    assert time.time() - t0 < 20
    assert len(started) == 2 and not tasks._running and out == []
    for pid in started:  # reaped: no such process
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_a_failing_task_stops_the_others_and_is_raised():
    from mrjob.local import _TaskFailedException
    tasks, out = _TaskProcesses(), []

    def fail():
        with open(os.devnull, 'rb') as stdin, open(os.devnull, 'wb') as null:
            tasks.invoke('reducer', 0, 1, [sys.executable, '-c', 'raise SystemExit(3)'],
                         1, stdin, null, null, str(ROOT), dict(os.environ))

    t0 = time.time()
    with pytest.raises(_TaskFailedException) as e:
        _run_in_threads([_sleeper(tasks, 60, out), fail], 2, tasks)
    assert time.time() - t0 < 20 and out == []
    assert e.value.task_type == 'reducer' and e.value.task_num == 1
    assert 'exit status 3' in e.value.reason


def test_sigterm_at_many_moments_of_a_mrjob_local_fit(tmp_path):
    """A real subprocess fit terminated at 6 moments (making the tasks, running them,
    cleaning up): each exits 143 at once, no --out, nothing left in its scratch directory.
    (Was test_wrong_answers.py's one SIGTERM at 1 s, the test that hung in CI.)"""
    from test_wrong_answers import write_rows
    y, X = make_linear(20000, 4, seed=9)
    data = write_rows(tmp_path / 'd.csv', ['y', 'a', 'b', 'c', 'd'], [y, *X.T], range(len(y)))
    for k, delay in enumerate((0.0, 0.15, 0.3, 0.45, 0.7, 1.1)):
        scratch = tmp_path / ('tmp%d' % k)
        scratch.mkdir()
        out = tmp_path / ('out%d' % k) / 'r.json'
        proc = subprocess.Popen(
            [sys.executable, '-m', 'distreg.cli', 'fit', data, '--engine', 'mrjob-local',
             '--method', 'gd', '--tol', '1e-300', '--max-iter', '1000000', '--out', str(out)],
            cwd=str(ROOT), env=dict(os.environ, TMPDIR=str(scratch)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # listed once per look: between two of the fit's jobs the scratch is empty for a
        # moment, so a second listing may not see what the first saw
        deadline, seen = time.time() + 120, []
        while time.time() < deadline and not seen and proc.poll() is None:
            seen = os.listdir(scratch)
            if not seen:
                time.sleep(0.02)
        assert seen, ('the fit never started', proc.poll(), proc.poll() is not None
                      and proc.communicate()[1][-2000:])
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError('delay %.2f s: still running (or its stdout held open) '
                                 '60 s after SIGTERM' % delay)
        assert proc.returncode == 143, (delay, err)
        assert 'distreg: terminated' in err and 'Traceback' not in err, (delay, err)
        # no record, no temporary record beside it, no scratch
        assert not out.parent.exists() or os.listdir(out.parent) == [], (delay, err)
        assert os.listdir(scratch) == [], (delay, os.listdir(scratch))


def test_a_sigterm_in_a_deferred_block_calls_its_hurry_up_once(installed):
    """deferred(on_signal=...): what the Spark engines use to cancel their running jobs."""
    calls = []
    with pytest.raises(interrupt.Interrupted):
        with interrupt.deferred(on_signal=lambda: calls.append('cancel')):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGTERM)  # a second one: no second call
            time.sleep(0.2)
            assert calls == ['cancel']
    with interrupt.deferred(on_signal=lambda: calls.append('later')):
        pass  # no signal, no call; and the callback is gone after its block
    assert calls == ['cancel'] and interrupt._STATE['on_signal'] == []
