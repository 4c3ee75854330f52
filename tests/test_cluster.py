"""Clustered standard errors (--cov cluster:COL; issue 23 item 4): the per-cluster scores
X_g'e_g summed in one more pass and merged by cluster id, on every engine that runs the core
(Spark: tests/spark_jobs/test_spark_robust.py; Hadoop: tests/hadoop/test_parquet_hadoop.py),
against statsmodels' OLS(...).fit(cov_type='cluster', cov_kwds={'groups': g}) computed in the
test on the same rows (test-only reference; its default small-sample correction)."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm

from helpers import clustered_data, write_clustered
from distreg.cli import main, make_engine
from distreg.errors import BadInputError, DistregError
from distreg.fit import FitOptions, fit

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    y, X, g = clustered_data(2500, 40, 91)
    return write_clustered(tmp_path_factory.mktemp('cluster') / 'c.csv', y, X, g), y, X, g


def reference(y, X, g, degree=1):
    design = np.column_stack([np.ones(len(y))] + [X[:, j] ** k for j in range(X.shape[1])
                                                  for k in range(1, degree + 1)])
    return sm.OLS(y, design).fit(cov_type='cluster', cov_kwds={'groups': g})


def check(record, ref, col='firm'):
    stats = record['stats']
    assert stats['cov_type'] == 'cluster:' + col
    np.testing.assert_allclose(stats['std_errors'], ref.bse, rtol=1e-9)
    np.testing.assert_allclose(stats['t_values'], ref.tvalues, rtol=1e-9)
    np.testing.assert_allclose(stats['p_values'], ref.pvalues, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose([record['intercept']] + record['coefficients'], ref.params,
                               rtol=1e-9)


def run(engine, path, **options):
    eng = make_engine(engine, str(path))
    try:
        return fit(eng, FitOptions(**options))
    finally:
        eng.close()


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_clustered_errors_match_statsmodels(data, engine, method):
    path, y, X, g = data
    record = run(engine, path, method=method, cov='cluster:firm')
    check(record, reference(y, X, g))
    assert record['stats']['n_clusters'] == len(np.unique(g)) == 40
    assert record['design']['cluster_col'] == 'firm'
    assert record['design']['feature_names'] == ['x1', 'x2', 'x3']


def test_clustered_errors_by_column_index_and_with_a_polynomial(data):
    path, y, X, g = data
    record = run('numpy', path, cov='cluster:2', poly_degree=2)
    check(record, reference(y, X, g, degree=2), col='2')
    assert record['design']['cluster_col'] == 'firm'


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_clustered_with_frequency_weights_is_the_duplicated_rows(tmp_path, engine):
    y, X, g = clustered_data(900, 25, 92)
    w = np.random.default_rng(93).integers(0, 4, len(y)).astype(float)
    path = write_clustered(tmp_path / 'w.csv', y, X, g, w)
    record = run(engine, path, method='qr', weight_col='w', cov='cluster:firm')
    rows = np.repeat(np.arange(len(y)), w.astype(int))
    check(record, reference(y[rows], X[rows], g[rows]))
    # a cluster whose rows all weigh 0 is no cluster
    assert record['stats']['n_clusters'] == len(np.unique(g[w > 0]))


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_clustered_errors_on_parquet(tmp_path, engine):
    y, X, g = clustered_data(2000, 30, 94)
    path = tmp_path / 'c.parquet'
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'firm': pa.array(g, pa.int64()),
                             'x2': X[:, 1], 'x3': X[:, 2]}), str(path), row_group_size=500)
    record = run(engine, path, cov='cluster:firm')
    check(record, reference(y, X, g))
    assert record['design']['feature_names'] == ['x1', 'x2', 'x3']


@pytest.mark.parametrize('engine', ENGINES)
def test_one_cluster_is_a_clear_error(tmp_path, engine):
    y, X, _ = clustered_data(300, 5, 95)
    path = write_clustered(tmp_path / 'one.csv', y, X, np.full(len(y), 12))
    with pytest.raises(DistregError, match=r'--cov cluster:firm needs rows in at least 2 '
                                           r'clusters .* column firm has a single value \(12\)'):
        run(engine, path, cov='cluster:firm')


@pytest.mark.parametrize('engine', ENGINES)
def test_a_bad_cluster_id_names_file_line_and_column(tmp_path, engine):
    y, X, g = clustered_data(300, 5, 96)
    path = write_clustered(tmp_path / 'bad.csv', y, X, g)
    lines = open(path).read().split('\n')
    fields = lines[120].split(',')
    fields[2] = 'acme'
    lines[120] = ','.join(fields)
    open(path, 'w').write('\n'.join(lines))
    with pytest.raises(BadInputError, match=r"line 121: field 3 \(column 'firm'\) is 'acme', "
                                            r"not a number \(a cluster id is a number"):
        run(engine, path, cov='cluster:firm')
    record = run(engine, path, cov='cluster:firm', bad_rows='skip')
    keep = np.arange(len(y)) != 119
    assert record['n_rows'] == len(y) - 1 and record['n_bad_rows'] == 1
    check(record, reference(y[keep], X[keep], g[keep]))


@pytest.mark.parametrize('options, message', [
    (dict(cov='cluster:y'), '--cov cluster:y is the label column'),
    (dict(cov='cluster:nope'), "--cov cluster:COL 'nope' is not a column"),
    (dict(cov='cluster:firm', weight_col='firm'), '--cov cluster:firm is the weight column'),
    (dict(cov='cluster:firm', method='gd'), 'needs --model linear and --method normal or qr'),
    (dict(cov='cluster:firm', ridge=1.0), 'with --ridge'),
    (dict(cov='cluster:'), '--cov must be one of nonrobust, HC0, HC1, HC2, HC3 or cluster:COL'),
    (dict(cov='HC4'), '--cov must be one of'),
])
def test_clustered_refuses_what_it_does_not_define(data, options, message):
    with pytest.raises(DistregError, match=message):
        run('numpy', data[0], **options)


def test_cli_summary_names_the_clusters_and_predict_skips_the_column(data, tmp_path, capsys):
    path, y, X, g = data
    out = tmp_path / 'r.json'
    assert main(['fit', path, '--engine', 'mrjob-inline', '--cov', 'cluster:firm',
                 '--out', str(out)]) == 0
    assert 'Covariance:     cluster:firm, 40 clusters (z, normal p)' in capsys.readouterr().out
    record = json.loads(out.read_text())
    preds = tmp_path / 'p.csv'
    # the scored file has the cluster column too: it is read past, never taken for a feature
    assert main(['predict', str(out), path, '--engine', 'numpy', '--out', str(preds)]) == 0
    got = np.loadtxt(preds, ndmin=1)   # one prediction per line, no header
    theta = np.array([record['intercept']] + record['coefficients'])
    np.testing.assert_allclose(got, np.column_stack([np.ones(len(y)), X]) @ theta, rtol=1e-12)
