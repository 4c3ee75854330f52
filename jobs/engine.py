"""The mrjob engines of ``distreg fit``: each aggregate is one mrjob job on the chosen runner.

``mrjob-inline``, ``mrjob-local``, ``mrjob-hadoop`` and ``mrjob-emr`` differ only
in mrjob's ``-r`` runner and its section of ``configs/mrjob.conf``. Every pass
over the data is a job of its own that reads the input again: that is what an
iterative method costs on MapReduce.
"""

import json
import os
import tempfile
import time

from mrjob.step import StepFailedException

from distreg import blocks
from distreg.errors import DistregError
from distreg.fit import check_rows
from distreg.loader import fill_line_numbers
from jobs.block_job import raise_error
from jobs.gradient import MRLossGradient
from jobs.hessian import MRHessian
from jobs.normal import MRNormalEquations
from jobs.refine import MRRefinePass
from jobs.tsqr import MRTSQR

RUNNERS = {'mrjob-inline': 'inline', 'mrjob-local': 'local', 'mrjob-hadoop': 'hadoop',
           'mrjob-emr': 'emr'}
JOBS = {'gram': MRNormalEquations, 'tsqr': MRTSQR, 'refine': MRRefinePass,
        'gradient': MRLossGradient, 'hessian': MRHessian}

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CONF = os.path.join(PROJECT, 'configs', 'mrjob.conf')


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


class MRJobEngine:
    """Runs distreg's aggregates as mrjob jobs (one job per pass)."""

    def __init__(self, path, name='mrjob-local', conf_path=None, extra_args=()):
        if name not in RUNNERS:
            raise DistregError('unknown mrjob engine %r; supported: %s'
                               % (name, ', '.join(RUNNERS)))
        self.path = path
        self.name = name
        self.conf_path = conf_path or os.environ.get('DISTREG_MRJOB_CONF', DEFAULT_CONF)
        self.extra_args = list(extra_args)
        self.rejects = []
        self.load_seconds = 0.0
        self._passes = 0

    def prepare(self, options):
        t0 = time.perf_counter()
        o = options
        args = ['-r', RUNNERS[self.name], '--conf-path', self.conf_path, '--emit', 'partial',
                '--engine-label', self.name, '--format', o.format, '--bad-rows', o.bad_rows,
                '--model', o.model, '--poly-degree', str(o.poly_degree),
                '--ridge', repr(float(o.ridge))] + runner_args(self.name) + self.extra_args
        if o.label_col is not None:
            args += ['--label-col', str(o.label_col)]
        if not o.intercept:
            args.append('--no-intercept')
        args.append(self.path)
        self.schema = MRNormalEquations(args)._sniff_schema()
        self.args = args + ['--schema', self.schema.to_json()]
        self.load_seconds = time.perf_counter() - t0
        return self.schema

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
            except StepFailedException as e:
                raise DistregError('the %s job failed on %s: %s (see the log above)'
                                   % (name, self.name, e))
        first_pass = self._passes == 0
        self._passes += 1
        part, rejects = None, []
        for value in values:
            if 'error' in value:
                fill_line_numbers([value['error']])
                raise_error(value['error'])
            elif 'reject' in value:
                rejects.append(value['reject'])
            elif 'partial' in value:
                part = blocks.decode(value['partial'])
        if first_pass:
            self.rejects = fill_line_numbers(rejects)
        if part is None or part['n'] == 0:
            check_rows(part if part is not None else {'n': 0, 'n_bad': len(rejects)})
        return part
