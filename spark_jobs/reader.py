"""Reading the input into one parsed numpy block per Spark partition, with the shared loader.

Two readers, both handing :func:`distreg.loader.parse_chunk` byte chunks that
know their file and byte offset (and line number when the partition starts at
the top of a file), so bad rows are reported as on every other engine:

direct
    Local files (plain paths, ``file://``). The driver cuts each file into byte
    ranges; a task reads its range itself with Python and owns exactly the lines
    that start inside it (as Hadoop's line reader does). No line crosses the JVM.
hadoop
    Any file system Hadoop knows (``hdfs://``, ``s3a://``, ...). Spark's
    ``hadoopFile`` with ``TextInputFormat`` gives (byte offset, line) pairs; a
    partition's lines are joined back into chunks, and a bad row's offset is the
    one Hadoop gave for its line.

Either way a partition becomes one :class:`Block` (all its rows in one array,
rejected rows kept), which the engine caches. The direct reader stores the
arrays in the executor's scratch directory and caches only a handle (see
:class:`Block`); the hadoop reader's blocks stay whole in Spark's cache, since
a Python task cannot read an ``hdfs://`` split again by itself.
"""

import os

import numpy as np

from distreg import parquet
from distreg.errors import BadInputError, DistregError
from distreg.loader import (TABULAR, CHUNK_BYTES, Chunk, Parsed, Schema, expand_paths, first_line_text,
                            is_compressed, is_header, iter_chunks, iter_split_chunks, local_path,
                            open_input, parquet_as_text, parse_chunk)

READERS = ('auto', 'direct', 'hadoop')
#: Largest byte range one partition reads (direct reader); there are at least as many
#: partitions as the default parallelism.
SPLIT_BYTES = 256 << 20
#: The arrays of a :class:`Parsed` block a stored :class:`Block` keeps, in file order: the
#: features, the labels, then those a fit may ask for (weights, cluster ids, row keys,
#: offsets, the categorical columns' text: a numpy ``str`` array, no pickle).
STORED = ('X', 'y', 'w', 'g', 'keys', 'offset', 'cats')


class Block:
    """One partition's rows: parsed, or stored on the executor's disk and memory-mapped.

    A stored block (:meth:`store`) is pickled without its arrays: what Spark
    caches and streams to a Python worker on every pass is then this small
    handle, and the worker maps the arrays from the executor's local files
    (the page cache), which any Python worker of that machine can do. Should a
    task run where the files are not (another machine), the block is read and
    parsed again from its split and stored there.
    """

    def __init__(self, parsed, error=None):
        self._parsed = parsed
        self.error = error
        self.files = None       # paths of STORED's arrays (None: not kept) once stored
        self.source = None      # (split, schema JSON) to rebuild the block from the input
        self.n_rows = len(parsed.y) if parsed is not None else 0
        self.rejects = parsed.rejects if parsed is not None else []
        self.reject_at = parsed.reject_at if parsed is not None else []

    @property
    def parsed(self):
        if self._parsed is None and self.files is not None:
            try:
                arrays = {a: f and _mapped(f) for a, f in zip(STORED, self.files)}
            except FileNotFoundError:
                split, schema = self.source
                block = read_split(split, Schema.from_json(schema))
                block.store(self.files)
                return block._parsed
            return Parsed(rejects=self.rejects, reject_at=self.reject_at, **arrays)
        return self._parsed

    def store(self, files, source=None):
        """Write the arrays of :data:`STORED` to ``files`` (.npy paths, in that order; None in
        place of an array the block has not: no weights, clusters, keys); later pickles leave
        them out."""
        if self._parsed is None:
            return self
        arrays = [getattr(self._parsed, a) for a in STORED]
        files = tuple(f if arr is not None else None for f, arr in zip(files, arrays))
        for path, arr in zip(files, arrays):
            if path is None:
                continue
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = '%s.%d.tmp.npy' % (path, os.getpid())
            np.save(tmp, np.ascontiguousarray(arr))
            os.replace(tmp, path)  # readers on this machine never see half a file
        self.files = files
        if source is not None:
            self.source = source
        return self

    def remove(self):
        for path in self.files or ():
            if path is None:
                continue
            _MAPPED.pop(path, None)
            if os.path.exists(path):
                os.remove(path)

    def __getstate__(self):
        state = dict(self.__dict__)
        if self.files is not None:
            state['_parsed'] = None
        return state


