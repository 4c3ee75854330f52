"""The Parquet targets of ``make bench`` (issue 22), measured side by side in one run.

    python benchmarks/bench_parquet.py [--rows 1000000] [--features 20] [--repeats 9]
                                       [--only mrjob,spark,thesis,memory] [--out-dir results]

Inputs: ``distreg generate --format parquet`` (float64, snappy, one row group per 100,000
rows), the same seed as the CSV inputs of the other benchmarks, kept under data/.

1. ``mrjob``: ``distreg fit --engine mrjob-local --method normal`` on the Parquet file
   against ``benchmarks/baseline_parquet.py`` (pyarrow.parquet reads the file, numpy X'X in
   one process), end to end, alternately. Target: ratio <= 1.0. Beside them: the same fit
   on 1,000 rows (a MapReduce job's fixed cost) and the script with ``--buffers`` (columns
   from Arrow's buffers: pyarrow's ``to_numpy`` imports pandas), its ratio printed too.
2. ``spark``: spark-rdd ``--method normal`` on the Parquet file against MLlib
   ``LinearRegression(solver='normal')`` on ``spark.read.parquet`` of the same file, both
   end to end in one SparkSession, alternately. Target: ratio <= 0.5.
3. ``thesis``: a later iteration of mrjob-local's logistic gd (the thesis' MapReduce side,
   one job per iteration) on the CSV and on the same rows as Parquet, alternately; the
   speed-up CSV / Parquet, and what it does to the thesis' ratio (mrjob-local later
   iteration / spark-rdd later iteration, spark-rdd measured here too: a cached iteration
   does not read the input).
4. ``memory``: the peak RSS of each mrjob-local map task over a ~1 GB Parquet file (float64,
   row groups of ``--memory-group-rows`` rows: about 84 MB each decoded), as each task
   reports it itself (``VmHWM`` of /proc/self/status, through counters:
   ``jobs/block_job.py``, ``DISTREG_TASK_MEMORY``), against one row group's decoded size and
   the task's RSS at its start (interpreter, numpy, pyarrow). Target: a task holds one row
   group at a time, never the file (peak - start < the file's decoded size / 2).

Writes the ``parquet`` section of OUT_DIR/bench.json (``make docs`` renders docs/bench.md);
each part is stamped with its own date, load averages and commit, and ``--only`` replaces
the parts it runs, keeping the others.
Exit status 0 when every target measured is met, 1 otherwise.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import (DATA_DIR, DISTREG, PYTHON, ROOT, ensure_data,  # noqa: E402
                               record, report, stamp)

PARTS = ('mrjob', 'spark', 'thesis', 'memory')
TARGETS = {'mrjob-local / numpy one-process': 1.0, 'spark-rdd / MLlib (normal)': 0.5}
MEMORY_ENV = 'DISTREG_TASK_MEMORY'


# --------------------------------------------------------------------------- 1. mrjob

def part_mrjob(a, path):
    # the fixed cost of a MapReduce fit: the same job on 1,000 rows of the same generator
    tiny = ensure_data(os.path.join(DATA_DIR, 'bench_1000x%d.parquet' % a.features), 1000,
                       a.features, fmt='parquet')
    medians, times, cpu = alternate_cpu({
        'pyarrow.parquet + numpy Gram (one process)': [
            PYTHON, os.path.join(ROOT, 'benchmarks', 'baseline_parquet.py'), path],
        'distreg mrjob-local normal': DISTREG + ['fit', path, '--engine', 'mrjob-local',
                                                '--method', 'normal', '--quiet'],
        'distreg mrjob-local normal, 1,000 rows (fixed cost)': DISTREG + [
            'fit', tiny, '--engine', 'mrjob-local', '--method', 'normal', '--quiet'],
        # the same script without pyarrow's pandas import (columns from Arrow's buffers)
        'pyarrow.parquet + numpy Gram, Arrow buffers': [
            PYTHON, os.path.join(ROOT, 'benchmarks', 'baseline_parquet.py'), '--buffers', path],
    }, repeats=a.repeats)
    ratio = report('summation form on Parquet: mrjob-local vs one process', medians, times,
                   'distreg mrjob-local normal', 'pyarrow.parquet + numpy Gram (one process)',
                   TARGETS['mrjob-local / numpy one-process'])
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print('  CPU seconds (user + sys of the whole process tree, medians): %s' % ', '.join(
        '%s %.2f' % (k, v) for k, v in cpu_med.items()))
    buffers = (medians['distreg mrjob-local normal']
               / medians['pyarrow.parquet + numpy Gram, Arrow buffers'])
    print('  ratio mrjob-local / the script taking Arrow buffers (no pandas import) = %.2f'
          % buffers)
    return dict(seconds=medians, runs=times, cpu_seconds=cpu_med, cpu_runs=cpu,
                ratios={'mrjob-local / numpy one-process': ratio,
                        'mrjob-local / numpy one-process, Arrow buffers': buffers})


def alternate_cpu(contenders, repeats):
    """:func:`benchmarks.common.alternate` that also takes each run's CPU seconds (user +
    sys of the command and every descendant it waited for, from ``RUSAGE_CHILDREN``): on a
    loaded machine the wall time moves with the other processes, the CPU time much less."""
    import resource
    import subprocess

    def run(cmd):
        r0, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        return t1 - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    for cmd in contenders.values():   # warm-up round: the page cache holds the inputs
        run(cmd)
    times = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, cmd in contenders.items():
            w, c = run(cmd)
            times[name].append(w)
            cpu[name].append(c)
    return {name: statistics.median(ts) for name, ts in times.items()}, times, cpu


# --------------------------------------------------------------------------- 2. spark

def rdd_normal(spark, path):
    """spark-rdd's normal fit, timed as make bench's CSV part times it."""
    from benchmarks.bench_spark import rdd_normal as timed
    return timed(spark, path)


def mllib_normal(spark, path):
    """What an MLlib user writes: read the Parquet file, assemble the features, fit."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import LinearRegression
    t0 = time.perf_counter()
    frame = spark.read.parquet(path)
    names = frame.columns
    features = VectorAssembler(inputCols=names[1:], outputCol='features').transform(frame)
    LinearRegression(featuresCol='features', labelCol=names[0], solver='normal').fit(features)
    return time.perf_counter() - t0


