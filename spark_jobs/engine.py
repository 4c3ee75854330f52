"""The ``spark-rdd`` engine of ``distreg fit``: the core's aggregates on a cached RDD.

(``spark-mllib``, pyspark.ml on a DataFrame of the same rows, is :mod:`spark_jobs.mllib`.)
It implements the engine contract of :mod:`distreg.engine`:

- ``prepare`` reads the input once (:mod:`spark_jobs.reader`: one numpy block
  per partition, parsed by the shared loader), ``cache()``\\ s the blocks and
  materialises them, collecting every rejected row (or the first bad one);
- ``aggregate`` is one pass, one stage: the parameters travel in the task's
  closure, each task (one per core, see ``_pass_rdd``) runs the block function
  over its blocks in ``mapPartitions`` and merges them, and the driver collects
  one partial per task and merges those. Partials travel as raw float64 bytes
  (:func:`distreg.blocks.pack`), so a p x p partial costs 8 p^2 bytes in the JVM.

Where a cached pass spends its time (see benchmarks/bench_spark.py): a Python
RDD's cache lives in the JVM as serialised bytes that are streamed to a Python
worker on every pass. With one contiguous block per partition and few
partitions (one or two per core), a pass costs one bulk copy of the block
instead of unpickling many small objects, plus the arithmetic. The direct
reader's blocks are memory-mapped files that a reused Python worker keeps
mapped between passes (:mod:`spark_jobs.reader`), so a later pass reads the
page cache without faulting its pages in again.
"""

import json
import os
import time
import uuid

from distreg import blocks
from distreg.engine import Engine
from distreg.errors import BadInputError
from distreg.loader import fill_line_numbers, sniff_schema
from spark_jobs import reader as rd
from spark_jobs.session import get_session, import_pyspark

# the engine's library, at import: a missing one is reported with the extra to install
import_pyspark()

