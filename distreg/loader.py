"""The shared data loader: text lines -> numpy blocks, the same way for every engine.

Every engine hands this module byte chunks that start and end on line boundaries,
together with where they came from (file, byte offset, line number when known).
A chunk becomes a block ``(X_raw, y)`` of float64: the label column and the raw
feature columns, in file order. The model matrix (intercept, powers) is formed
later by :class:`distreg.design.Design`.

Parsing is vectorised: a CSV chunk is parsed at once by pyarrow's C++ reader
(correctly rounded, the same doubles as Python's ``float``). Only when that fast
path finds something wrong (a parse error, an empty field, NaN/Inf, a bad label)
is the chunk parsed again line by line, to report exactly which line is bad and
why, or, with ``bad_rows='skip'``, to keep the good lines and the rejected ones.

Formats
-------
csv
    Numbers separated by ``,``, one row per line. The first line of a file is a
    header when none of its fields is a number. The label is a column chosen by
    name or index (default: the first).
libsvm
    ``label idx:val idx:val ...`` with 1-based, strictly ascending indices;
    absent features are 0.
parquet
    Read by row group with pyarrow, columns by name: :mod:`distreg.parquet`.
"""

import bz2
import glob
import gzip
import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from distreg.errors import BadInputError, DistregError, EmptyInputError
from distreg.paths import file_key

FORMATS = ('csv', 'libsvm', 'parquet')
#: Formats of named columns, a fixed number of them (``names``, ``n_fields``, ``label``).
TABULAR = ('csv', 'parquet')
#: What --format accepts: a format, or auto (told from the first line).
FORMAT_CHOICES = ('auto',) + FORMATS
BAD_ROW_POLICIES = ('fail', 'skip')
MODELS = ('linear', 'logistic', 'poisson')

#: Bytes per parsed chunk: large enough to amortise the parser call, small enough
#: that a block (rows x columns of float64) stays in cache-friendly sizes.
CHUNK_BYTES = 4 << 20

# A number as the loader accepts it: decimal or scientific notation, or nan/inf
# (which then fail the finiteness check with their own message). Python's float()
# alone would also take '1_000', which no CSV writer means as a number.
_NUMBER = re.compile(
    r'\s*[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)\s*\Z',
    re.IGNORECASE)


# A LibSVM line: a label and index:value pairs. A line with only a number is LibSVM too (a
# row whose features are all 0): never a CSV row, which needs a label and a feature.
_LIBSVM_LINE = re.compile(r'\s*(\S+(\s+\d+:\S+)+|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)\s*\Z')

#: The UTF-8 byte order mark some editors put at the start of a file: not part of the data.
BOM = b'\xef\xbb\xbf'
#: Compressed inputs read through Python's decompressors (Hadoop and Spark read them natively).
COMPRESSED = {'.gz': gzip.open, '.bz2': bz2.open}


def parse_number(text):
    """Parse one field; return a float or None when it is not a number."""
    if _NUMBER.match(text):
        return float(text)
    return None


@dataclass(frozen=True)
class Schema:
    """How to read the rows of one input: format, width, label, bad-row policy.

    ``n_fields`` is the number of comma-separated fields of a CSV row (None for
    LibSVM, whose width is discovered from the data). ``label`` is the index of the
    label column (CSV), or None for a CSV of features only (what ``distreg predict``
    may read; ``y`` is then zeros). ``names`` are the header's names, when there is a header.
    ``model`` matters for rows: a logistic label must be 0 or 1. ``weight`` is the index
    of the sample-weight column (``--weight-col``), None without weights; ``cluster`` the
    index of the cluster column (``--cov cluster:COL``), None without; ``offset`` that of
    the offset column (``--offset-col``), None without; none of them is a feature.
    """
    format: str = 'csv'
    n_fields: int = None
    label: int = 0
    names: tuple = None
    bad_rows: str = 'fail'
    model: str = 'linear'
    #: part files whose header names the same columns in another order:
    #: ``((file key, names), ...)`` (see :func:`check_headers`, :meth:`for_file`)
    files: tuple = None
    #: the fields, in file order, that give the label and then the features in the
    #: order of the first file (set only by :meth:`for_file`, for a reordered file)
    columns: tuple = None
    #: the sample-weight column (CSV, --weight-col), or None: never a feature; a kept row's
    #: weight is finite and >= 0
    weight: int = None
    #: the cluster column (--cov cluster:COL), or None: never a feature; a kept row's cluster
    #: id is a finite number
    cluster: int = None
    #: Poisson (``--allow-noninteger``): a label may be any finite number >= 0, not only a
    #: count (statsmodels' GLM takes such labels; its likelihood is then a quasi-likelihood)
    allow_noninteger: bool = False
    #: the offset column (CSV, --offset-col), or None: never a feature; a finite number
    #: added to each row's linear predictor (Poisson: the log of the exposure)
    offset: int = None
    #: give every parsed row its key (``Parsed.keys``, :mod:`distreg.folds`): ``distreg cv``
    row_keys: bool = False
    #: the categorical columns (``--categorical``), in the order given: CSV field indices
    #: (Parquet: indices into ``names``), or None. Never in ``X``: a block has their text
    #: in ``Parsed.cats``; the model matrix one-hot encodes them (:class:`distreg.design.Design`)
    categorical: tuple = None
    #: the levels of each categorical column (sorted), when known before the rows are read
    #: (predict, evaluate: the model's); a row with another level is a bad row. None: any
    #: non-empty text is a level (a fit, whose levels pass finds them)
    levels: tuple = None

    def __post_init__(self):
        _check_choice('format', self.format, FORMATS)
        _check_choice('bad_rows', self.bad_rows, BAD_ROW_POLICIES)
        _check_choice('model', self.model, MODELS)

    def feature_names(self):
        """Names of the raw features in file order (generated when there is no header)."""
        if self.format in TABULAR:
            if self.names:
                return [n for i, n in enumerate(self.names) if i not in self.not_features()]
            return ['x%d' % i for i in range(1, self.n_features() + 1)]
        return None  # LibSVM: known only once the data is read (x1..xP)

    def for_file(self, file):
        """The schema that reads the rows of ``file`` (a reordered part file: its own)."""
        if not self.files:
            return self
        names = dict(self.files)
        own = names.get(file) or names.get(file_key(file))
        if own is None:
            return self
        own = tuple(own)
        label = own.index(self.names[self.label]) if self.label is not None else None
        weight = own.index(self.names[self.weight]) if self.weight is not None else None
        cluster = own.index(self.names[self.cluster]) if self.cluster is not None else None
        cats = self.categorical or ()
        offset = own.index(self.names[self.offset]) if self.offset is not None else None
        features = [own.index(n) for i, n in enumerate(self.names)
                    if i not in self.not_features()]
        categorical = tuple(own.index(self.names[i]) for i in cats) if cats else None
        return dataclasses.replace(self, label=label, weight=weight, cluster=cluster,
                                   offset=offset, names=own, files=None,
                                   columns=tuple([label] + features), categorical=categorical)

    def not_features(self):
        """The columns that are not numeric features: label, weight, cluster, offset (those
        there are) and the categorical columns."""
        return tuple(i for i in (self.label, self.weight, self.cluster, self.offset)
                     if i is not None) + tuple(self.categorical or ())

    def n_features(self):
        """Raw feature columns of a CSV row (None for LibSVM)."""
        if self.format not in TABULAR:
            return None
        return self.n_fields - len(self.not_features())

    def categorical_names(self):
        """Names of the categorical columns, in order (without a header: the field's index as
        text, which is how ``--categorical`` names them there)."""
        return [self.names[i] if self.names else str(i) for i in self.categorical or ()]

    def to_json(self):
        d = dict(self.__dict__)
        d['names'] = list(self.names) if self.names else None
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        d = json.loads(text)
        for k in ('names', 'columns', 'categorical'):
            if d.get(k):
                d[k] = tuple(d[k])
        if d.get('levels'):
            d['levels'] = tuple(tuple(v) for v in d['levels'])
        if d.get('files'):
            d['files'] = tuple((key, tuple(names)) for key, names in d['files'])
        return cls(**d)


