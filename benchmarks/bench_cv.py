"""The targets of ``distreg cv`` and ``distreg update`` (issue 23), measured side by side.

    python benchmarks/bench_cv.py [--rows 1000000] [--features 20] [--repeats 3]
                                  [--only all|mrjob|spark] [--mllib-repeats 1]

mrjob-local (command lines, contenders interleaved by ``alternate``; medians):

- ``distreg cv --folds 5 --ridge`` with 20 penalties against one ``fit --method normal``
  (one pass): target <= 1.2;
- the same search as 100 separate fits (5 folds x 20 penalties), each a ``fit --ridge L`` of
  the training rows (80 %) and an ``evaluate`` of the held-out rows (20 %): measured on
  ``--repeats`` such pairs and multiplied by 100 (not run 100 times), against the cv:
  target >= 50;
- ``distreg cv --folds 5 --l1 path`` (100 penalties) against one normal fit: target <= 1.2;
- ``distreg update`` of a ``--keep-stats`` record of 90 % of the rows with the other 10 %
  against a full refit (the normal fit of all the rows), and the same update of 1,000 rows
  (one job's fixed cost, whatever its input);
- the target of the update (<= 0.2) at ``--update-rows`` (10,000,000 x the same features: a
  second input, made once): an update reads only the new rows, a refit all of them, so the
  ratio falls towards 0.1 as the data grows, from a floor set by one job's fixed cost. At
  1,000,000 rows that fixed cost alone is over 0.2 of the refit on this machine (printed):
  no update that runs a mrjob-local job can meet the target there.

spark-rdd against MLlib, in one SparkSession (its start in neither time), ``--mllib-repeats``
rounds: ``distreg cv`` on spark-rdd end to end (read, parse, cache, one pass, 100 solves)
against pyspark.ml's ``CrossValidator`` over ``LinearRegression(solver='normal')`` with the
same 20 penalties (``regParam = L sd(y) / n_train``, standardization off: the mapping of
spark_jobs/mllib.py) and the same folds (a ``foldCol`` holding distreg's fold of each row,
written into a copy of the input beforehand, untimed), read from the CSV and cached, RMSE
evaluator: goal >= 20.

Writes the ``cv`` section of OUT_DIR/bench.json (``make docs`` turns it into docs/bench.md).
Exit status 0 once measured, targets met or not (each verdict is printed and in the JSON):
``make bench`` goes on to bench_spark.py.
"""

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from benchmarks.common import (DATA_DIR, DISTREG, ROOT, alternate, ensure_data,  # noqa: E402
                               record, stamp)

FOLDS = 5
#: 20 ridge penalties: 0 and 19 log-spaced from 0.01 to 1e4
RIDGES = [0.0] + [float(v) for v in np.geomspace(1e-2, 1e4, 19)]
TARGETS = {'cv ridge / one fit': ('<=', 1.2), '100 separate fits / cv ridge': ('>=', 50.0),
           'cv lasso path / one fit': ('<=', 1.2),
           'update 10 % / full refit, at --update-rows': ('<=', 0.2),
           'MLlib CrossValidator / spark-rdd cv': ('>=', 20.0)}


#: the update of 1,000 new rows: what one mrjob-local job costs whatever its input (process
#: start and imports, the job's launch, its task server's warm-up, sort, reduce, cleanup)
FIXED_COST_ROWS = 1000
FIXED_COST = 'update with 1,000 new rows (fixed cost)'


def met(name, value):
    op, target = TARGETS[name]
    return value <= target if op == '<=' else value >= target


def split_lines(path, fraction, first, rest):
    """Write the header and the first ``fraction`` of the rows of ``path`` to ``first``, the
    header and the others to ``rest`` (once: kept beside the input)."""
    if os.path.exists(first) and os.path.exists(rest):
        return first, rest
    with open(path, 'rb') as f:
        header = f.readline()
        lines = f.readlines()
    cut = int(len(lines) * fraction)
    for out, part in ((first, lines[:cut]), (rest, lines[cut:])):
        with open(out + '.tmp', 'wb') as f:
            f.write(header)
            f.writelines(part)
        os.replace(out + '.tmp', out)
    return first, rest


def with_folds(path, out, k):
    """A copy of the CSV ``path`` with a ``fold`` column: distreg's fold of each row (the
    file's base name is the input's, so the hash is the same rows' as on ``path``)."""
    if os.path.exists(out):
        return out
    from distreg import folds
    data = open(path, 'rb').read()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.r_[0, ends[:-1] + 1]
    fold = folds.folds_of(folds.row_keys(path, starts[1:]), k)
    lines = data.split(b'\n')
    with open(out + '.tmp', 'wb') as f:
        f.write(lines[0] + b',fold\n')
        for line, j in zip(lines[1:], fold.tolist()):
            f.write(line + b',%d\n' % j)
    os.replace(out + '.tmp', out)
    return out


