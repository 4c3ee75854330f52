"""SIGTERM as an exception, raised only where it cannot break a clean-up.

``distreg`` turns SIGTERM into :class:`Interrupted` so that a terminated fit unwinds like
Ctrl-C: the engines' ``close()`` and mrjob's runners remove their scratch, and ``--out`` is
written whole or not at all. An exception raised by a signal handler lands on whatever line
the main thread is running, so the code that starts or stops processes, and the clean-ups
themselves, run under :func:`deferred`: a SIGTERM that arrives there waits until the block is
done. (Measured: raised inside ``multiprocessing.Pool()``'s constructor, it left two pool
workers forked after the exit's clean-up, holding the caller's stdout and stderr open for
ever; raised inside a clean-up's ``rmtree``, it left the job's scratch directory behind.)

Only the first SIGTERM is raised; later ones are ignored while the clean-up runs (SIGKILL
still ends the process at once).
"""

import os
import signal
from contextlib import contextmanager


class Interrupted(BaseException):
    """SIGTERM, raised where the fit is so that its clean-up (``finally``) runs."""


_STATE = {'pid': None, 'depth': 0, 'pending': False, 'raised': False}


def _on_sigterm(signum, frame):
    if os.getpid() != _STATE['pid']:
        # a process forked from distreg's (not one it started with exec): die as by default
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    if _STATE['raised']:
        return
    if _STATE['depth']:
        _STATE['pending'] = True
        return
    _STATE['raised'] = True
    raise Interrupted()


def install():
    """Raise :class:`Interrupted` on SIGTERM in this process; returns the previous handler."""
    _STATE.update(pid=os.getpid(), depth=0, pending=False, raised=False)
    return signal.signal(signal.SIGTERM, _on_sigterm)


def uninstall(previous):
    signal.signal(signal.SIGTERM, previous)
    _STATE.update(pid=None, depth=0, pending=False, raised=False)


@contextmanager
def deferred():
    """A SIGTERM that arrives inside the block is raised when the block is done."""
    _STATE['depth'] += 1
    try:
        yield
    finally:
        _STATE['depth'] -= 1
        if not _STATE['depth'] and _STATE['pending'] and not _STATE['raised']:
            _STATE['pending'] = False
            _STATE['raised'] = True
            raise Interrupted()
