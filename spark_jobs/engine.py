"""The ``spark-rdd`` engine of ``distreg fit``: the core's aggregates on a cached RDD.

(``spark-mllib``, pyspark.ml on a DataFrame of the same rows, is :mod:`spark_jobs.mllib`.)
It implements the engine contract of :mod:`distreg.engine`:

- ``prepare`` reads the input once (:mod:`spark_jobs.reader`: one numpy block
  per partition, parsed by the shared loader), ``cache()``\\ s the blocks and
  materialises them, collecting every rejected row (or the first bad one);
- ``aggregate`` is one pass, one stage: each task (one per core, see ``_pass_rdd``)
  runs the block function over its blocks in ``mapPartitions`` and merges them, and
  the driver collects one partial per task and merges those. Partials travel as raw
  float64 bytes (:func:`distreg.blocks.pack`), so a symmetric p x p partial (a Gram)
  costs 4 p (p + 1) bytes in the JVM. The pass's RDD is built once per aggregate and
  collected again on every pass; the parameters travel as the JSON text of a local
  property of the pass's job (:data:`PASS_PROPERTY`, in every task's description, read with
  ``TaskContext.getLocalProperty``), so a pass pickles no function and makes no new
  JVM RDD.

Where a cached pass spends its time (see benchmarks/bench_spark.py): a Python
RDD's cache lives in the JVM as serialised bytes that are streamed to a Python
worker on every pass. With one contiguous block per partition and few
partitions (one or two per core), a pass costs one bulk copy of the block
instead of unpickling many small objects, plus the arithmetic. The direct
reader's blocks are memory-mapped files that a reused Python worker keeps
mapped between passes (:mod:`spark_jobs.reader`), so a later pass reads the
page cache without faulting its pages in again.

Failures are Spark's to survive: a failed task attempt runs again, and a cached partition
lost with its executor is recomputed from the input by the RDD's lineage. The engine says
when that happened (one ``distreg: spark-rdd pass N: ...`` line on stderr) and counts it in
the record's ``timings.failed_tasks`` (task attempts of the passes that failed and ran again)
and ``timings.recomputed_partitions`` (partitions read and parsed from the input again during
the passes, because their cached block was lost: an accumulator counts every partition the
reader builds). Both are 0 in a fit that met no failure.
"""

import json
import os
import sys
import time
import uuid

import numpy as np

from distreg import blocks, parquet, scoring
from distreg.engine import Engine
from distreg.errors import BadInputError, DistregError
from distreg.loader import (check_headers, check_no_features, fill_line_numbers, keyed,
                            local_path, sniff_schema, with_label_rule)
from spark_jobs import reader as rd
from spark_jobs.session import cancellable, get_session, import_pyspark

# the engine's library, at import: a missing one is reported with the extra to install
import_pyspark()

