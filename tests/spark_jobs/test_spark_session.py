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
