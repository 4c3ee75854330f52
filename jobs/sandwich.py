"""One pass of the robust covariance's meat: X' diag(w) X with w from the residuals at theta.

    echo '{"theta": [3.0, 1.5, -2.0], "cov": "HC0"}' > params.json
    python jobs/sandwich.py -r local data.csv --params params.json

Prints the merged partial (``meat``). ``distreg fit --cov HC0|HC1|HC2|HC3`` runs it once
after the fit (HC2 and HC3 also pass ``bread``, (X'X)^-1, for each row's leverage).
"""

from jobs.block_job import BlockJob


class MRSandwich(BlockJob):
    AGGREGATE = 'sandwich'


if __name__ == '__main__':
    MRSandwich.run()
