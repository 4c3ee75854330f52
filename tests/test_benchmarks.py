"""`make thesis` and `make scaling` run end to end (small sizes, inputs in a temp dir), and
benchmarks/predict.py reads what the thesis wrote.

Both benchmarks drive the core through their own engine wrapper (benchmarks/probes.py); a
change of the engine contract that the wrapper does not follow stops them with a traceback,
which is what happened once (the engine's ``recovery`` counts): the run must exit 0, write its
JSON and its picture, and its numbers must be the fit's (gd from zero coefficients starts at
the loss n log 2 on every engine, and the engines agree at every iteration).
"""

import json
import math
import os
import subprocess
import sys

from helpers import ROOT


def run_benchmark(script, args, tmp_path):
    env = dict(os.environ, DISTREG_BENCH_DATA=str(tmp_path / 'data'))
    done = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', script)] + args
                          + ['--out-dir', str(tmp_path / 'out')], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'Traceback' not in done.stderr
    assert sorted(os.listdir(tmp_path / 'data')), 'the inputs go to DISTREG_BENCH_DATA'
    return done


def test_thesis_runs_every_local_engine_and_checks_the_losses(tmp_path):
    rows, iters = 3000, 3
    done = run_benchmark('thesis.py', ['--rows', str(rows), '--features', '3', '--iters',
                                       str(iters), '--engines',
                                       'numpy,mrjob-local,mrjob-local-fresh,spark-rdd'],
                         tmp_path)
    doc = json.loads((tmp_path / 'out' / 'thesis.json').read_text())
    assert set(doc['engines']) == {'numpy', 'mrjob-local', 'mrjob-local-fresh', 'spark-rdd'}
    for name, entry in doc['engines'].items():
        loss = entry['loss']
        assert len(loss) == iters + 1, name               # tol 0: every iteration is run
        assert abs(loss[0] - rows * math.log(2)) <= 1e-12 * rows, name
        reference = doc['engines']['numpy']['loss']
        assert max(abs(a - b) / abs(b) for a, b in zip(loss, reference)) <= 1e-9, name
        assert len(entry['later_iteration_seconds']) == iters
    for name in ('mrjob-local', 'mrjob-local-fresh'):
        assert doc['engines'][name]['split']['parse'] >= 0          # from the tasks' counters
    assert doc['engines']['spark-rdd']['tasks'] >= 1                # from Spark's status store
    assert all(c['ok'] for c in doc['loss_check'].values())
    assert 'mrjob-local / spark-rdd (later iteration)' in doc['ratios']
    assert 'load_average_at_start' in doc['machine']
    table = (tmp_path / 'out' / 'thesis.md').read_text()
    assert all(name in table for name in doc['engines'])
    assert (tmp_path / 'out' / 'thesis.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'ok' in done.stdout and 'FAIL' not in done.stdout
    # docs/scaling.md's predictions are computed from this file
    predicted = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', 'predict.py'),
                                '--thesis', str(tmp_path / 'out' / 'thesis.json'),
                                '--scaling', str(tmp_path / 'none.json')],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert '%s rows x 3 features' % '{:,}'.format(rows) in predicted.stdout
    assert 'load average' in predicted.stdout and '| 1 TB | 100 |' in predicted.stdout


