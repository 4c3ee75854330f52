"""How the summation form's cost grows: rows, features, workers (``make scaling``).

    python benchmarks/scaling.py [--rows 100000,300000,1000000,3000000,10000000]
                                 [--features 10,50,100,200,400] [--fixed-rows 100000]
                                 [--engines numpy,mrjob-local,spark-rdd] [--out-dir results]

``--method normal`` (one pass: the Gram matrix of [1, x, y], then a Cholesky solve) on
numpy (one process, streaming the file), mrjob-local (one job, 2 map tasks) and spark-rdd
(local[2]; read, parse, cache, one pass; the session's start not included), for:

1. rows (20 features): the straight line ``seconds = a + b * rows`` per engine (see
   :func:`linear_summary`): ``a`` is what a fit costs whatever its size (a job's start-up),
   ``b`` the cost of one more row. Checked: linearity (the largest relative residual of
   the line over the sweep, target <= 10 %) and a per-row cost that does not grow (``b``
   over the last step of the sweep, 3e6 -> 1e7 by default, within 15 % of ``b`` over the
   step before, 1e6 -> 3e6). A log-log slope is not used: a fixed start-up makes it < 1
   by design. Also the bytes the map side hands to the reduce side (mrjob: the JSON the
   map tasks emit, a counter of jobs/block_job.py; Spark: the tasks' result bytes from
   Spark's status store): independent of rows;
2. features at ``--fixed-rows``: seconds vs features and its slope (the Gram costs
   n p^2: the slope approaches 2 once the p^2 arithmetic outweighs the parse, which is
   linear in p);
3. 1 vs 2 workers at the largest row count <= 1e6: mrjob-local with
   ``--num-cores 1`` vs 2 (mrjob's own switch: tasks and concurrency), spark-rdd on
   local[1] vs local[2]; the speedup.

Every point is the median of ``--repeats`` runs (default 3), the engines taking turns in
each round. The data are generated once under data/ (the 1e7-row file is about 4 GB; ``make clean``
removes it). Writes OUT_DIR/scaling.json and scaling.png (``make docs`` turns them into
docs/scaling.md). The machine is shared: noisy.
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import DATA_DIR, ROOT, ensure_data, stamp  # noqa: E402
from benchmarks.probes import Probe  # noqa: E402
from distreg.fit import FitOptions, fit  # noqa: E402
from distreg.numpy_engine import NumpyEngine  # noqa: E402

ENGINES = ('numpy', 'mrjob-local', 'spark-rdd')
FEATURES_FOR_ROWS = 20
#: targets of the rows sweep: the largest relative residual of seconds = a + b * rows, and
#: how far b over the sweep's last step may be from b over the step before
LINEARITY_TARGET = 0.10
PER_ROW_DRIFT_TARGET = 0.15


def int_list(text):
    return [int(float(v)) for v in text.split(',') if v.strip()]


def data_path(rows, features):
    return ensure_data(os.path.join(DATA_DIR, 'scaling-%dx%d.csv' % (rows, features)),
                       rows, features)


class Runner:
    """Runs one normal fit per call on an engine; keeps the Spark sessions it starts."""

    def __init__(self):
        self.sessions = {}

    def spark(self, master):
        from spark_jobs.session import get_session
        if master not in self.sessions:
            for other in list(self.sessions):
                self.sessions.pop(other).stop()  # one SparkContext per process
            spark = self.sessions[master] = get_session('distreg-scaling', master,
                                                                         python_only=True)
            # a first fit starts the Python workers and imports the core in them: not
            # what the first measured size should pay
            from distreg.engine import make_engine
            engine = make_engine('spark-rdd', data_path(1000, FEATURES_FOR_ROWS), spark=spark)
            try:
                fit(engine, FitOptions(method='normal'))
            finally:
                engine.close()
        return self.sessions[master]

    def close(self):
        for s in self.sessions.values():
            s.stop()
        self.sessions = {}

    def run(self, engine_name, path, maps=2):
        """(seconds, bytes map->reduce or None, record) of one ``--method normal`` fit."""
        options = FitOptions(method='normal')
        if engine_name == 'numpy':
            rec = fit(NumpyEngine(path), options)
            return rec['seconds'], None, rec
        if engine_name == 'mrjob-local':
            from jobs.engine import MRJobEngine
            probe = Probe(MRJobEngine(path, 'mrjob-local', extra_args=[
                '--num-cores', str(maps)]))
        else:
            from distreg.engine import make_engine
            spark = self.spark('local[%d]' % maps)
            probe = Probe(make_engine('spark-rdd', path, spark=spark), spark=spark)
        try:
            rec = fit(probe, options)
        finally:
            probe.close()
        p = probe.passes[-1]
        rec['tasks'] = p.get('map_tasks', p.get('tasks'))
        return rec['seconds'], p.get('map_output_bytes', p.get('result_bytes')), rec


def line_fit(xs, ys):
    """(a, b) of ``y = a + b x`` with the smallest relative residuals: least squares on
    ``(y - a - b x) / y``, so a 0.2 s point weighs as much as a 20 s one (the check is on
    relative residuals). None with fewer than two distinct x."""
    if len(set(xs)) < 2:
        return None
    # normal equations of the weighted problem, weights 1/y^2 (2 x 2: no numpy needed)
    w = [1.0 / (y * y) for y in ys]
    s0, s1 = sum(w), sum(wi * x for wi, x in zip(w, xs))
    s2 = sum(wi * x * x for wi, x in zip(w, xs))
    t0, t1 = sum(wi * y for wi, y in zip(w, ys)), sum(wi * x * y for wi, x, y in zip(w, xs, ys))
    det = s0 * s2 - s1 * s1
    return (t0 * s2 - t1 * s1) / det, (s0 * t1 - s1 * t0) / det


def linear_summary(points):
    """The rows sweep of one engine against ``seconds = a + b * rows``.

    ``points``: [{rows, seconds}, ...]. Returns a dict: ``a`` (seconds, the fixed cost of a
    fit), ``b`` (seconds per row), ``residuals`` (relative, per point), ``max_rel_residual``
    and ``linear`` (<= :data:`LINEARITY_TARGET`), then ``b_last`` (the slope of the sweep's
    last step, e.g. 3e6 -> 1e7), ``b_before`` (of the step before, e.g. 1e6 -> 3e6), their
    ratio and ``per_row_steady`` (within :data:`PER_ROW_DRIFT_TARGET`); each None when the
    sweep has too few row counts (2 for the line, 3 for the steps).
    """
    pts = sorted(points, key=lambda p: p['rows'])
    xs, ys = [p['rows'] for p in pts], [p['seconds'] for p in pts]
    out = dict(rows=xs, a=None, b=None, residuals=None, max_rel_residual=None, linear=None,
               steps=None, b_last=None, b_before=None, b_ratio=None, per_row_steady=None)
    fitted = line_fit(xs, ys)
    if fitted is None:
        return out
    a, b = fitted
    res = [(y - a - b * x) / y for x, y in zip(xs, ys)]
    out.update(a=a, b=b, residuals=res, max_rel_residual=max(abs(r) for r in res))
    out['linear'] = out['max_rel_residual'] <= LINEARITY_TARGET
    if len(xs) >= 3 and xs[-3] < xs[-2] < xs[-1]:
        b_last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        b_before = (ys[-2] - ys[-3]) / (xs[-2] - xs[-3])
        out.update(steps=[[xs[-3], xs[-2]], [xs[-2], xs[-1]]], b_last=b_last,
                   b_before=b_before)
        if b_before > 0:
            out['b_ratio'] = b_last / b_before
            out['per_row_steady'] = abs(out['b_ratio'] - 1) <= PER_ROW_DRIFT_TARGET
    return out


def linear_summaries(doc):
    """{engine: :func:`linear_summary`} of a scaling.json (its own, or computed from its
    rows sweep when it predates them)."""
    if doc.get('linear'):
        return doc['linear']
    return {e: linear_summary(doc['rows_sweep'].get(e, [])) for e in doc['engines']}


def slope(xs, ys):
    """Least-squares slope of log(y) on log(x) (the features sweep: the Gram's n p^2)."""
    if len(xs) < 2:
        return None
    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sxx if sxx else None


def picture(doc, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    lines = linear_summaries(doc)
    for name in doc['engines']:
        pts = doc['rows_sweep'].get(name, [])
        if pts:
            xs = [p['rows'] for p in pts]
            dots, = axes[0].plot(xs, [p['seconds'] for p in pts], marker='o', ls='',
                                 label=name)
            fit = lines.get(name) or {}
            if fit.get('b') is not None:
                ends = [0, max(xs)]
                axes[0].plot(ends, [fit['a'] + fit['b'] * x for x in ends],
                             color=dots.get_color(), lw=1,
                             label='a = %.2f s, b = %.2f s per 1e6 rows (max residual %.0f%%)'
                             % (fit['a'], fit['b'] * 1e6, 100 * fit['max_rel_residual']))
            b = [(p['rows'], p['bytes'], p['tasks']) for p in pts if p['bytes']]
            if b:
                line, = axes[2].semilogx([r for r, _, _ in b], [v for _, v, _ in b],
                                         marker='o', label='%s, all tasks' % name)
                # the total follows the number of tasks (partitions), not the rows
                axes[2].semilogx([r for r, _, _ in b], [v / t for _, v, t in b], marker='x',
                                 ls='--', color=line.get_color(), label='%s, per task' % name)
        pts = doc['features_sweep'].get(name, [])
        if pts:
            axes[1].loglog([p['features'] for p in pts], [p['seconds'] for p in pts],
                           marker='o', label='%s (slope %.2f)'
                           % (name, doc['slopes']['features'][name] or float('nan')))
    axes[0].set_xlabel('rows (%d features)' % FEATURES_FOR_ROWS)
    axes[1].set_xlabel('features (%s rows)' % '{:,}'.format(doc['fixed_rows']))
    axes[2].set_xlabel('rows')
    axes[2].set_ylabel('bytes map side -> reduce side')
    axes[2].set_ylim(bottom=0)
    axes[1].set_xscale('log')
    axes[1].set_yscale('log')
    for ax in axes[:2]:
        ax.set_ylabel('seconds (--method normal, end to end)')
    w = doc['workers']
    names = list(w)
    axes[3].bar([i - 0.2 for i in range(len(names))], [w[n]['1'] for n in names], 0.4,
                label='1 worker')
    axes[3].bar([i + 0.2 for i in range(len(names))], [w[n]['2'] for n in names], 0.4,
                label='2 workers')
    for i, n in enumerate(names):
        axes[3].annotate('x%.2f' % w[n]['speedup'], (i, max(w[n]['1'], w[n]['2'])),
                         ha='center', va='bottom')
    axes[3].set_xticks(range(len(names)))
    axes[3].set_xticklabels(names)
    axes[3].set_ylabel('seconds (%s rows)' % '{:,}'.format(doc['workers_rows'] or 0))
    for ax in axes:
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle('Summation form (--method normal): %s, %d cores, load average %.1f at the '
                 'start, commit %s' % (doc['date'][:10], doc['machine']['cores'],
                                       doc['machine']['load_average_at_start'][0],
                                       doc.get('commit') or 'not recorded'), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rows', type=int_list, default=[100000, 300000, 1000000, 3000000,
                                                      10000000])
    ap.add_argument('--features', type=int_list, default=[10, 50, 100, 200, 400])
    ap.add_argument('--fixed-rows', type=int, default=100000)
    ap.add_argument('--engines', default=','.join(ENGINES))
    ap.add_argument('--repeats', type=int, default=3,
                    help='runs per point, the engines in turn; the median is kept. '
                         'Default: %(default)s')
    ap.add_argument('--out-dir', default=os.path.join(ROOT, 'results'))
    args = ap.parse_args(argv)
    engines = [e for e in args.engines.split(',') if e]
    if set(engines) - set(ENGINES):
        ap.error('engines must be among %s' % ', '.join(ENGINES))
    if args.repeats < 1:
        ap.error('--repeats must be >= 1')
    t_start = time.time()
    load_at_start = os.getloadavg()
    runner = Runner()
    rows_sweep = {e: [] for e in engines}
    features_sweep = {e: [] for e in engines}
    workers = {}
    workers_rows = max([r for r in args.rows if r <= 1000000] or [min(args.rows)])
    def measured(path, maps=2):
        """{engine: (median seconds, every run's seconds, the median run's bytes, record)}:
        ``--repeats`` rounds, the engines in turn in each (the machine's noise spread
        over all of them)."""
        runs = {e: [] for e in engines if maps == 2 or e != 'numpy'}
        for _ in range(args.repeats):
            for e in runs:
                runs[e].append(runner.run(e, path, maps=maps))
                # spark-rdd's cache files (1.7 GB at 1e7 rows) are written back to disk
                # after its fit: flushed here, outside every timing, not during the next run
                os.sync()
        out = {}
        for e, got in runs.items():
            got.sort(key=lambda r: r[0])
            sec, nbytes, rec = got[len(got) // 2]
            out[e] = (sec, [r[0] for r in got], nbytes, rec)
        return out

    try:
        for rows in args.rows:
            for e, (sec, all_runs, nbytes, rec) in measured(
                    data_path(rows, FEATURES_FOR_ROWS)).items():
                rows_sweep[e].append(dict(rows=rows, seconds=sec, runs=all_runs, bytes=nbytes,
                                          tasks=rec.get('tasks'),
                                          load_seconds=rec['timings']['load_seconds']))
                print('rows %9d  %-12s %8.2f s (runs %s)  map->reduce %s bytes (%s tasks)'
                      % (rows, e, sec, _runs(all_runs), nbytes, rec.get('tasks')),
                      file=sys.stderr)
        for p in args.features:
            for e, (sec, all_runs, nbytes, _) in measured(
                    data_path(args.fixed_rows, p)).items():
                features_sweep[e].append(dict(features=p, seconds=sec, runs=all_runs,
                                              bytes=nbytes))
                print('features %4d  %-12s %8.2f s (runs %s)' % (p, e, sec, _runs(all_runs)),
                      file=sys.stderr)
        path = data_path(workers_rows, FEATURES_FOR_ROWS)
        ones, twos = measured(path, maps=1), measured(path, maps=2)
        for e in ones:
            one, two = ones[e][0], twos[e][0]
            workers[e] = {'1': one, '2': two, 'speedup': one / two}
            print('workers  %-12s 1: %.2f s  2: %.2f s  speedup %.2f'
                  % (e, one, two, one / two), file=sys.stderr)
    finally:
        runner.close()
    linear = {e: linear_summary(rows_sweep[e]) for e in engines}
    slopes = dict(features={})
    for e in engines:
        pts = features_sweep[e]
        slopes['features'][e] = slope([p['features'] for p in pts], [p['seconds'] for p in pts])
    doc = dict(stamp(load_at_start),
               method='normal', engines=engines, features_for_rows=FEATURES_FOR_ROWS,
               fixed_rows=args.fixed_rows, repeats=args.repeats, rows_sweep=rows_sweep,
               linear=linear, targets=dict(linearity=LINEARITY_TARGET,
                                           per_row_drift=PER_ROW_DRIFT_TARGET),
               features_sweep=features_sweep, slopes=slopes, workers=workers,
               workers_rows=workers_rows, wall_seconds=time.time() - t_start)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, 'scaling.json'), 'w') as f:
        json.dump(doc, f, indent=1)
    picture(doc, os.path.join(args.out_dir, 'scaling.png'))
    print('\n' + linear_report(linear, FEATURES_FOR_ROWS))
    print('log-log slope of seconds vs features (%s rows; the Gram costs n p^2):'
          % '{:,}'.format(args.fixed_rows))
    for e in engines:
        print('  %-12s %s' % (e, _f(slopes['features'][e])))
    print('bytes map side -> reduce side vs rows:')
    for e in engines:
        b = ['%d (%s tasks)' % (p['bytes'], p['tasks']) for p in rows_sweep[e]
             if p['bytes'] is not None]
        if b:
            print('  %-12s %s' % (e, ', '.join(b)))
    print('1 vs 2 workers at %s rows:' % '{:,}'.format(workers_rows))
    for e, w in workers.items():
        print('  %-12s %.2f s vs %.2f s: speedup %.2f' % (e, w['1'], w['2'], w['speedup']))
    print('wrote %s/scaling.json, scaling.png' % args.out_dir)
    return 0


