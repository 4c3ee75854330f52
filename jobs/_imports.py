"""Import mrjob 0.7.4 without two imports that cost the launcher time and do nothing here.

- mrjob imports ``distutils``. In a virtualenv, setuptools' ``.pth`` hook answers that
  import with setuptools' own copy, which imports most of setuptools (~0.1 s). Python 3.11
  still ships ``distutils``: :func:`prefer_stdlib_distutils` imports that one. (Tasks get
  ``SETUPTOOLS_USE_DISTUTILS=stdlib`` from the conf's cmdenv, which the hook reads at start.)
- ``mrjob.bin``, imported by every runner, imports ``pyspark`` when it can (~0.12 s), for
  mrjob's Spark steps and runner, which distreg does not use (its Spark engines are its
  own): :func:`import_runners` imports it with pyspark hidden, and un-hides it after, so a
  later ``import pyspark`` in the same process works as usual.
"""

import sys
import warnings


def prefer_stdlib_distutils():
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


def import_runners():
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
