"""``distreg cv`` on mrjob-hadoop (the MiniCluster's YARN): the input uploaded to HDFS keeps its
rows' folds (a file's identity is its base name, a row's position its byte offset), each text
file is one split (a streaming task that starts mid-file does not know its offsets), and the
table is the brute-force folds' of tests/test_cv.py."""

import pytest

from helpers import assert_ran_on_yarn, make_linear, write_csv
from test_cv import RIDGES, check_brute_force
from distreg import cv
from distreg.fit import FitOptions
from jobs.engine import MRJobEngine

pytestmark = pytest.mark.hadoop


def test_cv_on_hadoop_is_k_separate_fits(hadoop_cluster, tmp_path):
    y, X = make_linear(6000, 4, seed=23, noise=0.5)
    d = tmp_path / 'parts'
    d.mkdir()
    files = [write_csv(d / 'part-00000.csv', y[:3500], X[:3500]),
             write_csv(d / 'part-00001.csv', y[3500:], X[3500:])]
    k = 5
    # three maps asked for: the cv job still reads each file as one split
    engine = MRJobEngine(str(d), 'mrjob-hadoop',
                         extra_args=['--jobconf', 'mapreduce.job.maps=3'])
    try:
        record = cv.run(engine, FitOptions(method='normal', folds=k).validate(), k, RIDGES)
        job = {group.strip(): c for group, c in engine.counters[0].items()}['Job Counters']
        assert job['Launched map tasks'] == 2      # one per file
    finally:
        engine.close()
    assert_ran_on_yarn(hadoop_cluster.resourcemanager_web, engine.app_ids, 1)
    check_brute_force(record, files, k, RIDGES)
