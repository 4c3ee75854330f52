"""Bad input on every engine: a clear error with file, line and reason; nothing lost."""

import json

import numpy as np
import pytest

from helpers import make_linear, write_csv
from distreg.cli import main, make_engine
from distreg.errors import BadInputError, EmptyInputError
from distreg.fit import FitOptions, fit

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


@pytest.fixture(scope='module')
def clean(tmp_path_factory):
    y, X = make_linear(3000, 3, seed=5)
    path = write_csv(tmp_path_factory.mktemp('bad') / 'clean.csv', y, X)
    with open(path) as f:
        return f.read().splitlines(keepends=True)


def with_lines(tmp_path, clean, replace):
    """The clean file with some lines (1-based numbers, header = 1) replaced."""
    lines = list(clean)
    for number, text in replace.items():
        lines[number - 1] = text + '\n'
    path = tmp_path / 'data.csv'
    path.write_text(''.join(lines))
    return str(path)


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('bad, reason', [
    ('1.5,2.5,abc,3.5', "field 3 (column 'x2') is 'abc', not a number"),
    ('1.5,2.5,3.5', 'wrong number of fields: 3, expected 4'),
    ('1.5,2.5,3.5,4.5,5.5', 'wrong number of fields: 5, expected 4'),
])
def test_malformed_row_fails_with_file_line_and_what_was_expected(tmp_path, clean, engine,
                                                                  bad, reason):
    # line 2500 sits in the second half of the file: on mrjob-local its task
    # starts mid-file and knows only a byte offset, which the driver turns back
    # into the line number
    path = with_lines(tmp_path, clean, {2500: bad})
    with pytest.raises(BadInputError) as err:
        fit(make_engine(engine, path), FitOptions())
    message = str(err.value)
    assert '%s, line 2500: %s' % (path, reason) in message
    assert repr(bad) in message


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('value, what', [('nan', 'NaN and Inf are not allowed in the features'),
                                         ('-inf', 'NaN and Inf are not allowed in the features')])
def test_non_finite_features_have_their_own_message(tmp_path, clean, engine, value, what):
    path = with_lines(tmp_path, clean, {7: '1.0,2.0,%s,3.0' % value})
    with pytest.raises(BadInputError, match='line 7: field 3 .* is %s: %s' % (value, what)):
        fit(make_engine(engine, path), FitOptions())


@pytest.mark.parametrize('engine', ENGINES)
def test_non_finite_label_has_its_own_message(tmp_path, clean, engine):
    path = with_lines(tmp_path, clean, {9: 'inf,2.0,3.0,4.0'})
    with pytest.raises(BadInputError, match='line 9: .*NaN and Inf are not allowed in the label'):
        fit(make_engine(engine, path), FitOptions())


@pytest.mark.parametrize('engine', ENGINES)
def test_skip_counts_and_keeps_every_rejected_row(tmp_path, clean, engine):
    bad = {5: 'oops', 1200: '1,2', 2999: '1,2,3,x', 3001: ''}
    path = with_lines(tmp_path, clean, bad)
    engine_ = make_engine(engine, path)
    record = fit(engine_, FitOptions(bad_rows='skip', method='qr'))
    assert record['n_bad_rows'] == 4 and record['n_rows'] == 3000 - 4
    kept = sorted(engine_.rejects, key=lambda d: d['line'])
    assert [(d['line'], d['text']) for d in kept] == sorted(bad.items())
    # the answer is the fit of the good rows, exactly as if the bad ones were not there
    good = [l for i, l in enumerate(clean, 1) if i not in bad and i > 1]
    A = np.array([[float(v) for v in l.split(',')] for l in good])
    expected = np.linalg.lstsq(np.column_stack([np.ones(len(A)), A[:, 1:]]), A[:, 0],
                               rcond=None)[0]
    np.testing.assert_allclose([record['intercept'], *record['coefficients']], expected,
                               rtol=1e-9)


@pytest.mark.parametrize('engine', ENGINES)
def test_empty_input(tmp_path, engine):
    path = tmp_path / 'empty.csv'
    path.write_text('')
    with pytest.raises(EmptyInputError, match='the input is empty'):
        fit(make_engine(engine, str(path)), FitOptions())


@pytest.mark.parametrize('engine', ENGINES)
def test_all_rows_rejected(tmp_path, engine):
    path = tmp_path / 'allbad.csv'
    path.write_text('y,x\na,b\nc,d\n')
    with pytest.raises(EmptyInputError, match='all 2 rows of the input were rejected'):
        fit(make_engine(engine, str(path)), FitOptions(bad_rows='skip'))


def test_cli_writes_rejects_file_and_says_where(tmp_path, clean, capsys):
    path = with_lines(tmp_path, clean, {10: '1,2,x,4', 20: '5'})
    out = tmp_path / 'res' / 'r.json'
    assert main(['fit', path, '--engine', 'numpy', '--bad-rows', 'skip', '--out',
                 str(out), '--quiet']) == 0
    rejects = [json.loads(l) for l in open(str(out) + '.rejects.jsonl')]
    assert [(r['line'], r['text']) for r in rejects] == [(10, '1,2,x,4'), (20, '5')]
    assert json.load(open(out))['n_bad_rows'] == 2
    assert '2 bad rows skipped' in capsys.readouterr().err


def test_cli_reports_bad_input_in_one_line(tmp_path, clean, capsys):
    path = with_lines(tmp_path, clean, {3: '1,2,3'})
    assert main(['fit', path, '--engine', 'numpy']) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith('distreg: error: %s, line 3: wrong number of fields' % path)
    assert '\n' not in err