#: Arrays this Python process has memory-mapped: {path: ((inode, mtime), array)}.
_MAPPED = {}


def _mapped(path):
    """The array stored at ``path``, memory-mapped once per Python worker.

    Spark reuses its Python workers between tasks (``spark.python.worker.reuse``),
    and a mapping kept open keeps its pages mapped: a later pass reads the page
    cache at memory speed, where a fresh ``np.load(mmap_mode='r')`` per pass would
    fault every 4 KB page in again (about a third of a pass at 1e7 x 20). A file
    replaced or removed (another cache, :meth:`Block.remove`) is mapped afresh or
    dropped, so no stale rows are read and no deleted file stays pinned for long.
    """
    st = os.stat(path)
    key = (st.st_ino, st.st_mtime_ns)
    hit = _MAPPED.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    for other in [p for p in _MAPPED if p != path and not os.path.exists(p)]:
        del _MAPPED[other]
    arr = np.asarray(np.load(path, mmap_mode='r'))
    _MAPPED[path] = (key, arr)
    return arr


def block_files(token, index):
    """Where the executor keeps partition ``index`` of the cache ``token`` (its own scratch)."""
    from pyspark import SparkFiles
    base = os.path.join(SparkFiles.getRootDirectory(), 'distreg-blocks')
    return tuple(os.path.join(base, '%s-%05d.%s.npy' % (token, index, a)) for a in STORED)


def read_stored_split(index, splits, schema, token):
    """The direct reader's task: parse one byte range, store it on this executor."""
    for split in splits:
        block = read_split(split, schema)
        if block.error is None:
            block.store(block_files(token, index), (split, schema.to_json()))
        yield block


def is_local(path):
    return local_path(path) is not None


def pick_reader(path, reader='auto'):
    """The reader for ``path``: ``direct`` for local files, ``hadoop`` for other schemes."""
    if reader not in READERS:
        raise DistregError('reader must be one of %s, not %r' % (', '.join(READERS), reader))
    if reader == 'auto':
        return 'direct' if is_local(path) else 'hadoop'
    if reader == 'direct' and not is_local(path):
        raise DistregError('the direct reader reads local files only, not %s; use the hadoop '
                           'reader' % path)
    return reader


# --------------------------------------------------------------------------- files

def list_files(sc, path):
    """Files of an input (file, directory of part files, glob) as ``[(uri, size)]``."""
    if is_local(path):
        return [(p, os.path.getsize(p)) for p in expand_paths(local_path(path))]
    jvm = sc._jvm
    hpath = jvm.org.apache.hadoop.fs.Path(path)
    fs = hpath.getFileSystem(sc._jsc.hadoopConfiguration())
    statuses = fs.globStatus(hpath)
    if not statuses:
        raise DistregError('no input matches %s' % path)
    out = []
    for st in statuses:
        children = fs.listStatus(st.getPath()) if st.isDirectory() else [st]
        for c in sorted(children, key=lambda s: s.getPath().toString()):
            name = c.getPath().getName()
            if c.isFile() and not name.startswith(('_', '.')):
                out.append((c.getPath().toString(), c.getLen()))
    if not out:
        raise DistregError('input not found or empty directory: %s' % path)
    return out


