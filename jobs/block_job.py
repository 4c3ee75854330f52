"""Base class of distreg's mrjob jobs: one distributed aggregate per job, one step.

A job maps the core's block function over its input and merges the partials:

- the mapper reads its split in large byte chunks (not line by line: mrjob's
  per-line protocol handling would cost more than the arithmetic), parses each
  chunk vectorised with the shared loader and folds it into one accumulator
  (in-mapper combining); ``mapper_final`` emits one partial per task;
- a combiner merges a task's partials, a single reducer (one key) merges them
  all and, for a closed form, solves (:func:`distreg.optim.normal_answer`).

Values between tasks are JSON with exact floats (see :mod:`distreg.blocks`).
Bad rows never vanish: with ``--bad-rows fail`` a task that meets one emits it
as an error and the reducer emits only that error (the command exits 1 with
file, line and reason); with ``--bad-rows skip`` every rejected row travels to
the reducer and is written to the output as ``{"reject": ...}``.

The ``distreg`` and ``jobs`` packages are uploaded with the job (mrjob's
``dirs``), so Hadoop tasks import the same core whatever is installed there.
"""

import codecs
import dataclasses
import json
import logging
import os
import sys
import time

import numpy as np

from jobs.mrjob_compat import IN_PLACE_ENV, CompatJob  # first: it imports mrjob
from mrjob.protocol import (  # noqa: E402
    RawValueProtocol, StandardJSONProtocol, StandardJSONValueProtocol)
from mrjob.step import MRStep, StepFailedException  # noqa: E402

import distreg
from distreg import blocks, parquet
from distreg.errors import BadInputError, DistregError, raise_from_json_dict, to_json_dict
from distreg.fit import FitOptions
from distreg import options as options_mod
from distreg.options import JOB_OPTIONS
from distreg.loader import (CHUNK_BYTES, Parsed, Schema, check_headers, fill_line_numbers,
                            iter_chunks, iter_split_chunks, local_path, parse_chunk,
                            parquet_as_text, PARQUET_MAGIC, read_headers,
                            refuse_parquet_files, sniff_schema, with_label_rule)

log = logging.getLogger(__name__)

#: Rejected rows per emitted record (keeps each line of the shuffle small).
REJECTS_PER_RECORD = 1000
#: Counter group of the tasks' own timers (microseconds, summed over tasks by Hadoop): where
#: a job's time goes (benchmarks/thesis.py reads them).
TIMING_GROUP = 'distreg timing'
#: TEST-ONLY fault switch (issue 11; the fault tests and ``make faults`` set it through mrjob's
#: ``--cmdenv``, nothing else does): ``map:N`` / ``reduce:N`` makes the first attempt of map /
#: reduce task N exit 1 at its start, so that the tests can watch YARN run it again.
FAULT_ENV = 'DISTREG_FAULT'
#: Memory probe (``make bench``'s Parquet memory part sets it in the environment): each map
#: task reports its own RSS at its start and its peak (the kernel's ``VmHWM``) as counters of
#: group :data:`MEMORY_GROUP`, one pair per task (off by default: Hadoop caps a job's counters).
MEMORY_ENV = 'DISTREG_TASK_MEMORY'
MEMORY_GROUP = 'distreg memory'


