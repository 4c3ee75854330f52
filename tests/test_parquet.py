"""Parquet input (issue 22, item 1) on numpy, mrjob-inline and mrjob-local: the same answer as
the same rows in CSV, row groups as the unit of work, columns by name, types, partition
directories, nulls under fail and skip. (Spark: tests/spark_jobs/test_spark_parquet.py.)"""

import decimal
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import (lstsq, make_linear, theta, weighted_data, write_csv, write_duplicated,
                     write_weighted)
from distreg.cli import main, make_engine
from distreg.errors import BadInputError, DistregError
from distreg.fit import FitOptions, fit
from distreg.generate import generate

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


def write_parquet(path, y, X, row_group_rows=None, **extra):
    """y, x1..xP (float64) and ``extra`` columns (arrow arrays) to a Parquet file."""
    cols = {'y': pa.array(y)}
    cols.update({'x%d' % (j + 1): pa.array(X[:, j]) for j in range(X.shape[1])})
    cols.update(extra)
    pq.write_table(pa.table(cols), str(path), row_group_size=row_group_rows)
    return str(path)


def run_fit(engine, path, **options):
    eng = make_engine(engine, str(path))
    try:
        return fit(eng, FitOptions(**options)), eng
    finally:
        eng.close()


@pytest.fixture(scope='module')
def same_rows(tmp_path_factory):
    """The same 3000 x 4 rows as CSV and as Parquet of 5 row groups."""
    d = tmp_path_factory.mktemp('pq')
    y, X = make_linear(3000, 4, seed=5)
    return write_csv(d / 'd.csv', y, X), write_parquet(d / 'd.parquet', y, X, 600), y, X


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_parquet_fit_agrees_with_the_same_rows_as_csv(same_rows, engine, method):
    csv, parquet, y, X = same_rows
    from_csv, _ = run_fit(engine, csv, method=method)
    from_parquet, _ = run_fit(engine, parquet, method=method)
    np.testing.assert_allclose(theta(from_parquet), theta(from_csv), rtol=1e-12)
    np.testing.assert_allclose(theta(from_parquet), lstsq(y, X), rtol=1e-9)
    assert from_parquet['n_rows'] == len(y) and from_parquet['n_bad_rows'] == 0
    assert from_parquet['design']['format'] == 'parquet'
    assert from_parquet['design']['feature_names'] == ['x1', 'x2', 'x3', 'x4']
    assert from_parquet['design']['label_col'] == 'y'


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_logistic_from_generated_parquet_agrees_with_csv(tmp_path, engine):
    csv, parquet = str(tmp_path / 'l.csv'), str(tmp_path / 'l.parquet')
    generate(2000, 3, csv, model='logistic', seed=4)
    generate(2000, 3, parquet, model='logistic', seed=4, fmt='parquet')
    a, _ = run_fit(engine, csv, model='logistic', method='newton')
    b, _ = run_fit(engine, parquet, model='logistic', method='newton')
    np.testing.assert_allclose(theta(b), theta(a), rtol=1e-12)


def test_generate_parquet_writes_the_rows_of_the_csv(tmp_path):
    csv, parquet = str(tmp_path / 'g.csv'), str(tmp_path / 'g.parquet')
    generate(1500, 3, csv, seed=9)
    generate(1500, 3, parquet, seed=9, fmt='parquet')
    table = pq.read_table(parquet)
    assert table.column_names == ['y', 'x1', 'x2', 'x3']
    data = np.loadtxt(csv, delimiter=',', skiprows=1)
    got = np.column_stack([table.column(c).to_numpy() for c in table.column_names])
    assert np.array_equal(got, data)  # the same doubles, bit for bit
    with open(parquet + '.truth.json') as f:
        assert json.load(f)['format'] == 'parquet'


def test_cli_generate_and_fit_parquet(tmp_path):
    path, out = str(tmp_path / 'c.parquet'), str(tmp_path / 'r.json')
    assert main(['generate', '--rows', '2000', '--features', '3', '--seed', '2',
                 '--format', 'parquet', '--out', path]) == 0
    assert main(['fit', path, '--engine', 'numpy', '--out', out, '--quiet']) == 0
    with open(out) as f:
        record = json.load(f)
    table = pq.read_table(path)
    y = table.column('y').to_numpy()
    X = np.column_stack([table.column(c).to_numpy() for c in ('x1', 'x2', 'x3')])
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)


