"""The single-process Parquet baseline of ``make bench``: pyarrow.parquet read + numpy Gram.

    python benchmarks/baseline_parquet.py data.parquet

What a user writes without any framework: read the whole file with pyarrow (every row group,
pyarrow's own threads), build the float64 model matrix [1, x] and solve the normal equations from X'X and X'y. The label is the first column.
"""

import sys

import numpy as np
import pyarrow.parquet as pq


def main(path):
    table = pq.read_table(path)
    # the model matrix [1, x] column by column (np.column_stack of the columns would write
    # a row-major copy, several times slower than the rest put together)
    X = np.empty((table.num_rows, table.num_columns), order='F')
    X[:, 0] = 1.0
    for j in range(1, table.num_columns):
        X[:, j] = table.column(j).to_numpy()
    y = table.column(0).to_numpy()
    theta = np.linalg.solve(X.T @ X, X.T @ y)
    print(' '.join('%.10g' % v for v in theta))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        print(__doc__.strip().split('\n')[2].strip(), file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