class RDDEngine(Engine):
    """Runs the core's aggregates over a cached RDD of parsed blocks.

    Parameters
    ----------
    path : str
        A file, a directory of part files, a glob; local or any Hadoop file system.
    name : str, default 'spark-rdd'
    master : str or None
        Spark master for a session started here. Default: local[*].
    spark : SparkSession or None
        Use this session (and leave it running) instead of starting one.
    reader : str, default 'auto'
        Supported options: auto, direct, hadoop (see :mod:`spark_jobs.reader`).
    """
    name = 'spark-rdd'

    def __init__(self, path, name='spark-rdd', master=None, *, spark=None, reader='auto'):
        super().__init__(path, name)
        self.master = master
        self.reader = rd.pick_reader(path, reader)
        self.spark = spark
        self._own_session = spark is None
        self.rejects = []
        self.load_seconds = 0.0
        self.cached = None
        self._coalesced = None
        self.task_seconds = []

    # ------------------------------------------------------------------ protocol

    def prepare(self, options):
        """Read, parse and cache the input; fail on its first bad row (policy 'fail')."""
        if self.spark is None:
            from pyspark import SparkContext
            # getOrCreate joins a running session: stop only one this engine started
            self._own_session = SparkContext._active_spark_context is None
            self.spark = get_session('distreg-%s' % self.name, self.master)
        # the JVM's start is in the record's seconds, not in the load time
        t0 = time.perf_counter()
        sc = self.spark.sparkContext
        self.design = options.design()
        files = rd.list_files(sc, self.path)
        self.schema = sniff_schema(rd.first_line(sc, files), options.format, options.label_col,
                                   options.bad_rows, options.model, source=self.path)
        self.cached = self._blocks(sc, files).cache()
        self.n_partitions = self.cached.getNumPartitions()
        # materialise the cache now: what load_seconds measures, and where bad rows show
        info = self.cached.map(lambda b: (b.n_rows, b.error, b.rejects)).collect()
        errors = [e for _, e, _ in info if e is not None]
        if errors:
            self.close()
            first = min(errors, key=lambda d: (_file_rank(files, d['file']), d['offset'] or 0))
            fill_line_numbers([first])
            raise BadInputError.from_dict(first)
        self.rejects = fill_line_numbers([bad for _, _, rejects in info for bad in rejects])
        self.n_rows = sum(n for n, _, _ in info)
        self.load_seconds = time.perf_counter() - t0
        return self.schema

    def aggregate(self, name, params):
        """One pass: the merged partial of aggregate ``name`` at ``params``."""
        # one stage, one task per core: the parameters ride in the task's closure (a
        # broadcast per pass costs more than it saves for a vector of coefficients),
        # each task merges its blocks' partials in Python and sends one packed partial
        total = None
        results = self._pass_rdd().mapPartitions(
            _PassTask(name, self.design, json.dumps(params))).collect()
        #: seconds each task spent in the block function (its compute; the rest of the
        #: pass is Spark's scheduling, transport and the driver's merge)
        self.task_seconds = [seconds for seconds, _ in results]
        for _, packed in results:
            if packed is not None:
                total = blocks.merge_partials(name, total, blocks.unpack(packed))
        return total

    def _pass_rdd(self):
        """The cached blocks, grouped into at most one task per core.

        More partitions than cores (the direct reader cuts at 256 MB) would mean
        waves of tasks and, with treeAggregate, a shuffle stage; a coalesce is a
        narrow dependency (no shuffle) that keeps the cache's locality, so a task
        reads blocks of its own executor. The partials sent to the driver are then
        one per core, whatever the input's size: p x p each for gram and tsqr.
        """
        slots = max(1, self.spark.sparkContext.defaultParallelism)
        if self.n_partitions <= slots:
            return self.cached
        if getattr(self, '_coalesced', None) is None:
            self._coalesced = self.cached.coalesce(slots)
        return self._coalesced

    def release_cache(self):
        """Drop the cache and the executors' block files."""
        if self.cached is not None:
            self.cached.foreach(_remove_block)
            self.cached.unpersist()
            self.cached = None
            self._coalesced = None

    def close(self):
        """Release the cache; stop the session if this engine started it."""
        self.release_cache()
        if self._own_session and self.spark is not None:
            self.spark.stop()
            self.spark = None

    # ------------------------------------------------------------------ reading

    def _blocks(self, sc, files):
        schema = self.schema
        if self.reader == 'direct':
            splits = rd.byte_splits(files, sc.defaultParallelism)
            token = uuid.uuid4().hex
            return sc.parallelize(splits, len(splits)).mapPartitionsWithIndex(
                lambda i, it: rd.read_stored_split(i, it, schema, token))
        parts = []
        for uri, _ in files:
            # a local file by its file: URI: a bare path would name a file on fs.defaultFS
            # (HDFS, when HADOOP_CONF_DIR names a cluster)
            source = 'file://' + os.path.abspath(uri) if '://' not in uri else uri
            pairs = sc.hadoopFile(source, 'org.apache.hadoop.mapred.TextInputFormat',
                                  'org.apache.hadoop.io.LongWritable', 'org.apache.hadoop.io.Text')
            parts.append(pairs.mapPartitions(
                lambda it, uri=uri: [rd.read_offset_lines(it, uri, schema)]))
        return parts[0] if len(parts) == 1 else sc.union(parts)


def _remove_block(block):
    block.remove()


def _file_rank(files, name):
    for i, (uri, _) in enumerate(files):
        if uri == name:
            return i
    return len(files)


class _PassTask:
    """The task of one pass: the block function over a task's blocks, packed as bytes.

    A module-level class, so that executors import this module (and with it the
    core's registered aggregates) to run it. ``params`` is the JSON text of the
    pass's parameters (it travels in the pickled task). Yields one
    ``(seconds, packed partial or None)``: the seconds are the task's compute.
    """

    def __init__(self, name, design, params):
        self.name = name
        self.design = design
        self.params = params

    def __call__(self, blocks_of_partition):
        t0 = time.perf_counter()
        params = json.loads(self.params)
        total = None
        for b in blocks_of_partition:
            total = blocks.merge_partials(
                self.name, total, blocks.block_partial(self.name, b.parsed, self.design, params))
        # raw float64 bytes: a p x p partial is 8 p^2 bytes, not a JSON text of it
        packed = None if total is None else blocks.pack(total)
        yield time.perf_counter() - t0, packed
