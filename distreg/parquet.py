"""Parquet input: the schema, the row-group manifest, and row groups -> numpy blocks.

Every engine reads Parquet through this module (with pyarrow; no decoder of our own):

- :func:`local_schema` reads the footers only and resolves the columns: the label
  (``--label-col``, by name or index; default the first column), the features
  (``--features a,b,c``; default every numeric column but the label). The result is a
  :class:`distreg.loader.Schema` of format ``parquet`` whose ``names`` are the selected
  columns, the label first.
- :func:`manifest` lists the input's row groups, one :class:`dict` each (``file``,
  ``row_group``, ``rows``, ``first_row``, ``part``: the ``key=value`` partition
  directories above the file). A row group is the unit of work of every engine: an mrjob
  map task reads the row groups of its lines of the manifest, a Spark partition those it
  was given; nobody reads a whole file.
- :func:`read_row_group` reads one row group, only the selected columns (projection),
  into a :class:`distreg.loader.Parsed` block. A null, NaN or Inf, or a logistic label
  outside {0, 1} is a bad row named by file, row group and row, under ``--bad-rows``.

Numeric types are the integers (signed and unsigned), floats, decimals and booleans; a
selected column of another type (string, binary, list, struct, ...) is an error that
names it and its type.
"""

import glob
import io
import json
import os
import urllib.parse

import numpy as np

from distreg import loader
from distreg.errors import BadInputError, DistregError, EmptyInputError
from distreg.loader import Parsed, Schema, parse_number
from distreg.paths import file_sources

#: The first and last four bytes of every Parquet file.
MAGIC = loader.PARQUET_MAGIC
#: What a partition directory names a null value (Hive, Spark).
HIVE_NULL = '__HIVE_DEFAULT_PARTITION__'
NUMERIC_TYPES = 'int8..int64, uint8..uint64, float32/64, decimal, bool'

_PQ = None


def _pq():
    """(pyarrow, None, pyarrow.parquet): what reading footers and listing needs; a row
    group's reader takes :func:`_pc` too (pyarrow.compute's import makes a Python function
    of every Arrow kernel: a driver that reads footers only does not import it)."""
    global _PQ
    if _PQ is None:
        import pyarrow
        import pyarrow.parquet
        _PQ = (pyarrow, None, pyarrow.parquet)
    return _PQ


def _pc():
    """pyarrow and pyarrow.compute."""
    import pyarrow.compute
    return _pq()[0], pyarrow.compute


# --------------------------------------------------------------------------- files

def _skipped(name):
    """Hadoop's and Spark's side files: _SUCCESS, _metadata, .crc, hidden files."""
    return name.startswith(('_', '.')) or name.endswith('.crc')


def data_files(path):
    """``[(file, {partition column: value text})]`` of a local input, in a stable order.

    ``path`` is a file, a directory of part files (searched recursively: ``key=value/``
    partition directories become columns) or a glob.
    """
    if any(ch in path for ch in '*?['):
        matches = sorted(glob.glob(path))
        if not matches:
            raise DistregError('no input matches %s' % path)
        return [f for m in matches for f in data_files(m)]
    if os.path.isdir(path):
        out = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not _skipped(d))
            rel = os.path.relpath(root, path)
            part = {}
            for piece in ([] if rel == '.' else rel.split(os.sep)):
                if '=' in piece:
                    key, value = piece.split('=', 1)
                    part[key] = value
            out.extend((os.path.join(root, f), dict(part))
                       for f in sorted(files) if not _skipped(f))
        return out
    if not os.path.exists(path):
        raise DistregError('input not found: %s' % path)
    return [(path, {})]


def has_magic(path):
    """True when a local file starts with Parquet's magic bytes."""
    try:
        with open(path, 'rb') as f:
            return f.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def is_parquet_input(path, fmt='auto'):
    """True when a local input is to be read as Parquet (``--format parquet``, or auto and
    its first data file starts with ``PAR1``)."""
    if fmt == 'parquet':
        return True
    if fmt != 'auto' or '://' in path and not path.startswith('file://'):
        return False
    path = path[len('file://'):] if path.startswith('file://') else path
    try:
        files = data_files(path)
    except DistregError:
        return False
    return bool(files) and has_magic(files[0][0])


def _open(file, opener=None):
    """A ``pyarrow.parquet.ParquetFile``; a file that is not Parquet is a one-line error."""
    pa, _, pq = _pq()
    try:
        source = opener(file) if opener is not None else file
        return pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as e:
        raise BadInputError('not a readable Parquet file (%s)' % str(e).split('\n')[0],
                            file=file)