class BlockJob(CompatJob):
    """One aggregate of :mod:`distreg.blocks` as an mrjob job (subclasses set AGGREGATE)."""

    AGGREGATE = None
    INPUT_PROTOCOL = RawValueProtocol
    INTERNAL_PROTOCOL = StandardJSONProtocol
    OUTPUT_PROTOCOL = StandardJSONValueProtocol
    # one key, one reducer: the merge must see every partial
    JOBCONF = {'mapreduce.job.reduces': '1'}

    def configure_args(self):
        super().configure_args()
        # the fit options the tasks need, from distreg/options.py: switches for a job run by
        # hand, or all of them as one JSON argument (what `distreg fit` passes)
        options_mod.add_arguments(None, JOB_OPTIONS, add=self.add_passthru_arg)
        self.add_passthru_arg('--fit-options', default=None,
                              help='the fit options as JSON (distreg.options.to_json); '
                                   'overrides the switches above')
        self.add_passthru_arg('--emit', default='result', choices=('result', 'partial'),
                              help='result: the result record; partial: the merged partial '
                                   '(what `distreg fit` reads). Default: %(default)s')
        self.add_passthru_arg('--schema', default=None,
                              help='resolved input schema (JSON). Default: read from the '
                                   "input's first line when the job is launched")
        self.add_passthru_arg('--engine-label', default=None,
                              help='engine name written in the result record')
        self.add_file_arg('--params', default=None,
                          help='JSON file with the parameters of the aggregate '
                               '(refine: {"theta": [...]})')

    def dirs(self):
        # the core and the jobs package travel with the job, importable in every task
        here = os.path.dirname(os.path.abspath(__file__))
        core = os.path.dirname(os.path.abspath(distreg.__file__))
        return [core + '#distreg', here + '#jobs']

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init_accumulator,
                       mapper=self.mapper_unused,
                       mapper_final=self.mapper_final_emit_partial,
                       combiner=self.combiner_merge_partials,
                       reducer=self.reducer_merge_and_finish)]

    # ------------------------------------------------------------------ launcher side

    def launch_args(self):
        """Resolve the schema from the input's first line before the tasks need it."""
        if self._is_task():
            return []
        if self.options.runner == 'hadoop':
            # first: the schema is sniffed on the cluster's filesystem
            self.add_args(self._hadoop_args())
        extra = []
        if self.options.schema is None:
            extra += ['--schema', self._sniff_schema().to_json()]
        if self.options.engine_label is None:
            extra += ['--engine-label', 'mrjob-%s' % (self.options.runner or 'inline')]
        return extra

    def _hadoop_args(self):
        """Point mrjob's hadoop runner at the project's Hadoop, and its tasks at this Python.

        ``hdfs_utils.hadoop_env()`` names the Hadoop home and the cluster (``$HADOOP_HOME`` /
        ``$HADOOP_CONF_DIR`` when set, else ``.hadoop/`` and the MiniCluster of ``make
        hadoop-up``). Streaming tasks would run ``python3`` from the container's PATH; unless
        ``--python-bin`` or the conf's ``python_bin`` says otherwise they run this interpreter,
        which has numpy and mrjob (on a multi-node cluster, set ``python_bin`` in the conf).
        """
        from mrjob.conf import load_opts_from_mrjob_confs
        use_hadoop()
        confs = load_opts_from_mrjob_confs('hadoop', self.options.conf_paths)
        if self.options.python_bin or any(o.get('python_bin') for _, o in confs):
            return []
        return ['--python-bin', sys.executable]

    def _is_task(self):
        o = self.options
        return o.run_mapper or o.run_combiner or o.run_reducer

    def _sniff_schema(self, headers=None):
        """The input's schema, every part file's header checked (``headers``: given by
        the caller, e.g. read from the local files of an HDFS upload)."""
        paths = self.options.args
        if not paths:
            raise DistregError('give an input path (reading stdin is not supported)')
        if headers is None:
            headers = []
            if any(local_path(p) is not None and parquet.is_parquet_input(
                    local_path(p), self.job_fit_options().format) for p in paths):
                raise DistregError(
                    'a Parquet input reaches the job as a manifest of its row groups, which '
                    '`distreg fit INPUT --engine mrjob-...` writes: run it that way')
            for path in paths:
                if local_path(path) is not None:
                    refuse_parquet_files(local_path(path), self.job_fit_options().format)
                    headers += read_headers(local_path(path))
                else:
                    headers += self._remote_headers(path)
        first = next((line for _, line, _ in headers if line), None)
        o = self.job_fit_options()
        schema = sniff_schema(first, o.format, o.label_col, o.bad_rows, o.model, source=paths[0],
                              n_features=o.n_features, weight_col=o.weight_col,
                              cluster_col=o.cluster_col(), offset_col=o.offset_col,
                              categorical=o.categorical, levels=o.levels)
        return with_label_rule(check_headers(schema, headers), o)

    def _remote_headers(self, uri):
        """``(file, first line, ())`` of each file of a remote input (for check_headers)."""
        out = []
        # the runner's filesystem knows hdfs:// and s3:// (and the user's credentials)
        with self.filesystem() as fs:
            for path in sorted(fs.ls(uri)):
                if os.path.basename(path).startswith(('_', '.')):
                    continue
                data = _first_line(fs, path)
                if data and data.startswith(PARQUET_MAGIC):
                    raise parquet_as_text(path, self.job_fit_options().format, uri)
                line = data.split(b'\n', 1)[0].decode('utf-8', 'replace') if data else None
                out.append((path, line, ()))
        return out

    def run_job(self):
        """Run the job and print its output; a bad-input error record exits 1 with its message."""
        self.set_up_logging(quiet=self.options.quiet, verbose=self.options.verbose,
                            stream=codecs.getwriter('utf_8')(self.stderr))
        try:
            with self.make_runner() as runner:
                runner.run()
                values = [v for _, v in self.parse_output(runner.cat_output())]
        except StepFailedException as e:
            log.error(str(e))
            sys.exit(1)
        except DistregError as e:
            print('distreg: error: %s' % e, file=sys.stderr)
            sys.exit(1)
        opener = None
        if self.options.runner == 'hadoop':
            from hdfs_utils.hdfs import open_stream as opener
        fill_line_numbers([v.get('error') or v['reject'] for v in values
                           if 'error' in v or 'reject' in v], opener)
        for value in values:
            if 'error' in value:
                try:
                    raise_from_json_dict(value['error'])
                except DistregError as e:
                    print('distreg: error: %s' % e, file=sys.stderr)
                sys.exit(1)
        for value in values:
            self.stdout.write(json.dumps(value, allow_nan=False).encode('utf-8') + b'\n')
        self.stdout.flush()

    # ------------------------------------------------------------------ task side

    def job_fit_options(self):
        """The :class:`distreg.fit.FitOptions` of this job: ``--fit-options``, else the switches."""
        if self.options.fit_options:
            return FitOptions(**options_mod.from_json(self.options.fit_options))
        return FitOptions(**options_mod.values(self.options, JOB_OPTIONS))

    def _task_setup(self):
        _injected_fault()
        o = self.options
        self.schema = Schema.from_json(o.schema)
        self.fit_options = self.job_fit_options()
        self.design = self.fit_options.design()
        self.params = {}
        if o.params:
            with open(o.params) as f:
                self.params = json.load(f)

    def mapper_init_accumulator(self):
        self._t_start = time.perf_counter()
        self._parse_s = self._compute_s = 0.0
        self._task_setup()
        self._total = None
        self._error = None
        self._rejects = []
        self._row_groups = 0
        self._input_file = _task_env('mapreduce_map_input_file', 'map_input_file') or '<stdin>'
        start = _task_env('mapreduce_map_input_start', 'map_input_start')
        self._next_offset = int(start) if start else 0
        # A split that starts mid-file cannot know its line numbers, only byte offsets; and
        # on Hadoop not even those: its first line is the first one that starts at or after
        # the split's start. Bad rows carry the start; the driver places them exactly
        # (distreg.loader.fill_line_numbers).
        self._split_start = self._next_offset
        self._next_line = 1 if self._next_offset == 0 else None
        self._rss_at_start = _memory_kb('VmRSS') if os.environ.get(MEMORY_ENV) else None

    def _fold(self, chunk):
        if self.schema.format == 'parquet':
            # the job's input is the manifest of row groups (jobs/engine.py): each line of
            # this task's split names one, which the task reads itself (those columns only)
            for entry in parquet.entries_of(chunk.data):
                self._row_groups += 1
                self._fold_block(lambda: parquet.read_row_group(entry, self.schema),
                                 pieces=True)
            return
        self._fold_block(lambda: parse_chunk(chunk, self.schema))

    def _fold_block(self, parse, pieces=False):
        if self._error is not None:
            return  # fail policy: the task already failed; read on, do no more work
        t0 = time.perf_counter()
        try:
            parsed = parse()
        except BadInputError as e:
            self._error = self._in_split(to_json_dict(e))
            return
        t1 = time.perf_counter()
        self._rejects.extend(self._in_split(r) for r in parsed.rejects)
        for piece in (_pieces(parsed) if pieces else (parsed,)):
            part = blocks.block_partial(self.AGGREGATE, piece, self.design, self.params)
            self._total = blocks.merge_partials(self.AGGREGATE, self._total, part)
        self._parse_s += t1 - t0
        self._compute_s += time.perf_counter() - t1

    def _in_split(self, bad):
        if self._split_start and bad.get('line') is None and bad.get('file') == self._input_file:
            bad['split_start'] = self._split_start
        return bad

    def mapper_final_emit_partial(self):
        self.increment_counter('distreg', 'map tasks')
        if self._row_groups:
            # Parquet: the row groups this task read (their sum is the manifest's length)
            self.increment_counter('distreg', 'row groups read', self._row_groups)
            self.increment_counter('distreg', 'map tasks that read row groups')
            if parquet.WEBHDFS_BYTES[0]:
                self.increment_counter('distreg', 'bytes read through WebHDFS',
                                       parquet.WEBHDFS_BYTES[0])
        # the task's time from its init (interpreter start and imports not included): the rest
        # after parse and compute is reading the split
        self._count_us('map task us', time.perf_counter() - self._t_start)
        self._count_us('parse us', self._parse_s)
        self._count_us('compute us', self._compute_s)
        if self._rss_at_start is not None:
            task = _task_env('mapreduce_task_partition', 'mapred_task_partition') or '0'
            self.increment_counter(MEMORY_GROUP, 'map task %s RSS at start kB' % task,
                                   self._rss_at_start)
            self.increment_counter(MEMORY_GROUP, 'map task %s peak RSS kB' % task,
                                   _memory_kb('VmHWM'))
        if self._error is not None:
            self.increment_counter('distreg', 'tasks failed on a bad row')
            yield None, {'error': self._error}
            return
        for i in range(0, len(self._rejects), REJECTS_PER_RECORD):
            yield None, {'rejects': self._rejects[i:i + REJECTS_PER_RECORD]}
        if self._rejects:
            self.increment_counter('distreg', 'rows rejected', len(self._rejects))
        total = self._total or {'n': 0, 'n_bad': 0, 'y_mean': 0.0, 'y_m2': 0.0}
        self.increment_counter('distreg', 'rows used', total['n'])
        encoded = blocks.encode(total)
        # what this task hands to the reduce side (the scaling benchmark's bytes vs rows)
        self.increment_counter('distreg', 'map output bytes', len(json.dumps(encoded)))
        # always one partial, even of no rows: the reducer must run to say "no rows"
        yield None, {'partial': encoded}

    def map_task(self, stdin, paths):
        """The whole map task, a chunk of its input at a time (see :mod:`jobs.mrjob_compat`).

        Same steps as mrjob's own (init, input, final), minus the per-line
        decoding; the split arrives on stdin (or as paths given to ``--mapper``).
        """
        self.mapper_init_accumulator()
        if os.environ.get(IN_PLACE_ENV) and paths == ['-']:
            # distreg's local runner: the split is a byte range of the input, read in place;
            # offsets are exact, line numbers are found by the driver when a row is bad
            self._split_start = 0
            start = self._next_offset
            length = int(_task_env('mapreduce_map_input_length', 'map_input_length'))
            path = os.path.join(os.environ[IN_PLACE_ENV], local_path(self._input_file))
            for chunk in iter_split_chunks(path, start, start + length,
                                           skip_header=self.schema.format == 'csv',
                                           count_lines=False, name=self._input_file):
                self._fold(chunk)
            paths = []
        for path in paths:
            if path == '-':
                stream, name = stdin, self._input_file
                offset, line = self._next_offset, self._next_line
            else:
                stream, name, offset, line = open(path, 'rb'), path, 0, 1
            with stream:
                for chunk in iter_chunks(stream, name, offset, line,
                                         skip_header=self.schema.format == 'csv'):
                    self._fold(chunk)
        yield from self.mapper_final_emit_partial()

    def combiner_merge_partials(self, key, values):
        for out in self._merge_values(values):
            yield key, out

    def _merge_values(self, values):
        """Merge partials; pass rejects through; keep only the earliest error."""
        total, error = None, None
        for value in values:
            if 'partial' in value:
                total = blocks.merge_partials(self.AGGREGATE, total,
                                              blocks.decode(value['partial']))
            elif 'error' in value:
                if error is None or _position(value['error']) < _position(error):
                    error = value['error']
            else:
                yield value
        if error is not None:
            yield {'error': error}
        elif total is not None:
            yield {'partial': blocks.encode(total)}

    def _count_us(self, name, seconds):
        self.increment_counter(TIMING_GROUP, name, int(round(seconds * 1e6)))

    def reducer_merge_and_finish(self, key, values):
        t_start = time.perf_counter()
        try:
            yield from self._reduce(key, values)
        finally:
            self._count_us('reduce us', time.perf_counter() - t_start)

    def _reduce(self, key, values):
        self._task_setup()
        total, n_rejected = None, 0
        for value in self._merge_values(values):
            if 'rejects' in value:
                n_rejected += len(value['rejects'])
                for bad in value['rejects']:
                    yield None, {'reject': bad}
            elif 'error' in value:
                yield None, value
                return
            else:
                total = blocks.decode(value['partial'])
        if total is None:  # no task saw a usable row
            total = {'n': 0, 'n_bad': n_rejected}
        if self.options.emit == 'partial':
            yield None, {'partial': blocks.encode(total)}
            return
        try:
            yield None, self.finish(total)
        except DistregError as e:
            yield None, {'error': to_json_dict(e)}

    def finish(self, part):
        """The result record of a standalone run (subclasses with a closed form override)."""
        return {'partial': blocks.encode(part)}


