"""`distreg evaluate` on 1M rows per engine: wall seconds of the command, side by side.

    python benchmarks/bench_evaluate.py [--rows 1000000] [--features 10] [--repeats 1]
                                        [--engines numpy,mrjob-local,spark-rdd]

For each model (linear: RMSE, MAE, R²; logistic: log loss, accuracy, confusion, exact ROC
AUC by the engine's sort) a model is fitted once with numpy on the same file, then each
engine evaluates it; the table gives the median wall time of the whole command (Spark's
includes starting its JVM) and the metrics, which must agree across engines.
"""

import argparse
import json
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.common import DATA_DIR, DISTREG, alternate, ensure_data  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--rows', type=int, default=1_000_000)
    p.add_argument('--features', type=int, default=10)
    p.add_argument('--repeats', type=int, default=1)
    p.add_argument('--engines', default='numpy,mrjob-local,spark-rdd')
    a = p.parse_args(argv)
    engines = a.engines.split(',')
    tmp = tempfile.mkdtemp(prefix='distreg-bench-')
    for model, method in (('linear', 'qr'), ('logistic', 'newton')):
        data = ensure_data(os.path.join(DATA_DIR, 'bench-%s-%dx%d.csv'
                                        % (model, a.rows, a.features)),
                           a.rows, a.features, model)
        record = os.path.join(tmp, model + '.json')
        alternate({"fit": DISTREG + ['fit', data, '--engine', 'numpy', '--model', model,
                                     '--method', method, '--quiet', '--out', record]},
                  repeats=1, warmup=False)
        outs = {e: os.path.join(tmp, '%s-%s.json' % (model, e)) for e in engines}
        times, _ = alternate({e: DISTREG + ['evaluate', record, data, '--engine', e,
                                         '--out', outs[e]] for e in engines},
                          repeats=a.repeats, warmup=False)
        print('== evaluate, %s, %d rows x %d features' % (model, a.rows, a.features))
        for e in engines:
            m = json.load(open(outs[e]))
            shown = {k: m[k] for k in ('rmse', 'mae', 'r2', 'log_loss', 'accuracy', 'roc_auc')
                     if k in m}
            print('%-12s %7.2f s   %s' % (e, times[e], json.dumps(shown)), flush=True)


if __name__ == '__main__':
    main()
