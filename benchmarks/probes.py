"""Where a pass's time goes, from what the engines report (used by thesis.py and scaling.py).

:class:`Probe` wraps an engine of :mod:`distreg.fit` and, after each pass, reads:

- mrjob engines: the job's counters. The tasks time themselves (``jobs/block_job.py``,
  counter group ``distreg timing``, microseconds summed over tasks): map task (from its
  init to its final emit), parse, compute, reduce; ``distreg / map output bytes`` is the
  JSON the map tasks hand to the reduce side.
- spark engines: Spark's status store (``SparkContext.statusStore``, which works without
  the web UI) for the stages of the pass's jobs: stage wall (submission to completion),
  executor run time, deserialisation, result serialisation and result bytes.

The split of a pass (seconds; the parts add up to the pass's wall time):

MapReduce  launch   = wall - mean map task - reduce (job set-up, task processes and their
                      Python start, the sort: everything outside the tasks' own timers)
           read     = mean map task - parse - compute (reading the split)
           parse    = mean parse per map task;  compute = mean compute per map task
           reduce   = the reducer (merging the partials; the shuffle is in launch)
Spark      driver   = wall - stage walls (job submission, broadcast, collecting, decoding)
           tasks    = stage walls - mean task run time (scheduling, task (de)serialisation)
           python   = mean task run time - compute (handing the cached block to Python,
                      the partial back as JSON)
           compute  = the block function on one partition's arrays, timed here in numpy
                      (``compute_floor``): what the pass cannot go below
"""

import time
import uuid

import numpy as np

from distreg import blocks
from distreg.loader import iter_local_blocks, read_first_line, sniff_schema, Parsed

TIMING_GROUP = 'distreg timing'


class Probe:
    """An engine of :mod:`distreg.fit` that records each pass's wall time and its split."""

    #: the core drives it pass by pass (an engine that trains itself has no passes to probe)
    trains_itself = False

    def __init__(self, engine, spark=None, compute=None):
        self.engine = engine
        self.name = engine.name
        self.spark = spark
        #: {aggregate name: seconds of the block function on one partition's arrays}
        self.compute = compute or {}
        self._passes = []
        self._group = 0
        # job groups of its own: several probes share a SparkSession (make scaling), and a
        # reused group name would count an earlier probe's jobs in a later one's passes
        self._prefix = 'distreg-probe-%s' % uuid.uuid4().hex[:8]

    @property
    def rejects(self):
        return self.engine.rejects

    @property
    def load_seconds(self):
        return self.engine.load_seconds

    @property
    def recovery(self):
        return getattr(self.engine, 'recovery', None)

    def prepare(self, options):
        return self.engine.prepare(options)

    def close(self):
        self.engine.close()

    def aggregate(self, name, params):
        group = None
        if self.spark is not None:
            self._group += 1
            group = '%s-%d' % (self._prefix, self._group)
            self.spark.sparkContext.setJobGroup(group, 'pass %d' % self._group)
        t0 = time.perf_counter()
        try:
            part = self.engine.aggregate(name, params)
            wall = time.perf_counter() - t0
        finally:
            if group is not None:
                # the group holds this pass's jobs alone: what runs next on this thread (the
                # engine's clean-up at close, the next fit's load) is not this pass's (make
                # scaling counted the close's job over every cached partition in the last
                # pass: 6 and 13 tasks at 3e6 and 1e7 rows, for a pass of 2)
                self.spark.sparkContext._jsc.clearJobGroup()
        entry = dict(aggregate=name, seconds=wall)
        if self.spark is None and getattr(self.engine, 'counters', None) is not None:
            entry.update(mr_split(self.engine.counters, wall))
        # Spark's split is read from its status store after the fit (:attr:`passes`): its
        # queries cost the driver tens of milliseconds, which must not land in the
        # iteration's own seconds
        self._passes.append((entry, group))
        return part

    @property
    def passes(self):
        """One dict per pass: aggregate, seconds and the split of the seconds."""
        out = []
        for entry, group in self._passes:
            if group is not None and 'split' not in entry:
                entry.update(spark_split(self.spark, group, entry['seconds'],
                                         self.compute.get(entry['aggregate'])))
            out.append(entry)
        return out


def _counter(counters, group, name):
    return sum(step.get(group, {}).get(name, 0) for step in counters)


def mr_split(counters, wall):
    maps = _counter(counters, 'distreg', 'map tasks') or 1
    task = _counter(counters, TIMING_GROUP, 'map task us') / 1e6 / maps
    parse = _counter(counters, TIMING_GROUP, 'parse us') / 1e6 / maps
    compute = _counter(counters, TIMING_GROUP, 'compute us') / 1e6 / maps
    reduce_ = _counter(counters, TIMING_GROUP, 'reduce us') / 1e6
    return dict(map_tasks=maps,
                map_output_bytes=_counter(counters, 'distreg', 'map output bytes'),
                split=dict(launch=wall - task - reduce_, read=task - parse - compute,
                           parse=parse, compute=compute, reduce=reduce_))


def spark_split(spark, group, wall, compute):
    sc = spark.sparkContext
    tracker = sc.statusTracker()
    store = sc._jsc.sc().statusStore()
    stage_wall = run = tasks = result_bytes = deser = ser = 0.0
    for job in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job)
        for sid in (info.stageIds if info else []):
            s = store.lastStageAttempt(sid)
            sub, done = s.submissionTime(), s.completionTime()
            if sub.isDefined() and done.isDefined():
                stage_wall += (done.get().getTime() - sub.get().getTime()) / 1e3
            n = s.numTasks()
            tasks += n
            run += s.executorRunTime() / 1e3 / max(n, 1)
            deser += s.executorDeserializeTime() / 1e3 / max(n, 1)
            ser += s.resultSerializationTime() / 1e3 / max(n, 1)
            result_bytes += s.resultSize()
    compute = min(compute, run) if compute is not None else 0.0
    return dict(tasks=int(tasks), result_bytes=int(result_bytes),
                task_deserialize=deser, result_serialize=ser,
                split=dict(driver=wall - stage_wall, tasks=stage_wall - run,
                           python=run - compute, compute=compute))


def compute_floor(path, options, partitions, repeats=3):
    """Seconds of each aggregate's block function on one of ``partitions`` equal parts of the
    data, as numpy arrays in memory (the minimum of ``repeats``): the pass's compute floor
    when the partitions run in parallel."""
    schema = sniff_schema(read_first_line(path), options.format, options.label_col,
                          options.bad_rows, options.model, source=path)
    parts = list(iter_local_blocks(path, schema))
    X = np.concatenate([p.X for p in parts])
    y = np.concatenate([p.y for p in parts])
    del parts
    n = len(y) // partitions
    block = Parsed(X=np.ascontiguousarray(X[:n]), y=y[:n].copy())
    del X, y
    design = options.design()
    p = design.n_coef(block.X.shape[1])
    out = {}
    for name in ('gradient', 'hessian'):
        params = dict(theta=[0.01] * p, model=options.model)
        best = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            blocks.block_partial(name, block, design, params)
            best = min(best, time.perf_counter() - t0)
        out[name] = best
    return out
