"""Input edge cases on every engine, through the command line users run: one shared matrix.

Each case is a small input (files written here) and what ``distreg fit`` must do with it:
either exit 0 with the least-squares answer of the rows that should be used (checked
against ``np.linalg.lstsq`` on rows the test builds itself, never on what the loader
read), or exit 1 with a one-line ``distreg: error:`` message that says what is wrong.
Every case runs on numpy, mrjob-inline, mrjob-local and spark-rdd (a shared local[2]
session), and on spark-mllib where MLlib applies (a least-squares answer by its normal
solver; the errors come from the loader it shares).
"""

import bz2
import gzip
import json
import os
import re

import numpy as np
import pytest

from distreg.cli import main

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local', 'spark-rdd', 'spark-mllib']

rng = np.random.default_rng(2026)
#: the rows every answer case is made of: label, two features (y = 1 + 2a - 3b + noise)
X = np.round(rng.normal(size=(40, 2)) * 4, 3)
Y = np.round(1 + X @ [2.0, -3.0] + rng.normal(size=40) * 0.1, 3)
ROWS = [(y, a, b) for y, (a, b) in zip(Y, X)]


def csv_lines(rows=ROWS, fmt='%r,%r,%r'):
    return [fmt % tuple(float(v) for v in r) for r in rows]


def reference(rows=ROWS):
    A = np.array(rows, dtype=float)
    M = np.column_stack([np.ones(len(A)), A[:, 1:]])
    # lstsq on columns scaled to max 1 (its rank cutoff is relative to the largest
    # singular value, so a 1e200 column would make the others look like zero)
    scale = np.abs(M).max(axis=0)
    return np.linalg.lstsq(M / scale, A[:, 0], rcond=None)[0] / scale


# --------------------------------------------------------------------------- the cases
#
# Each case: files {relative path: bytes}, the input path, extra CLI arguments, and either
# ('answer', rows) or ('error', regex of the message). Built lazily, one function per case.

def _text(lines, end='\n', final=True):
    body = end.join(lines)
    return (body + end if final else body).encode()


def case_gzip():
    return {'d.csv.gz': gzip.compress(_text(['y,a,b'] + csv_lines()))}, 'd.csv.gz', [], \
        ('answer', ROWS)


def case_dir_of_compressed_parts():
    lines = csv_lines()
    return {'parts/part-00000.gz': gzip.compress(_text(['y,a,b'] + lines[:15])),
            'parts/part-00001.bz2': bz2.compress(_text(['y,a,b'] + lines[15:30])),
            'parts/part-00002': _text(['y,a,b'] + lines[30:]),
            'parts/_SUCCESS': b''}, 'parts', [], ('answer', ROWS)


def case_bzip2():
    return {'d.csv.bz2': bz2.compress(_text(['y,a,b'] + csv_lines()))}, 'd.csv.bz2', [], \
        ('answer', ROWS)


def case_crlf():
    return {'d.csv': _text(['y,a,b'] + csv_lines(), end='\r\n')}, 'd.csv', [], ('answer', ROWS)


def case_no_final_newline():
    return {'d.csv': _text(['y,a,b'] + csv_lines(), final=False)}, 'd.csv', [], \
        ('answer', ROWS)


def case_blank_line_is_a_bad_row():
    lines = ['y,a,b'] + csv_lines()
    lines.insert(11, '')
    return {'d.csv': _text(lines)}, 'd.csv', [], \
        ('error', r'd\.csv, line 12: empty line \(expected 3 numbers')


def case_empty_and_header_only_parts():
    lines = csv_lines()
    return {'parts/part-00000': b'', 'parts/part-00001': _text(['y,a,b'] + lines[:25]),
            'parts/part-00002': b'y,a,b\n', 'parts/part-00003': _text(['y,a,b'] + lines[25:]),
            'parts/part-00004': b''}, 'parts', [], ('answer', ROWS)