def with_label_rule(schema, options):
    """``schema`` with the label rule of the fit ``options`` (Poisson's
    ``--allow-noninteger``), whatever format the schema was read from."""
    allow = bool(getattr(options, 'allow_noninteger', False))
    return dataclasses.replace(schema, allow_noninteger=allow) if allow else schema


def keyed(schema, options):
    """``schema``, with row keys when the fit's options ask for folds (``distreg cv``)."""
    if getattr(options, 'folds', None):
        return dataclasses.replace(schema, row_keys=True)
    return schema


def _check_choice(what, value, choices):
    if value not in choices:
        raise DistregError('%s must be one of %s, not %r' % (what, ', '.join(choices), value))


def is_header(line):
    """True when a CSV line is a header: not blank and none of its fields is a number."""
    fields = line.split(',')
    return bool(line.strip()) and all(parse_number(f) is None for f in fields)


def sniff_schema(first_line, fmt='csv', label_col=None, bad_rows='fail', model='linear',
                 source='<input>', n_features=None, weight_col=None, cluster_col=None,
                 offset_col=None, categorical=None, levels=None):
    """Build the :class:`Schema` from the first line of the input.

    ``label_col`` is a column name (needs a header), an index (``'0'``, ``3``,
    ``-1`` for the last) or None for the first column. ``n_features`` (predict,
    evaluate) is the number of raw features of a fitted model: the input must
    have exactly these, with the label column or (CSV) without it; anything else
    is an error here, before any job starts. ``weight_col`` names the sample-weight
    column as ``label_col`` names the label (CSV only; None: no weights); ``cluster_col``
    the cluster column of ``--cov cluster:COL`` likewise (scoring reads past both);
    ``offset_col`` the offset column of ``--offset-col`` likewise (scoring needs it).
    ``categorical`` names the categorical columns (``'a,b'``, by name or index; not counted
    in ``n_features``), ``levels`` their levels when known (``options.levels``: see
    :func:`resolve_categorical`).
    """
    _check_choice('format', fmt, FORMAT_CHOICES)
    if first_line is None:
        raise EmptyInputError('the input is empty: no rows to fit', file=source)
    first_line = first_line_text(first_line).rstrip('\r\n')
    if fmt == 'auto':
        fmt = 'libsvm' if _LIBSVM_LINE.match(first_line) else 'csv'
    if fmt == 'parquet' or (fmt == 'auto' and first_line.startswith('PAR1')):
        raise DistregError('%s is Parquet (its magic bytes, or --format parquet), read from '
                           'local files and, through WebHDFS, from hdfs:// (mrjob-hadoop, '
                           'spark-rdd, spark-mllib) only: not from here' % source)
    if fmt == 'libsvm':
        if label_col not in (None, 0, '0'):
            raise DistregError('--label-col does not apply to LibSVM input: '
                               'the label is always the first token')
        if weight_col is not None:
            raise DistregError('--weight-col does not apply to LibSVM input: its rows have no '
                               'columns; give the weights as a column of a CSV input')
        if cluster_col is not None:
            raise DistregError('--cov cluster:%s does not apply to LibSVM input: its rows have '
                               'no columns; give the clusters as a column of a CSV input'
                               % cluster_col)
        if categorical:
            raise DistregError('--categorical does not apply to LibSVM input: its features '
                               'are numbers by index; give a CSV or Parquet input')
        if offset_col is not None:
            raise DistregError('--offset-col does not apply to LibSVM input: its rows have no '
                               'columns; give the offsets as a column of a CSV input')
        if n_features is not None:
            _check_libsvm_width(first_line, n_features, source)
        return Schema('libsvm', None, 0, None, bad_rows, model)
    fields = first_line.split(',')
    names = tuple(f.strip() for f in fields) if is_header(first_line) else None
    n = len(fields)
    if n < 2:
        raise BadInputError('a CSV row needs a label and at least one feature, found %d field'
                            % n, file=source, line=1, offset=0, text=first_line)
    cats = split_names(categorical)
    if n_features is not None:
        schema = _schema_for_model(n, names, label_col, n_features + len(cats), bad_rows,
                                   model, source, weight_col, cluster_col, offset_col)
        return resolve_categorical(schema, cats, levels, source)
    label = _resolve_label(label_col, names, n, source)
    weight = _resolve_weight(weight_col, label, names, n, source)
    cluster = _resolve_cluster(cluster_col, (label, weight), names, n, source)
    offset = _resolve_offset(offset_col, (label, weight, cluster), names, n, source)
    others = [(flag, what) for flag, what, i in (('--weight-col', 'a weight', weight),
                                                  ('--cov cluster:COL', 'a cluster id', cluster),
                                                  ('--offset-col', 'an offset', offset))
              if i is not None]
    if others and n < 2 + len(others):
        raise BadInputError('a CSV row with %s needs a label, %s and at least one feature, '
                            'found %d fields' % (' and '.join(f for f, _ in others),
                                                 ', '.join(w for _, w in others), n),
                            file=source, line=1, offset=0, text=first_line)
    schema = Schema('csv', n, label, names, bad_rows, model, weight=weight, cluster=cluster,
                    offset=offset)
    return resolve_categorical(schema, cats, levels, source)


