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

Code that catches everything can swallow the raised SIGTERM: mrjob 0.7.4's runner set-up has
bare ``except:`` clauses (``conf.combine_lists`` then appended a list where a path belongs:
a ``TypeError`` traceback and exit 1; ``runner._default_opts`` went on without an owner: the
fit went on, and later SIGTERMs were ignored, measured about 1 time in 300 terminations).
So a SIGTERM, once raised, stays raised: :func:`check` raises it again, and the engines call
it at each job's start and end, :func:`distreg.result.write_atomic` before writing, and the
command line before it reports an error or success.

A clean-up in a ``finally`` (or an ``ExitStack``) can still be skipped by a SIGTERM raised in
the instant before its deferred block starts (measured: ``ExitStack.__exit__`` pops a callback,
the SIGTERM lands before the call, its bare ``except:`` records it and goes on to the next
callback: a mrjob runner's whole scratch directory left behind, about 1 time in 300). So a
clean-up is also registered (:func:`register`) as the thing it removes is made, run and
unregistered at once by :func:`done`, and the command line runs whatever is still registered
when it ends (:func:`run_registered`): by then the one SIGTERM that is raised has been.
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


def check():
    """Raise :class:`Interrupted` again if a SIGTERM was raised in this process before (and
    something caught it: see the module's docstring)."""
    if raised():
        raise Interrupted()


def raised():
    """True once a SIGTERM has been raised in this process (caught since or not)."""
    return _STATE['raised'] and _STATE['pid'] == os.getpid()


#: clean-ups registered and not run yet: {key: (function, args)}
_CLEANUPS = {}


def register(function, *args):
    """Have ``function(*args)`` run by :func:`done` (or, if a SIGTERM kept that from
    running, by :func:`run_registered` at the command's end); returns the key for
    :func:`done`. Call it inside the :func:`deferred` block that makes the thing."""
    key = object()
    _CLEANUPS[key] = (function, args)
    return key


def done(key):
    """Run the clean-up registered under ``key`` now, whole (a SIGTERM waits), once; a key of
    None (nothing was registered) does nothing."""
    with deferred():
        item = _CLEANUPS.get(key)
        if item is not None:
            try:
                item[0](*item[1])
            finally:
                del _CLEANUPS[key]


def run_registered():
    """Run every clean-up still registered (most recent first), whatever each raises."""
    with deferred():
        while _CLEANUPS:
            key = next(reversed(_CLEANUPS))
            function, args = _CLEANUPS.pop(key)
            try:
                function(*args)
            except Exception:  # noqa: BLE001 (each clean-up is best effort here)
                pass
