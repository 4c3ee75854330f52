"""The mrjob engines of ``distreg fit``: each aggregate is one mrjob job on the chosen runner.

``mrjob-inline``, ``mrjob-local``, ``mrjob-hadoop`` and ``mrjob-emr`` differ only
in mrjob's ``-r`` runner and its section of ``configs/mrjob.conf``. Every pass
over the data is a job of its own that reads the input again: that is what an
iterative method costs on MapReduce.
"""

import contextlib
import getpass
import glob
import json
import os
import shutil
import sys
import tempfile
import time
import uuid

import jobs.mrjob_compat  # noqa: F401  first: it imports mrjob the quick way
from jobs.mrjob_hadoop import yarn_application_ids  # noqa: E402
from mrjob.step import StepFailedException  # noqa: E402

from distreg import PROJECT_ROOT, blocks, parquet, scoring
from distreg import options as options_mod
from distreg.engine import Engine
from distreg.errors import DistregError, raise_from_json_dict
from distreg.interrupt import check as check_interrupt, deferred, done as cleanup_done
from distreg.interrupt import register as register_cleanup
from distreg.loader import (check_no_features, fill_line_numbers, keyed, local_path,
                            read_headers, with_label_rule)
from jobs.block_job import use_hadoop
from jobs.gradient import MRLossGradient
from jobs.hessian import MRHessian
from jobs.levels import MRLevels
from jobs.normal import MRNormalEquations
from jobs.predict import MRPredict
from jobs.evaluate import MREvaluate
from jobs.foldgram import MRFoldGram
from jobs.refine import MRRefinePass
from jobs.sandwich import MRSandwich
from jobs.tsqr import MRTSQR

RUNNERS = {'mrjob-inline': 'inline', 'mrjob-local': 'local', 'mrjob-hadoop': 'hadoop',
           'mrjob-emr': 'emr'}
JOBS = {'gram': MRNormalEquations, 'foldgram': MRFoldGram, 'tsqr': MRTSQR,
        'refine': MRRefinePass, 'sandwich': MRSandwich,
        'gradient': MRLossGradient, 'hessian': MRHessian, 'evaluate': MREvaluate,
        'levels': MRLevels}

#: a split size no file reaches: each file is one split
SPLIT_WHOLE = 2 ** 62

DEFAULT_CONF = os.path.join(PROJECT_ROOT, 'configs', 'mrjob.conf')


def _remove_from_hdfs(path):
    """``hdfs dfs -rm -r`` of what a fit put on HDFS; a failure is a warning, not an error."""
    from hdfs_utils import hdfs
    try:
        hdfs.rm(path, recursive=True, missing_ok=True)
    except hdfs.HdfsError as e:
        print('distreg: warning: could not remove %s from HDFS: %s' % (path, e),
              file=sys.stderr)


def runner_args(name, environ=os.environ):
    """Switches a runner takes from the environment (EMR: region and S3 temp dir)."""
    args = []
    if name == 'mrjob-emr':
        region = environ.get('AWS_DEFAULT_REGION') or environ.get('AWS_REGION')
        if region:
            args += ['--region', region]
        if environ.get('DISTREG_S3_TMP'):
            args += ['--cloud-tmp-dir', environ['DISTREG_S3_TMP']]
    return args


