"""The direct reader's byte ranges: every line belongs to exactly one range, whatever the cut."""

import numpy as np
import pytest

from distreg.loader import Schema, iter_local_blocks, sniff_schema
from spark_jobs.reader import byte_splits, read_split


@pytest.mark.parametrize('newline', ['\n', '\r\n'])
def test_every_line_read_once(tmp_path, newline):
    rng = np.random.default_rng(0)
    rows = ['y,a,b'] + ['%r,%r,%d' % (rng.standard_normal(), rng.random(), i) for i in range(200)]
    path = tmp_path / 'd.csv'
    path.write_bytes((newline.join(rows) + newline).encode())
    schema = sniff_schema(rows[0])
    whole = np.concatenate([p.X[:, 1] for p in iter_local_blocks(str(path), schema)])
    size = path.stat().st_size
    for n in (1, 2, 3, 7, 50, size):
        splits = byte_splits([(str(path), size)], n)
        assert splits[0][1] == 0 and splits[-1][2] == size
        got = np.concatenate([read_split(s, schema, chunk_bytes=97).parsed.X[:, 1]
                              for s in splits])
        np.testing.assert_array_equal(got, whole)


def test_file_without_final_newline(tmp_path):
    path = tmp_path / 'd.csv'
    path.write_bytes(b'1,2\n3,4\n5,6')
    schema = Schema('csv', 2)
    for n in (1, 2, 3, 11):
        splits = byte_splits([(str(path), 11)], n)
        ys = np.concatenate([read_split(s, schema).parsed.y for s in splits])
        np.testing.assert_array_equal(ys, [1, 3, 5])
