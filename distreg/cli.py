"""The ``distreg`` command line: generate, fit, compare, predict, evaluate.

    distreg generate --rows N --features P [--model linear|logistic|poisson] [--noise S] [--seed K]
                     [--format csv|libsvm|parquet] --out PATH
    distreg fit INPUT --engine ENGINE --method METHOD [options] [--out RESULT.json]
    distreg compare RESULT.json... [--reference TRUTH.json] [--rtol R]
    distreg predict RESULT.json INPUT --engine ENGINE --out PATH [--bad-rows fail|skip]
    distreg evaluate RESULT.json INPUT --engine ENGINE [--out METRICS.json] [--bad-rows ...]
    distreg update RESULT.json NEW_INPUT --engine ENGINE [--out RESULT2.json]
    distreg merge RESULT.json RESULT.json... [--out RESULT.json]
    distreg cv INPUT --engine ENGINE --folds K --ridge L,L,... [--l1 L1,L1,...|path] [--out R]
    distreg plot RESULT.json... --out FILE.png

Exit status: 0 on success; 1 when the input or the fit fails (with a one-line
reason) or when ``compare`` finds a disagreement; 2 on a usage error.
"""

import argparse
import json
import os
import sys

from distreg import compare as compare_mod
from distreg import fit as fit_mod
from distreg import generate as generate_mod
from distreg import interrupt
from distreg import options as options_mod
from distreg import result
from distreg import scoring
from distreg.engine import ENGINES, make_engine  # noqa: F401 (make_engine: the API)
from distreg.errors import DistregError, format_bad_row
from distreg.loader import BAD_ROW_POLICIES, FORMATS, MODELS, expand_paths, local_path