def first_lines(sc, files, fmt='auto', path=None):
    """``(uri, first line or None, ())`` of every file (for :func:`distreg.loader.check_headers`);
    a Parquet file among them (read as ``fmt`` text, input ``path``) is a clear error."""
    out = []
    for uri, size in files:
        line = _first_line(sc, uri) if size else None
        # Parquet's magic, then its first page header's bytes (never text)
        if line is not None and line.startswith('PAR1') and (
                len(line) == 4 or ord(line[4]) < 32 or line[4] == '\ufffd'):
            raise parquet_as_text(uri, fmt, path or uri)
        out.append((uri, line, ()))
    return out


def _first_line(sc, uri):
    if is_local(uri):
        with open_input(local_path(uri)) as f:
            line = f.readline()
        return first_line_text(line) if line else None
    # through Hadoop's FileSystem and codecs: one small read, not a Spark job per file
    jvm = sc._jvm
    conf = sc._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(uri)
    stream = path.getFileSystem(conf).open(path)
    codec = jvm.org.apache.hadoop.io.compress.CompressionCodecFactory(conf).getCodec(path)
    if codec is not None:
        stream = codec.createInputStream(stream)
    reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, 'UTF-8'))
    try:
        line = reader.readLine()
        return first_line_text(line) if line is not None else None
    finally:
        reader.close()


