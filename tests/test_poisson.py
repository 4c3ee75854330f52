"""Poisson regression (--model poisson, log link) on numpy and the mrjob engines.

Every answer is checked against statsmodels' GLM(family=Poisson()) fitted in the test
itself (tol 1e-14), with the same frequency weights (freq_weights) and offset: the
coefficients and the standard errors to a minimum LRE of 8, the deviance, Pearson's
chi2, the null deviance, the log-likelihood and the AIC to 1e-10 relative. predict and
evaluate are checked against exp(x'theta + offset) and the mean Poisson deviance
computed here with numpy.
"""

import json
from contextlib import closing

import numpy as np
import pytest
import statsmodels.api as sm

from helpers import lre
from distreg import blocks, result
from distreg.cli import main, make_engine
from distreg.design import Design
from distreg.errors import BadInputError, DistregError, NotConvergedError
from distreg.fit import FitOptions, fit
from distreg.generate import generate
from distreg.loader import Parsed
from distreg.result import theta_of

#: The statistics of the record and statsmodels' names for them.
GLM_STATS = {'deviance': 'deviance', 'pearson_chi2': 'pearson_chi2',
             'null_deviance': 'null_deviance', 'log_likelihood': 'llf', 'aic': 'aic'}


def poisson_data(n, seed):
    """(y, X, offset, w): 3 features, an offset (log exposure) and integer weights 0..3."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * [1.0, 0.5, 2.0] + [0.2, -1.0, 0.5]
    offset = np.log(rng.uniform(0.5, 4.0, size=n))
    y = rng.poisson(np.exp(0.3 + X @ [0.4, -0.3, 0.15] + offset)).astype(float)
    w = rng.integers(0, 4, size=n).astype(float)
    return y, X, offset, w


def write_poisson(path, y, X, offset=None, w=None):
    """Columns y, x1, [lexp,] x2, [w,] x3: offset and weight between the features."""
    names = ['y', 'x1'] + ['lexp'] * (offset is not None) + ['x2'] + ['w'] * (w is not None)
    names.append('x3')
    with open(path, 'w') as f:
        f.write(','.join(names) + '\n')
        for i in range(len(y)):
            row = [y[i], X[i, 0]] + ([offset[i]] if offset is not None else []) + [X[i, 1]]
            row += ([w[i]] if w is not None else []) + [X[i, 2]]
            f.write(','.join(repr(float(v)) for v in row) + '\n')
    return str(path)


def reference(y, X, offset=None, w=None, intercept=True):
    exog = sm.add_constant(X) if intercept else X
    return sm.GLM(y, exog, family=sm.families.Poisson(), offset=offset,
                  freq_weights=w).fit(tol=1e-14, maxiter=200)


@pytest.fixture(scope='module')
def full(tmp_path_factory):
    """Weights and an offset: what every engine is checked on."""
    y, X, offset, w = poisson_data(2000, 61)
    path = write_poisson(tmp_path_factory.mktemp('poisson') / 'p.csv', y, X, offset, w)
    return path, y, X, offset, w, reference(y, X, offset, w)


def run(engine, path, **options):
    with closing(make_engine(engine, path)) as e:
        return fit(e, FitOptions(model='poisson', **options))


def check_against(record, ref, min_lre=8.0):
    coef = lre(theta_of(record), ref.params)
    se = lre(record['stats']['std_errors'], ref.bse)
    assert coef.min() >= min_lre, coef
    assert se.min() >= min_lre, se
    np.testing.assert_allclose(record['stats']['t_values'], ref.tvalues, rtol=1e-7)
    np.testing.assert_allclose(record['stats']['p_values'], ref.pvalues, rtol=1e-6, atol=1e-300)
    for key, name in GLM_STATS.items():
        np.testing.assert_allclose(record['stats'][key], getattr(ref, name), rtol=1e-10,
                                   err_msg=key)
    assert record['stats']['family'] == 'Poisson' and record['stats']['link'] == 'log'
    return coef.min(), se.min()


# --------------------------------------------------------------------------- against statsmodels

@pytest.mark.parametrize('engine,method', [
    ('numpy', 'newton'), ('numpy', 'lbfgs'), ('numpy', 'gd'),
    ('mrjob-inline', 'newton'), ('mrjob-inline', 'lbfgs'), ('mrjob-local', 'newton')])
def test_weights_and_offset_match_statsmodels(full, engine, method):
    path, y, X, offset, w, ref = full
    got = run(engine, path, method=method, weight_col='w', offset_col='lexp')
    check_against(got, ref)
    assert got['converged'] and got['model'] == 'poisson'
    assert got['sum_weights'] == w.sum() and got['n_rows'] == len(y)
    assert got['design']['offset_col'] == 'lexp' and got['design']['weight_col'] == 'w'
    assert got['design']['feature_names'] == ['x1', 'x2', 'x3']


@pytest.mark.parametrize('intercept', [True, False])
def test_plain_counts_match_statsmodels(tmp_path, intercept):
    y, X, _, _ = poisson_data(1500, 62)
    path = write_poisson(tmp_path / 'plain.csv', y, X)
    got = run('numpy', path, method='newton', intercept=intercept)
    check_against(got, reference(y, X, intercept=intercept))
    assert got['stats']['r2'] is None and got['stats']['cov_type'] == 'nonrobust'


def test_integer_weights_are_duplicated_rows(tmp_path, full):
    path, y, X, offset, w, _ = full
    keep = np.repeat(np.arange(len(y)), w.astype(int))
    dup = write_poisson(tmp_path / 'dup.csv', y[keep], X[keep], offset[keep])
    got = run('numpy', path, method='newton', weight_col='w', offset_col='lexp')
    ref = run('numpy', dup, method='newton', offset_col='lexp')
    assert lre(theta_of(got), theta_of(ref)).min() >= 11
    np.testing.assert_allclose(got['stats']['std_errors'], ref['stats']['std_errors'],
                               rtol=1e-10)
    for key in GLM_STATS:
        np.testing.assert_allclose(got['stats'][key], ref['stats'][key], rtol=1e-10)


def test_noninteger_labels_with_allow_noninteger(tmp_path):
    y, X, offset, _ = poisson_data(800, 63)
    y = y * 0.5 + 0.25 * (y > 0)          # rates, not counts
    path = write_poisson(tmp_path / 'rates.csv', y, X, offset)
    with pytest.raises(BadInputError, match='not an integer'):
        run('numpy', path, method='newton', offset_col='lexp')
    got = run('numpy', path, method='newton', offset_col='lexp', allow_noninteger=True)
    ref = reference(y, X, offset)
    assert lre(theta_of(got), ref.params).min() >= 8
    assert lre(got['stats']['std_errors'], ref.bse).min() >= 8
    np.testing.assert_allclose(got['stats']['deviance'], ref.deviance, rtol=1e-10)


def test_overflowing_trial_points_are_backed_off(tmp_path):
    """Counts of thousands: Newton's first step from theta = 0 puts exp(eta) beyond float64;
    the driver halves it (an infinite loss) and still lands on statsmodels' answer."""
    rng = np.random.default_rng(64)
    X = rng.normal(size=(300, 1))
    y = rng.poisson(np.exp(8.0 + 0.3 * X[:, 0])).astype(float)
    path = str(tmp_path / 'big.csv')
    with open(path, 'w') as f:
        f.write('y,x1\n')
        f.writelines('%r,%r\n' % (float(a), float(b)) for a, b in zip(y, X[:, 0]))
    ref = reference(y, X)
    # gd's default tolerance is norm-wise (1e-9 of the largest coefficient, 8 here): for 8
    # digits of the small slope too it is asked for 1e-11
    for method, tol in (('newton', None), ('lbfgs', None), ('gd', 1e-11)):
        engine = _Overflows(make_engine('numpy', path))
        got = fit(engine, FitOptions(model='poisson', method=method, tol=tol))
        assert engine.overflowed, method   # the case this test is about did happen
        coef = lre(theta_of(got), ref.params)
        assert coef.min() >= 8, (method, coef)
        assert lre(got['stats']['std_errors'], ref.bse).min() >= 8


