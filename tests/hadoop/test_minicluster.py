"""The MiniCluster launcher and the `hadoop` command it is built on."""

import re
import socket
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from mrjob.fs.hadoop import HadoopFilesystem

from hdfs_utils import env, hdfs, minicluster

pytestmark = pytest.mark.hadoop


def _hadoop(*args):
    return subprocess.run([str(env.hadoop_bin()), *args], capture_output=True, text=True)


def test_cluster_is_ready_and_bound_to_loopback(hadoop_cluster):
    assert minicluster.status(hadoop_cluster.run_dir) == hadoop_cluster
    state = minicluster.health(hadoop_cluster)
    assert state["ready"], state
    assert state["live_datanodes"] == 1
    assert state["active_nodemanagers"] == 1

    conf_dir = Path(hadoop_cluster.conf_dir)
    assert env.conf_value("fs.defaultFS", conf_dir) == hadoop_cluster.namenode
    for site in ("core-site.xml", "hdfs-site.xml", "yarn-site.xml", "mapred-site.xml"):
        for prop in ElementTree.parse(conf_dir / site).getroot().iter("property"):
            name, value = prop.findtext("name"), prop.findtext("value")
            if name.endswith(("address", "hostname", "defaultFS")):
                assert re.fullmatch(r"(hdfs://)?127\.0\.0\.1(:\d+)?", value), (name, value)


def test_hadoop_command(hadoop_cluster):
    version = _hadoop("version")
    assert version.returncode == 0
    assert version.stdout.splitlines()[0] == "Hadoop 3.5.0"

    # the jars first (the class data archive may record only jars ahead of a directory), then
    # the cluster's conf dir ahead of the project's etc/hadoop; no jar has a *-site.xml to
    # shadow it (`make hadoop` checks), and the clients do reach this cluster (below)
    classpath = _hadoop("classpath").stdout.strip().split(":")
    assert classpath[0].endswith("/share/hadoop/lib/*")
    assert classpath[1:3] == [hadoop_cluster.conf_dir, str(env.hadoop_home() / "etc" / "hadoop")]

    # mrjob takes a missing path only from a stderr of exactly this one line.
    missing = _hadoop("fs", "-ls", "hdfs:///no/such/path")
    assert missing.returncode == 1
    assert re.fullmatch(r"ls: .*No such file.*\n", missing.stderr), missing.stderr


def test_mrjob_filesystem_on_hdfs(hadoop_cluster, hdfs_dir, tmp_path):
    fs = HadoopFilesystem([str(env.hadoop_bin())])
    local = tmp_path / "f.txt"
    local.write_text("one\ntwo\n")
    remote = f"hdfs://{hdfs_dir}/f.txt"

    assert not fs.exists(remote)
    assert list(fs.ls(f"hdfs://{hdfs_dir}")) == []
    fs.mkdir(f"hdfs://{hdfs_dir}")
    fs.put(str(local), remote)
    assert fs.exists(remote)
    assert list(fs.ls(f"hdfs://{hdfs_dir}")) == [remote]
    assert b"".join(fs.cat(remote)) == b"one\ntwo\n"
    fs.rm(remote)
    assert not fs.exists(remote)


def test_up_status_down_leaves_nothing_running(hadoop_cluster, tmp_path):
    run_dir = Path(hadoop_cluster.run_dir).with_name("hadoop-tests-lifecycle")
    minicluster.down(run_dir)
    info = minicluster.up(run_dir)
    try:
        assert minicluster.up(run_dir) == info
        assert minicluster.status(run_dir) == info
        assert minicluster.health(info)["ready"]
        (tmp_path / "x").write_text("x\n")
        hdfs.put(tmp_path / "x", "/x", conf_dir=info.conf_dir)
    finally:
        assert minicluster.down(run_dir)

    assert minicluster.status(run_dir) is None
    assert not minicluster._alive(info.pid, info.start_ticks)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", info.ports["namenode"]), timeout=2).close()
    with pytest.raises(hdfs.HdfsUnavailable,
                       match=f"127.0.0.1:{info.ports['namenode']} is not reachable"):
        hdfs.ls("/", conf_dir=info.conf_dir)
    assert not minicluster.down(run_dir)


def test_up_without_hadoop_fails_with_the_reason(tmp_path):
    with pytest.raises(minicluster.MiniClusterError, match="no hadoop command at .*no-hadoop"):
        minicluster.up(tmp_path / "run", home=tmp_path / "no-hadoop-here")


def test_up_reports_why_the_jvm_died(tmp_path):
    # A Hadoop home with the launcher but without its jars: the JVM cannot even start.
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    launcher = home / "bin" / "hadoop"
    launcher.write_bytes(env.hadoop_bin(env.LOCAL_HADOOP_HOME).read_bytes())
    launcher.chmod(0o755)
    with pytest.raises(minicluster.MiniClusterError,
                       match=r"exited with status 1: hadoop: no jars under .*make hadoop"):
        minicluster.up(tmp_path / "run", home=home, timeout=30)
    assert minicluster.status(tmp_path / "run") is None