def use_hadoop():
    """Make this process (mrjob's hadoop runner, ``hdfs_utils``) use the project's Hadoop.

    Merges ``hdfs_utils.hadoop_env()`` into ``os.environ`` and checks that the conf dir names
    an HDFS; raises :class:`DistregError` saying what to do otherwise.
    """
    from hdfs_utils.env import HadoopNotFound, conf_value, hadoop_env
    try:
        os.environ.update(hadoop_env())
    except HadoopNotFound as e:
        raise DistregError(str(e))
    if not (conf_value('fs.defaultFS') or '').startswith('hdfs://'):
        raise DistregError(
            'no Hadoop cluster: HADOOP_CONF_DIR (%s) names no HDFS; run `make hadoop-up` '
            'or export HADOOP_CONF_DIR for your cluster' % os.environ['HADOOP_CONF_DIR'])


def _position(bad):
    return (bad.get('file') or '', bad.get('offset') or 0, bad.get('file_row') or 0)


def _injected_fault():
    """Exit 1 when :data:`FAULT_ENV` (``KIND:TASK``, several separated by commas, e.g.
    ``map:0,reduce:0``) names this task and this is its first attempt."""
    wanted = os.environ.get(FAULT_ENV)
    # attempt_<cluster ts>_<job>_<m|r>_<task>_<attempt>, from Hadoop streaming's job conf
    attempt = _task_env('mapreduce_task_attempt_id', 'mapred_task_id')
    if not wanted or not attempt:
        return
    kind, task, number = attempt.split('_')[-3:]
    this = '%s:%d' % ({'m': 'map', 'r': 'reduce'}.get(kind, kind), int(task))
    if this in wanted.split(',') and number == '0':
        print('distreg: %s=%s: attempt %s fails on purpose (a test-only fault)'
              % (FAULT_ENV, wanted, attempt), file=sys.stderr)
        sys.exit(1)