def _parser():
    p = argparse.ArgumentParser(prog='distreg', description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='command', required=True)

    g = sub.add_parser('generate', help='write synthetic data and its truth file')
    g.add_argument('--rows', type=int, required=True)
    g.add_argument('--features', type=int, required=True)
    g.add_argument('--model', choices=MODELS, default='linear')
    g.add_argument('--noise', type=float, default=0.1,
                   help='standard deviation of the label noise (linear). Default: %(default)s')
    g.add_argument('--seed', type=int, default=0)
    g.add_argument('--format', choices=FORMATS, default='csv',
                   help='parquet: one row group per %d rows' % generate_mod.ROWS_PER_CHUNK)
    g.add_argument('--categorical', type=int, default=0, metavar='K',
                   help='also a text column region of K levels (each its own effect)')
    g.add_argument('--weights', action='store_true',
                   help='also a column w of integer frequency weights 0..3')
    g.add_argument('--out', required=True, help='data file; the truth goes to OUT.truth.json')

    f = sub.add_parser('fit', help='fit a model with one engine')
    add_fit_arguments(f)
    f.add_argument('--engine', required=True, choices=sorted(ENGINES),
                   help='numpy: the single-machine reference; mrjob-*: one MapReduce job per '
                        'pass (inline, local, Hadoop, EMR runner); spark-rdd: cached RDD; '
                        'spark-mllib: pyspark.ml')
    f.add_argument('--master', default=None, metavar='URL',
                   help='Spark master (spark engines). Default: local[*]')
    f.add_argument('--quiet', action='store_true',
                   help='no summary table on stdout, no progress lines on stderr')
    f.add_argument('--verbose', action='store_true',
                   help="show the engines' own logs and warnings (JVM, Spark's stage bars)")

    c = sub.add_parser('compare', help='compare result records side by side')
    c.add_argument('records', nargs='+')
    c.add_argument('--reference', default=None, help='truth file or result record')
    c.add_argument('--rtol', type=float, default=1e-6,
                   help='largest norm-wise relative difference that agrees. Default: %(default)s')

    for name, text in (('predict', 'score every row of INPUT with a fitted model'),
                       ('evaluate', 'held-out metrics of a fitted model on INPUT')):
        s = sub.add_parser(name, help=text)
        s.add_argument('record', metavar='RESULT.json', help='result record of distreg fit')
        s.add_argument('input', help='a file, a directory of part files, a glob, hdfs://, s3://')
        s.add_argument('--engine', required=True, choices=sorted(ENGINES))
        s.add_argument('--master', default=None, help='Spark master (spark engines). '
                       'Default: local[*]')
        s.add_argument('--bad-rows', choices=BAD_ROW_POLICIES, default='fail')
        s.add_argument('--rejects', default=None,
                       help='with --bad-rows skip: where the rejected rows go (JSON lines). '
                            'Default: OUT.rejects.jsonl, or distreg-rejects.jsonl')
        if name == 'predict':
            s.add_argument('--out', required=True,
                           help='local file (one line per input row, in input order), or an '
                                'hdfs:// or s3:// directory of part files')
        else:
            s.add_argument('--out', default=None, help='write the metrics (JSON) here')
    u = sub.add_parser('update', help="a --keep-stats record's fit with new rows, reading only "
                                      'them')
    u.add_argument('record', metavar='RESULT.json', help='a record fitted with --keep-stats')
    u.add_argument('input', help='the new rows: a file, a directory of part files, a glob, '
                                 'hdfs://, s3://')
    u.add_argument('--engine', required=True, choices=sorted(ENGINES))
    u.add_argument('--master', default=None, help='Spark master (spark engines). '
                   'Default: local[*]')
    u.add_argument('--bad-rows', choices=BAD_ROW_POLICIES, default='fail')
    u.add_argument('--rejects', default=None,
                   help='with --bad-rows skip: where the rejected rows go (JSON lines)')
    u.add_argument('--out', default=None, help='write the updated record (JSON) here')
    u.add_argument('--quiet', action='store_true', help='no summary table on stdout')
    m = sub.add_parser('merge', help='one record from --keep-stats records of disjoint rows')
    m.add_argument('records', nargs='+', metavar='RESULT.json')
    m.add_argument('--out', default=None, help='write the merged record (JSON) here')
    m.add_argument('--quiet', action='store_true', help='no summary table on stdout')
    v = sub.add_parser('cv', help='k-fold cross-validation of ridge / lasso penalties from '
                                  'one pass; the record refitted at the best')
    v.add_argument('input', help='a file, a directory of part files, a glob, hdfs://, s3://')
    v.add_argument('--engine', required=True, choices=sorted(ENGINES))
    v.add_argument('--master', default=None, help='Spark master (spark engines). '
                   'Default: local[*]')
    v.add_argument('--folds', type=int, required=True, metavar='K',
                   help="the number of folds; a row's fold is a stable hash of its file's "
                        'base name and its position (byte offset; Parquet: row group and row)')
    v.add_argument('--ridge', default='0', metavar='L,L,...',
                   help='ridge penalties to search, separated by commas (with --l1: one value, '
                        'the L2 part). Default: %(default)s')
    v.add_argument('--l1', default=None, metavar='L1,L1,...|path',
                   help='L1 penalties to search; path: 100 log-spaced from l1_max (the smallest '
                        'that zeroes every coefficient) down to l1_max x 1e-4, warm-started')
    options_mod.add_arguments(v, [o for o in options_mod.FIT_SWITCHES
                                  if o.name not in ('ridge', 'l1', 'keep_stats', 'cov')])
    v.add_argument('--out', default=None, metavar='FILE',
                   help='write the record refitted at the best penalty (JSON) here')
    v.add_argument('--rejects', default=None, metavar='FILE',
                   help='with --bad-rows skip: where the rejected rows go (JSON lines)')
    v.add_argument('--quiet', action='store_true', help='no table on stdout')
    pl = sub.add_parser('plot', help='draw loss against iteration and seconds (PNG)')
    pl.add_argument('records', nargs='+', help='result records of iterative fits')
    pl.add_argument('--out', required=True, help='the PNG to write')
    pl.add_argument('--title', default=None)
    return p


def add_fit_arguments(f):
    """The input and model options of ``distreg fit`` (shared with the spark-submit scripts)."""
    f.add_argument('input', help='a file, a directory of part files, a glob, hdfs://, s3://')
    options_mod.add_arguments(f)  # every fit option, from distreg/options.py
    f.add_argument('--out', default=None, metavar='FILE',
                   help='write the result record (JSON) here')
    f.add_argument('--rejects', default=None, metavar='FILE',
                   help='with --bad-rows skip: where the rejected rows go (JSON lines). '
                        'Default: OUT.rejects.jsonl, or distreg-rejects.jsonl')


def fit_options(args):
    """Checked :class:`distreg.fit.FitOptions` from parsed :func:`add_fit_arguments` arguments."""
    return fit_mod.FitOptions(**options_mod.values(args)).validate()


def run_fit(engine, args, options=None):
    """Fit with ``engine``, keep the rejected rows, write ``--out``; return (record, names).

    ``options``: the checked options of ``args`` when the caller has them already. The
    engine is closed whatever happens. An iterative fit prints one line per iteration on
    stderr unless ``--quiet``.
    """
    if options is None:
        options = fit_options(args)
    names = []
    progress = None if getattr(args, 'quiet', False) else sys.stderr
    try:
        record = fit_mod.fit(engine, options, names=names, checked=True, progress=progress)
    finally:
        with interrupt.deferred():  # a clean-up runs whole
            engine.close()
    rejects = engine.rejects
    if len(rejects) != record['n_bad_rows']:
        raise DistregError('internal error: %d rows rejected but %d kept'
                           % (record['n_bad_rows'], len(rejects)))
    if record['n_bad_rows']:
        _write_rejects(rejects, args)
    if args.out:
        _make_parent(args.out)
        result.write(record, args.out)
    return record, names