def case_number_spellings():
    # 1e3, +5, .5, 5., padded with spaces: the same numbers as Python's float reads them
    rows = [(1e3, 5.0, 0.5), (5.0, 0.5, 1e3), (-2.5, -0.5, 4.0), (3.0, 2.0, 1.0)] + ROWS
    lines = ['1e3,+5,.5', '5.,  .5 ,1E+3', ' -2.5 ,-.5,4.', '3,2,1'] + csv_lines()
    return {'d.csv': _text(['y,a,b'] + lines)}, 'd.csv', [], ('answer', rows)


def case_utf8_bom_and_label_by_name():
    # the byte order mark is not part of the first column's name
    return {'d.csv': b'\xef\xbb\xbf' + _text(['y,a,b'] + csv_lines())}, 'd.csv', \
        ['--label-col', 'y'], ('answer', ROWS)


def case_nan_feature():
    lines = ['y,a,b'] + csv_lines()
    lines[20] = '1.0,nan,2.0'
    return {'d.csv': _text(lines)}, 'd.csv', [], \
        ('error', r"d\.csv, line 21: field 2 \(column 'a'\) is nan: NaN and Inf are not "
                  r"allowed in the features; the line was: '1\.0,nan,2\.0'")


def case_inf_label():
    lines = ['y,a,b'] + csv_lines()
    lines[30] = '-Inf,1.0,2.0'
    return {'d.csv': _text(lines)}, 'd.csv', [], \
        ('error', r"d\.csv, line 31: field 1 \(column 'y'\) is -Inf: NaN and Inf are not "
                  r"allowed in the label")


def case_empty_field():
    lines = ['y,a,b'] + csv_lines()
    lines[5] = '1.0,,2.0'
    return {'d.csv': _text(lines)}, 'd.csv', [], \
        ('error', r"d\.csv, line 6: field 2 \(column 'a'\) is '', not a number")


def case_categorical_column():
    lines = ['y,a,colour'] + ['%r,%r,%s' % (float(y), float(a), 'red' if i % 2 else 'blue')
                              for i, (y, a, _) in enumerate(ROWS)]
    return {'d.csv': _text(lines)}, 'd.csv', [], \
        ('error', r"d\.csv, line 2: field 3 \(column 'colour'\) is 'blue', not a number")


def case_missing_label_col():
    return {'d.csv': _text(['y,a,b'] + csv_lines())}, 'd.csv', ['--label-col', 'price'], \
        ('error', r"--label-col 'price' is not a column of .*d\.csv; its columns are: y, a, b")


def case_missing_path():
    return {}, 'nowhere.csv', [], ('error', r'input not found: .*nowhere\.csv|no input matches '
                                            r'.*nowhere\.csv|nowhere\.csv')


def _libsvm(rows=ROWS):
    return ['%r 1:%r 2:%r' % tuple(float(v) for v in r) for r in rows]


def case_libsvm_label_only_first_row():
    # a first row with no features (all 0) is LibSVM, not a one-column CSV
    rows = [(0.5, 0.0, 0.0)] + ROWS
    return {'d.svm': _text(['0.5'] + _libsvm())}, 'd.svm', [], ('answer', rows)


def case_libsvm_index_zero():
    lines = _libsvm()
    lines[7] = '1.0 0:2.0 2:1.0'
    return {'d.svm': _text(lines)}, 'd.svm', [], \
        ('error', r"d\.svm, line 8: index 0 in '0:2\.0': indices are 1-based")


def case_libsvm_descending_indices():
    lines = _libsvm()
    lines[9] = '1.0 2:2.0 1:1.0'
    return {'d.svm': _text(lines)}, 'd.svm', [], \
        ('error', r'd\.svm, line 10: index 1 after 2: indices must be strictly ascending')


def case_values_near_the_float64_limit_qr():
    rows = [(y, a * 1e200, b) for y, a, b in ROWS]
    return {'d.csv': _text(['y,a,b'] + csv_lines(rows))}, 'd.csv', ['--method', 'qr'], \
        ('answer', rows)