class _Overflows:
    """The numpy engine, noting whether a pass reported rows beyond exp's range."""

    def __init__(self, engine):
        self.engine = engine
        self.overflowed = False

    def aggregate(self, name, params):
        part = self.engine.aggregate(name, params)
        self.overflowed |= bool(part.get('n_overflow'))
        return part

    def __getattr__(self, name):
        return getattr(self.engine, name)


def test_block_counts_rows_beyond_exp_range():
    parsed = Parsed(np.array([[0.0], [1.0], [800.0]]), np.array([1.0, 2.0, 3.0]))
    part = blocks.block_partial('gradient', parsed, Design(), {'theta': [0.0, 1.0],
                                                               'model': 'poisson'})
    assert part['n_overflow'] == 1 and np.isfinite(part['loss'])


def test_offset_that_overflows_at_the_start_is_a_clear_error(tmp_path):
    path = tmp_path / 'off.csv'
    path.write_text('y,x1,o\n1,0.5,1.0\n2,0.1,750\n0,-0.3,0.2\n')
    with pytest.raises(DistregError, match='overflows float64 at the starting point'):
        run('numpy', str(path), method='newton', offset_col='o')


def test_all_zero_labels_have_no_answer(tmp_path):
    path = tmp_path / 'zeros.csv'
    path.write_text('y,x1\n0,0.5\n0,0.1\n0,-0.3\n0,2\n')
    with pytest.raises(NotConvergedError, match='every label is 0'):
        run('numpy', str(path), method='newton')


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize('label,why', [('-1', 'is negative'), ('2.5', 'not an integer')])
def test_bad_label_is_a_bad_row(tmp_path, capsys, label, why):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x1\n1,0.5\n%s,0.1\n3,-0.3\n0,2\n2,1\n' % label)
    assert main(['fit', str(path), '--engine', 'numpy', '--model', 'poisson',
                 '--method', 'newton']) == 1
    err = capsys.readouterr().err.strip()
    assert err.count('\n') == 0 and 'line 3' in err and why in err and 'Traceback' not in err
    got = run('numpy', str(path), method='newton', bad_rows='skip')
    assert got['n_bad_rows'] == 1 and got['n_rows'] == 4


