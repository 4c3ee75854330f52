"""The model matrix: which columns a fit uses, formed from the raw features of a block."""

from dataclasses import dataclass

import numpy as np

from distreg.errors import DistregError


@dataclass(frozen=True)
class Design:
    """Intercept and polynomial expansion of the raw features.

    With ``degree = D`` each raw feature x gives the columns x, x², …, x^D (in
    that order, feature after feature); with ``intercept`` a column of ones comes
    first. The powers are formed in the dtype asked for, so an extended-precision
    pass (``np.longdouble``) gets extended-precision powers, not rounded float64 ones.

    Examples
    --------
    >>> Design(intercept=True, degree=2).matrix(np.array([[2.0, 3.0]]))
    array([[1., 2., 4., 3., 9.]])
    """
    intercept: bool = True
    degree: int = 1

    def __post_init__(self):
        if int(self.degree) != self.degree or self.degree < 1:
            raise DistregError('--poly-degree must be a whole number >= 1, not %r' % self.degree)

    def n_coef(self, n_raw):
        """Number of model columns for ``n_raw`` raw features."""
        return int(self.intercept) + n_raw * self.degree

    def n_raw(self, n_coef):
        """Number of raw features behind ``n_coef`` model columns."""
        return (n_coef - int(self.intercept)) // self.degree

    def matrix(self, X_raw, dtype=np.float64):
        """Model matrix of a block of raw features (rows x raw features)."""
        X_raw = np.asarray(X_raw)
        n, k = X_raw.shape
        M = np.empty((n, self.n_coef(k)), dtype=dtype, order='F')
        j = 0
        if self.intercept:
            M[:, 0] = 1
            j = 1
        if self.degree == 1:
            M[:, j:] = X_raw
            return M
        for c in range(k):
            x = X_raw[:, c].astype(dtype)
            power = x
            M[:, j] = power
            for _ in range(1, self.degree):
                power = power * x
                j += 1
                M[:, j] = power
            j += 1
        return M

    def coef_names(self, raw_names):
        """Names of the coefficients (without the intercept), e.g. ``x``, ``x^2``."""
        names = []
        for name in raw_names:
            names.append(name)
            names.extend('%s^%d' % (name, d) for d in range(2, self.degree + 1))
        return names
