"""The model matrix: which columns a fit uses, formed from the raw features of a block."""

import dataclasses
from dataclasses import dataclass

import numpy as np

from distreg.errors import DistregError


@dataclass(frozen=True)
class Design:
    """Intercept, polynomial expansion of the numeric features, one-hot categorical columns.

    With ``degree = D`` each raw feature x gives the columns x, x², …, x^D (in
    that order, feature after feature); with ``intercept`` a column of ones comes
    first. The powers are formed in the dtype asked for, so an extended-precision
    pass (``np.longdouble``) gets extended-precision powers, not rounded float64 ones.

    ``levels`` (``((column, (level, ...)), ...)``, each column's levels sorted) adds, after
    the numeric columns, one 0/1 column per level of each categorical column (the text in
    ``cats``, rows x columns), its first level dropped (the reference) when the model has
    an intercept; without one the first categorical column keeps every level and the
    others drop their first, as statsmodels' formulas do. ``full_first`` overrides that
    for the first column (MLlib fits its intercept itself: ``intercept=False`` there, and
    ``full_first=False``). Powers never apply to these columns.

    Examples
    --------
    >>> Design(intercept=True, degree=2).matrix(np.array([[2.0, 3.0]]))
    array([[1., 2., 4., 3., 9.]])
    """
    intercept: bool = True
    degree: int = 1
    levels: tuple = None
    full_first: bool = None

    def __post_init__(self):
        if int(self.degree) != self.degree or self.degree < 1:
            raise DistregError('--poly-degree must be a whole number >= 1, not %r' % self.degree)

    def with_levels(self, levels):
        """This design with the categorical ``levels`` (``[[column, [level, ...]], ...]``,
        e.g. from an aggregate's params); itself when there are none."""
        if not levels:
            return self
        return dataclasses.replace(self, levels=tuple(
            (str(name), tuple(values)) for name, values in levels))

    def _dropped(self):
        """Per categorical column, how many leading levels have no column (0 or 1)."""
        full_first = (not self.intercept) if self.full_first is None else self.full_first
        return [0 if (i == 0 and full_first) else 1 for i in range(len(self.levels or ()))]

    def n_dummies(self):
        """Number of one-hot columns."""
        return sum(len(v) - d for (_, v), d in zip(self.levels or (), self._dropped()))

    @property
    def plain(self):
        """True when the model matrix is [1, X_raw] or X_raw (no powers, no one-hot)."""
        return self.degree == 1 and not self.levels

    def n_coef(self, n_raw):
        """Number of model columns for ``n_raw`` raw (numeric) features."""
        return int(self.intercept) + n_raw * self.degree + self.n_dummies()

    def n_raw(self, n_coef):
        """Number of raw features behind ``n_coef`` model columns."""
        return (n_coef - int(self.intercept) - self.n_dummies()) // self.degree

    def matrix(self, X_raw, dtype=np.float64, cats=None):
        """Model matrix of a block of raw features (rows x raw features) and, with
        ``levels``, the text of its categorical columns ``cats`` (rows x columns)."""
        X_raw = np.asarray(X_raw)
        n, k = X_raw.shape
        M = np.empty((n, self.n_coef(k)), dtype=dtype, order='F')
        j = 0
        if self.intercept:
            M[:, 0] = 1
            j = 1
        if self.levels:
            self._one_hot(M[:, int(self.intercept) + k * self.degree:], cats)
        if self.degree == 1:
            M[:, j:j + k] = X_raw
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

    def _one_hot(self, D, cats):
        """Fill ``D`` (rows x one-hot columns) from the categorical text ``cats``."""
        D[:] = 0
        if cats is None or len(cats) != D.shape[0] or cats.shape[1] != len(self.levels):
            raise DistregError('a block has no text for its %d categorical column(s)'
                               % len(self.levels))
        start, rows = 0, np.arange(D.shape[0])
        for c, ((name, levels), drop) in enumerate(zip(self.levels, self._dropped())):
            known = np.array(levels, dtype=str)
            text = cats[:, c]
            code = np.searchsorted(known, text)
            found = code < len(known)
            found[found] = known[code[found]] == text[found]
            if not found.all():
                # the loader rejects unknown levels where it knows the levels (predict); in a
                # fit every level was found by the levels pass over the same rows
                raise DistregError('column %r has the level %r, not one of the %d levels of '
                                   'the model' % (name, str(text[~found][0]), len(levels)))
            keep = code >= drop
            D[rows[keep], start + code[keep] - drop] = 1
            start += len(levels) - drop

    def coef_names(self, raw_names):
        """Names of the coefficients (without the intercept), e.g. ``x``, ``x^2``,
        ``region[T.north]`` (statsmodels' name of a one-hot column)."""
        names = []
        for name in raw_names:
            names.append(name)
            names.extend('%s^%d' % (name, d) for d in range(2, self.degree + 1))
        for (name, levels), drop in zip(self.levels or (), self._dropped()):
            names.extend('%s[%s]' % (name, level if not drop else 'T.%s' % level)
                         for level in levels[drop:])
        return names