@pytest.mark.parametrize('engine', ['mrjob-inline', 'mrjob-local'])
def test_bad_label_on_mrjob(tmp_path, engine):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x1\n1,0.5\n-2,0.1\n3,-0.3\n0,2\n2,1\n')
    with pytest.raises(BadInputError, match='line 3.*negative'):
        run(engine, str(path), method='newton')


@pytest.mark.parametrize('options,match', [
    (dict(method='normal'), 'no closed form'),
    (dict(method='qr'), 'no closed form'),
    (dict(method='newton', cov='HC1'), 'needs --model linear'),
    (dict(method='newton', keep_stats=True), 'needs --model linear'),
    (dict(method='newton', l1=0.5), 'needs --model linear'),
])
def test_refused_options(full, options, match):
    with pytest.raises(DistregError, match=match):
        run('numpy', full[0], **options)


def test_poisson_only_options_refused_elsewhere(full):
    with pytest.raises(DistregError, match='--offset-col is for --model poisson'):
        fit(make_engine('numpy', full[0]), FitOptions(method='newton', model='logistic',
                                                      offset_col='lexp'))
    with pytest.raises(DistregError, match='--allow-noninteger is for --model poisson'):
        fit(make_engine('numpy', full[0]), FitOptions(method='qr', allow_noninteger=True))


def test_offset_column_must_be_its_own(full):
    with pytest.raises(DistregError, match='is the weight column'):
        run('numpy', full[0], method='newton', weight_col='w', offset_col='w')
    with pytest.raises(DistregError, match='not a column'):
        run('numpy', full[0], method='newton', offset_col='exposure')


