"""The MiniCluster's state file and the liveness of the process it records.

Apart from :mod:`hdfs_utils.minicluster` (which writes the state) so that
:mod:`hdfs_utils.env` can find a running cluster's conf dir without importing the
launcher (which imports env): no import cycle.
"""

import json
import re
from pathlib import Path


def read_state(state_file):
    """The recorded state (a dict of :class:`hdfs_utils.minicluster.ClusterInfo`'s fields), or None."""
    try:
        return json.loads(Path(state_file).read_text())
    except (OSError, ValueError):
        return None


def running_state(run_dir):
    """The state of the MiniCluster running from ``run_dir`` (its process alive), or None."""
    state = read_state(Path(run_dir).resolve() / "state.json")
    if state is None or not _alive(state["pid"], state["start_ticks"]):
        return None
    return state


def _start_ticks(pid):
    """Start time of process ``pid`` in clock ticks since boot, or None if it is gone.

    Stored next to the pid so that a recycled pid is never taken for the cluster.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    # A zombie is gone, but only once its last thread is: the JVM's main thread exits first
    # and leaves it marked Z while the others still shut down, holding the cluster's ports.
    if fields[0] == "Z" and _threads(pid) <= 1:
        return None
    return int(fields[19])


def _threads(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^Threads:\s*(\d+)", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


def _alive(pid, start_ticks):
    return _start_ticks(pid) == start_ticks
