"""Helpers of the Spark tests."""

from helpers import rel_diff  # noqa: F401  (re-exported for the Spark tests)

from distreg.fit import FitOptions, fit
from distreg.numpy_engine import NumpyEngine
from distreg.engine import make_engine


def spark_fit(spark, path, engine='spark-rdd', reader='auto', **options):
    engine = make_engine(engine, path, spark=spark, reader=reader)
    try:
        return fit(engine, FitOptions(**options))
    finally:
        engine.close()  # the cache and its block files; the shared session stays


def numpy_fit(path, **options):
    return fit(NumpyEngine(path), FitOptions(**options))
