"""``distreg plot``: a PNG of loss against iteration and seconds; bad input is one clear line."""

import json
import os
import struct
import subprocess
import sys
import zlib

import pytest

from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.numpy_engine import NumpyEngine
from distreg.result import write

DISTREG = [sys.executable, '-m', 'distreg.cli']


def distreg(*args):
    return subprocess.run(DISTREG + list(args), capture_output=True, text=True)


@pytest.fixture(scope='module')
def records(tmp_path_factory):
    d = tmp_path_factory.mktemp('plot')
    path = str(d / 'logistic.csv')
    generate(2000, 3, path, model='logistic', seed=41)
    out = []
    for method in ('gd', 'newton'):
        rec = fit(NumpyEngine(path), FitOptions(method=method, model='logistic'))
        out.append(str(d / ('%s.json' % method)))
        write(rec, out[-1])
    lin = str(d / 'linear.csv')
    generate(500, 2, lin, seed=42)
    out.append(str(d / 'normal.json'))
    write(fit(NumpyEngine(lin), FitOptions(method='normal')), out[-1])
    return out


def png_chunks(data):
    """The chunk types of a PNG, each CRC checked (a truncated or corrupt file raises)."""
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    pos, types = 8, []
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        types.append(kind)
        pos += 12 + length
    return types, data


def test_plot_writes_a_png(records, tmp_path):
    out = str(tmp_path / 'loss.png')
    r = distreg('plot', records[0], records[1], '--out', out)
    assert r.returncode == 0, r.stderr
    types, data = png_chunks(open(out, 'rb').read())
    assert types[0] == b'IHDR' and types[-1] == b'IEND' and b'IDAT' in types
    width, height = struct.unpack('>II', data[16:24])
    assert width > 500 and height > 200


@pytest.mark.parametrize('case', ['missing', 'not-json', 'not-a-record', 'no-history',
                                  'bad-entry', 'unwritable'])
def test_plot_rejects_bad_input(records, tmp_path, case):
    out = str(tmp_path / 'loss.png')
    path = str(tmp_path / 'in.json')
    expect = None
    if case == 'missing':
        path, expect = str(tmp_path / 'nothing.json'), 'cannot read'
    elif case == 'not-json':
        open(path, 'w').write('engine,method\n')
        expect = 'is not JSON'
    elif case == 'not-a-record':
        json.dump({'coefficients': [1.0]}, open(path, 'w'))
        expect = 'is not a distreg result record'
    elif case == 'no-history':
        path, expect = records[2], 'has no history (numpy --method normal)'
    elif case == 'bad-entry':
        rec = json.load(open(records[0]))
        rec['history'][1]['loss'] = 'NaN'
        json.dump(rec, open(path, 'w'))
        expect = 'history entry 1'
    else:
        path, out = records[0], str(tmp_path / 'no-such-dir' / 'loss.png')
        expect = 'is not a writable directory'
    r = distreg('plot', path, '--out', out)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('distreg: error: ') and expect in lines[0], \
        r.stderr
    assert path in lines[0] or case == 'unwritable'
    assert not os.path.exists(out)


def test_tol_zero_runs_every_iteration(records, tmp_path):
    path = str(tmp_path / 'logistic.csv')
    generate(1000, 2, path, model='logistic', seed=43)
    r = distreg('fit', path, '--engine', 'numpy', '--model', 'logistic', '--method', 'newton',
                '--tol', '0', '--max-iter', '3', '--quiet', '--out', str(tmp_path / 'r.json'))
    assert r.returncode == 0, r.stderr
    rec = json.load(open(tmp_path / 'r.json'))
    assert rec['iterations'] == 3 and [h['iteration'] for h in rec['history']] == [0, 1, 2, 3]
    assert r.stderr.count('iteration') == 0  # --quiet: no progress lines
