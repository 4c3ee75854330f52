"""Least squares by the normal equations: mappers sum X'X, X'y, y'y; one reducer solves.

    python jobs/normal.py -r local data.csv [--label-col y] [--ridge L] [--bad-rows skip]
    python jobs/normal.py -r hadoop --conf-path configs/mrjob.conf hdfs:///data/data.csv

Prints the result record (JSON) on stdout.
"""

from jobs.block_job import BlockJob
from distreg import result
from distreg.optim import normal_answer


class MRNormalEquations(BlockJob):
    AGGREGATE = 'gram'

    def finish(self, part):
        answer = normal_answer(part, self.fit_options)
        o = self.fit_options
        for driver_only in ('bread', 'partial'):   # what distreg fit's later steps use
            answer.pop(driver_only, None)
        return result.make_record(self.options.engine_label, 'normal', o.model, answer.pop('theta'),
                                  o.intercept, **answer)


if __name__ == '__main__':
    MRNormalEquations.run()