#: The file read last by this process: ``(key, ParquetFile)``. A task reads its row groups
#: in manifest order, so consecutive groups of one file share one footer read.
_LAST = [None, None]


def _open_again(file, opener=None):
    """:func:`_open`, reusing the last file while it is unchanged (size, modification)."""
    if opener is None:
        st = os.stat(file)
        key = (file, None, st.st_size, st.st_mtime_ns)
        source = None
    else:
        source = opener(file)
        key = (file, getattr(source, 'base', None), getattr(source, 'size', None),
               getattr(source, 'mtime', None))
    if _LAST[0] != key or key[3] is None:
        _LAST[:] = [key, _open(file, (lambda _: source) if source is not None else None)]
    return _LAST[1]


# --------------------------------------------------------------------------- schema

def _is_number(t):
    pa = _pq()[0]
    return (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            or pa.types.is_boolean(t))


def _is_text(t):
    """A string column, or a dictionary of strings: categorical (its values are levels)."""
    pa = _pq()[0]
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _partition_number(value):
    return value == HIVE_NULL or parse_number(value) is not None


def columns_of(files, opener=None):
    """``[(name, arrow type or None for a partition column)]`` of the first file, then the
    partition columns; every file must have the first one's columns."""
    first_file, first_part = files[0]
    schema = _open(first_file, opener).schema_arrow
    cols = [(f.name, f.type) for f in schema]
    names = [n for n, _ in cols]
    for key in first_part:
        if key not in names:
            cols.append((key, None))
    return cols


