"""mrjob's hadoop runner runs a streaming job on the MiniCluster's YARN."""

import collections
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from hdfs_utils import hdfs
from hdfs_utils.env import PROJECT_ROOT

pytestmark = pytest.mark.hadoop

CONF = PROJECT_ROOT / "configs" / "mrjob.conf"


def _word_count_job():
    spec = importlib.util.spec_from_file_location(
        "mr_word_count", Path(__file__).with_name("mr_word_count.py"))
    module = importlib.util.module_from_spec(spec)
    # mrjob finds the script it ships to the tasks through the class's module.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.MRWordCount


def test_word_count_on_yarn(hadoop_cluster, hdfs_dir, tmp_path):
    lines = [f"the quick brown fox {i % 7} jumps over the lazy dog {i % 3}"
             for i in range(5000)]
    local = tmp_path / "words.txt"
    local.write_text("\n".join(lines) + "\n")
    remote = f"{hdfs_dir}/words.txt"
    hdfs.put(local, remote)

    job = _word_count_job()([
        "-r", "hadoop", "--conf-path", str(CONF),
        # The project's interpreter, not whatever python3 the container's PATH has.
        "--python-bin", sys.executable,
        # Streaming's (old-API) TextInputFormat splits the file into this many pieces.
        "--jobconf", "mapreduce.job.maps=3",
        f"hdfs://{remote}",
    ])
    with job.make_runner() as runner:
        runner.run()
        counts = dict(job.parse_output(runner.cat_output()))
        counters = runner.counters()

    expected = collections.Counter(w for line in lines for w in re.findall(r"[\w']+", line))
    assert counts == dict(expected)
    # Hadoop prints some group names with a trailing space, and mrjob keeps it.
    job_counters = {group.strip(): c for group, c in counters[0].items()}["Job Counters"]
    assert job_counters["Launched map tasks"] >= 2
    assert job_counters["Launched reduce tasks"] == 1
