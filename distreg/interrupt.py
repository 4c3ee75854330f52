"""SIGTERM as an exception, raised only where it cannot break a clean-up.

``distreg`` turns SIGTERM into :class:`Interrupted` so that a terminated fit unwinds like
Ctrl-C: the engines' ``close()`` and mrjob's runners remove their scratch, and ``--out`` is
written whole or not at all. An exception raised by a signal handler lands on whatever line
the main thread is running, so the code that starts or stops processes, and the clean-ups
themselves, run under :func:`deferred`: a SIGTERM that arrives there waits until the block is
done. (Measured: raised inside ``multiprocessing.Pool()``'s constructor, it left two pool
workers forked after the exit's clean-up, holding the caller's stdout and stderr open for
ever; a scratch directory was also left behind 1 time in 40, most likely by one raised inside
a clean-up's ``rmtree`` (not caught in a stack); raised inside a py4j call, it left that call's answer unread on the thread's connection, and
the clean-up's next Spark call read it: ``KeyError: 'c'`` and a traceback.) The Spark engines
run each Spark action under :func:`deferred` with a callback that cancels the running jobs,
so a terminated pass ends at once, between two py4j calls.

Only the first SIGTERM is raised; later ones are ignored while the clean-up runs (SIGKILL
still ends the process at once).
"""

import os
import signal
from contextlib import contextmanager


class Interrupted(BaseException):
    """SIGTERM, raised where the fit is so that its clean-up (``finally``) runs."""


_STATE = {'pid': None, 'depth': 0, 'pending': False, 'raised': False, 'on_signal': []}


def _on_sigterm(signum, frame):
    if os.getpid() != _STATE['pid']:
        # a process forked from distreg's (not one it started with exec): die as by default
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if _STATE['raised']:
        return
    if _STATE['depth']:
        if not _STATE['pending']:
            _STATE['pending'] = True
            for callback in list(_STATE['on_signal']):
                try:
                    callback()
                except Exception:  # noqa: BLE001 (a hurry-up only: the block ends anyway)
                    pass
        return
    _STATE['raised'] = True
    raise Interrupted()


def install():
    """Raise :class:`Interrupted` on SIGTERM in this process; returns the previous handler."""
    _STATE.update(pid=os.getpid(), depth=0, pending=False, raised=False, on_signal=[])
    return signal.signal(signal.SIGTERM, _on_sigterm)


def uninstall(previous):
    signal.signal(signal.SIGTERM, previous)
    _STATE.update(pid=None, depth=0, pending=False, raised=False, on_signal=[])


@contextmanager
def deferred(on_signal=None):
    """A SIGTERM that arrives inside the block is raised when the block is done.

    ``on_signal``: called (in the signal handler, so it must only start something, e.g. a
    thread) when a SIGTERM arrives inside the block, to make the block end sooner: the
    Spark engines cancel their running jobs.
    """
    _STATE['depth'] += 1
    if on_signal is not None:
        _STATE['on_signal'].append(on_signal)
    try:
        yield
    finally:
        if on_signal is not None:
            _STATE['on_signal'].remove(on_signal)
        _STATE['depth'] -= 1
        if not _STATE['depth'] and _STATE['pending'] and not _STATE['raised']:
            _STATE['pending'] = False
            _STATE['raised'] = True
            raise Interrupted()