def sh(*commands):
    return ['sh', '-c', ' && '.join(shlex.join(c) + ' >/dev/null' for c in commands)]


def mrjob_part(path, repeats, tmp):
    ridges = ','.join(repr(v) for v in RIDGES)
    base = path[:-len('.csv')]
    old, new = split_lines(path, 0.9, base + '.first90.csv', base + '.last10.csv')
    train, test = split_lines(path, 0.8, base + '.first80.csv', base + '.last20.csv')
    old_record = os.path.join(tmp, 'old.json')
    import subprocess
    subprocess.run(DISTREG + ['fit', old, '--engine', 'numpy', '--method', 'normal',
                              '--keep-stats', '--quiet', '--out', old_record], check=True,
                   cwd=ROOT)
    one_fit_out = os.path.join(tmp, 'one.json')
    tiny = os.path.join(tmp, 'new1000.csv')   # the update's fixed cost: its job on 1,000 rows
    with open(new, 'rb') as src, open(tiny, 'wb') as dst:
        dst.writelines(line for _, line in zip(range(FIXED_COST_ROWS + 1), src))
    contenders = {
        'one fit --method normal': DISTREG + ['fit', path, '--engine', 'mrjob-local',
                                              '--method', 'normal', '--quiet'],
        'cv --folds 5, 20 ridge penalties': DISTREG + ['cv', path, '--engine', 'mrjob-local',
                                                       '--folds', str(FOLDS), '--ridge', ridges,
                                                       '--quiet'],
        'cv --folds 5 --l1 path (100)': DISTREG + ['cv', path, '--engine', 'mrjob-local',
                                                   '--folds', str(FOLDS), '--l1', 'path',
                                                   '--quiet'],
        'update with 10 % new rows': DISTREG + ['update', old_record, new, '--engine',
                                                'mrjob-local', '--quiet'],
        FIXED_COST: DISTREG + ['update', old_record, tiny, '--engine', 'mrjob-local',
                               '--quiet'],
        'one separate fit (80 %) + evaluate (20 %)': sh(
            DISTREG + ['fit', train, '--engine', 'mrjob-local', '--method', 'normal',
                       '--ridge', '1', '--quiet', '--out', one_fit_out],
            DISTREG + ['evaluate', one_fit_out, test, '--engine', 'mrjob-local']),
    }
    medians, times = alternate(contenders, repeats=repeats)
    one = medians['one fit --method normal']
    cv_ridge = medians['cv --folds 5, 20 ridge penalties']
    separate = 100 * medians['one separate fit (80 %) + evaluate (20 %)']
    ratios = {'cv ridge / one fit': cv_ridge / one,
              '100 separate fits / cv ridge': separate / cv_ridge,
              'cv lasso path / one fit': medians['cv --folds 5 --l1 path (100)'] / one,
              # the target is measured at --update-rows (update_part)
              'update 10 % / full refit': medians['update with 10 % new rows'] / one,
              'update of 1,000 rows (fixed cost) / full refit': medians[FIXED_COST] / one}
    print('\nmrjob-local, %s (median of %d, interleaved):' % (path, repeats))
    for name, m in medians.items():
        print('  %-44s %7.2f s  (runs: %s)' % (name, m, ', '.join('%.2f' % t
                                                                for t in times[name])))
    print('  100 separate fits, estimated: 100 x the median fit + evaluate pair = %.1f s '
          '(measured on %d pairs, not run 100 times)' % (separate, repeats))
    for name, value in ratios.items():
        if name not in TARGETS:
            print('  %-36s %8.2f' % (name, value))
            continue
        op, target = TARGETS[name]
        print('  %-36s %8.2f  (target %s %g: %s)' % (name, value, op, target,
                                                     'met' if met(name, value) else 'MISSED'))
    return dict(seconds=medians, runs=times, ratios=ratios,
                separate_fits_estimated_seconds=separate,
                separate_fits_note='100 x the median of %d measured fit + evaluate pairs' % repeats)


