"""Categorical columns on mrjob-hadoop: the levels pass and the fit as YARN applications on the
MiniCluster, against numpy's lstsq on pandas.get_dummies (tests/test_categorical.py)."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import assert_ran_on_yarn
from test_categorical import lstsq, make_data, one_hot, write_csv
from distreg.fit import FitOptions, fit
from distreg.result import theta_of
from jobs.engine import MRJobEngine

pytestmark = pytest.mark.hadoop

THREE_MAPS = ["--jobconf", "mapreduce.job.maps=3"]


def test_categorical_fit_on_yarn_csv_weighted_and_parquet(hadoop_cluster, tmp_path):
    df = make_data(30_000, 61)
    csv = write_csv(tmp_path / "c.csv", df, ("y", "x1", "w", "region", "x2", "grade"))
    engine = MRJobEngine(csv, "mrjob-hadoop", extra_args=THREE_MAPS)
    try:
        record = fit(engine, FitOptions(categorical="region,grade", weight_col="w"))
        maps = {g.strip(): c for g, c in engine.counters[0].items()}["Job Counters"]
        assert maps["Launched map tasks"] >= 2
    finally:
        engine.close()
    # the levels pass, then the Gram pass: two YARN applications
    assert len(engine.app_ids) == 2
    assert_ran_on_yarn(hadoop_cluster.resourcemanager_web, engine.app_ids, 2)
    ref = lstsq(one_hot(df, ["region", "grade"]), df["y"].to_numpy(), df["w"].to_numpy())
    assert np.max(np.abs(np.array(theta_of(record)) - ref)) / np.max(np.abs(ref)) <= 1e-12
    assert record["design"]["levels"] == [["region", ["east", "north", "south", "west"]],
                                          ["grade", ["10", "8", "9"]]]

    path = str(tmp_path / "c.parquet")
    pq.write_table(pa.table({
        "y": df["y"].to_numpy(), "x1": df["x1"].to_numpy(), "x2": df["x2"].to_numpy(),
        "region": pa.array(df["region"].tolist()),
        "grade": pa.array(df["grade"].tolist()).dictionary_encode()}), path,
        row_group_size=5000)
    engine = MRJobEngine(path, "mrjob-hadoop")
    try:
        record = fit(engine, FitOptions(features="x1,x2,region,grade"))
    finally:
        engine.close()
    ref = lstsq(one_hot(df, ["region", "grade"]), df["y"].to_numpy())
    assert np.max(np.abs(np.array(theta_of(record)) - ref)) / np.max(np.abs(ref)) <= 1e-12
