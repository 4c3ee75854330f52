"""Held-out metrics of a fitted model in one pass: sums in the mappers, ROC AUC by the shuffle sort.

    python jobs/evaluate.py -r local data.csv --schema SCHEMA.json --params MODEL.json

The metrics' sums (:class:`distreg.blocks.Evaluate`) travel as one partial per
map task, as in every distreg job. For a logistic model each map task also
emits its distinct scores with the counts of positive and negative rows at
each, in buckets keyed by a text that sorts as the scores do
(:func:`distreg.blocks.score_buckets`): the shuffle sorts the buckets, a
reducer sees its buckets in ascending order, merges each bucket's counts from
all map tasks and folds them into an :class:`distreg.blocks.AucRange` (exact,
ties counted one half). Reducers get contiguous ranges of keys (Hadoop: one
reducer; mrjob's local runners split the sorted input by key), so the driver
merges the reducers' ranges by score. No score reaches the driver, only one
range per reducer. (A key per distinct score would sort the same way; a bucket
per record makes 1M scores some thousands of shuffle records.)
"""

import numpy as np

from jobs.block_job import BlockJob  # first: it imports mrjob the quick way
from mrjob.step import MRStep  # noqa: E402

from distreg import blocks
from distreg.errors import BadInputError, to_json_dict


class MREvaluate(BlockJob):
    AGGREGATE = 'evaluate'

    def steps(self):
        return [MRStep(mapper_init=self.mapper_init_accumulator,
                       mapper=self.mapper_unused,
                       mapper_final=self.mapper_final_emit_partial,
                       combiner=self.combiner_merge_partials,
                       reducer_init=self.reducer_init_auc,
                       reducer=self.reducer_merge_and_finish,
                       reducer_final=self.reducer_final_emit_auc)]

    def _fold_block(self, parse, pieces=False):
        # (BlockJob._fold: a chunk of text lines, or of a Parquet manifest's row groups)
        if self._error is not None:
            return
        try:
            parsed = parse()
        except BadInputError as e:
            self._error = self._in_split(to_json_dict(e))
            return
        self._rejects.extend(self._in_split(r) for r in parsed.rejects)
        part = blocks.block_partial(self.AGGREGATE, parsed, self.design, self.params)
        self._total = blocks.merge_partials(self.AGGREGATE, self._total, part)
        if self.params['model'] == 'logistic' and len(parsed.y):
            self._counts = blocks.merge_score_counts(
                getattr(self, '_counts', None), blocks.score_counts(parsed, self.design,
                                                                    self.params))

    def mapper_final_emit_partial(self):
        yield from super().mapper_final_emit_partial()
        counts = getattr(self, '_counts', None)
        if self._error is None and counts is not None:
            for key, bucket in blocks.score_buckets(counts):
                yield key, [a.tolist() for a in bucket]

    def combiner_merge_partials(self, key, values):
        if key is None:
            yield from super().combiner_merge_partials(key, values)
        else:
            yield key, [a.tolist() for a in _merge_buckets(values)]

    def reducer_init_auc(self):
        self._auc = blocks.AucRange()

    def reducer_merge_and_finish(self, key, values):
        if key is None:
            yield from super().reducer_merge_and_finish(key, values)
            return
        # keys arrive in ascending order of score: each bucket is the next range up
        self._auc = self._auc.merge(blocks.AucRange.from_counts(*_merge_buckets(values)))

    def reducer_final_emit_auc(self):
        if self._auc.lo is not None:
            yield None, {'auc': self._auc.to_json()}

    def finish(self, part):
        return {'partial': blocks.encode(part)}


def _merge_buckets(values):
    total = None
    for s, p, n in values:
        total = blocks.merge_score_counts(
            total, (np.array(s, dtype=np.float64), np.array(p, dtype=np.int64),
                    np.array(n, dtype=np.int64)))
    return total


if __name__ == '__main__':
    MREvaluate.run()