#: TEST-ONLY fault switch (issue 11; set by the fault tests and ``make faults`` only):
#: ``spark:P`` makes the first attempt of partition P's task in the first pass over the cache
#: raise, so that the tests can watch Spark run it again (read on the executor).
FAULT_ENV = 'DISTREG_FAULT'
#: The local property that carries a pass's number and parameters to its tasks (JSON).
PASS_PROPERTY = 'distreg.pass'


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
        self.recovery = dict(failed_tasks=0, recomputed_partitions=0)
        self._passes = 0
        self._coalesced = None
        #: {aggregate name: the RDD of its passes}, built on its first pass
        self._pass_rdds = {}
        self.task_seconds = []

    # ------------------------------------------------------------------ protocol

    @cancellable
    def prepare(self, options):
        """Read, parse and cache the input; fail on its first bad row (policy 'fail')."""
        if self.spark is None:
            from pyspark import SparkContext
            # getOrCreate joins a running session: stop only one this engine started
            self._own_session = SparkContext._active_spark_context is None
            self.spark = get_session('distreg-%s' % self.name, self.master,
                                     python_only=True)
        # the JVM's start is in the record's seconds, not in the load time
        t0 = time.perf_counter()
        sc = self.spark.sparkContext
        self.design = options.design()
        self._row_groups = None
        on_hdfs = None
        if self.path.startswith('hdfs://'):
            on_hdfs = parquet.hdfs_parquet(self.path, options.format, _namenode_web(sc),
                                           os.environ.get('HADOOP_USER_NAME') or sc.sparkUser())
        if on_hdfs is not None:
            # Parquet on HDFS: footers and row groups read through WebHDFS by byte ranges
            self.schema = on_hdfs.schema(**parquet.schema_options(options))
            self._row_groups = on_hdfs.manifest()
            files = [(e['name'], 0) for e in self._row_groups]
        elif rd.is_local(self.path) and parquet.is_parquet_input(local_path(self.path),
                                                                  options.format):
            # Parquet: one partition per run of row groups, read by its task (distreg.parquet)
            found = parquet.data_files(local_path(self.path))
            self.schema = parquet.local_schema(local_path(self.path), source=self.path,
                                               files=found, **parquet.schema_options(options))
            self._row_groups = parquet.manifest(local_path(self.path), found)
            files = [(e['name'], 0) for e in self._row_groups]
        else:
            if options.format == 'parquet':
                raise DistregError('%s reads Parquet from local files only, not %s'
                                   % (self.name, self.path))
            check_no_features(options.features, options.n_features)
            files = rd.list_files(sc, self.path)
            headers = rd.first_lines(sc, files, options.format, self.path)
            first = next((line for _, line, _ in headers if line), None)
            self.schema = check_headers(
                sniff_schema(first, options.format, options.label_col, options.bad_rows,
                             options.model, source=self.path, n_features=options.n_features,
                             weight_col=options.weight_col,
                             cluster_col=options.cluster_col(),
                             offset_col=options.offset_col,
                             categorical=options.categorical, levels=options.levels),
                headers)
        self.schema = with_label_rule(keyed(self.schema, options), options)
        # counts each partition built from the input: more than n_partitions means that cached
        # blocks were lost and rebuilt from the lineage
        self._built = sc.accumulator(0)
        self.cached = self._blocks(sc, files).mapPartitions(_Counted(self._built)).cache()
        self.n_partitions = self.cached.getNumPartitions()
        # materialise the cache now: what load_seconds measures, and where bad rows show
        info = self.cached.map(lambda b: (b.n_rows, b.error, b.rejects)).collect()
        errors = [e for _, e, _ in info if e is not None]
        if errors:
            self.close()
            first = min(errors, key=lambda d: (_file_rank(files, d['file']), d['offset'] or 0,
                                               d.get('file_row') or 0))
            fill_line_numbers([first])
            raise BadInputError.from_dict(first)
        self.rejects = fill_line_numbers([bad for _, _, rejects in info for bad in rejects])
        self.n_rows = sum(n for n, _, _ in info)
        self._executors = _live_executors(sc)
        self.load_seconds = time.perf_counter() - t0
        return self.schema

    @cancellable
    def aggregate(self, name, params):
        """One pass: the merged partial of aggregate ``name`` at ``params``."""
        # one stage, one task per core; the parameters ride in a local property of the job
        # (a broadcast per pass costs more than it saves for a vector of coefficients, and a
        # new closure per pass would be a new JVM RDD, built again on every pass),
        # each task merges its blocks' partials in Python and sends one packed partial
        sc = self.spark.sparkContext
        built_before = self._built.value
        self._passes += 1
        rdd = self._pass_rdds.get(name)
        if rdd is None:
            rdd = self._pass_rdds[name] = self._pass_rdd().mapPartitions(
                _PassTask(name, self.design))
        sc.setLocalProperty(PASS_PROPERTY, json.dumps({'pass': self._passes, 'params': params}))
        try:
            results = rdd.collect()
        finally:
            sc.setLocalProperty(PASS_PROPERTY, None)
        # a task's successful attempt is its attempt number + 1: the others failed (or were
        # lost with their executor) and ran again (with spark.speculation on, which is off
        # by default, a speculative copy would count too)
        self._note_recovery(sc, sum(attempt for _, attempt, _ in results),
                            self._built.value - built_before)
        #: seconds each task spent in the block function (its compute; the rest of the
        #: pass is Spark's scheduling, transport and the driver's merge)
        self.task_seconds = [seconds for seconds, _, _ in results]
        total = None
        for _, _, packed in results:
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

    def _note_recovery(self, sc, failed, rebuilt):
        """Count and say what Spark recovered from in this pass (see the module notes)."""
        if not (failed or rebuilt):
            return
        executors = _live_executors(sc)
        lost = (', %d executor(s) lost' % (self._executors - executors)
                if executors < self._executors else '')
        print('distreg: spark-rdd pass %d: %d task attempt(s) failed and ran again, %d of '
              '%d cached partitions recomputed from the input (lineage)%s'
              % (self._passes, failed, rebuilt, self.n_partitions, lost), file=sys.stderr)
        self._executors = executors
        self.recovery['failed_tasks'] += failed
        self.recovery['recomputed_partitions'] += rebuilt

    # ------------------------------------------------------------------ predict, evaluate

    @cancellable
    def predict(self, params, out):
        """One line per row, partitions in input order: a local ``out`` through the driver
        (partition by partition), an ``hdfs://`` or ``s3a://`` one by ``saveAsTextFile``."""
        sc = self.spark.sparkContext
        shared = sc.broadcast(json.dumps(params))
        try:
            text = self.cached.mapPartitions(_PredictTask(self.design, shared))
            if '://' in out and local_path(out) is None:
                text.saveAsTextFile(out)
            else:
                with scoring.local_output(local_path(out)) as f:
                    for piece in text.toLocalIterator(prefetchPartitions=True):
                        if scoring.REJECT_MARK in piece:
                            piece = '\n'.join(line for line, _ in scoring.local_lines(
                                piece.split('\n')))
                        f.write(piece + '\n')
        finally:
            shared.unpersist()
        return self.n_rows + len(self.rejects)

    @cancellable
    def evaluate(self, params):
        """The ``evaluate`` partial; for a logistic model, ROC AUC by Spark's sort of the scores.

        Each partition counts its distinct scores, in buckets of a sortable key
        (:func:`distreg.blocks.score_buckets`); a bucket's counts from all
        partitions are merged, ``sortByKey`` orders the buckets, each sorted
        partition folds its buckets into an :class:`AucRange`, and only these
        ranges (one per partition, in order) reach the driver.
        """
        part = self.aggregate('evaluate', params)
        if params['model'] != 'logistic':
            return part, None
        sc = self.spark.sparkContext
        shared = sc.broadcast(json.dumps(params))
        try:
            counts = self.cached.mapPartitions(_ScoreCountsTask(self.design, shared))
            ranges = counts.reduceByKey(_merge_bucket).sortByKey(
                numPartitions=self.n_partitions).mapPartitions(_sorted_range).collect()
        finally:
            shared.unpersist()
        auc = blocks.AucRange()
        for r in ranges:
            auc = auc.merge(blocks.AucRange.from_json(json.loads(r)))
        return part, auc

    def release_cache(self):
        """Drop the cache and the executors' block files."""
        if self.cached is not None:
            self.cached.foreach(_remove_block)
            self.cached.unpersist()
            self.cached = None
            self._coalesced = None
            self._pass_rdds = {}

    def close(self):
        """Release the cache; stop the session if this engine started it."""
        self.release_cache()
        if self._own_session and self.spark is not None:
            self.spark.stop()
            self.spark = None

    # ------------------------------------------------------------------ reading

    def _blocks(self, sc, files):
        schema = self.schema
        if self._row_groups is not None:
            splits = rd.row_group_splits(self._row_groups, sc.defaultParallelism)
            token = uuid.uuid4().hex
            return sc.parallelize(splits, len(splits)).mapPartitionsWithIndex(
                lambda i, it: rd.read_stored_split(i, it, schema, token))
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


