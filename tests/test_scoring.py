"""distreg predict and evaluate: core pieces against scikit-learn, and the local engines.

Each engine's predictions are checked line by line against the test's own numpy
product of the model and the rows; each engine's metrics against numpy (RMSE,
MAE, R²) and scikit-learn (ROC AUC, log loss, confusion matrix), on data with
tied scores and on a file of 1M rows.
"""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from helpers import (check_linear_metrics, check_logistic_metrics, close_predictions,
                     make_linear, read_csv_columns, read_predictions, write_csv,
                     write_tied_logistic)
from distreg import blocks, scoring
from distreg.cli import main, make_engine
from distreg.errors import BadInputError, DistregError
from distreg.fit import FitOptions, fit
from distreg.generate import generate

ENGINES = ['numpy', 'mrjob-inline', 'mrjob-local']


# --------------------------------------------------------------------------- core

@pytest.mark.parametrize('seed', range(5))
def test_auc_ranges_merged_in_order_match_sklearn(seed):
    """Any cut of the sorted scores into ranges, ties across cuts included, gives sklearn's AUC."""
    rng = np.random.default_rng(seed)
    n = 2000
    scores = rng.integers(0, 30, size=n) / 7.0          # many ties
    y = (rng.uniform(size=n) < 0.3 + scores / 10).astype(int)
    s, p, q = blocks.distinct_score_counts(scores, y, 1 - y)
    # cut the rows (sorted by score) at random places, splitting equal scores apart too
    order = np.argsort(scores, kind='stable')
    cuts = np.sort(rng.choice(np.arange(1, n), size=6, replace=False))
    total = blocks.AucRange()
    for rows in np.split(order, cuts):
        part = blocks.AucRange.from_counts(*blocks.distinct_score_counts(
            scores[rows], y[rows], 1 - y[rows]))
        total = total.merge(blocks.AucRange.from_json(json.loads(json.dumps(part.to_json()))))
    assert total.auc() == pytest.approx(roc_auc_score(y, scores), rel=1e-15, abs=0)
    assert blocks.AucRange.from_counts(s, p, q).auc() == total.auc()
    assert (total.pos, total.neg) == (y.sum(), n - y.sum())


def test_auc_of_one_class_is_none():
    assert blocks.AucRange.from_counts(*blocks.distinct_score_counts(
        np.array([0.1, 0.2]), np.array([1, 1]), np.array([0, 0]))).auc() is None


def test_sortable_key_sorts_as_the_floats_do():
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(size=200) * 10.0 ** rng.integers(-300, 300, size=200),
                             [0.0, -0.0, 1.0, 0.5, np.nextafter(0.5, 1), 5e-324, -5e-324]])
    keys = [blocks.sortable_key(v) for v in values]
    assert [blocks.score_of_key(k) for k in keys] == values.tolist()
    by_key = [blocks.score_of_key(k) for k in sorted(keys)]
    assert by_key == sorted(values.tolist())


# --------------------------------------------------------------------------- engines

@pytest.fixture(scope='module')
def linear_model(tmp_path_factory):
    """A linear model fitted on one file, and a held-out file (with a header)."""
    d = tmp_path_factory.mktemp('linear')
    y, X = make_linear(3000, 3, seed=5)
    train = write_csv(d / 'train.csv', y[:2000], X[:2000])
    held = write_csv(d / 'held.csv', y[2000:], X[2000:])
    record = fit(make_engine('numpy', train), FitOptions(method='qr'))
    path = str(d / 'model.json')
    json.dump(record, open(path, 'w'))
    return record, path, held


@pytest.fixture(scope='module')
def logistic_model(tmp_path_factory):
    d = tmp_path_factory.mktemp('logistic')
    write_tied_logistic(d / 'train.csv', 3000, seed=1)
    write_tied_logistic(d / 'held.csv', 2000, seed=2)
    record = fit(make_engine('numpy', str(d / 'train.csv')),
                 FitOptions(model='logistic', method='newton'))
    path = str(d / 'model.json')
    json.dump(record, open(path, 'w'))
    return record, path, str(d / 'held.csv')


def reference_margin(record, X):
    theta = np.array([record['intercept']] + record['coefficients'])
    return np.column_stack([np.ones(len(X)), X]) @ theta