def _pieces(parsed):
    """A row group's block in runs of rows of about a text chunk's size (``CHUNK_BYTES`` of
    doubles), as views: the block function's own copies (its model matrix) stay that small,
    and a task holds its row group's arrays and one such piece, not a row group twice."""
    n = len(parsed.y)
    rows = max(1024, CHUNK_BYTES // (8 * (parsed.X.shape[1] + 2)))
    if n <= rows or parsed.rejects:
        yield parsed
        return
    # every per-row array of the block, cut alike (weights, cluster ids, keys, offsets, text)
    per_row = {f.name: getattr(parsed, f.name) for f in dataclasses.fields(Parsed)
               if isinstance(getattr(parsed, f.name), np.ndarray)}
    for a in range(0, n, rows):
        yield Parsed(**{k: v[a:a + rows] for k, v in per_row.items()})


def _memory_kb(field):
    """This process's ``VmRSS`` or ``VmHWM`` (peak RSS) in kB, from /proc/self/status (a
    forked task's ``VmHWM`` starts at its own RSS, not its parent's peak); elsewhere
    ``ru_maxrss``."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _task_env(*names):
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


def _first_line(fs, path, chunk=1 << 16):
    """The bytes of ``path`` up to its first line end (or all of a shorter file).

    An uncompressed HDFS file is read with :func:`hdfs_utils.hdfs.open_stream`, which stops
    its ``hadoop fs -cat`` when closed; mrjob's ``fs.cat`` (compressed files, s3://) leaves
    its ``-cat`` JVM blocked on a full pipe once the reader stops early (seen: one such JVM
    per HDFS fit, alive until the process exits).
    """
    from mrjob.cat import is_compressed
    data = b''
    if path.startswith('hdfs://') and not is_compressed(path):
        from hdfs_utils import hdfs
        with hdfs.open_stream(path) as stream:
            while b'\n' not in data:
                piece = stream.read(chunk)
                if not piece:
                    break
                data += piece
        return data
    pieces = fs.cat(path)
    try:
        for piece in pieces:
            data += piece
            if b'\n' in data:
                break
    finally:
        pieces.close()
    return data
