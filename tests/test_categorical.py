"""Categorical columns (--categorical, Parquet string and dictionary columns) on numpy and the
mrjob engines: the levels pass, the one-hot design, the record's levels, predict/evaluate.

Every answer is checked against numpy's lstsq on a one-hot matrix the test builds itself
with pandas.get_dummies (whose levels are sorted as distreg's are), not against an engine.
"""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from helpers import rel_diff
from distreg import blocks
from distreg.cli import main, make_engine
from distreg.design import Design
from distreg.errors import BadInputError, DistregError
from distreg.fit import FitOptions, fit
from distreg.loader import Chunk, Parsed, local_schema, parse_chunk
from distreg.result import theta_of

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']
REGIONS = ['north', 'south', 'east', 'west']
#: numbers in a categorical column are levels by their text: '10' sorts before '8'
GRADES = ['8', '9', '10']


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.uniform(-2, 2, size=n)
    region = rng.choice(REGIONS, size=n)
    grade = rng.choice(GRADES, size=n)
    w = rng.integers(0, 4, size=n).astype(float)
    effect = {'north': 1.5, 'south': -2.0, 'east': 0.0, 'west': 0.7}
    y = (1.0 + 2.0 * x1 - 0.5 * x2 + np.array([effect[r] for r in region])
         + 0.3 * (grade == '10') + 0.1 * rng.normal(size=n))
    return pd.DataFrame({'y': y, 'x1': x1, 'region': region, 'x2': x2, 'grade': grade,
                         'w': w})


def write_csv(path, df, columns=('y', 'x1', 'region', 'x2', 'grade')):
    with open(path, 'w') as f:
        f.write(','.join(columns) + '\n')
        for row in df[list(columns)].itertuples(index=False):
            f.write(','.join(repr(float(v)) if isinstance(v, float) else str(v)
                             for v in row) + '\n')
    return str(path)


def one_hot(df, cats, intercept=True, degree=1, numeric=('x1', 'x2')):
    """The reference model matrix: [1], numeric powers, then pandas' dummies of each
    categorical column (the first level dropped with an intercept; without one, the
    first categorical column keeps them all, as statsmodels does)."""
    cols = [np.ones(len(df))] if intercept else []
    for c in numeric:
        cols += [df[c].to_numpy() ** d for d in range(1, degree + 1)]
    for i, c in enumerate(cats):
        d = pd.get_dummies(df[c].astype(str), drop_first=intercept or i > 0, dtype=float)
        cols += [d[k].to_numpy() for k in d.columns]
    return np.column_stack(cols)


def lstsq(M, y, w=None):
    if w is not None:
        s = np.sqrt(w)
        M, y = M * s[:, None], y * s
    return np.linalg.lstsq(M, y, rcond=None)[0]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp('categorical')
    df = make_data(1500, 7)
    return df, write_csv(d / 'c.csv', df), d


def run(engine, path, **options):
    e = make_engine(engine, path)
    try:
        names = []
        record = fit(e, FitOptions(**options), names=names)
        return record, names
    finally:
        e.close()


# --------------------------------------------------------------------------- fits

