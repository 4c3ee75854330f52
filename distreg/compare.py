"""The result comparer: engines side by side, and whether each agrees with the reference.

A record agrees when it has the same model and coefficients layout as the
reference, the same number of rows (when the reference is a fit), and

    max_i |theta_i - ref_i| / max_i |ref_i|  <=  rtol

over the intercept and coefficients (a norm-wise relative difference: it does not
blow up on a coefficient that is nearly zero).
"""

import json
import math

from distreg.errors import DistregError
from distreg.result import theta_of


def load_any(path):
    """A result record or a truth file (both have model, intercept, coefficients)."""
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise DistregError('cannot read %s: %s' % (path, e))
    for key in ('model', 'intercept', 'coefficients'):
        if key not in d:
            raise DistregError('%s is neither a result record nor a truth file: no %r'
                               % (path, key))
    return d


def difference(record, reference):
    """Norm-wise relative difference of the coefficients, or None when they are not comparable."""
    a, b = theta_of(record), theta_of(reference)
    if (len(a) != len(b) or (record['intercept'] is None) != (reference['intercept'] is None)
            or record['model'] != reference['model']):
        return None
    scale = max(abs(v) for v in b) or 1.0
    return max(abs(x - y) for x, y in zip(a, b)) / scale


def compare(records, reference=None, rtol=1e-6, names=None):
    """Return (table text, all agree?). Without ``reference`` the first record is the reference."""
    if not records:
        raise DistregError('nothing to compare: give at least one result record')
    ref = reference if reference is not None else records[0]
    columns = ([ref] if reference is not None else []) + list(records)
    verdicts = []
    for rec in records:
        diff = difference(rec, ref)
        same_rows = ('n_rows' not in ref or ref.get('engine') == 'truth'
                     or rec.get('n_rows') == ref.get('n_rows'))
        ok = diff is not None and diff <= rtol and same_rows
        verdicts.append((diff, same_rows, ok))
    n_coef = max(len(theta_of(c)) for c in columns)
    has_intercept = ref['intercept'] is not None
    names = names or _names_of(ref, n_coef - has_intercept)
    labels = (['intercept'] if has_intercept else []) + (
        list(names) if names else ['x%d' % i for i in range(1, n_coef + 1 - has_intercept)])
    header = [''] + [_title(c) for c in columns]
    rows = []
    for i, label in enumerate(labels):
        rows.append([label] + [_fmt(theta_of(c)[i]) if i < len(theta_of(c)) else '-'
                               for c in columns])
    for key in ('n_rows', 'n_bad_rows', 'iterations', 'converged', 'seconds'):
        rows.append([key] + [_fmt(c.get(key), key) for c in columns])
    diff_cells, agree_cells = [], []
    if reference is not None:
        diff_cells.append('(reference)')
        agree_cells.append('')
    for i, (diff, same_rows, ok) in enumerate(verdicts):
        is_ref = reference is None and i == 0
        diff_cells.append('(reference)' if is_ref else 'n/a' if diff is None else '%.2e' % diff)
        agree_cells.append('yes' if ok else 'NO' if same_rows else 'NO (rows differ)')
    rows.append(['max rel diff'] + diff_cells)
    rows.append(['agrees'] + agree_cells)
    widths = [max(len(str(r[j])) for r in [header] + rows) for j in range(len(header))]
    line = lambda r: '  '.join(str(v).rjust(w) if j else str(v).ljust(w)
                               for j, (v, w) in enumerate(zip(r, widths)))
    out = [line(header), '-' * (sum(widths) + 2 * (len(widths) - 1))]
    out += [line(r) for r in rows]
    all_ok = all(ok for _, _, ok in verdicts)
    out.append('')
    out.append('%s (rtol %g, against %s)' % ('all agree' if all_ok else 'DISAGREEMENT',
                                             rtol, _title(ref)))
    return '\n'.join(out), all_ok


def _names_of(record, n):
    """The coefficients' names from a record's ``design`` (``x^2``, ``region[T.north]``), or
    None when it has none or they do not count ``n``."""
    from distreg.design import Design
    d = record.get('design') or {}
    if not d.get('feature_names'):
        return None
    design = Design(intercept=record['intercept'] is not None,
                    degree=d.get('poly_degree') or 1).with_levels(d.get('levels'))
    found = design.coef_names(d['feature_names'])
    return found if len(found) == n else None


def _title(rec):
    if rec.get('engine') == 'truth':
        return 'truth'
    return '%s/%s' % (rec.get('engine'), rec.get('method'))


def _fmt(v, key=None):
    if v is None:
        return '-'
    if isinstance(v, bool):
        return 'yes' if v else 'no'
    if isinstance(v, int):
        return str(v)
    if key == 'seconds':
        return '%.2f' % v
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return '%.12g' % v