def rejects_path(args):
    local_out = args.out and '://' not in args.out
    return args.rejects or (args.out + '.rejects.jsonl' if local_out
                            else 'distreg-rejects.jsonl')


def check_writable(path, what='--out'):
    """Fail now, not after the fit, when ``path`` cannot be written (its folder is made)."""
    if os.path.isdir(path):
        raise DistregError('%s %s is a directory; give a file name' % (what, path))
    parent = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as e:
        raise DistregError('%s %s cannot be written: its folder %s cannot be made (%s)'
                           % (what, path, parent, e.strerror or e))
    if not os.access(parent, os.W_OK | os.X_OK) or (
            os.path.exists(path) and not os.access(path, os.W_OK)):
        raise DistregError('%s %s cannot be written: permission denied' % (what, path))


def check_readable(path):
    """A local input whose files cannot be read fails now, with its name."""
    if local_path(path) is None:
        return
    for f in expand_paths(local_path(path)):
        try:
            with open(f, 'rb'):
                pass
        except OSError as e:
            raise DistregError('input %s cannot be read: %s' % (f, e.strerror or e))


def main(argv=None):
    args = _parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: the engine's close() removes its HDFS upload, Spark
    # stops, and --out is written whole or not at all
    # (distreg/interrupt.py: where it is raised, and where it waits)
    previous = interrupt.install()
    try:
        code = {'generate': cmd_generate, 'fit': cmd_fit, 'compare': cmd_compare,
                'predict': cmd_predict, 'evaluate': cmd_evaluate, 'update': cmd_update,
                'merge': cmd_merge, 'cv': cmd_cv, 'plot': cmd_plot}[args.command](args)
        interrupt.check()  # raised, then caught by code that catches everything: not a success
        return code
    except KeyboardInterrupt:
        print('distreg: interrupted; nothing written', file=sys.stderr)
        return 130
    except interrupt.Interrupted:
        print('distreg: terminated; nothing written', file=sys.stderr)
        return 143
    except Exception as e:  # noqa: BLE001 (re-raised unless a SIGTERM caused it)
        if interrupt.raised():
            # a SIGTERM swallowed by code that catches everything, which then failed
            # (distreg/interrupt.py): the termination is the answer, not that failure
            print('distreg: terminated; nothing written', file=sys.stderr)
            return 143
        if isinstance(e, DistregError):
            print('distreg: error: %s' % e, file=sys.stderr)
            return 1
        raise
    finally:
        interrupt.run_registered()  # what a SIGTERM kept a finally from removing
        interrupt.uninstall(previous)


def cmd_generate(args):
    _make_parent(args.out)
    generate_mod.generate(args.rows, args.features, args.out, model=args.model,
                          noise=args.noise, seed=args.seed, fmt=args.format,
                          categorical=args.categorical, weights=args.weights)
    print('wrote %s (%d rows x %d features) and %s'
          % (args.out, args.rows, args.features, generate_mod.truth_path(args.out)),
          file=sys.stderr)
    return 0


def cmd_fit(args):
    options = fit_options(args)  # a usage mistake fails before any engine starts
    # so do an input that cannot be read and outputs that cannot be written
    check_readable(args.input)
    if args.out and '://' not in args.out:
        check_writable(args.out)
    if args.rejects or args.bad_rows == 'skip':
        check_writable(rejects_path(args), '--rejects' if args.rejects else 'the rejects file')
    if args.verbose:
        # read by the engines (spark_jobs.session) and inherited by what they start
        os.environ['DISTREG_VERBOSE'] = '1'
    engine = make_engine(args.engine, args.input, master=args.master)
    record, names = run_fit(engine, args, options)
    if not args.quiet:
        print(result.summary(record, names))
    if args.out:
        print('wrote %s' % args.out, file=sys.stderr)
    return 0


def cmd_compare(args):
    records = [compare_mod.load_any(p) for p in args.records]
    reference = compare_mod.load_any(args.reference) if args.reference else None
    table, ok = compare_mod.compare(records, reference, rtol=args.rtol)
    print(table)
    return 0 if ok else 1