def split_names(text):
    """The names of a comma-separated option (``--categorical a,b``) as a list."""
    if text is None:
        return []
    if isinstance(text, (list, tuple)):
        return [str(t).strip() for t in text]
    return [t.strip() for t in str(text).split(',') if t.strip()]


def resolve_categorical(schema, categorical, levels=None, source='<input>'):
    """``schema`` with its categorical columns (CSV: names or indices) and their levels.

    ``levels``: ``[[column name, [level, ...]], ...]`` of a fitted model (predict,
    evaluate), or None. A categorical column is never the label or the weight.
    """
    if not categorical:
        if levels:
            raise DistregError('the model has categorical columns but none is read')
        return schema
    n = schema.n_fields
    idx = []
    for c in categorical:
        i = _resolve_label(c, schema.names, n, source, flag='--categorical')
        if i in (schema.label, schema.weight, schema.cluster, schema.offset):
            raise DistregError('--categorical %s is the %s column of %s: a categorical column '
                               'is a feature' % (c, 'label' if i == schema.label else 'weight'
                                                 if i == schema.weight else 'cluster'
                                                 if i == schema.cluster else 'offset', source))
        if i in idx:
            raise DistregError('--categorical names column %s twice' % c)
        idx.append(i)
    schema = dataclasses.replace(schema, categorical=tuple(idx))
    return with_levels(schema, levels)


def with_levels(schema, levels):
    """``schema`` with the levels of its categorical columns (``[[name, [levels]], ...]``,
    in the record's order; matched by name, by position without a header)."""
    if not levels:
        return schema
    names = schema.categorical_names()
    given = [name for name, _ in levels]
    if sorted(map(str, given)) != sorted(names) and len(given) != len(names):
        raise DistregError('the model\'s categorical columns are %s; the input\'s are %s'
                           % (', '.join(map(str, given)), ', '.join(names)))
    by_name = {str(name): tuple(str(v) for v in values) for name, values in levels}
    if set(by_name) == set(names):
        found = tuple(by_name[n] for n in names)
    else:
        found = tuple(tuple(str(v) for v in values) for _, values in levels)
    return dataclasses.replace(schema, levels=found)


def _named_in(col, names):
    """True/False when ``col`` is a column name and the header has/lacks it; None otherwise."""
    if names is None or col is None or re.fullmatch(r'[+-]?\d+', str(col).strip()):
        return None
    return str(col).strip() in names


def _schema_for_model(n, names, label_col, n_features, bad_rows, model, source, weight_col=None,
                      cluster_col=None, offset_col=None):
    """The schema of a CSV scored by a model of ``n_features`` raw features.

    A model fitted with ``--weight-col`` (or ``--cov cluster:COL``) reads that column when
    the input has it (by name with a header, else when the column count leaves room for
    every such column): it is never a feature. The weights and clusters of the rows do not
    change a prediction or a metric. A model fitted with ``--offset-col`` needs its offset
    column (it is part of every row's mean): it counts with the features here.
    """
    raw = n_features
    if offset_col is not None:
        if _named_in(offset_col, names) is False:
            raise DistregError('the model was fitted with the offset column %r, which %s does '
                               'not have (its columns: %s): the offset is part of every row\'s '
                               'mean' % (str(offset_col).strip(), source, ', '.join(names)))
        n_features += 1
    given = [c for c in (weight_col, cluster_col) if c is not None]
    named = {c: _named_in(c, names) for c in given}
    unnamed = [c for c in given if named[c] is None]
    # columns named in the header are there or not by name; the others all or none, by count
    all_unnamed = bool(unnamed) and n == n_features + 1 + sum(map(bool, named.values())) + \
        len(unnamed)
    has_weight = weight_col is not None and (named[weight_col] if named[weight_col] is not None
                                             else all_unnamed)
    has_cluster = cluster_col is not None and (
        named[cluster_col] if named[cluster_col] is not None else all_unnamed)
    has_label = n == n_features + has_weight + has_cluster + 1
    if _named_in(label_col, names) is not None:
        has_label = _named_in(label_col, names)
    if n != n_features + has_label + has_weight + has_cluster:
        off = ', the offset' if offset_col is not None else ''
        others = ' and '.join(what for what, c in (('the weight', weight_col),
                                                   ('the cluster', cluster_col)) if c is not None)
        raise DistregError(
            'the model has %d raw feature%s but %s has %d column%s: expected %d (the features%s) '
            'or %d (the features%s and the label)%s'
            % (raw, 's' if raw != 1 else '', source, n, 's' if n != 1 else '',
               n_features, off, n_features + 1, off,
               ' or %d (and %s)' % (n_features + 1 + len(given), others) if given else ''))
    label = _resolve_label(label_col, names, n, source) if has_label else None
    weight = _resolve_weight(weight_col, label, names, n, source) if has_weight else None
    cluster = (_resolve_cluster(cluster_col, (label, weight), names, n, source)
               if has_cluster else None)
    offset = _resolve_offset(offset_col, (label, weight, cluster), names, n, source)
    return Schema('csv', n, label, names, bad_rows, model, weight=weight, cluster=cluster,
                  offset=offset)