@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_fit_matches_lstsq_on_the_one_hot_matrix(data, engine, method):
    df, path, _ = data
    record, names = run(engine, path, method=method, categorical='region,grade')
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert names == ['x1', 'x2', 'region[T.north]', 'region[T.south]', 'region[T.west]',
                     'grade[T.8]', 'grade[T.9]']
    assert record['design']['levels'] == [['region', ['east', 'north', 'south', 'west']],
                                          ['grade', ['10', '8', '9']]]
    assert record['design']['feature_names'] == ['x1', 'x2']
    assert record['design']['n_features'] == 2


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_no_intercept_keeps_every_level_of_the_first_column(data, engine):
    df, path, _ = data
    record, names = run(engine, path, intercept=False, categorical='region,grade')
    ref = lstsq(one_hot(df, ['region', 'grade'], intercept=False), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert names[2:7] == ['region[east]', 'region[north]', 'region[south]', 'region[west]',
                          'grade[T.8]']


def test_poly_degree_applies_to_numeric_features_only(data):
    df, path, _ = data
    record, names = run('numpy', path, method='qr', poly_degree=2, categorical='region,grade')
    ref = lstsq(one_hot(df, ['region', 'grade'], degree=2), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert names == ['x1', 'x1^2', 'x2', 'x2^2', 'region[T.north]', 'region[T.south]',
                     'region[T.west]', 'grade[T.8]', 'grade[T.9]']


@pytest.mark.parametrize('engine', ENGINES)
def test_weighted_categorical_fit(data, engine):
    df, _, d = data
    path = write_csv(d / ('w-%s.csv' % engine), df, ('y', 'x1', 'w', 'region', 'x2'))
    record, _ = run(engine, path, method='qr', categorical='region', weight_col='w')
    ref = lstsq(one_hot(df, ['region']), df['y'].to_numpy(), df['w'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert record['sum_weights'] == df['w'].sum()


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
@pytest.mark.parametrize('method', ['lbfgs', 'newton'])
def test_iterative_methods_take_the_levels_too(data, engine, method):
    df, path, _ = data
    record, _ = run(engine, path, method=method, categorical='region,grade', tol=1e-14,
                    max_iter=200)
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-8   # the methods' own convergence


@pytest.mark.parametrize('engine', ENGINES)
def test_parquet_string_and_dictionary_columns(data, engine):
    df, _, d = data
    path = str(d / ('c-%s.parquet' % engine))
    pq.write_table(pa.table({
        'y': df['y'].to_numpy(), 'x1': df['x1'].to_numpy(),
        'region': pa.array(df['region'].tolist()),
        'x2': df['x2'].to_numpy(),
        'grade': pa.array(df['grade'].tolist()).dictionary_encode()}), path,
        row_group_size=400)
    # named in --features: string and dictionary columns are categorical by their type
    record, names = run(engine, path, method='qr', features='x1,region,x2,grade')
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert names[-2:] == ['grade[T.8]', 'grade[T.9]']
    # or named in --categorical
    again, _ = run(engine, path, method='qr', categorical='region,grade')
    assert rel_diff(theta_of(again), ref) <= 1e-12
    # or by default: every numeric column, and every text column as a categorical one
    default, names = run(engine, path, method='qr')
    assert rel_diff(theta_of(default), ref) <= 1e-12
    assert names == ['x1', 'x2', 'region[T.north]', 'region[T.south]', 'region[T.west]',
                     'grade[T.8]', 'grade[T.9]']


def test_parquet_numeric_column_as_categorical(data):
    df, _, d = data
    path = str(d / 'int.parquet')
    pq.write_table(pa.table({'y': df['y'].to_numpy(), 'x1': df['x1'].to_numpy(),
                             'x2': df['x2'].to_numpy(),
                             'grade': df['grade'].astype(int).to_numpy()}), path)
    record, names = run('numpy', path, categorical='grade')
    ref = lstsq(one_hot(df, ['grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert names[-2:] == ['grade[T.8]', 'grade[T.9]']


def test_headerless_csv_by_index(data):
    df, _, d = data
    path = str(d / 'noheader.csv')
    with open(write_csv(d / 'tmp.csv', df)) as f:
        text = f.read().split('\n', 1)[1]
    with open(path, 'w') as f:
        f.write(text)
    record, names = run('numpy', path, categorical='2,4')
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert names[2] == '2[T.north]'
    # predict reads the model's categorical columns by the same indices
    out = d / 'noheader.pred'
    rec = d / 'noheader.json'
    with open(rec, 'w') as f:
        json.dump(record, f)
    assert main(['predict', str(rec), path, '--engine', 'numpy', '--out', str(out)]) == 0
    pred = np.loadtxt(out)
    np.testing.assert_allclose(pred, one_hot(df, ['region', 'grade']) @ ref, rtol=1e-9,
                               atol=1e-12)


def test_summary_table_names_the_levels(data, capsys):
    _, path, _ = data
    assert main(['fit', path, '--engine', 'numpy', '--categorical', 'region']) == 0
    out = capsys.readouterr().out
    assert 'region[T.north]' in out and 'region[T.west]' in out


# --------------------------------------------------------------------------- the levels pass

def test_levels_aggregate_merges_any_split_to_the_sorted_set():
    rng = np.random.default_rng(3)
    text = rng.choice(['b', 'a', '10', '9', 'z z'], size=(300, 1)).astype(str)
    parts = [blocks.block_partial('levels', Parsed(np.zeros((b - a, 0)), np.zeros(b - a),
                                                   cats=text[a:b]),
                                  Design(), {'max_levels': 10})
             for a, b in [(0, 7), (7, 150), (150, 300)]]
    whole = blocks.merge_all('levels', parts)
    assert whole['levels'] == [sorted(set(text[:, 0].tolist()))] == [['10', '9', 'a', 'b',
                                                                        'z z']]
    assert blocks.merge_all('levels', parts[::-1])['levels'] == whole['levels']


def test_levels_sets_stop_growing_past_max_levels():
    """A task's set holds at most max_levels + 1 levels, merged or not."""
    text = np.array(['v%05d' % i for i in range(5000)]).reshape(-1, 1)
    parts = [blocks.block_partial('levels', Parsed(np.zeros((500, 0)), np.zeros(500),
                                                   cats=text[i:i + 500]),
                                  Design(), {'max_levels': 1000}) for i in range(0, 5000, 500)]
    total = None
    for p in parts:
        total = blocks.merge_partials('levels', total, p)
        assert len(total['levels'][0]) <= 1001
    assert total['over'] == [True]
    with pytest.raises(DistregError, match="'city' has more than 1000 levels"):
        blocks.checked_levels(total, ['city'])


def write_wide_csv(path):
    """y, x and a column city of 5,000 distinct levels (more than --max-levels' default)."""
    rng = np.random.default_rng(4)
    with open(path, 'w') as f:
        f.write('y,x,city\n')
        for i in range(5000):
            f.write('%r,%r,city%04d\n' % (float(rng.normal()), float(rng.normal()), i))
    return path


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_a_column_of_5000_levels_is_refused(tmp_path, engine, capsys):
    path = write_wide_csv(tmp_path / 'wide.csv')
    assert main(['fit', str(path), '--engine', engine, '--categorical', 'city']) == 1
    err = capsys.readouterr().err
    assert "categorical column 'city' has more than 1000 levels" in err
    assert err.count('\n') == 1
    # with a cap that allows them, the levels pass finds all 5000
    from distreg.fit import find_levels
    options = FitOptions(categorical='city', max_levels=5000)
    e = make_engine(engine, str(path))
    try:
        levels = find_levels(e.aggregate, e.prepare(options), options)
    finally:
        e.close()
    assert levels == [['city', ['city%04d' % i for i in range(5000)]]]


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_empty_categorical_value_follows_bad_rows(data, engine, tmp_path):
    df, _, _ = data
    path = write_csv(tmp_path / 'gap.csv', df.iloc[:200])
    lines = open(path).read().split('\n')
    lines[5] = ','.join(lines[5].split(',')[:2] + [' '] + lines[5].split(',')[3:])
    open(path, 'w').write('\n'.join(lines))
    with pytest.raises(BadInputError, match=r"line 6: field 3 \(column 'region'\) is empty"):
        run(engine, path, categorical='region,grade')
    record, _ = run(engine, path, categorical='region,grade', bad_rows='skip')
    assert record['n_bad_rows'] == 1 and record['n_rows'] == 199
    keep = df.iloc[:200].drop(index=4)
    ref = lstsq(one_hot(keep, ['region', 'grade']), keep['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12


def test_parquet_null_categorical_is_a_bad_row(data, tmp_path):
    df, _, _ = data
    region = df['region'].tolist()[:300]
    region[17] = None
    path = str(tmp_path / 'null.parquet')
    pq.write_table(pa.table({'y': df['y'].to_numpy()[:300], 'x1': df['x1'].to_numpy()[:300],
                             'region': pa.array(region)}), path, row_group_size=100)
    with pytest.raises(BadInputError, match=r"row group 0, row index 17: column 'region' is null"):
        run('numpy', path, categorical='region')
    record, _ = run('numpy', path, categorical='region', bad_rows='skip')
    assert record['n_bad_rows'] == 1


def test_categorical_option_errors(data, tmp_path):
    _, path, _ = data
    with pytest.raises(DistregError, match="--categorical 'nope' is not a column"):
        run('numpy', path, categorical='nope')
    with pytest.raises(DistregError, match='is the label column'):
        run('numpy', path, categorical='y')
    with pytest.raises(DistregError, match='--max-levels must be'):
        FitOptions(max_levels=0).validate()
    with pytest.raises(DistregError, match='--keep-stats with --categorical'):
        FitOptions(categorical='region', keep_stats=True).validate()
    # a categorical column not named: its text is not a number, as before
    with pytest.raises(BadInputError, match="column 'region'.*not a number"):
        run('numpy', path)


# --------------------------------------------------------------------------- predict

@pytest.mark.parametrize('engine', ENGINES)
def test_predict_reuses_the_levels_and_refuses_an_unseen_one(data, engine, tmp_path):
    df, path, _ = data
    record, _ = run('numpy', path, categorical='region,grade')
    rec = tmp_path / 'r.json'
    rec.write_text(json.dumps(record))
    new = df.iloc[:50].copy()
    # the scored rows hold only some of the levels: their columns come from the record
    new['region'] = 'south'
    good = write_csv(tmp_path / 'new.csv', new)
    out = tmp_path / 'p.txt'
    assert main(['predict', str(rec), good, '--engine', engine, '--out', str(out)]) == 0
    ref = one_hot(pd.concat([df, new]), ['region', 'grade'])[len(df):] @ theta_of(record)
    np.testing.assert_allclose(np.loadtxt(out), ref, rtol=1e-12, atol=1e-12)
    new.loc[new.index[9], 'region'] = 'middle'
    bad = write_csv(tmp_path / 'bad.csv', new)
    with pytest.raises(BadInputError, match=r"line 11: field 3 \(column 'region'\) is "
                                            r"'middle', a level not seen in training"):
        _predict(engine, rec, bad, out)
    assert main(['predict', str(rec), bad, '--engine', engine, '--out', str(out),
                 '--bad-rows', 'skip']) == 0
    lines = out.read_text().split('\n')
    assert lines[9] == '' and len(lines) == 51
    np.testing.assert_allclose([float(v) for i, v in enumerate(lines[:50]) if i != 9],
                               np.delete(ref, 9), rtol=1e-12, atol=1e-12)


def _predict(engine, rec, path, out):
    from distreg import scoring
    from distreg.result import load
    e = make_engine(engine, str(path))
    try:
        scoring.predict(e, scoring.Model(load(str(rec))), str(out))
    finally:
        e.close()


def test_evaluate_parquet_model_on_parquet(data, tmp_path):
    df, _, _ = data
    path = str(tmp_path / 'e.parquet')
    pq.write_table(pa.table({'y': df['y'].to_numpy(), 'x1': df['x1'].to_numpy(),
                             'x2': df['x2'].to_numpy(),
                             'region': pa.array(df['region'].tolist()).dictionary_encode()}),
                   path, row_group_size=500)
    record, _ = run('numpy', path, categorical='region')
    rec = tmp_path / 'r.json'
    rec.write_text(json.dumps(record))
    metrics = tmp_path / 'm.json'
    assert main(['evaluate', str(rec), path, '--engine', 'mrjob-inline', '--out',
                 str(metrics)]) == 0
    m = json.loads(metrics.read_text())
    resid = df['y'].to_numpy() - one_hot(df, ['region']) @ theta_of(record)
    assert m['n'] == len(df)
    np.testing.assert_allclose(m['rmse'], np.sqrt(np.mean(resid ** 2)), rtol=1e-10)


def test_loader_fast_and_careful_paths_agree_on_text(tmp_path):
    """The Arrow path (dictionary-encoded) and the line-by-line path give the same text."""
    data = b'1.0,a ,2\n2.0, b,3\n3.0,a,4\n'
    path = tmp_path / 'x.csv'
    path.write_bytes(b'y,c,x\n' + data)
    schema = local_schema(str(path), categorical='c')
    fast = parse_chunk(Chunk(data, str(path), 6, 2), schema)
    careful = parse_chunk(Chunk(data + b'4.0,c,oops\n', str(path), 6, 2),
                          schema.__class__(**{**schema.__dict__, 'bad_rows': 'skip'}))
    assert fast.cats.tolist() == [['a'], ['b'], ['a']] == careful.cats.tolist()
    np.testing.assert_array_equal(fast.X, careful.X)
    assert len(careful.rejects) == 1


def test_levels_job_runs_by_hand(data, tmp_path):
    """`python jobs/levels.py --categorical region,grade data.csv` prints the levels; a Gram
    job run by hand takes them in --params (without them it refuses, never drops columns)."""
    import subprocess
    import sys
    from helpers import ROOT
    df, path, _ = data
    base = [sys.executable, '-r', 'inline', '--conf-path', str(ROOT / 'configs' / 'mrjob.conf'),
            '--categorical', 'region,grade', path]
    proc = subprocess.run(base[:1] + ['jobs/levels.py'] + base[1:], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    levels = json.loads(proc.stdout)['levels']
    assert levels == [['region', ['east', 'north', 'south', 'west']], ['grade', ['10', '8', '9']]]
    params = tmp_path / 'p.json'
    params.write_text(json.dumps({'levels': levels}))
    proc = subprocess.run(base[:1] + ['jobs/normal.py'] + base[1:] + ['--params', str(params)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(json.loads(proc.stdout)), ref) <= 1e-12
    proc = subprocess.run(base[:1] + ['jobs/normal.py'] + base[1:], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode != 0 and 'given no levels' in proc.stderr


def test_a_numeric_copy_of_a_dummy_is_refused_by_its_name(tmp_path):
    """The rank rule names one-hot columns as the summary does (statsmodels' names)."""
    rng = np.random.default_rng(9)
    region = rng.choice(['a', 'b', 'c'], size=60)
    path = tmp_path / 'trap.csv'
    with open(path, 'w') as f:
        f.write('y,d,region\n')
        for r in region:
            f.write('%r,%d,%s\n' % (float(rng.normal()), r == 'b', r))
    with pytest.raises(DistregError, match=r"column 'region\[T.b\]'"):
        run('numpy', str(path), method='qr', categorical='region')


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_part_files_with_reordered_columns(data, engine, tmp_path):
    """A part file naming the same columns in another order: its categorical column is
    found by name, as the label and the features are."""
    df, _, _ = data
    parts = tmp_path / 'parts'
    parts.mkdir()
    write_csv(parts / 'part-0', df.iloc[:700])
    write_csv(parts / 'part-1', df.iloc[700:], ('grade', 'region', 'x2', 'y', 'x1'))
    record, _ = run(engine, str(parts), categorical='region,grade')
    ref = lstsq(one_hot(df, ['region', 'grade']), df['y'].to_numpy())
    assert rel_diff(theta_of(record), ref) <= 1e-12


def test_parquet_predict_refuses_an_unseen_level_by_row_group_and_row(data, tmp_path):
    df, _, _ = data
    path = str(tmp_path / 'fit.parquet')
    table = {'y': df['y'].to_numpy(), 'x1': df['x1'].to_numpy(), 'x2': df['x2'].to_numpy()}
    pq.write_table(pa.table(dict(table, region=pa.array(df['region'].tolist()))), path)
    record, _ = run('numpy', path, categorical='region')
    rec = tmp_path / 'r.json'
    rec.write_text(json.dumps(record))
    region = df['region'].tolist()
    region[130] = 'middle'
    new = str(tmp_path / 'new.parquet')
    pq.write_table(pa.table(dict(table, region=pa.array(region).dictionary_encode())), new,
                   row_group_size=100)
    with pytest.raises(BadInputError, match=r"row group 1, row index 30 "
                                            r"\(row index 130 in the file\): "
                                            r"column 'region' is "
                                            r"'middle', a level not seen in training"):
        _predict('numpy', rec, new, tmp_path / 'p.txt')
    out = tmp_path / 'p.txt'
    assert main(['predict', str(rec), new, '--engine', 'mrjob-inline', '--out', str(out),
                 '--bad-rows', 'skip']) == 0
    lines = out.read_text().split('\n')
    assert lines[130] == '' and len(lines) == len(df) + 1
    ref = one_hot(df, ['region'], numeric=('x1', 'x2')) @ theta_of(record)
    keep = np.delete(np.arange(len(df)), 130)
    np.testing.assert_allclose([float(lines[i]) for i in keep], ref[keep], rtol=1e-12,
                               atol=1e-12)


def test_an_id_like_parquet_text_column_is_refused_with_what_to_do(tmp_path, capsys):
    """A text column of a Parquet input is categorical by default: one of distinct ids has
    more levels than --max-levels, which stops the fit with the way out (never a silently
    dropped column, never a 3,000-column design)."""
    rng = np.random.default_rng(5)
    path = str(tmp_path / 'ids.parquet')
    pq.write_table(pa.table({'y': rng.normal(size=3000), 'x1': rng.normal(size=3000),
                             'name': ['id%05d' % i for i in range(3000)]}), path)
    assert main(['fit', path, '--engine', 'numpy']) == 1
    err = capsys.readouterr().err
    assert "categorical column 'name' has more than 1000 levels" in err
    assert 'unless --features names the others' in err
    record, names = run('numpy', path, features='x1')
    assert names == ['x1']


@pytest.mark.parametrize('fmt', ['csv', 'parquet'])
def test_generated_table_with_a_region_and_weights(tmp_path, fmt):
    """distreg generate --categorical 4 --weights: the fit of its file (region categorical,
    w the weights) is lstsq on get_dummies of the same rows, and near the generator's
    effects."""
    from distreg.generate import generate
    path = str(tmp_path / ('t.' + fmt))
    truth = generate(4000, 2, path, seed=3, fmt=fmt, categorical=4, weights=True)
    df = (pd.read_csv(path) if fmt == 'csv' else pq.read_table(path).to_pandas())
    assert list(df.columns) == ['y', 'x1', 'x2', 'region', 'w']
    extra = {} if fmt == 'parquet' else {'categorical': 'region'}
    record, names = run('numpy', path, method='qr', weight_col='w', **extra)
    ref = lstsq(one_hot(df, ['region']), df['y'].to_numpy(), df['w'].to_numpy(float))
    assert rel_diff(theta_of(record), ref) <= 1e-12
    assert names[2:] == list(truth['categorical'])
    effects = dict(zip(names, record['coefficients']))
    for name, effect in truth['categorical'].items():
        assert abs(effects[name] - effect) < 0.05   # noise 0.1 over ~1,500 weighted rows a level


def test_compare_names_the_levels(data):
    from distreg.compare import compare
    df, csv, _ = data
    record, names = run('numpy', csv, categorical='region,grade')
    table, ok = compare([record, record])
    assert ok
    for name in names:
        assert '\n' + name + ' ' in table
