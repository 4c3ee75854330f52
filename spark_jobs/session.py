"""Spark set-up shared by the engines, the spark-submit scripts and the tests.

Finds pyspark (the pip package, or a system Spark through findspark), points
Spark at the project's interpreter (``PYSPARK_PYTHON``), at the Java on PATH and at the
project's Spark configuration (``configs/spark``: loopback addresses, quiet log,
console progress bar), starts or joins a session, and ships the project's code
to the executors so that they run the same core whatever is installed there.
"""

import os
import re
import subprocess
import sys
import tempfile
import threading
import warnings
import zipfile

from distreg import PROJECT_ROOT
from spark_jobs.yarn import is_yarn, prepare_yarn

PROJECT = PROJECT_ROOT
CONF_DIR = os.path.join(PROJECT, 'configs', 'spark')
DEFAULT_MASTER = 'local[*]'
#: Packages the executors import (shipped as one zip with every application).
SHIPPED_PACKAGES = ('distreg', 'spark_jobs')
#: Set (to 1) by ``distreg fit --verbose``: the JVM's and Spark's own output, stage bars included.
VERBOSE_ENV = 'DISTREG_VERBOSE'
#: Lines the JVM prints on every start that say nothing about this run: the vector API's
#: incubator notice (Spark asks for the module), netlib's probing for a system BLAS (it falls
#: back to its Java implementation, which is what runs here anyway).
JVM_NOISE = re.compile(r'^WARNING: Using incubator modules|^netlib-(blas|lapack|arpack): '
                       r'|dev\.ludovic\.netlib')


#: The driver JVM's options when it runs only Python tasks in local mode (``python_only``):
#: the C1 compiler alone. That JVM only schedules tasks and pipes them to Python workers;
#: C2's compiler threads took most of a core over the first passes (and a fifth of one after
#: 200), beside the two Python workers of local[2], which it slowed (docs/spark-driver.md).
#: MLlib computes in the JVM and keeps C2 (with C1 alone its L-BFGS iterations are several
#: times slower).
PYTHON_ONLY_JAVA_OPTIONS = '-XX:TieredStopAtLevel=1'
#: The options of the JVM :func:`_start_gateway` started (None: none started here).
_gateway_options = None


def verbose():
    return os.environ.get(VERBOSE_ENV, '') not in ('', '0')


def import_pyspark():
    """Import pyspark: the installed package, or a system Spark's via findspark (SPARK_HOME)."""
    try:
        import pyspark
    except ImportError as e:
        try:
            import findspark
            findspark.init()
            import pyspark
        except Exception:
            raise ImportError('no pyspark (%s), and no system Spark found through findspark '
                              '(SPARK_HOME)' % e) from None
    return pyspark


def prepare_environment():
    """Environment Spark reads when it starts; values the user already set are kept."""
    os.environ.setdefault('PYSPARK_PYTHON', sys.executable)
    os.environ.setdefault('SPARK_CONF_DIR', CONF_DIR)
    os.environ.setdefault('SPARK_LOCAL_IP', '127.0.0.1')
    if not os.environ.get('JAVA_HOME'):
        # the project's one Java lookup (the JDK of the `java` on PATH), shared with Hadoop;
        # imported here: executors, which get this module but not hdfs_utils, never call this
        from hdfs_utils.env import HadoopNotFound, java_home
        try:
            os.environ['JAVA_HOME'] = str(java_home())
        except HadoopNotFound:
            pass  # Spark's own launcher says that Java is missing


def spark_home():
    """Directory with Spark's bin/ and jars/ (the pip package, or SPARK_HOME)."""
    pyspark = import_pyspark()
    home = os.path.dirname(os.path.abspath(pyspark.__file__))
    if os.path.isdir(os.path.join(home, 'jars')):
        return home
    return os.environ['SPARK_HOME']


def spark_submit():
    """``(command, env)`` to run ``spark-submit`` with the project's interpreter and configs."""
    prepare_environment()
    env = dict(os.environ)
    env.setdefault('PYSPARK_DRIVER_PYTHON', sys.executable)
    return [os.path.join(spark_home(), 'bin', 'spark-submit')], env


