"""Past this machine, on paper: predicted times at 100 GB and 1 TB on 10 and 100 workers.

    python benchmarks/predict.py [--thesis results/thesis.json] [--out FILE.md]

(``make docs`` writes docs/predictions.md with it from docs/thesis.json and docs/scaling.json.)

Takes the rates and overheads ``benchmarks/thesis.py`` measured (per core: read, parse
and compute of a MapReduce task; a Spark load and a cached pass; the fixed cost of a
job or a pass) and predicts the summation form (one pass) and a 10-iteration logistic
fit (10 passes) for Hadoop and Spark. Every number it rests on is printed beside the
prediction; the assumptions that are not measured here are the constants below, each
with its reason. A "worker" is one core (one task slot), as measured here.
"""

import argparse
import json
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Not measured here (one machine, page cache): the disk a worker streams from. A commodity
#: disk or a cloud volume gives 100-250 MB/s; 150 MB/s per worker.
DISK_BYTES_PER_S = 150e6
#: HDFS block = one map task's input (Hadoop's default block size).
BLOCK_BYTES = 128 * 2 ** 20
#: Memory a worker can give Spark's cache (an executor of a few GB per core).
CACHE_BYTES_PER_WORKER = 8 * 2 ** 30
#: A later map-task wave costs starting its tasks: Hadoop streaming starts every task as a
#: process with a fresh Python interpreter and its imports (there is no task server on
#: YARN). Measured as the launch of an mrjob-local job whose tasks each start a fresh
#: interpreter (``DISTREG_TASK_SERVER=0``, mrjob's own way): the launch of
#: ``mrjob-local-fresh`` when thesis.json has it (``make thesis`` measures it), else this
#: value, the one an earlier run of that kind measured. The YARN launch measured on the
#: MiniCluster (container JVMs on this 2-core machine) is paid once per job, not per wave.
TASK_WAVE_START_S = 0.8
SIZES = (('100 GB', 100e9), ('1 TB', 1e12))
WORKERS = (10, 100)
ITERATIONS = 10


def rates(doc, scaling=None):
    """The measured numbers the model rests on (per core), from thesis.json."""
    e = doc['engines']
    n, size = doc['rows'], doc['data_bytes']
    out = dict(rows=n, data_bytes=size, bytes_per_row=size / n, features=doc['features'],
               date=doc['date'][:10], commit=doc.get('commit') or 'not recorded',
               load=(doc['machine'].get('load_average_at_start') or [None])[0])
    mr = e['mrjob-local']
    s, maps = mr['split'], mr['map_tasks']
    per_task_bytes, per_task_rows = size / maps, n / maps
    out['mr_read_Bps'] = per_task_bytes / max(s['read'], 1e-9)
    out['mr_parse_Bps'] = per_task_bytes / s['parse']
    out['mr_compute_rows_per_s'] = per_task_rows / s['compute']
    out['mr_local_launch_s'] = s['launch']
    if 'mrjob-hadoop' in e and e['mrjob-hadoop'].get('split'):
        h = e['mrjob-hadoop']['split']
        out['yarn_job_s'] = h['launch']
    fresh = (e.get('mrjob-local-fresh') or {}).get('split') or {}
    out['yarn_task_start_s'] = fresh.get('launch', TASK_WAVE_START_S)
    sp = e['spark-rdd']
    ss = sp['split']
    tasks = sp.get('tasks') or 2
    out['spark_pass_overhead_s'] = ss['driver'] + ss['tasks']
    out['spark_cached_rows_per_s'] = (n / tasks) / (ss['python'] + ss['compute'])
    out['spark_compute_rows_per_s'] = (n / tasks) / max(ss['compute'], 1e-9)
    # the load runs on both cores of local[2]; with the scaling sweep, its per-byte part
    # (the slope of load seconds against bytes), without the fixed cost of the first jobs
    out['spark_load_Bps'] = size / (sp['load_seconds'] * 2)
    out['spark_load_source'] = 'thesis run (fixed costs included)'
    pts = (scaling or {}).get('rows_sweep', {}).get('spark-rdd') or []
    if len(pts) >= 2 and scaling.get('features_for_rows') == doc['features']:
        xs = [p['rows'] * out['bytes_per_row'] for p in pts]
        ys = [p['load_seconds'] for p in pts]
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
        if b > 0:
            out['spark_load_Bps'] = 1.0 / (b * 2)
            out['spark_load_fixed_s'] = my - b * mx
            out['spark_load_source'] = ('slope of load seconds vs bytes over %d sizes, '
                                        'scaling.json' % len(pts))
    out['cached_bytes_per_row'] = 8 * (doc['features'] + 1)
    if 'spark-cluster' in e and e['spark-cluster'].get('split'):
        c = e['spark-cluster']['split']
        out['spark_cluster_pass_overhead_s'] = c['driver'] + c['tasks']
    return out


