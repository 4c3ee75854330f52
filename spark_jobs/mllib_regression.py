"""Regression with pyspark.ml (LinearRegression, LogisticRegression, GLR) on the shared loader's rows.

Usage: spark-submit [--master M] spark_jobs/mllib_regression.py INPUT [--method normal|lbfgs|newton] [--model linear|logistic|poisson] [options of distreg fit]

linear: --method normal (LinearRegression solver=normal) or lbfgs (solver=l-bfgs);
logistic: --method lbfgs (LogisticRegression) or newton (GeneralizedLinearRegression,
IRLS); poisson: --method newton (GeneralizedLinearRegression family poisson, IRLS;
--offset-col as its offsetCol). --ridge L maps to MLlib's regParam (see
spark_jobs/mllib.py). Prints the result record (JSON) on stdout. spark-submit merges the
script's stderr into its stdout: --out FILE writes the record alone to FILE.

    spark-submit --master local[2] spark_jobs/mllib_regression.py data.csv --method normal
"""

import os
import sys

# spark-submit runs this file as a script: make the project importable from here
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from spark_jobs.script import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main('spark-mllib', __doc__))
