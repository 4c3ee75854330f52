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


@pytest.fixture(autouse=True)
def no_cache_left_behind(request):
    """A test on the shared session leaves no cached RDD or DataFrame behind: an engine
    (or a distreg function) that kept one would hold the session's memory for every test
    after it. The test's own engines are closed by the test."""
    yield
    if 'spark' not in request.fixturenames:
        return
    sc = request.getfixturevalue('spark').sparkContext
    left = sc._jsc.getPersistentRDDs()
    if left.size():
        names = [str(rdd) for rdd in left.values()]
        for rdd in left.values():
            rdd.unpersist(False)
        pytest.fail('the test left %d cached RDD(s) in the shared session: %s'
                    % (len(names), '; '.join(names)))
