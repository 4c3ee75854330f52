"""Using a fitted model: ``distreg predict`` and ``distreg evaluate`` on any engine.

The model and its design (intercept, polynomial degree, label column, format,
the raw features) come from the result record, so a model fitted on one engine
scores rows on any other. This module is the engine-free driver; the block
functions are :func:`distreg.blocks.prediction_lines`, the ``evaluate``
aggregate and :class:`distreg.blocks.AucRange`. An engine provides:

    engine.prepare(options) -> Schema   # as for fit; options.n_features checks the width
    engine.predict(params, out) -> n    # write one line per input row to out (see below)
    engine.evaluate(params) -> (partial, AucRange or None)   # one pass over the data

Output of ``predict``: one line per input row, in input order (a local file),
or part files in split order (an ``hdfs://`` or ``s3://`` directory). Linear:
the prediction; logistic: ``probability,class`` (class 1 when p >= 0.5);
Poisson: the mean exp(eta), eta = x'theta + offset. A row rejected under ``--bad-rows skip`` keeps its place: an empty line in a local
file; in part files, ``#`` and the rejection's JSON. It is also counted and
kept in the rejects file, as in ``fit``.

Metrics of ``evaluate`` (held-out rows): linear: n, RMSE, MAE, R² = 1 - SSE/TSS
(TSS about the held-out mean). Logistic: n, log loss (mean negative
log-likelihood), accuracy and the confusion matrix at 0.5, ROC AUC (exact, ties
counted one half, from the engine's sort of the scores). Poisson: n, mean
Poisson deviance (the mean of 2 (y log(y/mu) - (y - mu)), mu = exp(eta)), RMSE
and MAE of y - mu.
"""

import contextlib
import json
import math
import os
import time

from distreg import result
from distreg.errors import DistregError
from distreg.interrupt import deferred
from distreg.blocks import check_rows
from distreg.fit import FitOptions

#: Marks a rejected row's place in part-file outputs (a prediction never starts with it).
REJECT_MARK = '#'


class Model:
    """The parts of a result record that score new rows."""

    def __init__(self, record, source='the result record'):
        design = record.get('design')
        if not design or any(k not in design for k in result.DESIGN_KEYS
                             if k not in result.OPTIONAL_DESIGN_KEYS):
            raise DistregError(
                '%s has no "design" (poly degree, features, label column, format): it was '
                'written by an older distreg; fit again to predict with it' % source)
        _check_model(record, design, source)
        self.record = record
        self.model = record['model']
        self.intercept = record['intercept'] is not None
        self.theta = [float(v) for v in result.theta_of(record)]
        self.design = design

    def options(self, bad_rows='fail'):
        """:class:`FitOptions` that read new rows as the model's rows were read."""
        d = self.design
        # the method is not used; the rest was validated when the model was fitted
        # CSV and Parquet are told apart by their bytes: a model fitted on one scores the
        # other; Parquet columns are taken by the names the model was fitted with
        tabular = d['format'] in ('csv', 'parquet')
        return FitOptions(method='normal', model=self.model, intercept=self.intercept,
                          poly_degree=d['poly_degree'], label_col=d['label_col'],
                          weight_col=d.get('weight_col'), offset_col=d.get('offset_col'),
                          cov='nonrobust' if d.get('cluster_col') is None
                          else 'cluster:%s' % d['cluster_col'],
                          categorical=[name for name, _ in d['levels']]
                          if d.get('levels') else None, levels=d.get('levels'),
                          bad_rows=bad_rows, format='auto' if tabular else d['format'],
                          n_features=d['n_features'],
                          features=','.join(d['feature_names'] + [
                              name for name, _ in d.get('levels') or ()])
                          if d['format'] == 'parquet' and d['feature_names'] is not None
                          else None)

    def params(self):
        out = {'theta': self.theta, 'model': self.model}
        if self.design.get('levels'):
            out['levels'] = self.design['levels']
        return out