def local_schema(path, label_col=None, features=None, bad_rows='fail', model='linear',
                 n_features=None, source=None, files=None, opener=None, weight_col=None,
                 cluster_col=None, categorical=None, levels=None, offset_col=None):
    """The :class:`distreg.loader.Schema` of a Parquet input (footers only are read).

    ``weight_col`` names the sample-weight column (by name or index, as ``label_col``): a fit
    reads it (never a feature); predict and evaluate (``n_features`` given) leave it out.
    ``cluster_col`` (``--cov cluster:COL``) likewise. ``offset_col`` (``--offset-col``,
    Poisson) is read by fits, predict and evaluate (part of every row's mean). A string or dictionary column among
    ``features`` is categorical, and so is every column named in ``categorical`` (of any
    type: a number's text is its level), added to the features when they are not named
    there; ``levels``: see :func:`distreg.loader.with_levels`.
    """
    source = source or path
    files = files if files is not None else data_files(path)
    if not files:
        raise EmptyInputError('the input is empty: no Parquet files in %s' % source,
                              file=source)
    cols = columns_of(files, opener)
    names = [n for n, _ in cols]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DistregError('%s has %s: columns are chosen by name, so each name must be '
                           "one column's" % (source, ', '.join(
                               'two columns named %r' % n for n in twice)))
    types = dict(cols)
    parts = {k for _, part in files for k in part}

    def numeric(name):
        if types[name] is None:
            return all(_partition_number(part[name]) for _, part in files if name in part)
        return _is_number(types[name])

    cats = loader.split_names(categorical)

    def check(name, what):
        if name not in types:
            raise DistregError('%s %r is not a column of %s; its columns are: %s'
                               % (what, name, source, ', '.join(names)))
        if what in ('--features column', '--categorical column') and (
                name in cats or types[name] is not None and _is_text(types[name])):
            return   # a categorical column: text, or named by --categorical
        if not numeric(name):
            t = types[name]
            raise DistregError(
                '%s %r of %s is %s, not a number (expected %s)'
                % (what, name, source, 'a partition directory with non-numeric values'
                   if t is None else 'of type %s' % t, NUMERIC_TYPES))

    def by_name_or_index(col, flag):
        if str(col).strip().lstrip('+-').isdigit():
            idx = int(str(col).strip())
            if not -len(names) <= idx < len(names):
                raise DistregError('%s %s is out of range: %s has %d columns (0..%d)'
                                   % (flag, col, source, len(names), len(names) - 1))
            return names[idx]
        return str(col).strip()

    label = names[0] if label_col is None else by_name_or_index(label_col, '--label-col')
    weight = None if weight_col is None else by_name_or_index(weight_col, '--weight-col')
    if weight is not None and weight == label:
        raise DistregError('--weight-col %s is the label column of %s: the weights need a '
                           'column of their own' % (str(weight_col).strip(), source))
    if weight is not None and n_features is None:
        check(weight, '--weight-col')
    cluster = (None if cluster_col is None
               else by_name_or_index(cluster_col, '--cov cluster:COL'))
    if cluster is not None and cluster in (label, weight):
        raise DistregError('--cov cluster:%s is the %s column of %s: the clusters need a '
                           'column of their own' % (str(cluster_col).strip(), 'label'
                                                    if cluster == label else 'weight', source))
    if cluster is not None and n_features is None:
        check(cluster, '--cov cluster:COL')
    offset = None if offset_col is None else by_name_or_index(offset_col, '--offset-col')
    if offset is not None:
        if offset in (label, weight, cluster):
            raise DistregError('--offset-col %s is the %s column of %s: the offset needs a '
                               'column of its own' % (str(offset_col).strip(), 'label'
                                                      if offset == label else 'weight'
                                                      if offset == weight else 'cluster',
                                                      source))
        if n_features is not None and offset not in types:
            raise DistregError("the model was fitted with the offset column %r, which %s does "
                               "not have (its columns: %s): the offset is part of every row's "
                               'mean' % (offset, source, ', '.join(names)))
        check(offset, '--offset-col')
    if features:
        chosen = [f.strip() for f in str(features).split(',') if f.strip()]
        for f in chosen:
            check(f, '--features column')
        if len(set(chosen)) != len(chosen):
            raise DistregError('--features names a column twice: %s' % features)
        if weight in chosen:
            raise DistregError('--features names the weight column %r' % weight)
        if cluster in chosen:
            raise DistregError('--features names the cluster column %r' % cluster)
        if offset in chosen:
            raise DistregError('--features names the offset column %r' % offset)
    else:
        # every numeric column, and every text column as a categorical one
        chosen = [n for n in names if n not in (label, weight, cluster, offset) and n not in cats
                  and (numeric(n) or types[n] is not None and _is_text(types[n]))]
    for c in cats:
        check(c, '--categorical column')
        if c in (label, weight, cluster, offset):
            raise DistregError('--categorical %s is the %s column of %s: a categorical '
                               'column is a feature' % (c, 'label' if c == label else 'weight'
                                                        if c == weight else 'cluster'
                                                        if c == cluster else 'offset', source))
        if c not in chosen:
            chosen.append(c)
    has_label = True
    if n_features is not None:
        # predict/evaluate: rows with or without their label
        if label not in types:
            has_label = False
        elif label_col is None and not features:
            # the first column is the label unless the input has just the model's features
            has_label = len([n for n in names if n not in (weight, cluster, offset)
                             and numeric(n) and n not in cats]) != n_features
        if not has_label and not features:
            chosen = [n for n in names if n not in (weight, cluster, offset) and numeric(n)
                      and n not in cats] + cats
    if has_label:
        check(label, '--label-col')
        if label in chosen:
            if features:
                raise DistregError('--features names the label column %r' % label)
            chosen.remove(label)
    if not chosen:
        raise DistregError('%s has no numeric feature column besides the label %r; its '
                           'columns are: %s' % (source, label, ', '.join(
                               '%s (%s)' % (n, types[n] or 'partition') for n in names)))
    categorical = [n for n in chosen if n in cats or types[n] is not None
                   and _is_text(types[n])]
    categorical = [c for c in cats if c in categorical] + [
        c for c in categorical if c not in cats]
    n_numeric = len(chosen) - len(categorical)
    if n_features is not None and n_numeric != n_features:
        raise DistregError('the model has %d raw features but %s has %d numeric feature '
                           'columns (%s): expected %d; name them with --features'
                           % (n_features, source, n_numeric,
                              ', '.join(c for c in chosen if c not in categorical), n_features))
    fit_weight = weight is not None and n_features is None
    fit_cluster = cluster is not None and n_features is None
    selected = ([label] if has_label else []) + chosen + ([weight] if fit_weight else []) + \
        ([cluster] if fit_cluster else []) + ([offset] if offset is not None else [])
    for name in selected:
        if name in parts and types[name] is not None:
            raise DistregError('%r is both a column of %s and a partition directory' %
                               (name, source))
    schema = Schema('parquet', len(selected), 0 if has_label else None, tuple(selected),
                    bad_rows, model, weight=selected.index(weight) if fit_weight else None,
                    cluster=selected.index(cluster) if fit_cluster else None,
                    offset=selected.index(offset) if offset is not None else None,
                    categorical=tuple(selected.index(c) for c in categorical) or None)
    return loader.with_levels(schema, levels)


# --------------------------------------------------------------------------- manifest

