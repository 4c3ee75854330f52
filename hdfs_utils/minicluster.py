"""Hadoop's CLI MiniCluster (HDFS + YARN + MapReduce in one JVM) on 127.0.0.1.

``make hadoop-up|hadoop-down|hadoop-status`` and the Hadoop tests run it::

    python -m hdfs_utils.minicluster up|down|status [--run-dir DIR] [--timeout SECONDS]
        [--datanodes N] [--replication R]

``up`` starts Hadoop's ``org.apache.hadoop.mapreduce.MiniHadoopClusterManager`` (one DataNode
unless ``--datanodes`` says more, each block stored ``--replication`` times, default 1; one
NodeManager, every service address pinned to a free 127.0.0.1 port) in the background
through the project's ``hadoop`` launcher, writes a conf dir naming it (core/hdfs/yarn/
mapred-site.xml: ``HADOOP_CONF_DIR=<run dir>/conf`` makes ``hadoop``, mrjob and pyspark use
it) and waits until the NameNode has a live DataNode and the ResourceManager an active
NodeManager. ``down`` stops it by the process id ``up`` recorded, then any YARN container
processes it left. The run dir (default ``.run/hadoop/``) holds the state file, the conf dir,
the log and the cluster's data; each ``up`` starts with an empty HDFS.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from hdfs_utils.env import (
    LOCAL_HADOOP_HOME, MINICLUSTER_RUN_DIR, HadoopNotFound, hadoop_bin, hadoop_env)
from hdfs_utils.state import _alive, _start_ticks, read_state

MAIN_CLASS = "org.apache.hadoop.mapreduce.MiniHadoopClusterManager"
HOST = "127.0.0.1"
DEFAULT_TIMEOUT = 90.0

# Every port of the cluster that Hadoop lets us choose. Left unpinned, YARN's fixed-port mode
# would take the well-known defaults (8030, 8088, 19888, ...), which clash with any other
# cluster on this shared machine. The rest are not ours to pin: MiniDFSCluster binds the
# DataNode and MiniYARNCluster the NodeManager to ephemeral 127.0.0.1 ports, and
# MiniMRYarnCluster sets the shuffle port to 0 (Hadoop's ShuffleHandler binds that one on all
# interfaces; so do an MR application master's RPC servers while a job runs).
PORT_NAMES = (
    "namenode", "namenode_http",
    "resourcemanager", "rm_scheduler", "rm_tracker", "rm_admin", "rm_web", "rm_web_https",
    "jobhistory", "jobhistory_web", "jobhistory_admin",
)

# Container sizes for a 2-core / 24 GB machine: an MR application master and two or three
# tasks fit at once, each JVM well under its container.
_CONTAINER_MB = 512
# The MR application master and streaming tasks are short-lived JVMs that mostly pipe bytes to
# and from Python: the C1 compiler alone and the serial collector start them with less CPU
# (no C2 compiler or parallel GC threads competing with the Python tasks for the 2 cores).
_TASK_JAVA_OPTS = "-Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# The MiniCluster's own JVM runs NameNode, DataNode, ResourceManager, NodeManager and the
# history server.
_CLUSTER_HEAP = "1g"


class MiniClusterError(RuntimeError):
    """The MiniCluster could not be started, reached or stopped; the message is one line."""


@dataclass
class ClusterInfo:
    """A running MiniCluster: what clients need to reach it."""

    pid: int
    start_ticks: int
    run_dir: str
    conf_dir: str
    log: str
    ports: dict
    datanodes: int = 1
    replication: int = 1

    @property
    def namenode(self):
        """``fs.defaultFS``: ``hdfs://127.0.0.1:PORT``."""
        return f"hdfs://{HOST}:{self.ports['namenode']}"

    @property
    def namenode_web(self):
        return f"http://{HOST}:{self.ports['namenode_http']}"

    @property
    def resourcemanager(self):
        return f"{HOST}:{self.ports['resourcemanager']}"

    @property
    def resourcemanager_web(self):
        return f"http://{HOST}:{self.ports['rm_web']}"

    @property
    def jobhistory(self):
        return f"{HOST}:{self.ports['jobhistory']}"

    def env(self):
        """Environment for a client of this cluster (see :func:`hdfs_utils.hadoop_env`).

        The project's own Hadoop home, even when ``HADOOP_HOME`` names another install:
        its jars are the ones the cluster's containers run with.
        """
        return hadoop_env(conf_dir=self.conf_dir, home=LOCAL_HADOOP_HOME)


