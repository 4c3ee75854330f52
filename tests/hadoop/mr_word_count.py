"""Count the words of the input: the smallest streaming job, to prove mrjob runs on YARN.

    python tests/hadoop/mr_word_count.py -r hadoop --conf-path configs/mrjob.conf hdfs:///in
"""

import re

from mrjob.job import MRJob

WORD_RE = re.compile(r"[\w']+")


class MRWordCount(MRJob):

    def mapper_get_words(self, _, line):
        for word in WORD_RE.findall(line):
            yield word.lower(), 1

    def combiner_count_words(self, word, counts):
        yield word, sum(counts)

    def reducer_count_words(self, word, counts):
        yield word, sum(counts)

    def steps(self):
        from mrjob.step import MRStep
        return [MRStep(mapper=self.mapper_get_words, combiner=self.combiner_count_words,
                       reducer=self.reducer_count_words)]


if __name__ == "__main__":
    MRWordCount.run()
