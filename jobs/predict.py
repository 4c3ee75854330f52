"""Scores every row of the input with a fitted model: a map-only job, one output line per row.

    python jobs/predict.py -r local data.csv --schema SCHEMA.json --params MODEL.json

(``distreg predict RESULT.json INPUT --engine mrjob-local --out PATH`` writes the
schema and the model's parameters and reads the output back in split order.)
Each map task writes its split's lines in input order (see
:func:`distreg.blocks.prediction_lines`); a rejected row's place holds ``#`` and
the rejection's JSON; a bad row under ``--bad-rows fail`` ends the task's output
with ``#`` and the error's JSON, which the driver turns into the usual error.
"""

import json

from jobs.block_job import BlockJob  # first: it imports mrjob the quick way
from mrjob.protocol import RawValueProtocol  # noqa: E402
from mrjob.step import MRStep  # noqa: E402

from distreg import blocks
from distreg.errors import BadInputError, to_json_dict
from distreg.scoring import REJECT_MARK


class MRPredict(BlockJob):
    OUTPUT_PROTOCOL = RawValueProtocol
    # map-only: the output is the mappers' output, one part file per split, in split order
    JOBCONF = {}

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init_accumulator,
                       mapper=self.mapper_unused,
                       mapper_final=self.mapper_final_emit_partial)]

    def _fold_block(self, parse, pieces=False):
        # (BlockJob._fold: a chunk of text lines, or of a Parquet manifest's row groups)
        if self._error is not None:
            return
        try:
            parsed = parse()
        except BadInputError as e:
            self._error = self._in_split(to_json_dict(e))
            return
        lines = blocks.prediction_lines(parsed, self.design, self.params)
        rejects = iter(parsed.rejects)
        out = [line if line is not None
               else REJECT_MARK + json.dumps({'reject': self._in_split(next(rejects))})
               for line in lines]
        self._rejects.extend(parsed.rejects)
        if out:
            self.stdout.write(('\n'.join(out) + '\n').encode('utf-8'))

    def mapper_final_emit_partial(self):
        # the lines went out as they were made (_fold): here only what went wrong
        if self._rejects:
            self.increment_counter('distreg', 'rows rejected', len(self._rejects))
        if self._error is not None:
            self.increment_counter('distreg', 'tasks failed on a bad row')
            yield None, REJECT_MARK + json.dumps({'error': self._error})
        return


if __name__ == '__main__':
    MRPredict.run()