def linear_report(linear, features):
    """The rows sweep's check, as ``make scaling`` prints it (docs/scaling.md has it too)."""
    out = ['seconds = a + b * rows (%d features; a: the fixed cost of a fit, b: the cost of '
           'a row):' % features]
    for e, s in linear.items():
        if s['b'] is None:
            out.append('  %-12s needs 2 row counts or more' % e)
            continue
        line = ('  %-12s a %.3f s  b %.3g s per 1e6 rows  max residual %.1f%% (target <= %.0f%%:'
                ' %s)' % (e, s['a'], s['b'] * 1e6, 100 * s['max_rel_residual'],
                          100 * LINEARITY_TARGET, 'met' if s['linear'] else 'MISSED'))
        if s['b_ratio'] is not None:
            (r0, r1), (_, r2) = s['steps']
            line += ('\n  %-12s b %s -> %s rows: %.3g, %s -> %s: %.3g s per 1e6 rows: ratio %.2f'
                     ' (target within %.0f%%: %s)'
                     % ('', _rows(r0), _rows(r1), s['b_before'] * 1e6, _rows(r1), _rows(r2),
                        s['b_last'] * 1e6, s['b_ratio'], 100 * PER_ROW_DRIFT_TARGET,
                        'met' if s['per_row_steady'] else 'MISSED'))
        else:
            line += '\n  %-12s b per step: needs 3 row counts or more' % ''
        out.append(line)
    return '\n'.join(out)


def _rows(n):
    """3000000 -> '3e6'; 250000 -> '250,000'."""
    exp = len(str(n)) - 1
    if n >= 1000000 and n % 10 ** exp == 0:
        return '%de%d' % (n // 10 ** exp, exp)
    return '{:,}'.format(n)


def _runs(values):
    return ', '.join('%.2f' % v for v in values)


def _f(v):
    return '-' if v is None else '%.2f' % v


if __name__ == '__main__':
    sys.exit(main())
