"""mrjob-local summation form vs the single-process pandas baseline, on a 1M x 20 CSV.

    python benchmarks/bench_mrjob.py [--rows 1000000] [--features 20] [--repeats 3]

Target (issue 2): `distreg fit --engine mrjob-local --method normal` takes at most
1.0x the wall time of benchmarks/baseline_pandas.py on the same file. Also printed: the
same fit with every task a fresh interpreter (``DISTREG_TASK_SERVER=0``, mrjob's own
way) against the local runner's task server (jobs/task_server.py). Writes its part of
OUT_DIR/bench.json (``make docs`` turns it into docs/bench.md).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.common import (DATA_DIR, DISTREG, PYTHON, ROOT, alternate,  # noqa: E402
                               ensure_data, record, report)

TARGET = 1.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', type=int, default=1_000_000)
    p.add_argument('--features', type=int, default=20)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--out-dir', default=os.path.join(ROOT, 'results'))
    a = p.parse_args(argv)
    load_at_start = os.getloadavg()
    path = ensure_data(os.path.join(DATA_DIR, 'bench_%dx%d.csv' % (a.rows, a.features)),
                       a.rows, a.features)
    print('input: %s (%.0f MB)' % (path, os.path.getsize(path) / 1e6))
    medians, times = alternate({
        'pandas-chunked + numpy Gram': [PYTHON, os.path.join(ROOT, 'benchmarks',
                                                             'baseline_pandas.py'), path],
        'distreg mrjob-local normal': DISTREG + ['fit', path, '--engine', 'mrjob-local',
                                                '--method', 'normal', '--quiet'],
        'distreg numpy normal': DISTREG + ['fit', path, '--engine', 'numpy', '--method',
                                           'normal', '--quiet'],
        # the local runner as mrjob has it: every task a fresh interpreter (jobs/task_server.py)
        'mrjob-local, fresh python per task': ['env', 'DISTREG_TASK_SERVER=0'] + DISTREG + [
            'fit', path, '--engine', 'mrjob-local', '--method', 'normal', '--quiet'],
    }, repeats=a.repeats)
    out = {'mrjob-local / pandas': report(
        'summation form on MapReduce (mrjob local runner, all cores)', medians, times,
        'distreg mrjob-local normal', 'pandas-chunked + numpy Gram', TARGET)}
    out['task server / fresh python per task'] = ratio = (
        medians['distreg mrjob-local normal'] / medians['mrjob-local, fresh python per task'])
    print('  ratio mrjob-local with its task server / with a fresh python per task = %.2f '
          '(%.2f s less per job)' % (ratio, medians['mrjob-local, fresh python per task']
                                     - medians['distreg mrjob-local normal']))
    print('wrote %s' % record(a.out_dir, 'mrjob', dict(
        rows=a.rows, features=a.features, repeats=a.repeats, seconds=medians, runs=times,
        ratios=out, targets={'mrjob-local / pandas': TARGET}), load_at_start))
    return out


if __name__ == '__main__':
    main()
