"""Sample weights (--weight-col): frequency weights on numpy and the mrjob engines.

A row of integer weight k must give what k copies of the row give (the duplicated CSV),
and the standard errors must be statsmodels' frequency-weights ones (GLM freq_weights;
WLS(weights=w) has the same coefficients, its scale over rows - p instead of sum(w) - p).
"""

import json

import numpy as np
import pytest
import statsmodels.api as sm

from helpers import glm, rel_diff, weighted_data, write_duplicated, write_weighted
from distreg.cli import main, make_engine
from distreg.errors import BadInputError, DistregError, EmptyInputError
from distreg.fit import FitOptions, fit
from distreg.result import theta_of


ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']
#: How close an iterative method lands on the optimum (its default tolerance), as in
#: tests/test_optim.py and tests/test_mrjob_iterative.py.
TOL = {'normal': 1e-12, 'qr': 1e-12, 'gd': 1e-9, 'lbfgs': 1e-10, 'newton': 1e-9}


@pytest.fixture(scope='module')
def linear(tmp_path_factory):
    d = tmp_path_factory.mktemp('weights')
    y, X, w = weighted_data(1500, 31)
    return (write_weighted(d / 'w.csv', y, X, w), write_duplicated(d / 'dup.csv', y, X, w),
            y, X, w)


@pytest.fixture(scope='module')
def logistic(tmp_path_factory):
    d = tmp_path_factory.mktemp('weights-logistic')
    y, X, w = weighted_data(1500, 32, 'logistic')
    return (write_weighted(d / 'w.csv', y, X, w), write_duplicated(d / 'dup.csv', y, X, w),
            y, X, w)


def run(engine, path, **options):
    return fit(make_engine(engine, path), FitOptions(**options))


# --------------------------------------------------------------------------- weights = rows

@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_integer_weights_are_duplicated_rows(linear, engine, method):
    wpath, dpath, y, X, w = linear
    got = run(engine, wpath, method=method, weight_col='w')
    dup = run('numpy', dpath, method=method)
    assert rel_diff(theta_of(got), theta_of(dup)) <= 1e-12
    for key in ('std_errors', 'residual_sd', 'rmse', 'r2'):
        np.testing.assert_allclose(got['stats'][key], dup['stats'][key], rtol=1e-10,
                                   err_msg=key)
    assert got['n_rows'] == len(y) and got['sum_weights'] == dup['n_rows'] == w.sum()
    assert got['n_rows_zero_weight'] == int(np.sum(w == 0)) > 0
    assert got['design']['weight_col'] == 'w'
    assert got['design']['feature_names'] == ['x1', 'x2', 'x3']


@pytest.mark.parametrize('method', ['gd', 'lbfgs', 'newton'])
@pytest.mark.parametrize('model', ['linear', 'logistic'])
def test_iterative_methods_weighted_as_duplicated(linear, logistic, method, model):
    wpath, dpath, *_ = linear if model == 'linear' else logistic
    got = run('numpy', wpath, method=method, model=model, weight_col='w')
    dup = run('numpy', dpath, method=method, model=model)
    assert rel_diff(theta_of(got), theta_of(dup)) <= TOL[method]
    if method == 'newton':
        np.testing.assert_allclose(got['stats']['std_errors'], dup['stats']['std_errors'],
                                   rtol=1e-9)


@pytest.mark.parametrize('engine', ['mrjob-inline', 'mrjob-local'])
def test_logistic_newton_on_mrjob_weighted_as_duplicated(logistic, engine):
    wpath, dpath, *_ = logistic
    got = run(engine, wpath, method='newton', model='logistic', weight_col='w')
    dup = run('numpy', dpath, method='newton', model='logistic')
    assert rel_diff(theta_of(got), theta_of(dup)) <= TOL['newton']
    assert got['sum_weights'] == dup['n_rows']


def test_weighted_ridge_is_ridge_on_duplicated_rows(linear):
    wpath, dpath, *_ = linear
    for method in ('normal', 'qr', 'lbfgs'):
        got = run('numpy', wpath, method=method, ridge=50.0, weight_col='w')
        dup = run('numpy', dpath, method=method, ridge=50.0)
        assert rel_diff(theta_of(got), theta_of(dup)) <= TOL[method], method