def test_auto_knows_parquet_by_its_magic_bytes_not_its_name(same_rows, tmp_path):
    _, parquet, y, X = same_rows
    renamed = tmp_path / 'data.csv'   # a misleading name
    renamed.write_bytes(open(parquet, 'rb').read())
    record, _ = run_fit('numpy', renamed)
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)


def test_format_parquet_on_a_csv_file_is_a_clear_error(same_rows):
    csv = same_rows[0]
    with pytest.raises(BadInputError, match='not a readable Parquet file') as e:
        run_fit('numpy', csv, format='parquet')
    assert csv in str(e.value)


@pytest.mark.parametrize('engine', ENGINES)
def test_a_parquet_file_read_as_text_is_named_as_parquet(same_rows, tmp_path, engine):
    """--format csv or libsvm on a Parquet file, or a Parquet file among a directory's CSV
    part files: the file named as Parquet (was an error quoting its binary bytes as a
    line of text, or 'the part files name different columns' with them)."""
    csv, parquet = same_rows[:2]
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    (mixed / 'part-00000.csv').write_bytes(open(csv, 'rb').read())
    (mixed / 'part-00001.csv').write_bytes(open(parquet, 'rb').read())
    cases = [(parquet, 'csv', 'not CSV text: give --format parquet'),
             (parquet, 'libsvm', 'not LibSVM text: give --format parquet'),
             (str(mixed), 'auto', 'among the text files of %s' % mixed)]
    for path, fmt, why in cases:
        with pytest.raises(DistregError, match='is a Parquet file') as e:
            run_fit(engine, path, format=fmt)
        assert why in str(e.value)
        named = parquet if fmt != 'auto' else str(mixed / 'part-00001.csv')
        assert named in str(e.value)


def test_row_groups_are_split_across_map_tasks(tmp_path):
    """7 row groups of different sizes: >= 2 map tasks, every group read once, every row
    counted once (n and the answer are those of all the rows)."""
    sizes = [50, 61, 72, 83, 94, 105, 116]
    y, X = make_linear(sum(sizes), 3, seed=11)
    path = tmp_path / 'seven.parquet'
    with pq.ParquetWriter(str(path), pa.schema(
            [('y', pa.float64())] + [('x%d' % j, pa.float64()) for j in (1, 2, 3)])) as w:
        start = 0
        for n in sizes:
            rows = slice(start, start + n)
            w.write_table(pa.table({'y': y[rows], 'x1': X[rows, 0], 'x2': X[rows, 1],
                                    'x3': X[rows, 2]}))
            start += n
    assert pq.ParquetFile(str(path)).metadata.num_row_groups == 7
    record, engine = run_fit('mrjob-local', path)
    counters = engine.counters[0]['distreg']
    assert counters['row groups read'] == 7
    assert counters['map tasks that read row groups'] >= 2
    assert record['n_rows'] == sum(sizes)
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)


def test_features_by_name_and_only_those_columns_are_read(tmp_path, monkeypatch):
    y, X = make_linear(800, 4, seed=3)
    path = write_parquet(tmp_path / 'f.parquet', y, X, 200,
                         note=pa.array(['a'] * 800),
                         tags=pa.array([[1.0, 2.0]] * 800, type=pa.list_(pa.float64())))
    read = []
    real = pq.ParquetFile.read_row_group

    def spy(self, i, columns=None, **kw):
        read.append(tuple(columns))
        return real(self, i, columns=columns, **kw)
    monkeypatch.setattr(pq.ParquetFile, 'read_row_group', spy)
    monkeypatch.setattr(pq.ParquetFile, 'read', lambda *a, **k: pytest.fail('whole file read'))
    record, _ = run_fit('numpy', path, features='x3,x1', label_col='y')
    np.testing.assert_allclose(theta(record), lstsq(y, X[:, [2, 0]]), rtol=1e-9)
    assert record['design']['feature_names'] == ['x3', 'x1']
    # a column at a time (a task holds one of Arrow's columns, not the group): each of the
    # 4 row groups reads the three selected columns once each, nothing else
    assert sorted(read) == sorted([('y',), ('x3',), ('x1',)] * 4)
    # the default: every numeric column but the label (the string and list ones left out)
    record, _ = run_fit('numpy', path, label_col='x2')
    np.testing.assert_allclose(theta(record), lstsq(X[:, 1], np.column_stack(
        [y, X[:, 0], X[:, 2], X[:, 3]])), rtol=1e-9)