def _write_rejects(rejects, args):
    """Keep the rejected rows (``--rejects``, or beside ``--out``) and say where."""
    local_out = args.out and '://' not in args.out
    path = args.rejects or (args.out + '.rejects.jsonl' if local_out
                            else 'distreg-rejects.jsonl')
    _make_parent(path)
    result.write_atomic(path, ''.join(json.dumps(bad) + '\n' for bad in rejects))
    print('distreg: %d bad rows skipped; they are in %s (first: %s)'
          % (len(rejects), path, format_bad_row(rejects[0]) if rejects else '-'),
          file=sys.stderr)


def _scoring_engine(args):
    model = scoring.Model(result.load(args.record), args.record)
    return model, make_engine(args.engine, args.input, master=args.master)


def cmd_predict(args):
    model, engine = _scoring_engine(args)
    if '://' not in args.out:
        _make_parent(args.out)
    try:
        summary = scoring.predict(engine, model, args.out, bad_rows=args.bad_rows)
    finally:
        with interrupt.deferred():  # a clean-up runs whole
            engine.close()
    if engine.rejects:
        _write_rejects(engine.rejects, args)
    print('distreg: wrote %d predictions (%d rows rejected) to %s in %.2f s'
          % (summary['n_lines'] - summary['n_bad_rows'], summary['n_bad_rows'], args.out,
             summary['seconds']), file=sys.stderr)
    return 0


def cmd_evaluate(args):
    model, engine = _scoring_engine(args)
    try:
        m = scoring.evaluate(engine, model, bad_rows=args.bad_rows)
    finally:
        with interrupt.deferred():  # a clean-up runs whole
            engine.close()
    if engine.rejects:
        _write_rejects(engine.rejects, args)
    print(scoring.table(m))
    if args.out:
        _make_parent(args.out)
        with open(args.out, 'w') as f:
            f.write(json.dumps(m, indent=1, allow_nan=False) + '\n')
        print('wrote %s' % args.out, file=sys.stderr)
    return 0


def cmd_update(args):
    from distreg import update
    record = result.load(args.record)
    update.options_of(record, args.record)   # a record without statistics fails now
    check_readable(args.input)
    if args.out and '://' not in args.out:
        check_writable(args.out)
    engine = make_engine(args.engine, args.input, master=args.master)
    try:
        new = update.update(record, args.record, engine, bad_rows=args.bad_rows)
    finally:
        with interrupt.deferred():  # a clean-up runs whole
            engine.close()
    if engine.rejects:
        _write_rejects(engine.rejects, args)
    return _finish(new, args)


def cmd_merge(args):
    from distreg import update
    records = [result.load(p) for p in args.records]
    if args.out and '://' not in args.out:
        check_writable(args.out)
    return _finish(update.merge(records, args.records), args)


def cmd_cv(args):
    from distreg import cv
    ridges = cv.parse_penalties(args.ridge, '--ridge')
    l1s = None if args.l1 is None else cv.parse_penalties(args.l1, '--l1', allow_path=True)
    values = options_mod.values(args, [o for o in options_mod.OPTIONS
                                       if o.name not in ('ridge', 'l1', 'folds')])
    options = fit_mod.FitOptions(**values, ridge=ridges[0] if l1s is not None else 0.0,
                                 folds=args.folds)
    cv.check_options(options, args.folds, ridges, l1s)   # before validate: cv's own words
    options.validate()
    check_readable(args.input)
    if args.out and '://' not in args.out:
        check_writable(args.out)
    if args.rejects or args.bad_rows == 'skip':
        check_writable(rejects_path(args), '--rejects' if args.rejects else 'the rejects file')
    engine = make_engine(args.engine, args.input, master=args.master)
    try:
        record = cv.run(engine, options, args.folds, ridges, l1s)
    finally:
        with interrupt.deferred():  # a clean-up runs whole
            engine.close()
    if engine.rejects:
        _write_rejects(engine.rejects, args)
    if not args.quiet:
        print(cv.table_text(record['cv']))
    if args.out:
        _make_parent(args.out)
        result.write(record, args.out)
        print('wrote %s' % args.out, file=sys.stderr)
    return 0


def _finish(record, args):
    """Print the summary of a record made by update or merge, and write ``--out``."""
    if not args.quiet:
        names = record['design'].get('feature_names')
        if names is not None:
            from distreg.design import Design
            names = Design(intercept=record['intercept'] is not None,
                           degree=record['design']['poly_degree']).with_levels(
                record['design'].get('levels')).coef_names(names)
        print(result.summary(record, names))
    if args.out:
        _make_parent(args.out)
        result.write(record, args.out)
        print('wrote %s' % args.out, file=sys.stderr)
    return 0


def cmd_plot(args):
    from distreg import plot as plot_mod
    plot_mod.plot(args.records, args.out, title=args.title)
    print('wrote %s' % args.out, file=sys.stderr)
    return 0


def _make_parent(path):
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)


if __name__ == '__main__':
    sys.exit(main())
