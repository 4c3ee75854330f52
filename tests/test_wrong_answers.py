"""The probe's wrong answers (issue 11): part files with other headers, qr on rank-deficient
columns, a failing fit that truncated --out; each on numpy and the mrjob engines."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import ROOT, lstsq, make_linear
from distreg.cli import main, make_engine
from distreg.errors import DistregError, RankDeficientError, SingularMatrixError
from distreg.fit import FitOptions, fit
from distreg.loader import Chunk, Schema, check_headers, local_schema, parse_chunk

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


def write_rows(path, names, columns, rows):
    """A CSV with header ``names`` whose columns are ``columns`` (arrays) restricted to ``rows``."""
    with open(path, 'w') as f:
        f.write(','.join(names) + '\n')
        for i in rows:
            f.write(','.join(repr(float(c[i])) for c in columns) + '\n')
    return str(path)


@pytest.fixture(scope='module')
def data():
    y, X = make_linear(400, 3, seed=11)
    return y, X


@pytest.fixture
def reordered(tmp_path, data):
    """Two part files: ``y,a,b,c`` and the same columns as ``c,y,b,a``."""
    y, X = data
    a, b, c = X.T
    d = tmp_path / 'parts'
    d.mkdir()
    write_rows(d / 'part-0.csv', ['y', 'a', 'b', 'c'], [y, a, b, c], range(0, 150))
    write_rows(d / 'part-1.csv', ['c', 'y', 'b', 'a'], [c, y, b, a], range(150, 400))
    return str(d)


# --------------------------------------------------------------------------- headers

@pytest.mark.parametrize('engine', ENGINES)
def test_part_files_with_columns_in_another_order_are_read_by_name(reordered, data, engine):
    y, X = data
    record = fit(make_engine(engine, reordered), FitOptions(method='qr'))
    expected = lstsq(y, X)
    got = np.array([record['intercept']] + record['coefficients'])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('engine', ENGINES)
def test_label_by_name_follows_each_file(reordered, data, engine):
    # label 'c', which is first in part-1 and last in part-0
    y, X = data
    record = fit(make_engine(engine, reordered), FitOptions(label_col='c'))
    a, b, c = X.T
    expected = lstsq(c, np.column_stack([y, a, b]))
    got = np.array([record['intercept']] + record['coefficients'])
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('engine', ENGINES)
def test_part_files_with_other_columns_are_an_error_naming_both(tmp_path, data, engine):
    y, X = data
    a, b, c = X.T
    d = tmp_path / 'parts'
    d.mkdir()
    first = write_rows(d / 'part-0.csv', ['y', 'a', 'b', 'c'], [y, a, b, c], range(10))
    other = write_rows(d / 'part-1.csv', ['y', 'a', 'b', 'z'], [y, a, b, c], range(10, 20))
    with pytest.raises(DistregError) as err:
        fit(make_engine(engine, str(d)), FitOptions())
    message = str(err.value)
    assert first in message and other in message and 'y,a,b,z' in message


def test_a_header_where_the_first_file_has_none_is_refused(tmp_path):
    d = tmp_path / 'parts'
    d.mkdir()
    (d / 'part-0.csv').write_text('1,2,3\n4,5,7\n')
    (d / 'part-1.csv').write_text('y,b,a\n1,2,3\n')
    with pytest.raises(DistregError, match='has a header .* has none'):
        local_schema(str(d))


def test_a_task_never_reads_a_file_by_position_when_its_header_differs():
    # a task that was not told about a reordered file (no entry in the schema) refuses it
    schema = check_headers(Schema('csv', 3, 0, ('y', 'a', 'b')), [])
    chunk = Chunk(b'y,b,a\n1,2,3\n', 'x.csv')
    from distreg.loader import _drop_header
    with pytest.raises(DistregError, match='does not match the columns'):
        parse_chunk(_drop_header(chunk), schema)


def test_reordered_schema_travels_as_json(reordered):
    schema = local_schema(reordered)
    assert schema.files
    again = Schema.from_json(schema.to_json())
    assert again == schema
    own = again.for_file('file://' + os.path.abspath(reordered) + '/part-1.csv')
    assert own.names == ('c', 'y', 'b', 'a') and own.label == 1 and own.columns == (1, 3, 2, 0)


# --------------------------------------------------------------------------- qr rank

@pytest.fixture(scope='module')
def rank_files(tmp_path_factory):
    rng = np.random.default_rng(4)
    n = 300
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = 1 + 2 * a - b + 0.1 * rng.normal(size=n)
    d = tmp_path_factory.mktemp('rank')
    return dict(
        dup=write_rows(d / 'dup.csv', ['y', 'a', 'b', 'a_again'], [y, a, b, a], range(n)),
        const=write_rows(d / 'const.csv', ['y', 'a', 'k', 'b'], [y, a, np.full(n, 5.0), b],
                         range(n)),
        combo=write_rows(d / 'combo.csv', ['y', 'a', 'b', 's'], [y, a, b, a - 3 * b],
                         range(n)),
        tiny=write_rows(d / 'tiny.csv', ['y', 'a', 'tiny'],
                        [y, a, rng.uniform(1, 2, size=n) * 1e-320], range(n)),
        wide=write_rows(d / 'wide.csv', ['y'] + ['x%d' % j for j in range(8)],
                        list(rng.normal(size=(9, 5))), range(5)))


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('case, pattern', [
    ('dup', "column 'a_again' is a linear combination of the columns before it"),
    ('const', "column 'k' is constant"),
    ('combo', "column 's' is a linear combination"),
])
def test_qr_refuses_rank_deficient_columns_by_name(rank_files, engine, case, pattern):
    with pytest.raises(RankDeficientError) as err:
        fit(make_engine(engine, rank_files[case]), FitOptions(method='qr'))
    assert pattern in str(err.value) and '--ridge' in str(err.value)
    assert 'all-zero' not in str(err.value)


@pytest.mark.parametrize('engine', ENGINES)
def test_a_subnormal_column_is_named_not_called_zero(rank_files, engine):
    # refused either as subnormal (too few digits) or as a coefficient beyond float64
    with pytest.raises(DistregError) as err:
        fit(make_engine(engine, rank_files['tiny']), FitOptions(method='qr'))
    assert "column 'tiny'" in str(err.value) and 'zero' not in str(err.value)


@pytest.mark.parametrize('engine', ENGINES)
def test_qr_says_fewer_rows_than_coefficients_after_the_first_pass(rank_files, engine):
    engine = make_engine(engine, rank_files['wide'])
    passes = []
    aggregate = engine.aggregate
    engine.aggregate = lambda name, params: passes.append(name) or aggregate(name, params)
    with pytest.raises(SingularMatrixError, match='5 rows but the model has 9 coefficients'):
        fit(engine, FitOptions(method='qr'))
    assert passes == ['tsqr']


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
def test_qr_with_a_ridge_still_answers_a_duplicated_column(rank_files, engine):
    record = fit(make_engine(engine, rank_files['dup']), FitOptions(method='qr', ridge=1.0))
    # the penalty splits the weight equally between the two equal columns
    assert record['coefficients'][0] == pytest.approx(record['coefficients'][2], rel=1e-9)


# --------------------------------------------------------------------------- --out

@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_failing_fit_leaves_an_existing_out_untouched(rank_files, tmp_path, engine, capsys):
    out = tmp_path / 'r.json'
    out.write_text('{"previous": true}\n')
    assert main(['fit', rank_files['dup'], '--engine', engine, '--method', 'qr',
                 '--out', str(out)]) == 1
    assert out.read_text() == '{"previous": true}\n'
    assert sorted(os.listdir(tmp_path)) == ['r.json']   # no temporary file left either
    err = capsys.readouterr().err
    assert err.startswith('distreg: error: the model matrix is rank deficient')


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_unwritable_out_fails_before_the_fit(rank_files, tmp_path, engine, capsys):
    blocker = tmp_path / 'afile'
    blocker.write_text('x')
    cases = [(str(blocker / 'sub' / 'r.json'), 'cannot be made'),
             (str(tmp_path), 'is a directory')]
    for out, why in cases:
        t0 = time.perf_counter()
        # dup.csv would fail in the fit: the --out error must come first
        assert main(['fit', rank_files['dup'], '--engine', engine, '--method', 'qr',
                     '--out', out]) == 1
        err = capsys.readouterr().err
        assert err.count('\n') == 1 and err.startswith('distreg: error: --out %s' % out)
        assert why in err
        assert time.perf_counter() - t0 < 5


def test_two_fits_at_once_share_no_scratch(tmp_path):
    """Two mrjob-local fits started together on different data: both answers right."""
    procs, expected = [], []
    for seed in (1, 2):
        y, X = make_linear(20000, 3, seed=seed)
        data = tmp_path / ('d%d.csv' % seed)
        write_rows(data, ['y', 'a', 'b', 'c'], [y, *X.T], range(len(y)))
        expected.append(lstsq(y, X))
        procs.append(subprocess.Popen(
            [sys.executable, '-m', 'distreg.cli', 'fit', str(data), '--engine', 'mrjob-local',
             '--method', 'qr', '--quiet', '--out', str(tmp_path / ('r%d.json' % seed))],
            cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for seed, proc, want in zip((1, 2), procs, expected):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        with open(tmp_path / ('r%d.json' % seed)) as f:
            record = json.load(f)
        got = np.array([record['intercept']] + record['coefficients'])
        np.testing.assert_allclose(got, want, rtol=1e-10)
