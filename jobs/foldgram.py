"""One pass of ``distreg cv``: the centred Gram of each of K folds, summed over the input.

    echo '{"folds": 5}' > folds.json
    python jobs/foldgram.py -r local --folds 5 data.csv --params folds.json

Prints the merged partial (``fold_n``, ``fold_w``, ``fold_mean``, ``fold_m2``). Each row's
fold is a stable hash of its file's base name and its byte offset (distreg/folds.py), so
every runner, split and task count puts a row in the same fold.
"""

from jobs.block_job import BlockJob


class MRFoldGram(BlockJob):
    AGGREGATE = 'foldgram'


if __name__ == '__main__':
    MRFoldGram.run()