class _Counted:
    """Pass a partition's blocks through, counting the partition in an accumulator."""

    def __init__(self, counter):
        self.counter = counter

    def __call__(self, partition):
        self.counter.add(1)
        return partition


def _namenode_web(sc):
    """The NameNode's HTTP address (WebHDFS): the session's Hadoop conf, else the conf dir's
    (a session started before HADOOP_CONF_DIR named the cluster)."""
    web = sc._jsc.hadoopConfiguration().get('dfs.namenode.http-address')
    if web:
        return web
    try:
        from hdfs_utils.env import HadoopNotFound, conf_value
    except ImportError:
        return None
    try:
        return conf_value('dfs.namenode.http-address')
    except (HadoopNotFound, OSError):
        return None


def _live_executors(sc):
    """Executors alive now (the driver not counted)."""
    return max(len(sc._jsc.sc().statusTracker().getExecutorInfos()) - 1, 0)


def _remove_block(block):
    block.remove()


def _file_rank(files, name):
    for i, (uri, _) in enumerate(files):
        if uri == name:
            return i
    return len(files)


class _PassTask:
    """The task of a pass: the block function over a task's blocks, packed as bytes.

    A module-level class, so that executors import this module (and with it the
    core's registered aggregates) to run it. The pass's number and parameters are the
    job's local property :data:`PASS_PROPERTY`. Yields one ``(seconds, attempt number,
    packed partial or None)``: the seconds are the task's compute.
    """

    def __init__(self, name, design):
        self.name = name
        self.design = design

    def __call__(self, blocks_of_partition):
        from pyspark import TaskContext
        task = TaskContext.get()
        this_pass = json.loads(task.getLocalProperty(PASS_PROPERTY))
        if this_pass['pass'] == 1 and os.environ.get(FAULT_ENV):
            _injected_fault(os.environ[FAULT_ENV])
        t0 = time.perf_counter()
        params = this_pass['params']
        total = None
        for b in blocks_of_partition:
            total = blocks.merge_partials(
                self.name, total, blocks.block_partial(self.name, b.parsed, self.design, params))
        # raw float64 bytes, a symmetric matrix's upper triangle only, not a JSON text of it
        packed = None if total is None else blocks.pack(total)
        yield time.perf_counter() - t0, task.attemptNumber(), packed