def _resolve_weight(weight_col, label, names, n, source):
    """The index of the ``--weight-col`` column (None without one); never the label's."""
    if weight_col is None:
        return None
    weight = _resolve_label(weight_col, names, n, source, flag='--weight-col')
    if weight == label:
        raise DistregError('--weight-col %s is the label column of %s: the weights need a '
                           'column of their own' % (str(weight_col).strip(), source))
    return weight


def _resolve_cluster(cluster_col, taken, names, n, source):
    """The index of the ``--cov cluster:COL`` column (None without one): a column of its own,
    neither the label nor the weight."""
    if cluster_col is None:
        return None
    cluster = _resolve_label(cluster_col, names, n, source, flag='--cov cluster:COL')
    if cluster in taken:
        raise DistregError('--cov cluster:%s is the %s column of %s: the clusters need a '
                           'column of their own' % (str(cluster_col).strip(), 'label'
                                                    if cluster == taken[0] else 'weight', source))
    return cluster


def _resolve_offset(offset_col, taken, names, n, source):
    """The index of the ``--offset-col`` column (None without one): a column of its own,
    not the label, weight or cluster column (``taken``, in that order)."""
    if offset_col is None:
        return None
    offset = _resolve_label(offset_col, names, n, source, flag='--offset-col')
    if offset in taken:
        what = ('label', 'weight', 'cluster')[taken.index(offset)]
        raise DistregError('--offset-col %s is the %s column of %s: the offset needs a column '
                           'of its own' % (str(offset_col).strip(), what, source))
    return offset


def _check_libsvm_width(first_line, n_features, source):
    indices = [int(t.split(':', 1)[0]) for t in first_line.split()[1:]
               if t.split(':', 1)[0].isdigit()]
    if indices and max(indices) > n_features:
        raise DistregError('the model has %d raw features but the first row of %s has feature '
                           '%d' % (n_features, source, max(indices)))


def _resolve_label(label_col, names, n, source, flag='--label-col'):
    if label_col is None:
        return 0
    text = str(label_col).strip()
    if re.fullmatch(r'[+-]?\d+', text):
        idx = int(text)
        if not -n <= idx < n:
            raise DistregError('%s %s is out of range: %s has %d columns (0..%d)'
                               % (flag, text, source, n, n - 1))
        return idx % n
    if names is None:
        raise DistregError('%s %r is a name, but %s has no header line; '
                           'give a column index (0..%d) instead' % (flag, text, source, n - 1))
    if text not in names:
        raise DistregError('%s %r is not a column of %s; its columns are: %s'
                           % (flag, text, source, ', '.join(names)))
    if names.count(text) > 1:
        at = [str(i) for i, name in enumerate(names) if name == text]
        raise DistregError('%s %r names %d columns of %s (%s): give the index of the one '
                           'meant' % (flag, text, len(at), source, ', '.join(at)))
    return names.index(text)


def header_names(line):
    """The column names of a CSV header line, or None when the line is not a header."""
    if line is None:
        return None
    line = first_line_text(line).rstrip('\r\n')
    return tuple(f.strip() for f in line.split(',')) if is_header(line) else None


def check_headers(schema, headers):
    """Check every part file's header against the first one; return the schema to read with.

    ``headers`` lists ``(file, first line or None, keys)`` for every file of the input,
    in input order (``keys``: further names a task may give the file, e.g. its HDFS
    path). A file whose header names the same columns in another order is read by
    name (an entry of :attr:`Schema.files`); other columns, or a header where the
    first file has none, are an error that names both files. A file without a
    header is read in the first file's order (part files cut from one file).
    """
    if schema.format != 'csv':
        return schema
    first = None
    entries = []
    for file, line, keys in headers:
        if not line or not line.strip():
            continue
        names = header_names(line)
        if first is None:
            first = file
            continue
        if names is None or names == schema.names:
            continue
        if schema.names is None:
            raise DistregError(
                '%s has a header (%s) but %s, the first file, has none: the columns of '
                'the part files cannot be matched; give every part file the same header'
                % (file, ','.join(names), first))
        if (sorted(names) != sorted(schema.names)
                or len(set(names)) != len(names)):
            raise DistregError(
                'the part files name different columns: %s has %s but %s has %s; '
                'every part file needs the same columns (in any order)'
                % (first, ','.join(schema.names), file, ','.join(names)))
        for key in (file, file_key(_absolute(file))) + tuple(file_key(k) for k in keys or ()):
            entries.append((key, names))
    if not entries:
        return schema
    return dataclasses.replace(schema, files=tuple(entries))


def check_no_features(features, n_features=None):
    """--features selects Parquet columns; other formats have no such switch yet. (A model
    fitted on Parquet names its features; scoring CSV with it reads the CSV's columns.)"""
    if features and n_features is None:
        raise DistregError('--features selects columns of Parquet input; for CSV and LibSVM '
                           'input every column but the label is a feature')


def _absolute(name):
    """A local name made absolute (tasks may run elsewhere); others unchanged."""
    path = local_path(name)
    return os.path.abspath(path) if path is not None else name


#: the first (and last) bytes of a Parquet file
PARQUET_MAGIC = b'PAR1'


def refuse_parquet_files(path, fmt):
    """A Parquet file read as text would fail on its first line with an error quoting
    binary bytes (or, under --bad-rows skip, reject every line): say what it is instead."""
    for p in expand_paths(path):
        try:
            with open(p, 'rb') as f:
                magic = f.read(len(PARQUET_MAGIC))
        except OSError:
            continue   # reading it says why, with the file named
        if magic == PARQUET_MAGIC:
            raise parquet_as_text(p, fmt, path)


def parquet_as_text(file, fmt, path):
    """The error for ``file`` of input ``path``, a Parquet file, read as ``fmt`` text."""
    if fmt == 'auto':
        return DistregError('%s is a Parquet file (it begins with PAR1, Parquet\'s magic '
                            'bytes) among the text files of %s: give an input of one format'
                            % (file, path))
    return DistregError('%s is a Parquet file (it begins with PAR1, Parquet\'s magic bytes), '
                        'not %s text: give --format parquet (or auto)'
                        % (file, 'CSV' if fmt == 'csv' else 'LibSVM'))


def read_headers(path):
    """``(file, first line or None, ())`` of every local file of ``path`` (for check_headers)."""
    out = []
    for p in expand_paths(path):
        with open_input(p) as f:
            line = f.readline()
        out.append((p, first_line_text(line) if line else None, ()))
    return out


