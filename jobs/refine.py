"""One refinement pass: the sum of X'(y - X theta) and of squared residuals, in extended precision.

    echo '{"theta": [3.0, 1.5, -2.0]}' > theta.json
    python jobs/refine.py -r local data.csv --params theta.json

Prints the merged partial (``g`` and ``rss`` as hi/lo float64 pairs). ``distreg fit
--method qr`` runs it after jobs/tsqr.py, once per pass: like every MapReduce
iteration, each pass reads the input again.
"""

from jobs.block_job import BlockJob


class MRRefinePass(BlockJob):
    AGGREGATE = 'refine'


if __name__ == '__main__':
    MRRefinePass.run()
