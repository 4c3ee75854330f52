"""The ``spark-mllib`` engine: pyspark.ml's own regressions on the rows the shared loader accepts.

Not an adapter of the core's math: the rows are read, parsed and checked by
:class:`spark_jobs.engine.RDDEngine` (so exactly the same rows are used or
rejected, with the same messages), turned into a DataFrame of ``label`` and a
``features`` vector (the model columns of ``--poly-degree``, without the
intercept: MLlib fits that itself), and trained by MLlib. Its coefficients and
summary become the same result record.

Methods
-------
linear, normal    LinearRegression(solver='normal')   std errors, t and p values
linear, lbfgs     LinearRegression(solver='l-bfgs')   (MLlib gives no std errors)
logistic, lbfgs   LogisticRegression(family='binomial') (no std errors either)
logistic, newton  GeneralizedLinearRegression(family='binomial', link='logit'):
                  IRLS, std errors, z and p values
poisson, newton   GeneralizedLinearRegression(family='poisson', link='log'), the
                  offset (``--offset-col``) as its ``offsetCol``: IRLS, std errors,
                  z and p values; the deviance, Pearson chi2, null deviance,
                  log-likelihood and AIC from one pass of the core at MLlib's answer

Ridge (``--ridge L``, our objective ``loss_sum + L/2 |theta'|^2``) maps to MLlib's
``regParam`` with ``elasticNetParam=0`` and ``standardization=False`` (the penalty
on the coefficients as they are, as ours):

- LinearRegression minimises ``1/(2n) RSS + regParam / sd(y) * 1/2 |theta|^2``
  (it scales the penalty by the population standard deviation of the label), so
  ``regParam = L * sd(y) / n``;
- LogisticRegression minimises ``1/n loss_sum + regParam * 1/2 |theta|^2``, so
  ``regParam = L / n``;
- GeneralizedLinearRegression's IRLS penalises each weighted least-squares step
  by the sum of that step's weights, which changes from step to step: it
  minimises no fixed penalised likelihood, so ``--ridge`` is refused there.

MLlib does not report per-pass timings: ``pass_seconds`` has one entry, the
training time.

Sample weights (``--weight-col``) go to MLlib's ``weightCol``. MLlib's linear
standard errors take the residual variance over rows - p; distreg's frequency
weights over sum(w) - p (statsmodels' GLM freq_weights, as every other engine's):
they are rescaled by sqrt(MLlib's df / (sum(w) - p)), and t and p values follow; R²
is formed from the weighted sums (MLlib's weighted r2 is not the frequency-weights one).
"""

import math
import time

import numpy as np

from distreg import inference, optim, solvers
from distreg.blocks import check_rows
from distreg.design import Design
from distreg.engine import Engine
from distreg.errors import DistregError
from distreg.fit import find_levels
from spark_jobs.engine import RDDEngine
from spark_jobs.session import cancellable

#: (model, method) -> what MLlib runs.
MLLIB_METHODS = {('linear', 'normal'): 'LinearRegression(solver=normal)',
           ('linear', 'lbfgs'): 'LinearRegression(solver=l-bfgs)',
           ('logistic', 'lbfgs'): 'LogisticRegression',
           ('logistic', 'newton'): 'GeneralizedLinearRegression(binomial, IRLS)',
           ('poisson', 'newton'): 'GeneralizedLinearRegression(poisson, IRLS)'}