def local_schema(path, fmt='auto', label_col=None, bad_rows='fail', model='linear',
                 source=None, n_features=None, weight_col=None, cluster_col=None,
                 offset_col=None, categorical=None, levels=None):
    """The checked :class:`Schema` of a local input: first line sniffed, every header checked
    (Parquet: :func:`distreg.parquet.input_schema`)."""
    if fmt != 'parquet':
        refuse_parquet_files(path, fmt)
    headers = read_headers(path)
    first = next((line for _, line, _ in headers if line), None)
    schema = sniff_schema(first, fmt, label_col, bad_rows, model, source=source or path,
                          n_features=n_features, weight_col=weight_col,
                          cluster_col=cluster_col, offset_col=offset_col,
                          categorical=categorical, levels=levels)
    return check_headers(schema, headers)


# --------------------------------------------------------------------------- chunks

@dataclass
class Chunk:
    """Bytes of whole lines and where they come from.

    ``offset`` is the byte offset of ``data[0]`` in ``file``; ``line`` the 1-based
    number of its first line, or None when the reader started mid-file (a Hadoop
    split) and cannot know it.
    """
    data: bytes
    file: str
    offset: int = 0
    line: int = 1
    n_lines: int = None   # newlines in data, when already counted
    header: str = None    # the file's header line, when this chunk started with it

    def count_lines(self):
        if self.n_lines is None:
            self.n_lines = self.data.count(b'\n')
        return self.n_lines

    def line_offsets(self):
        """The byte offset in ``file`` of each line of the chunk (an int64 array)."""
        ends = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
        return self.offset + np.r_[0, ends[:-1] + 1].astype(np.int64)


def iter_chunks(stream, file, offset=0, line=1, chunk_bytes=CHUNK_BYTES, skip_header=True):
    """Yield :class:`Chunk` objects of whole lines read from a binary stream.

    At the start of a file (``offset == 0``) a CSV header line is skipped when
    ``skip_header`` is true; the line numbers that follow still count it.
    """
    rest = b''
    at_start = offset == 0
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            break
        data = rest + data
        if offset == 0 and len(data) < len(BOM) and BOM.startswith(data):
            rest = data  # maybe the start of a byte order mark: read more
            continue
        if offset == 0 and data.startswith(BOM):
            data, offset = data[len(BOM):], len(BOM)
        cut = data.rfind(b'\n') + 1
        if cut == 0:  # no complete line yet: read more
            rest = data
            continue
        rest = data[cut:]
        chunk = Chunk(data[:cut], file, offset, line)
        offset += cut
        if line is not None:
            line += chunk.count_lines()
        if at_start and skip_header:
            chunk = _drop_header(chunk)
        at_start = False
        if chunk.data:
            yield chunk
    if rest:
        chunk = Chunk(rest if rest.endswith(b'\n') else rest + b'\n', file, offset, line)
        if at_start and skip_header:
            chunk = _drop_header(chunk)
        if chunk.data:
            yield chunk


def _drop_header(chunk):
    end = chunk.data.find(b'\n') + 1
    first = chunk.data[:end].decode('utf-8', 'replace').rstrip('\r\n')
    if not is_header(first):
        return chunk
    return Chunk(chunk.data[end:], chunk.file, chunk.offset + end,
                 None if chunk.line is None else chunk.line + 1,
                 None if chunk.n_lines is None else chunk.n_lines - 1, header=first)


def read_first_line(path):
    """First line of a local input (file, directory of part files, glob), or None if empty."""
    for p in expand_paths(path):
        with open_input(p) as f:
            line = f.readline()
            if line:
                return first_line_text(line)
    return None


def first_line_text(line):
    """The first line of a file as text, without a UTF-8 byte order mark."""
    if isinstance(line, bytes):
        line = line.decode('utf-8', 'replace')
    return line[1:] if line.startswith('\ufeff') else line


def expand_paths(path):
    """Local files of an input: a file, a directory of part files, or a glob.

    Directory entries starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc``) are
    skipped, as Hadoop does.
    """
    if any(ch in path for ch in '*?['):
        matches = sorted(glob.glob(path))
        if not matches:
            raise DistregError('no input matches %s' % path)
        return [f for m in matches for f in expand_paths(m)]
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if not f.startswith(('_', '.')))
        return [f for f in files if os.path.isfile(f)]
    if not os.path.exists(path):
        raise DistregError('input not found: %s' % path)
    return [path]


def is_compressed(path):
    """True for a ``.gz`` or ``.bz2`` file (read whole, never split by byte range)."""
    return os.path.splitext(path)[1] in COMPRESSED


def open_input(path):
    """Open a local input file as a binary stream (``.gz``, ``.bz2`` decompressed)."""
    ext = os.path.splitext(path)[1]
    try:
        if ext in COMPRESSED:
            return COMPRESSED[ext](path, 'rb')
        return open(path, 'rb', buffering=0)
    except PermissionError as e:
        raise DistregError('input %s cannot be read: %s' % (path, e.strerror))


def iter_split_chunks(path, start, end, chunk_bytes=CHUNK_BYTES, skip_header=True,
                      count_lines=True, name=None):
    """:class:`Chunk` objects of the lines of a local file that start in ``[start, end)``.

    Hadoop's rule for a split: a line that starts before ``start`` belongs to the split
    before, and the last line that starts before ``end`` is read to its end. Offsets are
    exact; line numbers are known from the start of the file only (else None, or always
    None without ``count_lines``: :func:`fill_line_numbers` finds them when needed).
    Chunks name the file ``name`` (default: ``path``).
    """
    with open(path, 'rb') as f:
        pos = start
        if start > 0:
            f.seek(start - 1)
            if f.read(1) != b'\n':
                pos = start + len(f.readline())
        if pos >= end:
            return
        f.seek(pos)
        line = 1 if pos == 0 and count_lines else None
        yield from iter_chunks(_RangeReader(f, pos, end), name or path, pos, line, chunk_bytes,
                               skip_header=skip_header)


