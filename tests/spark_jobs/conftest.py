"""Fixtures of the Spark tests: one local[2] SparkSession for the whole run, shared data."""

import numpy as np
import pytest

from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.numpy_engine import NumpyEngine
from spark_jobs.engine import SparkEngine
from spark_jobs.session import get_session


@pytest.fixture(scope='session')
def spark():
    session = get_session('distreg-tests', 'local[2]')
    yield session
    session.stop()


@pytest.fixture(scope='session')
def linear_csv(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('spark') / 'linear.csv')
    generate(4000, 5, path, model='linear', seed=21)
    return path


@pytest.fixture(scope='session')
def logistic_csv(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('spark') / 'logistic.csv')
    generate(4000, 5, path, model='logistic', seed=22)
    return path


def rel_diff(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def spark_fit(spark, path, engine='spark-rdd', reader='auto', **options):
    return fit(SparkEngine(path, engine, spark=spark, reader=reader), FitOptions(**options))


def numpy_fit(path, **options):
    return fit(NumpyEngine(path), FitOptions(**options))
