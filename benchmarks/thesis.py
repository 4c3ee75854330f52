"""The project's thesis, measured: iterative logistic regression on MapReduce vs Spark.

    python benchmarks/thesis.py [--rows 1000000] [--features 20] [--iters 10]
                                [--hadoop-iters 3] [--engines LIST] [--out-dir results]

The same logistic regression (gradient descent, ``--tol 0``: every engine runs exactly
``--iters`` iterations, none stops early) on the same data (``distreg generate``, kept
under data/), on:

  numpy          the single-process reference (re-reads the file every pass)
  mrjob-local    one MapReduce job per pass, local runner (2 map tasks), its tasks forked
                 by the job's task server (jobs/task_server.py)
  mrjob-local-fresh  the same with a fresh interpreter per task, as mrjob's own local
                 runner and Hadoop streaming start them (``DISTREG_TASK_SERVER=0``): the
                 difference is what starting Python costs a MapReduce job
  mrjob-hadoop   one job per pass on YARN, input in HDFS (a MiniCluster started and
                 stopped here); ``--hadoop-iters`` iterations only (default 3): a YARN job
                 costs tens of seconds on this machine
  spark-rdd      cached RDD, local[2]
  spark-cluster  cached RDD on a standalone cluster (2 workers x 1 core, started and
                 stopped here)
  spark-mllib    LogisticRegression(maxIter=iters, tol=0), its own L-BFGS: its final loss
                 is compared (not each iteration's), its time per iteration is the mean

Per engine: the load, the first iteration (the first pass; for Spark the load is part of
it, as in the RDD paper: reading and caching happen in the first iteration), each later
iteration's seconds, the loss of every iteration, and where a later iteration's time goes
(see benchmarks/probes.py). distreg's own engines must reach the same loss at every
iteration to 1e-9 relative (checked and printed; exit 1 otherwise).

Writes OUT_DIR/thesis.json, thesis.md (the table) and thesis.png (first vs later iteration
per engine, log scale, in the manner of the RDD paper's logistic-regression figure). The
machine is shared: absolute seconds move with the load, ratios measured in one run less so.
"""

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import DATA_DIR, ROOT, ensure_data, stamp  # noqa: E402
from benchmarks.probes import Probe, compute_floor  # noqa: E402
from distreg.fit import FitOptions, fit  # noqa: E402
from distreg.numpy_engine import NumpyEngine  # noqa: E402

ENGINES = ('numpy', 'mrjob-local', 'mrjob-local-fresh', 'mrjob-hadoop', 'spark-rdd',
           'spark-cluster', 'spark-mllib')
LOSS_RTOL = 1e-9
MR_PARTS = ('launch', 'read', 'parse', 'compute', 'reduce')
SPARK_PARTS = ('driver', 'tasks', 'python', 'compute')


def options(iters):
    return FitOptions(method='gd', model='logistic', tol=0.0, max_iter=iters)


def summarise(name, record, probe=None, load_in_first=False):
    """The engine's entry of thesis.json from its record (and its probe's passes)."""
    hist = record['history']
    secs = [h['seconds'] for h in hist]
    later = [b - a for a, b in zip(secs, secs[1:])]
    load = record['timings']['load_seconds'] or 0.0
    entry = dict(engine=name, iterations=record['iterations'], load_seconds=load,
                 first_iteration_seconds=secs[0] + (load if load_in_first else 0.0),
                 first_includes_load=load_in_first,
                 later_iteration_seconds=later,
                 later_median=statistics.median(later) if later else None,
                 loss=[h['loss'] for h in hist], seconds=record['seconds'],
                 pass_seconds=record['timings']['pass_seconds'])
    if probe is not None:
        entry['passes'] = probe.passes
        # the split of a later iteration: medians over the gradient passes after the first
        grads = [p for p in probe.passes if p['aggregate'] == 'gradient' and 'split' in p]
        if grads:
            keys = list(grads[0]['split'])
            entry['split'] = {k: statistics.median(p['split'][k] for p in grads) for k in keys}
            for extra in ('map_output_bytes', 'result_bytes', 'map_tasks', 'tasks'):
                if extra in grads[0]:
                    entry[extra] = grads[0][extra]
    return entry


def run_numpy(path, iters):
    rec = fit(NumpyEngine(path), options(iters), progress=sys.stderr)
    return summarise('numpy', rec), rec