class _RangeReader:
    """read() over the lines that start in [pos, end) of an open binary file at ``pos``."""

    def __init__(self, f, pos, end):
        self.f = f
        self.pos = pos
        self.end = end
        self.done = False
        self.last = b'\n'

    def read(self, n):
        if self.done:
            return b''
        if self.pos < self.end:
            data = self.f.read(min(n, self.end - self.pos))
            if data:
                self.pos += len(data)
                self.last = data[-1:]
                return data
        # past the end: finish the line that started inside the range
        self.done = True
        return b'' if self.last == b'\n' else self.f.readline()


def fill_line_numbers(bad_rows, opener=None):
    """Give bad-row dicts that only know their byte offset a line number.

    Engines reading a split from the middle of a file (Hadoop, mrjob's local
    runner) know the byte offset of a bad line but not its line number; it is
    found here with one scan of the file. A dict with ``split_start`` S comes
    from a Hadoop split, whose first line is the first one that starts at or
    after byte S (Hadoop's TextInputFormat skips the partial line before it);
    its ``offset`` counts from S as if that line started there, and is made
    exact here. Local files are opened here, others with ``opener(uri)`` (a
    binary stream, closed after use) when given. Dicts are updated in place
    and returned; one whose file cannot be read keeps its offset and split.
    """
    todo = {}
    for d in bad_rows:
        if d.get('row_group') is not None:
            continue  # a Parquet row is placed by its row group already
        if d.get('file') and (d.get('line') is None or d.get('split_start')):
            todo.setdefault(d['file'], []).append(d)
    for uri, items in todo.items():
        path = local_path(uri)
        if path is not None and os.path.isfile(path):
            stream = open_input(path)
        elif path is None and opener is not None:
            stream = opener(uri)
        else:
            continue
        with stream:
            _locate(stream, items)
    return bad_rows


def _locate(stream, items):
    """Exact offsets and line numbers of ``items`` (bad-row dicts) in one forward scan."""
    items.sort(key=lambda d: (d.get('split_start') or 0, d['offset'] or 0))
    pos, count, buf = 0, 0, b''   # buf: the bytes from pos on, already read
    first_line_of = {0: 0}

    def advance(target):
        """Move pos to target, counting newlines; False at end of stream."""
        nonlocal pos, count, buf
        while pos < target:
            if not buf:
                buf = stream.read(1 << 20)
                if not buf:
                    return False
            take = buf[:target - pos]
            count += take.count(b'\n')
            pos += len(take)
            buf = buf[len(take):]
        return True

    for d in items:
        start = d.get('split_start') or 0
        if start not in first_line_of:
            # the first line of the split starts after the first newline at or after start - 1
            if not advance(start - 1):
                return
            while True:
                if not buf:
                    buf = stream.read(1 << 20)
                    if not buf:
                        return
                i = buf.find(b'\n')
                if i >= 0:
                    advance(pos + i + 1)
                    break
                advance(pos + len(buf))
            first_line_of[start] = pos
        offset = first_line_of[start] + (d['offset'] or start) - start
        if offset < pos or not advance(offset):
            return
        d['offset'] = offset
        d['line'] = count + 1
        d.pop('split_start', None)


def local_path(uri):
    """The local path of a ``file://`` URI or plain path; None for other schemes."""
    if uri.startswith('file://'):
        return uri[len('file://'):]
    if '://' in uri:
        return None
    return uri


# --------------------------------------------------------------------------- parsing

@dataclass
class Parsed:
    """A parsed chunk: label ``y``, raw features ``X`` (rows x features) and rejected rows.

    ``reject_at[k]`` is the number of good rows before ``rejects[k]`` in the chunk:
    where a rejected row was, for outputs that keep one line per input row (predict).
    ``w`` holds the rows' sample weights (``--weight-col``: finite, >= 0), None without
    weights (the aggregates then do exactly their unweighted arithmetic). ``g`` holds the
    rows' cluster ids (``--cov cluster:COL``: finite numbers), None without; ``offset``
    the rows' offsets (``--offset-col``: finite), added to the linear predictor, None without.
    ``cats`` holds the text of the categorical columns (rows x columns, a numpy ``str``
    array, stripped of surrounding blanks), None without them.
    """
    X: np.ndarray
    y: np.ndarray
    rejects: list = field(default_factory=list)
    reject_at: list = field(default_factory=list)
    w: np.ndarray = None
    g: np.ndarray = None
    offset: np.ndarray = None
    #: each row's key (uint64, :mod:`distreg.folds`) when the schema asks for ``row_keys``
    keys: np.ndarray = None
    cats: np.ndarray = None


def parse_chunk(chunk, schema):
    """Parse a :class:`Chunk` into a :class:`Parsed` block.

    With ``schema.bad_rows == 'fail'`` the first bad row raises
    :class:`~distreg.errors.BadInputError`; with ``'skip'`` bad rows are returned
    in ``rejects`` (dicts with file, line, offset, text, reason) and left out.
    """
    if schema.format == 'csv':
        schema = schema.for_file(chunk.file)
        names = header_names(chunk.header)
        if names is not None and names != schema.names:
            # the driver checked every header (check_headers): a task that finds another
            # one was not told how to read this file; never read it by position
            raise DistregError('%s: its header (%s) does not match the columns being read '
                               '(%s)' % (chunk.file, ','.join(names),
                                         ','.join(schema.names or ())))
        parsed = _parse_csv_fast(chunk.data, chunk.count_lines(), schema)
        if parsed is None:
            parsed = _parse_lines(chunk, schema, _csv_row)
    else:
        parsed = _parse_lines(chunk, schema, _libsvm_row)
    if schema.row_keys:
        parsed.keys = _chunk_keys(chunk, parsed)
    return parsed


def _chunk_keys(chunk, parsed):
    """The keys of a parsed chunk's good rows: its lines' offsets, less the rejected lines."""
    from distreg import folds
    offsets = chunk.line_offsets()
    if parsed.rejects:
        offsets = np.delete(offsets, [at + k for k, at in enumerate(parsed.reject_at)])
    return folds.row_keys(chunk.file, offsets)


_ARROW = None


def _arrow():
    global _ARROW
    if _ARROW is None:
        import pyarrow
        import pyarrow.csv
        _ARROW = (pyarrow, pyarrow.csv)
    return _ARROW


