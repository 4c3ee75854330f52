"""Fixtures of the Spark tests: shared data (the local[2] session ``spark`` is in tests/conftest.py)."""

import pytest

from distreg.generate import generate


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
