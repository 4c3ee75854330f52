"""The shared loader: schema sniffing, chunking, the fast and careful parse paths, bad rows."""

import io

import numpy as np
import pytest

from distreg.errors import BadInputError, DistregError, EmptyInputError
from distreg.loader import (Chunk, fill_line_numbers, is_header, iter_chunks, parse_chunk,
                            parse_number, sniff_schema)


def chunk_of(text, file='f.csv', offset=0, line=1):
    return Chunk(text.encode(), file, offset, line)


def test_header_detected_only_when_no_field_is_a_number():
    assert is_header('y,x1,x2')
    assert not is_header('1,2,3')
    assert not is_header('y,2,3')          # a data row with a bad value, not a header
    assert not is_header('')


@pytest.mark.parametrize('label_col, expected', [(None, 0), ('0', 0), (2, 2), ('-1', 2),
                                                 ('b', 1)])
def test_label_by_name_or_index(label_col, expected):
    assert sniff_schema('a,b,c\n', label_col=label_col).label == expected


def test_label_errors_name_the_problem():
    with pytest.raises(DistregError, match="'zz' is not a column .* a, b, c"):
        sniff_schema('a,b,c', label_col='zz')
    with pytest.raises(DistregError, match='has no header line'):
        sniff_schema('1,2,3', label_col='y')
    with pytest.raises(DistregError, match='out of range'):
        sniff_schema('1,2,3', label_col=3)
    with pytest.raises(EmptyInputError, match='empty'):
        sniff_schema(None)
    # a name two columns have: which one is meant is not known (the first was taken)
    with pytest.raises(DistregError, match=r"'x' names 2 columns .*\(1, 2\)"):
        sniff_schema('y,x,x', label_col='x')
    assert sniff_schema('y,x,x', label_col='2').label == 2


def test_auto_format():
    assert sniff_schema('1 1:0.5 3:2', fmt='auto').format == 'libsvm'
    assert sniff_schema('1,0.5,2', fmt='auto').format == 'csv'


def test_numbers_accepted_like_csv_writers_write_them():
    for text, value in [('.5', .5), ('760.', 760.0), ('-2042.', -2042.0), ('1e5', 1e5),
                        (' 3 ', 3.0), ('+1', 1.0), ('0.30000000000000004', 0.30000000000000004)]:
        assert parse_number(text) == value
    for text in ['1_000', '0x10', '"1"', 'abc', '']:
        assert parse_number(text) is None


def test_fast_path_equals_careful_path():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(500, 4)) * 10.0 ** rng.integers(-5, 6, size=(500, 4))
    text = ''.join(','.join(repr(float(v)) for v in row) + '\n' for row in A)
    schema = sniff_schema(text.split('\n')[0], label_col=2)
    fast = parse_chunk(chunk_of(text), schema)
    # a bad row far away forces the careful, line-by-line path for the same rows
    careful = parse_chunk(chunk_of(text + 'x,1,2,3\n'), schema.__class__(
        **{**schema.__dict__, 'bad_rows': 'skip'}))
    np.testing.assert_array_equal(fast.y, A[:, 2])
    np.testing.assert_array_equal(fast.X, np.delete(A, 2, axis=1))
    np.testing.assert_array_equal(careful.X, fast.X)
    np.testing.assert_array_equal(careful.y, fast.y)
    assert len(careful.rejects) == 1


@pytest.mark.parametrize('line, reason', [
    ('1.0,abc,3', "field 2 .* is 'abc', not a number"),
    ('1.0,2', 'wrong number of fields: 2, expected 3'),
    ('1.0,2,3,4', 'wrong number of fields: 4, expected 3'),
    ('1.0,nan,3', 'field 2 .* is nan: NaN and Inf are not allowed in the features'),
    ('inf,2,3', 'field 1 .* is inf: NaN and Inf are not allowed in the label'),
    ('', 'empty line'),
    ('1,,3', "field 2 .* is '', not a number"),
])
def test_bad_row_fails_with_file_line_text_and_reason(line, reason):
    schema = sniff_schema('y,a,b')
    text = '1,2,3\n4,5,6\n%s\n7,8,9\n' % line
    with pytest.raises(BadInputError, match=reason) as err:
        parse_chunk(chunk_of(text, file='data.csv', line=2), schema)
    e = err.value
    assert (e.file, e.line, e.text) == ('data.csv', 4, line)
    assert e.offset == len('1,2,3\n4,5,6\n')
    assert 'data.csv, line 4' in str(e)


def test_skip_keeps_every_bad_row_and_the_good_ones():
    schema = sniff_schema('y,a,b', bad_rows='skip')
    parsed = parse_chunk(chunk_of('1,2,3\nx,1,1\n4,5,6\n1,2\n7,8,9\n'), schema)
    np.testing.assert_array_equal(parsed.y, [1, 4, 7])
    assert [r['line'] for r in parsed.rejects] == [2, 4]
    assert [r['text'] for r in parsed.rejects] == ['x,1,1', '1,2']


def test_logistic_labels_must_be_zero_or_one():
    schema = sniff_schema('y,a', model='logistic')
    with pytest.raises(BadInputError, match=r'label 2 is not 0 or 1'):
        parse_chunk(chunk_of('0,1\n1,2\n2,3\n'), schema)