class MLlibEngine(Engine):
    """Trains pyspark.ml models on the rows of the shared loader (arguments: see RDDEngine)."""
    name = 'spark-mllib'
    trains_itself = True

    def __init__(self, path, name='spark-mllib', master=None, *, spark=None, reader='auto'):
        super().__init__(path, name)
        self.rdd = RDDEngine(path, master=master, spark=spark, reader=reader)
        self.load_seconds = 0.0
        self.frame = None
        self.tsqr = None
        #: the categorical columns' levels (the levels pass of prepare), or None
        self.levels = None

    @property
    def rejects(self):
        return self.rdd.rejects

    @cancellable
    def prepare(self, options):
        """Check the method, read and parse the rows, cache them as a DataFrame.

        To score rows (predict, evaluate: ``options.n_features`` given) the rows are
        read as spark-rdd reads them: pyspark.ml builds no model from given
        coefficients, and the core's scoring is the same on every engine.
        """
        if options.n_features is not None:
            return self.rdd.prepare(options)
        check_method(options)
        schema = self.rdd.prepare(options)
        try:
            # the core's levels pass on the cached rows; MLlib is handed the one-hot columns
            # the core forms (the same levels, order and dropped level as every engine)
            self.levels = find_levels(self.rdd.aggregate, schema, options)
            design = self._design(options)
            check_width(options, self._n_features(schema, options))
        except DistregError:
            self.close()
            raise
        t0 = time.perf_counter()
        spark = self.rdd.spark
        from pyspark.ml.functions import array_to_vector
        from pyspark.sql.types import ArrayType, DoubleType, StructField, StructType
        columns = [StructField('label', DoubleType(), False),
                   StructField('x', ArrayType(DoubleType(), False), False)]
        self.weighted = schema.weight is not None
        if self.weighted:
            columns.append(StructField('weight', DoubleType(), False))
        self.has_offset = getattr(schema, 'offset', None) is not None
        if self.has_offset:
            columns.append(StructField('offset', DoubleType(), False))
        rows = self.rdd.cached.flatMap(_Rows(design))
        self.frame = spark.createDataFrame(rows, StructType(columns)).select(
            'label', array_to_vector('x').alias('features'),
            *(['weight'] if self.weighted else []),
            *(['offset'] if self.has_offset else [])).cache()
        self.n_rows = self.frame.count()
        self.n_bad = len(self.rdd.rejects)
        self.w_sum = self.n_zero_w = None
        if self.weighted:
            from pyspark.sql import functions as F
            got = self.frame.agg(F.sum('weight'),
                                 F.sum((F.col('weight') == 0).cast('long'))).first()
            self.w_sum, self.n_zero_w = float(got[0] or 0.0), int(got[1] or 0)
        # MLlib drops constant columns and answers n < p without a word: one TSQR pass of
        # the core on the cached rows lets solve() refuse what the other engines refuse
        self.tsqr = (self.rdd.aggregate('tsqr', {'levels': self.levels} if self.levels else {})
                     if self.n_rows and not (options.ridge or options.l1) else None)
        if options.model == 'linear' or options.ridge:
            # logistic keeps the rows: the separation check evaluates MLlib's answer on them;
            # Poisson: its deviance and the other statistics are the core's at MLlib's answer
            self.rdd.release_cache()
        self.load_seconds = self.rdd.load_seconds + time.perf_counter() - t0
        return schema

    def _design(self, options):
        """The model columns MLlib is given: the core's, without the intercept (MLlib fits it
        itself), the first level of each categorical column dropped when it does."""
        return Design(intercept=False, degree=options.poly_degree,
                      full_first=not options.intercept).with_levels(self.levels)

    def _n_features(self, schema, options):
        """Model columns MLlib is given (the intercept is its own): from the header, or the blocks."""
        design = self._design(options)
        if schema.format == 'csv' and schema.n_fields:
            return design.n_coef(schema.n_features())   # neither the label nor the weight
        widths = self.rdd.cached.map(_width).collect()
        return design.n_coef(max(widths, default=0))

    @cancellable
    def solve(self, options, progress=None):
        """Train with MLlib; return what the core's solvers return (see :func:`distreg.fit.fit`).

        ``progress``: a stream that gets one line as MLlib starts training (its iterations
        run in the JVM and report nothing until they end)."""
        counts = {'n': self.n_rows, 'n_bad': self.n_bad}
        if self.weighted:
            counts.update(w_sum=self.w_sum, n_zero_w=self.n_zero_w)
        check_rows(counts)
        if self.tsqr is not None:
            r = self.tsqr['r']
            p = r.shape[0] - 1
            solvers.check_rows_for_columns(solvers.rows_in_fit(self.tsqr), p, options.ridge)
            solvers.check_rank(r[:p, :p], options.intercept)
        tol = options.tol if options.tol is not None else MLLIB_TOL
        max_iter = (options.max_iter if options.max_iter is not None
                    else optim.DEFAULT_MAX_ITER.get(options.method, 100))
        t0 = time.perf_counter()
        train = {'linear': _train_linear, 'logistic': _train_logistic,
                 'poisson': _train_poisson}[options.model]
        if progress is not None:
            print('distreg: spark-mllib: %d rows cached; MLlib trains (%s %s, at most %d '
                  'iterations)' % (self.n_rows, options.model, options.method, max_iter),
                  file=progress, flush=True)
        out = train(self, options, tol, max_iter)
        if options.model == 'logistic' and not options.ridge:
            self._check_separation(out['theta'], options)
        if options.model == 'poisson':
            self._poisson_stats(out, options)
        out.update(optim.row_counts(counts), pass_seconds=[time.perf_counter() - t0])
        return out

    def _check_separation(self, theta, options):
        """The core's separation check on MLlib's answer: one pass of its loss at theta.

        MLlib reports separated classes as converged (l-bfgs) or not (IRLS) with huge
        coefficients and no warning; the other engines refuse them, and so does this one.
        """
        part = self.rdd.aggregate('gradient', {'theta': [float(v) for v in theta],
                                               'model': 'logistic', 'levels': self.levels})
        optim.check_separation(part, options.model, options.ridge)

    def _poisson_stats(self, out, options):
        """The Poisson record's goodness of fit at MLlib's answer, from one ``hessian`` pass of
        the core (MLlib's summary has no Pearson chi2 and its AIC differs with weights)."""
        part = self.rdd.aggregate('hessian', {'theta': [float(v) for v in out['theta']],
                                              'model': 'poisson', 'levels': self.levels})
        if part['n_overflow']:
            raise DistregError('spark-mllib: the Poisson mean exp(eta) of %d row(s) overflows '
                               'float64 at MLlib\'s answer; the answer is not usable'
                               % part['n_overflow'])
        out['stats'].update(optim.poisson_stats(part, len(out['theta'])))

    def predict(self, params, out):
        return self.rdd.predict(params, out)

    def evaluate(self, params):
        return self.rdd.evaluate(params)

    def close(self):
        if self.frame is not None:
            self.frame.unpersist()
            self.frame = None
        self.rdd.close()


