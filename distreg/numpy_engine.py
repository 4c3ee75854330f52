"""The single-machine reference engine: streams local files in chunks through the block functions."""

import time

from distreg import blocks, scoring
from distreg.engine import Engine
from distreg.errors import DistregError
from distreg.loader import CHUNK_BYTES, keyed, local_path, with_label_rule
from distreg.parquet import input_schema, iter_input_blocks, schema_options


class NumpyEngine(Engine):
    """Runs every aggregate by reading the input again, chunk by chunk, in this process.

    Memory stays at one chunk whatever the input size; each pass re-reads and
    re-parses the files (no cache), as a MapReduce job would.
    """
    name = 'numpy'

    def __init__(self, path, name='numpy', master=None, *, chunk_bytes=CHUNK_BYTES):
        super().__init__(path, name)
        self.chunk_bytes = chunk_bytes
        self.rejects = []
        self.load_seconds = 0.0
        self._passes = 0

    def prepare(self, options):
        t0 = time.perf_counter()
        self.options = options
        self.design = options.design()
        self.schema = input_schema(self.path, options.format, **schema_options(options))
        self.schema = with_label_rule(keyed(self.schema, options), options)
        self.load_seconds = time.perf_counter() - t0
        return self.schema

    def aggregate(self, name, params):
        total = None
        first_pass = self._passes == 0
        for parsed in iter_input_blocks(self.path, self.schema, self.chunk_bytes):
            if first_pass:
                self.rejects.extend(parsed.rejects)
            total = blocks.merge_partials(
                name, total, blocks.block_partial(name, parsed, self.design, params))
        self._passes += 1
        return total

    def predict(self, params, out):
        """Write one line per input row to the local file ``out`` (see :mod:`distreg.scoring`)."""
        if local_path(out) is None:
            raise DistregError('the numpy engine writes a local file, not %s: use '
                               'mrjob-hadoop or spark-rdd for a cluster output' % out)
        n = 0
        with scoring.local_output(local_path(out)) as f:
            for parsed in iter_input_blocks(self.path, self.schema, self.chunk_bytes):
                self.rejects.extend(parsed.rejects)
                lines = blocks.prediction_lines(parsed, self.design, params)
                n += len(lines)
                f.write(''.join((line or '') + '\n' for line in lines))
        return n

    def evaluate(self, params):
        """The merged ``evaluate`` partial and, for a logistic model, the :class:`AucRange`.

        One pass; the distinct scores are counted here, in this process (the
        single-machine reference holds them; the distributed engines sort them).
        """
        total, counts = None, None
        logistic = params['model'] == 'logistic'
        for parsed in iter_input_blocks(self.path, self.schema, self.chunk_bytes):
            self.rejects.extend(parsed.rejects)
            total = blocks.merge_partials(
                'evaluate', total, blocks.block_partial('evaluate', parsed, self.design, params))
            if logistic and len(parsed.y):
                counts = blocks.merge_score_counts(
                    counts, blocks.score_counts(parsed, self.design, params))
        auc = blocks.AucRange.from_counts(*counts) if counts is not None else None
        return total, auc