def case_values_near_the_float64_limit_normal():
    rows = [(y, a * 1e200, b) for y, a, b in ROWS]
    return {'d.csv': _text(['y,a,b'] + csv_lines(rows))}, 'd.csv', [], \
        ('error', r"the sum of squares of column 'a' overflows float64: .* use --method qr")


CASES = {name[len('case_'):]: fn for name, fn in sorted(globals().items())
         if name.startswith('case_')}

#: MLlib's own solvers: a least-squares answer when its normal solver applies
MLLIB_SKIPS_ANSWER = {'values_near_the_float64_limit_qr'}  # MLlib has no qr
MLLIB_HAS_NO = {'values_near_the_float64_limit_normal'}    # MLlib standardises: no overflow


def write_case(tmp_path, files):
    for rel, data in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def run_cli(args, capsys):
    """distreg's exit code and stderr (and the record), as a user sees them."""
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err


def cases_for(engine):
    out = []
    for name in CASES:
        if engine == 'spark-mllib' and name in MLLIB_SKIPS_ANSWER | MLLIB_HAS_NO:
            continue
        out.append(name)
    return out


@pytest.fixture
def in_tmp(tmp_path):
    # (absolute paths: a shared Spark session's Python workers keep the working directory
    # they started in, so a relative path would be read from another test's directory)
    return tmp_path


@pytest.mark.parametrize('engine, case', [(e, c) for e in ENGINES for c in cases_for(e)])
def test_edge_case(request, in_tmp, capsys, engine, case):
    if engine.startswith('spark'):
        request.getfixturevalue('spark')   # the shared local[2] session, joined by the CLI
    files, path, args, (kind, expected) = CASES[case]()
    write_case(in_tmp, files)
    out = str(in_tmp / 'rec.json')
    code, err = run_cli(['fit', str(in_tmp / path), '--engine', engine, '--quiet', '--out', out]
                        + args, capsys)
    if kind == 'answer':
        assert code == 0, err
        with open(out) as f:
            rec = json.load(f)
        theta = [rec['intercept']] + rec['coefficients']
        ref = reference(expected)
        np.testing.assert_allclose(theta, ref, rtol=1e-9, atol=1e-12 * np.abs(ref).max())
        assert rec['n_rows'] == len(expected) and rec['n_bad_rows'] == 0
    else:
        assert code == 1, err
        lines = [l for l in err.splitlines() if l.startswith('distreg: error:')]
        assert len(lines) == 1, err
        assert re.search(expected, lines[0]), lines[0]
        assert 'Traceback' not in err
        assert 'file://' not in lines[0]   # files named as the user did, on every engine
        assert not os.path.exists(out)


# --------------------------------------------------------------------------- bad rows skipped

@pytest.mark.parametrize('engine', ENGINES)
def test_skip_thirty_percent_bad_rows_keeps_every_one(request, in_tmp, capsys, engine):
    """30 % bad rows of every kind: the exact count, and the rejects file has each of them."""
    if engine.startswith('spark'):
        request.getfixturevalue('spark')
    kinds = ['1.0,abc,2.0', '1.0,2.0', '', '1.0,2.0,3.0,4.0', '1.0,nan,2.0', 'inf,1,2',
             '1.0,,2.0', 'x']
    lines, good, bad = ['y,a,b'], [], {}
    big = [(y + i, a, b - i) for i in range(5) for y, a, b in ROWS]   # 200 good rows
    for i, row in enumerate(big):
        lines.append(csv_lines([row])[0])
        good.append(row)
        if i % 7 in (0, 3):      # 2 of 7 (about 29 %), then one more below
            bad[len(lines) + 1] = kinds[len(bad) % len(kinds)]
            lines.append(bad[len(lines) + 1])
    while len(bad) < 0.3 * (len(good) + len(bad)):
        bad[len(lines) + 1] = 'oops%d' % len(bad)
        lines.append(bad[len(lines) + 1])
    path = in_tmp / 'd.csv'
    path.write_text('\n'.join(lines) + '\n')
    code, err = run_cli(['fit', str(path), '--engine', engine, '--quiet', '--out',
                         str(in_tmp / 'rec.json'), '--bad-rows', 'skip', '--rejects',
                         str(in_tmp / 'rej.jsonl')], capsys)
    assert code == 0, err
    rec = json.load(open(in_tmp / 'rec.json'))
    assert rec['n_bad_rows'] == len(bad) and rec['n_rows'] == len(good)
    with open(in_tmp / 'rej.jsonl') as f:
        rejects = [json.loads(l) for l in f]
    assert sorted((d['line'], d['text']) for d in rejects) == sorted(bad.items())
    # every engine names the file as the user did (mrjob said file://...)
    assert all(d['file'] == str(path) and d['reason'] for d in rejects)
    ref = reference(good)
    np.testing.assert_allclose([rec['intercept']] + rec['coefficients'], ref, rtol=1e-9)