def manifest(path, files=None, opener=None, **extra):
    """Every row group of an input, in order: a list of entries (dicts, JSON-able).
    ``extra`` goes into every entry (``webhdfs``, ``user``: see :func:`read_row_group`)."""
    files = files if files is not None else data_files(path)
    out = []
    for file, part in files:
        meta = _open(file, opener).metadata
        first = 0
        for i in range(meta.num_row_groups):
            rows = meta.row_group(i).num_rows
            out.append(dict(file=os.path.abspath(file) if '://' not in file else file,
                            name=file, row_group=i, rows=rows, first_row=first, part=part,
                            **extra))
            first += rows
    return out


class HdfsInput:
    """A Parquet input on HDFS, seen through WebHDFS at ``base`` (``http://host:port``):
    its files (``key=value/`` directories as columns), schema and manifest, as for a local
    input. The tasks read their row groups the same way (the entries carry ``base``)."""

    def __init__(self, uri, base, user=None):
        self.uri, self.base, self.user = uri, base.rstrip('/'), user
        self.opener = _webhdfs_opener(self.base, user)
        self._files = None

    def _list(self, path):
        data = WebHdfsFile.request(self.base, path, 'LISTSTATUS', self.user)
        return json.loads(data)['FileStatuses']['FileStatus']

    def files(self):
        if self._files is None:
            root = _hdfs_path(self.uri)
            if any(ch in root for ch in '*?['):
                raise DistregError('globs on HDFS are not read as Parquet yet: %s' % self.uri)
            out = []
            self._walk(root, {}, out, top=True)
            self._files = out
        return self._files

    def _walk(self, path, part, out, top=False):
        for st in sorted(self._list(path), key=lambda s: s['pathSuffix']):
            name = st['pathSuffix']
            full = path if not name else path.rstrip('/') + '/' + name
            if name and _skipped(name):
                continue
            if st['type'] == 'DIRECTORY':
                sub = dict(part)
                if '=' in name:
                    key, value = name.split('=', 1)
                    sub[key] = urllib.parse.unquote(value)
                self._walk(full, sub, out)
            else:
                out.append((full, part))

    def is_parquet(self):
        files = self.files()
        if not files:
            return False
        f = WebHdfsFile(self.base, files[0][0], self.user)
        return f.read(len(MAGIC)) == MAGIC

    def schema(self, **options):
        """:func:`local_schema` of this input (``options``: :func:`schema_options`)."""
        return local_schema(self.uri, source=self.uri, files=self.files(), opener=self.opener,
                            **options)

    def manifest(self):
        return manifest(self.uri, self.files(), self.opener, webhdfs=self.base,
                        user=self.user)


class FsInput:
    """A Parquet input named by a URI of a filesystem pyarrow has (``s3://bucket/key``: EMR;
    ``file://`` too): listed and read through ``pyarrow.fs`` (for S3, its S3FileSystem, the
    AWS SDK's default credentials: an EMR node's instance profile). Files, schema and manifest
    as for a local input; the entries carry ``fs`` (the URI scheme) and ``region``, and the
    tasks read their row groups, by byte ranges, through the same filesystem."""

    def __init__(self, uri, region=None):
        self.uri, self.region = uri, region
        self.fs, self.root = arrow_fs(uri, region)
        self.scheme = uri.split('://', 1)[0]
        self._files = None

    def _uri(self, path):
        return '%s://%s' % (self.scheme, path) if self.scheme != 'file' else 'file://' + path

    def opener(self, file):
        return self.fs.open_input_file(arrow_fs(file, self.region)[1])

    def files(self):
        if self._files is None:
            pafs = __import__('pyarrow.fs').fs
            root = self.root.rstrip('/')
            if any(ch in root for ch in '*?['):
                raise DistregError('globs are not read as Parquet on %s yet: %s'
                                   % (self.scheme, self.uri))
            try:
                info = self.fs.get_file_info(root)
                listing = (self.fs.get_file_info(pafs.FileSelector(root, recursive=True))
                           if info.type == pafs.FileType.Directory else [])
            except OSError as e:
                raise DistregError('cannot list %s: %s' % (self.uri, str(e).split('\n')[0]))
            if info.type == pafs.FileType.NotFound:
                raise DistregError('input not found: %s' % self.uri)
            if info.type == pafs.FileType.File:
                self._files = [(self.uri, {})]
                return self._files
            out = []
            for st in sorted(listing, key=lambda st: st.path):
                rel = st.path[len(root):].strip('/').split('/')
                if st.type != pafs.FileType.File or any(_skipped(p) for p in rel):
                    continue
                part = {}
                for piece in rel[:-1]:
                    if '=' in piece:
                        key, value = piece.split('=', 1)
                        part[key] = urllib.parse.unquote(value)
                out.append((self._uri(st.path), part))
            self._files = out
        return self._files

    def is_parquet(self):
        files = self.files()
        if not files:
            return False
        with self.opener(files[0][0]) as f:
            return f.read(len(MAGIC)) == MAGIC

    def schema(self, **options):
        """:func:`local_schema` of this input (``options``: :func:`schema_options`)."""
        return local_schema(self.uri, source=self.uri, files=self.files(), opener=self.opener,
                            **options)

    def manifest(self):
        return manifest(self.uri, self.files(), self.opener, fs=self.scheme,
                        region=self.region)


