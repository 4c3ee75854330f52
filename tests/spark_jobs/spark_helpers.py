"""Helpers of the Spark tests."""

import numpy as np

from distreg.fit import FitOptions, fit
from distreg.numpy_engine import NumpyEngine
from distreg.engine import make_engine


def rel_diff(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def spark_fit(spark, path, engine='spark-rdd', reader='auto', **options):
    engine = make_engine(engine, path, spark=spark, reader=reader)
    try:
        return fit(engine, FitOptions(**options))
    finally:
        engine.close()  # the cache and its block files; the shared session stays


def numpy_fit(path, **options):
    return fit(NumpyEngine(path), FitOptions(**options))