# --------------------------------------------------------------------------- separation

SEPARATION_ENGINES = ['numpy', 'mrjob-local', 'spark-rdd']


@pytest.fixture(scope='module')
def separable(tmp_path_factory):
    """Logistic data with a margin: label 1 exactly when a + b > 0."""
    r = np.random.default_rng(9)
    A = r.normal(size=(300, 2))
    A = A[np.abs(A.sum(axis=1)) > 0.2]
    path = tmp_path_factory.mktemp('sep') / 'sep.csv'
    path.write_text('y,a,b\n' + ''.join('%d,%r,%r\n' % (int(a + b > 0), float(a), float(b))
                                        for a, b in A))
    return str(path)


@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
def test_separated_classes_stop_at_the_same_iteration_on_every_engine(request, separable,
                                                                      capsys, method):
    request.getfixturevalue('spark')
    messages = {}
    for engine in SEPARATION_ENGINES:
        code, err = run_cli(['fit', separable, '--engine', engine, '--quiet', '--model',
                             'logistic', '--method', method], capsys)
        assert code == 1, err
        messages[engine] = [l for l in err.splitlines() if l.startswith('distreg: error:')]
    assert len(set(map(tuple, messages.values()))) == 1, messages
    (message,) = messages['numpy']
    assert re.search(r'perfectly separated: at iteration \d+, the (coefficients tried put|'
                     r'direction the coefficients grow in puts) every one of the \d+ rows '
                     r'strictly on its own side.*--ridge', message)


def test_separation_check_leaves_overlapping_classes_alone(separable, capsys, tmp_path):
    """The same rows plus one point with both labels: no longer separable; the fit converges."""
    text = open(separable).read() + '1,0.5,0.5\n0,0.5,0.5\n'
    path = tmp_path / 'overlap.csv'
    path.write_text(text)
    for method in ('newton', 'lbfgs'):
        code, err = run_cli(['fit', str(path), '--engine', 'numpy', '--quiet', '--model',
                             'logistic', '--method', method, '--out', str(tmp_path / 'r.json')],
                            capsys)
        assert code == 0, err
        assert json.load(open(tmp_path / 'r.json'))['converged'] is True


def test_gd_finds_separation_long_before_its_iteration_limit(tmp_path, capsys):
    """y = 1{a > 0}, the closest row 0.0015 from the boundary: before, gd ran its 2000
    iterations and exited 0 ('did not converge ... raise --max-iter'); now it stops as soon
    as the direction the iterates grow in separates the rows."""
    r = np.random.default_rng(1)
    A = r.normal(size=(400, 2))
    path = tmp_path / 'sep.csv'
    path.write_text('y,a,b\n' + ''.join('%d,%r,%r\n' % (int(a > 0), float(a), float(b))
                                        for a, b in A))
    code, err = run_cli(['fit', str(path), '--engine', 'numpy', '--quiet', '--model',
                         'logistic', '--method', 'gd'], capsys)
    assert code == 1 and 'perfectly separated' in err, err
    assert int(re.search(r'at iteration (\d+)', err).group(1)) < 200