def arrow_fs(uri, region=None):
    """``(pyarrow filesystem, path)`` of a URI; ``s3://`` with ``region`` given builds the
    S3FileSystem of that region (no look-up of the bucket's region)."""
    pa = _pq()[0]
    pafs = __import__('pyarrow.fs').fs
    try:
        if uri.startswith('s3://') and region:
            return pafs.S3FileSystem(region=region), uri[len('s3://'):]
        return pafs.FileSystem.from_uri(uri)
    except (pa.ArrowException, OSError) as e:
        raise DistregError('cannot read %s: %s' % (uri, str(e).split('\n')[0]))


def hdfs_parquet(uri, fmt, web_address, user=None):
    """The :class:`HdfsInput` of an ``hdfs://`` input to read as Parquet (``--format
    parquet``, or auto and its first file's magic bytes), else None. ``web_address``: the
    NameNode's ``dfs.namenode.http-address``."""
    if not uri.startswith('hdfs://') or fmt not in ('auto', 'parquet'):
        return None
    if not web_address:
        if fmt == 'parquet':
            raise DistregError('Parquet on HDFS is read through WebHDFS, and the Hadoop conf '
                               'names no dfs.namenode.http-address')
        return None
    base = web_address if '://' in web_address else 'http://' + web_address
    found = HdfsInput(uri, base, user)
    if fmt == 'parquet':
        return found
    try:
        return found if found.is_parquet() else None
    except DistregError:
        return None   # not listable through WebHDFS (a glob, say): read as text


def _hdfs_path(uri):
    """The path of an ``hdfs://`` URI (``hdfs:///a``, ``hdfs://host:port/a`` -> ``/a``)."""
    if '://' in uri:
        rest = uri.split('://', 1)[1]
        return '/' + rest.split('/', 1)[1] if '/' in rest else '/'
    return uri


def manifest_lines(entries):
    """The manifest as text, one JSON entry per line (an mrjob job's input)."""
    return ''.join(json.dumps(e, sort_keys=True) + '\n' for e in entries)


def entries_of(data):
    """The manifest entries in ``data`` (bytes of whole lines)."""
    for line in data.split(b'\n'):
        if line.strip():
            yield json.loads(line)


# --------------------------------------------------------------------------- reading