class MRJobEngine(Engine):
    """Runs distreg's aggregates as mrjob jobs (one job per pass)."""

    def __init__(self, path, name='mrjob-local', master=None, *, conf_path=None, extra_args=()):
        if name not in RUNNERS:
            raise DistregError('unknown mrjob engine %r; supported: %s'
                               % (name, ', '.join(RUNNERS)))
        super().__init__(path, name)
        self.conf_path = conf_path or os.environ.get('DISTREG_MRJOB_CONF', DEFAULT_CONF)
        self.extra_args = list(extra_args)
        self.rejects = []
        self.load_seconds = 0.0
        self._passes = 0
        #: what the jobs read: the input itself, or (mrjob-hadoop) its upload to HDFS
        self.job_input = None
        self._uploaded = None
        #: Hadoop's counters of the last job (mrjob's ``runner.counters()``)
        self.counters = []
        #: YARN application ids of the jobs run so far, one per pass (mrjob-hadoop)
        self.app_ids = []
        #: Parquet: the directory of the manifest the jobs read instead of the input
        self._manifest_dir = None
        #: Parquet on HDFS: the HDFS directory of that manifest
        self._remote_manifest = None

    def prepare(self, options):
        t0 = time.perf_counter()
        o = options
        parquet_schema = self._parquet_input(o)
        if self.name == 'mrjob-hadoop' and self.job_input is None:
            self.job_input = self._hadoop_input()
        # the options travel as one JSON argument (distreg/options.py), as the schema does
        args = ['-r', RUNNERS[self.name], '--conf-path', self.conf_path, '--emit', 'partial',
                '--engine-label', self.name, '--fit-options', options_mod.to_json(o)]
        args += runner_args(self.name) + self.extra_args
        if self._uploaded:
            # distreg's own upload, just verified: mrjob's `fs -ls` of it would be one more
            # client JVM per job
            args.append('--no-check-input-paths')
        args.append(self.job_input or self.path)
        # an uploaded input's headers are read from the local files (a `hadoop fs -cat`
        # per part file would start a JVM each); tasks know the files by their HDFS paths
        self.schema = with_label_rule(keyed(
            parquet_schema or MRNormalEquations(args)._sniff_schema(
                self._uploaded_headers() if self._uploaded else None), o), o)
        self.args = args + ['--schema', self.schema.to_json()]
        self.load_seconds = time.perf_counter() - t0
        return self.schema

    def _parquet_input(self, options):
        """A Parquet input's schema; the jobs then read its manifest of row groups.

        Hadoop streaming hands a map task lines of text: the job's input is a text file
        with one line per row group (:func:`distreg.parquet.manifest_lines`), which mrjob
        splits among the map tasks like any text input; each task reads the row groups
        of its lines, by path, and only the selected columns. Not Parquet: None.
        """
        path = local_path(self.path)
        if path is None and self.name == 'mrjob-hadoop':
            return self._hdfs_parquet_input(options)
        if self.name == 'mrjob-emr' and '://' in self.path:
            return self._cloud_parquet_input(options)
        if path is None or not parquet.is_parquet_input(path, options.format):
            if options.format == 'parquet':
                raise DistregError('%s reads Parquet from local files only, not %s'
                                   % (self.name, self.path))
            check_no_features(options.features, options.n_features)
            return None
        if self.name == 'mrjob-emr':
            raise DistregError('%s reads Parquet from s3:// (its tasks run on EMR, not here): '
                               'copy %s to S3 and give its s3:// URI' % (self.name, self.path))
        files = parquet.data_files(path)
        schema = parquet.local_schema(path, source=self.path, files=files,
                                      **parquet.schema_options(options))
        entries = parquet.manifest(path, files)
        if self._manifest_dir is None:
            self._manifest_dir = tempfile.mkdtemp(prefix='distreg-manifest-')
        manifest = os.path.join(self._manifest_dir, 'row-groups.jsonl')
        if self.name == 'mrjob-hadoop':
            entries = self._on_hdfs(entries)
        with open(manifest, 'w') as f:
            f.write(parquet.manifest_lines(entries))
        if self.name == 'mrjob-hadoop':
            from hdfs_utils import hdfs
            remote = self._uploaded + '/_manifest/row-groups.jsonl'
            hdfs.put(manifest, remote, new_parent=True)
            manifest = 'hdfs://' + remote
        self.job_input = manifest
        return schema

    def _cloud_parquet_input(self, options):
        """An ``s3://`` Parquet input of mrjob-emr (``--format parquet``, or auto and the first
        file's magic bytes): listed and its footers read here through ``pyarrow.fs`` (the
        region from AWS_DEFAULT_REGION / AWS_REGION); the manifest is a local file that
        mrjob's EMR runner uploads as the job's input, and each task reads its row groups
        from S3 by byte ranges. Not Parquet: None (read as text, as before)."""
        if options.format not in ('auto', 'parquet'):
            check_no_features(options.features, options.n_features)
            return None
        region = os.environ.get('AWS_DEFAULT_REGION') or os.environ.get('AWS_REGION')
        found = parquet.FsInput(self.path, region)
        if options.format == 'auto':
            try:
                is_parquet = found.is_parquet()
            except (DistregError, OSError):
                is_parquet = False   # not listable as files (a glob): read as text
            if not is_parquet:
                check_no_features(options.features, options.n_features)
                return None
        schema = found.schema(**parquet.schema_options(options))
        if self._manifest_dir is None:
            self._manifest_dir = tempfile.mkdtemp(prefix='distreg-manifest-')
        manifest = os.path.join(self._manifest_dir, 'row-groups.jsonl')
        with open(manifest, 'w') as f:
            f.write(parquet.manifest_lines(found.manifest()))
        self.job_input = manifest
        return schema

    def _hdfs_parquet_input(self, options):
        """An ``hdfs://`` Parquet input: footers and the manifest read through WebHDFS, the
        manifest put on HDFS beside the job's scratch; None for other input."""
        from hdfs_utils import hdfs
        from hdfs_utils.env import conf_value
        use_hadoop()
        user = os.environ.get('HADOOP_USER_NAME') or getpass.getuser()
        found = parquet.hdfs_parquet(self.path, options.format,
                                     conf_value('dfs.namenode.http-address'), user)
        if found is None:
            check_no_features(options.features, options.n_features)
            return None
        schema = found.schema(**parquet.schema_options(options))
        if self._manifest_dir is None:
            self._manifest_dir = tempfile.mkdtemp(prefix='distreg-manifest-')
        manifest = os.path.join(self._manifest_dir, 'row-groups.jsonl')
        with open(manifest, 'w') as f:
            f.write(parquet.manifest_lines(found.manifest()))
        if self._remote_manifest is None:
            self._remote_manifest = '/user/%s/tmp/distreg/manifest-%s' % (
                user, uuid.uuid4().hex[:12])
            hdfs.put(manifest, self._remote_manifest + '/row-groups.jsonl', new_parent=True)
        self.job_input = 'hdfs://' + self._remote_manifest + '/row-groups.jsonl'
        return schema

    def _on_hdfs(self, entries):
        """The manifest's entries naming the HDFS copies of the files (uploaded here), read
        by the tasks through WebHDFS (the NameNode's HTTP address from the Hadoop conf)."""
        from hdfs_utils.env import conf_value
        self.job_input = self._hadoop_input()
        web = conf_value('dfs.namenode.http-address')
        if not web:
            raise DistregError('mrjob-hadoop reads Parquet through WebHDFS: the Hadoop conf '
                               '(%s) names no dfs.namenode.http-address'
                               % os.environ.get('HADOOP_CONF_DIR'))
        user = os.environ.get('HADOOP_USER_NAME') or getpass.getuser()
        out = []
        for e in entries:
            local = os.path.abspath(e['name'])
            for remote, top in self._local_of.items():
                rel = os.path.relpath(local, os.path.abspath(top))
                if not rel.startswith('..'):
                    e = dict(e, file=remote if rel == '.' else remote + '/' + rel,
                             webhdfs='http://' + web, user=user)
                    break
            out.append(e)
        return out

    def _hadoop_input(self):
        """The HDFS path the Hadoop jobs read; a local input is uploaded (and verified) once.

        Every pass of an iterative method is a job of its own: uploading here, not in each
        job (as mrjob's runner would), keeps the input on HDFS for all of them. The upload is
        removed by :meth:`close`.
        """
        from hdfs_utils import hdfs
        use_hadoop()
        path = local_path(self.path)
        if path is None:
            return None
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
        if not matches or not all(os.path.exists(m) for m in matches):
            raise DistregError('no such input: %s' % self.path)
        user = os.environ.get('HADOOP_USER_NAME') or getpass.getuser()
        base = '/user/%s/tmp/distreg/input-%s' % (user, uuid.uuid4().hex[:12])
        # each uploaded file or directory: its HDFS path -> its local path
        self._local_of = {}
        for m in matches:
            self._local_of['%s/%s' % (base, os.path.basename(os.path.normpath(m)))] = m
        size = sum(_size(m) for m in matches)
        print('distreg: uploading %s (%s) to HDFS %s: the Hadoop tasks read HDFS'
              % (path, _human(size), base), file=sys.stderr)
        self._uploaded = base
        try:
            for remote, local in self._local_of.items():
                hdfs.put(local, remote, new_parent=True)
        except hdfs.HdfsError as e:
            raise DistregError('uploading %s to HDFS failed: %s' % (path, e))
        if len(matches) == 1 and matches[0] == path:
            return 'hdfs://' + next(iter(self._local_of))
        return 'hdfs://' + base

    def _uploaded_headers(self):
        """``(local file, first line, (its HDFS path,))`` of every uploaded file."""
        out = []
        for remote, local in self._local_of.items():
            for f, line, _ in read_headers(local):
                rel = os.path.relpath(f, local)
                out.append((f, line, (remote if rel == '.' else remote + '/' + rel,)))
        return out

    def close(self):
        """Remove the HDFS copy of a local input (mrjob-hadoop), and a Parquet manifest."""
        if self._manifest_dir is not None:
            shutil.rmtree(self._manifest_dir, ignore_errors=True)
            self._manifest_dir = None
        if self._remote_manifest is not None:
            _remove_from_hdfs(self._remote_manifest)
            self._remote_manifest = None
        if self._uploaded:
            _remove_from_hdfs(self._uploaded)
            self._uploaded = None

    def _local_names(self, bad_rows):
        """Bad rows name files as the user did (as every engine does), not as mrjob does.

        mrjob's local runners name a task's file ``file://data/x.csv`` for ``data/x.csv``;
        an uploaded input's rows name the user's local file, not its HDFS copy.
        """
        if not self.path.startswith('file://'):
            for d in bad_rows:
                if (d.get('file') or '').startswith('file://'):
                    d['file'] = d['file'][len('file://'):]
        if not self._uploaded:
            return bad_rows
        for d in bad_rows:
            f = d.get('file') or ''
            for remote, local in self._local_of.items():
                i = f.find(remote)
                if i >= 0 and f[i + len(remote):i + len(remote) + 1] in ('', '/'):
                    rest = f[i + len(remote):].lstrip('/')
                    d['file'] = os.path.join(local, rest) if rest else local
                    break
        return bad_rows

    def _opener(self):
        """How bad rows in HDFS files get their line numbers (a read of the file up to them)."""
        if self.name != 'mrjob-hadoop':
            return None
        from hdfs_utils import hdfs
        return hdfs.open_stream

    def _run(self, name, job_class, params, use_output, extra=()):
        """Run one job with ``params``; return ``use_output(job, runner)``."""
        scratch_key = runner_key = None
        try:
            # made with its removal registered, or not made; removed whole (a SIGTERM waits,
            # and one that skips the finally's clean-up leaves it to the command line's end:
            # distreg/interrupt.py)
            with deferred():
                tmp = tempfile.mkdtemp(prefix='distreg-')
                scratch_key = register_cleanup(shutil.rmtree, tmp, True)
            args = list(self.args) + list(extra)
            if params:
                path = os.path.join(tmp, 'params.json')
                with open(path, 'w') as f:
                    json.dump(params, f)
                args += ['--params', path]
            job = job_class(args)
            check_interrupt()  # a SIGTERM swallowed before: distreg/interrupt.py
            with deferred():
                # a short step with no process started, and bare `except:` clauses that
                # would swallow a SIGTERM raised inside it: it waits; the runner's clean-up
                # (its scratch) is registered before the SIGTERM is raised
                runner = job.make_runner()
                runner_key = register_cleanup(runner.cleanup)
            runner.run()
            check_interrupt()
            self.counters = runner.counters()
            self.app_ids += yarn_application_ids(runner)
            return use_output(job, runner)
        except StepFailedException as e:
            raise DistregError('the %s job failed on %s: %s (see the log above)'
                               % (name, self.name, e))
        finally:
            cleanup_done(runner_key)
            cleanup_done(scratch_key)

    def aggregate(self, name, params):
        extra = ()
        if name == 'foldgram' and self.name in ('mrjob-hadoop', 'mrjob-emr') \
                and self.schema.format != 'parquet':
            # a row's fold comes from its byte offset, which a Hadoop streaming task that
            # starts mid-file does not know (its first line is the first that starts after the
            # split's start): one split per text file
            extra = ('--jobconf', 'mapreduce.input.fileinputformat.split.minsize=%d' % SPLIT_WHOLE)
        values = self._run(name, JOBS[name], params, _values, extra)
        part, _ = self._collect(values)
        return part

    def _collect(self, values):
        """The partial (and AUC ranges) of a job's output; rejects kept, an error raised."""
        first_pass = self._passes == 0
        self._passes += 1
        part, rejects, ranges = None, [], []
        for value in values:
            if 'error' in value:
                fill_line_numbers(self._local_names([value['error']]), self._opener())
                raise_from_json_dict(value['error'])
            elif 'reject' in value:
                rejects.append(value['reject'])
            elif 'partial' in value:
                part = blocks.decode(value['partial'])
            elif 'auc' in value:
                ranges.append(blocks.AucRange.from_json(value['auc']))
        if first_pass:
            self.rejects = fill_line_numbers(self._local_names(rejects), self._opener())
        return part, ranges

    # ------------------------------------------------------------------ predict, evaluate

    def evaluate(self, params):
        """One job: the ``evaluate`` partial and (logistic) the reducers' AUC ranges merged."""
        part, ranges = self._collect(self._run('evaluate', JOBS['evaluate'], params, _values))
        auc = None
        if params['model'] == 'logistic':
            auc = blocks.AucRange()
            # each reducer had a contiguous range of the sorted scores: merge them in order
            for r in sorted(ranges, key=lambda r: r.lo[0]):
                auc = auc.merge(r)
        return part, auc

    def predict(self, params, out):
        """A map-only job; a local ``out`` gets the part files' lines in split order."""
        remote = '://' in out and local_path(out) is None
        extra = ['--output-dir', out] if remote else []
        return self._run('predict', MRPredict, params,
                         lambda job, runner: self._predict_output(runner, out, remote), extra)

    def _predict_output(self, runner, out, remote):
        errors = _counter(self.counters, 'tasks failed on a bad row')
        n_rejected = _counter(self.counters, 'rows rejected')
        parts = _part_files(runner)
        if remote and not (errors or n_rejected):
            return sum(_count_lines(runner, p) for p in parts)
        n, rejects, error = 0, [], None
        # a local output is complete or absent: an error raised in here discards it
        with (contextlib.nullcontext() if remote else scoring.local_output(out)) as f:
            for path in parts:
                for line in _lines(runner, path):
                    text, bad = line, None
                    if line.startswith(scoring.REJECT_MARK):
                        bad = json.loads(line[len(scoring.REJECT_MARK):])
                        text = ''
                    if bad is not None and 'error' in bad:
                        error = bad['error'] if error is None else error
                        continue
                    if bad is not None:
                        rejects.append(bad['reject'])
                    n += 1
                    if f is not None:
                        f.write(text + '\n')
            if error is not None:
                if remote:
                    runner.fs.rm(out)
                fill_line_numbers(self._local_names([error]), self._opener())
                raise_from_json_dict(error)
        self.rejects = fill_line_numbers(self._local_names(rejects), self._opener())
        return n


def _values(job, runner):
    return [v for _, v in job.parse_output(runner.cat_output())]


def _counter(counters, name):
    return sum(step.get('distreg', {}).get(name, 0) for step in counters or [])


def _part_files(runner):
    """The output's part files in task order (Hadoop skips names starting with _ or .)."""
    out = runner.get_output_dir()
    paths = [p for p in runner.fs.ls(out)
             if not os.path.basename(p.rstrip('/')).startswith(('_', '.'))]
    return sorted(paths, key=lambda p: os.path.basename(p.rstrip('/')))


def _lines(runner, path):
    rest = b''
    for data in runner.fs.cat(path):
        data = rest + data
        lines = data.split(b'\n')
        rest = lines.pop()
        for line in lines:
            yield line.decode('utf-8')
    if rest:
        yield rest.decode('utf-8')


def _count_lines(runner, path):
    return sum(data.count(b'\n') for data in runner.fs.cat(path))


def _size(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f))
                   for d, _, files in os.walk(path) for f in files)
    return os.path.getsize(path)


def _human(n):
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if n < 1024 or unit == 'GB':
            return ('%d %s' % (n, unit)) if unit == 'bytes' else ('%.1f %s' % (n, unit))
        n /= 1024.0
