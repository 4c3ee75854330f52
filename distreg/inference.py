"""Inference from the fitted statistics: standard errors, t and p values, R², RMSE.

Definitions follow NIST StRD: with p coefficients (the intercept counted) and n
rows, residual_sd = sqrt(RSS / (n - p)), std_errors = residual_sd * sqrt(diag((X'X)^-1)),
R² = 1 - RSS / TSS with TSS = Σ(y - ȳ)² when the model has an intercept and the
uncentred Σy² when it has none. rmse = sqrt(RSS / n). p values are two-sided,
from Student's t with n - p degrees of freedom.

With sample weights (``--weight-col``) they are frequency weights, as statsmodels'
``WLS(y, X, weights=w)`` for the standard errors and ``GLM(..., freq_weights=w)``:
n is the sum of the weights (so a row of weight k counts as k rows, df = sum(w) - p),
RSS and TSS are weighted, and rmse = sqrt(RSS / sum(w)).
"""

import math

import numpy as np


def linear_stats(theta, cov, rss, part, intercept):
    """The ``stats`` of the result record for a least-squares fit.

    ``cov`` is (X'X)^-1 (or the ridge sandwich), ``part`` a merged partial with
    ``n``, ``y_mean`` and ``y_m2`` (and ``w_sum`` with weights: then the n used here).
    """
    n = part.get('w_sum', part['n'])
    p = len(theta)
    df = n - p
    tss = part['y_m2'] if intercept else part['y_m2'] + n * part['y_mean'] ** 2
    stats = dict(
        r2=(1.0 - rss / tss) if tss > 0 else None,
        rmse=math.sqrt(rss / n) if n else None,
        residual_sd=None, std_errors=None, t_values=None, p_values=None)
    if df <= 0:
        return stats
    sigma = math.sqrt(rss / df)
    se = sigma * np.sqrt(np.maximum(np.diag(cov), 0.0))
    stats['residual_sd'] = sigma
    stats['std_errors'] = se.tolist()
    with np.errstate(divide='ignore', invalid='ignore'):
        t = np.where(se > 0, np.asarray(theta) / np.where(se > 0, se, 1.0), np.nan)
    stats['t_values'] = [None if not math.isfinite(v) else float(v) for v in t]
    stats['p_values'] = [None if not math.isfinite(v) else student_t_two_sided(v, df)
                         for v in t]
    return stats


def robust_stats(theta, cov):
    """Standard errors, z values and two-sided normal p values from a robust covariance."""
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    with np.errstate(divide='ignore', invalid='ignore'):
        z = np.where(se > 0, np.asarray(theta) / np.where(se > 0, se, 1.0), np.nan)
    return dict(std_errors=se.tolist(),
                t_values=[None if not math.isfinite(v) else float(v) for v in z],
                p_values=[None if not math.isfinite(v) else normal_two_sided(v) for v in z])


def student_t_two_sided(t, df):
    """P(|T| > |t|) for Student's t with ``df`` degrees of freedom.

    Notes
    -----
    P(|T| > t) = I_x(df/2, 1/2) with x = df / (df + t²), I the regularised
    incomplete beta function.
    """
    if not math.isfinite(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def normal_two_sided(z):
    """P(|Z| > |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def betainc(a, b, x):
    """Regularised incomplete beta function I_x(a, b), by its continued fraction.

    Uses the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) so the fraction is always
    evaluated where it converges fast (x < (a + 1) / (a + b + 2)).
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a, b, x, tiny=1e-300, tol=1e-16, max_terms=10000):
    """Continued fraction of the incomplete beta function (modified Lentz's method).

    The fraction is 1/(1+ d1/(1+ d2/(1+ ...))) with
    d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)) and
    d_{2m}   =  m(b-m) x / ((a+2m-1)(a+2m)).
    """
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, max_terms):
        for coef in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                     -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + coef * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + coef / c
            c = c if abs(c) > tiny else tiny
            delta = c * d
            f *= delta
        if abs(delta - 1.0) < tol:
            return f
    return f