def read_row_group(entry, schema, opener=None):
    """One row group of the selected columns as a :class:`distreg.loader.Parsed` block.

    An entry with ``webhdfs`` (a NameNode's HTTP address) names a file on HDFS, read
    through WebHDFS by byte ranges (:class:`WebHdfsFile`): the footer, then the column
    chunks of this row group only.
    """
    pa, pc = _pc()
    if opener is None and entry.get('webhdfs'):
        opener = _webhdfs_opener(entry['webhdfs'], entry.get('user'))
    elif opener is None and entry.get('fs'):
        # s3:// (EMR): the row group's column chunks by byte ranges, through pyarrow.fs
        opener = _fs_opener(entry.get('region'))
    name = entry.get('name') or entry['file']
    part = entry.get('part') or {}
    wanted = [c for c in schema.names if c not in part]
    group = entry['row_group']
    try:
        pf = _open_again(entry['file'], opener)
    except BadInputError as e:
        # named by its row group too: no engine takes it for a text line to look for
        raise BadInputError(e.reason, file=name, row_group=group)
    names = pf.schema_arrow.names
    missing = [c for c in wanted if c not in names]
    if missing:
        raise BadInputError('column %s is missing in this file (every file needs the selected '
                            'columns of the first one)' % ', '.join(map(repr, missing)),
                            file=name, row_group=group)

    def read(columns):
        try:
            return pf.read_row_group(group, columns=columns)
        except (pa.ArrowException, OSError) as e:
            raise BadInputError('it cannot be read (%s)' % str(e).split('\n')[0], file=name,
                                row_group=group)

    # One column at a time, straight into the block's arrays: a task holds the block and one
    # column of Arrow's (compressed and decoded), not the whole row group twice over.
    n = pf.metadata.row_group(group).num_rows
    cats = schema.categorical or ()
    others = set(schema.not_features())
    features = {j: k for k, j in enumerate(j for j in range(len(schema.names))
                                           if j not in others)}
    X = np.empty((n, len(features)), order='F')
    y = np.empty(n) if schema.label is not None else None
    w = np.empty(n) if schema.weight is not None else None
    g = np.empty(n) if schema.cluster is not None else None
    o = np.empty(n) if schema.offset is not None else None
    texts = {}
    bad, reasons = np.zeros(n, bool), []
    for j, col in enumerate(schema.names):
        is_label = schema.label is not None and j == schema.label
        is_weight = j == schema.weight
        if j in cats:
            text, col_bad = _level_column(None if col in part else read([col]), part, col, n,
                                          schema.levels[cats.index(j)] if schema.levels
                                          else None)
            for mask, why in col_bad:
                if mask.any():
                    reasons.append((col, mask, why, text))
                    bad |= mask
            texts[j] = text
            continue
        dest = (y if is_label else w if is_weight else g if j == schema.cluster
                else o if j == schema.offset else X[:, features[j]])
        if col in part:
            text = part[col]
            if text == HIVE_NULL:
                dest[:], null = 0.0, np.ones(n, bool)
            else:
                dest[:], null = float(text), np.zeros(n, bool)
        else:
            arr = read([col]).column(0)
            if not _is_number(arr.type):
                raise BadInputError('column %r is of type %s in this file, not a number '
                                    '(expected %s)' % (col, arr.type, NUMERIC_TYPES),
                                    file=name, row_group=entry['row_group'])
            # Arrow's buffers read directly (loader._float_column): to_numpy would import
            # pandas in every map task (its start and its memory)
            if arr.null_count:
                null = _numpy(pc.cast(arr.is_null(), pa.float64())) != 0
            else:
                null = np.zeros(n, bool)
            if pa.types.is_decimal(arr.type):
                # through the decimal text: Arrow's decimal-to-double cast is not correctly
                # rounded (45.05 is off by an ulp), its text-to-double parse is, as in CSV
                arr = pc.cast(arr, pa.string())
            if arr.type != pa.float64():
                arr = pc.cast(arr, pa.float64(), safe=False)
            if arr.null_count:
                arr = arr.fill_null(0.0)
            dest[:] = _numpy(arr)
            del arr
        v = dest
        col_bad = [(null, 'is null (expected a number)')]
        finite = np.isfinite(v)
        col_bad.append((~finite & ~null, 'is %s: NaN and Inf are not allowed in %s'
                        % ('{value}', 'the label' if is_label else 'the weight (a finite '
                           'number >= 0)' if is_weight else 'the cluster ids'
                           if j == schema.cluster else 'the offset' if j == schema.offset
                           else 'the features')))
        if is_weight:
            col_bad.append((finite & (v < 0), 'is {value}: a weight must be >= 0'))
        if is_label and schema.model == 'logistic':
            col_bad.append((finite & (v != 0) & (v != 1),
                            'is {value}, not 0 or 1 (logistic regression needs labels in '
                            '{{0, 1}})'))
        if is_label and schema.model == 'poisson':
            col_bad.append((finite & (v < 0), 'is {value}: negative (Poisson regression needs '
                            'counts: labels >= 0)'))
            if not schema.allow_noninteger:
                col_bad.append((finite & (v >= 0) & (np.floor(v) != v),
                                'is {value}, not an integer (Poisson regression needs counts; '
                                '--allow-noninteger takes any label >= 0)'))
        for mask, why in col_bad:
            if mask.any():
                reasons.append((col, mask, why, v))
                bad |= mask
    rejects, reject_at = [], []
    keep = None
    if bad.any():
        rows = np.flatnonzero(bad)
        if schema.bad_rows == 'fail':
            rows = rows[:1]
        table = read(wanted)   # the rows' text (a bad row is rare: read the group again)
        for k, i in enumerate(rows):
            col, _, why, values = next(r for r in reasons if r[1][i])
            value = values[i]
            value = str(value) if isinstance(value, np.str_) else value   # a level's text
            e = BadInputError('column %r %s' % (col, why.format(value=value)), file=name,
                              row_group=entry['row_group'], row=int(i),
                              file_row=entry.get('first_row', 0) + int(i),
                              text=_row_text(table, part, schema, i))
            if schema.bad_rows == 'fail':
                raise e
            rejects.append(e.to_dict())
            reject_at.append(int(i) - k)
        keep = ~bad
        X = np.asfortranarray(X[keep])
        y, w, g, o = (a[keep] if a is not None else None for a in (y, w, g, o))
        texts = {j: t[keep] for j, t in texts.items()}
    if y is None:
        y = np.zeros(len(X))
    keys = None
    if schema.row_keys:
        from distreg import folds
        rows = np.arange(n) if keep is None else np.flatnonzero(keep)
        keys = folds.row_keys(name, folds.parquet_positions(group, rows))
    text = np.stack([texts[j] for j in cats], axis=1) if cats else None
    return Parsed(X, y, rejects, reject_at, w=w, g=g, offset=o, keys=keys, cats=text)