@pytest.mark.parametrize('column, kind', [('tags', 'list<')])
def test_a_selected_non_numeric_column_is_named_with_its_type(tmp_path, column, kind):
    y, X = make_linear(50, 2, seed=1)
    path = write_parquet(tmp_path / 'n.parquet', y, X, note=pa.array(['a'] * 50),
                         tags=pa.array([[1.0]] * 50, type=pa.list_(pa.float64())))
    with pytest.raises(DistregError, match=r"%r of .* is of type %s.*not a number"
                       % (column, kind)):
        run_fit('numpy', path, features='x1,' + column)
    # a string column is categorical (tests/test_categorical.py): one level, no column
    record, _ = run_fit('numpy', path, features='x1,note')
    assert record['design']['levels'] == [['note', ['a']]]
    with pytest.raises(DistregError, match='--features column .nope. is not a column'):
        run_fit('numpy', path, features='x1,nope')


def test_numeric_types_become_doubles(tmp_path):
    rng = np.random.default_rng(8)
    n = 400
    a = rng.integers(-100, 100, n).astype(np.int8)
    b = rng.integers(0, 60000, n).astype(np.uint16)
    c = rng.normal(size=n).astype(np.float32)
    d = [decimal.Decimal('%.2f' % v) for v in rng.uniform(-50, 50, n)]
    e = rng.random(n) < 0.4
    f = rng.integers(-10**9, 10**9, n).astype(np.int64)
    Xref = np.column_stack([a, b, c.astype(float), [float(v) for v in d], e, f]).astype(float)
    y = 2.0 + Xref @ [0.5, 1e-3, -2.0, 0.25, 3.0, 1e-9] + rng.normal(size=n)
    path = str(tmp_path / 't.parquet')
    pq.write_table(pa.table({'y': pa.array(y, pa.float32()).cast(pa.float64()),
                             'a': a, 'b': b, 'c': c, 'd': pa.array(d, pa.decimal128(6, 2)),
                             'e': e, 'f': f}), path, row_group_size=150)
    y32 = np.asarray(pa.array(y, pa.float32()).cast(pa.float64()))
    # every value becomes exactly the double the test computed
    from distreg.parquet import input_schema, iter_input_blocks
    blocks = list(iter_input_blocks(path, input_schema(path)))
    assert np.array_equal(np.vstack([b.X for b in blocks]), Xref)
    assert np.array_equal(np.concatenate([b.y for b in blocks]), y32)
    csv = write_csv(tmp_path / 't.csv', y32, Xref)
    for engine in ('numpy', 'mrjob-inline'):
        record, _ = run_fit(engine, path, method='qr')
        from_csv, _ = run_fit(engine, csv, method='qr')
        np.testing.assert_allclose(theta(record), theta(from_csv), rtol=1e-12)


def _partitioned(root, y, X, k_of_row):
    """root/k=K/part-0.parquet per value of K, with Spark's and Hive's side files."""
    os.makedirs(root)
    for k in sorted(set(k_of_row)):
        d = os.path.join(root, 'k=%d' % k)
        os.makedirs(d)
        rows = k_of_row == k
        write_parquet(os.path.join(d, 'part-00000.parquet'), y[rows], X[rows], 100)
        with open(os.path.join(d, '.part-00000.parquet.crc'), 'wb') as f:
            f.write(b'crc')
    for side in ('_SUCCESS', '_metadata', '.hidden'):
        with open(os.path.join(root, side), 'w') as f:
            f.write('not data')
    return root


@pytest.mark.parametrize('engine', ENGINES)
def test_partition_directories_become_columns(tmp_path, engine):
    rng = np.random.default_rng(12)
    n = 900
    k = rng.integers(1, 4, n)
    y0, X = make_linear(n, 2, seed=12)
    y = y0 + 0.75 * k
    root = _partitioned(str(tmp_path / 'parts'), y, X, k)
    record, _ = run_fit(engine, root)
    assert record['design']['feature_names'] == ['x1', 'x2', 'k']
    np.testing.assert_allclose(theta(record), lstsq(y, np.column_stack([X, k])), rtol=1e-9)
    assert record['n_rows'] == n
    # and a partition column can be left out
    record, _ = run_fit(engine, root, features='x1,x2')
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)


