"""One Hadoop MiniCluster (HDFS + YARN) for the whole test session (one per pytest-xdist
worker that runs these tests: tests/conftest.py gives the MapReduce modules to one worker and
the Spark-on-YARN ones to the other, each with a cluster of its own).

Started on first use and stopped at the end of the session, also when tests fail. When it
cannot start, every test that needs it fails with the reason: these tests never skip.
"""

import os
import socket
import uuid

import pytest

from hdfs_utils import minicluster
from hdfs_utils.env import RUN_DIR, environment

# Apart from `make hadoop-up`'s .run/hadoop, so a developer's cluster and the tests' never meet;
# under pytest-xdist one per worker (gw0, gw1, ...): the clusters pick free ports.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
TEST_RUN_DIR = RUN_DIR / ("hadoop-tests-%s" % _WORKER if _WORKER else "hadoop-tests")


@pytest.fixture(scope="session")
def _minicluster():
    """The session's MiniCluster (a ``minicluster.ClusterInfo``), started on first use and
    stopped at the end of the session. It leaves ``os.environ`` alone: see hadoop_cluster."""
    # A session killed before its teardown leaves its cluster running: stop that one first.
    minicluster.down(TEST_RUN_DIR)
    with minicluster.running(TEST_RUN_DIR) as info:
        yield info


@pytest.fixture
def hadoop_cluster(_minicluster, monkeypatch):
    """The running MiniCluster; while the test runs (and only then: monkeypatch restores it),
    ``os.environ`` holds its client environment (HADOOP_HOME, HADOOP_CONF_DIR, JAVA_HOME,
    PATH), so the ``hadoop`` command, mrjob and pyspark all talk to it."""
    for name, value in _minicluster.env().items():
        monkeypatch.setenv(name, value)
    return _minicluster


@pytest.fixture(scope="module")
def hadoop_cluster_for_module(_minicluster):
    """The running MiniCluster for module-scoped fixtures (data put on HDFS once, a YARN
    SparkSession): from the fixture's set-up to the module's end ``os.environ`` holds the
    cluster's client environment, and all of ``os.environ`` is put back as it was then (also
    what Spark's set-up adds: PYSPARK_ARCHIVES_PATH, PYSPARK_PYTHON, ...)."""
    with environment(_minicluster.env()):
        yield _minicluster


@pytest.fixture
def hdfs_dir(hadoop_cluster, request):
    """An HDFS path of this test's own (not created: uploads create their parents; the whole
    HDFS goes with the cluster at the end of the session)."""
    name = "".join(c if c.isalnum() else "_" for c in request.node.name)
    return f"/tests/{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def dead_conf_dir(tmp_path):
    """(conf dir, port): a conf dir naming a NameNode on 127.0.0.1:port, where nothing
    listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "core-site.xml").write_text(
        '<?xml version="1.0"?>\n<configuration><property><name>fs.defaultFS</name>'
        f"<value>hdfs://127.0.0.1:{port}</value></property></configuration>\n")
    return tmp_path, port
