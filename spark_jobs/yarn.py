"""Spark on YARN: what a session or a spark-submit with ``--master yarn`` needs.

- ``HADOOP_CONF_DIR`` names the cluster (``hdfs_utils.hadoop_env()``: ``$HADOOP_CONF_DIR`` when
  set, else the MiniCluster of ``make hadoop-up``).
- Spark's jars go to HDFS once, as one zip (``spark.yarn.archive``), and so do pyspark's and
  py4j's Python code (``PYSPARK_ARCHIVES_PATH``: the pip package has no ``python/lib/*.zip``
  for YARN to find). Every later application refers to them where they are: YARN localises
  them from HDFS and caches them on its nodes, instead of Spark uploading some 300 MB of jars
  per application. They live under ``/user/<user>/.distreg/spark-<version>/`` (built once per
  Spark version; an upload is written beside and renamed, so a half-written zip is never used).
- The application master's and the executors' Python is this interpreter (``PYSPARK_PYTHON``
  through ``spark.yarn.appMasterEnv`` and ``spark.executorEnv``): on the MiniCluster the
  containers run on this machine. On a real cluster, set ``DISTREG_YARN_PYTHON`` to a Python
  that exists on every node (with numpy and pyarrow).
- Small containers: two executors of one core and 512 MB, and the application master, fit
  the MiniCluster's NodeManager (``hdfs_utils.minicluster``). ``DISTREG_YARN_EXECUTORS`` and
  the usual ``--conf`` switches change them.
"""

import getpass
import os
import sys
import tempfile
import zipfile

#: Spark settings for YARN that a user's own (``--conf``, spark-defaults) do not override.
EXECUTOR_DEFAULTS = {
    'spark.executor.instances': '2',
    'spark.executor.cores': '1',
    'spark.executor.memory': '512m',
    'spark.yarn.am.memory': '512m',
    'spark.yarn.am.cores': '1',
    # the MiniCluster's containers start in a few seconds; a real queue may take longer
    'spark.yarn.am.waitTime': '120s',
}


def is_yarn(master):
    return (master or '').split(':', 1)[0] == 'yarn'


def staging_dir(version):
    user = os.environ.get('HADOOP_USER_NAME') or getpass.getuser()
    return '/user/%s/.distreg/spark-%s' % (user, version)


def prepare_yarn(home, version):
    """Point this process at the cluster and make sure the archives are on HDFS.

    ``home`` is Spark's home (with ``jars/``), ``version`` Spark's version. Sets
    ``HADOOP_CONF_DIR`` (and the rest of ``hdfs_utils.hadoop_env()``) and
    ``PYSPARK_ARCHIVES_PATH`` in ``os.environ``, for the JVM about to start; returns
    the Spark settings (a dict) for the session or ``spark-submit --conf``
    (:func:`spark_jobs.session.yarn_submit_args`).
    """
    from distreg.errors import DistregError
    from hdfs_utils import hdfs
    from hdfs_utils.env import HadoopNotFound, conf_value, hadoop_env
    try:
        os.environ.update(hadoop_env())
    except HadoopNotFound as e:
        raise DistregError(str(e))
    if not conf_value('yarn.resourcemanager.address'):
        raise DistregError(
            'no YARN cluster: HADOOP_CONF_DIR (%s) names no ResourceManager; run `make '
            'hadoop-up` or export HADOOP_CONF_DIR for your cluster' % os.environ['HADOOP_CONF_DIR'])
    base = staging_dir(version)
    try:
        jars = _ensure(hdfs, base + '/spark-jars.zip',
                       lambda path: _zip_dir(os.path.join(home, 'jars'), path, flat=True))
        python = _ensure(hdfs, base + '/pyspark.zip',
                         lambda path: _zip_packages(['pyspark', 'py4j'], path))
    except hdfs.HdfsError as e:
        raise DistregError('could not put Spark\'s archives on HDFS (%s): %s' % (base, e))
    os.environ['PYSPARK_ARCHIVES_PATH'] = python
    interpreter = os.environ.get('DISTREG_YARN_PYTHON') or sys.executable
    conf = dict(EXECUTOR_DEFAULTS)
    if os.environ.get('DISTREG_YARN_EXECUTORS'):
        conf['spark.executor.instances'] = os.environ['DISTREG_YARN_EXECUTORS']
    conf.update({
        'spark.yarn.archive': jars,
        'spark.yarn.appMasterEnv.PYSPARK_PYTHON': interpreter,
        'spark.executorEnv.PYSPARK_PYTHON': interpreter,
    })
    return conf


def _ensure(hdfs, path, build):
    """``hdfs://`` URI of ``path``, built and uploaded first when it is not there yet."""
    from hdfs_utils.env import conf_value
    uri = conf_value('fs.defaultFS').rstrip('/') + path
    if hdfs.exists(path):
        return uri
    with tempfile.TemporaryDirectory(prefix='distreg-yarn-') as tmp:
        local = os.path.join(tmp, os.path.basename(path))
        build(local)
        print('distreg: putting %s (%.0f MB) on HDFS, once for every Spark application on YARN'
              % (path, os.path.getsize(local) / 2 ** 20), file=sys.stderr)
        partial = '%s.%d.part' % (path, os.getpid())
        hdfs.put(local, partial, overwrite=True)
        try:
            hdfs.mv(partial, path)
        except hdfs.HdfsError:
            if not hdfs.exists(path):   # another process may have won the race
                raise
            hdfs.rm(partial, missing_ok=True)
    return uri


def _zip_dir(folder, path, flat=False):
    """Zip the files of ``folder`` (jars are stored: they are compressed already)."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as z:
        for name in sorted(os.listdir(folder)):
            full = os.path.join(folder, name)
            if os.path.isfile(full):
                z.write(full, name if flat else os.path.join(os.path.basename(folder), name))


def _zip_packages(names, path):
    """Zip installed packages: their sources and data files (pyspark's error messages are
    JSON), not pyspark's jars and scripts (the jars archive has the jars)."""
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for name in names:
            root = os.path.dirname(__import__(name).__file__)
            parent = os.path.dirname(root)
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d not in ('__pycache__', 'jars', 'bin', 'sbin')]
                for f in files:
                    if not f.endswith('.pyc'):
                        full = os.path.join(folder, f)
                        z.write(full, os.path.relpath(full, parent))