def _with_nulls(tmp_path):
    y, X = make_linear(600, 3, seed=6)
    x2 = pa.array(X[:, 1], mask=np.isin(np.arange(600), [130, 131, 407]))
    yy = pa.array(y, mask=np.arange(600) == 250)
    path = str(tmp_path / 'nulls.parquet')
    pq.write_table(pa.table({'y': yy, 'x1': X[:, 0], 'x2': x2, 'x3': X[:, 2]}), path,
                   row_group_size=100)
    return path, y, X, [130, 131, 250, 407]


@pytest.mark.parametrize('engine', ENGINES)
def test_a_null_fails_naming_file_row_group_row_and_column(tmp_path, engine):
    path, _, _, _ = _with_nulls(tmp_path)
    with pytest.raises(BadInputError) as e:
        run_fit(engine, path)
    msg = str(e.value)
    assert msg.startswith(path + ', row group 1, row index 30 (row index 130 in the file): '
                          "column 'x2' is null (expected a number)"), msg
    assert '\n' not in msg


@pytest.mark.parametrize('engine', ENGINES)
def test_nulls_skipped_are_counted_and_kept(tmp_path, engine):
    path, y, X, bad = _with_nulls(tmp_path)
    record, eng = run_fit(engine, path, bad_rows='skip')
    keep = ~np.isin(np.arange(600), bad)
    np.testing.assert_allclose(theta(record), lstsq(y[keep], X[keep]), rtol=1e-9)
    assert record['n_rows'] == 596 and record['n_bad_rows'] == 4
    rejected = sorted((d['row_group'], d['row'], d['file_row']) for d in eng.rejects)
    assert rejected == [(i // 100, i % 100, i) for i in bad]
    assert all(d['file'] == path for d in eng.rejects)
    label_null = next(d for d in eng.rejects if d['file_row'] == 250)
    assert "column 'y' is null" in label_null['reason'] and 'y=null' in label_null['text']


def test_cli_null_is_one_line_and_skip_writes_the_rejects_file(tmp_path, capsys):
    path, _, _, bad = _with_nulls(tmp_path)
    assert main(['fit', path, '--engine', 'mrjob-inline', '--quiet']) == 1
    err = capsys.readouterr().err
    assert 'row group 1, row index 30' in err and 'Traceback' not in err
    out = str(tmp_path / 'r.json')
    assert main(['fit', path, '--engine', 'numpy', '--bad-rows', 'skip', '--quiet',
                 '--out', out]) == 0
    with open(out + '.rejects.jsonl') as f:
        rows = [json.loads(line) for line in f]
    assert sorted(d['file_row'] for d in rows) == bad


def test_features_on_csv_is_refused(same_rows):
    with pytest.raises(DistregError, match='--features selects columns of Parquet input'):
        run_fit('numpy', same_rows[0], features='x1')


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_predict_to_parquet_and_evaluate_read_parquet(same_rows, tmp_path, engine):
    csv, parquet, y, X = same_rows
    model = str(tmp_path / 'm.json')
    assert main(['fit', csv, '--engine', 'numpy', '--out', model, '--quiet']) == 0
    with open(model) as f:
        record = json.load(f)
    expected = record['intercept'] + X @ np.array(record['coefficients'])
    out = str(tmp_path / 'p.parquet')
    assert main(['predict', model, parquet, '--engine', engine, '--out', out]) == 0
    got = pq.read_table(out)
    assert got.column_names == ['prediction'] and got.num_rows == len(y)
    np.testing.assert_allclose(got.column('prediction').to_numpy(), expected, rtol=1e-12)
    metrics = {}
    for name, path in (('csv', csv), ('parquet', parquet)):
        metrics[name] = str(tmp_path / ('%s.json' % name))
        assert main(['evaluate', model, path, '--engine', engine,
                     '--out', metrics[name]]) == 0
    a, b = (json.load(open(metrics[k])) for k in ('csv', 'parquet'))
    assert a['n'] == b['n'] == len(y)
    for k in ('rmse', 'mae', 'r2'):
        assert b[k] == pytest.approx(a[k], rel=1e-12)


def test_predict_keeps_a_skipped_rows_place_as_null(tmp_path):
    path, y, X, bad = _with_nulls(tmp_path)
    model = str(tmp_path / 'm.json')
    assert main(['fit', path, '--engine', 'numpy', '--bad-rows', 'skip', '--out', model,
                 '--quiet']) == 0
    with open(model) as f:
        record = json.load(f)
    out = str(tmp_path / 'p.parquet')
    # the features only (no label column): a null x2 is still a bad row
    features = str(tmp_path / 'features.parquet')
    table = pq.read_table(path).drop(['y'])
    pq.write_table(table, features, row_group_size=100)
    assert main(['predict', model, features, '--engine', 'mrjob-inline', '--bad-rows',
                 'skip', '--out', out]) == 0
    pred = pq.read_table(out).column('prediction').to_pylist()
    assert len(pred) == 600
    nulls = [i for i, v in enumerate(pred) if v is None]
    assert nulls == [130, 131, 407]   # the label's null does not matter here
    keep = [i for i in range(600) if i not in nulls]
    expected = record['intercept'] + X[keep] @ np.array(record['coefficients'])
    np.testing.assert_allclose(np.array([pred[i] for i in keep]), expected, rtol=1e-12)


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_a_part_file_with_another_type_or_without_a_column_is_named(tmp_path, engine):
    y, X = make_linear(200, 2, seed=2)
    d = tmp_path / 'parts'
    d.mkdir()
    write_parquet(d / 'part-0.parquet', y[:100], X[:100])
    pq.write_table(pa.table({'y': y[100:], 'x1': pa.array([str(v) for v in X[100:, 0]]),
                             'x2': X[100:, 1]}), str(d / 'part-1.parquet'))
    with pytest.raises(BadInputError) as e:
        run_fit(engine, d)
    assert str(e.value).startswith(str(d / 'part-1.parquet') + ", row group 0: column 'x1' "
                                   'is of type string in this file, not a number')
    pq.write_table(pa.table({'y': y[100:], 'x2': X[100:, 1]}), str(d / 'part-1.parquet'))
    with pytest.raises(BadInputError, match="part-1.parquet, row group 0: column 'x1' is missing"):
        run_fit(engine, d)


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_nan_and_a_logistic_label_outside_0_1_are_bad_rows(tmp_path, engine):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    y = (rng.random(300) < 0.5).astype(float)
    X[42, 1] = np.nan
    y[99] = 2.0
    path = write_parquet(tmp_path / 'l.parquet', y, X, 100)
    with pytest.raises(BadInputError, match=r"row group 0, row index 42: column 'x2' is nan: "
                                            'NaN and Inf are not allowed in the features'):
        run_fit(engine, path, model='logistic', method='newton')
    record, eng = run_fit(engine, path, model='logistic', method='newton', bad_rows='skip')
    assert record['n_bad_rows'] == 2 and record['n_rows'] == 298
    reasons = sorted((d['file_row'], d['reason']) for d in eng.rejects)
    assert reasons[1][0] == 99 and 'is 2.0, not 0 or 1' in reasons[1][1]


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_a_glob_of_parquet_files_and_the_label_by_index(tmp_path, engine):
    y, X = make_linear(900, 3, seed=14)
    for i, rows in enumerate((slice(0, 300), slice(300, 900))):
        write_parquet(tmp_path / ('part-%d.parquet' % i), y[rows], X[rows], 250)
    (tmp_path / 'notes.txt').write_text('not matched by the glob')
    record, _ = run_fit(engine, str(tmp_path / 'part-*.parquet'))
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)
    # the label by index: the last column (x3), the features every other numeric one
    record, _ = run_fit(engine, str(tmp_path / 'part-*.parquet'), label_col='-1')
    np.testing.assert_allclose(theta(record), lstsq(X[:, 2], np.column_stack([y, X[:, :2]])),
                               rtol=1e-9)
    assert record['design']['label_col'] == 'x3'


@pytest.fixture(scope='module')
def weighted(tmp_path_factory):
    """The same weighted rows as CSV (columns y, x1, w, x2, x3), as Parquet (4 row groups,
    the weight between the features) and as the CSV of each row written w times."""
    d = tmp_path_factory.mktemp('pq-weights')
    y, X, w = weighted_data(1200, 41)
    pq_path = d / 'w.parquet'
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'w': w, 'x2': X[:, 1], 'x3': X[:, 2]}),
                   str(pq_path), row_group_size=300)
    return (write_weighted(d / 'w.csv', y, X, w), str(pq_path),
            write_duplicated(d / 'dup.csv', y, X, w), y, X, w)


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('method', ['normal', 'qr', 'lbfgs'])
def test_parquet_weights_are_the_csv_weights_and_the_duplicated_rows(weighted, engine, method):
    csv, parquet, dup, y, X, w = weighted
    tol = 1e-12 if method in ('normal', 'qr') else 1e-9  # lbfgs: its stopping rule
    from_parquet, _ = run_fit(engine, parquet, method=method, weight_col='w')
    from_csv, _ = run_fit(engine, csv, method=method, weight_col='w')
    np.testing.assert_allclose(theta(from_parquet), theta(from_csv), rtol=1e-12)
    duplicated, _ = run_fit('numpy', dup, method=method)
    np.testing.assert_allclose(theta(from_parquet), theta(duplicated), rtol=tol)
    assert from_parquet['design']['weight_col'] == 'w'
    assert from_parquet['design']['feature_names'] == ['x1', 'x2', 'x3']
    assert from_parquet['sum_weights'] == w.sum() == duplicated['n_rows']
    assert from_parquet['n_rows_zero_weight'] == int(np.sum(w == 0)) > 0
    if method != 'lbfgs':
        np.testing.assert_allclose(from_parquet['stats']['std_errors'],
                                   duplicated['stats']['std_errors'], rtol=1e-10)