def _level_column(table, part, col, n, levels=None):
    """A categorical column's text (a numpy ``str`` array, stripped) and its bad-row masks:
    a null or empty value, or (``levels`` given: predict, evaluate) an unknown level."""
    pa, pc = _pc()
    if col in part:
        value = part[col]
        null = np.full(n, value == HIVE_NULL)
        words = np.array(['' if value == HIVE_NULL else value.strip()], dtype=object)
        codes = np.zeros(n, dtype=np.int64)
    else:
        arr = table.column(col)
        if pa.types.is_dictionary(arr.type):
            arr = pc.cast(arr, arr.type.value_type)
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = pc.cast(arr, pa.string())
        arr = pc.utf8_trim_whitespace(arr)
        # (Arrow's buffers, not to_numpy: that imports pandas in every task)
        null = (_numpy(pc.cast(arr.is_null(), pa.float64())) != 0 if arr.null_count
                else np.zeros(n, bool))
        enc = arr.combine_chunks().dictionary_encode()   # a null's code: marked by null
        words = np.array(enc.dictionary.to_pylist() or [''], dtype=object)
        codes = np.where(null, 0, loader.dictionary_codes(enc))
    # (each distinct value is looked at once: the rows are codes into ``words``)
    text = words[codes]
    masks = [(null, 'is null (expected a level of a categorical column)'),
             (~null & (text == ''), 'is empty (a categorical value is a non-empty level)')]
    if levels is not None:
        known = loader._level_set(levels)
        unseen = np.array([w != '' and w not in known for w in words], dtype=bool)[codes]
        shown = (', '.join(levels[:10]) + (', ...' if len(levels) > 10 else '')).replace(
            '{', '{{').replace('}', '}}')
        masks.append((unseen & ~null, 'is {value!r}, a level not seen in training (its %d '
                      'levels: %s)' % (len(levels), shown)))
    return text.astype(str), masks


def _numpy(arr):
    """A float64 Arrow column without nulls as numpy (a view of its buffers)."""
    if len(arr) == 0:
        return np.zeros(0)
    return loader._float_column(arr)


def _row_text(table, part, schema, i):
    """The selected values of row ``i``, as ``name=value`` (null for a null)."""
    out = []
    for col in schema.names:
        if col in part:
            v = part[col]
        else:
            v = table.column(col)[int(i)].as_py()
        out.append('%s=%s' % (col, 'null' if v is None or v == HIVE_NULL else v))
    return ', '.join(out)


def iter_local_blocks(path, schema, entries=None):
    """Every row group of a local input, read one at a time."""
    for entry in entries if entries is not None else manifest(path):
        yield read_row_group(entry, schema)


def input_sources(path, fmt='auto'):
    """The files whose rows an input holds, as kept statistics name them
    (:func:`distreg.paths.file_sources`): the files the engines read (:func:`data_files` for
    Parquet, :func:`distreg.loader.expand_paths` else); a remote input by its URI."""
    local = loader.local_path(path)
    if local is None:
        return [{'uri': path}]
    return file_sources([f for f, _ in data_files(local)] if is_parquet_input(local, fmt)
                        else loader.expand_paths(local))


def schema_options(options):
    """The keyword arguments of :func:`local_schema` (and of the inputs' ``schema`` methods,
    and :func:`input_schema`) that a fit's options give. Every engine passes this one list:
    a call that named its own left columns out (the s3:// input read no weight, cluster or
    offset column)."""
    return dict(label_col=options.label_col, features=options.features,
                bad_rows=options.bad_rows, model=options.model, n_features=options.n_features,
                weight_col=options.weight_col, cluster_col=options.cluster_col(),
                categorical=options.categorical, levels=options.levels,
                offset_col=options.offset_col)