def test_offset_of_libsvm_refused(tmp_path):
    path = tmp_path / 'd.svm'
    path.write_text('1 1:0.5\n2 1:0.25\n')
    with pytest.raises(DistregError, match='--offset-col does not apply to LibSVM'):
        run('numpy', str(path), method='newton', offset_col='1')


# --------------------------------------------------------------------------- predict, evaluate

def expected_scores(record, X, offset, y):
    theta = np.array(theta_of(record))
    mu = np.exp(theta[0] + X @ theta[1:] + offset)
    with np.errstate(divide='ignore', invalid='ignore'):
        ylog = np.where(y > 0, y * np.log(y / mu), 0.0)
    return mu, np.mean(2 * (ylog - (y - mu))), np.sqrt(np.mean((y - mu) ** 2))


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline', 'mrjob-local'])
def test_cli_fit_predict_evaluate(tmp_path, full, capsys, engine):
    path, y, X, offset, w, _ = full
    rec = tmp_path / 'r.json'
    assert main(['fit', path, '--engine', 'numpy', '--model', 'poisson', '--method', 'newton',
                 '--weight-col', 'w', '--offset-col', 'lexp', '--out', str(rec)]) == 0
    text = capsys.readouterr().out
    assert 'Family:         Poisson' in text and 'Link:           log' in text
    assert 'frequency (n = sum w)' in text and 'P>|z|' in text
    record = json.loads(rec.read_text())
    mu, mean_dev, rmse = expected_scores(record, X, offset, y)
    pred = tmp_path / 'pred.txt'
    assert main(['predict', str(rec), path, '--engine', engine, '--out', str(pred)]) == 0
    got = np.array([float(v) for v in pred.read_text().split()])
    np.testing.assert_allclose(got, mu, rtol=1e-13)
    m = tmp_path / 'm.json'
    assert main(['evaluate', str(rec), path, '--engine', engine, '--out', str(m)]) == 0
    metrics = json.loads(m.read_text())
    assert metrics['model'] == 'poisson' and metrics['n'] == len(y)
    np.testing.assert_allclose(metrics['mean_poisson_deviance'], mean_dev, rtol=1e-12)
    np.testing.assert_allclose(metrics['rmse'], rmse, rtol=1e-12)


def test_scoring_needs_the_offset_column(tmp_path, full, capsys):
    path, y, X, offset, w, _ = full
    rec = tmp_path / 'r.json'
    assert main(['fit', path, '--engine', 'numpy', '--model', 'poisson', '--method', 'newton',
                 '--offset-col', 'lexp', '--weight-col', 'w', '--out', str(rec)]) == 0
    capsys.readouterr()
    bare = write_poisson(tmp_path / 'bare.csv', y, X)
    assert main(['evaluate', str(rec), bare, '--engine', 'numpy']) == 1
    assert "offset column 'lexp'" in capsys.readouterr().err
    import pyarrow as pa
    import pyarrow.parquet as pq
    # the features and the label only: scored without the offset it would be a wrong answer
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'x2': X[:, 1], 'x3': X[:, 2]}),
                   str(tmp_path / 'p.parquet'))
    assert main(['predict', str(rec), str(tmp_path / 'p.parquet'), '--engine', 'numpy',
                 '--out', str(tmp_path / 'pred.txt')]) == 1
    err = capsys.readouterr().err
    assert "offset column 'lexp'" in err and 'p.parquet' in err


def test_bad_offset_is_a_bad_row(tmp_path, capsys):
    path = tmp_path / 'bad.csv'
    path.write_text('y,x1,o\n1,0.5,0.1\n2,0.1,nan\n0,-0.3,0.2\n')
    assert main(['fit', str(path), '--engine', 'numpy', '--model', 'poisson',
                 '--method', 'newton', '--offset-col', 'o']) == 1
    err = capsys.readouterr().err
    assert 'line 3' in err and 'not allowed in the offset' in err and 'Traceback' not in err