def test_parquet_weight_by_index_and_its_mistakes(weighted):
    _, parquet, _, y, X, w = weighted
    record, _ = run_fit('numpy', parquet, method='qr', weight_col='2')
    assert record['design']['weight_col'] == 'w'
    with pytest.raises(DistregError, match="--weight-col 'nope' is not a column of .*w.parquet"):
        run_fit('numpy', parquet, weight_col='nope')
    with pytest.raises(DistregError, match='--weight-col y is the label column'):
        run_fit('numpy', parquet, weight_col='y')
    with pytest.raises(DistregError, match="--features names the weight column 'w'"):
        run_fit('numpy', parquet, weight_col='w', features='x1,w')


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('weight, reason', [
    (-1.0, "column 'w' is -1.0: a weight must be >= 0"),
    (np.nan, "column 'w' is nan: NaN and Inf are not allowed in the weight"),
    (None, "column 'w' is null")])
def test_parquet_bad_weight_names_row_group_and_row(tmp_path, engine, weight, reason):
    y, X, w = weighted_data(400, 42)
    ws = [float(v) for v in w]
    ws[257] = weight
    path = tmp_path / 'bad.parquet'
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'x2': X[:, 1], 'x3': X[:, 2],
                             'w': pa.array(ws, pa.float64())}), str(path), row_group_size=100)
    with pytest.raises(BadInputError, match=reason) as err:
        run_fit(engine, path, weight_col='w')
    assert (err.value.row_group, err.value.row) == (2, 57)
    record, eng = run_fit(engine, path, weight_col='w', bad_rows='skip')
    keep = np.arange(400) != 257
    assert record['n_rows'] == 399 and record['n_bad_rows'] == 1
    assert record['sum_weights'] == w[keep].sum()
    r = np.sqrt(w[keep])   # weighted least squares: the rows scaled by sqrt(w)
    np.testing.assert_allclose(theta(record), np.linalg.lstsq(
        r[:, None] * np.column_stack([np.ones(399), X[keep]]), r * y[keep], rcond=None)[0],
        rtol=1e-9)


