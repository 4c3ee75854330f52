"""Side-by-side timing: contenders run alternately in one session; medians and their ratio.

The machine is shared and noisy, so absolute seconds mean little; what is
reported is the ratio of medians of runs interleaved in time.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
DISTREG = [PYTHON, '-m', 'distreg.cli']
#: where the benchmarks generate their inputs once (git-ignored; ``make clean`` removes it);
#: ``DISTREG_BENCH_DATA`` puts them elsewhere (the benchmarks' own tests use a temp dir)
DATA_DIR = os.environ.get('DISTREG_BENCH_DATA') or os.path.join(ROOT, 'data')


def machine(load_at_start):
    """The ``machine`` entry of a benchmark's JSON: cores, platform, the load average at the
    start (``os.getloadavg()`` taken then) and now."""
    return dict(cores=os.cpu_count(), platform=platform.platform(),
                load_average_at_start=load_at_start, load_average_at_end=os.getloadavg(),
                note='a shared machine: absolute seconds move with its load, '
                     'ratios measured in one run less so')


def provenance():
    """Which code a benchmark measured: ``git describe``-style commit of ROOT (with
    ``-dirty`` when the work tree has uncommitted changes), or None outside a git checkout."""
    try:
        commit = subprocess.run(['git', 'rev-parse', '--short=12', 'HEAD'], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'],
                               cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ('-dirty' if dirty else '')


def stamp(load_at_start):
    """What every benchmark JSON starts with: ``date`` (UTC), ``machine`` and ``commit``."""
    import datetime
    return dict(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
                machine=machine(load_at_start), commit=provenance())


def record(out_dir, section, entry, load_at_start, name='bench.json'):
    """Put ``entry`` (with its :func:`stamp`) under ``section`` of OUT_DIR/NAME, keeping the
    other sections: ``make bench`` is two scripts, each writes its part of one file."""
    path = os.path.join(out_dir, name)
    doc = {}
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
    doc[section] = dict(stamp(load_at_start), **entry)
    os.makedirs(out_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(doc, f, indent=1)
    return path


def ensure_data(path, rows, features, model='linear', fmt='csv'):
    """Generate the benchmark input once (kept under data/, git-ignored); the same seed in
    every format, so a Parquet input holds the rows of the CSV of the same size."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        subprocess.run(DISTREG + ['generate', '--rows', str(rows), '--features', str(features),
                                  '--model', model, '--format', fmt, '--out', path],
                       check=True, cwd=ROOT)
    return path


def wall(cmd):
    """Wall seconds of one command (its output discarded; a failure stops the benchmark)."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def alternate(contenders, repeats=3, warmup=True):
    """Run each command in turn, ``repeats`` rounds; return {name: median seconds}.

    One untimed warm-up round first, so the page cache holds the input for all.
    """
    if warmup:
        for cmd in contenders.values():
            wall(cmd)
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, cmd in contenders.items():
            times[name].append(wall(cmd))
    return {name: statistics.median(ts) for name, ts in times.items()}, times


def report(title, medians, times, numerator, denominator, target):
    ratio = medians[numerator] / medians[denominator]
    print('\n%s' % title)
    for name, m in medians.items():
        print('  %-34s median %6.2f s  (runs: %s)'
              % (name, m, ', '.join('%.2f' % t for t in times[name])))
    verdict = 'meets' if ratio <= target else 'MISSES'
    print('  ratio %s / %s = %.2f  (target <= %.2f: %s)'
          % (numerator, denominator, ratio, target, verdict))
    return ratio