def _injected_fault(wanted):
    from pyspark import TaskContext
    task = TaskContext.get()
    if wanted == 'spark:%d' % task.partitionId() and task.attemptNumber() == 0:
        raise RuntimeError('%s=%s: attempt 0 of partition %d fails on purpose (a test-only '
                           'fault)' % (FAULT_ENV, wanted, task.partitionId()))


class _PredictTask:
    """A partition's predictions as text, a few thousand lines per element (rejects marked)."""

    LINES = 1 << 16

    def __init__(self, design, shared):
        self.design = design
        self.shared = shared

    def __call__(self, blocks_of_partition):
        params = json.loads(self.shared.value)
        for b in blocks_of_partition:
            parsed = b.parsed
            rejects = iter(parsed.rejects)
            lines = [line if line is not None
                     else scoring.REJECT_MARK + json.dumps({'reject': next(rejects)})
                     for line in blocks.prediction_lines(parsed, self.design, params)]
            for i in range(0, len(lines), self.LINES):
                yield '\n'.join(lines[i:i + self.LINES])


class _ScoreCountsTask:
    """(bucket key, (scores, positives, negatives)) for each bucket of a partition's scores."""

    def __init__(self, design, shared):
        self.design = design
        self.shared = shared

    def __call__(self, blocks_of_partition):
        params = json.loads(self.shared.value)
        for b in blocks_of_partition:
            if b.n_rows:
                yield from blocks.score_buckets(
                    blocks.score_counts(b.parsed, self.design, params))


def _merge_bucket(a, b):
    return blocks.merge_score_counts(a, b)


def _sorted_range(buckets):
    """The :class:`AucRange` (JSON) of a partition of buckets sorted by key."""
    total = blocks.AucRange()
    for _, counts in buckets:
        total = total.merge(blocks.AucRange.from_counts(*counts))
    yield json.dumps(total.to_json())

