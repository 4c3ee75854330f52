"""Shared fixtures (the helpers they use are in helpers.py)."""

import atexit
import os
import shutil
import tempfile

import pytest
# scikit-learn (the metrics' reference) sets KMP_DUPLICATE_LIB_OK / KMP_INIT_AT_FORK in
# os.environ when first imported: import it now, not inside the first test that uses it
import sklearn  # noqa: F401

from helpers import lstsq, make_linear, write_csv
from spark_jobs.session import get_session

#: the tests' own cache of mrjob-local's ``dirs`` archives (jobs/mrjob_archives.py), not the
#: user's: made once per test process, removed at its end
if 'DISTREG_CACHE_DIR' not in os.environ:
    os.environ['DISTREG_CACHE_DIR'] = tempfile.mkdtemp(prefix='distreg-test-cache-')
    atexit.register(shutil.rmtree, os.environ['DISTREG_CACHE_DIR'], ignore_errors=True)


#: The tests/hadoop modules of the session MiniCluster that run Spark on YARN (and the
#: iterative MapReduce jobs, to even the two units out): one unit, the other modules another.
_SPARK_ON_YARN = ('tests/hadoop/test_yarn_and_scoring.py',
                  'tests/hadoop/test_mrjob_hadoop_iterative.py',
                  'tests/hadoop/test_pyspark_hdfs.py', 'tests/hadoop/test_spark_engines_hdfs.py')


def _xdist_scope(nodeid):
    """The unit of work a pytest-xdist worker takes whole (scheduler below). The tests of the
    session's MiniCluster (every tests/hadoop module but the fault tests, which start their
    own) are two units of about equal length, 'tests/hadoop:mapreduce' and
    'tests/hadoop:spark-yarn'; a worker starts one MiniCluster for the units it runs
    (tests/hadoop/conftest.py), so the two can run side by side. Every other module is a unit
    of its own (its module-scoped fixtures, a Spark standalone cluster among them, are made
    once)."""
    path = nodeid.split('::', 1)[0]
    if path in _SPARK_ON_YARN:
        return 'tests/hadoop:spark-yarn'
    if path.startswith('tests/hadoop/') and not path.endswith('/test_faults.py'):
        return 'tests/hadoop:mapreduce'
    return path


#: Under pytest-xdist the long units are handed out first, in this order (xdist keeps the
#: collection's order with --no-loadscope-reorder).
_FIRST = ('tests/hadoop:mapreduce', 'tests/hadoop:spark-yarn', 'tests/hadoop/test_faults.py',
          'tests/spark_jobs/test_spark_submit.py', 'tests/spark_jobs/test_faults_spark.py')


def _under_xdist(config):
    return bool(getattr(config.option, 'numprocesses', None)
                or os.environ.get('PYTEST_XDIST_WORKER'))


def pytest_xdist_make_scheduler(config, log):
    """xdist's load-by-scope scheduler with :func:`_xdist_scope` as the scope. (Its
    ``--dist loadgroup`` marks do not reach the scheduler with pytest 9: the group suffix
    it adds to ``item._nodeid`` is no longer part of ``item.nodeid``.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ClusterScopeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _xdist_scope(nodeid)

    return ClusterScopeScheduling(config, log)


def pytest_collection_modifyitems(session, config, items):
    """The tests on a YARN SparkSession (fixture ``yarn_session``) run first, whatever the
    order of the paths given: a process holds one SparkContext, and the local[2] session of
    the other Spark tests lives until the end of the run. Under pytest-xdist (``make test``
    runs two workers) the units of the real clusters come first (:data:`_FIRST`), the
    MiniCluster's (with the YARN session's tests) first of all."""
    items.sort(key=lambda item: 'yarn_session' not in getattr(item, 'fixturenames', ()))
    if _under_xdist(config):
        def rank(item):
            scope = _xdist_scope(item.nodeid)
            return _FIRST.index(scope) if scope in _FIRST else len(_FIRST)
        items.sort(key=rank)


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


# What spark_jobs.session.prepare_environment (defaults only: a value already set is kept)
# and pyspark's SparkContext add to a process that starts Spark. The first test to start
# Spark adds them, whichever it is; they steer nothing but Spark (loopback, this
# interpreter, configs/spark, the JDK, the Python workers' socket settings).
def _spark_default(name, value):
    import os
    import sys
    from spark_jobs.session import CONF_DIR
    expected = {'PYSPARK_PYTHON': sys.executable, 'SPARK_CONF_DIR': CONF_DIR,
                'SPARK_LOCAL_IP': '127.0.0.1'}
    if name == 'JAVA_HOME':
        return os.path.isfile(os.path.join(value, 'bin', 'java'))
    if name in ('SPARK_AUTH_SOCKET_TIMEOUT', 'SPARK_BUFFER_SIZE'):
        return True   # pyspark's SparkContext publishes these to its Python workers
    return expected.get(name) == value


@pytest.fixture(autouse=True)
def environment_is_restored():
    """Every test leaves ``os.environ`` as it found it (monkeypatch restores what a test or
    its fixtures set; the session-wide fixtures set nothing that outlives their tests), so
    that no test depends on the order the suite runs in. Fails the test that leaks."""
    import os
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    for env in (before, after):
        env.pop('PYTEST_CURRENT_TEST', None)   # pytest's own: names the phase it is in
    changed = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
               if before.get(k) != after.get(k)
               and not (k not in before and _spark_default(k, after[k]))}
    if changed:
        for k, (old, _) in changed.items():
            if old is None:
                del os.environ[k]
            else:
                os.environ[k] = old
        pytest.fail('the test changed os.environ and left it so: %s' % changed, pytrace=False)
