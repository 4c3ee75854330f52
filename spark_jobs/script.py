"""What both spark-submit scripts share: arguments, usage errors, the run and its JSON output."""

import argparse
import sys

from spark_jobs.session import get_session, import_pyspark


def main(engine_name, doc, argv=None):
    """Run one fit on ``engine_name`` as a spark-submit script; return the exit status.

    Usage mistakes print the script's usage on stderr and exit 2; a failed fit
    (bad input, ...) prints its reason and exits 1; success prints the result
    record (JSON) on stdout.
    """
    import_pyspark()  # before argparse: a missing Spark is the first thing to report
    from distreg import cli, result
    from distreg.errors import DistregError
    from distreg.engine import make_engine

    parser = argparse.ArgumentParser(description=doc.split('\n')[0], usage=_usage(doc))
    cli.add_fit_arguments(parser)
    args = parser.parse_args(argv)
    try:
        options = cli.fit_options(args)
        if engine_name == 'spark-mllib':
            from spark_jobs.mllib import check_method
            check_method(options)
    except DistregError as e:
        parser.print_usage(sys.stderr)
        print('error: %s' % e, file=sys.stderr)
        return 2
    spark = get_session('distreg %s %s %s' % (engine_name, args.model, args.method))
    try:
        engine = make_engine(engine_name, args.input, spark=spark)
        record, _ = cli.run_fit(engine, args, options)
    except DistregError as e:
        print('distreg: error: %s' % e, file=sys.stderr)
        return 1
    finally:
        spark.stop()
    print(result.dumps(record))
    return 0


def _usage(doc):
    for line in doc.splitlines():
        if line.startswith('Usage: '):
            return line[len('Usage: '):]
    return None
