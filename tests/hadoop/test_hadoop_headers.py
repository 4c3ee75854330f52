"""Part files whose headers name the same columns in another order, on Hadoop (issue 11):
read by name from an hdfs:// directory (a local directory uploaded by the engine:
test_mrjob_hadoop_engine.test_local_input_is_uploaded_and_agrees_with_numpy); other columns
refused."""

import numpy as np
import pytest

from helpers import lstsq, make_linear
from distreg.errors import DistregError
from distreg.fit import FitOptions, fit
from hdfs_utils import hdfs
from jobs.engine import MRJobEngine

pytestmark = pytest.mark.hadoop


def write_rows(path, names, columns, rows):
    with open(path, 'w') as f:
        f.write(','.join(names) + '\n')
        for i in rows:
            f.write(','.join(repr(float(c[i])) for c in columns) + '\n')


@pytest.fixture(scope='module')
def parts(tmp_path_factory):
    y, X = make_linear(3000, 3, seed=31)
    a, b, c = X.T
    d = tmp_path_factory.mktemp('parts') / 'parts'
    d.mkdir()
    write_rows(d / 'part-0.csv', ['y', 'a', 'b', 'c'], [y, a, b, c], range(0, 1000))
    write_rows(d / 'part-1.csv', ['b', 'c', 'y', 'a'], [b, c, y, a], range(1000, 3000))
    other = tmp_path_factory.mktemp('other') / 'other'
    other.mkdir()
    write_rows(other / 'part-0.csv', ['y', 'a', 'b', 'c'], [y, a, b, c], range(0, 1000))
    write_rows(other / 'part-1.csv', ['y', 'a', 'q', 'c'], [y, a, b, c], range(1000, 3000))
    return str(d), str(other), lstsq(y, X)


def run(path, **options):
    engine = MRJobEngine(path, 'mrjob-hadoop',
                         extra_args=['--jobconf', 'mapreduce.job.maps=3'])
    try:
        return fit(engine, FitOptions(**options))
    finally:
        engine.close()


def test_hdfs_parts_in_another_order_are_read_by_name(hadoop_cluster, hdfs_dir, parts):
    path, _, expected = parts
    hdfs.put(path, hdfs_dir)
    record = run('hdfs://' + hdfs_dir, method='normal')
    got = np.array([record['intercept']] + record['coefficients'])
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_parts_with_other_columns_are_an_error_naming_both(hadoop_cluster, parts):
    _, other, _ = parts
    with pytest.raises(DistregError) as err:
        run(other)
    assert 'part-0.csv has y,a,b,c but' in str(err.value)
    assert 'part-1.csv has y,a,q,c' in str(err.value)
