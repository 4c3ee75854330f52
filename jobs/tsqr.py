"""Least squares by TSQR: mappers take the R factor of their rows [X y], reducers QR the stacked R's.

    python jobs/tsqr.py -r local data.csv [--label-col y] [--poly-degree D]

Prints the result record of the TSQR solution (no refinement pass). ``distreg fit
--method qr`` runs this job with ``--emit partial`` and then refinement passes
(jobs/refine.py) until the answer stops changing.
"""

from jobs.block_job import BlockJob
from distreg import result
from distreg.optim import tsqr_answer


class MRTSQR(BlockJob):
    AGGREGATE = 'tsqr'

    def finish(self, part):
        answer = tsqr_answer(part, self.fit_options)
        o = self.fit_options
        for driver_only in ('bread', 'partial'):   # what distreg fit's later steps use
            answer.pop(driver_only, None)
        return result.make_record(self.options.engine_label, 'qr', o.model, answer.pop('theta'),
                                  o.intercept, **answer)


if __name__ == '__main__':
    MRTSQR.run()
