"""Correct digits on NIST's StRD linear least-squares datasets: min LRE per dataset and engine.

    python benchmarks/nist_lre.py [--nist DIR] [--engines numpy,mrjob-local,spark-rdd]
                                  [--methods qr,normal] [--stats]

LRE = -log10(|estimate - certified| / |certified|) per coefficient (capped at 15); the table
shows the minimum over the coefficients. With --stats a cell is four numbers: the coefficients',
the standard errors', the residual SD's and R²'s LRE ("-" where NIST certifies 0: an exact fit). NIST data: --nist, else DISTREG_NIST_DIR, else
../shared/nist beside the repository, else tests/nist. A dataset that --method normal refuses
(singular or near-singular Gram) shows "refused".
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from distreg.cli import make_engine  # noqa: E402
from distreg.errors import DistregError  # noqa: E402
from distreg.fit import FitOptions, fit  # noqa: E402
from distreg.result import theta_of  # noqa: E402


def nist_dir(given=None):
    for d in (given, os.environ.get('DISTREG_NIST_DIR'),
              os.path.join(os.path.dirname(ROOT), 'shared', 'nist'),
              os.path.join(ROOT, 'tests', 'nist')):
        if d and os.path.exists(os.path.join(d, 'certified.json')):
            return d
    raise SystemExit('no NIST data (certified.json) found')


def min_lre(estimate, certified):
    estimate, certified = np.asarray(estimate, float), np.asarray(certified, float)
    with np.errstate(divide='ignore'):
        err = np.abs(estimate - certified) / np.abs(certified)
    return float(np.min(-np.log10(np.maximum(err, 1e-15))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--nist', default=None)
    p.add_argument('--engines', default='numpy,mrjob-local,spark-rdd')
    p.add_argument('--methods', default='qr,normal')
    p.add_argument('--stats', action='store_true',
                   help="also the LRE of the standard errors, residual SD and R-squared")
    a = p.parse_args(argv)
    d = nist_dir(a.nist)
    with open(os.path.join(d, 'certified.json')) as f:
        certified = json.load(f)
    columns = [(e, m) for m in a.methods.split(',') for e in a.engines.split(',')]
    print('NIST data: %s' % d)
    width = 26 if a.stats else 20
    print('%-10s' % 'dataset' + ''.join('%*s' % (width, '%s %s' % (e, m)) for e, m in columns))
    for name in sorted(certified):
        c = certified[name]
        cells = []
        for engine, method in columns:
            options = FitOptions(method=method, intercept=c['intercept'],
                                 poly_degree=c.get('degree', 1))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter('ignore')
                    e = make_engine(engine, os.path.join(d, name + '.csv'))
                    try:
                        record = fit(e, options)
                    finally:
                        if hasattr(e, 'close'):
                            e.close()
                cells.append(_cell(record, c, a.stats))
            except DistregError:
                cells.append('refused')
        print('%-10s' % name + ''.join('%*s' % (width, x) for x in cells), flush=True)


def _cell(record, c, stats):
    coef = '%.2f' % min_lre(theta_of(record), c['beta'])
    if not stats:
        return coef
    s = record['stats']
    if c['residual_sd'] == 0:
        se = rsd = '-'
    else:
        se = '%.2f' % min_lre(s['std_errors'], c['beta_sd'])
        rsd = '%.2f' % min_lre([s['residual_sd']], [c['residual_sd']])
    return '%s %s %s %.2f' % (coef, se, rsd, min_lre([s['r2']], [c['r_squared']]))


if __name__ == '__main__':
    main()
