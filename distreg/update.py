"""Sufficient statistics in the record: update a fit with new rows, merge fits of disjoint data.

A ``normal`` or ``qr`` fit's merged partial (the Gram of [1, x, y], or TSQR's R of [X y] with
its column scaling, with n and the label's mean and M2) is everything its answer is made of,
and partials of disjoint rows merge exactly as the engines' own tasks' do. ``--keep-stats``
puts it in the record (``sufficient_stats``, :func:`distreg.fit.keep_stats`: the aggregate, the options it was fitted with,
and the partial as :func:`distreg.blocks.encode` writes it, floats that round-trip exactly);
:func:`update` reads only the new rows (one pass), merges and solves;
:func:`merge` merges records fitted on disjoint data, by any engines, without reading data.

A qr answer from merged statistics is TSQR's, without refinement passes (they would read the
old rows again): on well-conditioned data it agrees with a fit of all the rows to about
cond x 1e-16.
"""

import time

from distreg import blocks, fit as fit_mod, optim, parquet, result
from distreg.paths import describe_source, shared_sources
from distreg.errors import DistregError

#: the fit options a record's statistics depend on (and that merging must agree on)
KEPT = fit_mod.STATS_OPTIONS
#: the parts of the record's design that must agree (LibSVM's width may grow: absent
#: features are zeros, and merges pad)
SAME_DESIGN = ('poly_degree', 'format', 'label_col', 'feature_names', 'weight_col')


def _stats(record, path):
    st = record.get('sufficient_stats')
    if not st:
        raise DistregError('%s has no sufficient statistics: fit it with --keep-stats '
                           '(--method normal or qr)' % path)
    if not isinstance(st, dict) or 'digest' not in st:
        raise DistregError('%s holds statistics without their digest (written by an earlier '
                           'distreg, or edited): fit again with --keep-stats' % path)
    if st['digest'] != fit_mod.stats_digest(record):
        raise DistregError('%s: its design or sufficient statistics were changed after distreg '
                           'wrote them (their digest does not match): they are not updated or '
                           'merged; fit again with --keep-stats' % path)
    if (record.get('design') or {}).get('levels'):
        # kept before --keep-stats refused categorical columns: their one-hot columns follow
        # the levels of those rows only, and another record's or new rows' may differ
        raise DistregError('%s has categorical columns (%s): its statistics cannot be updated '
                           'or merged (other rows may bring other levels); fit again instead'
                           % (path, ', '.join(c for c, _ in record['design']['levels'])))
    return st


def options_of(record, path):
    """The fit options of a record's statistics, for fitting new rows the same way."""
    st = _stats(record, path)
    if st['options'].get('cov', 'nonrobust') != 'nonrobust':
        raise DistregError('%s was fitted with --cov %s, whose standard errors need the '
                           'residuals of every row: fit it with --keep-stats alone to update or '
                           'merge it' % (path, st['options']['cov']))
    design = record.get('design') or {}
    opts = dict(st['options'], keep_stats=True, label_col=design.get('label_col'),
                format=design.get('format') or 'auto', weight_col=design.get('weight_col'))
    return fit_mod.FitOptions(**opts).validate()


def _check_same(a, b, what_a, what_b):
    """Refuse to merge statistics of different designs or options, naming the difference."""
    sa, sb = a['sufficient_stats'], b['sufficient_stats']
    for key in KEPT:
        if sa['options'].get(key) != sb['options'].get(key):
            raise DistregError('%s and %s were fitted differently (%s %r against %r): their '
                               'statistics do not merge' % (what_a, what_b, key,
                                                            sa['options'].get(key),
                                                            sb['options'].get(key)))
    da, db = a.get('design') or {}, b.get('design') or {}
    for key in SAME_DESIGN:
        if da.get(key) != db.get(key):
            raise DistregError('%s and %s have different designs (%s %r against %r): their '
                               'statistics do not merge' % (what_a, what_b, key, da.get(key),
                                                            db.get(key)))
    if da.get('format') != 'libsvm' and da.get('n_features') != db.get('n_features'):
        raise DistregError('%s and %s have different designs (%s against %s raw features): '
                           'their statistics do not merge' % (what_a, what_b,
                                                              da.get('n_features'),
                                                              db.get('n_features')))


