"""Faults on a running MiniCluster, with Hadoop's own means (the fault tests and ``make faults``).

- :func:`block_locations`: where each block of a file lives (the NameNode's answer over
  WebHDFS: ``GET_BLOCK_LOCATIONS``, which also names each DataNode's IPC port);
- :func:`stop_datanode`: ``hdfs dfsadmin -shutdownDatanode HOST:IPC_PORT``, the admin command
  that stops one DataNode (the CLI MiniCluster runs all of them in one JVM, so no process can
  be killed for one);
- :func:`replica_file` and :func:`corrupt_replica`: a replica's block file on the DataNode's
  disk (its volumes, from the DataNode's JMX), and bytes changed in it behind HDFS's back;
- :func:`namenode_state`, :func:`wait_for` and :func:`reported_corrupt`: what the NameNode
  saw (JMX ``FSNamesystemState``, its log).

Nothing here is used by ``distreg fit``.
"""

import json
import os
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from hdfs_utils.env import hadoop_bin


@dataclass(frozen=True)
class Replica:
    """One stored copy of a block: the DataNode's addresses (all on 127.0.0.1)."""

    block_id: int
    xfer: str      # data transfer address, the DataNode's name in fsck and the logs
    ipc_port: int  # where dfsadmin reaches it
    info_port: int  # its web server (JMX)


def _get_json(url, timeout=10.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def block_locations(info, path):
    """``[[Replica, ...] per block]`` of HDFS file ``path``, as the NameNode sees it now."""
    located = _get_json(f"{info.namenode_web}/webhdfs/v1{path}?op=GET_BLOCK_LOCATIONS")
    blocks = []
    for block in located["LocatedBlocks"]["locatedBlocks"]:
        blocks.append([Replica(block["block"]["blockId"], loc["name"], loc["ipcPort"],
                               loc["infoPort"]) for loc in block["locations"]])
    return blocks


def namenode_state(info):
    """The NameNode's ``FSNamesystemState`` bean (NumLiveDataNodes, NumDeadDataNodes, ...)."""
    url = f"{info.namenode_web}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
    return _get_json(url)["beans"][0]


def wait_for(condition, timeout, what, step=0.5):
    """Poll ``condition()`` until it returns something true; return that, or raise."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def stop_datanode(info, replica):
    """Shut the DataNode of ``replica`` down (``dfsadmin -shutdownDatanode``)."""
    done = subprocess.run(
        [str(hadoop_bin()), "org.apache.hadoop.hdfs.tools.DFSAdmin", "-shutdownDatanode",
         f"127.0.0.1:{replica.ipc_port}"],
        env={**os.environ, **info.env()}, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dfsadmin -shutdownDatanode failed: {done.stderr.strip()[-300:]}")
    return done.stdout.strip()


def datanode_volumes(replica):
    """The data directories of the DataNode of ``replica`` (from its JMX ``VolumeInfo``).

    The DataNodes of the MiniCluster share one JVM and so one JMX registry: the bean is the
    one whose ``HttpPort`` is this DataNode's.
    """
    url = f"http://127.0.0.1:{replica.info_port}/jmx?qry=Hadoop:service=DataNode,name=DataNodeInfo*"
    for bean in _get_json(url)["beans"]:
        if str(bean.get("HttpPort")) == str(replica.info_port):
            return sorted(json.loads(bean["VolumeInfo"]))
    raise RuntimeError(f"no DataNodeInfo bean for the DataNode at {replica.xfer}")


def replica_file(replica):
    """The block file of ``replica`` on its DataNode's disk (``.../finalized/.../blk_ID``)."""
    name = f"blk_{replica.block_id}"
    for volume in datanode_volumes(replica):
        for found in Path(volume).rglob(name):
            if found.name == name:
                return found
    raise FileNotFoundError(f"no {name} under the volumes of the DataNode at {replica.xfer}")


def corrupt_replica(replica, offset=100, count=8):
    """Change ``count`` digits of the replica's block file from ``offset`` on (each to another
    digit, so that the text still parses: only HDFS's checksums can tell). Returns the file."""
    path = replica_file(replica)
    data = bytearray(path.read_bytes())
    changed = 0
    for i in range(offset, len(data)):
        if 0x30 <= data[i] <= 0x39:
            data[i] = 0x30 + (data[i] - 0x30 + 5) % 10
            changed += 1
            if changed == count:
                break
    if not changed:
        raise RuntimeError(f"no digit to change in {path} after byte {offset}")
    path.write_bytes(bytes(data))
    return path


# The NameNode's line for a replica a reader found corrupt (the client's checksum check
# failed; DFSClient reports it to the NameNode and reads another replica).
_BAD_BLOCK_LINE = re.compile(r"reportBadBlocks for block: \S+:blk_(\d+)_\d+ on datanode: (\S+)")


def reported_corrupt(info, since=0):
    """``[(block id, datanode)]`` of the replicas readers reported corrupt to the NameNode,
    from byte ``since`` of the MiniCluster's log on (see :func:`log_size`)."""
    with open(info.log, "rb") as log:
        log.seek(since)
        text = log.read().decode("utf-8", "replace")
    return [(int(m.group(1)), m.group(2)) for m in _BAD_BLOCK_LINE.finditer(text)]


def log_size(info):
    """Bytes in the MiniCluster's log now (a mark for :func:`reported_corrupt`)."""
    return os.path.getsize(info.log)
