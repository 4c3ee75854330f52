"""distreg predict and evaluate on spark-rdd (and spark-mllib, which scores the same way),
against the test's own numpy product and scikit-learn's metrics (see tests/test_scoring.py)."""

import json
from contextlib import closing

import numpy as np
import pytest

from helpers import (check_linear_metrics, check_logistic_metrics, close_predictions,
                     make_linear, read_csv_columns, read_predictions, write_csv,
                     write_tied_logistic)
from distreg import blocks, scoring
from distreg.engine import make_engine
from distreg.errors import DistregError
from distreg.fit import FitOptions, fit
from distreg.generate import generate


def numpy_model(path, **options):
    return fit(make_engine('numpy', path), FitOptions(**options))


def margin(record, X):
    return np.column_stack([np.ones(len(X)), X]) @ np.array(
        [record['intercept']] + record['coefficients'])


@pytest.mark.parametrize('engine', ['spark-rdd', 'spark-mllib'])
def test_linear(spark, engine, tmp_path):
    y, X = make_linear(3000, 3, seed=8)
    train = write_csv(tmp_path / 'train.csv', y[:2000], X[:2000])
    held = write_csv(tmp_path / 'held.csv', y[2000:], X[2000:])
    model = scoring.Model(numpy_model(train, method='qr'))
    out = str(tmp_path / 'p.txt')
    with closing(make_engine(engine, held, spark=spark)) as e:
        scoring.predict(e, model, out)
    pred = np.array([float(v) for v in read_predictions(out)])
    assert close_predictions(pred, margin(model.record, X[2000:]))
    with closing(make_engine(engine, held, spark=spark)) as e:
        m = scoring.evaluate(e, model)
    check_linear_metrics(m, y[2000:], pred)


def test_logistic_with_ties(spark, tmp_path):
    write_tied_logistic(tmp_path / 'train.csv', 3000, seed=1)
    y, X = write_tied_logistic(tmp_path / 'held.csv', 2000, seed=2)
    held = str(tmp_path / 'held.csv')
    model = scoring.Model(numpy_model(str(tmp_path / 'train.csv'), model='logistic',
                                      method='newton'))
    out = str(tmp_path / 'p.txt')
    with closing(make_engine('spark-rdd', held, spark=spark)) as e:
        scoring.predict(e, model, out)
    prob = np.array([float(line.split(',')[0]) for line in read_predictions(out)])
    assert close_predictions(prob, 1 / (1 + np.exp(-margin(model.record, X))))
    with closing(make_engine('spark-rdd', held, spark=spark)) as e:
        m = scoring.evaluate(e, model)
    check_logistic_metrics(m, y, prob)


def test_bad_rows_keep_their_place(spark, tmp_path):
    y, X = make_linear(500, 2, seed=9)
    path = write_csv(tmp_path / 'd.csv', y, X)
    model = scoring.Model(numpy_model(path, method='qr'))
    lines = open(path).read().split('\n')
    lines[10] = '1.0,inf,2.0'
    bad = tmp_path / 'bad.csv'
    bad.write_text('\n'.join(lines))
    out = tmp_path / 'p.txt'
    with pytest.raises(DistregError, match='line 11'), \
            closing(make_engine('spark-rdd', str(bad), spark=spark)) as e:
        scoring.predict(e, model, str(out))
    assert not out.exists()
    with closing(make_engine('spark-rdd', str(bad), spark=spark)) as engine:
        scoring.predict(engine, model, str(out), bad_rows='skip')
    pred = read_predictions(out)
    assert len(pred) == 500 and pred[9] == ''
    assert [(r['line'], r['text']) for r in engine.rejects] == [(11, lines[10])]
    keep = np.arange(500) != 9
    assert close_predictions([float(v) for v in np.array(pred)[keep]],
                             margin(model.record, X[keep]))


def test_evaluate_a_million_rows(spark, tmp_path):
    path = str(tmp_path / 'm.csv')
    generate(1_000_000, 3, path, model='logistic', seed=7)
    model = scoring.Model(numpy_model(path, model='logistic', method='newton'))
    y, X = read_csv_columns(path)
    prob = blocks.sigmoid(blocks.margins(np.column_stack([np.ones(len(X)), X]), model.theta))
    with closing(make_engine('spark-rdd', path, spark=spark)) as e:
        m = scoring.evaluate(e, model)
    check_logistic_metrics(m, y, prob)
