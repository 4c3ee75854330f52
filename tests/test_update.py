"""Sufficient statistics (issue 23 item 1): --keep-stats, ``distreg update`` and ``distreg
merge`` give the record of a fit of all the rows, reading only the new ones (update) or none
(merge); the reference is the fit of all the rows, computed here with the same method, and
numpy's lstsq on all the rows."""

import json
import os

import numpy as np
import pytest

from helpers import lstsq, make_linear, write_csv
from distreg import update
from distreg.cli import main, make_engine
from distreg.errors import DistregError
from distreg.fit import FitOptions, fit, seal_stats
from distreg.result import dumps, theta_of

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.fixture(scope='module')
def parts(tmp_path_factory):
    """20,000 rows as one file, and as three disjoint files (old 90 %, new 5 %, 5 %)."""
    y, X = make_linear(20000, 5, seed=23)
    d = tmp_path_factory.mktemp('update')
    cuts = [0, 18000, 19000, 20000]
    files = [write_csv(d / ('part%d.csv' % i), y[a:b], X[a:b])
             for i, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    return dict(all=write_csv(d / 'all.csv', y, X), parts=files, y=y, X=X, dir=d)


def as_json(record):
    """The record as a file holds it (the statistics' floats round-trip exactly)."""
    return json.loads(dumps(record))


def check_same_fit(got, want, se_rtol=1e-12):
    assert got['n_rows'] == want['n_rows'] and got['n_bad_rows'] == want['n_bad_rows']
    assert rel(theta_of(got), theta_of(want)) <= 1e-12
    np.testing.assert_allclose(got['stats']['std_errors'], want['stats']['std_errors'],
                               rtol=se_rtol)
    np.testing.assert_allclose(got['stats']['r2'], want['stats']['r2'], rtol=1e-12)


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_update_with_new_rows_is_the_fit_of_all_rows(parts, engine, method):
    full = fit(make_engine('numpy', parts['all']), FitOptions(method=method))
    old = as_json(fit(make_engine('numpy', parts['parts'][0]),
                      FitOptions(method=method, keep_stats=True)))
    passes = []
    eng = make_engine(engine, parts['parts'][1])
    aggregate = eng.aggregate
    eng.aggregate = lambda name, params: passes.append(name) or aggregate(name, params)
    new = update.update(old, 'old.json', eng)
    assert passes == [{'normal': 'gram', 'qr': 'tsqr'}[method]]   # one pass, new rows only
    assert new['n_rows'] == 19000
    new = update.update(as_json(new), 'new.json', make_engine(engine, parts['parts'][2]))
    # normal's residual sum of squares is y'y - 2 theta'X'y + theta'X'X theta: its last
    # digits follow the order of the sums, which an update changes
    check_same_fit(new, full, se_rtol=1e-12 if method == 'qr' else 1e-10)
    assert rel(theta_of(new), lstsq(parts['y'], parts['X'])) <= 1e-10


def test_merge_records_of_different_engines(parts):
    engines = ['numpy', 'mrjob-inline', 'mrjob-local']
    records = [as_json(fit(make_engine(e, p), FitOptions(method='qr', keep_stats=True)))
               for e, p in zip(engines, parts['parts'])]
    merged = update.merge(records, ['a.json', 'b.json', 'c.json'])
    full = fit(make_engine('numpy', parts['all']), FitOptions(method='qr'))
    check_same_fit(merged, full)
    assert merged['engine'] == 'merge(mrjob-inline,mrjob-local,numpy)'
    # and a merged record merges and updates again
    assert update.merge([records[0], as_json(update.merge(records[1:], ['b', 'c']))],
                        ['a', 'bc'])['n_rows'] == 20000


def test_the_cli_fits_updates_and_merges(parts, tmp_path, capsys):
    old, new, merged = (str(tmp_path / n) for n in ('old.json', 'new.json', 'merged.json'))
    assert main(['fit', parts['parts'][0], '--engine', 'numpy', '--method', 'qr',
                 '--keep-stats', '--out', old, '--quiet']) == 0
    assert main(['update', old, parts['parts'][1], '--engine', 'mrjob-inline',
                 '--out', new]) == 0
    assert 'Rows used:      19000' in capsys.readouterr().out
    other = str(tmp_path / 'other.json')
    assert main(['fit', parts['parts'][2], '--engine', 'numpy', '--method', 'qr',
                 '--keep-stats', '--out', other, '--quiet']) == 0
    assert main(['merge', new, other, '--out', merged]) == 0
    full = fit(make_engine('numpy', parts['all']), FitOptions(method='qr'))
    with open(merged) as f:
        check_same_fit(json.load(f), full)


def test_rows_counted_twice_are_refused(parts, tmp_path, capsys):
    """A record keeps the files its statistics hold (path, size, time): an update with a
    file it holds, or a merge of records that share one (a record with its own update, a
    record twice, two globs over one file), would count rows twice: refused, naming it."""
    old = str(tmp_path / 'old.json')
    assert main(['fit', parts['parts'][0], '--engine', 'numpy', '--method', 'normal',
                 '--keep-stats', '--out', old, '--quiet']) == 0
    with open(old) as f:
        sources = json.load(f)['sufficient_stats']['sources']
    real = [os.path.realpath(p) for p in parts['parts']]
    assert [s['file'] for s in sources] == real[:1]
    assert main(['update', old, parts['parts'][0], '--engine', 'mrjob-inline']) == 1
    err = capsys.readouterr().err
    assert 'already holds the rows of %s' % real[0] in err
    assert 'count them twice' in err
    new = str(tmp_path / 'new.json')
    assert main(['update', old, parts['parts'][1], '--engine', 'numpy', '--out', new,
                 '--quiet']) == 0
    for records in ([old, new], [old, old]):
        assert main(['merge'] + records + ['--out', str(tmp_path / 'm.json')]) == 1
        assert 'both hold the rows of %s' % real[0] in capsys.readouterr().err
    # a glob over the parts (part0.csv among them) and part0.csv alone: the file is shared
    glob_rec = str(tmp_path / 'glob.json')
    assert main(['fit', str(parts['dir'] / 'part[02].csv'), '--engine', 'numpy', '--method',
                 'normal', '--keep-stats', '--out', glob_rec, '--quiet']) == 0
    assert main(['merge', old, glob_rec]) == 1
    capsys.readouterr()
    # disjoint files merge, and the merged record holds both
    other = str(tmp_path / 'other.json')
    assert main(['fit', parts['parts'][2], '--engine', 'numpy', '--method', 'normal',
                 '--keep-stats', '--out', other, '--quiet']) == 0
    merged = str(tmp_path / 'merged.json')
    assert main(['merge', new, other, '--out', merged, '--quiet']) == 0
    with open(merged) as f:
        assert [s['file'] for s in json.load(f)['sufficient_stats']['sources']] == real


@pytest.mark.parametrize('command', ['update', 'merge', 'predict', 'evaluate'])
def test_a_record_that_cannot_be_read_is_a_clear_error(parts, tmp_path, capsys, command):
    """A missing file, a directory, a CSV, bytes that are not UTF-8, JSON that is not an
    object: one line naming the file (was a FileNotFoundError or JSONDecodeError traceback
    in update, merge and evaluate)."""
    (tmp_path / 'bytes.json').write_bytes(b'\xff\xfe\x00')
    (tmp_path / 'five.json').write_text('5')
    cases = {str(tmp_path / 'none.json'): 'cannot read the record',
             str(tmp_path): 'cannot read the record',
             parts['parts'][0]: 'it is not JSON',
             str(tmp_path / 'bytes.json'): 'it is not JSON',
             str(tmp_path / 'five.json'): 'holds a JSON int'}
    for record, why in cases.items():
        args = {'update': ['update', record, parts['parts'][1], '--engine', 'numpy'],
                'merge': ['merge', record, record],
                'predict': ['predict', record, parts['parts'][1], '--engine', 'numpy',
                            '--out', str(tmp_path / 'p.txt')],
                'evaluate': ['evaluate', record, parts['parts'][1], '--engine', 'numpy']}
        assert main(args[command]) == 1, record
        err = capsys.readouterr().err
        assert why in err and record in err and 'Traceback' not in err, (record, err)


def test_statistics_changed_after_the_fit_are_refused(parts, tmp_path, capsys):
    """A record's statistics are the answer's only source: a number edited in them (one
    entry of X'X, n, a feature's name) would be merged into a wrong answer with exit 0 (it
    was: shapes were never checked, smaller matrices padded), and a damaged structure was a
    KeyError or TypeError traceback. The digest distreg writes with them is checked first."""
    paths = {name: str(tmp_path / (name + '.json')) for name in ('a', 'b')}
    for name, data in zip('ab', parts['parts']):
        assert main(['fit', data, '--engine', 'numpy', '--method', 'normal', '--keep-stats',
                     '--out', paths[name], '--quiet']) == 0
    with open(paths['a']) as f:
        good = json.load(f)

    def xtx_entry(r):
        r['sufficient_stats']['partial']['xtx']['f8'][1][2] *= 1.0001

    def n(r):
        r['sufficient_stats']['partial']['n'] += 1

    def name(r):
        r['design']['feature_names'] = ['x9'] + r['design']['feature_names'][1:]

    def xty_short(r):
        r['sufficient_stats']['partial']['xty']['f8'] = [1.0, 2.0]

    def no_partial(r):
        del r['sufficient_stats']['partial']

    def no_digest(r):
        del r['sufficient_stats']['digest']

    def a_list(r):
        r['sufficient_stats'] = [1]

    edits = [(xtx_entry, 'digest does not match'), (n, 'digest does not match'),
             (name, 'digest does not match'), (xty_short, 'digest does not match'),
             (no_partial, 'digest does not match'), (no_digest, 'without their digest'),
             (a_list, 'without their digest')]
    for edit, why in edits:
        record = json.loads(json.dumps(good))
        edit(record)
        damaged = tmp_path / 'damaged.json'
        damaged.write_text(json.dumps(record))
        for args in (['update', str(damaged), parts['parts'][1], '--engine', 'numpy'],
                     ['merge', str(damaged), paths['b']], ['merge', paths['b'], str(damaged)]):
            assert main(args + ['--out', str(tmp_path / 'out.json')]) == 1, edit.__name__
            err = capsys.readouterr().err
            assert why in err and str(damaged) in err and 'Traceback' not in err, err
            assert not (tmp_path / 'out.json').exists()
    # the record as written (and read back) passes its own check
    assert main(['merge', paths['a'], paths['b'], '--out', str(tmp_path / 'out.json'),
                 '--quiet']) == 0


def _regions(path, levels, n, seed):
    """A Parquet table whose text column ``region`` (categorical by its type) has ``levels``."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = np.random.default_rng(seed)
    region = rng.choice(levels, n)
    x = rng.normal(size=n)
    y = 1 + 2 * x + np.array([' abcd'.index(r) for r in region]) + rng.normal(size=n) * 0.1
    pq.write_table(pa.table({'y': y, 'x': x, 'region': region}), str(path))
    return str(path)


def test_categorical_columns_keep_no_statistics(parts, tmp_path, capsys):
    """A Parquet text column is categorical without --categorical. Its statistics were kept,
    and an update with rows of other levels (b, c, d against a, b, c) merged two different
    one-hot encodings with exit 0: a wrong answer. Now refused at --keep-stats, and a record
    kept before (levels in its design) is refused by update and merge."""
    old = _regions(tmp_path / 'old.parquet', ['a', 'b', 'c'], 500, 1)
    new = _regions(tmp_path / 'new.parquet', ['b', 'c', 'd'], 100, 2)
    assert main(['fit', old, '--engine', 'numpy', '--method', 'normal', '--keep-stats',
                 '--out', str(tmp_path / 'old.json')]) == 1
    err = capsys.readouterr().err
    assert 'has categorical columns (region)' in err and 'Traceback' not in err
    assert not (tmp_path / 'old.json').exists()
    # a record kept before the refusal: statistics and levels
    kept = as_json(fit(make_engine('numpy', parts['parts'][0]),
                       FitOptions(method='normal', keep_stats=True)))
    kept['design']['levels'] = [['region', ['a', 'b', 'c']]]
    seal_stats(kept)  # as that distreg sealed it
    record = tmp_path / 'kept.json'
    record.write_text(dumps(kept))
    for args in (['update', str(record), new, '--engine', 'numpy'],
                 ['merge', str(record), str(record)]):
        assert main(args) == 1
        assert 'has categorical columns (region)' in capsys.readouterr().err


def test_update_of_csv_statistics_with_parquet_rows_is_refused(parts, tmp_path, capsys):
    old = str(tmp_path / 'old.json')
    assert main(['fit', parts['parts'][0], '--engine', 'numpy', '--method', 'normal',
                 '--keep-stats', '--out', old, '--quiet']) == 0
    rows = _regions(tmp_path / 'rows.parquet', ['a'], 50, 3)
    assert main(['update', old, rows, '--engine', 'numpy']) == 1
    err = capsys.readouterr().err
    assert 'fitted on csv input' in err and 'is Parquet' in err and 'PAR1' not in err


@pytest.fixture(scope='module')
def others(parts):
    """Records and inputs that must not merge with parts[0]'s qr record."""
    d = parts['dir']
    y, X = parts['y'][:500], parts['X'][:500]
    renamed = d / 'renamed.csv'
    lines = open(parts['parts'][1]).read().splitlines()
    renamed.write_text('\n'.join([lines[0].replace('x1', 'z1')] + lines[1:]) + '\n')
    narrow = write_csv(d / 'narrow.csv', y, X[:, :4])
    return dict(renamed=str(renamed), narrow=narrow)


def _qr(path, **options):
    return as_json(fit(make_engine('numpy', path), FitOptions(method='qr', keep_stats=True,
                                                              **options)))


@pytest.mark.parametrize('case, message', [
    ('renamed', "different designs \\(feature_names"),
    ('narrow', 'different designs'),
])
def test_update_refuses_new_rows_of_another_design(parts, others, case, message):
    old = _qr(parts['parts'][0])
    with pytest.raises(DistregError, match=message):
        update.update(old, 'old.json', make_engine('numpy', others[case]))


@pytest.mark.parametrize('options, message', [
    (dict(poly_degree=2), 'poly_degree 1 against 2'),
    (dict(intercept=False), 'intercept True against False'),
    (dict(ridge=0.5), 'ridge 0.0 against 0.5'),
])
def test_merge_refuses_records_fitted_differently(parts, options, message):
    with pytest.raises(DistregError, match=message):
        update.merge([_qr(parts['parts'][0]), _qr(parts['parts'][1], **options)], ['a', 'b'])


def test_merge_refuses_normal_with_qr_and_records_without_statistics(parts):
    normal = as_json(fit(make_engine('numpy', parts['parts'][1]),
                         FitOptions(method='normal', keep_stats=True)))
    with pytest.raises(DistregError, match="method 'qr' against 'normal'"):
        update.merge([_qr(parts['parts'][0]), normal], ['a', 'b'])
    plain = as_json(fit(make_engine('numpy', parts['parts'][1]), FitOptions(method='qr')))
    with pytest.raises(DistregError, match='b has no sufficient statistics: fit it with '
                                           '--keep-stats'):
        update.merge([_qr(parts['parts'][0]), plain], ['a', 'b'])
    with pytest.raises(DistregError, match='two records or more'):
        update.merge([_qr(parts['parts'][0])], ['a'])


def test_keep_stats_needs_a_closed_form(parts):
    with pytest.raises(DistregError, match='--keep-stats keeps the statistics of a closed form'):
        fit(make_engine('numpy', parts['parts'][0]), FitOptions(method='lbfgs', keep_stats=True))


def test_a_robust_record_is_not_updated(parts):
    robust = _qr(parts['parts'][0], cov='HC1')
    with pytest.raises(DistregError, match='--cov HC1, whose standard errors need the residuals'):
        update.update(robust, 'r.json', make_engine('numpy', parts['parts'][1]))


def test_cli_update_of_a_record_without_statistics_fails_before_reading(parts, tmp_path,
                                                                         capsys):
    plain = str(tmp_path / 'plain.json')
    assert main(['fit', parts['parts'][0], '--engine', 'numpy', '--method', 'qr', '--quiet',
                 '--out', plain]) == 0
    capsys.readouterr()
    assert main(['update', plain, str(tmp_path / 'missing.csv'), '--engine', 'numpy']) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'has no sufficient statistics' in err


def test_update_and_merge_keep_the_weights(tmp_path):
    """A weighted record updates with weighted rows into the weighted fit of all of them, and
    refuses to merge with an unweighted one."""
    rng = np.random.default_rng(7)
    y, X = make_linear(3000, 3, seed=8)
    w = rng.integers(0, 4, size=3000).astype(float)

    def write(name, rows):
        path = tmp_path / name
        with open(path, 'w') as f:
            f.write('y,x1,x2,x3,w\n')
            for i in rows:
                f.write(','.join(repr(float(v)) for v in (y[i], *X[i], w[i])) + '\n')
        return str(path)

    full = fit(make_engine('numpy', write('all.csv', range(3000))),
               FitOptions(method='qr', weight_col='w'))
    old = as_json(fit(make_engine('numpy', write('old.csv', range(2500))),
                      FitOptions(method='qr', weight_col='w', keep_stats=True)))
    new = update.update(old, 'old.json', make_engine('mrjob-inline',
                                                     write('new.csv', range(2500, 3000))))
    check_same_fit(new, full)
    assert new['sum_weights'] == full['sum_weights'] == w.sum()
    assert new['n_rows_zero_weight'] == full['n_rows_zero_weight'] == int((w == 0).sum())
    plain = write_csv(tmp_path / 'u.csv', y[2500:], X[2500:])      # the same features
    unweighted = as_json(fit(make_engine('numpy', plain), FitOptions(method='qr',
                                                                     keep_stats=True)))
    with pytest.raises(DistregError, match="weight_col 'w' against None"):
        update.merge([old, unweighted], ['old.json', 'u.json'])
