"""HDFS helpers, the Hadoop environment and the MiniCluster launcher.

``hdfs_utils.hdfs`` (re-exported here): put/get/ls/cat/rm/exists/checksum over the cluster
``HADOOP_CONF_DIR`` names, uploads and downloads verified by size and checksum.
``hdfs_utils.env``: :func:`hadoop_env` and friends, which Hadoop and which cluster.
``hdfs_utils.minicluster``: Hadoop's MiniCluster on 127.0.0.1 (``make hadoop-up``).
Command lines: ``python -m hdfs_utils --help``, ``python -m hdfs_utils.minicluster --help``.
"""

from hdfs_utils.env import (
    HadoopNotFound, conf_value, hadoop_bin, hadoop_conf_dir, hadoop_env, hadoop_home,
    java_home, streaming_jar)
from hdfs_utils.hdfs import (
    Checksum, FileStatus, HdfsError, HdfsNotFound, HdfsUnavailable, HdfsVerifyError, cat,
    checksum, checksums, exists, get, local_checksum, ls, mkdir, mv, open_stream, put, rm,
    verify)

__all__ = [
    "HadoopNotFound", "conf_value", "hadoop_bin", "hadoop_conf_dir", "hadoop_env",
    "hadoop_home", "java_home", "streaming_jar",
    "Checksum", "FileStatus", "HdfsError", "HdfsNotFound", "HdfsUnavailable", "HdfsVerifyError",
    "cat", "checksum", "checksums", "exists", "get", "local_checksum", "ls", "mkdir", "mv",
    "open_stream", "put",
    "rm", "verify",
]
