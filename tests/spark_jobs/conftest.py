"""Fixtures of the Spark tests: one local[2] SparkSession for the whole run, shared data."""

import pytest

from distreg.generate import generate
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
