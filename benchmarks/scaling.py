"""How the summation form's cost grows: rows, features, workers (``make scaling``).

    python benchmarks/scaling.py [--rows 100000,300000,1000000,3000000,10000000]
                                 [--features 10,50,100,200,400] [--fixed-rows 100000]
                                 [--engines numpy,mrjob-local,spark-rdd] [--out-dir results]

``--method normal`` (one pass: the Gram matrix of [1, x, y], then a Cholesky solve) on
numpy (one process, streaming the file), mrjob-local (one job, 2 map tasks) and spark-rdd
(local[2]; read, parse, cache, one pass; the session's start not included), for:

1. rows (20 features): seconds vs rows, the fitted log-log slope over all sizes and over
   the sizes >= 1e6 (target: between 0.9 and 1.1), and the bytes the map side hands to
   the reduce side (mrjob: the JSON the map tasks emit, a counter of jobs/block_job.py;
   Spark: the tasks' result bytes from Spark's status store): independent of rows;
2. features at ``--fixed-rows``: seconds vs features and its slope (the Gram costs
   n p^2: the slope approaches 2 once the p^2 arithmetic outweighs the parse, which is
   linear in p);
3. 1 vs 2 workers at the largest row count <= 1e6: mrjob-local with
   ``mapreduce.job.maps=1`` vs 2, spark-rdd on local[1] vs local[2]; the speedup.

Every point is the median of ``--repeats`` runs (default 3), the engines taking turns in
each round. The data are generated once under data/ (the 1e7-row file is about 4 GB; ``make clean``
removes it). Writes OUT_DIR/scaling.json and scaling.png. The machine is shared: noisy.
"""

import argparse
import datetime
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import DATA_DIR, ROOT, ensure_data, machine  # noqa: E402
from benchmarks.probes import Probe  # noqa: E402
from distreg.fit import FitOptions, fit  # noqa: E402
from distreg.numpy_engine import NumpyEngine  # noqa: E402

ENGINES = ('numpy', 'mrjob-local', 'spark-rdd')
FEATURES_FOR_ROWS = 20


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
                '--jobconf', 'mapreduce.job.maps=%d' % maps]))
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


def slope(xs, ys):
    """Least-squares slope of log(y) on log(x)."""
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
    for name in doc['engines']:
        pts = doc['rows_sweep'].get(name, [])
        if pts:
            axes[0].loglog([p['rows'] for p in pts], [p['seconds'] for p in pts], marker='o',
                           label='%s (slope %.2f)' % (name, doc['slopes']['rows'][name]['all']
                                                      or float('nan')))
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
                 'start' % (doc['date'][:10], doc['machine']['cores'],
                            doc['machine']['load_average_at_start'][0]), fontsize=10)
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
    slopes = dict(rows={}, features={})
    for e in engines:
        pts = rows_sweep[e]
        big = [p for p in pts if p['rows'] >= 1000000]
        slopes['rows'][e] = dict(
            all=slope([p['rows'] for p in pts], [p['seconds'] for p in pts]),
            from_1e6=slope([p['rows'] for p in big], [p['seconds'] for p in big]))
        pts = features_sweep[e]
        slopes['features'][e] = slope([p['features'] for p in pts], [p['seconds'] for p in pts])
    doc = dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
               machine=machine(load_at_start),
               method='normal', engines=engines, features_for_rows=FEATURES_FOR_ROWS,
               fixed_rows=args.fixed_rows, repeats=args.repeats, rows_sweep=rows_sweep,
               features_sweep=features_sweep, slopes=slopes, workers=workers,
               workers_rows=workers_rows, wall_seconds=time.time() - t_start)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, 'scaling.json'), 'w') as f:
        json.dump(doc, f, indent=1)
    picture(doc, os.path.join(args.out_dir, 'scaling.png'))
    print('\nlog-log slopes (seconds vs rows, %d features; seconds vs features, %s rows):'
          % (FEATURES_FOR_ROWS, '{:,}'.format(args.fixed_rows)))
    for e in engines:
        r = slopes['rows'][e]
        print('  %-12s rows: %s (>= 1e6: %s)   features: %s'
              % (e, _f(r['all']), _f(r['from_1e6']), _f(slopes['features'][e])))
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


def _runs(values):
    return ', '.join('%.2f' % v for v in values)


def _f(v):
    return '-' if v is None else '%.2f' % v


if __name__ == '__main__':
    sys.exit(main())
