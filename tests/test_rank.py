"""Ill-conditioned is not rank deficient (issue 21).

Full-rank designs with a tiny scaled diagonal in R (a degree-10 polynomial on x in [-9, -3],
macro-series-like columns) are fitted, to answers the tests know exactly (fractions: see
helpers.exact_problem): coefficients to at least 9 digits, standard errors to at least 8.
Exactly dependent designs (a duplicated column, a constant beside the intercept, a sum of
others, an affine combination, a dummy-variable trap, a duplicate under --poly-degree) are
still refused, naming the column, by qr and by normal. The rule itself (distreg.solvers.
RANK_TOL) is tested at its boundary. Spark: tests/spark_jobs/test_spark_rank.py; Hadoop:
tests/hadoop/test_mrjob_hadoop_engine.py.
"""

import numpy as np
import pytest

from helpers import dependent_designs, hard_problems, lre, theta
from distreg import solvers
from distreg.cli import main, make_engine
from distreg.errors import RankDeficientError, SingularMatrixError
from distreg.fit import FitOptions, fit

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


@pytest.fixture(scope='module')
def hard(tmp_path_factory):
    return hard_problems(tmp_path_factory.mktemp('hard'))


@pytest.fixture(scope='module')
def dependent(tmp_path_factory):
    return dependent_designs(tmp_path_factory.mktemp('dependent'))


def check_exact_digits(record, problem, coef=9, std_errors=8):
    """At least ``coef`` correct digits in every coefficient, ``std_errors`` in every SE."""
    got = dict(coef=lre(theta(record), problem['beta']).min(),
               std_errors=lre(record['stats']['std_errors'], problem['std_errors']).min(),
               residual_sd=lre([record['stats']['residual_sd']], [problem['residual_sd']]).min())
    assert got['coef'] >= coef and got['std_errors'] >= std_errors, got
    assert got['residual_sd'] >= std_errors, got
    assert record['n_rows'] == problem['n'] and record['converged']
    return got


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('case', ['filip_like', 'longley_like'])
def test_full_rank_ill_conditioned_designs_are_fitted(hard, case, engine):
    problem, degree = hard[case]
    record = fit(make_engine(engine, problem['path']), FitOptions(method='qr',
                                                                 poly_degree=degree))
    digits = check_exact_digits(record, problem)
    # as ill-conditioned as the issue says: R's 1e-7 rule (and this project's before) refused it
    assert 1e8 < record['stats']['condition_number'] < 1e10
    print('%s on %s: LRE %s' % (case, engine, {k: round(v, 2) for k, v in digits.items()}))


@pytest.mark.parametrize('engine', ENGINES)
@pytest.mark.parametrize('case', ['duplicate', 'constant', 'sum_of_others', 'affine',
                                  'dummy_trap', 'poly_duplicate'])
def test_exactly_dependent_designs_are_refused_by_name(dependent, case, engine):
    path, column, why, degree = dependent[case]
    with pytest.raises(RankDeficientError) as err:
        fit(make_engine(engine, path), FitOptions(method='qr', poly_degree=degree))
    assert "column '%s' %s" % (column, why) in str(err.value)
    assert '--ridge' in str(err.value)


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline'])
@pytest.mark.parametrize('case', ['duplicate', 'constant', 'sum_of_others', 'affine',
                                  'dummy_trap', 'poly_duplicate'])
def test_normal_names_the_dependent_column(dependent, case, engine):
    path, column, _, degree = dependent[case]
    with pytest.raises(RankDeficientError) as err:
        fit(make_engine(engine, path), FitOptions(method='normal', poly_degree=degree))
    message = str(err.value)
    assert message.startswith('the normal equations are singular to working precision')
    assert ("column '%s' is, within the precision of the normal equations, a linear combination"
            % column) in message and '--method qr' in message


def test_normal_still_refuses_the_degree_10_problem_pointing_to_qr(hard):
    problem, degree = hard['filip_like']
    with pytest.raises(SingularMatrixError, match='--method qr'):
        fit(make_engine('numpy', problem['path']), FitOptions(method='normal',
                                                             poly_degree=degree))


def _r_with_distance(t):
    """R of a 3-column model matrix whose last column is at relative distance ~t from the
    span of the other two."""
    return np.array([[1.0, 0.5, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, t]])


def test_the_rank_rule_at_its_boundary():
    assert solvers.RANK_TOL == 2.0 ** -40
    norm = np.sqrt(0.5)
    solvers.check_rank(_r_with_distance(2.0 ** -39 * norm), intercept=True)
    # R's lm (1e-7) would refuse this one
    solvers.check_rank(_r_with_distance(1e-10), intercept=True)
    with pytest.raises(RankDeficientError, match='column number 2 is a linear combination'):
        solvers.check_rank(_r_with_distance(2.0 ** -41 * norm), intercept=True)
    with pytest.raises(RankDeficientError):
        solvers.check_rank(_r_with_distance(0.0), intercept=True)


def test_the_summary_shows_the_condition_number_and_warns_above_1e10(tmp_path, capsys):
    from fractions import Fraction
    from helpers import exact_problem
    x = [Fraction(32 + i, 32) for i in range(33)]            # degree 10 on [1, 2]
    y = [Fraction((i * 7919) % 61 - 30, 100) + xi for i, xi in enumerate(x)]
    problem = exact_problem(tmp_path / 'c.csv', ['y', 'x'], [x], y, degree=10)
    out = tmp_path / 'r.json'
    assert main(['fit', problem['path'], '--engine', 'numpy', '--method', 'qr',
                 '--poly-degree', '10', '--out', str(out)]) == 0
    captured = capsys.readouterr()
    import json
    cond = json.loads(out.read_text())['stats']['condition_number']
    assert cond > 1e10
    assert 'Cond. No.:      %.3g' % cond in captured.out
    assert 'Warning: the condition number is %.3g' % cond in captured.out
    assert ('distreg: warning: the model matrix is ill-conditioned (condition number %.3g'
            % cond) in captured.err
    # and a well-conditioned fit says its number without a warning
    well = exact_problem(tmp_path / 'w.csv', ['y', 'x'], [x], y, degree=2)
    assert main(['fit', well['path'], '--engine', 'numpy', '--method', 'qr']) == 0
    captured = capsys.readouterr()
    assert 'Cond. No.:' in captured.out and 'Warning' not in captured.out
    assert 'warning' not in captured.err