def _check_model(record, design, source):
    """Refuse a record whose model cannot be what distreg fitted: a hand-edited or damaged
    record (coefficients that are not numbers, or not as many as the design's columns)
    would otherwise score every row with exit 0, or stop with a traceback."""
    from distreg.design import Design
    from distreg.loader import FORMATS, MODELS

    def refuse(why):
        raise DistregError('%s is not a model distreg can score with: %s' % (source, why))

    def number(v):
        return (isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v))

    def column(v):
        return v is None or isinstance(v, str) or (isinstance(v, int)
                                                   and not isinstance(v, bool) and v >= 0)

    if record.get('model') not in MODELS:
        refuse('its model is %r, not one of %s' % (record.get('model'), ', '.join(MODELS)))
    coefs = record.get('coefficients')
    if not isinstance(coefs, list) or not all(number(v) for v in coefs):
        refuse('its coefficients are not a list of finite numbers')
    if record.get('intercept') is not None and not number(record['intercept']):
        refuse('its intercept is %r, not a finite number (or null: no intercept)'
               % (record['intercept'],))
    degree, width = design.get('poly_degree'), design.get('n_features')
    for key, v in (('poly_degree', degree), ('n_features', width)):
        if not isinstance(v, int) or isinstance(v, bool) or v < (key == 'poly_degree'):
            refuse('its design\'s %s is %r, not a whole number' % (key, v))
    if design.get('format') not in FORMATS:
        refuse('its design\'s format is %r, not one of %s'
               % (design.get('format'), ', '.join(FORMATS)))
    for key in ('label_col', 'weight_col', 'offset_col', 'cluster_col'):
        if not column(design.get(key)):
            refuse('its design\'s %s is %r, not a column name or index' % (key, design[key]))
    names = design.get('feature_names')
    if names is not None and (not isinstance(names, list) or len(names) != width
                              or not all(isinstance(n, str) for n in names)):
        refuse('its design\'s feature_names are not %d column names' % width)
    levels = design.get('levels')
    if levels is not None and (not isinstance(levels, list) or not all(
            isinstance(c, list) and len(c) == 2 and isinstance(c[0], str)
            and isinstance(c[1], list) and c[1] for c in levels)):
        refuse('its design\'s levels are not [[column, [level, ...]], ...]')
    columns = Design(intercept=record['intercept'] is not None, degree=degree).with_levels(
        levels).n_coef(width)
    if 1 + len(coefs) - (record['intercept'] is None) != columns:
        refuse('it has %d coefficients (intercept included) where its design (%s%d '
               'features, degree %d%s) has %d columns'
               % (len(coefs) + (record['intercept'] is not None),
                  'an intercept, ' if record['intercept'] is not None else '', width, degree,
                  ', %d categorical' % len(levels) if levels else '', columns))


def predict(engine, model, out, bad_rows='fail'):
    """Score every row of the engine's input into ``out``; return a summary dict."""
    t0 = time.perf_counter()
    _check_offset(engine.prepare(model.options(bad_rows)), model)
    if out.endswith('.parquet') and '://' not in out:
        n = _predict_parquet(engine, model, out)
    else:
        n = engine.predict(model.params(), out)
    return dict(n_lines=n, n_bad_rows=len(engine.rejects), seconds=time.perf_counter() - t0)


def evaluate(engine, model, bad_rows='fail'):
    """Held-out metrics of ``model`` on the engine's input (one pass); a JSON-ready dict."""
    t0 = time.perf_counter()
    schema = engine.prepare(model.options(bad_rows))
    _check_offset(schema, model)
    if schema.format != 'libsvm' and schema.label is None:
        raise DistregError('evaluate needs the label: the input has the %d features only'
                           % model.design['n_features'])
    part, auc = engine.evaluate(model.params())
    check_rows(part)
    out = metrics(part, model.model, auc)
    out.update(engine=engine.name, n_bad_rows=part['n_bad'],
               seconds=time.perf_counter() - t0)
    return out


def _check_offset(schema, model):
    """A model fitted with an offset scores only rows that have it (it is part of the mean)."""
    if model.design.get('offset_col') is not None and getattr(schema, 'offset', None) is None:
        raise DistregError('the model was fitted with the offset column %r: the rows to score '
                           'need it, and %s input has no offset column'
                           % (model.design['offset_col'], schema.format))