def _answer(name, part, options):
    blocks.check_rows(part)
    return (optim.normal_answer if name == 'gram' else optim.tsqr_answer)(part, options)


def _refuse_shared(sources_a, sources_b, before, after):
    """Statistics that both hold the rows of a file would count them twice: refused."""
    shared = shared_sources(sources_a, sources_b)
    if shared:
        names = ', '.join(describe_source(s) for s in shared[:3]) + (
            ' and %d more' % (len(shared) - 3) if len(shared) > 3 else '')
        raise DistregError(before + names + after)


def update(record, path, engine, progress=None, bad_rows='fail'):
    """A record of ``record``'s rows and ``engine``'s (new) rows, reading only the new ones."""
    st = _stats(record, path)
    options = options_of(record, path)
    fmt = (record.get('design') or {}).get('format')
    if fmt not in (None, 'parquet') and parquet.is_parquet_input(engine.path, 'auto'):
        raise DistregError('%s was fitted on %s input and %s is Parquet: their statistics do '
                           'not merge (give the new rows in %s)' % (path, fmt, engine.path, fmt))
    new_sources = parquet.input_sources(engine.path, options.format)
    _refuse_shared(st.get('sources'), new_sources, path + ' already holds the rows of ',
                   ' (the same file, size and time): an update with them would count them '
                   'twice')
    options.bad_rows = bad_rows
    name = st['aggregate']
    old = blocks.decode(st['partial'])

    def driver(timed, options):
        # the answer carries the merged partial: fit() keeps it as the new record's statistics
        return _answer(name, blocks.merge_partials(name, old, timed.aggregate(name)), options)

    new_record = fit_mod.fit(engine, options, checked=True, progress=progress, driver=driver)
    _check_same(record, new_record, path, 'the new rows')
    new_record['sufficient_stats']['sources'] = (
        None if st.get('sources') is None else st['sources'] + new_sources)
    new_record['design']['n_features'] = max(record['design']['n_features'],
                                             new_record['design']['n_features'])
    fit_mod.seal_stats(new_record)
    return new_record


def merge(records, paths):
    """One record from records of disjoint rows (any engines), without reading any data."""
    if len(records) < 2:
        raise DistregError('merge takes two records or more')
    for path, record in zip(paths, records):
        _stats(record, path)
    for path, record in zip(paths[1:], records[1:]):
        _check_same(records[0], record, paths[0], path)
    for i in range(len(records)):
        for j in range(i + 1, len(records)):
            _refuse_shared(records[i]['sufficient_stats'].get('sources'),
                           records[j]['sufficient_stats'].get('sources'),
                           '%s and %s both hold the rows of ' % (paths[i], paths[j]),
                           ' (the same file, size and time): a merge would count them twice '
                           '(merge records of disjoint rows)')
    t0 = time.perf_counter()
    first = records[0]
    options = options_of(first, paths[0])
    name = first['sufficient_stats']['aggregate']
    part = blocks.merge_all(name, (blocks.decode(r['sufficient_stats']['partial'])
                                   for r in records))
    out = _answer(name, part, options)
    engines = sorted(set(str(r['engine']) for r in records))
    rec = result.make_record(
        'merge(%s)' % ','.join(engines), options.method, options.model, out['theta'],
        options.intercept, out['n_rows'], out['n_bad_rows'], out['iterations'],
        out['converged'], dict(out['stats'], cov_type='nonrobust'),
        seconds=time.perf_counter() - t0,
        timings=dict(load_seconds=0.0, pass_seconds=[]),
        n_rows_zero_weight=out['n_rows_zero_weight'], sum_weights=out['sum_weights'])
    rec['design'] = dict(first['design'], n_features=max(r['design']['n_features']
                                                         for r in records))
    sources = [r['sufficient_stats'].get('sources') for r in records]
    rec['sufficient_stats'] = dict(first['sufficient_stats'], partial=blocks.encode(part),
                                   sources=None if None in sources else sum(sources, []))
    fit_mod.seal_stats(rec)
    return rec