def run_mrjob(path, iters, name='mrjob-local', label=None, environ=None):
    from hdfs_utils.env import environment
    from jobs.engine import MRJobEngine
    with environment(environ):
        probe = Probe(MRJobEngine(path, name))
        try:
            rec = fit(probe, options(iters), progress=sys.stderr)
        finally:
            probe.close()
    return summarise(label or name, rec, probe), rec


def run_hadoop(path, iters):
    from hdfs_utils import minicluster
    from hdfs_utils.env import environment
    run_dir = os.path.join(ROOT, '.run', 'hadoop-thesis')
    print('== starting a Hadoop MiniCluster (HDFS + YARN) in %s' % run_dir, file=sys.stderr)
    with minicluster.running(run_dir) as info, environment(info.env()):
        return run_mrjob(path, iters, 'mrjob-hadoop')


def run_spark(path, iters, master, label, compute):
    from distreg.engine import make_engine
    from spark_jobs.session import get_session
    spark = get_session('distreg-thesis-%s' % label, master, python_only=True)
    try:
        probe = Probe(make_engine('spark-rdd', path, spark=spark), spark=spark, compute=compute)
        try:
            rec = fit(probe, options(iters), progress=sys.stderr)
        finally:
            probe.close()
        entry = summarise(label, rec, probe, load_in_first=True)
        entry['master'] = master
        return entry, rec
    finally:
        spark.stop()


def run_spark_cluster(path, iters, compute):
    from spark_jobs import cluster
    state_dir = os.path.join(ROOT, '.spark', 'thesis')
    print('== starting a Spark standalone cluster (2 workers x 1 core) in %s' % state_dir,
          file=sys.stderr)
    if cluster.read_state(state_dir) is not None:
        cluster.stop(state_dir)  # a run killed before its teardown left one behind
    state = cluster.start(state_dir, workers=2, cores=1, memory='2g')
    try:
        return run_spark(path, iters, state['master_url'], 'spark-cluster', compute)
    finally:
        cluster.stop(state_dir)


def run_mllib(path, iters):
    from distreg.engine import make_engine
    from spark_jobs.session import get_session
    spark = get_session('distreg-thesis-mllib', 'local[2]')
    sc = spark.sparkContext
    try:
        engine = make_engine('spark-mllib', path, spark=spark)
        sc.setJobGroup('distreg-thesis-mllib', 'MLlib LogisticRegression')
        try:
            rec = fit(engine, FitOptions(method='lbfgs', model='logistic', tol=0.0,
                                         max_iter=iters))
        finally:
            engine.close()
        # MLlib's own jobs: one summary pass, then one loss-and-gradient job
        # (RDDLossFunction) per function evaluation of its L-BFGS
        store = sc._jsc.sc().statusStore()
        jobs = []
        for j in sorted(sc.statusTracker().getJobIdsForGroup('distreg-thesis-mllib')):
            jd = store.job(j)
            if jd.submissionTime().isDefined() and jd.completionTime().isDefined():
                jobs.append((str(jd.name()), (jd.completionTime().get().getTime()
                                              - jd.submissionTime().get().getTime()) / 1e3))
    finally:
        spark.stop()
    train = rec['timings']['pass_seconds'][0]
    evals = [sec for name, sec in jobs if 'RDDLossFunction' in name]
    summary = sum(sec for name, sec in jobs if 'Summarizer' in name)
    entry = dict(engine='spark-mllib', iterations=rec['iterations'],
                 load_seconds=rec['timings']['load_seconds'],
                 first_iteration_seconds=(rec['timings']['load_seconds'] + summary + evals[0]
                                          if evals else None),
                 first_includes_load=True,
                 later_iteration_seconds=evals[1:],
                 later_median=statistics.median(evals[1:]) if len(evals) > 1 else None,
                 train_seconds=train, jobs=jobs,
                 loss=[h['loss'] for h in rec['history']], seconds=rec['seconds'],
                 note='MLlib L-BFGS, all in the JVM: one job per loss-and-gradient '
                      '(Spark status store); first = load + summary pass + first job')
    return entry, rec


def check_losses(results, reference='numpy'):
    """Max relative difference of each distreg engine's loss per iteration from numpy's."""
    ref = results[reference]['loss']
    out = {}
    for name, e in results.items():
        if name in (reference, 'spark-mllib'):
            continue
        n = min(len(ref), len(e['loss']))
        diffs = [abs(a - b) / abs(b) for a, b in zip(e['loss'][:n], ref[:n])]
        out[name] = dict(iterations_compared=n, max_rel_diff=max(diffs),
                         ok=max(diffs) <= LOSS_RTOL)
    return out