def part_spark(a, path):
    from spark_jobs.session import get_session
    spark = get_session('distreg-bench-parquet', a.master)
    times = {'spark-rdd normal': [], 'MLlib normal': []}
    try:
        rdd_normal(spark, path)  # warm-up: JIT, Python workers, page cache
        mllib_normal(spark, path)
        for _ in range(a.repeats):
            times['spark-rdd normal'].append(rdd_normal(spark, path))
            times['MLlib normal'].append(mllib_normal(spark, path))
    finally:
        spark.stop()
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratio = report('Spark on Parquet (%s): spark-rdd normal vs MLlib normal' % a.master,
                   medians, times, 'spark-rdd normal', 'MLlib normal',
                   TARGETS['spark-rdd / MLlib (normal)'])
    return dict(seconds=medians, runs=times, master=a.master,
                ratios={'spark-rdd / MLlib (normal)': ratio})


# --------------------------------------------------------------------------- 3. thesis

def part_thesis(a):
    from benchmarks import thesis
    csv = ensure_data(os.path.join(DATA_DIR, 'thesis-logistic-%dx%d.csv'
                                   % (a.rows, a.features)), a.rows, a.features, 'logistic')
    pq = ensure_data(os.path.join(DATA_DIR, 'thesis-logistic-%dx%d.parquet'
                                  % (a.rows, a.features)), a.rows, a.features, 'logistic',
                     'parquet')
    later = {'csv': [], 'parquet': []}
    entries = {}
    loss = {}
    for _ in range(a.thesis_repeats):
        for fmt, path in (('csv', csv), ('parquet', pq)):
            entry, _ = thesis.run_mrjob(path, a.iters)
            later[fmt] += entry['later_iteration_seconds']
            entries[fmt] = entry
            loss[fmt] = entry['loss']
    spark, _ = thesis.run_spark(pq, a.iters, 'local[2]', 'spark-rdd', None)
    out = dict(iterations=a.iters, repeats=a.thesis_repeats,
               later_iteration_seconds=later,
               later_median={k: statistics.median(v) for k, v in later.items()},
               split={k: e.get('split') for k, e in entries.items()},
               spark_rdd_later_median=spark['later_median'],
               csv_bytes=os.path.getsize(csv), parquet_bytes=os.path.getsize(pq))
    med = out['later_median']
    out['csv / parquet (mrjob-local later iteration)'] = med['csv'] / med['parquet']
    out['mrjob-local / spark-rdd, csv'] = med['csv'] / spark['later_median']
    out['mrjob-local / spark-rdd, parquet'] = med['parquet'] / spark['later_median']
    # the same fit on the same rows: the losses must agree (the Parquet rows are the CSV's)
    out['max_rel_loss_diff'] = max(abs(x - y) / abs(y) for x, y in zip(loss['parquet'],
                                                                       loss['csv']))
    published = os.path.join(ROOT, 'docs', 'thesis.json')
    if os.path.exists(published):
        with open(published) as f:
            doc = json.load(f)
        out['published_thesis_ratio'] = doc.get('ratios', {}).get(
            'mrjob-local / spark-rdd (later iteration)')
    print('\nthe thesis on Parquet: mrjob-local logistic gd, %d iterations, %d runs per format'
          % (a.iters, a.thesis_repeats))
    for fmt in ('csv', 'parquet'):
        s = entries[fmt].get('split') or {}
        print('  %-8s later iteration median %.3f s  (%s)' % (
            fmt, med[fmt], ' · '.join('%s %.3f' % (k, v) for k, v in s.items())))
    print('  spark-rdd later iteration (cached) %.3f s' % spark['later_median'])
    print('  CSV -> Parquet speed-up of a MapReduce iteration: %.2fx'
          % out['csv / parquet (mrjob-local later iteration)'])
    print('  thesis ratio mrjob-local / spark-rdd: CSV %.1fx, Parquet %.1fx (published, CSV: %s)'
          % (out['mrjob-local / spark-rdd, csv'], out['mrjob-local / spark-rdd, parquet'],
             '%.1fx' % out['published_thesis_ratio'] if out.get('published_thesis_ratio')
             else 'none'))
    print('  losses CSV vs Parquet: max relative difference %.1e' % out['max_rel_loss_diff'])
    return out


