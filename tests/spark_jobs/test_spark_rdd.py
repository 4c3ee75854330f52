"""spark-rdd against references computed in the test (np.linalg.lstsq and the textbook
inference for least squares, a plain Newton on the whole matrix for logistic regression):
closed forms to 1e-9 relative, gd/lbfgs to the tol they run with, newton to 1e-9 (its default
tol is 1e-12); standard errors, residual SD, RMSE and R² to 1e-9; both readers."""

import gzip
import os
import shutil

import numpy as np
import pytest
from helpers import (assert_linear_stats, logistic_std_errors, ols_reference, read_csv,
                     read_libsvm, rel_diff)
from spark_helpers import numpy_fit, spark_fit

from distreg.result import theta_of

TOL = {'gd': 1e-9, 'lbfgs': 1e-10}


@pytest.mark.parametrize('method', ['normal', 'qr', 'gd', 'lbfgs', 'newton'])
def test_linear_methods(spark, linear_csv, method):
    X, y = read_csv(linear_csv)
    ref = ols_reference(X, y)
    rec = spark_fit(spark, linear_csv, method=method)
    assert rec['engine'] == 'spark-rdd' and rec['method'] == method and rec['converged']
    assert rec['n_rows'] == len(y) == 4000 and rec['n_bad_rows'] == 0
    assert rel_diff(theta_of(rec), ref['theta']) <= TOL.get(method, 1e-9)
    assert_linear_stats(rec, ref)
    assert rec['timings']['load_seconds'] > 0 and len(rec['timings']['pass_seconds']) >= 1


@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
def test_logistic_methods(spark, logistic_csv, method):
    X, y = read_csv(logistic_csv)
    ref, se = logistic_std_errors(X, y)
    rec = spark_fit(spark, logistic_csv, method=method, model='logistic')
    assert rec['model'] == 'logistic' and rec['converged'] and rec['iterations'] >= 1
    assert rel_diff(theta_of(rec), ref) <= TOL.get(method, 1e-9)
    np.testing.assert_allclose(rec['stats']['std_errors'], se, rtol=1e-9)
    assert rec['stats']['r2'] is None
    # the same iterations as the numpy engine: same driver, same answers from each pass
    same = numpy_fit(logistic_csv, method=method, model='logistic')
    assert rec['iterations'] == same['iterations']


def test_hadoop_reader_gives_the_same_record(spark, linear_csv):
    direct = spark_fit(spark, linear_csv, method='qr', reader='direct')
    hadoop = spark_fit(spark, 'file://' + linear_csv, method='qr', reader='hadoop')
    assert theta_of(direct) == theta_of(hadoop)
    assert direct['n_rows'] == hadoop['n_rows']


def test_ridge_no_intercept_poly(spark, linear_csv):
    opts = dict(ridge=25.0, intercept=False, poly_degree=2)
    X, y = read_csv(linear_csv)
    ref = ols_reference(X, y, intercept=False, degree=2, ridge=25.0)
    for method in ('qr', 'lbfgs', 'newton'):
        rec = spark_fit(spark, linear_csv, method=method, **opts)
        assert rec['intercept'] is None and len(rec['coefficients']) == 10
        assert rel_diff(theta_of(rec), ref['theta']) <= TOL.get(method, 1e-9)
        assert_linear_stats(rec, ref)


def test_libsvm_directory_and_gzip(spark, tmp_path):
    from distreg.generate import generate
    parts = tmp_path / 'parts'
    parts.mkdir()
    generate(1500, 4, str(parts / 'part-00000'), model='logistic', seed=5, fmt='libsvm')
    generate(1500, 4, str(tmp_path / 'b'), model='logistic', seed=6, fmt='libsvm')
    with open(tmp_path / 'b', 'rb') as src, gzip.open(parts / 'part-00001.gz', 'wb') as dst:
        shutil.copyfileobj(src, dst)
    for f in os.listdir(parts):
        if f.endswith('.truth.json'):
            os.rename(parts / f, tmp_path / f)  # a part file of its own otherwise
    (parts / '_SUCCESS').write_text('')
    Xa, ya = read_libsvm(parts / 'part-00000', 4)
    Xb, yb = read_libsvm(tmp_path / 'b', 4)
    ref, se = logistic_std_errors(np.vstack([Xa, Xb]), np.concatenate([ya, yb]))
    rec = spark_fit(spark, str(parts), method='newton', model='logistic')
    assert rec['n_rows'] == 3000
    assert rel_diff(theta_of(rec), ref) <= 1e-9
    np.testing.assert_allclose(rec['stats']['std_errors'], se, rtol=1e-9)


def test_cli_engine(spark, linear_csv, tmp_path, capsys):
    from distreg import cli, result
    out = str(tmp_path / 'r.json')
    assert cli.main(['fit', linear_csv, '--engine', 'spark-rdd', '--method', 'qr',
                     '--out', out]) == 0
    rec = result.load(out)
    assert rec['engine'] == 'spark-rdd'
    X, y = read_csv(linear_csv)
    ref = ols_reference(X, y)
    assert rel_diff(theta_of(rec), ref['theta']) <= 1e-9
    assert_linear_stats(rec, ref)
    assert 'spark-rdd, method qr' in capsys.readouterr().out
    # the engine joined the running session: it must not have stopped it
    assert spark.sparkContext._jsc is not None
    assert spark.sparkContext.parallelize([1, 2]).count() == 2