def get_session(app_name, master=None, *, python_only=False):
    """Start (or join) a SparkSession called ``app_name``.

    Parameters
    ----------
    app_name : str
    master : str or None
        ``local[N]``, ``local[*]``, ``spark://host:port``, ... None: the master
        spark-submit was given, or ``local[*]`` when not run by spark-submit.
    python_only : bool, default False
        The session's tasks are all Python (spark-rdd). In local mode its JVM then only
        schedules tasks and pipes them to the Python workers, and runs with
        :data:`PYTHON_ONLY_JAVA_OPTIONS`. A JVM of this process that runs no session and
        was started with the other setting is stopped and a new one started; a running
        session is joined as it is.
    """
    prepare_environment()
    import_pyspark()
    # pyspark warns about pandas 3 on import; distreg uses no pandas API through Spark
    warnings.filterwarnings('ignore', message='PySpark does not yet fully support pandas',
                            category=FutureWarning)
    from pyspark.sql import SparkSession
    local = (master or DEFAULT_MASTER).startswith('local') and (
        master or 'PYSPARK_GATEWAY_PORT' not in os.environ)
    _start_gateway(PYTHON_ONLY_JAVA_OPTIONS if python_only and local else '')
    builder = SparkSession.builder.appName(app_name)
    # One progress display per fit: distreg prints its own line per iteration, Spark's
    # stage bars would interleave with it (they show with --verbose).
    builder = builder.config('spark.ui.showConsoleProgress', 'true' if verbose() else 'false')
    # spark-submit starts the JVM itself (and tells us its port); its --master wins
    if master or 'PYSPARK_GATEWAY_PORT' not in os.environ:
        builder = builder.master(master or DEFAULT_MASTER)
        if (master or DEFAULT_MASTER).startswith('local'):
            # one executor: every task is as local as it can be, and delay scheduling
            # (waiting up to 3 s for a 'better' slot) only adds latency to short passes
            builder = builder.config('spark.locality.wait', '0s')
            # the JVM and its Python workers over Unix domain sockets (Spark 4.1+), not
            # loopback TCP: over TCP a task's first input record waited for Linux's delayed
            # acknowledgement (by all signs Nagle's algorithm), the largest part of a cached
            # pass at 1M rows (benchmarks/bench_spark.py, floors). Local masters
            # only: a YARN container's scratch path is longer than a socket's path may be
            # ("AF_UNIX path too long"), and the workers of other masters keep TCP
            builder = builder.config('spark.python.unix.domain.socket.enabled', 'true')
    if is_yarn(master):
        # before the JVM starts: HADOOP_CONF_DIR and the archives' paths are read from its env
        for key, value in prepare_yarn(spark_home(), import_pyspark().__version__).items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel('WARN')
    ship_project(spark.sparkContext)
    return spark


def _start_gateway(java_options):
    """Start pyspark's JVM (the driver's) with ``java_options``.

    Its stderr passes through a filter that drops :data:`JVM_NOISE` (not with
    ``--verbose``); everything else (Spark's warnings and errors, Python workers'
    tracebacks) still reaches stderr, line by line. Nothing to do when spark-submit
    started the JVM (its stderr and options are spark-submit's), or when one runs with
    these options, or runs a session, or was not started here.
    """
    global _gateway_options
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway
    if 'PYSPARK_GATEWAY_PORT' in os.environ:
        return
    with SparkContext._lock:
        if SparkContext._gateway is not None:
            if (SparkContext._active_spark_context is not None or _gateway_options is None
                    or _gateway_options == java_options):
                return
            _stop_gateway()
        conf = SparkConf(loadDefaults=False)
        if java_options:
            # the default options' key: a user's spark.driver.extraJavaOptions still applies
            conf.set('spark.driver.defaultJavaOptions', java_options)
        if verbose():
            gateway = launch_gateway(conf)
        else:
            gateway = launch_gateway(conf, popen_kwargs={'stderr': subprocess.PIPE})
            threading.Thread(target=_forward, args=(gateway.proc.stderr,), daemon=True,
                             name='distreg-jvm-stderr').start()
        SparkContext._gateway = gateway
        SparkContext._jvm = gateway.jvm
        _gateway_options = java_options