def _predict_parquet(engine, model, out):
    """``predict --out X.parquet``: the engine's lines, in input order, as a Parquet file
    (linear: ``prediction``; logistic: ``probability``, ``class``; a rejected row: nulls)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    lines_path = '%s.%d.lines' % (out, os.getpid())
    try:
        n = engine.predict(model.params(), lines_path)
        with open(lines_path) as f:
            rows = [line.rstrip('\n').split(',') if line.strip() else None for line in f]
        first = [None if r is None else float(r[0]) for r in rows]
        if model.model == 'logistic':
            table = pa.table({'probability': pa.array(first, pa.float64()),
                              'class': pa.array([None if r is None else int(r[1])
                                                 for r in rows], pa.int64())})
        else:
            table = pa.table({'prediction': pa.array(first, pa.float64())})
        tmp = '%s.%d.tmp' % (out, os.getpid())
        pq.write_table(table, tmp)
        os.replace(tmp, out)
        return n
    finally:
        with deferred():
            for path in (lines_path, '%s.%d.tmp' % (out, os.getpid())):
                if os.path.exists(path):
                    os.remove(path)


def metrics(part, model, auc=None):
    """Metrics from a merged ``evaluate`` partial (and the :class:`AucRange` of its scores)."""
    n = part['n']
    if model == 'logistic':
        (tn, fp), (fn, tp) = part['confusion'].tolist()
        return dict(model=model, n=n, log_loss=part['log_loss_sum'] / n,
                    accuracy=(tn + tp) / n,
                    confusion=dict(tn=tn, fp=fp, fn=fn, tp=tp),
                    roc_auc=auc.auc() if auc is not None else None)
    tss = part['y_m2']
    if model == 'poisson':
        return dict(model=model, n=n, mean_poisson_deviance=part['deviance_sum'] / n,
                    rmse=math.sqrt(part['sse'] / n), mae=part['sae'] / n)
    return dict(model=model, n=n, rmse=math.sqrt(part['sse'] / n), mae=part['sae'] / n,
                r2=1.0 - part['sse'] / tss if tss > 0 else None)


def table(m):
    """The metrics as a small text table."""
    rows = [('engine', m.get('engine')), ('rows', m['n']), ('rejected rows', m.get('n_bad_rows'))]
    if m['model'] == 'logistic':
        c = m['confusion']
        rows += [('log loss', m['log_loss']), ('accuracy', m['accuracy']),
                 ('ROC AUC', m['roc_auc']),
                 ('confusion at 0.5', 'tn %d  fp %d  fn %d  tp %d'
                  % (c['tn'], c['fp'], c['fn'], c['tp']))]
    elif m['model'] == 'poisson':
        rows += [('mean deviance', m['mean_poisson_deviance']), ('RMSE', m['rmse']),
                 ('MAE', m['mae'])]
    else:
        rows += [('RMSE', m['rmse']), ('MAE', m['mae']), ('R-squared', m['r2'])]
    lines = ['%s regression, held-out metrics' % m['model'], '-' * 44]
    for label, v in rows:
        text = '-' if v is None else ('%.10g' % v if isinstance(v, float) else str(v))
        lines.append('%-18s %s' % (label, text))
    return '\n'.join(lines)


@contextlib.contextmanager
def local_output(path):
    """A text file open for writing that appears as ``path`` only when complete.

    Written beside ``path`` and renamed at the end; removed when anything fails, so
    a partial output never looks like a whole one.
    """
    tmp = '%s.%d.tmp' % (path, os.getpid())
    try:
        with open(tmp, 'w') as f:
            yield f
        os.replace(tmp, path)
    finally:
        with deferred():
            if os.path.exists(tmp):
                os.remove(tmp)


def local_lines(lines):
    """A part file's lines as a local output has them: a reject mark becomes an empty line.

    Yields ``(line, reject)``: ``reject`` is the rejected row's dict for a marked line.
    """
    for line in lines:
        if line.startswith(REJECT_MARK):
            yield '', json.loads(line[len(REJECT_MARK):])
        else:
            yield line, None
