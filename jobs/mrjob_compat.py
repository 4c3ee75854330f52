"""The overrides of mrjob 0.7.4's internals: the job; the imports, the runners and the
archives are in modules of their own (DESIGN.md: the mrjob engine is "one MRJob step"; these
modules are where that step leans on mrjob beyond its public API).

docs/mrjob.md has the table: each override, what mrjob does instead, why distreg needs it, and
the test that fails when mrjob's behaviour under it changes (tests/test_mrjob_compat.py checks
that the table has a row for every override and that every test it names exists).
:data:`OVERRIDES` lists every private name of mrjob used by them. What mrjob's public options
can do is left to them (one map task per core: the local runner's ``num_cores``).

- **Imports** (jobs/mrjob_imports.py): the launcher imports mrjob without setuptools'
  distutils shim or pyspark, and parses a conf file once while it is unchanged.
- **The job** (here, :class:`CompatJob`): switches added at launch reach every task; a map
  task hands its whole split to the job's vectorised ``map_task``.
- **The local runner**: jobs/mrjob_local.py. **The Hadoop runner**: jobs/mrjob_hadoop.py.
  **``dirs`` archives**: jobs/mrjob_archives.py.
"""

from contextlib import contextmanager

from jobs.mrjob_imports import IN_PLACE_ENV, import_runners  # noqa: F401  first: before mrjob
from mrjob.job import MRJob  # noqa: E402

#: mrjob's version these overrides were written and measured against (see the test
#: tests/test_mrjob_compat.py, which fails when mrjob's internals change).
MRJOB_VERSION = '0.7.4'

#: The modules of the overrides (tests/test_mrjob_compat.py: only these touch mrjob's internals).
MODULES = ('mrjob_imports.py', 'mrjob_compat.py', 'mrjob_local.py', 'mrjob_hadoop.py',
           'mrjob_archives.py')


# --------------------------------------------------------------------------- the job side

class CompatJob(MRJob):
    """The MRJob internals distreg's jobs override, each with what it replaces and why.

    A subclass provides :meth:`launch_args` (switches added when the job is launched) and
    :meth:`map_task` (the whole map task: what ``mapper_init``/``mapper``/``mapper_final``
    do per line in mrjob).
    """

    def launch_args(self):
        """Switches to add to the command line before the runner is made (default none)."""
        return []

    def add_args(self, extra):
        """Replaces: nothing public in mrjob adds switches after parsing. Rewrites the job's
        private ``_cl_args`` (what mrjob passes on to every task) and parses them again, so
        that e.g. the sniffed ``--schema`` reaches every task without being read again there.
        """
        if extra:
            self._cl_args = list(self._cl_args) + list(extra)
            self.load_args(self._cl_args)

    def make_runner(self):
        """mrjob's ``make_runner``, after :func:`import_runners` and :meth:`launch_args`."""
        import_runners()
        self.add_args(self.launch_args())
        return super().make_runner()

    @contextmanager
    def filesystem(self):
        """The runner's filesystem (hdfs://, s3:// with the user's credentials), without
        :meth:`launch_args` (mrjob's own ``make_runner``; used to read the input's first line)."""
        with MRJob.make_runner(self) as probe:
            yield probe.fs

    def _runner_class(self):
        """Replaces: mrjob's ``-r local`` and ``-r hadoop`` runner classes with
        :class:`BlockSplitLocalRunner` and :class:`FewerClientsHadoopRunner` (mrjob 0.7.4
        chooses the class in this private method; there is no option for it)."""
        runner = self.options.runner or 'inline'
        if runner == 'local':
            from jobs.mrjob_local import local_runner_class
            return local_runner_class()
        if runner == 'hadoop':
            from jobs.mrjob_hadoop import hadoop_runner_class
            return hadoop_runner_class()
        return super()._runner_class()

    def run_mapper(self, step_num=0):
        """Replaces: mrjob's per-line map task (decode each line, call ``mapper``, encode).

        The task's input goes to :meth:`map_task` whole (stdin, or the paths given to
        ``--mapper``) and its output pairs are written with the step's protocol. Measured
        (issue 2): per-line protocol handling cost more than the arithmetic.
        """
        _, write = self.pick_protocols(step_num, 'mapper')
        for key, value in self.map_task(self.stdin, self.options.args or ['-']):
            self.stdout.write(write(key, value) + b'\n')

    def map_task(self, stdin, paths):
        raise NotImplementedError

    def mapper_unused(self, key, value):
        """mrjob runs a map task only for a step with a mapper; :meth:`run_mapper` never calls
        it (mrjob's Spark runner would, which distreg does not use)."""
        raise NotImplementedError('distreg jobs read their split in run_mapper')


#: Every private name of mrjob used or overridden here, by class (or module) name:
#: tests/test_mrjob_compat.py checks that mrjob still has each, with the signature the
#: override was written against.
OVERRIDES = {
    'mrjob.conf': ('_conf_object_at_path',),
    'mrjob.sim': ('_chmod_u_rx',),
    'mrjob.fs.local': ('_from_file_uri',),
    'MRJob': ('_runner_class', 'run_mapper', 'pick_protocols', 'load_args'),
    'HadoopJobRunner': ('get_hadoop_version', '_copy_files_to_wd_mirror', '_upload_local_files',
                        'cat_output', 'get_hadoop_bin', '_wd_mirror', '_dest_in_wd_mirror',
                        'get_output_dir', '_run_hadoop'),
    'HadoopFilesystem': ('invoke_hadoop', '_cat_file', 'get_hadoop_version'),
    'LocalMRJobRunner': ('_num_mappers', '_pick_mapper_split_size', '_split_mapper_input',
                         '_env_for_task', '_run_mapper_and_combiner_func', '_jobconf_for_step',
                         '_num_cores', '_uses_input_manifest', '_yield_split_fileobjs',
                         '_get_step', '_task_dir', '_run_task_func', '_sort_input_func',
                         '_task_output_path', '_task_input_path', '_invoke_task_func',
                         '_run_multiple', '_get_local_tmp_dir', '_substep_args', '_num_steps',
                         '_run_streaming_step', '_step_dir', '_simulate_jobconf_for_step',
                         '_create_dir_archive', '_dir_archive_path', 'run',
                         '_create_dist_cache_dir', '_dist_cache_dir', '_path_in_dist_cache_dir'),
}