def input_schema(path, fmt='auto', label_col=None, bad_rows='fail', model='linear',
                 source=None, n_features=None, features=None, weight_col=None,
                 cluster_col=None, offset_col=None, categorical=None, levels=None):
    """The :class:`Schema` of any local input: Parquet (``--format parquet``, or auto and
    its magic bytes) by its footers, else :func:`distreg.loader.local_schema`."""
    if is_parquet_input(path, fmt):
        return local_schema(loader.local_path(path), label_col, features, bad_rows, model,
                            n_features, source=source or path, weight_col=weight_col,
                            cluster_col=cluster_col, categorical=categorical, levels=levels,
                            offset_col=offset_col)
    loader.check_no_features(features, n_features)
    return loader.local_schema(path, fmt, label_col, bad_rows, model, source=source,
                               n_features=n_features, weight_col=weight_col,
                               cluster_col=cluster_col, offset_col=offset_col,
                               categorical=categorical, levels=levels)


def iter_input_blocks(path, schema, chunk_bytes=loader.CHUNK_BYTES):
    """The :class:`Parsed` blocks of any local input: row groups, or text chunks."""
    if schema.format == 'parquet':
        return iter_local_blocks(loader.local_path(path), schema)
    return loader.iter_local_blocks(path, schema, chunk_bytes)


# --------------------------------------------------------------------------- HDFS

#: Bytes this process has read through WebHDFS (a map task's counter: less than its files).
WEBHDFS_BYTES = [0]


#: The filesystems of this process (a task's row groups of one region share one client).
_FILESYSTEMS = {}


def _fs_opener(region=None):
    """Opens a manifest entry's ``s3://`` (or ``file://``) file; one filesystem client per
    scheme and region in this process."""
    def open_file(uri):
        key = (uri.split('://', 1)[0], region)
        if key not in _FILESYSTEMS:
            _FILESYSTEMS[key] = arrow_fs(uri, region)[0]
        return _FILESYSTEMS[key].open_input_file(uri.split('://', 1)[1])
    return open_file


def _webhdfs_opener(base, user=None):
    return lambda path: WebHdfsFile(base, path, user)


class WebHdfsFile(io.RawIOBase):
    """A read-only, seekable file on HDFS read through WebHDFS's ``OPEN`` with ``offset``
    and ``length``: pyarrow reads a Parquet footer and one row group's column chunks
    through it, never the whole file. (pyarrow's own HDFS client needs libhdfs, which a
    Hadoop from Maven Central does not ship.) ``base``: the NameNode's HTTP address,
    ``http://host:port``; ``path``: the file's path on HDFS (an ``hdfs://`` URI is cut to
    its path)."""

    def __init__(self, base, path, user=None):
        super().__init__()
        if '://' in path:
            path = '/' + path.split('://', 1)[1].split('/', 1)[1]
        self.base = base.rstrip('/')
        self.path = path
        self.user = user
        self.pos = 0
        status = json.loads(self._get('GETFILESTATUS'))
        self.size = status['FileStatus']['length']
        self.mtime = status['FileStatus'].get('modificationTime')

    @staticmethod
    def request(base, path, op, user=None, **params):
        """The body of a WebHDFS GET (redirects to a DataNode followed)."""
        # imported here: urllib.request (http.client, ssl, email) would lengthen the start of
        # every job's task server, and only an HDFS Parquet input needs it
        import urllib.request
        if user:
            params['user.name'] = user
        params['op'] = op
        url = '%s/webhdfs/v1%s?%s' % (base.rstrip('/'), urllib.parse.quote(path),
                                      urllib.parse.urlencode(params))
        try:
            with urllib.request.urlopen(url, timeout=120) as r:
                return r.read()
        except OSError as e:
            raise DistregError('WebHDFS %s of %s at %s failed: %s'
                               % (op, path, base, e)) from None

    def _get(self, op, **params):
        return self.request(self.base, self.path, op, self.user, **params)

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=0):
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.size - self.pos
        n = min(n, self.size - self.pos)
        if n <= 0:
            return b''
        data = self._get('OPEN', offset=self.pos, length=n)
        self.pos += len(data)
        WEBHDFS_BYTES[0] += len(data)
        return data

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


# --------------------------------------------------------------------------- writing

def write_table(path, columns, row_group_rows=None):
    """Write ``{name: numpy array}`` to a Parquet file (``row_group_rows`` rows per group)."""
    pa, _, pq = _pq()
    table = pa.table({k: pa.array(v) for k, v in columns.items()})
    pq.write_table(table, path, row_group_size=row_group_rows)


class Writer:
    """A Parquet file written a batch at a time (one row group per batch)."""

    def __init__(self, path, names, types=None):
        pa, _, pq = _pq()
        types = types or {}
        self.schema = pa.schema([(n, types.get(n, pa.float64())) for n in names])
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, columns):
        pa = _pq()[0]
        self.writer.write_table(pa.table(
            [pa.array(c, type=f.type) for c, f in zip(columns, self.schema)],
            schema=self.schema))

    def close(self):
        self.writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