# --------------------------------------------------------------------------- generate

def test_generate_poisson(tmp_path):
    path = str(tmp_path / 'g.csv')
    truth = generate(3000, 4, path, model='poisson', seed=5)
    data = np.loadtxt(path, delimiter=',', skiprows=1)
    y, X = data[:, 0], data[:, 1:]
    assert np.all(y >= 0) and np.all(y == np.floor(y)) and y.mean() > 1
    got = run('numpy', path, method='newton')
    check_against(got, reference(y, X))
    # the fit estimates what the generator meant, to within a few standard errors
    err = np.abs(np.array(theta_of(got)) - theta_of(truth)) / got['stats']['std_errors']
    assert err.max() < 5, err


# --------------------------------------------------------------------------- more inputs

def test_parquet_counts(tmp_path):
    """Parquet labels are checked as CSV's; the fit is the CSV fit of the same rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    y, X, _, _ = poisson_data(1200, 65)
    csv = write_poisson(tmp_path / 'p.csv', y, X)
    table = {'y': pa.array(y.astype(np.int64)), 'x1': X[:, 0], 'x2': X[:, 1], 'x3': X[:, 2]}
    pq.write_table(pa.table(table), str(tmp_path / 'p.parquet'))
    got = run('numpy', str(tmp_path / 'p.parquet'), method='newton')
    assert lre(theta_of(got), theta_of(run('numpy', csv, method='newton'))).min() >= 14
    table['y'] = pa.array(np.where(np.arange(len(y)) == 7, -1, y).astype(np.int64))
    pq.write_table(pa.table(table), str(tmp_path / 'bad.parquet'))
    with pytest.raises(BadInputError, match='negative'):
        run('numpy', str(tmp_path / 'bad.parquet'), method='newton')


def write_poisson_parquet(path, y, X, offset, w, row_group_size=None):
    """The rows of :func:`write_poisson` as Parquet: an int64 count, the offset as float32
    (read as float64, as its CSV text would not be: so the CSV twin gets the same values)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({'y': pa.array(y.astype(np.int64)), 'x1': X[:, 0],
                             'lexp': pa.array(offset, pa.float32()), 'x2': X[:, 1],
                             'w': w, 'x3': X[:, 2]}), str(path), row_group_size=row_group_size)
    return str(path)


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline', 'mrjob-local'])
def test_parquet_offset_is_the_csv_offset(tmp_path, full, engine):
    """--offset-col on Parquet (by name, 4 row groups): the fit of the same rows as CSV to
    1e-12, checked against statsmodels too; predict and evaluate read it from Parquet."""
    _, y, X, offset, w, _ = full
    offset32 = offset.astype(np.float32).astype(np.float64)
    pq_path = write_poisson_parquet(tmp_path / 'p.parquet', y, X, offset, w,
                                    row_group_size=500)
    csv = write_poisson(tmp_path / 'p.csv', y, X, offset32, w)
    got = run(engine, pq_path, method='newton', weight_col='w', offset_col='lexp')
    want = run('numpy', csv, method='newton', weight_col='w', offset_col='lexp')
    np.testing.assert_allclose(theta_of(got), theta_of(want), rtol=1e-12)
    check_against(got, reference(y, X, offset32, w))
    assert got['design']['offset_col'] == 'lexp' and got['n_rows'] == len(y)
    rec = tmp_path / 'r.json'
    result.write(got, str(rec))
    mu, mean_dev, _ = expected_scores(got, X, offset32, y)
    pred = tmp_path / 'pred.txt'
    assert main(['predict', str(rec), pq_path, '--engine', engine, '--out', str(pred)]) == 0
    np.testing.assert_allclose([float(v) for v in pred.read_text().split()], mu, rtol=1e-13)
    m = tmp_path / 'm.json'
    assert main(['evaluate', str(rec), pq_path, '--engine', engine, '--out', str(m)]) == 0
    np.testing.assert_allclose(json.loads(m.read_text())['mean_poisson_deviance'], mean_dev,
                               rtol=1e-12)