# --------------------------------------------------------------------------- 4. memory

def ensure_memory_data(path, rows, features, group_rows, seed=7):
    """A linear-model Parquet file of float64 columns y, x1..xP, ``group_rows`` rows per row
    group (snappy, pyarrow's default), written a row group at a time."""
    if os.path.exists(path):
        return path
    import numpy as np
    from distreg.parquet import Writer
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    beta = rng.normal(0, 1, features)
    tmp = path + '.part'
    with Writer(tmp, ['y'] + ['x%d' % j for j in range(1, features + 1)]) as w:
        for start in range(0, rows, group_rows):
            n = min(group_rows, rows - start)
            X = rng.standard_normal((n, features))
            w.write([X @ beta + 1.0 + rng.standard_normal(n)] + [X[:, j] for j in
                                                                  range(features)])
    os.replace(tmp, path)
    return path


def part_memory(a):
    import pyarrow.parquet as pq
    from distreg.fit import FitOptions, fit
    from hdfs_utils.env import environment
    from jobs.engine import MRJobEngine
    path = ensure_memory_data(os.path.join(DATA_DIR, 'bench_memory_%dx%d_rg%d.parquet'
                                           % (a.memory_rows, a.features, a.memory_group_rows)),
                              a.memory_rows, a.features, a.memory_group_rows)
    meta = pq.ParquetFile(path).metadata
    cols = meta.num_columns
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    decoded = max(g.num_rows for g in groups) * cols * 8   # float64, no nulls
    file_decoded = meta.num_rows * cols * 8
    with environment({MEMORY_ENV: '1'}):
        engine = MRJobEngine(path, 'mrjob-local')
        try:
            rec = fit(engine, FitOptions(method='normal'))
        finally:
            engine.close()
    mem = {}
    for step in engine.counters:
        for name, v in step.get('distreg memory', {}).items():
            task, what = name[len('map task '):].split(' ', 1)
            mem.setdefault(int(task), {})[what] = v * 1024
    tasks = [dict(task=t, rss_at_start=m['RSS at start kB'], peak_rss=m['peak RSS kB'],
                  growth=m['peak RSS kB'] - m['RSS at start kB']) for t, m in sorted(mem.items())]
    groups_read = sum(s.get('distreg', {}).get('row groups read', 0) for s in engine.counters)
    out = dict(file=os.path.relpath(path, ROOT), file_bytes=os.path.getsize(path),
               rows=meta.num_rows, columns=cols, row_groups=meta.num_row_groups,
               row_group_decoded_bytes=decoded, file_decoded_bytes=file_decoded,
               row_groups_read=groups_read, n_rows_fitted=rec['n_rows'], tasks=tasks)
    peak = max(t['peak_rss'] for t in tasks)
    growth = max(t['growth'] for t in tasks)
    out.update(max_peak_rss=peak, max_growth=growth,
               growth_over_row_group=growth / decoded,
               met=growth < file_decoded / 2 and rec['n_rows'] == meta.num_rows)
    mb = 1 / 2 ** 20
    print('\nmemory of mrjob-local map tasks over %s (%.2f GB, %d row groups of %.0f MB '
          'decoded, %d rows x %d columns)' % (out['file'], out['file_bytes'] / 1e9,
                                              meta.num_row_groups, decoded * mb, meta.num_rows,
                                              cols))
    for t in tasks:
        print('  map task %d: RSS at start %.0f MB, peak RSS %.0f MB (+%.0f MB = %.2f row '
              'groups)' % (t['task'], t['rss_at_start'] * mb, t['peak_rss'] * mb,
                           t['growth'] * mb, t['growth'] / decoded))
    print('  one row group decoded: %.0f MB; the whole file decoded: %.0f MB: %s'
          % (decoded * mb, file_decoded * mb, 'a task holds a row group at a time, not the '
             'file (met)' if out['met'] else '**MISSED**'))
    return out