def _stop_gateway():
    """Stop the JVM :func:`_start_gateway` started (it runs no session)."""
    from pyspark import SparkContext
    gateway = SparkContext._gateway
    SparkContext._gateway = SparkContext._jvm = None
    try:
        gateway.shutdown()
    except Exception:  # noqa: BLE001 (already gone: nothing to close)
        pass
    proc = gateway.proc
    proc.stdin.close()  # the gateway server exits at EOF on its stdin
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _forward(stream):
    for line in iter(stream.readline, b''):
        if JVM_NOISE.search(line.decode('utf-8', 'replace')):
            continue
        # this process's stderr as it is now (a harness may have swapped it since the
        # JVM started); once it is closed (the interpreter is exiting) nothing can take
        # the line, and the thread must not die with a traceback of its own
        err = sys.stderr
        try:
            out = getattr(err, 'buffer', None)
            if out is not None:
                out.write(line)
                out.flush()
            else:
                err.write(line.decode('utf-8', 'replace'))
        except (ValueError, OSError):
            continue


def ship_project(sc):
    """Add the project's packages to the executors' path (once per SparkContext)."""
    if getattr(sc, '_distreg_shipped', False):
        return
    from pyspark import SparkFiles
    # inside the driver's SparkFiles directory, which Spark deletes when the session stops
    # (a directory of our own would outlive every run)
    tmp = tempfile.mkdtemp(prefix='distreg-spark-', dir=SparkFiles.getRootDirectory())
    path = os.path.join(tmp, 'distreg_project.zip')
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as z:
        for package in SHIPPED_PACKAGES:
            root = os.path.join(PROJECT, package)
            for folder, dirs, files in os.walk(root):
                dirs[:] = [d for d in dirs if d != '__pycache__']
                for f in files:
                    if f.endswith('.py'):
                        full = os.path.join(folder, f)
                        z.write(full, os.path.relpath(full, PROJECT))
    sc.addPyFile(path)
    sc._distreg_shipped = True


def yarn_submit_args():
    """``spark-submit`` switches for YARN (``--master yarn`` and the ``--conf`` settings of
    :func:`spark_jobs.yarn.prepare_yarn`); ``os.environ`` gets ``HADOOP_CONF_DIR`` and
    ``PYSPARK_ARCHIVES_PATH``, which spark-submit must inherit."""
    prepare_environment()
    args = ['--master', 'yarn']
    for key, value in prepare_yarn(spark_home(), import_pyspark().__version__).items():
        args += ['--conf', '%s=%s' % (key, value)]
    return args


def main(argv=None):
    """``python -m spark_jobs.session yarn``: shell lines that set up ``spark-submit`` for YARN::

        eval "$(python -m spark_jobs.session yarn)"
        spark-submit $DISTREG_YARN_ARGS spark_jobs/rdd_regression.py hdfs:///data.csv
    """
    import shlex
    argv = sys.argv[1:] if argv is None else argv
    if argv != ['yarn']:
        print('usage: python -m spark_jobs.session yarn', file=sys.stderr)
        return 2
    args = yarn_submit_args()
    for name in ('HADOOP_CONF_DIR', 'PYSPARK_ARCHIVES_PATH'):
        print('export %s=%s' % (name, shlex.quote(os.environ[name])))
    print('export PYSPARK_PYTHON=%s' % shlex.quote(
        os.environ.get('DISTREG_YARN_PYTHON') or sys.executable))
    print('export DISTREG_YARN_ARGS=%s' % shlex.quote(' '.join(args)))
    return 0


if __name__ == '__main__':
    sys.exit(main())


def cancellable(method):
    """An engine method that runs Spark actions, under :func:`distreg.interrupt.deferred`.

    A SIGTERM raised inside a py4j call leaves that call's answer unread on the thread's
    connection (pyspark pins one per thread), and the clean-up's next call reads it instead of
    its own (measured: ``KeyError: 'c'`` in ``engine.close()``, a traceback and exit 1). Here
    the SIGTERM waits for the method to end, and makes it end soon: a thread of its own (its
    own connection) cancels the running Spark jobs, so the action fails at once.
    """
    import functools
    from distreg.interrupt import deferred

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        def cancel():
            spark = getattr(self, 'spark', None) or getattr(getattr(self, 'rdd', None),
                                                            'spark', None)
            if spark is not None:
                threading.Thread(target=_cancel_jobs, args=(spark,), daemon=True).start()

        with deferred(on_signal=cancel):
            return method(self, *args, **kwargs)
    return run


def _cancel_jobs(spark):
    try:
        spark.sparkContext.cancelAllJobs()
    except Exception:  # noqa: BLE001 (stopped, or not started yet: nothing runs)
        pass
