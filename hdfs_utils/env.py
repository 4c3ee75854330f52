"""Which Hadoop the project's code runs: its home, its conf dir and the Java it needs.

A user with a real install exports ``HADOOP_HOME`` / ``HADOOP_CONF_DIR`` and everything here
uses them. Without them the project's own Hadoop home ``.hadoop/`` (``make hadoop``) is used,
talking to the MiniCluster that ``make hadoop-up`` started, if one runs.
"""

import contextlib
import os
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import distreg
from hdfs_utils.state import running_state

PROJECT_ROOT = Path(distreg.PROJECT_ROOT)
LOCAL_HADOOP_HOME = PROJECT_ROOT / ".hadoop"
RUN_DIR = PROJECT_ROOT / ".run"
# Where `make hadoop-up` (hdfs_utils.minicluster with its default run dir) keeps its state.
MINICLUSTER_RUN_DIR = RUN_DIR / "hadoop"


class HadoopNotFound(RuntimeError):
    """No usable Hadoop home or Java."""


def hadoop_home():
    """The Hadoop home: ``$HADOOP_HOME``, else the project's ``.hadoop/``."""
    home = os.environ.get("HADOOP_HOME")
    return Path(home) if home else LOCAL_HADOOP_HOME


def hadoop_bin(home=None):
    """Path of the ``hadoop`` command of ``home`` (default: :func:`hadoop_home`).

    Raises
    ------
    HadoopNotFound
        When the home has no ``bin/hadoop``.
    """
    home = Path(home) if home else hadoop_home()
    path = home / "bin" / "hadoop"
    if not os.access(path, os.X_OK):
        hint = ("run `make hadoop`" if home == LOCAL_HADOOP_HOME
                else "check HADOOP_HOME")
        raise HadoopNotFound(f"no hadoop command at {path}: {hint}")
    return path


def hadoop_conf_dir():
    """The conf dir naming the cluster.

    ``$HADOOP_CONF_DIR``; else the conf dir of the MiniCluster ``make hadoop-up`` started, while
    it runs; else the Hadoop home's ``etc/hadoop``.
    """
    conf_dir = os.environ.get("HADOOP_CONF_DIR")
    if conf_dir:
        return Path(conf_dir)
    running = running_state(MINICLUSTER_RUN_DIR)
    if running is not None:
        return Path(running["conf_dir"])
    return hadoop_home() / "etc" / "hadoop"


def java_home():
    """``$JAVA_HOME``, else the JDK of the ``java`` on ``PATH``.

    YARN containers start ``$JAVA_HOME/bin/java``, so a cluster needs it set explicitly.
    """
    home = os.environ.get("JAVA_HOME")
    if home:
        return Path(home)
    java = shutil.which("java")
    if java is None:
        raise HadoopNotFound("no java on PATH and JAVA_HOME is not set: Hadoop needs Java 17")
    return Path(os.path.realpath(java)).parent.parent


def hadoop_env(conf_dir=None, home=None):
    """Environment variables that make ``hadoop``, mrjob and pyspark use this Hadoop.

    Parameters
    ----------
    conf_dir : path, optional
        The cluster's conf dir. Default: :func:`hadoop_conf_dir`.
    home : path, optional
        The Hadoop home. Default: :func:`hadoop_home`.

    Returns
    -------
    dict
        ``HADOOP_HOME``, ``HADOOP_CONF_DIR``, ``JAVA_HOME`` and ``PATH`` (the home's ``bin``
        first), to be merged into ``os.environ`` for a child process.
    """
    home = Path(home) if home else hadoop_home()
    conf_dir = Path(conf_dir) if conf_dir else hadoop_conf_dir()
    path = os.environ.get("PATH", "").split(os.pathsep)
    # Put the home's bin first once, however often the result is merged into os.environ.
    path = [str(home / "bin")] + [p for p in path if p != str(home / "bin")]
    return {
        "HADOOP_HOME": str(home),
        "HADOOP_CONF_DIR": str(conf_dir),
        "JAVA_HOME": str(java_home()),
        "PATH": os.pathsep.join(path),
    }


def streaming_jar(home=None):
    """The Hadoop streaming jar of the home (what mrjob's hadoop runner finds by itself).

    Raises
    ------
    HadoopNotFound
        When the home holds no ``hadoop*streaming*.jar``.
    """
    home = Path(home) if home else hadoop_home()
    jars = sorted(p for p in home.rglob("hadoop*streaming*.jar")
                  if not p.name.endswith("-sources.jar"))
    if not jars:
        raise HadoopNotFound(f"no hadoop-streaming jar under {home}")
    # The shallowest, shortest name first, as mrjob chooses.
    return min(jars, key=lambda p: (len(p.parts), len(p.name), str(p)))


def conf_value(name, conf_dir=None, default=None):
    """The value of property ``name`` in the conf dir's ``*-site.xml`` files (no defaults,
    no variable expansion): enough to read addresses such as ``fs.defaultFS``."""
    conf_dir = Path(conf_dir) if conf_dir else hadoop_conf_dir()
    value = default
    for site in ("core-site.xml", "hdfs-site.xml", "yarn-site.xml", "mapred-site.xml"):
        path = conf_dir / site
        if not path.is_file():
            continue
        for prop in ElementTree.parse(path).getroot().iter("property"):
            if prop.findtext("name") == name:
                value = prop.findtext("value", default)
    return value


@contextlib.contextmanager
def environment(updates=None):
    """``with environment(cluster.env()):`` ``os.environ`` with ``updates`` set, and all of it
    put back as it was on the way out (also what was set meanwhile, e.g. by Spark's set-up)."""
    saved = dict(os.environ)
    os.environ.update(updates or {})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