def predict(r, size, workers):
    """Seconds: (hadoop summation, hadoop 10 it., spark summation, spark 10 it.), notes."""
    rows = size / r['bytes_per_row']
    per_worker_bytes = size / workers
    per_worker_rows = rows / workers
    tasks = math.ceil(size / BLOCK_BYTES)
    waves = math.ceil(tasks / workers)
    # MapReduce: a pass streams its share from disk and parses it; the slower of the two
    # bounds it (they overlap), the gradient's arithmetic adds
    mr_scan = per_worker_bytes / min(DISK_BYTES_PER_S, 1 / (1 / r['mr_read_Bps']
                                                           + 1 / r['mr_parse_Bps']))
    mr_compute = per_worker_rows / r['mr_compute_rows_per_s']
    job = r.get('yarn_job_s', r['mr_local_launch_s'])
    hadoop_pass = job + (waves - 1) * r['yarn_task_start_s'] + mr_scan + mr_compute
    # Spark: the first pass reads and parses (as fast as its load went here) and caches;
    # what does not fit in the cache is read and parsed again on every later pass
    load = per_worker_bytes / min(DISK_BYTES_PER_S, r['spark_load_Bps'])
    cached_need = per_worker_rows * r['cached_bytes_per_row']
    fits = min(1.0, CACHE_BYTES_PER_WORKER / cached_need)
    overhead = r.get('spark_cluster_pass_overhead_s', r['spark_pass_overhead_s'])
    cached_pass = per_worker_rows * fits / r['spark_cached_rows_per_s']
    reread = (1 - fits) * (per_worker_bytes / min(DISK_BYTES_PER_S, r['spark_load_Bps'])
                           + per_worker_rows / r['spark_compute_rows_per_s'])
    spark_pass = overhead + cached_pass + reread
    spark_sum = overhead + load + per_worker_rows / r['spark_compute_rows_per_s']
    spark_iter = spark_sum + (ITERATIONS - 1) * spark_pass
    return dict(rows=rows, tasks=tasks, waves=waves, cached_fraction=fits,
                hadoop_summation=hadoop_pass, hadoop_logistic=ITERATIONS * hadoop_pass,
                spark_summation=spark_sum, spark_logistic=spark_iter,
                hadoop_pass=hadoop_pass, spark_later_pass=spark_pass)


def human(s):
    if s >= 3600:
        return '%.1f h' % (s / 3600)
    if s >= 60:
        return '%.0f min' % (s / 60)
    return '%.0f s' % s


def report(r):
    load = ('load average %.1f at the start' % r['load'] if r.get('load') is not None
            else 'load not recorded')
    lines = ['Measured (thesis.json, %s, commit %s; %s rows x %d features, %.0f bytes of CSV '
             'per row; %s; per core):' % (r['date'], r['commit'], '{:,}'.format(r['rows']),
                                          r['features'], r['bytes_per_row'], load), '']
    m = [('MapReduce task: read (page cache)', '%.0f MB/s' % (r['mr_read_Bps'] / 1e6)),
         ('MapReduce task: parse (pyarrow)', '%.0f MB/s' % (r['mr_parse_Bps'] / 1e6)),
         ('MapReduce task: gradient arithmetic', '%.3g rows/s' % r['mr_compute_rows_per_s']),
         ('mrjob job launch, local runner (outside the tasks; its task server forks them)',
          '%.2f s' % r['mr_local_launch_s'])]
    if 'yarn_job_s' in r:
        m.append(('Hadoop job launch on YARN (MiniCluster, outside the tasks)',
                  '%.1f s' % r['yarn_job_s']))
    m += [('Spark load (read, parse, cache; %s)' % r['spark_load_source'],
           '%.0f MB/s' % (r['spark_load_Bps'] / 1e6)),
          ('Spark cached pass (block to Python + arithmetic)',
           '%.3g rows/s' % r['spark_cached_rows_per_s']),
          ('Spark gradient arithmetic alone (numpy floor)',
           '%.3g rows/s' % r['spark_compute_rows_per_s']),
          ('Spark pass overhead, local[2] (driver + scheduling)',
           '%.3f s' % r['spark_pass_overhead_s'])]
    if 'spark_cluster_pass_overhead_s' in r:
        m.append(('Spark pass overhead, standalone cluster',
                  '%.3f s' % r['spark_cluster_pass_overhead_s']))
    lines += ['| measured | value |', '|---|---|'] + ['| %s | %s |' % x for x in m]
    lines += ['', 'Assumed (not measurable on one machine):', '',
              '| assumption | value |', '|---|---|',
              '| disk streaming rate per worker | %.0f MB/s |' % (DISK_BYTES_PER_S / 1e6),
              '| map task input (HDFS block) | %d MB |' % (BLOCK_BYTES // 2 ** 20),
              '| Spark cache per worker | %d GB |' % (CACHE_BYTES_PER_WORKER // 2 ** 30),
              '| start of a later map-task wave | %.1f s (a fresh interpreter per task, '
              'as Hadoop streaming starts them: the mrjob-local job launch measured with '
              '`DISTREG_TASK_SERVER=0`) |' % r['yarn_task_start_s'],
              '| cached row | %d bytes (%d doubles) |' % (r['cached_bytes_per_row'],
                                                        r['features'] + 1), '']
    lines += ['| data | workers | rows | map tasks (waves) | Spark cache holds | Hadoop '
              'summation | Spark summation | Hadoop 10 it. | Spark 10 it. | Hadoop / Spark '
              '(10 it.) |', '|---|---|---|---|---|---|---|---|---|---|']
    for label, size in SIZES:
        for w in WORKERS:
            p = predict(r, size, w)
            lines.append('| %s | %d | %.2g | %d (%d) | %.0f%% | %s | %s | %s | %s | %.1fx |' % (
                label, w, p['rows'], p['tasks'], p['waves'], 100 * p['cached_fraction'],
                human(p['hadoop_summation']), human(p['spark_summation']),
                human(p['hadoop_logistic']), human(p['spark_logistic']),
                p['hadoop_logistic'] / p['spark_logistic']))
    return '\n'.join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--thesis', default=os.path.join(ROOT, 'results', 'thesis.json'))
    ap.add_argument('--scaling', default=os.path.join(ROOT, 'results', 'scaling.json'))
    ap.add_argument('--out', default=None)
    args = ap.parse_args(argv)
    with open(args.thesis) as f:
        doc = json.load(f)
    scaling = None
    if os.path.exists(args.scaling):
        with open(args.scaling) as f:
            scaling = json.load(f)
    text = report(rates(doc, scaling))
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