def test_parquet_predict_ignores_the_weight_column(weighted, tmp_path, capsys):
    csv, parquet, _, y, X, w = weighted
    rec = tmp_path / 'r.json'
    assert main(['fit', parquet, '--engine', 'numpy', '--weight-col', 'w',
                 '--out', str(rec)]) == 0
    out = tmp_path / 'p.parquet'
    assert main(['predict', str(rec), parquet, '--engine', 'mrjob-inline',
                 '--out', str(out)]) == 0
    model = json.loads(rec.read_text())
    got = pq.read_table(str(out)).column(0).to_numpy()
    np.testing.assert_allclose(got, np.column_stack([np.ones(len(y)), X]) @ theta(model),
                               rtol=1e-12)


def test_a_large_row_group_is_folded_in_pieces_by_a_map_task(tmp_path, monkeypatch):
    """A map task hands its row group to the block function in runs of rows of about a text
    chunk's size (jobs/block_job.py ``_pieces``): the model matrix the block function builds
    stays that small. The pieces add up to the row group, and the fit is numpy's."""
    import jobs.block_job as block_job
    from distreg import blocks
    y, X = make_linear(6000, 3, seed=9)
    path = write_parquet(tmp_path / 'one.parquet', y, X)        # one row group of 6000 rows
    monkeypatch.setattr(block_job, 'CHUNK_BYTES', 8 * 5 * 1000)  # 1,024 rows a piece (its floor)
    sizes = []
    real = blocks.block_partial

    def spy(name, parsed, *a, **k):
        sizes.append(len(parsed.y))
        return real(name, parsed, *a, **k)
    monkeypatch.setattr(blocks, 'block_partial', spy)
    record, _ = run_fit('mrjob-inline', path, method='normal')
    assert sizes == [1024] * 5 + [6000 - 5 * 1024]
    reference, _ = run_fit('numpy', path, method='normal')
    np.testing.assert_allclose(theta(record), theta(reference), rtol=1e-12)
    np.testing.assert_allclose(theta(record), lstsq(y, X), rtol=1e-9)