def optimum_loss(path):
    """The converged loss (Newton to its default tolerance): what MLlib's is compared with."""
    rec = fit(NumpyEngine(path), FitOptions(method='newton', model='logistic'))
    return rec['history'][-1]['loss'] if rec['history'] else None


def fmt(v, unit=' s'):
    if v is None:
        return '-'
    if v >= 100:
        return '%.0f%s' % (v, unit)
    if v >= 10:
        return '%.1f%s' % (v, unit)
    return '%.2f%s' % (v, unit) if v >= 0.1 else '%.3f%s' % (v, unit)


def split_text(e):
    s = e.get('split')
    if not s:
        return e.get('note', '-') if e['engine'] == 'spark-mllib' else 'one process'
    parts = MR_PARTS if 'launch' in s else SPARK_PARTS
    return ' · '.join('%s %s' % (k, fmt(max(s[k], 0.0))) for k in parts)


def table(doc):
    res = doc['engines']
    base = res.get('spark-rdd', {}).get('later_median')
    lines = ['| engine | load | first iteration | later iteration (median) | later vs '
             'spark-rdd | where a later iteration goes |',
             '|---|---|---|---|---|---|']
    for name in ENGINES:
        if name not in res:
            continue
        e = res[name]
        ratio = ('%.1fx' % (e['later_median'] / base)) if base and e['later_median'] else '-'
        first = fmt(e['first_iteration_seconds'])
        if e.get('first_includes_load'):
            first += ' (load incl.)'
        lines.append('| %s | %s | %s | %s | %s | %s |' % (
            name + (' (%d it.)' % e['iterations'] if e['iterations'] != doc['iterations']
                    else ''),
            fmt(e['load_seconds']), first, fmt(e['later_median']), ratio, split_text(e)))
    return '\n'.join(lines)