def _paths(run_dir):
    run_dir = Path(run_dir).resolve()
    return {
        "run_dir": run_dir,
        "state": run_dir / "state.json",
        "pid": run_dir / "minicluster.pid",
        "conf": run_dir / "conf",
        "log": run_dir / "minicluster.log",
        "details": run_dir / "details.json",
        # The JVM's working directory: MiniDFSCluster and MiniYARNCluster put their data,
        # NodeManager local dirs and container logs under it.
        "work": run_dir / "work",
        "tmp": run_dir / "tmp",
    }


def _free_ports(count):
    """``count`` distinct ports free on 127.0.0.1 right now (all held open until chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((HOST, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def cluster_properties(ports, home, conf_dir, tmp_dir, datanodes=1, replication=1):
    """The Hadoop properties of the MiniCluster, as ``{site file: {name: value}}``.

    The same values go to the cluster (``-D``) and to its clients (the conf dir).
    """
    def addr(name):
        return f"{HOST}:{ports[name]}"

    # Containers get Hadoop's classes the way a real cluster's do, from these paths (the JVM
    # expands the wildcard), rather than from $HADOOP_MAPRED_HOME, which a Maven-made home
    # does not lay out.
    classpath = ",".join([str(conf_dir), f"{home}/etc/hadoop", f"{home}/share/hadoop/lib/*"])
    container_mb = str(_CONTAINER_MB)
    props = {
        "core-site.xml": {
            "fs.defaultFS": f"hdfs://{addr('namenode')}",
            # Keeps local scratch (RunJar unpacking, client buffers) out of the shared /tmp.
            "hadoop.tmp.dir": str(tmp_dir / "hadoop"),
        },
        "hdfs-site.xml": {
            "dfs.namenode.rpc-address": addr("namenode"),
            "dfs.namenode.http-address": addr("namenode_http"),
            "dfs.replication": str(replication),
            # With one DataNode there is none to swap into a failing write pipeline (and the
            # fault tests' clusters have no spare one to swap in either).
            "dfs.client.block.write.replace-datanode-on-failure.policy": "NEVER",
        },
        "yarn-site.xml": {
            "yarn.resourcemanager.hostname": HOST,
            "yarn.resourcemanager.address": addr("resourcemanager"),
            "yarn.resourcemanager.scheduler.address": addr("rm_scheduler"),
            "yarn.resourcemanager.resource-tracker.address": addr("rm_tracker"),
            "yarn.resourcemanager.admin.address": addr("rm_admin"),
            "yarn.resourcemanager.webapp.address": addr("rm_web"),
            "yarn.resourcemanager.webapp.https.address": addr("rm_web_https"),
            "yarn.nodemanager.resource.memory-mb": "4096",
            "yarn.nodemanager.resource.cpu-vcores": "4",
            "yarn.scheduler.minimum-allocation-mb": "128",
            "yarn.scheduler.maximum-allocation-mb": "2048",
            # A JVM's virtual size is far above its heap; and a noisy shared machine should
            # not get tasks killed for a transient resident-size peak.
            "yarn.nodemanager.vmem-check-enabled": "false",
            "yarn.nodemanager.pmem-check-enabled": "false",
            # A nearly full shared disk must not mark the only NodeManager unhealthy.
            "yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage":
                "99.9",
            # Containers are handed out on NodeManager heartbeats: every 1 s by default, which
            # adds whole seconds to each of a job's phases on a one-node cluster.
            "yarn.resourcemanager.nodemanagers.heartbeat-interval-ms": "200",
            # Task logs land in hdfs:///tmp/logs, where mrjob looks for a failed task's stderr.
            "yarn.log-aggregation-enable": "true",
            "yarn.application.classpath": classpath,
        },
        "mapred-site.xml": {
            "mapreduce.framework.name": "yarn",
            "mapreduce.jobhistory.address": addr("jobhistory"),
            "mapreduce.jobhistory.webapp.address": addr("jobhistory_web"),
            "mapreduce.jobhistory.admin.address": addr("jobhistory_admin"),
            "mapreduce.application.classpath": classpath,
            # Java 17: MR's application master and tasks need the JDK opens Hadoop's own
            # launch scripts give its daemons.
            "mapreduce.jvm.add-opens-as-default": "true",
            "yarn.app.mapreduce.am.resource.mb": container_mb,
            "yarn.app.mapreduce.am.command-opts": _TASK_JAVA_OPTS,
            "mapreduce.map.memory.mb": container_mb,
            "mapreduce.map.java.opts": _TASK_JAVA_OPTS,
            "mapreduce.reduce.memory.mb": container_mb,
            "mapreduce.reduce.java.opts": _TASK_JAVA_OPTS,
            "mapreduce.task.io.sort.mb": "64",
            # Backup attempts only compete for the two cores with the attempts they back up.
            "mapreduce.map.speculative": "false",
            "mapreduce.reduce.speculative": "false",
            # The application master asks for containers and hears of finished tasks on
            # this beat (default 1 s).
            "yarn.app.mapreduce.am.scheduler.heartbeat.interval-ms": "200",
            # Job files are replicated 10 times by default; there are only a few DataNodes.
            "mapreduce.client.submit.file.replication": str(replication),
        },
    }
    if datanodes > 1:
        # Several DataNodes are for the fault tests (issue 11): a stopped one must be declared
        # dead in seconds (2 x recheck + 10 x heartbeat = 14 s), not after 10.5 minutes; and
        # a replica lost or found corrupt is copied again on the next beat of the NameNode's
        # replication monitor. (One DataNode keeps Hadoop's defaults: a loaded machine must
        # not get the only one declared dead.)
        props["hdfs-site.xml"].update({
            "dfs.heartbeat.interval": "1",
            "dfs.namenode.heartbeat.recheck-interval": "2000",
            "dfs.namenode.redundancy.interval.seconds": "1",
        })
    return props


def _write_site(path, props):
    lines = ['<?xml version="1.0"?>',
             "<!-- Written by hdfs_utils.minicluster for the MiniCluster it started. -->",
             "<configuration>"]
    for name, value in props.items():
        lines.append(f"  <property><name>{escape(name)}</name>"
                     f"<value>{escape(value)}</value></property>")
    lines.append("</configuration>")
    path.write_text("\n".join(lines) + "\n")


def _descendants(pid):
    """(pid, start ticks) of every live descendant of ``pid``."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            ticks = _start_ticks(child)
            if ticks is not None:
                found.append((child, ticks))
                todo.append(child)
    return found


