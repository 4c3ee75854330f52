"""Property-based tests of the loader's readers (hypothesis): random text, random split points.

Every reader must yield exactly the rows, and the bad rows at exactly the positions, that a
simple reference parser written here finds in the same text: so no row is ever lost, or
read twice, at a chunk or split boundary, whatever the line endings.

Readers checked: the whole-file reader (numpy engine: ``iter_chunks`` + ``parse_chunk``
with small random chunk sizes), the byte-range reader of mrjob's local runner and
Hadoop-like splits (``iter_split_chunks`` with and without line counting, bad rows placed
by ``fill_line_numbers``), and the Spark direct reader (``spark_jobs.reader.read_split``,
run here in this process: it needs no Spark to parse a split).
"""

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distreg.loader import (Schema, fill_line_numbers, header_names, iter_chunks,
                            iter_split_chunks, parse_chunk)
from spark_jobs.reader import read_split

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# --------------------------------------------------------------------------- reference

def ref_number(text):
    """Python's float, minus what no CSV writer means (the alphabet here has no '_', n, i)."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v


def ref_lines(data):
    """(line number, byte offset, text without its line end) of every line of ``data``."""
    out, offset = [], 0
    pieces = data.split(b'\n')
    if pieces and pieces[-1] == b'':
        pieces.pop()   # the text after the final newline is not a line
    for i, raw in enumerate(pieces, 1):
        out.append((i, offset, raw.decode('utf-8', 'replace').rstrip('\r')))
        offset += len(raw) + 1
    return out


def ref_csv_row(text, n_fields):
    fields = text.split(',')
    if not text.strip() or len(fields) != n_fields:
        return None
    values = [ref_number(f) for f in fields]
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    return values


def ref_libsvm_row(text):
    tokens = text.split()
    if not tokens or ':' in tokens[0]:
        return None
    label = ref_number(tokens[0])
    if label is None or not math.isfinite(label):
        return None
    features, last = {}, 0
    for tok in tokens[1:]:
        idx, sep, val = tok.partition(':')
        if not sep or not idx.isdigit() or int(idx) <= last:
            return None
        v = ref_number(val)
        if v is None or not math.isfinite(v):
            return None
        features[int(idx)] = v
        last = int(idx)
    return [label, features]


def reference(data, schema):
    """(good rows [(line, values)], bad rows [(line, offset, text)]) of a whole file."""
    good, bad = [], []
    for line, offset, text in ref_lines(data):
        if line == 1 and schema.format == 'csv' and text.strip() and all(
                ref_number(f) is None for f in text.split(',')):
            continue   # a header
        row = (ref_csv_row(text, schema.n_fields) if schema.format == 'csv'
               else ref_libsvm_row(text))
        if row is None:
            bad.append((line, offset, text))
        else:
            good.append((line, row))
    return good, bad


# --------------------------------------------------------------------------- random text

CSV_CHARS = '0123456789.,-+e \r'
SVM_CHARS = '0123456789.:- \r'


def _good_csv_line(draw):
    values = draw(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64),
                           min_size=3, max_size=3))
    return ','.join(draw(st.sampled_from([repr(v), ' %r' % v, '%.3g' % v])) for v in values)


def _good_svm_line(draw):
    label = draw(st.floats(-1e6, 1e6, allow_nan=False))
    idx = sorted(draw(st.sets(st.integers(1, 6), max_size=4)))
    return ' '.join([repr(label)] + ['%d:%r' % (i, draw(st.floats(-1e3, 1e3))) for i in idx])


@st.composite
def files(draw, fmt):
    """Random file bytes: mostly good lines, some random (usually bad) ones, mixed endings."""
    good = _good_csv_line if fmt == 'csv' else _good_svm_line
    chars = CSV_CHARS if fmt == 'csv' else SVM_CHARS
    lines = []
    if fmt == 'csv' and draw(st.booleans()):
        lines.append('y,a,b')
    for _ in range(draw(st.integers(0, 25))):
        if draw(st.integers(0, 3)):
            lines.append(good(draw))
        else:
            lines.append(draw(st.text(chars, max_size=12)))
    ends = [draw(st.sampled_from(['\n', '\r\n'])) for _ in lines]
    text = ''.join(l + e for l, e in zip(lines, ends))
    if lines and draw(st.booleans()):
        text = text[:-len(ends[-1])]   # no final newline
    return text.encode()


def cut_points(size):
    return st.lists(st.integers(0, max(size, 0)), max_size=6).map(
        lambda cuts: sorted(set([0, size] + cuts)))


# --------------------------------------------------------------------------- comparison

def as_rows(blocks, schema):
    """(values per row, bad rows) from the Parsed blocks a reader produced, in order."""
    rows, bad = [], []
    for parsed in blocks:
        for i in range(len(parsed.y)):
            if schema.format == 'csv':
                x = list(parsed.X[i])
                rows.append(x[:schema.label] + [parsed.y[i]] + x[schema.label:])
            else:
                rows.append([parsed.y[i], {j + 1: v for j, v in enumerate(parsed.X[i]) if v}])
        bad.extend(parsed.rejects)
    return rows, bad


def expected_rows(good, schema):
    if schema.format == 'csv':
        return [values for _, values in good]
    return [[label, {k: v for k, v in feats.items() if v}] for _, (label, feats) in good]


def check(blocks, data, schema, path):
    good, bad = reference(data, schema)
    rows, rejects = as_rows(blocks, schema)
    fill_line_numbers(rejects)
    assert rows == expected_rows(good, schema)
    got = sorted((d['line'], d['offset'], d['text']) for d in rejects)
    assert got == bad
    assert all(d['file'] == path for d in rejects)


def schema_for(fmt, text):
    if fmt == 'csv':
        # as the driver's sniff_schema does: a header line names the columns, and every
        # task checks the header it finds against those names
        return Schema('csv', 3, 0, header_names(text.split(b'\n', 1)[0]), 'skip')
    return Schema('libsvm', None, 0, None, 'skip')


def write(tmp_path, data):
    path = tmp_path / 'in.txt'
    path.write_bytes(data)
    return str(path)


# --------------------------------------------------------------------------- the properties

@SETTINGS
@given(fmt=st.sampled_from(['csv', 'libsvm']), data=st.data())
def test_whole_file_reader_matches_the_reference(tmp_path, fmt, data):
    text = data.draw(files(fmt))
    chunk_bytes = data.draw(st.integers(1, 64))
    schema = schema_for(fmt, text)
    path = write(tmp_path, text)
    with open(path, 'rb') as f:
        blocks = [parse_chunk(c, schema) for c in
                  iter_chunks(f, path, chunk_bytes=chunk_bytes, skip_header=fmt == 'csv')]
    check(blocks, text, schema, path)


@SETTINGS
@given(fmt=st.sampled_from(['csv', 'libsvm']), count_lines=st.booleans(), data=st.data())
def test_byte_range_splits_match_the_reference(tmp_path, fmt, count_lines, data):
    """mrjob's local runner and Hadoop-like splits: each line read by exactly one split."""
    text = data.draw(files(fmt))
    cuts = data.draw(cut_points(len(text)))
    chunk_bytes = data.draw(st.integers(1, 64))
    schema = schema_for(fmt, text)
    path = write(tmp_path, text)
    blocks = [parse_chunk(c, schema)
              for start, end in zip(cuts[:-1], cuts[1:])
              for c in iter_split_chunks(path, start, end, chunk_bytes,
                                         skip_header=fmt == 'csv', count_lines=count_lines)]
    check(blocks, text, schema, path)


@SETTINGS
@given(fmt=st.sampled_from(['csv', 'libsvm']), data=st.data())
def test_spark_direct_reader_splits_match_the_reference(tmp_path, fmt, data):
    text = data.draw(files(fmt))
    cuts = data.draw(cut_points(len(text)))
    schema = schema_for(fmt, text)
    path = write(tmp_path, text)
    blocks = []
    for start, end in zip(cuts[:-1], cuts[1:]):
        block = read_split((path, start, end), schema, chunk_bytes=data.draw(st.integers(1, 64)))
        assert block.error is None
        blocks.append(block.parsed)
    check(blocks, text, schema, path)


def test_reference_parser_sees_what_it_should():
    """The reference itself, on a text whose rows are known."""
    text = b'y,a,b\r\n1,2,3\n\n1,2\n4, 5,6e1\r\n'
    good, bad = reference(text, schema_for('csv', text))
    assert good == [(2, [1.0, 2.0, 3.0]), (5, [4.0, 5.0, 60.0])]
    assert bad == [(3, 13, ''), (4, 14, '1,2')]
    assert np.isclose(ref_number(' 5'), 5.0)
