"""Aggregates: a merge of block partials equals the partial of all rows; JSON is exact."""

import json

import numpy as np
import pytest

from distreg import blocks
from distreg.design import Design
from distreg.loader import Parsed


def _parsed(rng, n, p):
    return Parsed(rng.normal(size=(n, p)), rng.normal(size=n))


def _split(parsed, cuts):
    edges = [0, *cuts, len(parsed.y)]
    return [Parsed(parsed.X[a:b], parsed.y[a:b]) for a, b in zip(edges, edges[1:])]


@pytest.mark.parametrize('n, p, cuts', [(200, 3, [50, 51, 120]), (40, 6, [3]), (10, 4, [2, 9])])
def test_gram_merge_equals_whole(n, p, cuts):
    rng = np.random.default_rng(n)
    whole = _parsed(rng, n, p)
    design = Design(intercept=True)
    merged = blocks.merge_all('gram', [blocks.block_partial('gram', b, design)
                                       for b in _split(whole, cuts)])
    X = np.column_stack([np.ones(n), whole.X])
    np.testing.assert_allclose(merged['xtx'], X.T @ X, rtol=1e-13)
    np.testing.assert_allclose(merged['xty'], X.T @ whole.y, rtol=1e-13)
    assert merged['n'] == n
    np.testing.assert_allclose(merged['y_mean'], whole.y.mean(), rtol=1e-13)
    np.testing.assert_allclose(merged['y_m2'], ((whole.y - whole.y.mean()) ** 2).sum(),
                               rtol=1e-12)


@pytest.mark.parametrize('n, p, cuts', [(200, 3, [50, 51, 120]), (40, 6, [3]), (10, 4, [2, 9])])
def test_tsqr_merge_gives_the_r_of_all_rows(n, p, cuts):
    """Blocks smaller than the width (3 rows of 7 columns) must still merge exactly."""
    rng = np.random.default_rng(n + 1)
    whole = _parsed(rng, n, p)
    design = Design(intercept=True)
    merged = blocks.merge_all('tsqr', [blocks.block_partial('tsqr', b, design)
                                       for b in _split(whole, cuts)])
    Z = np.column_stack([np.ones(n), whole.X, whole.y])
    # the partial's R is that of the columns scaled by 2^-r_exp (exact), each max |.| < 1
    R = merged['r'] * 2.0 ** merged['r_exp']
    assert np.allclose(np.tril(R, -1), 0)
    assert np.all(np.abs(Z) * 2.0 ** -merged['r_exp'] < 1)
    np.testing.assert_allclose(R.T @ R, Z.T @ Z, rtol=1e-12, atol=1e-12 * np.abs(Z.T @ Z).max())


