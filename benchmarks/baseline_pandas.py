"""The single-process baseline of the speed targets: pandas-chunked CSV parse + numpy Gram.

    python benchmarks/baseline_pandas.py data.csv

What a careful engineer writes without any framework: read the CSV in chunks of
100k rows with pandas' C parser, add up the Gram of [1, x, y] and solve it.
"""

import sys

import numpy as np
import pandas as pd


def main(path):
    gram = None
    for frame in pd.read_csv(path, chunksize=100_000, dtype=np.float64):
        a = frame.to_numpy()
        z = np.column_stack([np.ones(len(a)), a[:, 1:], a[:, :1]])
        g = z.T @ z
        gram = g if gram is None else gram + g
    p = gram.shape[0] - 1
    theta = np.linalg.solve(gram[:p, :p], gram[:p, p])
    print(' '.join('%.10g' % v for v in theta))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        print(__doc__.strip().split('\n')[2].strip(), file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
