"""The `distreg` command line: generate, fit, compare, as a user runs them."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import ROOT, theta
from distreg.cli import main
from distreg.result import RECORD_KEYS


def distreg(*args):
    return subprocess.run([sys.executable, '-m', 'distreg.cli', *args], capture_output=True,
                          text=True, cwd=ROOT)


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    d = tmp_path_factory.mktemp('gen')
    path = str(d / 'g.csv')
    assert main(['generate', '--rows', '5000', '--features', '4', '--seed', '3',
                 '--noise', '0.01', '--out', path]) == 0
    return d, path


def test_generate_writes_data_and_truth(generated):
    d, path = generated
    truth = json.load(open(path + '.truth.json'))
    assert len(truth['coefficients']) == 4 and truth['rows'] == 5000
    lines = open(path).read().splitlines()
    assert lines[0] == 'y,x1,x2,x3,x4' and len(lines) == 5001


def test_fit_and_compare_end_to_end(generated):
    d, path = generated
    outs = []
    for engine, method in [('numpy', 'normal'), ('numpy', 'qr'), ('mrjob-inline', 'qr')]:
        out = str(d / ('%s-%s.json' % (engine, method)))
        r = distreg('fit', path, '--engine', engine, '--method', method, '--out', out)
        assert r.returncode == 0, r.stderr
        assert 'coef' in r.stdout and 'std err' in r.stdout   # the summary table
        record = json.load(open(out))
        assert tuple(record) == RECORD_KEYS + ('design',)   # design: what predict reads
        outs.append(out)
    r = distreg('compare', *outs, '--rtol', '1e-9')
    assert r.returncode == 0 and 'all agree' in r.stdout, r.stdout
    # against the generator's truth the noise shows, far above 1e-9 but below 1e-2
    assert distreg('compare', *outs, '--reference', path + '.truth.json').returncode == 1
    r = distreg('compare', *outs, '--reference', path + '.truth.json', '--rtol', '1e-2')
    assert r.returncode == 0, r.stdout


def test_compare_flags_a_disagreement(generated, tmp_path):
    d, path = generated
    a = str(tmp_path / 'a.json')
    assert main(['fit', path, '--engine', 'numpy', '--out', a, '--quiet']) == 0
    record = json.load(open(a))
    record['coefficients'][2] *= 1 + 1e-6
    b = str(tmp_path / 'b.json')
    json.dump(record, open(b, 'w'))
    r = distreg('compare', a, b, '--rtol', '1e-9')
    assert r.returncode == 1 and 'DISAGREEMENT' in r.stdout
    assert distreg('compare', a, b, '--rtol', '1e-5').returncode == 0


def test_compare_flags_different_row_counts(generated, tmp_path):
    d, path = generated
    a = str(tmp_path / 'a.json')
    main(['fit', path, '--engine', 'numpy', '--out', a, '--quiet'])
    record = json.load(open(a))
    record['n_rows'] -= 1
    b = str(tmp_path / 'b.json')
    json.dump(record, open(b, 'w'))
    r = distreg('compare', a, b)
    assert r.returncode == 1 and 'rows differ' in r.stdout


def test_libsvm_round_trip(tmp_path):
    path = str(tmp_path / 's.svm')
    assert main(['generate', '--rows', '3000', '--features', '5', '--format', 'libsvm',
                 '--out', path]) == 0
    a, b = str(tmp_path / 'a.json'), str(tmp_path / 'b.json')
    assert main(['fit', path, '--engine', 'numpy', '--method', 'qr', '--out', a,
                 '--quiet']) == 0
    assert main(['fit', path, '--engine', 'mrjob-inline', '--out', b, '--quiet']) == 0
    # independent parse of the same file
    rows = [l.split() for l in open(path)]
    y = np.array([float(r[0]) for r in rows])
    X = np.zeros((len(rows), 5))
    for i, r in enumerate(rows):
        for item in r[1:]:
            j, v = item.split(':')
            X[i, int(j) - 1] = float(v)
    expected = np.linalg.lstsq(np.column_stack([np.ones(len(y)), X]), y, rcond=None)[0]
    for out in (a, b):
        np.testing.assert_allclose(theta(json.load(open(out))), expected, rtol=1e-9)


def test_usage_errors_exit_2():
    assert distreg('fit', 'x.csv', '--engine', 'nope').returncode == 2
    assert distreg('fit', 'x.csv').returncode == 2


def test_logistic_with_a_closed_form_method_is_refused(generated):
    d, path = generated
    r = distreg('fit', path, '--engine', 'numpy', '--model', 'logistic', '--method', 'qr')
    assert r.returncode == 1 and 'no closed form' in r.stderr
