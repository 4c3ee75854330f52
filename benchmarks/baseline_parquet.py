"""The single-process Parquet baseline of ``make bench``: pyarrow.parquet read + numpy Gram.

    python benchmarks/baseline_parquet.py [--buffers] data.parquet

What a user writes without any framework: read the whole file with pyarrow (every row
group, pyarrow's own threads), build the float64 model matrix [1, x] and solve the normal
equations from X'X and X'y. The label is the first column.

pyarrow's ``to_numpy`` imports pandas on its first call (a cost of the plain script that
has nothing to do with the data); ``--buffers`` takes each column from its Arrow buffers
instead (what distreg's reader does), the same script otherwise.
"""

import sys

import numpy as np
import pyarrow.parquet as pq


def column(chunked, out, buffers):
    """Copy a float64 column into ``out``: by ``to_numpy``, or from its Arrow buffers."""
    if not buffers:
        out[:] = chunked.to_numpy()
        return
    row = 0
    for c in chunked.chunks:
        out[row:row + len(c)] = np.frombuffer(c.buffers()[1], dtype=np.float64, count=len(c),
                                              offset=8 * c.offset)
        row += len(c)


def main(path, buffers=False):
    table = pq.read_table(path)
    # the model matrix [1, x] column by column (np.column_stack of the columns would write
    # a row-major copy, several times slower than the rest put together)
    X = np.empty((table.num_rows, table.num_columns), order='F')
    X[:, 0] = 1.0
    for j in range(1, table.num_columns):
        column(table.column(j), X[:, j], buffers)
    y = np.empty(table.num_rows)
    column(table.column(0), y, buffers)
    theta = np.linalg.solve(X.T @ X, X.T @ y)
    print(' '.join('%.10g' % v for v in theta))


if __name__ == '__main__':
    args = sys.argv[1:]
    buffers = '--buffers' in args
    args = [a for a in args if a != '--buffers']
    if len(args) != 1:
        print(__doc__.strip().split('\n')[2].strip(), file=sys.stderr)
        sys.exit(2)
    main(args[0], buffers)
