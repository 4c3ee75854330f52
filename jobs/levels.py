"""The levels of the categorical columns: mappers collect each column's distinct levels (a set
per task, never more than --max-levels + 1), the reducer merges them; the pass before a fit
with --categorical.

    python jobs/levels.py -r local data.csv --categorical region,city [--max-levels 1000]

Prints ``{"levels": [[column, [level, ...]], ...]}`` (sorted), or exits 1 naming a column
with more levels than --max-levels.
"""

from jobs.block_job import BlockJob
from distreg import blocks


class MRLevels(BlockJob):
    AGGREGATE = 'levels'

    def _task_setup(self):
        super()._task_setup()
        # a job run by hand has no --params: its cap is the --max-levels switch
        self.params.setdefault('max_levels', int(self.fit_options.max_levels))

    def finish(self, part):
        blocks.check_rows(part)
        return {'levels': blocks.checked_levels(part, self.schema.categorical_names())}


if __name__ == '__main__':
    MRLevels.run()