def picture(doc, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np
    res = doc['engines']
    names = [n for n in ENGINES if n in res]
    first = [res[n]['first_iteration_seconds'] or np.nan for n in names]
    later = [res[n]['later_median'] or np.nan for n in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    b1 = ax.bar(x - 0.2, first, 0.4, label='first iteration', color='#4c72b0')
    b2 = ax.bar(x + 0.2, later, 0.4, label='later iterations (median)', color='#dd8452')
    for bars in (b1, b2):
        for r in bars:
            h = r.get_height()
            if np.isfinite(h):
                ax.annotate(fmt(h, ''), (r.get_x() + r.get_width() / 2, h), ha='center',
                            va='bottom', fontsize=8)
    ax.set_yscale('log')
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontsize=9)
    ax.set_ylabel('seconds (log scale)')
    ax.set_title('Logistic regression, gd, %s rows x %d features: seconds per iteration\n'
                 '(%s, %d cores, load average %.1f at the start)'
                 % ('{:,}'.format(doc['rows']), doc['features'], doc['date'][:10],
                    doc['machine']['cores'], doc['machine']['load_average_at_start'][0]),
                 fontsize=10)
    ax.legend()
    ax.grid(True, axis='y', which='both', alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--rows', type=int, default=1000000)
    ap.add_argument('--features', type=int, default=20)
    ap.add_argument('--iters', type=int, default=10)
    ap.add_argument('--hadoop-iters', type=int, default=3)
    ap.add_argument('--engines', default=','.join(ENGINES),
                    help='comma-separated subset of: %s' % ', '.join(ENGINES))
    ap.add_argument('--out-dir', default=os.path.join(ROOT, 'results'))
    args = ap.parse_args(argv)
    engines = [e.strip() for e in args.engines.split(',') if e.strip()]
    unknown = set(engines) - set(ENGINES)
    if unknown:
        ap.error('unknown engines: %s' % ', '.join(sorted(unknown)))
    if 'numpy' not in engines:
        engines.insert(0, 'numpy')  # the reference of the loss check
    path = ensure_data(os.path.join(DATA_DIR, 'thesis-logistic-%dx%d.csv'
                                    % (args.rows, args.features)),
                       args.rows, args.features, model='logistic')
    print('== thesis: logistic gd, %d x %d, %d iterations (mrjob-hadoop: %d), tol 0'
          % (args.rows, args.features, args.iters, args.hadoop_iters), file=sys.stderr)
    t_start = time.time()
    load_at_start = os.getloadavg()
    compute = None
    if any(e.startswith('spark-') and e != 'spark-mllib' for e in engines):
        compute = compute_floor(path, options(args.iters), partitions=2)
        print('== compute floor (numpy, one of 2 partitions in memory): gradient %.4f s, '
              'hessian %.4f s' % (compute['gradient'], compute['hessian']), file=sys.stderr)
    results = {}
    for name in engines:
        print('== %s' % name, file=sys.stderr)
        if name == 'numpy':
            results[name], _ = run_numpy(path, args.iters)
        elif name == 'mrjob-local':
            results[name], _ = run_mrjob(path, args.iters)
        elif name == 'mrjob-local-fresh':
            results[name], _ = run_mrjob(path, args.iters, label=name,
                                         environ={'DISTREG_TASK_SERVER': '0'})
        elif name == 'mrjob-hadoop':
            results[name], _ = run_hadoop(path, args.hadoop_iters)
        elif name == 'spark-rdd':
            results[name], _ = run_spark(path, args.iters, 'local[2]', 'spark-rdd', compute)
        elif name == 'spark-cluster':
            results[name], _ = run_spark_cluster(path, args.iters, compute)
        elif name == 'spark-mllib':
            results[name], _ = run_mllib(path, args.iters)
    checks = check_losses(results)
    mllib = None
    if 'spark-mllib' in results:
        best = optimum_loss(path)
        m_final = results['spark-mllib']['loss'][-1]
        gd_final = results['numpy']['loss'][-1]
        mllib = dict(optimum_loss=best, mllib_final_loss=m_final, gd_final_loss=gd_final,
                     mllib_rel_gap=(m_final - best) / abs(best),
                     gd_rel_gap=(gd_final - best) / abs(best))
    ratios = {}
    base = results.get('spark-rdd', {}).get('later_median')
    for name in ('mrjob-local', 'mrjob-local-fresh', 'mrjob-hadoop', 'spark-cluster', 'numpy'):
        if base and name in results and results[name]['later_median']:
            ratios['%s / spark-rdd (later iteration)' % name] = \
                results[name]['later_median'] / base
    doc = dict(stamp(load_at_start),
               rows=args.rows, features=args.features, data_bytes=os.path.getsize(path),
               iterations=args.iters,
               hadoop_iterations=args.hadoop_iters, method='gd', tol=0.0,
               compute_floor=compute, engines=results, loss_check=checks,
               mllib_check=mllib, ratios=ratios,
               wall_seconds=time.time() - t_start)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, 'thesis.json'), 'w') as f:
        json.dump(doc, f, indent=1)
    md = table(doc)
    with open(os.path.join(args.out_dir, 'thesis.md'), 'w') as f:
        hadoop = (' (mrjob-hadoop %d)' % args.hadoop_iters) if 'mrjob-hadoop' in results else ''
        f.write('Logistic regression (gd, tol 0), %s rows x %d features, %d iterations%s; '
                '%s, %d cores, load average %.1f at the start, %.1f at the end.\n\n%s\n'
                % ('{:,}'.format(args.rows), args.features, args.iters, hadoop,
                   doc['date'], doc['machine']['cores'], load_at_start[0],
                   doc['machine']['load_average_at_end'][0], md))
    picture(doc, os.path.join(args.out_dir, 'thesis.png'))
    print('\n' + md)
    print('\nloss check (same loss at every iteration as numpy, rtol %g):' % LOSS_RTOL)
    ok = True
    for name, c in checks.items():
        ok &= c['ok']
        print('  %-14s %2d iterations  max rel diff %.2e  %s'
              % (name, c['iterations_compared'], c['max_rel_diff'], 'ok' if c['ok'] else 'FAIL'))
    if mllib:
        print('  spark-mllib    final loss %.12g vs optimum %.12g: rel gap %.2e '
              '(distreg gd after %d iterations: %.2e)'
              % (mllib['mllib_final_loss'], mllib['optimum_loss'], mllib['mllib_rel_gap'],
                 args.iters, mllib['gd_rel_gap']))
    for k, v in ratios.items():
        print('ratio %s = %.1fx' % (k, v))
    print('wrote %s/thesis.json, thesis.md, thesis.png' % args.out_dir)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