@pytest.mark.parametrize('engine', ENGINES)
def test_predict_and_evaluate_linear(engine, linear_model, tmp_path):
    record, path, held = linear_model
    out = str(tmp_path / 'pred.txt')
    assert main(['predict', path, held, '--engine', engine, '--out', out]) == 0
    pred = np.array([float(v) for v in read_predictions(out)])
    y, X = read_csv_columns(held)
    assert close_predictions(pred, reference_margin(record, X))
    metrics_path = str(tmp_path / 'metrics.json')
    assert main(['evaluate', path, held, '--engine', engine, '--out', metrics_path]) == 0
    check_linear_metrics(json.load(open(metrics_path)), y, pred)


@pytest.mark.parametrize('engine', ENGINES)
def test_predict_and_evaluate_logistic_with_ties(engine, logistic_model, tmp_path):
    record, path, held = logistic_model
    out = str(tmp_path / 'pred.txt')
    assert main(['predict', path, held, '--engine', engine, '--out', out]) == 0
    pairs = [line.split(',') for line in read_predictions(out)]
    prob = np.array([float(p) for p, _ in pairs])
    y, X = read_csv_columns(held)
    ref = 1 / (1 + np.exp(-reference_margin(record, X)))
    assert close_predictions(prob, ref)
    assert [int(c) for _, c in pairs] == (prob >= 0.5).astype(int).tolist()
    assert len(np.unique(prob)) <= 16 < len(prob)     # the data really have tied scores
    m = scoring.evaluate(make_engine(engine, held), scoring.Model(record))
    check_logistic_metrics(m, y, prob)


def test_a_model_from_mrjob_predicts_on_numpy(linear_model, tmp_path):
    record, _, held = linear_model
    train = held  # any file with the same columns: the record's design is what matters
    other = fit(make_engine('mrjob-inline', train), FitOptions(method='normal'))
    out = str(tmp_path / 'p.txt')
    scoring.predict(make_engine('numpy', held), scoring.Model(other), out)
    y, X = read_csv_columns(held)
    assert close_predictions([float(v) for v in read_predictions(out)], reference_margin(other, X))


