"""``distreg plot``: the loss of iterative fits against iteration and against seconds.

One picture, two panels, one line per result record: the loss of each iteration
(the record's ``history``) against its number, and against the seconds since
the fit started (the load included, so an engine that pays up front to cache
its input shows it). matplotlib draws with its Agg backend: no display needed.
"""

import json
import math
import os

from distreg.errors import DistregError
from distreg.result import HISTORY_KEYS


def load_history(path):
    """(label, history, load seconds) of the record at ``path``; a clear error otherwise."""
    try:
        with open(path) as f:
            record = json.load(f)
    except OSError as e:
        raise DistregError('cannot read %s: %s' % (path, e.strerror or e))
    except ValueError as e:
        raise DistregError('%s is not JSON (%s): expected a distreg result record' % (path, e))
    if not isinstance(record, dict) or not all(k in record for k in ('engine', 'method',
                                                                      'model', 'timings')):
        raise DistregError('%s is not a distreg result record (expected engine, method, model, '
                           'timings and history keys)' % path)
    history = record.get('history')
    if not history:
        raise DistregError('%s has no history (%s --method %s): plot needs records of '
                           'iterative fits (gd, lbfgs, newton) on an engine that reports its '
                           'iterations' % (path, record['engine'], record['method']))
    for i, h in enumerate(history):
        if not isinstance(h, dict) or any(k not in h for k in HISTORY_KEYS) or not _finite(
                h['loss']):
            raise DistregError('%s: history entry %d is %r: expected {%s} with a finite loss'
                               % (path, i, h, ', '.join(HISTORY_KEYS)))
    label = '%s %s' % (record['engine'], record['method'])
    return label, history, (record['timings'] or {}).get('load_seconds') or 0.0


def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def plot(paths, out, title=None):
    """Draw the records at ``paths`` into the PNG ``out``."""
    series = [load_history(p) for p in paths]
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent) or not os.access(parent, os.W_OK):
        raise DistregError('cannot write %s: %s is not a writable directory' % (out, parent))
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (by_it, by_s) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, hist, load in series:
        by_it.plot([h['iteration'] for h in hist], [h['loss'] for h in hist], marker='.',
                   label=label)
        timed = [h for h in hist if h['seconds'] is not None]
        if timed:
            by_s.plot([load + h['seconds'] for h in timed], [h['loss'] for h in timed],
                      marker='.', label=label)
    for ax, xlabel in ((by_it, 'iteration'), (by_s, 'seconds since the fit started '
                                                   '(load included)')):
        ax.set_xlabel(xlabel)
        ax.set_ylabel('loss (penalised objective)')
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    try:
        fig.savefig(out, format='png', dpi=110)
    except OSError as e:
        raise DistregError('cannot write %s: %s' % (out, e.strerror or e))
    finally:
        plt.close(fig)
    return out
