"""One Newton (IRLS) pass: loss, gradient and X'WX at theta, summed over the input.

    echo '{"theta": [0.5, 1.0, -2.0], "model": "logistic"}' > theta.json
    python jobs/hessian.py -r local --model logistic data.csv --params theta.json

Prints the merged partial (``loss``, ``grad``, ``hess``). ``distreg fit --method
newton`` runs it once per iteration (and gd/lbfgs once at the start and once at
the answer, for the column scaling and the standard errors).
"""

from jobs.block_job import BlockJob


class MRHessian(BlockJob):
    AGGREGATE = 'hessian'


if __name__ == '__main__':
    MRHessian.run()
