"""jobs/mrjob_compat.py leans on mrjob 0.7.4's internals: fail loudly when they change."""

import inspect

import mrjob

from jobs import mrjob_compat
from jobs.block_job import BlockJob
from jobs.mrjob_compat import OVERRIDES, CompatJob, hadoop_runner_class, local_runner_class


def test_mrjob_is_the_version_the_overrides_were_measured_on():
    assert mrjob.__version__ == mrjob_compat.MRJOB_VERSION


def test_every_private_name_used_still_exists_in_mrjob():
    from mrjob.job import MRJob
    from mrjob.fs.hadoop import HadoopFilesystem
    from mrjob.hadoop import HadoopJobRunner
    from mrjob.local import LocalMRJobRunner
    import mrjob.conf
    classes = {'MRJob': MRJob, 'LocalMRJobRunner': LocalMRJobRunner,
               'HadoopJobRunner': HadoopJobRunner, 'HadoopFilesystem': HadoopFilesystem,
               'mrjob.conf': mrjob.conf}
    for cls_name, names in OVERRIDES.items():
        cls = classes[cls_name]
        for name in names:
            assert callable(getattr(cls, name, None)), '%s.%s is gone' % (cls.__name__, name)


def test_every_override_keeps_mrjobs_signature():
    for ours in (CompatJob, local_runner_class(), hadoop_runner_class()):
        base = ours.__mro__[1]
        for name, fn in vars(ours).items():
            if not callable(fn) or name.startswith('__') or not hasattr(base, name):
                continue
            assert name in OVERRIDES[base.__name__] or not name.startswith('_'), \
                '%s overrides %s.%s: list it in OVERRIDES' % (ours.__name__, base.__name__, name)
            assert inspect.signature(fn) == inspect.signature(getattr(base, name)), name


def test_the_job_keeps_its_cl_args_attribute():
    # CompatJob.add_args rewrites MRJob's private _cl_args
    job = BlockJob(['-r', 'inline', 'x.csv'])
    assert list(job._cl_args) == ['-r', 'inline', 'x.csv']
    job.add_args(['--model', 'logistic'])
    assert job.options.model == 'logistic' and job._cl_args[-2:] == ['--model', 'logistic']


def test_a_task_imports_neither_mrjob_runners_nor_pyspark():
    # measured: mrjob.local -> mrjob.bin -> pyspark costs a task ~0.6 s of imports
    import subprocess
    import sys
    from helpers import ROOT
    code = ("import sys, jobs.normal; "
            "print(sorted(m for m in ('mrjob.local', 'mrjob.bin', 'pyspark') if m in sys.modules))")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == '[]'


def test_only_these_modules_touch_mrjob_internals():
    # every other jobs/ module uses mrjob's public API only
    import ast
    from helpers import ROOT
    for path in (ROOT / 'jobs').glob('*.py'):
        if path.name == 'mrjob_compat.py':
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in (
                    '_cl_args', '_runner_class', 'load_args', 'pick_protocols'):
                raise AssertionError('%s uses mrjob internal %s' % (path.name, node.attr))


def test_hadoop_runner_still_records_the_yarn_application_id():
    """yarn_application_ids reads what mrjob's hadoop runner parsed from `hadoop jar`."""
    from mrjob.hadoop import HadoopJobRunner
    from mrjob.logs.step import _interpret_hadoop_jar_command_stderr
    step = _interpret_hadoop_jar_command_stderr(
        [b'26/11/25 05:00:00 INFO impl.YarnClientImpl: Submitted application '
         b'application_1764049_0007\n'])
    assert step['application_id'] == 'application_1764049_0007'
    assert '_log_interpretations' in inspect.getsource(HadoopJobRunner)

    class Ran:
        _log_interpretations = [{'step': step}, {'step': {}}]
    assert mrjob_compat.yarn_application_ids(Ran()) == ['application_1764049_0007']


def test_hadoop_filesystem_still_caches_its_version_there():
    """FewerClientsHadoopRunner seeds HadoopFilesystem's per-instance version cache."""
    from mrjob.fs.hadoop import HadoopFilesystem
    assert HadoopFilesystem(['hadoop'])._hadoop_version is None


def test_hadoop_runner_still_logs_the_clients_records_through_its_module_function():
    """The hadoop runner's _run_hadoop taps mrjob.hadoop._log_record_from_hadoop for the
    step's YARN application id (to kill it when the step is interrupted): mrjob 0.7.4 passes
    that function, not its ``record_callback`` argument, to the log parser."""
    import mrjob.hadoop
    assert callable(mrjob.hadoop._log_record_from_hadoop)
    source = inspect.getsource(mrjob.hadoop.HadoopJobRunner._run_hadoop)
    assert source.count('record_callback=_log_record_from_hadoop') == 2
    from mrjob.logs.step import _SUBMITTED_APPLICATION_RE
    line = 'Submitted application application_1764049_0007'
    assert _SUBMITTED_APPLICATION_RE.match(line).group('application_id') == \
        'application_1764049_0007'


def test_a_conf_file_is_parsed_once_while_unchanged_and_each_runner_gets_its_own_copy(
        tmp_path):
    import mrjob.conf
    mrjob_compat.local_runner_class()  # installs the cache
    conf = tmp_path / 'mrjob.conf'
    conf.write_text('runners:\n  local:\n    jobconf:\n      a: 1\n')
    first = mrjob.conf._conf_object_at_path(str(conf))
    assert first == {'runners': {'local': {'jobconf': {'a': 1}}}}
    first['runners']['local']['jobconf']['a'] = 99  # what a runner may do to its copy
    assert mrjob.conf._conf_object_at_path(str(conf))['runners']['local']['jobconf']['a'] == 1
    conf.write_text('runners:\n  local:\n    jobconf:\n      a: 22\n')  # size changes
    assert mrjob.conf._conf_object_at_path(str(conf))['runners']['local']['jobconf']['a'] == 22
    opts = mrjob.conf.load_opts_from_mrjob_conf('local', str(conf))
    assert opts[0][1] == {'jobconf': {'a': 22}}
    assert mrjob.conf._conf_object_at_path(None) is None
