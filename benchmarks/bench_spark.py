"""The Spark targets of ``make bench``, measured side by side in one run.

    python benchmarks/bench_spark.py [--data FILE.csv] [--rows 1000000]
                                     [--features 20] [--repeats 3] [--master local[*]]

1. spark-rdd ``--method normal`` end to end (read, parse, cache, aggregate, solve)
   against MLlib ``LinearRegression(solver='normal')`` end to end (read the CSV,
   assemble the features, fit). Target: ratio <= 0.5.
2. A cached gd iteration (median of the gradient passes, the first cached pass
   and the final Hessian pass left out) against the first pass over the input
   (load + parse + cache). Target: ratio <= 0.2.

3. A cached spark-rdd pass (logistic loss + gradient) against its two floors,
   measured in the same run (``floors``): the numpy pass over the same arrays in
   this process (one core), and Spark's cost of an empty job (``mapPartitions`` +
   ``sum`` over one cached partition per core) on the same master. The pass is
   printed as compute (the slowest task's time in the block function) + overhead,
   and a later mrjob-local iteration (one job per pass) beside it. Targets: cached
   pass <= 1.3 x the numpy pass at 1e7 x 20; mrjob-local / spark-rdd >= 10 at
   1M x 20 and >= 15 at 1e7 x 20. ``BIG=1`` (or ``--big``) adds the 1e7 x 20 run
   (a 2.8 GB file generated once under data/; check the free disk first).
   ``--only floors`` runs this part alone.

Both contenders run in the same SparkSession (its start is in neither time), in
turn, ``--repeats`` times; the ratios are of the medians. The machine is shared:
absolute seconds move, the ratios are what counts. Exit status 0 when all
targets are met, 1 otherwise. Writes its part of OUT_DIR/bench.json (``make docs`` turns
it into docs/bench.md).
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from distreg import blocks  # noqa: E402
from distreg.fit import FitOptions, fit  # noqa: E402
from distreg.loader import Parsed  # noqa: E402
from benchmarks.common import DATA_DIR, ROOT, ensure_data, record  # noqa: E402
from spark_jobs.engine import RDDEngine  # noqa: E402
from spark_jobs.session import get_session  # noqa: E402

TARGETS = {'normal_vs_mllib': 0.5, 'cached_iteration_vs_first_pass': 0.2}
#: gd passes per measurement (it stops earlier only if it converges, which it cannot at tol 1e-300)
GD_ITERATIONS = 8


def rdd_normal(spark, path):
    t0 = time.perf_counter()
    engine = RDDEngine(path, spark=spark)
    try:
        fit(engine, FitOptions(method='normal'))
    finally:
        engine.close()
    return time.perf_counter() - t0


def mllib_normal(spark, path):
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression
    from pyspark.sql.types import DoubleType, StructField, StructType
    with open(path) as f:
        names = f.readline().strip().split(',')
    t0 = time.perf_counter()
    frame = spark.read.csv(path, header=True,
                           schema=StructType([StructField(n, DoubleType()) for n in names]))
    features = VectorAssembler(inputCols=names[1:], outputCol='features').transform(frame)
    LinearRegression(featuresCol='features', labelCol=names[0], solver='normal').fit(features)
    return time.perf_counter() - t0


def rdd_gd(spark, path):
    """(first pass: load + parse + cache, median cached gd iteration) in seconds."""
    engine = RDDEngine(path, spark=spark)
    try:
        rec = fit(engine, FitOptions(method='gd', max_iter=GD_ITERATIONS, tol=1e-300))
    finally:
        engine.close()
    passes = rec['timings']['pass_seconds']
    # passes[0]: X'WX at 0 (column scaling); passes[-1]: X'WX at the answer (std errors)
    return rec['timings']['load_seconds'], statistics.median(passes[1:-1])


def measure(path, repeats=3, master='local[*]', spark=None):
    """Run the contenders in turn ``repeats`` times; return medians and ratios (a dict)."""
    own = spark is None
    spark = spark or get_session('distreg-bench', master)
    try:
        times = {'rdd_normal': [], 'mllib_normal': [], 'first_pass': [], 'gd_iteration': []}
        rdd_normal(spark, path)  # warm-up: JIT, Python workers, page cache
        mllib_normal(spark, path)
        for _ in range(repeats):
            times['rdd_normal'].append(rdd_normal(spark, path))
            times['mllib_normal'].append(mllib_normal(spark, path))
            first, iteration = rdd_gd(spark, path)
            times['first_pass'].append(first)
            times['gd_iteration'].append(iteration)
    finally:
        if own:
            spark.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    return dict(seconds=med, runs=times,
                normal_vs_mllib=med['rdd_normal'] / med['mllib_normal'],
                cached_iteration_vs_first_pass=med['gd_iteration'] / med['first_pass'])


#: Floors part: (rows, pass / numpy target or None, mrjob-local / spark-rdd target).
FLOOR_TARGETS = {1_000_000: (None, 10.0), 10_000_000: (1.3, 15.0)}


def _median_runs(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def floors(path, master='local[*]', repeats=3, passes=5, mrjob=True):
    """A cached spark-rdd gradient pass against the numpy pass and the empty Spark job.

    The three run interleaved, ``repeats`` rounds of ``passes`` each (after a warm-up
    that maps the block files in the Python workers); medians. Returns a dict.
    """
    from jobs.engine import MRJobEngine
    options = FitOptions(method='gd', model='logistic')
    spark = get_session('distreg-bench-floors', master, python_only=True)
    engine = RDDEngine(path, spark=spark)
    out = {}
    try:
        engine.prepare(options)
        p = engine.design.n_coef(engine.schema.n_fields - 1)
        # a point away from 0 (exp/log take their general path), the same for every contender
        params = {'theta': [0.01 * (-1) ** j for j in range(p)], 'model': 'logistic'}
        # the same arrays in this process, in memory (not mapped): the numpy floor
        parts = [b.parsed for b in engine.cached.collect()]
        whole = Parsed(np.concatenate([b.X for b in parts]), np.concatenate([b.y for b in parts]))
        del parts
        # the empty job: the pass's own cached partitions (their handles are still streamed
        # to the Python workers), a count per task instead of the block function; its RDD
        # built once, as the pass's is. The iterator is drained: a Python worker that leaves
        # input unread is not reused (Spark forks a new one), which would put a process
        # start in the floor
        empty = engine._pass_rdd().mapPartitions(lambda it: [sum(1 for _ in it)])

        def numpy_pass():
            return blocks.block_partial('gradient', whole, engine.design, params)

        def empty_job():
            return sum(empty.collect())

        compute = []

        def spark_pass():
            part = engine.aggregate('gradient', params)
            compute.append(max(engine.task_seconds))
            return part

        for fn in (numpy_pass, empty_job, spark_pass, spark_pass):  # warm-up
            fn()
        ref, got = numpy_pass(), spark_pass()
        out['max_rel_diff'] = float(np.max(np.abs(got['grad'] - ref['grad'])
                                           / np.maximum(np.abs(ref['grad']), 1e-300)))
        del compute[:]
        runs = {'numpy_pass': [], 'empty_job': [], 'spark_pass': []}
        for _ in range(repeats):
            for name, fn in (('numpy_pass', numpy_pass), ('empty_job', empty_job),
                             ('spark_pass', spark_pass)):
                runs[name].extend(_median_runs(fn, passes))
        out.update({k: statistics.median(v) for k, v in runs.items()})
        out['compute'] = statistics.median(compute)
        out['n_tasks'] = len(engine.task_seconds)
        out['runs'] = runs
    finally:
        engine.close()
        spark.stop()
    if mrjob:
        # a later MapReduce iteration: every pass is a job that reads and parses the input
        mr = MRJobEngine(path, 'mrjob-local')
        mr.prepare(options)
        mr.aggregate('gradient', params)  # warm-up (page cache)
        out['mrjob_pass'] = statistics.median(
            _median_runs(lambda: mr.aggregate('gradient', params), max(2, repeats)))
    return out


def report_floors(path, rows, out):
    pass_over_numpy, mr_target = FLOOR_TARGETS.get(rows, (None, None))
    ok = True
    s = out['spark_pass']
    print('Cached spark-rdd pass vs its floors on %s (logistic loss + gradient, medians):'
          % path)
    print('  numpy pass, same arrays, 1 core  %7.3f s' % out['numpy_pass'])
    print('  empty Spark job (%d tasks)        %7.3f s' % (out['n_tasks'], out['empty_job']))
    print('  cached spark-rdd pass            %7.3f s = compute %.3f + overhead %.3f'
          % (s, out['compute'], s - out['compute']))
    print('  pass - empty job                 %7.3f s' % (s - out['empty_job']))
    print('  gradient agrees with numpy to    %.1e (relative)' % out['max_rel_diff'])
    ratio = s / out['numpy_pass']
    line = '  pass / numpy pass                %7.2f' % ratio
    if pass_over_numpy is not None:
        met = ratio <= pass_over_numpy
        ok &= met
        line += ' (target <= %.1f: %s)' % (pass_over_numpy, 'met' if met else 'MISSED')
    print(line)
    if 'mrjob_pass' in out:
        ratio = out['mrjob_pass'] / s
        line = '  mrjob-local pass %.2f s / spark-rdd pass = %.1f' % (out['mrjob_pass'], ratio)
        if mr_target is not None:
            met = ratio >= mr_target
            ok &= met
            line += ' (target >= %.0f: %s)' % (mr_target, 'met' if met else 'MISSED')
        print(line)
    return ok


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', default=None,
                   help='CSV to fit. Default: data/bench_ROWSxFEATURES.csv, generated when '
                        'missing (the file bench_mrjob.py uses)')
    p.add_argument('--rows', type=int, default=1_000_000, help='Default: %(default)s')
    p.add_argument('--features', type=int, default=20, help='Default: %(default)s')
    p.add_argument('--repeats', type=int, default=3, help='Default: %(default)s')
    p.add_argument('--master', default='local[*]', help='Default: %(default)s')
    p.add_argument('--only', choices=('all', 'floors'), default='all',
                   help='floors: only the cached pass against its floors. Default: %(default)s')
    p.add_argument('--big', action='store_true', default=os.environ.get('BIG') == '1',
                   help='also the floors at 1e7 x 20 (env BIG=1 too)')
    p.add_argument('--floor-rows', type=int, action='append', default=None,
                   help='rows of the floors part (repeatable). Default: 1000000, and '
                        '10000000 with --big')
    p.add_argument('--out-dir', default=os.path.join(ROOT, 'results'))
    args = p.parse_args(argv)
    args.load_at_start = os.getloadavg()
    args.floors = {}
    if args.repeats < 1:
        p.error('--repeats must be >= 1')
    if args.data is None:
        args.data = ensure_data(os.path.join(DATA_DIR, 'bench_%dx%d.csv'
                                             % (args.rows, args.features)),
                                args.rows, args.features)
    elif not os.path.exists(args.data):
        p.error('no such file: %s' % args.data)
    ok = True
    if args.only == 'floors':
        ok = run_floors(args)
        save(args, None, ok)
        return 0 if ok else 1
    out = measure(args.data, args.repeats, args.master)
    s = out['seconds']
    print('Spark on %s (median of %d, %s):' % (args.data, args.repeats, args.master))
    print('  spark-rdd normal end to end  %7.2f s' % s['rdd_normal'])
    print('  MLlib normal end to end      %7.2f s' % s['mllib_normal'])
    print('  first pass (load+parse+cache)%7.2f s' % s['first_pass'])
    print('  cached gd iteration          %7.3f s' % s['gd_iteration'])
    for key, target in TARGETS.items():
        met = out[key] <= target
        ok &= met
        print('  %-32s %.3f (target <= %.1f: %s)' % (key, out[key], target,
                                                     'met' if met else 'MISSED'))
    ok &= run_floors(args)
    save(args, out, ok)
    return 0 if ok else 1


def save(args, out, ok):
    """This run's part of OUT_DIR/bench.json."""
    entry = dict(data=os.path.relpath(args.data, ROOT), repeats=args.repeats,
                 master=args.master, all_targets_met=bool(ok),
                 targets=dict(TARGETS, floors={str(r): dict(pass_over_numpy=t[0],
                                                            mrjob_over_spark=t[1])
                                               for r, t in FLOOR_TARGETS.items()}),
                 floors=args.floors)
    if out is not None:
        entry.update(seconds=out['seconds'], runs=out['runs'],
                     ratios={k: out[k] for k in TARGETS})
    print('wrote %s' % record(args.out_dir, 'spark', entry, args.load_at_start))


def run_floors(args):
    """The floors part at 1M x 20 (and 1e7 x 20 with --big), logistic data generated once."""
    ok = True
    rows_list = args.floor_rows or ((1_000_000, 10_000_000) if args.big else (1_000_000,))
    for rows in rows_list:
        path = ensure_data(os.path.join(DATA_DIR, 'bench_logistic_%dx20.csv' % rows),
                           rows, 20, model='logistic')
        print()
        out = floors(path, args.master, args.repeats)
        args.floors[str(rows)] = out
        ok &= report_floors(path, rows, out)
    return ok


if __name__ == '__main__':
    sys.exit(main())
