"""Every engine gives the answer of numpy's lstsq, and the textbook standard errors, residual SD,
RMSE and R², on the same data (1e-9 relative)."""

import numpy as np
import pytest

from helpers import assert_linear_stats, ols_reference, read_csv, theta
from distreg.cli import make_engine
from distreg.fit import FitOptions, fit


@pytest.mark.parametrize('engine', ['numpy', 'mrjob-inline', 'mrjob-local'])
@pytest.mark.parametrize('method', ['normal', 'qr'])
def test_engines_agree_with_lstsq(data_20k, engine, method):
    path, reference = data_20k
    record = fit(make_engine(engine, path), FitOptions(method=method))
    assert record['engine'] == engine
    np.testing.assert_allclose(theta(record), reference, rtol=1e-9)
    assert_linear_stats(record, ols_reference(*read_csv(path)))
    assert record['n_rows'] == 20_000
    assert len(record['timings']['pass_seconds']) == (1 if method == 'normal'
                                                      else 1 + record['iterations'])
