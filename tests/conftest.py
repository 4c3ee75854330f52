"""Shared fixtures (the helpers they use are in helpers.py)."""

import pytest

from helpers import lstsq, make_linear, write_csv
from spark_jobs.session import get_session


@pytest.fixture(scope='session')
def spark():
    """One local[2] SparkSession for the whole run (engines started by the CLI join it)."""
    session = get_session('distreg-tests', 'local[2]')
    yield session
    session.stop()


@pytest.fixture(scope='session')
def data_20k(tmp_path_factory):
    """20k x 8 rows, with its numpy lstsq reference (the agreement target)."""
    y, X = make_linear(20_000, 8, seed=42)
    path = write_csv(tmp_path_factory.mktemp('data') / 'd20k.csv', y, X)
    return path, lstsq(y, X)