#: MLlib's tolerance when --tol is not given: its l-bfgs stops on the relative change
#: of the loss, which fixes the coefficients to about its square root.
MLLIB_TOL = 1e-12


def check_method(options):
    """Refuse a (model, method) MLlib does not have, and --ridge where it cannot be mapped."""
    key = (options.model, options.method)
    if key not in MLLIB_METHODS:
        raise DistregError('spark-mllib has no --method %s for --model %s; it has: %s'
                           % (options.method, options.model,
                              ', '.join('%s %s' % k for k in MLLIB_METHODS)))
    if key in (('logistic', 'newton'), ('poisson', 'newton')) and options.ridge:
        raise DistregError('spark-mllib --method newton (GeneralizedLinearRegression IRLS) '
                           'cannot apply --ridge as distreg defines it (its penalty scales with '
                           'each step\'s weights); use --method lbfgs for a ridge fit')


#: MLlib's normal-equation solver (WeightedLeastSquares: LinearRegression solver='normal'
#: and GeneralizedLinearRegression's IRLS) refuses more features than this, with a Java
#: exception in the middle of training.
MAX_NORMAL_FEATURES = 4096
#: (model, method) pairs that run WeightedLeastSquares.
_NORMAL_SOLVER = {('linear', 'normal'), ('logistic', 'newton'), ('poisson', 'newton')}


def check_width(options, n_features):
    """Refuse, before training, a problem wider than MLlib's normal-equation solver takes."""
    if (options.model, options.method) in _NORMAL_SOLVER and n_features > MAX_NORMAL_FEATURES:
        other = ('--engine spark-rdd --method qr' if options.model == 'linear'
                 else '--engine spark-rdd --method newton')
        raise DistregError('spark-mllib --method %s (%s) takes at most %d features and this '
                           'input has %d: use %s, or --method lbfgs on spark-mllib'
                           % (options.method, MLLIB_METHODS[(options.model, options.method)],
                              MAX_NORMAL_FEATURES, n_features, other))


def _width(block):
    return block.parsed.X.shape[1] if block.parsed is not None else 0


class _Rows:
    """One partition's block as (label, model columns[, weight][, offset]) rows for the
    DataFrame."""

    def __init__(self, design):
        self.design = design

    def __call__(self, block):
        parsed = block.parsed
        columns = [parsed.y.tolist(), self.design.matrix(parsed.X, cats=parsed.cats).tolist()]
        if parsed.w is not None:
            columns.append(parsed.w.tolist())
        if parsed.offset is not None:
            columns.append(parsed.offset.tolist())
        return zip(*columns)