def test_features_only_input_is_scored(linear_model, tmp_path):
    record, path, held = linear_model
    y, X = read_csv_columns(held)
    bare = tmp_path / 'bare.csv'
    bare.write_text(''.join(','.join(repr(float(v)) for v in row) + '\n' for row in X))
    out = str(tmp_path / 'p.txt')
    assert main(['predict', path, str(bare), '--engine', 'numpy', '--out', out]) == 0
    assert close_predictions([float(v) for v in read_predictions(out)], reference_margin(record, X))
    assert main(['evaluate', path, str(bare), '--engine', 'numpy']) == 1


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_feature_count_mismatch_fails_before_any_job(engine, linear_model, tmp_path, capsys):
    _, path, _ = linear_model
    wide = write_csv(tmp_path / 'wide.csv', np.zeros(5), np.ones((5, 6)))
    out = tmp_path / 'p.txt'
    assert main(['predict', path, wide, '--engine', engine, '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert 'distreg: error: the model has 3 raw features' in err and 'wide.csv has 7 columns' in err
    assert not out.exists()


@pytest.mark.parametrize('engine', ENGINES)
def test_bad_rows_keep_their_place_or_fail(engine, linear_model, tmp_path, capsys):
    record, path, held = linear_model
    lines = open(held).read().split('\n')
    lines[5] = '1.0,2.0,oops,3.0'           # line 6 of the file, data row 5
    bad = tmp_path / 'bad.csv'
    bad.write_text('\n'.join(lines))
    out = tmp_path / 'p.txt'
    assert main(['predict', path, str(bad), '--engine', engine, '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert 'bad.csv' in err and 'line 6' in err and "'oops'" in err
    assert not out.exists()
    assert main(['predict', path, str(bad), '--engine', engine, '--out', str(out),
                 '--bad-rows', 'skip']) == 0
    pred = read_predictions(out)
    assert len(pred) == 1000 and pred[4] == ''
    y, X = read_csv_columns(held)
    keep = np.arange(1000) != 4
    assert close_predictions([float(v) for v in np.array(pred)[keep]],
                       reference_margin(record, X[keep]))
    rejects = [json.loads(x) for x in open(str(out) + '.rejects.jsonl')]
    assert [(r['line'], r['text']) for r in rejects] == [(6, lines[5])]


@pytest.fixture(scope='module')
def million(tmp_path_factory):
    """1M logistic rows (continuous scores) and a model fitted on them."""
    path = str(tmp_path_factory.mktemp('million') / 'm.csv')
    generate(1_000_000, 3, path, model='logistic', seed=7)
    record = fit(make_engine('numpy', path), FitOptions(model='logistic', method='newton'))
    return path, record


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-local'])
def test_evaluate_a_million_rows(engine, million):
    path, record = million
    y, X = read_csv_columns(path)
    prob = blocks.sigmoid(blocks.margins(np.column_stack([np.ones(len(X)), X]),
                                         [record['intercept']] + record['coefficients']))
    m = scoring.evaluate(make_engine(engine, path), scoring.Model(record))
    check_logistic_metrics(m, y, prob)


def test_score_buckets_sorted_by_key_give_the_exact_auc():
    rng = np.random.default_rng(3)
    scores = np.concatenate([rng.uniform(size=5000), np.round(rng.uniform(size=5000), 2),
                             -rng.exponential(size=100)])
    y = (rng.uniform(size=len(scores)) < 0.4).astype(int)
    halves = [blocks.score_buckets(blocks.distinct_score_counts(scores[i::2], y[i::2],
                                                                1 - y[i::2])) for i in (0, 1)]
    merged = {}
    for key, counts in halves[0] + halves[1]:
        merged[key] = blocks.merge_score_counts(merged.get(key), counts)
    total = blocks.AucRange()
    for key in sorted(merged):
        total = total.merge(blocks.AucRange.from_counts(*merged[key]))
    assert len(merged) > 100
    assert total.auc() == pytest.approx(roc_auc_score(y, scores), rel=1e-15, abs=0)


@pytest.mark.parametrize('key, value, why', [
    ('coefficients', [1.0, 2.0], 'has 3 coefficients (intercept included) where its design'),
    ('coefficients', [1.0, 2.0, 3.0, 4.0], 'has 5 coefficients'),
    ('coefficients', ['a', 'b', 'c'], 'coefficients are not a list of finite numbers'),
    ('intercept', 'x', "intercept is 'x'"),
    ('model', 'probit', "model is 'probit'"),
    ('design.poly_degree', 3, 'where its design (an intercept, 3 features, degree 3) has 10'),
    ('design.poly_degree', 'x', "poly_degree is 'x'"),
    ('design.n_features', 'x', "n_features is 'x'"),
    ('design.levels', 'x', 'levels are not'),
    ('design.feature_names', ['a', 'b'], 'feature_names are not 3 column names'),
    ('design.label_col', [1], 'label_col is [1]'),
])
def test_a_model_that_distreg_did_not_fit_is_refused(tmp_path, capsys, key, value, why):
    """A record edited by hand or damaged: as many coefficients as the design's columns, each
    a finite number, a known model and design. Fewer or more coefficients scored every row
    with exit 0 (a wrong answer); a text where a number belongs was a traceback."""
    data = str(tmp_path / 'd.csv')
    generate(200, 3, data, seed=4)
    good = str(tmp_path / 'r.json')
    assert main(['fit', data, '--engine', 'numpy', '--out', good, '--quiet']) == 0
    with open(good) as f:
        record = json.load(f)
    target = record
    *parents, last = key.split('.')
    for k in parents:
        target = target[k]
    target[last] = value
    damaged = tmp_path / 'damaged.json'
    damaged.write_text(json.dumps(record))
    out = tmp_path / 'p.txt'
    for args in (['predict', str(damaged), data, '--engine', 'numpy', '--out', str(out)],
                 ['evaluate', str(damaged), data, '--engine', 'numpy']):
        assert main(args) == 1
        err = capsys.readouterr().err
        assert why in err and str(damaged) in err and 'Traceback' not in err, err
    assert not out.exists()
    assert main(['predict', good, data, '--engine', 'numpy', '--out', str(out)]) == 0