def byte_splits(files, parallelism):
    """Cut local files into ``(path, start, end)`` ranges: at least ``parallelism`` of them."""
    total = sum(size for _, size in files)
    target = max(1, min(SPLIT_BYTES, -(-total // max(1, parallelism))))
    splits = []
    for path, size in files:
        full = os.path.abspath(local_path(path))
        if is_compressed(path) or size == 0:  # not splittable
            splits.append((path, 0, size, full))
            continue
        n = max(1, -(-size // target))
        bounds = np.linspace(0, size, n + 1).astype(np.int64)
        splits.extend((path, int(a), int(b), full) for a, b in zip(bounds[:-1], bounds[1:]))
    return splits


# --------------------------------------------------------------------------- tasks

def parse_chunks(chunks, schema):
    """Parse chunks into one :class:`Block` (a bad row under 'fail' becomes ``Block.error``)."""
    return _one_block(((getattr(chunk, 'locate', lambda bad: bad),
                        lambda chunk=chunk: parse_chunk(chunk, schema)) for chunk in chunks),
                      schema)


def read_row_groups(entries, schema):
    """The Parquet row groups of one partition (manifest entries) as one :class:`Block`."""
    return _one_block(((lambda bad: bad, lambda e=e: parquet.read_row_group(e, schema))
                       for e in entries), schema)


def row_group_splits(entries, parallelism):
    """Cut the row groups (in input order) into contiguous runs of about equal rows, at
    most ``parallelism`` of them: one partition each."""
    total = sum(e['rows'] for e in entries)
    n = max(1, min(len(entries), parallelism))
    splits, run, rows = [], [], 0
    for e in entries:
        run.append(e)
        rows += e['rows']
        if rows * n >= total * (len(splits) + 1) and len(splits) < n - 1:
            splits.append(run)
            run = []
    if run or not splits:
        splits.append(run)
    return splits


def _one_block(items, schema):
    """``(locate, parse)`` pairs, each a block of rows, into one :class:`Block`."""
    Xs, ys, rejects, reject_at, n_rows = [], [], [], [], 0
    extra = {a: [] for a in STORED[2:]}
    for locate, parse in items:
        try:
            parsed = parse()
        except BadInputError as e:
            return Block(None, locate(e.to_dict()))
        Xs.append(parsed.X)
        ys.append(parsed.y)
        for a, parts in extra.items():
            parts.append(getattr(parsed, a))
        rejects.extend(locate(bad) for bad in parsed.rejects)
        reject_at.extend(n_rows + at for at in parsed.reject_at)
        n_rows += len(parsed.y)
    width = max((X.shape[1] for X in Xs), default=0)
    if schema.format in TABULAR:
        width = schema.n_features()
    # one contiguous array per partition: the passes over it are single BLAS calls
    X = np.zeros((sum(len(y) for y in ys), width))
    row = 0
    for part in Xs:
        X[row:row + len(part), :part.shape[1]] = part
        row += len(part)
    y = np.concatenate(ys) if ys else np.zeros(0)
    # the optional arrays the schema asks for: weights, cluster ids, row keys, offsets,
    # categorical text
    wanted = dict(w=schema.weight is not None, g=schema.cluster is not None,
                  keys=schema.row_keys, offset=schema.offset is not None,
                  cats=schema.format in TABULAR and bool(schema.categorical))
    empty = dict(keys=lambda: np.zeros(0, np.uint64),
                 cats=lambda: np.zeros((0, len(schema.categorical)), dtype=str))
    arrays = {a: (np.concatenate(parts) if parts else empty.get(a, lambda: np.zeros(0))())
              if wanted[a] else None for a, parts in extra.items()}
    return Block(Parsed(X, y, rejects, reject_at, **arrays))


def read_split(split, schema, chunk_bytes=CHUNK_BYTES):
    """Parse the lines starting in one byte range of a local file into a :class:`Block`.

    ``split`` is ``(name, start, end)``, or ``(name, start, end, absolute path)``: executors
    of a cluster do not run in the driver's directory, so they open the absolute path
    while bad rows keep the name the user gave.
    """
    if schema.format == 'parquet':
        return read_row_groups(split, schema)  # a list of row groups (manifest entries)
    path, start, end = split[:3]
    local = split[3] if len(split) > 3 else local_path(path)
    if is_compressed(path):
        with open_input(local) as f:
            return parse_chunks(iter_chunks(f, path, 0, 1, chunk_bytes,
                                            skip_header=schema.format == 'csv'), schema)
    return parse_chunks(iter_split_chunks(local, start, end, chunk_bytes,
                                          skip_header=schema.format == 'csv', name=path),
                        schema)


def read_offset_lines(pairs, path, schema, chunk_bytes=CHUNK_BYTES):
    """Parse (byte offset, line) pairs of one file (Hadoop's TextInputFormat) into a Block."""
    return parse_chunks(_offset_chunks(pairs, path, schema, chunk_bytes), schema)


def _offset_chunks(pairs, path, schema, chunk_bytes):
    lines, offsets, size, line_no, header = [], [], 0, None, None
    for offset, text in pairs:
        if offset == 0:
            text = first_line_text(text)  # Hadoop keeps a byte order mark as U+FEFF
            line_no = 1
            if schema.format == 'csv' and is_header(text):
                line_no, header = 2, text
                continue
        lines.append(text.encode('utf-8'))
        offsets.append(offset)
        size += len(lines[-1]) + 1
        if size >= chunk_bytes:
            yield _OffsetChunk(lines, offsets, path, line_no, header)
            line_no = None if line_no is None else line_no + len(lines)
            lines, offsets, size, header = [], [], 0, None
    if lines:
        yield _OffsetChunk(lines, offsets, path, line_no, header)


class _OffsetChunk(Chunk):
    """A chunk rebuilt from lines whose byte offsets Hadoop reported.

    Hadoop strips the line ends (``\\n`` or ``\\r\\n``), so offsets counted in
    the joined text can drift from the file's; :meth:`locate` gives a bad row
    back the offset Hadoop reported for its line.
    """

    def __init__(self, lines, offsets, path, line_no, header=None):
        super().__init__(b'\n'.join(lines) + b'\n', path, offsets[0], line_no, header=header)
        self.starts = offsets[0] + np.cumsum([0] + [len(s) + 1 for s in lines[:-1]])
        self.offsets = offsets

    def locate(self, bad):
        bad['offset'] = self.offsets[int(np.searchsorted(self.starts, bad['offset']))]
        return bad

    def line_offsets(self):
        """The offsets Hadoop reported for the lines (the file's own, whatever the line ends)."""
        return np.asarray(self.offsets, dtype=np.int64)