def update_part(rows, features, repeats, tmp):
    """``distreg update`` with 10 % new rows against the full refit, on mrjob-local, at
    ``rows`` (the target's size: see the module's docstring)."""
    import subprocess
    path = ensure_data(os.path.join(DATA_DIR, 'bench_%dx%d.csv' % (rows, features)),
                       rows, features)
    base = path[:-len('.csv')]
    old, new = split_lines(path, 0.9, base + '.first90.csv', base + '.last10.csv')
    old_record = os.path.join(tmp, 'old-%d.json' % rows)
    subprocess.run(DISTREG + ['fit', old, '--engine', 'numpy', '--method', 'normal',
                              '--keep-stats', '--quiet', '--out', old_record], check=True,
                   cwd=ROOT)
    refit, updated = os.path.join(tmp, 'refit.json'), os.path.join(tmp, 'updated.json')
    contenders = {
        'full refit (fit --method normal)': DISTREG + [
            'fit', path, '--engine', 'mrjob-local', '--method', 'normal', '--quiet',
            '--out', refit],
        'update with 10 % new rows': DISTREG + ['update', old_record, new, '--engine',
                                                'mrjob-local', '--quiet', '--out', updated]}
    medians, times = alternate(contenders, repeats=repeats)
    with open(refit) as f, open(updated) as g:
        a, b = json.load(f), json.load(g)
    ca, cb = ([r['intercept']] + r['coefficients'] for r in (a, b))
    agree = float(np.max(np.abs(np.subtract(ca, cb))) / np.max(np.abs(ca)))
    name = 'update 10 % / full refit, at --update-rows'
    ratio = medians['update with 10 % new rows'] / medians['full refit (fit --method normal)']
    print('\nmrjob-local update, %s (median of %d, interleaved):' % (path, repeats))
    for k, m in medians.items():
        print('  %-36s %7.2f s  (runs: %s)' % (k, m, ', '.join('%.2f' % t for t in times[k])))
    print('  the updated record and the refit agree to %.1e (coefficients, relative)' % agree)
    print('  %-44s %6.3f  (target <= 0.2: %s)' % (name, ratio, 'met' if met(name, ratio)
                                                  else 'MISSED'))
    return dict(rows=rows, seconds=medians, runs=times, ratios={name: ratio},
                coef_agreement=agree)


def spark_part(path, repeats, master):
    from distreg import cv
    from distreg.fit import FitOptions
    from spark_jobs.engine import RDDEngine
    from spark_jobs.session import get_session
    folded = with_folds(path, path[:-len('.csv')] + '.folds%d.csv' % FOLDS, FOLDS)
    spark = get_session('distreg-bench-cv', master)
    try:
        def rdd_cv():
            t0 = time.perf_counter()
            engine = RDDEngine(path, spark=spark)
            try:
                rec = cv.run(engine, FitOptions(method='normal', folds=FOLDS).validate(),
                             FOLDS, RIDGES)
            finally:
                engine.close()
            return time.perf_counter() - t0, rec

        def mllib_cv():
            from pyspark.ml.evaluation import RegressionEvaluator
            from pyspark.ml.feature import VectorAssembler
            from pyspark.ml.regression import LinearRegression
            from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
            from pyspark.sql.types import DoubleType, IntegerType, StructField, StructType
            with open(folded) as f:
                names = f.readline().strip().split(',')
            t0 = time.perf_counter()
            schema = StructType([StructField(n, DoubleType()) for n in names[:-1]]
                                + [StructField('fold', IntegerType())])
            frame = spark.read.csv(folded, header=True, schema=schema)
            # cached, as a user would: each of the 100 fits and evaluations reads it again
            data = VectorAssembler(inputCols=names[1:-1], outputCol='features').transform(
                frame).select('features', names[0], 'fold').cache()
            n, sd = frame.count(), frame.agg({names[0]: 'stddev_pop'}).first()[0]
            n_train = n * (FOLDS - 1) / FOLDS
            lr = LinearRegression(featuresCol='features', labelCol=names[0], solver='normal',
                                  standardization=False, elasticNetParam=0.0)
            grid = ParamGridBuilder().addGrid(lr.regParam, [L * sd / n_train
                                                            for L in RIDGES]).build()
            model = CrossValidator(estimator=lr, estimatorParamMaps=grid,
                                   evaluator=RegressionEvaluator(labelCol=names[0],
                                                                 metricName='rmse'),
                                   foldCol='fold', numFolds=FOLDS).fit(data)
            seconds = time.perf_counter() - t0
            data.unpersist()
            return seconds, model.avgMetrics

        rdd_cv()   # warm-up: JIT, Python workers, page cache
        times = {'spark-rdd distreg cv': [], 'MLlib CrossValidator': []}
        agree = None
        for _ in range(repeats):
            t, rec = rdd_cv()
            times['spark-rdd distreg cv'].append(t)
            t, avg = mllib_cv()
            times['MLlib CrossValidator'].append(t)
            # the two searches score the same folds: their mean RMSE at ridge 0 must agree
            agree = abs(avg[0] - rec['cv']['rmse_mean'][0]) / rec['cv']['rmse_mean'][0]
    finally:
        spark.stop()
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med['MLlib CrossValidator'] / med['spark-rdd distreg cv']
    print('\nspark-rdd cv against MLlib CrossValidator, %s (median of %d, %s):'
          % (path, repeats, master))
    for name, m in med.items():
        print('  %-32s %8.2f s  (runs: %s)' % (name, m, ', '.join('%.2f' % t
                                                                  for t in times[name])))
    print('  mean held-out RMSE at ridge 0: MLlib and distreg agree to %.1e (relative)' % agree)
    name = 'MLlib CrossValidator / spark-rdd cv'
    print('  %-36s %8.1f  (goal >= 20: %s)' % (name, ratio, 'met' if met(name, ratio)
                                               else 'MISSED'))
    return dict(seconds=med, runs=times, ratios={name: ratio}, rmse_agreement=agree,
                master=master, repeats=repeats)