def test_scaling_sweeps_rows_features_and_workers(tmp_path):
    run_benchmark('scaling.py', ['--rows', '2000,4000', '--features', '3,5', '--fixed-rows',
                                 '2000', '--engines', 'numpy,mrjob-local', '--repeats', '3'],
                  tmp_path)
    doc = json.loads((tmp_path / 'out' / 'scaling.json').read_text())
    for name in ('numpy', 'mrjob-local'):
        assert [p['rows'] for p in doc['rows_sweep'][name]] == [2000, 4000]
        for p in doc['rows_sweep'][name] + doc['features_sweep'][name]:
            assert len(p['runs']) == 3 and p['seconds'] == sorted(p['runs'])[1]  # the median
        assert [p['features'] for p in doc['features_sweep'][name]] == [3, 5]
        assert all(p['seconds'] > 0 for p in doc['rows_sweep'][name])
        line = doc['linear'][name]
        # a line through the two points (at a few thousand rows noise may tilt it either way)
        assert line['rows'] == [2000, 4000] and line['max_rel_residual'] < 1e-9
        assert abs(line['a'] + line['b'] * 4000 - doc['rows_sweep'][name][1]['seconds']) < 1e-9
        assert line['b_ratio'] is None          # two row counts: no step to compare with
        assert doc['slopes']['features'][name] is not None
    mr = doc['rows_sweep']['mrjob-local']
    assert all(p['bytes'] > 0 and p['tasks'] >= 1 for p in mr)    # the MR counters were read
    assert set(doc['workers']) == {'mrjob-local'}
    assert doc['workers']['mrjob-local']['speedup'] > 0
    assert (tmp_path / 'out' / 'scaling.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_scaling_fits_a_fixed_cost_and_a_per_row_cost():
    sys.path.insert(0, str(ROOT))
    from benchmarks.scaling import linear_summary
    rows = [100000, 300000, 1000000, 3000000, 10000000]
    exact = linear_summary([dict(rows=r, seconds=0.5 + 2e-6 * r) for r in rows])
    assert abs(exact['a'] - 0.5) < 1e-9 and abs(exact['b'] - 2e-6) < 1e-15
    assert exact['max_rel_residual'] < 1e-9 and exact['linear']
    assert exact['steps'] == [[1000000, 3000000], [3000000, 10000000]]
    assert abs(exact['b_ratio'] - 1) < 1e-9 and exact['per_row_steady']
    # a per-row cost that grows 30 % past 3e6 rows: the drift check must see it
    bent = linear_summary([dict(rows=r, seconds=0.5 + 2e-6 * r + (0.6e-6 * (r - 3000000)
                                                                 if r > 3000000 else 0))
                           for r in rows])
    assert abs(bent['b_ratio'] - 1.3) < 1e-9 and not bent['per_row_steady']
    # a fixed cost alone is no reason to fail linearity (a log-log slope would be < 1 here)
    startup = linear_summary([dict(rows=r, seconds=5.0 + 1e-7 * r) for r in rows])
    assert startup['linear'] and abs(startup['a'] - 5.0) < 1e-9
    noisy = linear_summary([dict(rows=r, seconds=(0.5 + 2e-6 * r) * f)
                            for r, f in zip(rows, (1.3, 1, 1, 1, 1))])
    assert not noisy['linear'] and noisy['max_rel_residual'] > 0.1


def test_bench_cv_measures_its_ratios_side_by_side(tmp_path):
    """benchmarks/bench_cv.py's mrjob-local part on a small input: every contender ran, the
    ratios are of its medians, and docs/bench.md's section renders them (the spark-rdd /
    MLlib part fits 100 MLlib models: `make bench` only)."""
    from benchmarks.docs import cv_section
    run_benchmark('bench_cv.py', ['--only', 'mrjob', '--rows', '3000', '--features', '3',
                                  '--repeats', '1', '--update-rows', '5000'], tmp_path)
    doc = json.loads((tmp_path / 'out' / 'bench.json').read_text())['cv']
    mr = doc['mrjob']
    assert len(doc['ridge_penalties']) == 20 and doc['folds'] == 5
    one = mr['seconds']['one fit --method normal']
    assert mr['ratios']['cv ridge / one fit'] == mr['seconds'][
        'cv --folds 5, 20 ridge penalties'] / one
    assert mr['separate_fits_estimated_seconds'] == 100 * mr['seconds'][
        'one separate fit (80 %) + evaluate (20 %)']
    text = '\n'.join(cv_section(doc, 'docs/bench.json'))
    assert '| cv ridge / one fit |' in text and 'estimated, not run' in text
    fixed = mr['seconds']['update with 1,000 new rows (fixed cost)']
    assert mr['ratios']['update of 1,000 rows (fixed cost) / full refit'] == fixed / one
    assert 'all its fixed cost' in text and '%.2f of the full refit' % (fixed / one) in text
    # the update's target, on its own input (--update-rows): the same ratio of its medians,
    # and the updated record is the refit's
    up = doc['update']
    assert up['rows'] == 5000 and up['coef_agreement'] < 1e-9
    assert up['ratios']['update 10 % / full refit, at --update-rows'] == up['seconds'][
        'update with 10 % new rows'] / up['seconds']['full refit (fit --method normal)']
    assert '`distreg update` at 5,000 rows' in text


def test_bench_parquet_measures_every_part_and_records_it(tmp_path):
    """The Parquet part of `make bench` end to end at a small size: its four parts run and
    are recorded, the numbers are the runs' own (medians of the runs, the map tasks' peak RSS
    from their counters), and docs/bench.md's generator renders them. At this size the
    tasks' fixed memory (interpreter and libraries) outweighs the file, so the exit status
    follows what was recorded rather than being 0."""
    env = dict(os.environ, DISTREG_BENCH_DATA=str(tmp_path / 'data'))
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmarks', 'bench_parquet.py'), '--rows', '3000',
         '--features', '3', '--repeats', '1', '--iters', '2', '--thesis-repeats', '1',
         '--memory-rows', '4000', '--memory-group-rows', '1000', '--out-dir',
         str(tmp_path / 'out')], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert 'Traceback' not in done.stderr, done.stderr[-3000:]
    doc = json.loads((tmp_path / 'out' / 'bench.json').read_text())['parquet']
    assert done.returncode == (0 if doc['all_targets_met'] else 1)
    for part, name, num, den in (
            ('mrjob', 'mrjob-local / numpy one-process', 'distreg mrjob-local normal',
             'pyarrow.parquet + numpy Gram (one process)'),
            ('mrjob', 'mrjob-local / numpy one-process, Arrow buffers',
             'distreg mrjob-local normal', 'pyarrow.parquet + numpy Gram, Arrow buffers'),
            ('spark', 'spark-rdd / MLlib (normal)', 'spark-rdd normal', 'MLlib normal')):
        p = doc[part]
        ratio = p['ratios'][name]
        assert ratio == p['seconds'][num] / p['seconds'][den] and ratio > 0
        assert all(p['seconds'][k] == sorted(v)[len(v) // 2] for k, v in p['runs'].items())
        assert p['measured']['machine']['load_average_at_start']
    assert set(doc['mrjob']['ratios']) == {'mrjob-local / numpy one-process',
                                           'mrjob-local / numpy one-process, Arrow buffers'}
    # the CPU time of a command's process tree (a fresh interpreter at least)
    assert all(c > 0 for c in doc['mrjob']['cpu_seconds'].values())
    th = doc['thesis']
    assert th['max_rel_loss_diff'] <= 1e-12     # the same rows in both formats
    assert len(th['later_iteration_seconds']['parquet']) == 2
    assert th['csv / parquet (mrjob-local later iteration)'] == (
        th['later_median']['csv'] / th['later_median']['parquet'])
    mem = doc['memory']
    assert mem['row_groups'] == 4 and mem['row_groups_read'] == 4 and mem['n_rows_fitted'] == 4000
    assert len(mem['tasks']) >= 1
    for t in mem['tasks']:
        assert 0 < t['rss_at_start'] <= t['peak_rss'] and t['growth'] >= 0
    assert mem['row_group_decoded_bytes'] == 1000 * 4 * 8
    sys.path.insert(0, str(ROOT))
    from benchmarks.docs import parquet_section
    page = '\n'.join(parquet_section(doc, 'docs/bench.json'))
    assert 'mrjob-local / numpy one-process' in page and 'peak RSS' in page
