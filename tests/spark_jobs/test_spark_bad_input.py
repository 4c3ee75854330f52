"""Bad input gives the same clear errors on spark-rdd (both readers) and spark-mllib as on numpy:
file, line number, the line and what was expected; --bad-rows skip counts and keeps every row."""

import json

import pytest
from spark_helpers import numpy_fit, spark_fit

from distreg import cli
from distreg.errors import BadInputError, EmptyInputError

GOOD = ['%d.5,%d.25,-%d.125' % (i % 7, i % 5, i % 3) for i in range(3000)]
GOOD_01 = ['%d,%d.25,-%d.125' % (i % 2, i % 5, i % 3) for i in range(3000)]

CASES = {
    'text in a number': (GOOD, 2500, '1.5,abc,2.0', 'linear', "is 'abc', not a number"),
    'wrong column count': (GOOD, 2900, '1.5,2.0', 'linear', 'wrong number of fields: 2, '
                                                              'expected 3'),
    'nan': (GOOD, 1700, '1.5,nan,2.0', 'linear', 'NaN and Inf are not allowed'),
    'inf label': (GOOD, 10, 'inf,1.0,2.0', 'linear', 'NaN and Inf are not allowed in the label'),
    'logistic label': (GOOD_01, 2222, '2,1.0,2.0', 'logistic', 'not 0 or 1'),
}
ENGINES = [('spark-rdd', 'direct'), ('spark-rdd', 'hadoop'), ('spark-mllib', 'direct')]


def write(tmp_path, rows, at, bad):
    rows = ['y,a,b'] + rows[:at] + [bad] + rows[at:]
    path = tmp_path / 'bad.csv'
    path.write_text('\n'.join(rows) + '\n')
    return str(path)


def method_for(engine, model):
    return 'lbfgs' if model == 'logistic' or engine == 'spark-mllib' else 'qr'


@pytest.mark.parametrize('engine,reader', ENGINES)
@pytest.mark.parametrize('case', sorted(CASES))
def test_fail_names_file_line_and_reason(spark, tmp_path, engine, reader, case):
    rows, at, bad, model, reason = CASES[case]
    path = write(tmp_path, rows, at, bad)
    method = method_for(engine, model)
    with pytest.raises(BadInputError) as expected:
        numpy_fit(path, method=method, model=model)
    where = path if reader == 'direct' else 'file://' + path
    with pytest.raises(BadInputError) as got:
        spark_fit(spark, where, engine, reader, method=method, model=model)
    assert reason in str(got.value)
    assert 'line %d' % (at + 2) in str(got.value) and repr(bad) in str(got.value)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize('engine,reader', ENGINES)
def test_skip_counts_and_keeps_every_row(spark, tmp_path, engine, reader):
    rows = list(GOOD)
    bads = {100: '1.5,abc,2.0', 1800: '1.5,2.0', 2999: 'nan,1,2'}
    for at in sorted(bads, reverse=True):
        rows.insert(at, bads[at])
    path = tmp_path / 'skip.csv'
    path.write_text('y,a,b\n' + '\n'.join(rows) + '\n')
    method = 'normal' if engine == 'spark-mllib' else 'qr'
    ref = numpy_fit(str(path), method=method, bad_rows='skip')
    where = str(path) if reader == 'direct' else 'file://%s' % path
    out = tmp_path / 'r.json'
    assert cli.main(['fit', where, '--engine', engine, '--method', method, '--bad-rows', 'skip',
                     '--out', str(out), '--quiet']) == 0
    rec = json.loads(out.read_text())
    assert rec['n_bad_rows'] == 3 and rec['n_rows'] == ref['n_rows'] == 3000
    kept = [json.loads(line) for line in open(str(out) + '.rejects.jsonl')]
    expected = [(i + 2, text) for i, text in enumerate(rows) if text in bads.values()]
    assert [(k['line'], k['text']) for k in kept] == expected


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
@pytest.mark.parametrize('content', ['', 'y,a,b\n'])
def test_empty_input(spark, tmp_path, engine, content):
    path = tmp_path / 'empty.csv'
    path.write_text(content)
    with pytest.raises(EmptyInputError) as expected:
        numpy_fit(str(path), method='normal')
    with pytest.raises(EmptyInputError) as got:
        spark_fit(spark, str(path), engine, method='normal')
    assert str(got.value) == str(expected.value)


def test_all_rows_rejected(spark, tmp_path):
    path = tmp_path / 'allbad.csv'
    path.write_text('y,a\nx,1\n2,y\n')
    with pytest.raises(EmptyInputError, match='all 2 rows .* rejected'):
        spark_fit(spark, str(path), method='qr', bad_rows='skip')