def test_libsvm_rows_and_errors():
    schema = sniff_schema('1 1:2', fmt='libsvm')
    parsed = parse_chunk(chunk_of('1 1:2 3:4\n0 2:5\n-1\n'), schema)
    np.testing.assert_array_equal(parsed.y, [1, 0, -1])
    np.testing.assert_array_equal(parsed.X, [[2, 0, 4], [0, 5, 0], [0, 0, 0]])
    for line, reason in [('1 3:1 2:1', 'strictly ascending'), ('1 0:1', '1-based'),
                         ('1 2:x', "value 'x' of feature 2"), ('a 1:1', 'label'),
                         ('1 2', 'not index:value')]:
        with pytest.raises(BadInputError, match=reason):
            parse_chunk(chunk_of(line + '\n'), schema)


def test_chunks_split_on_lines_skip_the_header_and_count_lines():
    text = b'y,x\n' + b''.join(b'%d,%d\n' % (i, i) for i in range(1000))
    chunks = list(iter_chunks(io.BytesIO(text), 'f', chunk_bytes=100))
    assert b''.join(c.data for c in chunks) == text[4:]
    assert chunks[0].line == 2 and chunks[0].offset == 4
    for a, b in zip(chunks, chunks[1:]):
        assert b.line == a.line + a.data.count(b'\n')
        assert b.offset == a.offset + len(a.data)
    # a last line without a newline is still a row
    last = list(iter_chunks(io.BytesIO(b'1,2\n3,4'), 'f'))
    assert b''.join(c.data for c in last) == b'1,2\n3,4\n'


def test_mid_file_split_knows_offsets_and_the_driver_finds_lines(tmp_path):
    path = tmp_path / 'd.csv'
    path.write_bytes(b'y,x\n1,2\n3,4\n5,oops\n7,8\n')
    start = len(b'y,x\n1,2\n')
    with open(path, 'rb') as f:
        f.seek(start)
        chunk = next(iter_chunks(f, str(path), offset=start, line=None))
    with pytest.raises(BadInputError) as err:
        parse_chunk(chunk, sniff_schema('y,x'))
    bad = err.value.to_dict()
    assert bad['line'] is None and bad['offset'] == len(b'y,x\n1,2\n3,4\n')
    assert fill_line_numbers([bad])[0]['line'] == 4


def test_fill_line_numbers_places_rows_of_hadoop_splits(tmp_path):
    """A Hadoop split's first line is the first that starts at or after its start byte; its
    mapper counts offsets from the start. The driver places such rows exactly."""
    lines = [b'y,x'] + [('%d,%d' % (i, i * 7 % 1000)).encode() for i in range(2000)]
    data = b'\n'.join(lines) + b'\n'
    path = tmp_path / 'split.csv'
    path.write_bytes(data)
    line_starts = np.cumsum([0] + [len(l) + 1 for l in lines[:-1]])
    bad = []
    expected = []
    for split_start in (1, 5000, int(line_starts[900]), 9999):
        first = int(line_starts[np.searchsorted(line_starts, split_start)])
        for k in (0, 3, 50):
            index = int(np.searchsorted(line_starts, first)) + k
            consumed = int(line_starts[index]) - first
            bad.append({'file': str(path), 'line': None, 'offset': split_start + consumed,
                        'split_start': split_start, 'text': lines[index].decode(),
                        'reason': 'test'})
            expected.append((index + 1, int(line_starts[index])))
    fill_line_numbers(bad)
    assert [(d['line'], d['offset']) for d in bad] == expected
    assert not any('split_start' in d for d in bad)


# --------------------------------------------------------------------------- issue 11 messages

def test_a_label_only_first_line_is_libsvm_not_a_one_column_csv():
    from distreg.loader import sniff_schema
    for first in ('1', '0 ', '-2.5e3\r\n', '1 3:0.5'):
        assert sniff_schema(first, 'auto').format == 'libsvm', first
    for first in ('1,2', 'y,a', '1e3,+5'):
        assert sniff_schema(first, 'auto').format == 'csv', first


def test_utf8_byte_order_mark_is_not_data(tmp_path):
    from distreg.loader import Schema, iter_chunks, parse_chunk, read_first_line, sniff_schema
    path = tmp_path / 'bom.csv'
    path.write_bytes(b'\xef\xbb\xbfy,a\n1,2\n3,x\n')
    assert read_first_line(str(path)) == 'y,a\n'
    assert sniff_schema(read_first_line(str(path)), label_col='y').names == ('y', 'a')
    for chunk_bytes in (1, 2, 3, 4, 100):
        with open(path, 'rb') as f:
            chunks = list(iter_chunks(f, str(path), chunk_bytes=chunk_bytes))
        parsed = [parse_chunk(c, Schema('csv', 2, 0, ('y', 'a'), 'skip')) for c in chunks]
        assert [float(v) for p in parsed for v in p.y] == [1.0]
        (bad,) = [r for p in parsed for r in p.rejects]
        # the offset counts the mark's bytes: it is the line's place in the file
        assert (bad['line'], bad['offset'], bad['text']) == (3, 11, '3,x')


def test_bzip2_input_is_read(tmp_path):
    import bz2
    from distreg.loader import open_input, read_first_line
    path = tmp_path / 'd.csv.bz2'
    path.write_bytes(bz2.compress(b'y,a\n1,2\n'))
    assert read_first_line(str(path)) == 'y,a\n'
    with open_input(str(path)) as f:
        assert f.read() == b'y,a\n1,2\n'