def test_tsqr_merge_scales_columns_near_the_float64_limit():
    """Columns of 1e200 and 1e-200 in different blocks: R of the scaled columns, no overflow."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 2)) * [1e200, 1e-200]
    X[:20] *= 2.0 ** 40           # a block whose columns are larger than the others'
    y = rng.normal(size=60) * 1e200
    design = Design(intercept=True)
    merged = blocks.merge_all('tsqr', [blocks.block_partial('tsqr', b, design)
                                       for b in _split(Parsed(X, y), [20, 45])])
    assert np.all(np.isfinite(merged['r']))
    Zs = np.column_stack([np.ones(60), X, y]) * 2.0 ** -merged['r_exp'].astype(float)
    R = merged['r']
    np.testing.assert_allclose(R.T @ R, Zs.T @ Zs, rtol=1e-12, atol=1e-12 * np.abs(Zs.T @ Zs).max())


def test_refine_is_extended_precision_and_round_trips_through_json():
    rng = np.random.default_rng(5)
    whole = _parsed(rng, 100, 3)
    theta = rng.normal(size=4)
    design = Design(intercept=True)
    part = blocks.merge_all('refine', [blocks.block_partial('refine', b, design,
                                                            {'theta': theta.tolist()})
                                       for b in _split(whole, [30, 70])])
    assert part['g'].dtype == np.longdouble
    back = blocks.decode(json.loads(json.dumps(blocks.encode(part))))
    assert np.all(back['g'] == part['g']) and back['rss'] == part['rss']
    X = np.column_stack([np.ones(100), whole.X])
    np.testing.assert_allclose(back['g'].astype(float), X.T @ (whole.y - X @ theta),
                               rtol=1e-12)


def test_json_round_trip_is_exact_for_float64():
    rng = np.random.default_rng(6)
    part = blocks.block_partial('gram', _parsed(rng, 50, 4), Design())
    back = blocks.decode(json.loads(json.dumps(blocks.encode(part))))
    assert np.array_equal(back['xtx'], part['xtx']) and back['yty'] == part['yty']


def test_libsvm_blocks_of_different_widths_merge_by_zero_padding():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(30, 4))
    X[:10, 2:] = 0.0                       # the first block never mentions features 3, 4
    y = rng.normal(size=30)
    narrow, wide = Parsed(X[:10, :2], y[:10]), Parsed(X[10:], y[10:])
    design = Design(intercept=True)
    A = np.column_stack([np.ones(30), X])
    Z = np.column_stack([A, y])
    gram = blocks.merge_partials('gram', blocks.block_partial('gram', narrow, design),
                                 blocks.block_partial('gram', wide, design))
    np.testing.assert_allclose(gram['xtx'], A.T @ A, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(gram['xty'], A.T @ y, rtol=1e-13, atol=1e-13)
    assert gram['n'] == 30
    tsqr = blocks.merge_partials('tsqr', blocks.block_partial('tsqr', narrow, design),
                                 blocks.block_partial('tsqr', wide, design))
    # the partial's R is that of the columns scaled by 2^-r_exp (exact)
    R = tsqr['r'] * 2.0 ** tsqr['r_exp']
    assert R.shape == (6, 6) and np.allclose(np.tril(R, -1), 0)
    np.testing.assert_allclose(R.T @ R, Z.T @ Z, rtol=1e-12, atol=1e-12 * np.abs(Z.T @ Z).max())


def test_empty_blocks_are_the_identity():
    rng = np.random.default_rng(8)
    rows = _parsed(rng, 20, 2)
    full = blocks.block_partial('gram', rows, Design())
    empty = blocks.block_partial('gram', Parsed(np.zeros((0, 2)), np.zeros(0)), Design())
    assert empty['n'] == 0
    merged = blocks.merge_partials('gram', empty, full)
    A = np.column_stack([np.ones(20), rows.X])
    assert merged['n'] == 20 and np.array_equal(merged['xtx'], full['xtx'])
    np.testing.assert_allclose(merged['xtx'], A.T @ A, rtol=1e-13)
    np.testing.assert_allclose(merged['y_mean'], rows.y.mean(), rtol=1e-13)


def test_packed_bytes_round_trip_exactly():
    """pack/unpack (raw float64 bytes, what Spark tasks send): every dtype back bit for bit."""
    rng = np.random.default_rng(7)
    whole = _parsed(rng, 100, 3)
    design = Design(intercept=True)
    for name, params in (('gram', {}), ('tsqr', {}),
                         ('refine', {'theta': rng.normal(size=4).tolist()})):
        part = blocks.block_partial(name, whole, design, params)
        part['counts'] = np.arange(3, dtype=np.int64)
        back = blocks.unpack(blocks.pack(part))
        assert set(back) == set(part)
        for k, v in part.items():
            if isinstance(v, (np.ndarray, np.generic)):
                assert np.asarray(back[k]).dtype == np.asarray(v).dtype, k
                assert np.asarray(back[k]).shape == np.asarray(v).shape, k
                assert np.all(back[k] == v), k
            else:
                assert back[k] == v and type(back[k]) is type(v), k


def test_packed_symmetric_matrix_travels_as_its_upper_triangle():
    """A Gram (exactly symmetric, bit for bit) is packed as its upper triangle, half the
    bytes, and comes back bit for bit (-0.0 and NaN included); a matrix that is symmetric
    to rounding only, or not square, travels whole."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(50, 30))
    gram = X.T @ X
    gram[3, 5] = gram[5, 3] = -0.0
    gram[7, 2] = gram[2, 7] = np.nan
    nearly = gram.copy()
    nearly[0, 1] = np.nextafter(nearly[1, 0], np.inf)
    wide = rng.normal(size=(30, 31))
    for arr, sym in ((gram, True), (nearly, False), (wide, False)):
        data = blocks.pack({'n': 50, 'xtx': arr})
        back = blocks.unpack(data)['xtx']
        assert back.dtype == arr.dtype and back.shape == arr.shape
        assert back.tobytes() == arr.tobytes()
        body = 8 * (arr.shape[0] * (arr.shape[0] + 1) // 2 if sym else arr.size)
        assert len(data) - body < 200  # the header only
    small = blocks.pack({'xtx': gram})
    with pytest.raises(ValueError, match='truncated'):
        blocks.unpack(small[:-8])


def test_packed_bytes_refuse_what_pack_did_not_make():
    data = blocks.pack({'n': 1, 'xty': np.ones(4)})
    with pytest.raises(ValueError, match='truncated'):
        blocks.unpack(data[:-8])
    with pytest.raises(ValueError, match='not a packed partial'):
        blocks.unpack(b'{"n": 1}')


def test_logistic_loss_and_residual_keep_their_digits_at_any_eta():
    """Against the textbook formulas, row by row in Python floats: the loss
    log(1 + e^eta) - y eta and the residual p - y, for eta out to +-800 (where e^eta
    overflows) and across the pieces the core computes them in. A residual near 0 (a
    well-classified row: p near y) keeps its digits: the old p - y formed it as a
    difference of two numbers near 1 and gave 0 for 4e-18 at eta = 40."""
    import math
    edges = [-800.0, -40.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 40.0, 800.0]
    rng = np.random.default_rng(3)
    eta = np.concatenate([edges, rng.normal(scale=20.0, size=blocks.LOGISTIC_CHUNK + 7)])
    y = np.concatenate([np.ones(len(edges)), rng.integers(0, 2, len(eta) - len(edges))])
    y[:len(edges) // 2] = 0.0
    loss, r = blocks._loss_and_residual('logistic', eta, y.astype(float))

    def softplus(v):
        return max(v, 0.0) + math.log1p(math.exp(-abs(v)))

    def residual(v, label):
        # p - y: p = 1/(1 + e^-v); 1 - p = 1/(1 + e^v)
        if label == 1.0:
            return -1.0 / (1.0 + math.exp(v)) if v < 700 else -math.exp(-v)
        return 1.0 / (1.0 + math.exp(-v)) if v > -700 else math.exp(v)

    want = np.array([residual(v, label) for v, label in zip(eta, y)])
    np.testing.assert_allclose(r, want, rtol=1e-14, atol=0)
    assert r[edges.index(40.0)] < 0.0  # -4.2e-18, not 0
    want_loss = math.fsum(softplus(v) - label * v for v, label in zip(eta, y))
    assert abs(loss - want_loss) <= 1e-13 * want_loss


def test_a_large_block_is_summed_piece_by_piece_over_every_row_once():
    """gradient and hessian evaluate a block of many rows in pieces (row_pieces): each row
    once, its weight, offset and categorical text with it. Against the sums written out in
    numpy over the whole block (logistic loss and gradient; Poisson's Hessian with offsets)."""
    rng = np.random.default_rng(5)
    n, p = 70_000, 6
    X = rng.normal(size=(n, p)) * 0.3
    w = rng.integers(0, 4, size=n).astype(float)
    offset = rng.normal(size=n) * 0.1
    cats = rng.choice(['a', 'b', 'c'], size=(n, 1))
    y01 = (rng.random(n) < 0.4).astype(float)
    counts = rng.poisson(2.0, size=n).astype(float)
    pieces = list(blocks.row_pieces(Parsed(X, y01, w=w, offset=offset, cats=cats)))
    assert len(pieces) > 1 and max(len(q.y) for q in pieces) < n
    for name in ('X', 'y', 'w', 'offset', 'cats'):
        assert np.array_equal(np.concatenate([getattr(q, name) for q in pieces]),
                              getattr(Parsed(X, y01, w=w, offset=offset, cats=cats), name))
    theta = rng.normal(size=p + 1) * 0.2
    A = np.column_stack([np.ones(n), X])
    # logistic, weighted
    part = blocks.block_partial('gradient', Parsed(X, y01, w=w), Design(intercept=True),
                                {'theta': theta.tolist(), 'model': 'logistic'})
    eta = A @ theta
    loss = np.sum(w * (np.logaddexp(0.0, eta) - y01 * eta))
    grad = A.T @ (w * (1 / (1 + np.exp(-eta)) - y01))
    assert abs(part['loss'] - loss) <= 1e-12 * abs(loss)
    assert np.max(np.abs(part['grad'] - grad)) <= 1e-12 * np.max(np.abs(grad))
    assert part['n_wrong'] == np.count_nonzero(np.where(y01 == 1, eta <= 0, eta >= 0) & (w > 0))
    # Poisson with offsets: the Fisher information X' diag(w mu) X
    part = blocks.block_partial('hessian', Parsed(X, counts, offset=offset),
                                Design(intercept=True),
                                {'theta': theta.tolist(), 'model': 'poisson'})
    mu = np.exp(A @ theta + offset)
    hess = A.T @ (mu[:, None] * A)
    assert np.max(np.abs(part['hess'] - hess)) <= 1e-12 * np.max(np.abs(hess))
    assert np.max(np.abs(part['grad'] - A.T @ (mu - counts))) <= 1e-11 * np.max(np.abs(hess))