def _theta(model, intercept):
    coef = model.coefficients.toArray().tolist()
    return np.array(([model.intercept] if intercept else []) + coef)


def _intercept_first(values, intercept):
    """MLlib lists the intercept's statistic last; the record lists it first."""
    if values is None:
        return None
    values = [float(v) for v in values]
    return values[-1:] + values[:-1] if intercept else values


def _summary_list(summary, attr, intercept):
    try:
        return _intercept_first(getattr(summary, attr), intercept)
    except Exception:  # MLlib raises when a statistic does not apply to the solver
        return None


def _train_linear(engine, options, tol, max_iter):
    from pyspark.ml.regression import LinearRegression
    reg, alpha = 0.0, 0.0
    if options.ridge or options.l1:
        from pyspark.sql import functions as F
        if engine.weighted:
            # MLlib's objective is then the weighted mean, its label sd the weighted one
            w, y = F.col('weight'), F.col('label')
            mean = engine.frame.agg(F.sum(w * y)).first()[0] / engine.w_sum
            sd_y = math.sqrt(engine.frame.agg(F.sum(w * (y - mean) ** 2)).first()[0]
                             / engine.w_sum)
        else:
            sd_y = engine.frame.agg(F.stddev_pop('label')).first()[0]
        reg, alpha = _mllib_penalty(options.ridge, options.l1, sd_y,
                                    engine.w_sum if engine.weighted else engine.n_rows)
    # MLlib's normal solver takes no L1 penalty: OWL-QN (its l-bfgs) does
    solver = 'normal' if options.method == 'normal' and not options.l1 else 'l-bfgs'
    model = LinearRegression(featuresCol='features', labelCol='label', solver=solver,
                             fitIntercept=options.intercept, standardization=False,
                             regParam=reg, elasticNetParam=alpha, maxIter=max_iter,
                             tol=tol, **_weight_col(engine)).fit(engine.frame)
    theta = _theta(model, options.intercept)
    s = model.summary
    n = engine.w_sum if engine.weighted else engine.n_rows
    p = len(theta)
    has_se = not options.l1   # a lasso fit has no least-squares standard errors
    stats = dict(r2=float(s.r2), rmse=float(s.rootMeanSquaredError),
                 residual_sd=(math.sqrt(n * s.rootMeanSquaredError ** 2 / (n - p))
                              if n > p and has_se else None),
                 std_errors=(_summary_list(s, 'coefficientStandardErrors', options.intercept)
                             if has_se else None),
                 t_values=_summary_list(s, 'tValues', options.intercept) if has_se else None,
                 p_values=_summary_list(s, 'pValues', options.intercept) if has_se else None)
    if engine.weighted:
        stats['r2'] = _weighted_r2(engine, options.intercept, n * stats['rmse'] ** 2)
        if stats['std_errors'] is not None:
            _frequency_weights(stats, theta, s.degreesOfFreedom, n - p)
    iterations = s.totalIterations
    return dict(theta=theta, iterations=iterations,
                converged=solver == 'normal' or iterations < max_iter, stats=stats)


def _mllib_penalty(ridge, l1, sd_y, n):
    """(regParam, elasticNetParam) of MLlib's LinearRegression for distreg's penalties.

    distreg's objective over n is 1/(2n) |r|^2 + L/(2n) |theta|^2 + L1/n |theta|_1. MLlib's
    L2 term is divided by the label's population sd ``sd_y`` (it fits the label over sd_y),
    its L1 term is not (OWL-QN, which MLlib runs for an L1 part; checked against
    scikit-learn's Lasso and ElasticNet): 1/(2n) |r|^2 + reg ((1 - a)/(2 sd_y) |theta|^2 +
    a |theta|_1). So reg a = L1 / n and reg (1 - a) = L sd_y / n.
    """
    l1_part, l2_part = l1 / n, ridge * sd_y / n
    return l1_part + l2_part, l1_part / (l1_part + l2_part)


def _weight_col(engine):
    """The estimators' weightCol argument: only with weights (MLlib's default is none)."""
    return {'weightCol': 'weight'} if engine.weighted else {}