def _parse_csv_fast(data, n_lines, schema):
    """Whole-chunk parse; None when anything is off (the careful path decides what)."""
    pa, pcsv = _arrow()
    names = ['c%d' % i for i in range(schema.n_fields)]
    types = {n: pa.float64() for n in names}
    for i in schema.categorical or ():
        types[names[i]] = pa.string()
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data),
            read_options=pcsv.ReadOptions(use_threads=False, column_names=names,
                                          block_size=max(len(data), 1 << 16)),
            # No quoting: a quoted number is not a number here, on either path.
            parse_options=pcsv.ParseOptions(quote_char=False, double_quote=False,
                                            escape_char=False, ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types=types, null_values=[], strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    if table.num_rows != n_lines:  # e.g. a lone '\r', which Arrow takes for a line end
        return None
    if any(col.null_count for col in table.columns):
        return None
    cats = None
    if schema.categorical:
        cats = _text_columns([table.column(i) for i in schema.categorical], schema.levels)
        if cats is None:
            return None
    cols = [None if i in (schema.categorical or ()) else _float_column(col)
            for i, col in enumerate(table.columns)]
    y = cols[schema.label] if schema.label is not None else np.zeros(table.num_rows)
    # column-major: each column is one contiguous copy, and BLAS takes X'X as it is
    X = np.empty((table.num_rows, schema.n_features()), order='F')
    for j, i in enumerate(_feature_fields(schema)):
        X[:, j] = cols[i]
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        return None
    if schema.model == 'logistic' and not np.all((y == 0) | (y == 1)):
        return None
    if schema.model == 'poisson' and not np.all(poisson_label_ok(y, schema.allow_noninteger)):
        return None
    w = None
    if schema.weight is not None:
        w = cols[schema.weight]
        if not np.all(np.isfinite(w) & (w >= 0)):
            return None
    g = None
    if schema.cluster is not None:
        g = cols[schema.cluster]
        if not np.isfinite(g).all():
            return None
    offset = None
    if schema.offset is not None:
        offset = cols[schema.offset]
        if not np.isfinite(offset).all():
            return None
    return Parsed(X, y, w=w, g=g, offset=offset, cats=cats)


def _text_columns(columns, levels=None):
    """Categorical Arrow string columns as one rows x columns numpy ``str`` array, their
    text stripped; None when a value is empty or (``levels`` given) not a known level.

    Each column is dictionary-encoded first: Python sees its distinct values only, and
    the rows are an index into them (no per-row Python work).
    """
    pa, _ = _arrow()
    import pyarrow.compute as pc
    out = []
    for j, col in enumerate(columns):
        if col.type != pa.string():
            col = pc.cast(col, pa.string())
        col = pc.utf8_trim_whitespace(col).combine_chunks()
        if col.null_count:
            return None
        enc = col.dictionary_encode()
        values = enc.dictionary.to_pylist()
        if '' in values:
            return None
        if levels is not None and not set(values) <= _level_set(levels[j]):
            return None
        out.append(np.array(values, dtype=str)[dictionary_codes(enc)]
                   if values else np.zeros(len(col), dtype=str))
    return np.stack(out, axis=1) if out else None


_LEVEL_SETS = {}


def _level_set(levels):
    """The frozenset of one column's levels (kept: every chunk of a task asks again)."""
    found = _LEVEL_SETS.get(levels)
    if found is None:
        found = _LEVEL_SETS[levels] = frozenset(levels)
    return found


def check_level(text, levels, what):
    """The text of a categorical value, stripped; ValueError when it is empty or (levels
    given) not one of them. ``what`` names the field, for the message."""
    text = text.strip()
    if not text:
        raise ValueError('%s is empty (a categorical value is a non-empty level)' % what)
    if levels is not None and text not in _level_set(levels):
        shown = ', '.join(levels[:10]) + (', ...' if len(levels) > 10 else '')
        raise ValueError('%s is %r, a level not seen in training (its %d levels: %s)'
                         % (what, text, len(levels), shown))
    return text


def dictionary_codes(enc):
    """The codes of a dictionary-encoded Arrow array (one chunk, no nulls) as numpy, read from
    its buffer (``to_numpy`` would import pandas in every task)."""
    idx = enc.indices
    dtype = np.dtype('int%d' % idx.type.bit_width)
    if len(idx) == 0:
        return np.zeros(0, dtype)
    return np.frombuffer(idx.buffers()[1], dtype=dtype, count=len(idx), offset=idx.offset *
                         dtype.itemsize)


def _float_column(col):
    """A float64 Arrow column without nulls as numpy, reading Arrow's buffers directly.

    (``to_numpy`` would copy, and import pandas in every task.)
    """
    parts = [np.frombuffer(c.buffers()[1], dtype=np.float64, count=len(c), offset=8 * c.offset)
             for c in col.chunks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _csv_row(text, schema):
    """Parse one CSV line: (label, features list) or raise ValueError(reason)."""
    fields = text.split(',')
    if not text.strip():
        raise ValueError('empty line (expected %d numbers separated by ",")' % schema.n_fields)
    if len(fields) != schema.n_fields:
        raise ValueError('wrong number of fields: %d, expected %d'
                         % (len(fields), schema.n_fields))
    values = []
    cats = schema.categorical or ()
    for i, f in enumerate(fields):
        if i in cats:
            values.append(None)
            continue
        v = parse_number(f)
        if v is None:
            raise ValueError('field %d (%s) is %r, not a number%s'
                             % (i + 1, _column_name(schema, i), f,
                                ' (a weight is a finite number >= 0)'
                                if i == schema.weight else ' (a cluster id is a number: give '
                                'the clusters integer codes)' if i == schema.cluster else ''))
        if not math.isfinite(v):
            raise ValueError('field %d (%s) is %s: NaN and Inf are not allowed in %s'
                             % (i + 1, _column_name(schema, i), f.strip(),
                                'the label' if i == schema.label else 'the weight (a finite '
                                'number >= 0)' if i == schema.weight else 'the cluster ids'
                                if i == schema.cluster else 'the offset'
                                if i == schema.offset else 'the features'))
        if i == schema.weight and v < 0:
            raise ValueError('field %d (%s) is %s: a weight must be >= 0'
                             % (i + 1, _column_name(schema, i), f.strip()))
        values.append(v)
    label = values[schema.label] if schema.label is not None else 0.0
    features = [values[i] for i in _feature_fields(schema)]
    if cats:
        levels = schema.levels or (None,) * len(cats)
        features = features, [check_level(fields[i], lv, 'field %d (%s)'
                                          % (i + 1, _column_name(schema, i)))
                              for i, lv in zip(cats, levels)]
    # then the weight, the cluster id and the offset, those the schema has (see _parse_lines)
    return (label, features) + tuple(values[i] for i in (schema.weight, schema.cluster,
                                                         schema.offset) if i is not None)


def _feature_fields(schema):
    """The fields that hold the features, in the order of the first file's header."""
    if schema.columns is not None:
        return schema.columns[1:]
    return [i for i in range(schema.n_fields) if i not in schema.not_features()]


def _column_name(schema, i):
    if schema.names and i < len(schema.names):  # a message about a bad field never fails
        return 'column %r' % schema.names[i]
    if i == schema.weight:
        return 'the weight column'
    if i == schema.cluster:
        return 'the cluster column'
    if i == schema.offset:
        return 'the offset column'
    return 'the label column' if i == schema.label else 'a feature column'


def _libsvm_row(text, schema):
    """Parse one LibSVM line: (label, {index: value}) or raise ValueError(reason)."""
    tokens = text.split()
    if not tokens:
        raise ValueError('empty line (expected "label index:value ...")')
    label = parse_number(tokens[0])
    if label is None or ':' in tokens[0]:
        raise ValueError('the label %r is not a number (expected "label index:value ...")'
                         % tokens[0])
    if not math.isfinite(label):
        raise ValueError('the label is %s: NaN and Inf are not allowed in the label' % tokens[0])
    features = {}
    last = 0
    for tok in tokens[1:]:
        idx_text, sep, val_text = tok.partition(':')
        if not sep or not idx_text.isdigit():
            raise ValueError('%r is not index:value (expected a 1-based integer index)' % tok)
        idx = int(idx_text)
        if idx < 1:
            raise ValueError('index %d in %r: indices are 1-based' % (idx, tok))
        if idx <= last:
            raise ValueError('index %d after %d: indices must be strictly ascending' % (idx, last))
        v = parse_number(val_text)
        if v is None:
            raise ValueError('value %r of feature %d is not a number' % (val_text, idx))
        if not math.isfinite(v):
            raise ValueError('feature %d is %s: NaN and Inf are not allowed in the features'
                             % (idx, val_text))
        features[idx] = v
        last = idx
    return label, features


def _parse_lines(chunk, schema, parse_row):
    """Line-by-line parse with exact positions for every bad row."""
    labels, rows, rejects, reject_at, weights, cats = [], [], [], [], [], []
    categorical = schema.format == 'csv' and bool(schema.categorical)
    offset = chunk.offset
    line_no = chunk.line
    for raw in chunk.data.split(b'\n')[:-1]:
        text = raw.decode('utf-8', 'replace').rstrip('\r')
        try:
            label, values, *extra = parse_row(text, schema)
            if schema.model == 'logistic' and label not in (0.0, 1.0):
                raise ValueError('label %s is not 0 or 1 (logistic regression needs labels '
                                 'in {0, 1})' % _label_text(text, schema))
            if schema.model == 'poisson' and not poisson_label_ok(label,
                                                                  schema.allow_noninteger):
                raise ValueError(poisson_label_reason(_label_text(text, schema), label,
                                                      schema.allow_noninteger))
        except ValueError as e:
            bad = BadInputError(str(e), file=chunk.file, line=line_no, offset=offset, text=text)
            if schema.bad_rows == 'fail':
                raise bad
            rejects.append(bad.to_dict())
            reject_at.append(len(labels))
        else:
            if categorical:
                values, texts = values
                cats.append(texts)
            labels.append(label)
            rows.append(values)
            weights.append(extra)
        offset += len(raw) + 1
        if line_no is not None:
            line_no += 1
    y = np.array(labels, dtype=np.float64)
    if schema.format == 'csv':
        X = np.array(rows, dtype=np.float64).reshape(len(rows), schema.n_features())
    else:
        width = max((max(r) for r in rows if r), default=0)
        X = np.zeros((len(rows), width))
        for i, r in enumerate(rows):
            if r:
                X[i, np.fromiter(r.keys(), int) - 1] = np.fromiter(r.values(), float)
    # each kept row's weight, cluster id and offset, those the schema has, in that order
    has = [i is not None for i in (schema.weight, schema.cluster, schema.offset)]
    extra = np.array(weights, dtype=np.float64).reshape(len(labels), sum(has))
    at = np.cumsum(has) - 1
    w = extra[:, at[0]] if has[0] else None
    g = extra[:, at[1]] if has[1] else None
    offsets = extra[:, at[2]] if has[2] else None
    cat_block = None
    if categorical:
        cat_block = np.array(cats, dtype=str).reshape(len(cats), len(schema.categorical))
    return Parsed(X, y, rejects, reject_at, w=w, g=g, offset=offsets, cats=cat_block)


def poisson_label_ok(y, allow_noninteger=False):
    """A Poisson label is a count: an integer >= 0 (any finite number >= 0 with
    ``--allow-noninteger``). Elementwise for an array."""
    ok = np.asarray(y) >= 0
    return ok if allow_noninteger else ok & (np.floor(y) == y)


def poisson_label_reason(text, value, allow_noninteger=False):
    """Why a Poisson label is bad (``text``: as written in the input)."""
    if value < 0:
        return ('label %s is negative (Poisson regression needs counts: labels >= 0)' % text)
    return ('label %s is not an integer (Poisson regression needs counts; '
            '--allow-noninteger takes any label >= 0)' % text)


def _label_text(text, schema):
    if schema.format == 'csv':
        return text.split(',')[schema.label].strip()
    return text.split()[0]


def iter_local_blocks(path, schema, chunk_bytes=CHUNK_BYTES):
    """Parse every local file of ``path`` chunk by chunk: yields :class:`Parsed` blocks."""
    for p in expand_paths(path):
        with open_input(p) as f:
            for chunk in iter_chunks(f, p, chunk_bytes=chunk_bytes,
                                     skip_header=schema.format == 'csv'):
                yield parse_chunk(chunk, schema)