def test_pieces_keep_every_per_row_array(tmp_path, monkeypatch):
    """The pieces of a row group carry the rows' weights, cluster ids, categorical text and
    fold keys with their features: a weighted, categorical fit with clustered errors folded
    in pieces on mrjob-inline is numpy's (which reads the row group whole), and so is cv."""
    import jobs.block_job as block_job
    from distreg import cv
    rng = np.random.default_rng(12)
    n = 6000
    y, X = make_linear(n, 2, seed=12)
    region = rng.choice(['a', 'b', 'c'], n)
    y = y + (region == 'b') * 2.0
    path = str(tmp_path / 'one.parquet')
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'x2': X[:, 1], 'region': region,
                             'w': rng.integers(0, 4, n).astype(float),
                             'firm': rng.integers(0, 40, n)}), path)   # one row group
    monkeypatch.setattr(block_job, 'CHUNK_BYTES', 8 * 5 * 1000)   # pieces of 1,024 rows
    options = dict(method='qr', weight_col='w', cov='cluster:firm')
    record, _ = run_fit('mrjob-inline', path, **options)
    reference, _ = run_fit('numpy', path, **options)
    np.testing.assert_allclose(theta(record), theta(reference), rtol=1e-12)
    np.testing.assert_allclose(record['stats']['std_errors'], reference['stats']['std_errors'],
                               rtol=1e-10)
    assert record['design']['levels'] == [['region', ['a', 'b', 'c']]]
    got = []
    for engine in ('mrjob-inline', 'numpy'):
        opts = FitOptions(method='normal', folds=4, weight_col='w').validate()
        eng = make_engine(engine, path)
        try:
            got.append(cv.run(eng, opts, 4, [0.0, 1.0])['cv']['rmse'])
        finally:
            eng.close()
    np.testing.assert_allclose(got[0], got[1], rtol=1e-10)


def test_two_columns_of_one_name_are_refused(tmp_path, capsys):
    """Parquet allows it; a choice by name would read one of them twice."""
    path = str(tmp_path / 'dup.parquet')
    pq.write_table(pa.Table.from_arrays([pa.array([1.0, 2, 3, 4]), pa.array([1.0, 2, 3.5, 5]),
                                         pa.array([0.5, 1, 2, 3.0])], names=['y', 'x', 'x']),
                   path)
    assert main(['fit', path, '--engine', 'numpy']) == 1
    err = capsys.readouterr().err
    assert "two columns named 'x'" in err and 'Traceback' not in err
