"""Regression on a cached PySpark RDD: the core's aggregates by mapPartitions + collect, one partial per core.

Usage: spark-submit [--master M] spark_jobs/rdd_regression.py INPUT [--method normal|qr|gd|lbfgs|newton] [--model linear|logistic|poisson] [options of distreg fit]

Reads INPUT (a file, a directory of part files, a glob, hdfs://...) once with the
shared loader into one numpy block per partition, caches it, and runs every pass
of the method over the cache; prints the result record (JSON) on stdout.
spark-submit merges the script's stderr into its stdout: --out FILE writes
the record alone to FILE.

    spark-submit --master local[2] spark_jobs/rdd_regression.py data.csv --method lbfgs \\
        --model logistic
"""

import os
import sys

# spark-submit runs this file as a script: make the project importable from here
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from spark_jobs.script import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main('spark-rdd', __doc__))
