"""The Spark session helpers leave nothing behind."""

import subprocess
import sys

from helpers import ROOT

SCRIPT = '''
import os
from pyspark import SparkFiles
from spark_jobs.session import get_session
spark = get_session('distreg-leak-test', 'local[1]')
root = SparkFiles.getRootDirectory()
shipped = [d for d in os.listdir(root) if d.startswith('distreg-spark-')]
# the executors import the shipped project
print(spark.sparkContext.parallelize([0], 1).map(
    lambda _: __import__('distreg.loader').loader.FORMATS[0]).collect()[0])
spark.stop()
print(len(shipped), os.path.join(root, shipped[0]), os.path.exists(root))
'''


def test_shipped_project_is_removed_when_the_session_stops():
    out = subprocess.run([sys.executable, '-c', SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    used, line = out.stdout.split('\n')[-3:-1]
    n, shipped, root_exists = line.split()
    assert used == 'csv' and n == '1'
    # it lived in Spark's own scratch directory of the session, which stop() removes
    # (it was a /tmp/distreg-spark-* directory that every run left behind)
    assert root_exists == 'False'


JIT_SCRIPT = '''
import sys
from spark_jobs.session import PYTHON_ONLY_JAVA_OPTIONS, get_session

def state(spark):
    sc = spark.sparkContext
    args = list(sc._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
                .getInputArguments())
    return (PYTHON_ONLY_JAVA_OPTIONS in args, sc.parallelize(range(10), 2).sum(),
            sc._gateway.proc.pid)

rdd = get_session('distreg-jit-a', 'local[2]', python_only=True)
a = state(rdd)
joined = state(get_session('distreg-jit-b', 'local[2]'))  # a running session is joined
rdd.stop()
mllib = get_session('distreg-jit-c', 'local[2]')
c = state(mllib)
mllib.stop()
print(a, joined, c)
'''


def test_a_python_only_session_gets_its_own_jvm_options_and_mllib_its_own():
    """spark-rdd's JVM (local mode) runs with C1 alone; a later MLlib session of the same
    process, when none runs, gets a new JVM with the default JIT (C2: its compute is Java)."""
    out = subprocess.run([sys.executable, '-c', JIT_SCRIPT], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    a, joined, c = eval(out.stdout.strip().split('\n')[-1].replace(') (', '), ('))
    assert a[:2] == (True, 45) and joined == a
    assert c[:2] == (False, 45) and c[2] != a[2]


def test_a_local_session_talks_to_its_python_workers_over_unix_sockets(spark):
    """A local master's Python workers use Unix domain sockets (over loopback TCP a task's
    first record waited for TCP's delayed acknowledgement: benchmarks/bench_spark.py's
    floors), and a pass over them gives the right answer."""
    sc = spark.sparkContext
    assert sc.getConf().get('spark.python.unix.domain.socket.enabled') == 'true'
    assert sc.parallelize(range(1000), 2).map(lambda v: v * v).sum() == sum(
        v * v for v in range(1000))