def test_block_files_lost_are_rebuilt_and_removed_on_close(spark, linear_csv):
    """The cache holds handles; the rows live in the executor's scratch files. Files that
    vanish are read again from the input; close() removes them."""
    import glob
    from pyspark import SparkFiles
    from distreg.fit import FitOptions
    from spark_jobs.engine import RDDEngine
    pattern = os.path.join(SparkFiles.getRootDirectory(), 'distreg-blocks', '*.npy')
    engine = RDDEngine(linear_csv, spark=spark)
    engine.prepare(FitOptions(method='normal'))
    files = set(glob.glob(pattern))
    assert len(files) == 2 * engine.n_partitions
    before = engine.aggregate('gram', {})
    for f in files:
        os.remove(f)
    after = engine.aggregate('gram', {})
    np.testing.assert_array_equal(after['xtx'], before['xtx'])
    assert set(glob.glob(pattern)) == files
    engine.close()
    assert not set(glob.glob(pattern)) & files


def test_wide_fits_agree_with_numpy(spark, tmp_path):
    """More features than rows, with --ridge: normal and qr on spark-rdd as on numpy.

    Coefficients to 1e-9 relative: the ridge system's condition number here is ~1e3,
    and the engines sum the rows in different blocks."""
    from distreg.generate import generate
    path = str(tmp_path / 'wide.csv')
    generate(150, 400, path, seed=31)
    for method in ('normal', 'qr'):
        ref = numpy_fit(path, method=method, ridge=1.0)
        rec = spark_fit(spark, path, method=method, ridge=1.0)
        assert rel_diff(theta_of(rec), theta_of(ref)) <= 1e-9, method


def test_wide_gram_pass_holds_p_squared(spark, tmp_path):
    """p = 5,001 model columns: the gram pass (two 200 MB partials) completes and equals
    numpy's X'X. Its partials travel as raw float64 bytes: as JSON text (~25 bytes a
    number, twice over in the JVM) they exhausted the driver's 2 GB heap."""
    from distreg.fit import FitOptions
    from distreg.generate import generate
    from distreg.numpy_engine import NumpyEngine
    from spark_jobs.engine import RDDEngine
    path = str(tmp_path / 'wide5000.csv')
    generate(400, 5000, path, seed=32)
    engine = RDDEngine(path, spark=spark)
    try:
        engine.prepare(FitOptions(method='normal'))
        assert engine.n_partitions == 2
        got = engine.aggregate('gram', {})
    finally:
        engine.close()
    ref_engine = NumpyEngine(path)
    ref_engine.prepare(FitOptions(method='normal'))
    ref = ref_engine.aggregate('gram', {})
    assert got['n'] == ref['n'] == 400 and got['xtx'].shape == (5001, 5001)
    # the same sums in other blocks: rounding only
    assert rel_diff(got['xtx'], ref['xtx']) <= 1e-13
    assert rel_diff(got['xty'], ref['xty']) <= 1e-13


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_sigterm_mid_fit_exits_143_without_a_traceback(engine, tmp_path):
    """A real fit terminated while its passes run (spark-rdd: after its third iteration;
    spark-mllib: 3 s into MLlib's own training): exit 143 within seconds, no traceback, no
    --out. Before, the SIGTERM landed inside a py4j call and the clean-up's next call read
    that call's answer: ``KeyError: 'c'``, a traceback, exit 1."""
    import signal
    import subprocess
    import sys
    import time
    from helpers import ROOT
    from distreg.generate import generate
    path = str(tmp_path / 'd.csv')
    generate(200_000, 5, path, model='logistic', seed=5)
    out = tmp_path / 'out' / 'r.json'
    method = 'gd' if engine == 'spark-rdd' else 'lbfgs'
    proc = subprocess.Popen(
        [sys.executable, '-m', 'distreg.cli', 'fit', path, '--engine', engine, '--model',
         'logistic', '--method', method, '--tol', '1e-300', '--max-iter', '100000',
         '--out', str(out)],
        cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    # spark-rdd: one line per iteration, wait for the third; spark-mllib: the line it prints
    # as MLlib starts training (the rows cached: no Python worker runs any more), then 3 s
    wait_for = 'gd iteration 3:' if engine == 'spark-rdd' else 'MLlib trains'
    for line in proc.stderr:
        seen.append(line)
        if wait_for in line:
            break
    if engine == 'spark-mllib':
        time.sleep(3)
    assert proc.poll() is None, ''.join(seen)
    proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=120)
    err = ''.join(seen) + err
    assert proc.returncode == 143, err
    assert 'distreg: terminated; nothing written' in err and 'Traceback' not in err, err
    assert time.monotonic() - t0 < 60
    assert not out.parent.exists() or os.listdir(out.parent) == []


def test_passes_reuse_their_rdd_and_take_each_pass_parameters(spark, logistic_csv):
    """A pass's RDD is built once per aggregate; each pass's theta reaches its tasks (the
    job's local property, cleared after the pass): every pass equals numpy's at its theta."""
    from distreg import blocks
    from distreg.fit import FitOptions
    from distreg.loader import Parsed
    from spark_jobs.engine import PASS_PROPERTY, RDDEngine
    engine = RDDEngine(logistic_csv, spark=spark)
    try:
        engine.prepare(FitOptions(method='gd', model='logistic'))
        X, y = read_csv(logistic_csv)
        whole = Parsed(X, y)
        ids = set()
        for k in range(3):
            params = {'theta': [0.3 * k - 0.1 * j for j in range(X.shape[1] + 1)],
                      'model': 'logistic'}
            got = engine.aggregate('gradient', params)
            ids.add(engine._pass_rdds['gradient'].id())
            want = blocks.block_partial('gradient', whole, engine.design, params)
            np.testing.assert_allclose(got['grad'], want['grad'], rtol=1e-12)
            assert abs(got['loss'] - want['loss']) <= 1e-12 * want['loss']
            assert spark.sparkContext.getLocalProperty(PASS_PROPERTY) is None
        assert len(ids) == 1
        assert engine.recovery == dict(failed_tasks=0, recomputed_partitions=0)
    finally:
        engine.close()