def kept_part(a, part):
    """A part ``--only`` does not run, as OUT_DIR/bench.json has it (same rows and features):
    kept with when, where and on which commit it was measured (its own stamp, else the
    section's), as bench_parquet.py keeps its parts. {} when there is none."""
    previous = os.path.join(a.out_dir, 'bench.json')
    if not os.path.exists(previous):
        return {}
    with open(previous) as f:
        old = json.load(f).get('cv') or {}
    if (old.get('rows'), old.get('features')) != (a.rows, a.features) or not old.get(part):
        return {}
    kept = dict(old[part])
    kept.setdefault('measured', {k: old[k] for k in ('date', 'machine', 'commit') if k in old})
    return {part: kept}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', type=int, default=1_000_000, help='Default: %(default)s')
    p.add_argument('--features', type=int, default=20, help='Default: %(default)s')
    p.add_argument('--repeats', type=int, default=3, help='Default: %(default)s')
    p.add_argument('--mllib-repeats', type=int, default=1,
                   help='rounds of the spark-rdd / MLlib part (CrossValidator fits 100 '
                        'models). Default: %(default)s')
    p.add_argument('--master', default='local[*]', help='Default: %(default)s')
    p.add_argument('--update-rows', type=int, default=10_000_000,
                   help="rows of the update's target (0: not measured). Default: %(default)s")
    p.add_argument('--only', choices=('all', 'mrjob', 'spark'), default='all')
    p.add_argument('--out-dir', default=os.path.join(ROOT, 'results'))
    a = p.parse_args(argv)
    load_at_start = os.getloadavg()
    path = ensure_data(os.path.join(DATA_DIR, 'bench_%dx%d.csv' % (a.rows, a.features)),
                       a.rows, a.features)
    entry = dict(rows=a.rows, features=a.features, folds=FOLDS, ridge_penalties=RIDGES,
                 repeats=a.repeats, targets={k: list(v) for k, v in TARGETS.items()})
    if a.only != 'all':
        for part in (('spark',) if a.only == 'mrjob' else ('mrjob', 'update')):
            entry.update(kept_part(a, part))
    with tempfile.TemporaryDirectory(prefix='distreg-bench-cv-') as tmp:
        if a.only in ('all', 'mrjob'):
            load = os.getloadavg()
            entry['mrjob'] = mrjob_part(path, a.repeats, tmp)
            entry['mrjob']['measured'] = stamp(load)
            if a.update_rows:
                load = os.getloadavg()
                entry['update'] = update_part(a.update_rows, a.features, a.repeats, tmp)
                entry['update']['measured'] = stamp(load)
        if a.only in ('all', 'spark'):
            load = os.getloadavg()
            entry['spark'] = spark_part(path, a.mllib_repeats, a.master)
            entry['spark']['measured'] = stamp(load)
    ratios = {k: v for part in ('mrjob', 'update', 'spark')
              for k, v in entry.get(part, {}).get('ratios', {}).items()}
    entry['all_targets_met'] = all(met(k, v) for k, v in ratios.items() if k in TARGETS)
    print('wrote %s' % record(a.out_dir, 'cv', entry, load_at_start))
    return 0   # the verdicts are in the output and the JSON; `make bench` goes on


if __name__ == '__main__':
    sys.exit(main())
