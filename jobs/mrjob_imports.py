"""How distreg imports mrjob 0.7.4 (one concern of the overrides of its internals; docs/mrjob.md):
without setuptools' distutils shim, without pyspark, and its conf file parsed once while it is
unchanged. Imported first by every module that imports mrjob (jobs/mrjob_compat.py).
"""

import os
import sys
import warnings

#: Set by the local runner for a map task that reads its split of the input in place.
IN_PLACE_ENV = 'DISTREG_SPLIT_IN_PLACE'


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


prefer_stdlib_distutils()  # before mrjob's first import


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
