"""The engine contract and the engine table (DESIGN.md: "each engine is a thin adapter that
knows only how to run 'map block function, merge, collect' on its machinery").

This is the home of what an engine is. A new engine is a subclass of :class:`Engine`
in its own package and one line in :data:`ENGINES`; nothing else names engines.

Every engine is built the same way, ``cls(path, name, master=None, **own)``
(``own``: keyword-only settings of that engine, e.g. a Spark session for tests),
and has:

``name``
    the engine's name in the table ('numpy', 'mrjob-local', ...);
``prepare(options) -> Schema``
    read the first line, set up; may read and cache the data;
``aggregate(name, params) -> partial``
    the merged, decoded partial of aggregate ``name`` (:mod:`distreg.blocks`) over all
    the data, or None when the input has no block at all;
``rejects``
    the rejected rows seen (``--bad-rows skip``), each a bad-row dict;
``load_seconds``
    time spent in ``prepare`` (load + parse + cache);
``close()``
    release what the engine holds (cache, session, uploads); always safe to call (the
    command line runs it under :func:`distreg.interrupt.deferred`: a SIGTERM waits for it);
``predict(params, out) -> n`` and ``evaluate(params) -> (partial, AucRange or None)``
    use a fitted model (``distreg predict`` / ``evaluate``, see :mod:`distreg.scoring`):
    one line per input row to ``out``; the ``evaluate`` partial and the exact ROC AUC
    summary from the engine's own sort of the scores, in one pass.
``recovery``
    optional: a dict of counts of failures the engine's system recovered from during the
    fit, added to the record's ``timings`` (spark-rdd: ``failed_tasks``,
    ``recomputed_partitions``).

An engine that trains with a library of its own (MLlib) sets ``trains_itself`` and
provides ``solve(options, progress=None)`` instead of ``aggregate``: it returns what a driver
of :mod:`distreg.optim` returns (plus ``pass_seconds`` when it knows them), and says on
``progress`` (a stream, or None) when its library starts training. With categorical columns
its ``prepare`` runs the levels pass (:func:`distreg.fit.find_levels`) and keeps the levels in
``levels``: its library is handed the core's one-hot columns.

The core never imports an engine's module until it is asked for (so it never
imports pyspark or mrjob); an engine whose library is missing is reported with
the extra to install (``pip install 'distreg[spark]'``).
"""

import importlib

from distreg.errors import DistregError


class Engine:
    """Base class of every engine (see the module docstring for the contract)."""

    name = None
    #: True for an engine that trains with its own library (``solve``, no ``aggregate``).
    trains_itself = False
    #: rejected rows seen (bad_rows='skip'); engines assign their own list
    rejects = ()
    load_seconds = 0.0
    #: failures recovered from, added to the record's timings (None: nothing to say)
    recovery = None
    #: an engine that trains itself: the levels of the categorical columns it found
    levels = None

    def __init__(self, path, name=None, master=None):
        self.path = path
        if name is not None and name != self.name:
            self.name = name

    def prepare(self, options):
        raise NotImplementedError

    def aggregate(self, name, params):
        raise NotImplementedError('%s trains with its own library: it has no aggregate %r'
                                  % (self.name, name))

    def solve(self, options, progress=None):
        raise NotImplementedError('%s runs the core\'s methods: it has no solve()' % self.name)

    def predict(self, params, out):
        raise NotImplementedError('%s cannot predict' % self.name)

    def evaluate(self, params):
        raise NotImplementedError('%s cannot evaluate' % self.name)

    def close(self):
        """Release what the engine holds; the default holds nothing."""


#: engine name -> (module, class, the pip extra its library comes with). Imported only
#: when used, so the core never imports mrjob or pyspark.
ENGINES = {
    'numpy': ('distreg.numpy_engine', 'NumpyEngine', None),
    'mrjob-inline': ('jobs.engine', 'MRJobEngine', 'mrjob'),
    'mrjob-local': ('jobs.engine', 'MRJobEngine', 'mrjob'),
    'mrjob-hadoop': ('jobs.engine', 'MRJobEngine', 'mrjob'),
    'mrjob-emr': ('jobs.engine', 'MRJobEngine', 'mrjob'),
    'spark-rdd': ('spark_jobs.engine', 'RDDEngine', 'spark'),
    'spark-mllib': ('spark_jobs.mllib', 'MLlibEngine', 'spark'),
}


def engine_class(name):
    """The class of the engine called ``name``; a missing library names the extra to install."""
    if name not in ENGINES:
        raise DistregError('unknown engine %r; supported: %s' % (name, ', '.join(ENGINES)))
    module, cls, extra = ENGINES[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as e:
        hint = ("; install it with: pip install 'distreg[%s]'" % extra) if extra else ''
        raise DistregError('engine %s is not available: %s%s' % (name, e, hint))


def make_engine(name, path, master=None, **own):
    """Build the engine called ``name`` for input ``path``."""
    return engine_class(name)(path, name, master=master, **own)
