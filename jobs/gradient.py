"""One pass of gd / lbfgs: the loss and its gradient at theta, summed over the input.

    echo '{"theta": [0.5, 1.0, -2.0], "model": "logistic"}' > theta.json
    python jobs/gradient.py -r local --model logistic data.csv --params theta.json

Prints the merged partial (``loss``, ``grad``). ``distreg fit --method gd|lbfgs``
runs it once per function evaluation: like every MapReduce iteration, each
evaluation reads the input again.
"""

from jobs.block_job import BlockJob


class MRLossGradient(BlockJob):
    AGGREGATE = 'gradient'


if __name__ == '__main__':
    MRLossGradient.run()
