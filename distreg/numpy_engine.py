"""The single-machine reference engine: streams local files in chunks through the block functions."""

import time

from distreg import blocks
from distreg.engine import Engine
from distreg.loader import (CHUNK_BYTES, iter_local_blocks, read_first_line, sniff_schema)


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
        self.schema = sniff_schema(read_first_line(self.path), options.format,
                                   options.label_col, options.bad_rows, options.model,
                                   source=self.path)
        self.load_seconds = time.perf_counter() - t0
        return self.schema

    def aggregate(self, name, params):
        total = None
        first_pass = self._passes == 0
        for parsed in iter_local_blocks(self.path, self.schema, self.chunk_bytes):
            if first_pass:
                self.rejects.extend(parsed.rejects)
            total = blocks.merge_partials(
                name, total, blocks.block_partial(name, parsed, self.design, params))
        self._passes += 1
        return total