def test_non_integer_weights_scale_free(linear):
    """Weights 2.5 w give the coefficients of w (what WLS says), not the same SEs."""
    wpath, _, y, X, w = linear
    scaled = wpath.replace('w.csv', 'w25.csv')
    write_weighted(scaled, y, X, 2.5 * w)
    a = run('numpy', wpath, method='qr', weight_col='w')
    b = run('numpy', scaled, method='qr', weight_col='w')
    assert rel_diff(theta_of(a), theta_of(b)) <= 1e-12
    assert b['sum_weights'] == pytest.approx(2.5 * a['sum_weights'], rel=1e-15)


# --------------------------------------------------------------------------- statsmodels

@pytest.mark.parametrize('method', ['normal', 'qr', 'newton'])
def test_linear_standard_errors_are_statsmodels_frequency_weights(linear, method):
    wpath, _, y, X, w = linear
    rec = run('numpy', wpath, method=method, weight_col='w')
    ref = glm(y, X, w, sm.families.Gaussian())
    assert rel_diff(theta_of(rec), ref.params) <= 1e-12
    np.testing.assert_allclose(rec['stats']['std_errors'], ref.bse, rtol=1e-9)
    assert rec['stats']['residual_sd'] == pytest.approx(np.sqrt(ref.scale), rel=1e-9)
    # WLS(weights=w): the same coefficients; its scale divides by rows - p, ours (frequency
    # weights) by sum(w) - p
    wls = sm.WLS(y, sm.add_constant(X), weights=w).fit()
    assert rel_diff(theta_of(rec), wls.params) <= 1e-12
    np.testing.assert_allclose(rec['stats']['std_errors'],
                               wls.bse * np.sqrt(wls.df_resid / (w.sum() - 4)), rtol=1e-9)


@pytest.mark.parametrize('engine', ENGINES)
def test_logistic_standard_errors_are_glm_freq_weights(logistic, engine):
    wpath, _, y, X, w = logistic
    rec = run(engine, wpath, method='newton', model='logistic', weight_col='w')
    ref = glm(y, X, w, sm.families.Binomial())
    assert rel_diff(theta_of(rec), ref.params) <= 1e-9
    np.testing.assert_allclose(rec['stats']['std_errors'], ref.bse, rtol=1e-8)


# --------------------------------------------------------------------------- bad weights

def lines_with(path, number, weight):
    """The weighted CSV with the weight of line ``number`` (header = 1) replaced."""
    lines = open(path).read().splitlines(keepends=True)
    fields = lines[number - 1].rstrip('\n').split(',')
    fields[2] = weight
    lines[number - 1] = ','.join(fields) + '\n'
    return lines


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('weight, reason', [
    ('-1.0', "field 3 (column 'w') is -1.0: a weight must be >= 0"),
    ('nan', "field 3 (column 'w') is nan: NaN and Inf are not allowed in the weight"),
    ('inf', "field 3 (column 'w') is inf: NaN and Inf are not allowed in the weight"),
    ('heavy', "field 3 (column 'w') is 'heavy', not a number"),
])
def test_bad_weight_fails_with_file_and_line(tmp_path, linear, engine, weight, reason):
    path = tmp_path / 'bad.csv'
    # line 1200 sits in the second half: a mrjob-local task there starts mid-file
    path.write_text(''.join(lines_with(linear[0], 1200, weight)))
    with pytest.raises(BadInputError) as err:
        run(engine, str(path), weight_col='w')
    assert '%s, line 1200: %s' % (path, reason) in str(err.value)


@pytest.mark.parametrize('engine', ENGINES)
def test_bad_weights_skipped_are_counted_and_kept(tmp_path, linear, engine):
    wpath, _, y, X, w = linear
    lines = open(wpath).read().splitlines(keepends=True)
    bad = {10: '-2', 700: 'nan', 1400: 'x'}
    for number, weight in bad.items():
        lines[number - 1] = lines_with(wpath, number, weight)[number - 1]
    path = tmp_path / 'bad.csv'
    path.write_text(''.join(lines))
    eng = make_engine(engine, str(path))
    rec = fit(eng, FitOptions(method='qr', bad_rows='skip', weight_col='w'))
    assert rec['n_bad_rows'] == 3 and rec['n_rows'] == len(y) - 3
    assert sorted(d['line'] for d in eng.rejects) == sorted(bad)
    keep = np.ones(len(y), bool)
    keep[[k - 2 for k in bad]] = False
    ref = sm.WLS(y[keep], sm.add_constant(X[keep]), weights=w[keep]).fit()
    assert rel_diff(theta_of(rec), ref.params) <= 1e-12
    assert rec['sum_weights'] == w[keep].sum()


