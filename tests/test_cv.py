"""``distreg cv`` (issue 23 item 2): k-fold cross-validation of ridge and lasso penalties from
one pass, against the same folds done by brute force here (K separate numpy lstsq fits,
scikit-learn's Lasso / ElasticNet at tol 1e-12 for the L1 penalties, held-out residuals row by
row); the fold of a row from a hash written here in plain Python integers; the refit record
against ``distreg fit`` at the best penalty. spark-rdd: tests/spark_jobs/test_spark_cv.py."""

import json
import os

import numpy as np
import pytest

from helpers import make_linear, write_csv
from distreg import cv, folds
from distreg.cli import main
from distreg.engine import make_engine
from distreg.fit import FitOptions, fit
from distreg.result import theta_of

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']
RIDGES = [0.0, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
MASK = (1 << 64) - 1


# --------------------------------------------------------------------------- the reference

def ref_mix(z):
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & MASK
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ref_fold(base_name, position, k):
    """The documented hash (distreg/folds.py), one row at a time in Python integers."""
    h = 0xCBF29CE484222325
    for byte in base_name.encode('utf-8'):
        h = ((h ^ byte) * 0x100000001B3) & MASK
    return ref_mix(h ^ ref_mix((position + 0x9E3779B97F4A7C15) & MASK)) % k


def ref_rows(paths, skip_bad=False):
    """The rows of CSV files with a header, one by one: (the file's base name, the byte offset
    of the row's line, its numbers); ``skip_bad``: lines that are not numbers left out."""
    rows = []
    for path in paths:
        data = open(path, 'rb').read()
        offset = 0
        for i, line in enumerate(data.split(b'\n')):
            if i > 0 and line.strip():
                try:
                    values = [float(v) for v in line.decode().split(',')]
                except ValueError:
                    if not skip_bad:
                        raise
                else:
                    rows.append((os.path.basename(path), offset, values))
            offset += len(line) + 1
    return rows


def ref_folds(rows, k):
    return np.array([ref_fold(name, pos, k) for name, pos, _ in rows])


def ref_cv(y, X, fold, k, ridge=0.0, l1=None, w=None, intercept=True):
    """Held-out RMSE and R² of each fold: fit on the other folds (weighted lstsq with the ridge
    as extra rows, or scikit-learn for L1), residuals of the fold's rows one by one."""
    w = np.ones(len(y)) if w is None else w
    rmse, r2 = [], []
    for j in range(k):
        tr, te = fold != j, fold == j
        theta = ref_fit(y[tr], X[tr], w[tr], ridge, l1, intercept)
        pred = X[te] @ theta[1:] + theta[0] if intercept else X[te] @ theta
        sse = sum(wi * (yi - pi) ** 2 for yi, pi, wi in zip(y[te], pred, w[te]))
        ybar = np.sum(w[te] * y[te]) / np.sum(w[te])
        rmse.append(np.sqrt(sse / np.sum(w[te])))
        r2.append(1 - sse / np.sum(w[te] * (y[te] - ybar) ** 2))
    return np.array(rmse), np.array(r2)


def ref_fit(y, X, w, ridge, l1, intercept):
    if l1 is not None:
        from sklearn.linear_model import ElasticNet, Lasso
        n = np.sum(w)
        if ridge:
            m = ElasticNet(alpha=(l1 + ridge) / n, l1_ratio=l1 / (l1 + ridge), tol=1e-12,
                           max_iter=1000000, fit_intercept=intercept)
        else:
            m = Lasso(alpha=l1 / n, tol=1e-12, max_iter=1000000, fit_intercept=intercept)
        m.fit(X, y, sample_weight=w)
        return np.r_[m.intercept_, m.coef_] if intercept else m.coef_
    A = np.column_stack([np.ones(len(y)), X]) if intercept else X
    sw = np.sqrt(w)
    A, b = A * sw[:, None], y * sw
    p = A.shape[1]
    if ridge:
        pen = np.sqrt(ridge) * np.eye(p)
        if intercept:
            pen = pen[1:]
        A, b = np.vstack([A, pen]), np.r_[b, np.zeros(len(pen))]
    return np.linalg.lstsq(A, b, rcond=None)[0]


def close(got, want, rtol):
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert np.max(np.abs(got - want) / np.abs(want)) <= rtol, (got, want)


def check_brute_force(record, files, k, ridges):
    """A ridge cv record against the brute force on the rows of ``files``: its folds' sizes,
    and each penalty's held-out RMSE and R² per fold, to 1e-10. Returns the mean RMSEs."""
    rows = ref_rows(files)
    table = np.array([r for _, _, r in rows])
    fold = ref_folds(rows, k)
    got = record['cv']
    # the fold assignment: the same rows in each fold as the reference hash puts there
    assert got['fold_rows'] == np.bincount(fold, minlength=k).tolist()
    means = []
    for i, ridge in enumerate(ridges):
        rmse, r2 = ref_cv(table[:, 0], table[:, 1:], fold, k, ridge=ridge)
        close(got['rmse'][i], rmse, 1e-10)
        close(got['r2'][i], r2, 1e-10)
        close(got['rmse_mean'][i], rmse.mean(), 1e-10)
        close(got['rmse_sd'][i], rmse.std(ddof=1), 1e-8)
        means.append(rmse.mean())
    return means


# --------------------------------------------------------------------------- data

@pytest.fixture(scope='module')
def data(tmp_path_factory):
    """3,000 rows in two part files of a directory, and the same rows in one file."""
    y, X = make_linear(3000, 4, seed=231, noise=0.5)
    y = y + 40.0   # a label far from 0: the held-out sums would cancel in y'y - 2 theta'X'y
    d = tmp_path_factory.mktemp('cv')
    os.makedirs(d / 'parts')
    write_csv(d / 'parts' / 'part-00000.csv', y[:1800], X[:1800])
    write_csv(d / 'parts' / 'part-00001.csv', y[1800:], X[1800:])
    one = write_csv(d / 'one.csv', y, X)
    return dict(dir=str(d / 'parts'), one=str(one), base=d,
                files=[str(d / 'parts' / 'part-00000.csv'), str(d / 'parts' / 'part-00001.csv')])


def run_cv(engine, path, k, ridges, l1s=None, **options):
    opts = FitOptions(method='normal', folds=k, **options).validate()
    eng = make_engine(engine, path)
    try:
        return cv.run(eng, opts, k, ridges, l1s), opts
    finally:
        eng.close()


# --------------------------------------------------------------------------- the hash

def test_row_keys_are_the_documented_hash():
    positions = [0, 1, 17, 123456789, 2 ** 40 + 3]
    for name in ('data.csv', 'part-00003', 'dätä.csv'):
        got = folds.folds_of(folds.row_keys('hdfs://nn:9000/user/x/' + name, positions), 7)
        assert got.tolist() == [ref_fold(name, p, 7) for p in positions]
    # a file's identity is its base name, whatever the engine calls it
    for other in ('/tmp/a/data.csv', 'file:///tmp/b/data.csv', 'hdfs:///x/data.csv', 'data.csv'):
        assert folds.file_identity(other) == 'data.csv'


def test_fold_of_a_parquet_row_is_its_row_group_and_row():
    pos = folds.parquet_positions(3, [0, 5])
    assert pos.tolist() == [3 * 2 ** 32, 3 * 2 ** 32 + 5]


# --------------------------------------------------------------------------- ridge

@pytest.mark.parametrize('engine', ENGINES)
def test_ridge_cv_is_k_separate_fits(data, engine):
    k = 5
    record, _ = run_cv(engine, data['dir'], k, RIDGES)
    means = check_brute_force(record, data['files'], k, RIDGES)
    assert record['cv']['best'] == RIDGES[int(np.argmin(means))]


def test_fold_assignment_is_the_same_on_every_engine(data):
    """The foldgram partial of each engine: the same rows in every fold (counts, and the
    label's sum per fold exactly as the reference's to 1e-13)."""
    k = 7
    rows = ref_rows(data['files'])
    fold = ref_folds(rows, k)
    y = np.array([r[0] for _, _, r in rows])
    want_sum = np.array([y[fold == j].sum() for j in range(k)])
    parts = {}
    for engine in ENGINES:
        eng = make_engine(engine, data['dir'])
        try:
            eng.prepare(FitOptions(method='normal', folds=k))
            parts[engine] = eng.aggregate('foldgram', {'folds': k})
        finally:
            eng.close()
    for engine, part in parts.items():
        assert part['fold_n'].tolist() == np.bincount(fold, minlength=k).tolist(), engine
        close(part['fold_mean'][:, -1] * part['fold_w'], want_sum, 1e-13)


def test_refit_is_the_fit_at_the_best_penalty(data, tmp_path):
    out = tmp_path / 'best.json'
    assert main(['cv', data['one'], '--engine', 'mrjob-local', '--folds', '4',
                 '--ridge', '1000,10,100,5000', '--out', str(out), '--quiet']) == 0
    record = json.load(open(out))
    best = record['cv']['best']
    assert best == 10.0 == record['cv']['values'][int(np.argmin(record['cv']['rmse_mean']))]
    want = fit(make_engine('numpy', data['one']), FitOptions(method='normal', ridge=best))
    close(theta_of(record), theta_of(want), 1e-12)
    for key in ('n_rows', 'n_bad_rows', 'method', 'model', 'design', 'converged'):
        assert record[key] == want[key]
    for key in ('r2', 'rmse', 'residual_sd'):
        close(record['stats'][key], want['stats'][key], 1e-12)
    close(record['stats']['std_errors'], want['stats']['std_errors'], 1e-10)
    assert len(record['timings']['pass_seconds']) == 1   # one pass over the data


def test_weighted_cv_is_weighted_fits(tmp_path):
    rng = np.random.default_rng(5)
    y, X = make_linear(1500, 3, seed=9)
    w = rng.integers(0, 4, 1500).astype(float)
    path = tmp_path / 'w.csv'
    with open(path, 'w') as f:
        f.write('y,x1,x2,x3,w\n')
        for yi, xi, wi in zip(y, X, w):
            f.write(','.join(repr(float(v)) for v in [yi, *xi, wi]) + '\n')
    k = 3
    record, _ = run_cv('numpy', str(path), k, [0.0, 5.0], weight_col='w')
    rows = ref_rows([str(path)])
    fold = ref_folds(rows, k)
    for i, ridge in enumerate([0.0, 5.0]):
        rmse, r2 = ref_cv(y, X, fold, k, ridge=ridge, w=w)
        close(record['cv']['rmse'][i], rmse, 1e-10)
        close(record['cv']['r2'][i], r2, 1e-10)


def test_no_intercept(data):
    record, _ = run_cv('numpy', data['one'], 3, [0.0, 1.0], intercept=False)
    rows = ref_rows([data['one']])
    table = np.array([r for _, _, r in rows])
    fold = ref_folds(rows, 3)
    for i, ridge in enumerate([0.0, 1.0]):
        rmse, _ = ref_cv(table[:, 0], table[:, 1:], fold, 3, ridge=ridge, intercept=False)
        close(record['cv']['rmse'][i], rmse, 1e-10)


# --------------------------------------------------------------------------- lasso

@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_lasso_path_is_scikit_learn_on_each_fold(data, engine):
    k = 3
    record, _ = run_cv(engine, data['one'], k, [0.0], 'path')
    got = record['cv']
    rows = ref_rows([data['one']])
    table = np.array([r for _, _, r in rows])
    y, X = table[:, 0], table[:, 1:]
    # l1_max: the smallest L1 that zeroes every coefficient (centred X'y of all the rows)
    l1_max = np.max(np.abs((X - X.mean(axis=0)).T @ (y - y.mean())))
    close(got['values'][0], l1_max, 1e-12)
    close(got['values'], np.geomspace(l1_max, l1_max * 1e-4, 100), 1e-12)
    fold = ref_folds(rows, k)
    # every penalty of the path on numpy; a spread of them on mrjob-local
    for i in range(100) if engine == 'numpy' else (0, 1, 30, 60, 99):
        rmse, r2 = ref_cv(y, X, fold, k, l1=got['values'][i])
        close(got['rmse'][i], rmse, 1e-10)
        close(got['r2'][i], r2, 1e-10)
    best = got['best']
    want = fit(make_engine('numpy', data['one']), FitOptions(method='normal', l1=best))
    close(theta_of(record), theta_of(want), 1e-12)


def test_elastic_net_list(data):
    k = 3
    record, _ = run_cv('numpy', data['one'], k, [50.0], [10.0, 300.0, 1000.0])
    rows = ref_rows([data['one']])
    table = np.array([r for _, _, r in rows])
    fold = ref_folds(rows, k)
    for i, l1 in enumerate([10.0, 300.0, 1000.0]):
        rmse, _ = ref_cv(table[:, 0], table[:, 1:], fold, k, ridge=50.0, l1=l1)
        close(record['cv']['rmse'][i], rmse, 1e-10)


# --------------------------------------------------------------------------- bad input

def run_main(args, capsys):
    code = main(args)
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return code, err


@pytest.mark.parametrize('args, message', [
    (['--folds', '5', '--l1', 'path', '--method', 'gd'],
     'needs --model linear and --method normal'),
    (['--folds', '1'], '--folds must be an integer >= 2'),
    (['--folds', '5', '--ridge', '0,x'], '--ridge takes numbers separated by commas'),
    (['--folds', '5', '--ridge', '0,-1'], 'every penalty must be a finite number >= 0'),
    (['--folds', '5', '--ridge', '0,1', '--l1', '1,2'], 'give one --ridge'),
    (['--folds', '5', '--l1', 'lasso'], "--l1 takes numbers separated by commas or 'path'"),
    (['--folds', '5', '--model', 'logistic'], 'needs --model linear'),
])
def test_usage_errors(data, capsys, args, message):
    code, err = run_main(['cv', data['one'], '--engine', 'numpy'] + args, capsys)
    assert code == 1 and message in err


def test_more_folds_than_rows_and_an_empty_fold(tmp_path, capsys):
    y, X = make_linear(6, 2, seed=1)
    path = write_csv(tmp_path / 'six.csv', y, X)
    code, err = run_main(['cv', str(path), '--engine', 'numpy', '--folds', '7'], capsys)
    assert code == 1 and '--folds 7 is more than the 6 rows' in err
    code, err = run_main(['cv', str(path), '--engine', 'numpy', '--folds', '6', '--ridge', '1'],
                         capsys)
    fold = ref_folds(ref_rows([str(path)]), 6)
    empty = min(set(range(6)) - set(fold.tolist()))
    assert code == 1 and 'fold %d of 6 has no rows' % empty in err


def test_singular_training_folds_say_so(tmp_path, capsys):
    path = tmp_path / 'dup.csv'
    with open(path, 'w') as f:
        f.write('y,a,b\n')
        for i in range(50):
            f.write('%d,%d,%d\n' % (i % 7, i, 2 * i))
    code, err = run_main(['cv', str(path), '--engine', 'numpy', '--folds', '3'], capsys)
    assert code == 1 and 'singular at --ridge 0.0' in err
    assert main(['cv', str(path), '--engine', 'numpy', '--folds', '3', '--ridge', '1',
                 '--quiet']) == 0


# --------------------------------------------------------------------------- Parquet

def write_parquet_parts(d, y, X, rows_per_group=700):
    """Two Parquet part files of row groups of ``rows_per_group`` rows; the reference's rows
    in file, row group, row order with each row's (base name, row group, row)."""
    from distreg import parquet
    os.makedirs(d, exist_ok=True)
    names = ['y'] + ['x%d' % j for j in range(1, X.shape[1] + 1)]
    cut = len(y) * 3 // 5
    where = []
    for i, (a, b) in enumerate([(0, cut), (cut, len(y))]):
        name = 'part-%05d.parquet' % i
        with parquet.Writer(os.path.join(d, name), names) as w:
            for g, s in enumerate(range(a, b, rows_per_group)):
                e = min(b, s + rows_per_group)
                w.write([y[s:e]] + [X[s:e, j] for j in range(X.shape[1])])
                where.extend((name, g, r) for r in range(e - s))
    return where


@pytest.mark.parametrize('engine', ENGINES)
def test_parquet_folds_are_row_group_and_row(tmp_path, engine):
    y, X = make_linear(2500, 3, seed=77, noise=0.3)
    d = str(tmp_path / 'pq')
    where = write_parquet_parts(d, y, X)
    k = 4
    fold = np.array([ref_fold(name, (g << 32) + r, k) for name, g, r in where])
    record, _ = run_cv(engine, d, k, [0.0, 3.0])
    assert record['cv']['fold_rows'] == np.bincount(fold, minlength=k).tolist()
    for i, ridge in enumerate([0.0, 3.0]):
        rmse, r2 = ref_cv(y, X, fold, k, ridge=ridge)
        close(record['cv']['rmse'][i], rmse, 1e-10)
        close(record['cv']['r2'][i], r2, 1e-10)


# --------------------------------------------------------------------------- bad rows, LibSVM

@pytest.mark.parametrize('engine', ENGINES)
def test_skipped_bad_rows_leave_the_other_rows_in_their_folds(tmp_path, engine):
    """--bad-rows skip: a rejected line takes no fold; every other row keeps its offset's."""
    y, X = make_linear(2000, 3, seed=4)
    path = write_csv(tmp_path / 'bad.csv', y, X)
    lines = open(path).read().splitlines(keepends=True)
    bad_at = [5, 901, 1500]
    for i in bad_at:
        lines[i] = lines[i].replace(',', ',oops,', 1)
    open(path, 'w').write(''.join(lines))
    k = 4
    record, _ = run_cv(engine, path, k, [0.0, 1.0], bad_rows='skip')
    rows = ref_rows([path], skip_bad=True)
    assert len(rows) == 2000 - len(bad_at) == record['n_rows']
    assert record['n_bad_rows'] == len(bad_at)
    table = np.array([r for _, _, r in rows])
    fold = ref_folds(rows, k)
    assert record['cv']['fold_rows'] == np.bincount(fold, minlength=k).tolist()
    rmse, _ = ref_cv(table[:, 0], table[:, 1:], fold, k, ridge=1.0)
    close(record['cv']['rmse'][1], rmse, 1e-10)


def test_libsvm_rows_by_their_offsets(tmp_path):
    from helpers import read_libsvm
    y, X = make_linear(1200, 3, seed=8)
    path = tmp_path / 'd.svm'
    offsets, offset = [], 0
    with open(path, 'w') as f:
        for yi, xi in zip(y, X):
            line = '%r %s\n' % (float(yi), ' '.join('%d:%r' % (j + 1, float(v))
                                                  for j, v in enumerate(xi) if j != 1 or v > 0))
            offsets.append(offset)
            offset += len(line.encode())
            f.write(line)
    k = 3
    record, _ = run_cv('mrjob-local', str(path), k, [0.5])
    Xr, yr = read_libsvm(path, width=3)
    fold = np.array([ref_fold('d.svm', o, k) for o in offsets])
    rmse, _ = ref_cv(yr, Xr, fold, k, ridge=0.5)
    close(record['cv']['rmse'][0], rmse, 1e-10)


def test_polynomial_design(data):
    record, _ = run_cv('numpy', data['one'], 3, [0.0, 2.0], poly_degree=2)
    rows = ref_rows([data['one']])
    table = np.array([r for _, _, r in rows])
    X = table[:, 1:]
    P = np.column_stack([c for j in range(X.shape[1]) for c in (X[:, j], X[:, j] ** 2)])
    fold = ref_folds(rows, 3)
    for i, ridge in enumerate([0.0, 2.0]):
        rmse, _ = ref_cv(table[:, 0], P, fold, 3, ridge=ridge)
        close(record['cv']['rmse'][i], rmse, 1e-10)


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_categorical_design(tmp_path, engine):
    """--categorical region: the one-hot columns (first level dropped) in every fold's
    statistics, against the brute force on pandas' get_dummies of the same rows."""
    import pandas as pd
    rng = np.random.default_rng(233)
    n = 1500
    region = rng.choice(['north', 'south', 'east', 'west'], n)
    X = rng.normal(size=(n, 2))
    effect = {'east': 0.0, 'north': 1.0, 'south': -2.0, 'west': 0.5}
    y = 3 + X @ [2.0, -1.0] + np.array([effect[r] for r in region]) + rng.normal(size=n)
    path = tmp_path / 'cat.csv'
    lines = ['y,x1,region,x2'] + ['%r,%r,%s,%r' % (float(y[i]), float(X[i, 0]), region[i],
                                                   float(X[i, 1])) for i in range(n)]
    path.write_text('\n'.join(lines) + '\n')
    record, _ = run_cv(engine, str(path), 4, [0.0, 3.0], categorical='region')
    offsets = np.cumsum([0] + [len(line) + 1 for line in lines])[1:-1]
    fold = np.array([ref_fold('cat.csv', int(o), 4) for o in offsets])
    dummies = pd.get_dummies(pd.Series(region), drop_first=True, dtype=float).to_numpy()
    for i, ridge in enumerate([0.0, 3.0]):
        rmse, _ = ref_cv(y, np.column_stack([X, dummies]), fold, 4, ridge=ridge)
        close(record['cv']['rmse'][i], rmse, 1e-10)
    assert record['design']['levels'] == [['region', ['east', 'north', 'south', 'west']]]