def _read_state(paths):
    state = read_state(paths["state"])
    return None if state is None else ClusterInfo(**state)


def _clear_state(paths):
    for name in ("state", "pid", "details"):
        with contextlib.suppress(FileNotFoundError):
            paths[name].unlink()


def status(run_dir=MINICLUSTER_RUN_DIR):
    """The MiniCluster running from ``run_dir``, or None.

    Only the recorded process is checked (alive, same start time); :func:`health` asks the
    services themselves.
    """
    info = _read_state(_paths(run_dir))
    if info is None or not _alive(info.pid, info.start_ticks):
        return None
    return info


def _get_json(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def health(info):
    """What the services say: live DataNodes, safe mode, active NodeManagers.

    Returns a dict with ``live_datanodes``, ``safemode`` (bool), ``active_nodemanagers`` and
    ``ready`` (HDFS writable and YARN able to run a container); values are None where a
    service did not answer.
    """
    result = {"live_datanodes": None, "safemode": None, "active_nodemanagers": None}
    with contextlib.suppress(OSError, ValueError, KeyError, IndexError):
        beans = _get_json(info.namenode_web
                          + "/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState")["beans"]
        result["live_datanodes"] = beans[0]["NumLiveDataNodes"]
        beans = _get_json(info.namenode_web
                          + "/jmx?qry=Hadoop:service=NameNode,name=NameNodeInfo")["beans"]
        result["safemode"] = bool(beans[0]["Safemode"])
    with contextlib.suppress(OSError, ValueError, KeyError):
        metrics = _get_json(info.resourcemanager_web + "/ws/v1/cluster/metrics")
        result["active_nodemanagers"] = metrics["clusterMetrics"]["activeNodes"]
    # Every DataNode, so that the first file written gets all its replicas.
    result["ready"] = bool(result["live_datanodes"]
                           and result["live_datanodes"] >= info.datanodes
                           and result["safemode"] is False and result["active_nodemanagers"])
    return result


def _log_reason(log_path):
    """The most telling line of a failed start's log, for a one-line error."""
    try:
        lines = Path(log_path).read_text(errors="replace").splitlines()
    except OSError:
        return "no log written"
    for pattern in (r"BindException|Address already in use", r"Exception|Error|ERROR"):
        for line in lines:
            if re.search(pattern, line):
                return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "empty log"


def _wait_ready(process, info, details, deadline):
    """Wait until the cluster serves HDFS and YARN; return None, or why it will not."""
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"the MiniCluster JVM exited with status {process.returncode}"
        # MiniHadoopClusterManager writes its details file once both clusters are built.
        if details.exists() and health(info)["ready"]:
            return None
        time.sleep(0.5)
    return None if health(info)["ready"] else "not ready in time"


def _start_once(paths, home, timeout, datanodes=1, replication=1):
    for name in ("conf", "work", "tmp"):
        shutil.rmtree(paths[name], ignore_errors=True)
        paths[name].mkdir(parents=True)
    _clear_state(paths)

    ports = dict(zip(PORT_NAMES, _free_ports(len(PORT_NAMES))))
    sites = cluster_properties(ports, home, paths["conf"], paths["tmp"], datanodes, replication)
    for site, props in sites.items():
        _write_site(paths["conf"] / site, props)

    command = [
        str(hadoop_bin(home)), MAIN_CLASS,
        "-format", "-datanodes", str(datanodes), "-nodemanagers", "1",
        "-nnport", str(ports["namenode"]), "-nnhttpport", str(ports["namenode_http"]),
        "-rmport", str(ports["resourcemanager"]), "-jhsport", str(ports["jobhistory"]),
        "-writeDetails", str(paths["details"]),
    ]
    for props in sites.values():
        for name, value in props.items():
            command += ["-D", f"{name}={value}"]

    env = dict(os.environ)
    env.update(hadoop_env(conf_dir=paths["conf"], home=home))
    env.update({
        "HADOOP_HEAPSIZE_MAX": _CLUSTER_HEAP,
        "HADOOP_ROOT_LOGGER": "INFO,console",
        "HADOOP_LOG_DIR": str(paths["run_dir"] / "logs"),
        # Jetty unpacks its web apps into java.io.tmpdir: keep that in the run dir too.
        "HADOOP_OPTS": f"-Djava.io.tmpdir={paths['tmp']}",
    })
    with open(paths["log"], "wb") as log:
        # A session of its own: the cluster outlives `make hadoop-up` and ignores its Ctrl-C.
        process = subprocess.Popen(command, cwd=paths["work"], env=env, stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    ticks = _start_ticks(process.pid)
    info = ClusterInfo(pid=process.pid, start_ticks=ticks, run_dir=str(paths["run_dir"]),
                       conf_dir=str(paths["conf"]), log=str(paths["log"]), ports=ports,
                       datanodes=datanodes, replication=replication)
    # Recorded before waiting, so that `down` can stop a cluster whose `up` was interrupted.
    paths["state"].write_text(json.dumps(asdict(info), indent=2) + "\n")
    paths["pid"].write_text(f"{process.pid}\n")

    try:
        problem = _wait_ready(process, info, paths["details"], time.monotonic() + timeout)
    except BaseException:
        _stop(info, paths)
        raise
    if problem is None:
        return info, None
    reason = _log_reason(paths["log"])
    _stop(info, paths)
    return None, f"{problem}: {reason}"


def up(run_dir=MINICLUSTER_RUN_DIR, timeout=DEFAULT_TIMEOUT, home=LOCAL_HADOOP_HOME,
       datanodes=1, replication=1):
    """Start the MiniCluster from ``run_dir`` (or find the one running there) and wait for it.

    Parameters
    ----------
    run_dir : path
        State, conf dir (``run_dir/conf``), log and data. Default ``.run/hadoop``.
    timeout : float
        Seconds to wait for HDFS and YARN to answer. Default 90.
    home : path
        Hadoop home with the MiniCluster jars. Default: the project's ``.hadoop``.
    datanodes : int
        DataNodes to start (all in the cluster's JVM, each with its own data dirs and
        ports). Default 1.
    replication : int
        ``dfs.replication``: copies of each block, at most ``datanodes``. Default 1.

    Returns
    -------
    ClusterInfo

    Raises
    ------
    MiniClusterError
        With the reason (e.g. the log line of the exception) and the log's path.
    """
    if not 1 <= replication <= datanodes:
        raise MiniClusterError(f"replication must be between 1 and the number of DataNodes "
                               f"({datanodes}), not {replication}")
    paths = _paths(run_dir)
    running = status(run_dir)
    if running is not None:
        if (running.datanodes, running.replication) != (datanodes, replication):
            raise MiniClusterError(
                f"the MiniCluster of {run_dir} runs with {running.datanodes} DataNode(s) and "
                f"replication {running.replication}, not {datanodes} and {replication}: "
                f"stop it first")
        return running
    try:
        hadoop_bin(home)
    except HadoopNotFound as error:
        raise MiniClusterError(str(error)) from None
    paths["run_dir"].mkdir(parents=True, exist_ok=True)
    # A free port can be taken by someone else between our choosing it and Hadoop binding
    # it; on this shared machine that is worth another try with fresh ports.
    for _attempt in range(3):
        info, problem = _start_once(paths, Path(home).resolve(), timeout, datanodes,
                                    replication)
        if info is not None:
            return info
        if not re.search(r"BindException|Address already in use", problem):
            break
    raise MiniClusterError(f"MiniCluster did not start ({problem}); log: {paths['log']}")


def _signal_all(processes, sig):
    for pid, ticks in processes:
        if _alive(pid, ticks):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)


def _wait_gone(processes, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(_alive(pid, ticks) for pid, ticks in processes):
            return True
        time.sleep(0.2)
    return False


def _stop(info, paths):
    """Stop the cluster JVM by its pid, then whatever it started (YARN containers run in
    sessions of their own, so they would outlive it)."""
    main = [(info.pid, info.start_ticks)]
    if _alive(info.pid, info.start_ticks):
        # Containers started while the JVM shuts down are caught by the second look.
        children = set(_descendants(info.pid))
        _signal_all(main, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while _alive(info.pid, info.start_ticks) and time.monotonic() < deadline:
            children.update(_descendants(info.pid))
            time.sleep(0.2)
        if _alive(info.pid, info.start_ticks):
            _signal_all(main, signal.SIGKILL)
            _wait_gone(main, 5)
        children = list(children)
        _signal_all(children, signal.SIGTERM)
        if not _wait_gone(children, 5):
            _signal_all(children, signal.SIGKILL)
            _wait_gone(children, 5)
    # Reap it when it is our own child (tests), so no zombie stays behind.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(info.pid, os.WNOHANG)
    _clear_state(paths)
    if _alive(info.pid, info.start_ticks):
        raise MiniClusterError(f"MiniCluster pid {info.pid} did not stop")


def down(run_dir=MINICLUSTER_RUN_DIR):
    """Stop the MiniCluster of ``run_dir``. Returns False when none was running."""
    paths = _paths(run_dir)
    info = _read_state(paths)
    if info is None:
        return False
    was_running = _alive(info.pid, info.start_ticks)
    _stop(info, paths)
    return was_running


@contextlib.contextmanager
def running(run_dir=MINICLUSTER_RUN_DIR, timeout=DEFAULT_TIMEOUT, home=LOCAL_HADOOP_HOME,
            datanodes=1, replication=1):
    """``with running(dir) as info:`` a MiniCluster that is stopped on the way out, error or
    not. One that was already running there is left running."""
    already = status(run_dir)
    info = already or up(run_dir, timeout, home, datanodes, replication)
    try:
        yield info
    finally:
        if already is None:
            down(run_dir)


def _describe(info):
    state = health(info)
    uptime = ""
    with contextlib.suppress(OSError, ValueError):
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        boot_s = float(Path("/proc/uptime").read_text().split()[0])
        uptime = f", up {boot_s - info.start_ticks / ticks_per_s:.0f} s"
    return "\n".join([
        f"MiniCluster running (pid {info.pid}{uptime})",
        f"  HDFS        {info.namenode}  web {info.namenode_web}"
        f"  live datanodes: {state['live_datanodes']} of {info.datanodes}, "
        f"replication {info.replication}, safe mode: {state['safemode']}",
        f"  YARN        {info.resourcemanager}  web {info.resourcemanager_web}"
        f"  active nodemanagers: {state['active_nodemanagers']}",
        f"  JobHistory  {info.jobhistory}",
        f"  log         {info.log}",
        f"export HADOOP_CONF_DIR={info.conf_dir}",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m hdfs_utils.minicluster",
        description="Hadoop's MiniCluster (HDFS + YARN) on 127.0.0.1.")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--run-dir", default=str(MINICLUSTER_RUN_DIR),
                        help="state, conf dir, log and data. Default: %(default)s")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds to wait for the cluster to answer. Default: %(default)s")
    parser.add_argument("--datanodes", type=int, default=1,
                        help="(up) DataNodes to start. Default: %(default)s")
    parser.add_argument("--replication", type=int, default=1,
                        help="(up) copies of each block (dfs.replication), at most "
                             "--datanodes. Default: %(default)s")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            started = time.monotonic()
            already = status(args.run_dir)
            info = up(args.run_dir, args.timeout, datanodes=args.datanodes,
                      replication=args.replication)
            if already is None:
                print(f"MiniCluster ready in {time.monotonic() - started:.1f} s")
            print(_describe(info))
        elif args.command == "down":
            stopped = down(args.run_dir)
            print("MiniCluster stopped" if stopped else "MiniCluster was not running")
        else:
            info = status(args.run_dir)
            if info is None:
                print("MiniCluster not running (start it with `make hadoop-up`)")
                return 1
            print(_describe(info))
            if not health(info)["ready"]:
                print(f"MiniCluster not ready: see {info.log}", file=sys.stderr)
                return 1
    except MiniClusterError as error:
        print(f"minicluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