@pytest.mark.parametrize('engine', ENGINES)
def test_all_zero_weights_is_a_clear_error(tmp_path, engine):
    path = tmp_path / 'zero.csv'
    path.write_text('y,x,w\n1,2,0\n3,4,0\n5,7,0\n')
    with pytest.raises(EmptyInputError, match='every weight of the input is 0 \\(3 rows\\)'):
        run(engine, str(path), weight_col='w')


def test_zero_weight_rows_do_not_count_for_the_rows_needed(tmp_path):
    path = tmp_path / 'few.csv'
    # 3 coefficients, 4 rows, but 2 of weight 0: not enough rows
    path.write_text('y,x1,x2,w\n1,2,3,1\n2,1,5,1\n3,4,4,0\n4,1,1,0\n')
    with pytest.raises(DistregError, match='has 2 rows but the model has 3 coefficients'):
        run('numpy', str(path), weight_col='w')


def test_weight_column_by_index_and_its_mistakes(tmp_path, linear):
    wpath, _, y, X, w = linear
    by_name = run('numpy', wpath, weight_col='w')
    by_index = run('numpy', wpath, weight_col='2')
    assert theta_of(by_name) == theta_of(by_index)
    assert by_index['design']['weight_col'] == 'w'
    with pytest.raises(DistregError, match='--weight-col y is the label column'):
        run('numpy', wpath, weight_col='y')
    with pytest.raises(DistregError, match="--weight-col 'size' is not a column of"):
        run('numpy', wpath, weight_col='size')
    svm = tmp_path / 'd.svm'
    svm.write_text('1 1:2 2:3\n0 1:1\n')
    with pytest.raises(DistregError, match='--weight-col does not apply to LibSVM'):
        run('numpy', str(svm), weight_col='1')


def test_unweighted_fit_has_no_weight_counts(linear):
    _, dpath, *_ = linear
    rec = run('numpy', dpath)
    assert rec['n_rows_zero_weight'] is None and rec['sum_weights'] is None
    assert rec['design']['weight_col'] is None


# --------------------------------------------------------------------------- the CLI, scoring

def test_cli_says_frequency_weights_and_predicts_without_the_weight(tmp_path, linear, capsys):
    wpath, dpath, y, X, w = linear
    out = tmp_path / 'r.json'
    assert main(['fit', wpath, '--engine', 'numpy', '--weight-col', 'w', '--out', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'frequency (n = sum w)' in text and 'Zero-weight rows:' in text
    record = json.load(open(out))
    assert record['n_rows_zero_weight'] == int(np.sum(w == 0))
    # predict reads the weight column and leaves it out of the features, as fit did
    pred = tmp_path / 'p.txt'
    assert main(['predict', str(out), wpath, '--engine', 'numpy', '--out', str(pred)]) == 0
    theta = np.array(theta_of(record))
    expected = theta[0] + X @ theta[1:]
    got = np.array([float(v) for v in open(pred).read().split()])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # evaluate's metrics are per row, unweighted: the duplicated file's would differ
    m = tmp_path / 'm.json'
    assert main(['evaluate', str(out), wpath, '--engine', 'numpy', '--out', str(m)]) == 0
    metrics = json.load(open(m))
    assert metrics['n'] == len(y)
    assert metrics['rmse'] == pytest.approx(np.sqrt(np.mean((y - expected) ** 2)), rel=1e-12)


@pytest.mark.parametrize('job', ['jobs/normal.py', 'jobs/tsqr.py'])
def test_job_run_by_hand_takes_the_weight_column(linear, job):
    """`python jobs/normal.py --weight-col w data.csv` (the README's way to run a job): the
    reducer's record is the weighted fit, with its weight counts."""
    import subprocess
    import sys
    from helpers import ROOT
    wpath, dpath, y, X, w = linear
    proc = subprocess.run([sys.executable, job, '-r', 'inline', '--conf-path',
                           str(ROOT / 'configs' / 'mrjob.conf'), '--weight-col', 'w', wpath],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(proc.stdout)
    dup = run('numpy', dpath, method='qr')
    assert rel_diff(theta_of(record), theta_of(dup)) <= 1e-12
    assert record['sum_weights'] == w.sum()
    assert record['n_rows_zero_weight'] == int(np.sum(w == 0))


def test_cli_bad_weight_is_one_line_with_file_line_and_column(tmp_path, capsys):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x,w\n1,2,1\n3,4,1\n5,7,-3\n6,1,2\n')
    assert main(['fit', str(path), '--engine', 'numpy', '--weight-col', 'w']) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("distreg: error: %s, line 4: field 3 (column 'w') is -3: a weight "
                          "must be >= 0" % path)
    assert '\n' not in err and 'Traceback' not in err