def test_parquet_offset_bad_values(tmp_path, capsys):
    """A null or NaN offset in Parquet is a bad row (row group and row named); the offset
    column cannot be a feature, the label or the weight; a missing one is named."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    y, X, offset, w = poisson_data(300, 66)
    lexp = pa.array([None if i == 123 else v for i, v in enumerate(offset)], pa.float64())
    pq.write_table(pa.table({'y': y, 'x1': X[:, 0], 'lexp': lexp, 'x2': X[:, 1]}),
                   str(tmp_path / 'null.parquet'), row_group_size=100)
    args = ['fit', str(tmp_path / 'null.parquet'), '--engine', 'numpy', '--model', 'poisson',
            '--method', 'newton', '--offset-col', 'lexp']
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "column 'lexp' is null" in err and 'row group 1' in err and 'Traceback' not in err
    assert main(args + ['--bad-rows', 'skip', '--out', str(tmp_path / 'r.json')]) == 0
    capsys.readouterr()
    got = json.loads((tmp_path / 'r.json').read_text())
    assert got['n_rows'] == 299 and got['n_bad_rows'] == 1
    keep = np.arange(300) != 123
    np.testing.assert_allclose(theta_of(got), reference(y[keep], X[keep][:, :2],
                                                        offset[keep]).params, rtol=1e-9)
    for extra, why in ((['--features', 'x1,lexp'], 'names the offset column'),
                       (['--weight-col', 'lexp'], 'the weight column'),
                       (['--offset-col', 'x9'], "'x9' is not a column")):
        a = args[:-2] + (['--offset-col', 'lexp'] if extra[0] != '--offset-col' else []) + extra
        assert main(a) == 1
        assert why in capsys.readouterr().err, extra


def test_ridge_is_the_penalised_optimum(full):
    """With --ridge L the answer zeroes the gradient of sum w (mu - y eta) + L/2 |theta'|^2
    (the intercept not penalised), computed here with numpy."""
    path, y, X, offset, w, _ = full
    got = run('numpy', path, method='newton', weight_col='w', offset_col='lexp', ridge=50.0)
    theta = np.array(theta_of(got))
    A = np.column_stack([np.ones(len(y)), X])
    mu = np.exp(A @ theta + offset)
    grad = A.T @ (w * (mu - y)) + 50.0 * np.r_[0.0, theta[1:]]
    scale = np.abs(A.T @ (w * y))
    assert np.max(np.abs(grad) / scale) <= 1e-10
    plain = run('numpy', path, method='newton', weight_col='w', offset_col='lexp')
    assert np.max(np.abs(theta[1:])) < np.max(np.abs(theta_of(plain)[1:]))


def test_aggregate_merge_is_the_whole_block():
    """The Poisson hessian partial of two halves merged is the partial of the whole block."""
    y, X, offset, w = poisson_data(500, 66)
    params = {'theta': [0.2, 0.3, -0.2, 0.1], 'model': 'poisson'}
    whole = Parsed(np.asfortranarray(X), y, w=w, offset=offset)
    halves = [Parsed(np.asfortranarray(X[s]), y[s], w=w[s], offset=offset[s])
              for s in (slice(0, 230), slice(230, None))]
    a = blocks.block_partial('hessian', whole, Design(), params)
    b = blocks.merge_all('hessian', [blocks.block_partial('hessian', p, Design(), params)
                                     for p in halves])
    for key in ('loss', 'grad', 'hess') + blocks.POISSON_SUMS + blocks.POISSON_OFFSET_SUMS:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-12, err_msg=key)
    eta = np.column_stack([np.ones(len(y)), X]) @ params['theta'] + offset
    mu = np.exp(eta)
    np.testing.assert_allclose(a['loss'], w @ (mu - y * eta), rtol=1e-12)
    np.testing.assert_allclose(a['pearson_chi2'], w @ ((y - mu) ** 2 / mu), rtol=1e-12)
    assert a['n_overflow'] == 0
