"""mrjob's ``-r hadoop`` runner as distreg's jobs run on it (one concern of the overrides of
mrjob 0.7.4; docs/mrjob.md has the table, jobs/mrjob_imports.py the imports, jobs/mrjob_compat.py the job).

Fewer ``hadoop`` client JVMs per job (``hadoop version`` once per process, one ``fs -put`` for
the working dir, one ``fs -cat`` for the output; what lands on HDFS, and where, is unchanged),
an interrupted step's YARN application killed, and the YARN application ids of a finished
runner's steps.
"""

import os
import subprocess
import sys

from distreg.interrupt import deferred
from jobs.mrjob_imports import cache_conf_reads, import_runners


_HADOOP_RUNNER = []
#: ``hadoop version`` of each ``hadoop`` command line, asked once per process
_HADOOP_VERSIONS = {}


def hadoop_runner_class():
    """The ``-r hadoop`` runner class (see the module docstring's "The hadoop runner")."""
    if _HADOOP_RUNNER:
        return _HADOOP_RUNNER[0]
    import_runners()
    cache_conf_reads()
    import posixpath
    from mrjob.hadoop import HadoopJobRunner
    from mrjob.parse import is_uri

    class FewerClientsHadoopRunner(HadoopJobRunner):
        """``-r hadoop`` with fewer ``hadoop`` client JVMs per job (same HDFS layout)."""

        def get_hadoop_version(self):
            key = tuple(self.get_hadoop_bin())
            if key in _HADOOP_VERSIONS:
                # what HadoopFilesystem caches per runner, kept for the process
                self.fs.hadoop._hadoop_version = _HADOOP_VERSIONS[key]
            else:
                _HADOOP_VERSIONS[key] = super().get_hadoop_version()
            return _HADOOP_VERSIONS[key]

        def _copy_files_to_wd_mirror(self):
            wd_mirror = self._wd_mirror()
            if not wd_mirror or not is_uri(wd_mirror):
                return super()._copy_files_to_wd_mirror()
            sources = []
            for kind in ('file', 'archive_file'):
                for name, path in sorted(self._working_dir_mgr.name_to_path(kind).items()):
                    dest = self._dest_in_wd_mirror(path, name)
                    if dest is None:
                        continue
                    if (is_uri(path) or os.path.basename(path) != name
                            or dest != posixpath.join(wd_mirror, name)):
                        return super()._copy_files_to_wd_mirror()
                    sources.append(path)
            self.fs.mkdir(wd_mirror)
            if sources:
                # one `hadoop fs -put A B C DIR` (names are unique in a working dir)
                self.fs.hadoop.invoke_hadoop(['fs', '-put'] + sources + [wd_mirror])

        def _upload_local_files(self):
            if self._upload_mgr and not self._upload_mgr.path_to_uri():
                # nothing to upload but the working dir, whose `mkdir -p` makes the prefix
                self._copy_files_to_wd_mirror()
                if self._wd_mirror():
                    return
            super()._upload_local_files()

        def cat_output(self):
            output_dir = self.get_output_dir()
            if (self._closed is True or output_dir is None
                    or not output_dir.startswith('hdfs://')):
                return super().cat_output()
            # Hadoop's own glob skips _SUCCESS; part files end with a newline, so their
            # concatenation is the same lines as mrjob's one `-cat` per part
            return self.fs.hadoop._cat_file(posixpath.join(output_dir, 'part-*'))

        def _run_hadoop(self, hadoop_args, env, record_callback):
            # Replaces: nothing; mrjob leaves a job it submitted running when its client is
            # interrupted (its _cleanup_job is disabled, mrjob #1241). A step interrupted
            # (SIGTERM, Ctrl-C) after YARN took it is killed, so that no application runs
            # on, reading an input and writing a tmp dir that are being removed. The
            # application id comes from the client's log records, which mrjob 0.7.4 hands to
            # its module's _log_record_from_hadoop (it ignores ``record_callback``): tapped
            # for the step, put back after.
            import mrjob.hadoop
            from mrjob.logs.step import _SUBMITTED_APPLICATION_RE  # the id mrjob parses
            submitted, log_record = [], mrjob.hadoop._log_record_from_hadoop

            def tap(record):
                m = _SUBMITTED_APPLICATION_RE.match(record.get('message') or '')
                if m:
                    submitted.append(m.group('application_id'))
                log_record(record)

            mrjob.hadoop._log_record_from_hadoop = tap
            try:
                return super()._run_hadoop(hadoop_args, env, record_callback)
            except BaseException:
                with deferred():
                    for app in submitted:
                        _kill_application(self.get_hadoop_bin(), app, env)
                raise
            finally:
                mrjob.hadoop._log_record_from_hadoop = log_record

        def cleanup(self, mode=None):
            with deferred():  # the HDFS and local tmp dirs go whole
                super().cleanup(mode)

    _HADOOP_RUNNER.append(FewerClientsHadoopRunner)
    return FewerClientsHadoopRunner


def _kill_application(hadoop_bin, app, env, timeout=120):
    """``yarn application -kill APP`` (Hadoop's ApplicationCLI, run by the ``hadoop``
    command as any main class); says what it did on stderr."""
    args = list(hadoop_bin) + ['org.apache.hadoop.yarn.client.cli.ApplicationCLI',
                               'application', '-kill', app]
    try:
        done = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)
        lines = done.stdout.decode('utf-8', 'replace').strip().splitlines()
        why = None if done.returncode == 0 else (lines[-1] if lines
                                                 else 'exit %d' % done.returncode)
    except (OSError, subprocess.TimeoutExpired) as e:
        why = str(e)
    if why is None:
        print('distreg: killed YARN application %s (its step was interrupted)' % app,
              file=sys.stderr)
    else:
        print('distreg: warning: could not kill YARN application %s (%s); kill it with '
              '`yarn application -kill %s`' % (app, why, app), file=sys.stderr)


def yarn_application_ids(runner):
    """The YARN application ids of a finished runner's steps, in order.

    Reads: mrjob's hadoop runner's private ``_log_interpretations`` (one per step), where it
    keeps the ``application_id`` it parsed from ``hadoop jar``'s "Submitted application ..."
    line; mrjob has no public accessor. Runners without YARN (inline, local) have none.
    """
    return [i['step']['application_id'] for i in getattr(runner, '_log_interpretations', ())
            if (i.get('step') or {}).get('application_id')]