# --------------------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', type=int, default=1_000_000)
    p.add_argument('--features', type=int, default=20)
    # 9: the one-process script's runs fall in two groups here (page cache, pandas' import),
    # and a median of 3 moves with one of them
    p.add_argument('--repeats', type=int, default=9)
    p.add_argument('--master', default='local[*]')
    p.add_argument('--iters', type=int, default=6, help='gd iterations of the thesis part')
    p.add_argument('--thesis-repeats', type=int, default=2)
    p.add_argument('--memory-rows', type=int, default=6_000_000,
                   help='rows of the memory part (x (features + 1) x 8 bytes: ~1 GB)')
    p.add_argument('--memory-group-rows', type=int, default=500_000,
                   help='rows per row group of the memory part (84 MB decoded at 20 features)')
    p.add_argument('--only', default=','.join(PARTS),
                   help='comma-separated parts: %s' % ', '.join(PARTS))
    p.add_argument('--out-dir', default=os.path.join(ROOT, 'results'))
    a = p.parse_args(argv)
    parts = [x.strip() for x in a.only.split(',') if x.strip()]
    if set(parts) - set(PARTS):
        p.error('unknown parts: %s' % ', '.join(sorted(set(parts) - set(PARTS))))
    load_at_start = os.getloadavg()
    path = None
    if {'mrjob', 'spark'} & set(parts):
        path = ensure_data(os.path.join(DATA_DIR, 'bench_%dx%d.parquet' % (a.rows, a.features)),
                           a.rows, a.features, fmt='parquet')
        print('input: %s (%.0f MB)' % (path, os.path.getsize(path) / 1e6))
    entry = dict(rows=a.rows, features=a.features, repeats=a.repeats,
                 data=os.path.relpath(path, ROOT) if path else None,
                 targets=dict(TARGETS))
    if path:
        import pyarrow.parquet as pq
        meta = pq.ParquetFile(path).metadata
        entry.update(row_groups=meta.num_row_groups,
                     row_group_rows=meta.row_group(0).num_rows,
                     compression=meta.row_group(0).column(0).compression)
    # a part run alone replaces its own entry only: the others stay as they were measured
    # (each part carries its own date, load averages and commit: the machine is shared)
    kept = {}
    previous = os.path.join(a.out_dir, 'bench.json')
    if set(parts) != set(PARTS) and os.path.exists(previous):
        with open(previous) as f:
            old = json.load(f).get('parquet') or {}
        if (old.get('rows'), old.get('features')) == (a.rows, a.features):
            kept = {k: old[k] for k in PARTS if k in old and k not in parts}
            for k in ('data', 'row_groups', 'row_group_rows', 'compression'):
                if entry.get(k) is None and old.get(k) is not None:
                    entry[k] = old[k]
    entry.update(kept)
    run = {'mrjob': lambda: part_mrjob(a, path), 'spark': lambda: part_spark(a, path),
           'thesis': lambda: part_thesis(a), 'memory': lambda: part_memory(a)}
    for name in PARTS:
        if name in parts:
            load = os.getloadavg()
            entry[name] = run[name]()
            entry[name]['measured'] = stamp(load)
    ok = True
    for sub in ('mrjob', 'spark'):
        for k, v in (entry.get(sub) or {}).get('ratios', {}).items():
            if k in TARGETS:
                ok &= v <= TARGETS[k]
    if entry.get('memory'):
        ok &= entry['memory']['met']
    entry['all_targets_met'] = bool(ok)
    print('wrote %s' % record(a.out_dir, 'parquet', entry, load_at_start))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