def _weighted_r2(engine, intercept, rss):
    """1 - RSS / TSS with the frequency-weighted TSS: MLlib's weighted r2 takes its total sum
    of squares from a reliability-weighted variance times (sum(w) - 1), which is not
    sum w (y - mean)^2 (nor the duplicated rows' TSS)."""
    from pyspark.sql import functions as F
    w, y = F.col('weight'), F.col('label')
    mean = engine.frame.agg(F.sum(w * y)).first()[0] / engine.w_sum if intercept else 0.0
    tss = engine.frame.agg(F.sum(w * (y - mean) ** 2)).first()[0]
    return 1.0 - rss / tss if tss > 0 else None


def _frequency_weights(stats, theta, mllib_df, df):
    """MLlib's weighted linear std errors (variance over rows - p) read as frequency
    weights (over sum(w) - p), and the t and p values of those."""
    if df <= 0:
        stats.update(residual_sd=None, std_errors=None, t_values=None, p_values=None)
        return
    se = [v * math.sqrt(mllib_df / df) for v in stats['std_errors']]
    t = [float(c / s) if s > 0 else None for c, s in zip(theta, se)]
    stats.update(std_errors=se, t_values=t,
                 p_values=[None if v is None else inference.student_t_two_sided(v, df)
                           for v in t])


def _train_logistic(engine, options, tol, max_iter):
    # MLlib's logistic objective is the (weighted) mean loss: n is what it divides by
    n = engine.w_sum if engine.weighted else engine.n_rows
    if options.method == 'newton':
        from pyspark.ml.regression import GeneralizedLinearRegression
        model = GeneralizedLinearRegression(
            featuresCol='features', labelCol='label', family='binomial', link='logit',
            fitIntercept=options.intercept, maxIter=max_iter, tol=tol,
            regParam=0.0, **_weight_col(engine)).fit(engine.frame)
        s = model.summary
        se = _summary_list(s, 'coefficientStandardErrors', options.intercept)
        z = _summary_list(s, 'tValues', options.intercept)
        pv = _summary_list(s, 'pValues', options.intercept)
        iterations = s.numIterations
    else:
        from pyspark.ml.classification import LogisticRegression
        model = LogisticRegression(
            featuresCol='features', labelCol='label', family='binomial',
            fitIntercept=options.intercept, standardization=False,
            regParam=options.ridge / n, elasticNetParam=0.0, maxIter=max_iter,
            tol=tol, **_weight_col(engine)).fit(engine.frame)
        se = z = pv = None
        iterations = model.summary.totalIterations
        # MLlib's objective is the mean loss (plus regParam/2 |theta|^2 = L/(2n) |theta|^2):
        # times n it is distreg's summed objective. It reports neither gradients nor times.
        history = [dict(iteration=i, loss=float(v) * n, grad_norm=None,
                        seconds=None) for i, v in enumerate(model.summary.objectiveHistory)]
    stats = dict(r2=None, rmse=None, residual_sd=None, std_errors=se, t_values=z, p_values=pv)
    out = dict(theta=_theta(model, options.intercept), iterations=iterations,
               converged=iterations < max_iter, stats=stats)
    if options.method != 'newton':
        out['history'] = history
    return out


def _train_poisson(engine, options, tol, max_iter):
    """GeneralizedLinearRegression(family='poisson', link='log'): MLlib's IRLS.

    Its standard errors are the inverse Fisher information's (as the core's); with
    ``weightCol`` they are those of frequency weights (its IRLS weights each row's
    working response by w, and Poisson has no dispersion to estimate).
    """
    from pyspark.ml.regression import GeneralizedLinearRegression
    extra = _weight_col(engine)
    if engine.has_offset:
        extra['offsetCol'] = 'offset'
    model = GeneralizedLinearRegression(
        featuresCol='features', labelCol='label', family='poisson', link='log',
        fitIntercept=options.intercept, maxIter=max_iter, tol=tol, regParam=0.0,
        **extra).fit(engine.frame)
    s = model.summary
    z = _summary_list(s, 'tValues', options.intercept)
    # the p values from MLlib's z as every engine forms them: MLlib's own are 1 - cdf,
    # which is 0 below about 1e-16
    stats = dict(r2=None, rmse=None, residual_sd=None,
                 std_errors=_summary_list(s, 'coefficientStandardErrors', options.intercept),
                 t_values=z, p_values=None if z is None else [
                     inference.normal_two_sided(v) for v in z])
    iterations = s.numIterations
    return dict(theta=_theta(model, options.intercept), iterations=iterations,
                converged=iterations < max_iter, stats=stats)
