"""The mrjob engines of ``distreg fit``: each aggregate is one mrjob job on the chosen runner.

``mrjob-inline``, ``mrjob-local``, ``mrjob-hadoop`` and ``mrjob-emr`` differ only
in mrjob's ``-r`` runner and its section of ``configs/mrjob.conf``. Every pass
over the data is a job of its own that reads the input again: that is what an
iterative method costs on MapReduce.
"""

import getpass
import glob
import json
import os
import sys
import tempfile
import time
import uuid

import jobs.mrjob_compat  # noqa: F401  first: it imports mrjob the quick way
from mrjob.step import StepFailedException  # noqa: E402

from distreg import PROJECT_ROOT, blocks
from distreg import options as options_mod
from distreg.engine import Engine
from distreg.errors import DistregError, raise_from_json_dict
from distreg.loader import fill_line_numbers, local_path
from jobs.block_job import use_hadoop
from jobs.gradient import MRLossGradient
from jobs.hessian import MRHessian
from jobs.normal import MRNormalEquations
from jobs.refine import MRRefinePass
from jobs.tsqr import MRTSQR

RUNNERS = {'mrjob-inline': 'inline', 'mrjob-local': 'local', 'mrjob-hadoop': 'hadoop',
           'mrjob-emr': 'emr'}
JOBS = {'gram': MRNormalEquations, 'tsqr': MRTSQR, 'refine': MRRefinePass,
        'gradient': MRLossGradient, 'hessian': MRHessian}

DEFAULT_CONF = os.path.join(PROJECT_ROOT, 'configs', 'mrjob.conf')


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

    def prepare(self, options):
        t0 = time.perf_counter()
        o = options
        if self.name == 'mrjob-hadoop' and self.job_input is None:
            self.job_input = self._hadoop_input()
        # the options travel as one JSON argument (distreg/options.py), as the schema does
        args = ['-r', RUNNERS[self.name], '--conf-path', self.conf_path, '--emit', 'partial',
                '--engine-label', self.name, '--fit-options', options_mod.to_json(o)]
        args += runner_args(self.name) + self.extra_args + [self.job_input or self.path]
        self.schema = MRNormalEquations(args)._sniff_schema()
        self.args = args + ['--schema', self.schema.to_json()]
        self.load_seconds = time.perf_counter() - t0
        return self.schema

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
                hdfs.put(local, remote)
        except hdfs.HdfsError as e:
            raise DistregError('uploading %s to HDFS failed: %s' % (path, e))
        if len(matches) == 1 and matches[0] == path:
            return 'hdfs://' + next(iter(self._local_of))
        return 'hdfs://' + base

    def close(self):
        """Remove the HDFS copy of a local input (mrjob-hadoop)."""
        if self._uploaded:
            from hdfs_utils import hdfs
            try:
                hdfs.rm(self._uploaded, recursive=True, missing_ok=True)
            except hdfs.HdfsError as e:
                print('distreg: warning: could not remove %s from HDFS: %s'
                      % (self._uploaded, e), file=sys.stderr)
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

    def aggregate(self, name, params):
        with tempfile.TemporaryDirectory(prefix='distreg-') as tmp:
            args = list(self.args)
            if params:
                path = os.path.join(tmp, 'params.json')
                with open(path, 'w') as f:
                    json.dump(params, f)
                args += ['--params', path]
            job = JOBS[name](args)
            try:
                with job.make_runner() as runner:
                    runner.run()
                    values = [v for _, v in job.parse_output(runner.cat_output())]
                    self.counters = runner.counters()
            except StepFailedException as e:
                raise DistregError('the %s job failed on %s: %s (see the log above)'
                                   % (name, self.name, e))
        first_pass = self._passes == 0
        self._passes += 1
        part, rejects = None, []
        for value in values:
            if 'error' in value:
                fill_line_numbers(self._local_names([value['error']]), self._opener())
                raise_from_json_dict(value['error'])
            elif 'reject' in value:
                rejects.append(value['reject'])
            elif 'partial' in value:
                part = blocks.decode(value['partial'])
        if first_pass:
            self.rejects = fill_line_numbers(self._local_names(rejects), self._opener())
        return part


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
