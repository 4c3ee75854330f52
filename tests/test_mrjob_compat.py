"""jobs/mrjob_compat.py, mrjob_local.py, mrjob_hadoop.py and mrjob_archives.py lean on mrjob 0.7.4's
internals: fail loudly when they change."""

import inspect

import pytest

import mrjob

from jobs import mrjob_compat
from jobs.block_job import BlockJob
from jobs import mrjob_hadoop, mrjob_local
from jobs.mrjob_compat import OVERRIDES, CompatJob
from jobs.mrjob_hadoop import hadoop_runner_class
from jobs.mrjob_local import local_runner_class


def test_mrjob_is_the_version_the_overrides_were_measured_on():
    assert mrjob.__version__ == mrjob_compat.MRJOB_VERSION


def test_every_private_name_used_still_exists_in_mrjob():
    from mrjob.job import MRJob
    from mrjob.fs.hadoop import HadoopFilesystem
    from mrjob.hadoop import HadoopJobRunner
    from mrjob.local import LocalMRJobRunner
    import mrjob.conf
    import mrjob.fs.local
    import mrjob.sim
    classes = {'MRJob': MRJob, 'LocalMRJobRunner': LocalMRJobRunner,
               'HadoopJobRunner': HadoopJobRunner, 'HadoopFilesystem': HadoopFilesystem,
               'mrjob.conf': mrjob.conf, 'mrjob.sim': mrjob.sim,
               'mrjob.fs.local': mrjob.fs.local}
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
        if path.name in mrjob_compat.MODULES:
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
    assert mrjob_hadoop.yarn_application_ids(Ran()) == ['application_1764049_0007']


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
    mrjob_local.local_runner_class()  # installs the cache
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


# --------------------------------------------------------------------------- one test per
# override (docs/mrjob.md lists them): each fails when mrjob's behaviour under it changes

def _python(code):
    import subprocess
    import sys
    from helpers import ROOT
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout.strip()


def test_prefer_stdlib_distutils_gives_mrjob_pythons_own_distutils():
    out = _python('import sysconfig, jobs.mrjob_compat, distutils; '
                  'print(distutils.__file__.startswith(sysconfig.get_paths()["stdlib"]))')
    assert out == 'True'


def test_import_runners_imports_mrjob_bin_without_pyspark_and_leaves_pyspark_importable():
    out = _python('import sys, jobs.mrjob_compat as c; c.import_runners(); '
                  'print("mrjob.bin" in sys.modules, "pyspark" in sys.modules); '
                  'import pyspark; print(pyspark.__name__)')
    assert out.splitlines() == ['True False', 'pyspark']


def test_runner_class_picks_distregs_runners_for_local_and_hadoop_only():
    from mrjob.inline import InlineMRJobRunner
    assert BlockJob(['-r', 'local', 'x.csv'])._runner_class() is local_runner_class()
    assert BlockJob(['-r', 'hadoop', 'x.csv'])._runner_class() is hadoop_runner_class()
    assert BlockJob(['-r', 'inline', 'x.csv'])._runner_class() is InlineMRJobRunner


def test_mrjob_runs_a_map_task_through_run_mapper():
    # CompatJob.run_mapper replaces the per-line task; mrjob must still call it for --mapper
    from mrjob.job import MRJob
    source = inspect.getsource(MRJob.execute)
    assert 'self.run_mapper(' in source


def _lines_file(path, n):
    path.write_text('y,x\n' + ''.join('%d,%d\n' % (i, i * i) for i in range(n)))
    return str(path)


def _local_runner(cls, path, num_cores):
    """A ``-r local`` runner of the normal job (``cls``: ours, or mrjob's own)."""
    from jobs.normal import MRNormalEquations
    job = MRNormalEquations(['-r', 'local', '--num-cores', str(num_cores), path])
    job.add_args(job.launch_args())
    return cls(**job._runner_kwargs())


@pytest.mark.parametrize('cores', [1, 2, 3])
def test_the_local_runner_splits_one_range_per_core_in_place_at_line_ends(tmp_path, cores):
    from mrjob.local import LocalMRJobRunner
    path = _lines_file(tmp_path / 'd.csv', 5000)
    data = open(path, 'rb').read()
    runner = _local_runner(local_runner_class(), path, num_cores=cores)
    try:
        splits = list(runner._split_mapper_input([path], 0))
        assert len(splits) == cores
        assert [s['file'] for s in splits] == [path] * cores
        assert splits[0]['start'] == 0
        assert sum(s['length'] for s in splits) == len(data)
        for s in splits[1:]:
            assert data[s['start'] - 1:s['start']] == b'\n'      # starts at a line
        assert runner._in_place
        for f in tmp_path.rglob('input_part-*'):                  # nothing copied
            assert f.stat().st_size == 0
    finally:
        runner.cleanup()
    mrjobs = _local_runner(LocalMRJobRunner, path, num_cores=cores)
    try:
        # mrjob's own runner aims at two copied splits per core: what this override replaces
        assert len(list(mrjobs._split_mapper_input([path], 0))) == 2 * cores
    finally:
        mrjobs.cleanup()


def test_a_compressed_input_is_split_by_mrjob(tmp_path):
    import gzip
    path = tmp_path / 'd.csv.gz'
    path.write_bytes(gzip.compress(b'y,x\n1,2\n3,4\n'))
    runner = _local_runner(local_runner_class(), str(path), num_cores=2)
    try:
        splits = list(runner._split_mapper_input([str(path)], 0))
        assert not runner._in_place and len(splits) == 1
    finally:
        runner.cleanup()


@pytest.mark.parametrize('records, combined', [(1, False), (2, True)])
def test_a_map_task_of_one_record_skips_its_combiner(tmp_path, records, combined):
    mapper_out, comb_in, comb_out = (tmp_path / n for n in ('m', 'ci', 'co'))
    ran = []

    def run_mapper():
        mapper_out.write_text(''.join('k\t%d\n' % i for i in range(records)))

    def sort_input(paths, dest):
        ran.append('sort')
        dest.write_text(''.join(sorted(open(paths[0]).readlines())))

    def run_combiner():
        ran.append('combiner')
        comb_out.write_text('combined\n')

    mrjob_local._map_then_combine(run_mapper, run_combiner, sort_input, mapper_out, comb_in,
                                   comb_out)
    assert (ran == ['sort', 'combiner']) is combined
    if not combined:
        assert comb_out.read_text() == mapper_out.read_text()


def _fake_hadoop(tmp_path, monkeypatch):
    """A ``hadoop`` command that logs its arguments (and answers version and -cat)."""
    log = tmp_path / 'hadoop.log'
    script = tmp_path / 'hadoop'
    script.write_text('#!/bin/sh\necho "$*" >> "%s"\ncase "$1 $2" in\n'
                      '  "version "*) echo "Hadoop 3.5.0";;\n'
                      '  "fs -cat") printf \'1\\t"a"\\n2\\t"b"\\n\';;\nesac\nexit 0\n' % log)
    script.chmod(0o755)
    mrjob_hadoop._HADOOP_VERSIONS.clear()
    monkeypatch.setattr(mrjob_hadoop, '_HADOOP_VERSIONS', {})
    return str(script), log


def _hadoop_runner(cls, hadoop, tmp_path):
    extra = tmp_path / 'extra.txt'
    extra.write_text('x')
    return cls(mr_job_script='jobs/normal.py', hadoop_bin=[hadoop], conf_paths=[],
               hadoop_tmp_dir='hdfs:///tmp/distreg-test', input_paths=[str(extra)],
               upload_files=['configs/mrjob.conf', str(extra)])


def _calls(log):
    return log.read_text().splitlines() if log.exists() else []


def test_the_hadoop_runner_asks_hadoop_version_once_per_process(tmp_path, monkeypatch):
    hadoop, log = _fake_hadoop(tmp_path, monkeypatch)
    for _ in range(3):
        assert _hadoop_runner(hadoop_runner_class(), hadoop, tmp_path).get_hadoop_version() \
            == '3.5.0'
    assert _calls(log) == ['version']


def test_the_hadoop_runner_puts_the_working_dir_with_one_client(tmp_path, monkeypatch):
    from mrjob.hadoop import HadoopJobRunner
    hadoop, log = _fake_hadoop(tmp_path, monkeypatch)
    ours = _hadoop_runner(hadoop_runner_class(), hadoop, tmp_path)
    ours._upload_local_files()
    calls = _calls(log)
    puts = [c for c in calls if c.startswith('fs -put')]
    assert len(puts) == 1 and len([c for c in calls if c.startswith('fs -mkdir')]) == 1
    wd = puts[0].split()[-1]
    assert wd.endswith('/files/wd')
    assert sorted(puts[0].split()[2:-1]) == sorted(['configs/mrjob.conf', 'jobs/normal.py',
                                                    str(tmp_path / 'extra.txt')])
    log.unlink()
    theirs = _hadoop_runner(HadoopJobRunner, hadoop, tmp_path)
    theirs._upload_local_files()
    # mrjob's own: one client per file, each to WD/NAME (what lands where is the same)
    their_puts = [c for c in _calls(log) if c.startswith('fs -put')]
    assert len(their_puts) == 3
    assert {c.split()[-1].rsplit('/', 1)[1] for c in their_puts} == \
        {'mrjob.conf', 'normal.py', 'extra.txt'}


def test_the_hadoop_runner_reads_the_output_with_one_cat(tmp_path, monkeypatch):
    hadoop, log = _fake_hadoop(tmp_path, monkeypatch)
    runner = _hadoop_runner(hadoop_runner_class(), hadoop, tmp_path)
    runner._output_dir, runner._ran_job = 'hdfs:///tmp/distreg-test/out', True
    assert b''.join(runner.cat_output()) == b'1\t"a"\n2\t"b"\n'
    assert _calls(log) == ['fs -cat hdfs:///tmp/distreg-test/out/part-*']


def _table_rows():
    from helpers import ROOT
    text = (ROOT / 'docs' / 'mrjob.md').read_text()
    return [line for line in text.splitlines()
            if line.startswith('| `') and not line.startswith('| override')]


def test_docs_mrjob_md_has_a_row_for_every_override():
    rows = '\n'.join(_table_rows())
    for ours in (CompatJob, local_runner_class(), hadoop_runner_class()):
        base = [c for c in ours.__mro__ if c.__module__.startswith('mrjob.')][0]
        for name, fn in vars(ours).items():
            if callable(fn) and hasattr(base, name) and (
                    name == '__init__' or not name.startswith('__')):
                assert '`%s' % name in rows, '%s.%s has no row in docs/mrjob.md' % (
                    ours.__name__, name)
    for fn in ('prefer_stdlib_distutils', 'import_runners', 'cache_conf_reads',
               'yarn_application_ids'):
        assert '`%s(' % fn in rows, fn


def test_every_test_the_table_names_exists():
    import re
    from helpers import ROOT
    for row in _table_rows():
        cell = row.rstrip(' |').rsplit(' | ', 1)[1]
        # a cell names tests, each followed (in the same clause) by its file, else this one
        for clause in cell.split(';'):
            files = re.findall(r'\(`(tests/[\w/]+\.py)`\)', clause) or \
                re.findall(r'`(tests/[\w/]+\.py)`', clause) or ['tests/test_mrjob_compat.py']
            names = re.findall(r'`(test_\w+)`', clause)
            assert names or '(all)' in clause, row
            sources = ''.join((ROOT / f).read_text() for f in files)
            for name in names:
                assert 'def %s(' % name in sources, '%s not in %s' % (name, files)


def test_each_concern_of_the_overrides_has_a_module_of_its_own():
    """The imports, the job, the local runner, the Hadoop runner and the archives: each
    defined in one module, and no module defines another's (docs/mrjob.md)."""
    import ast
    from helpers import ROOT
    homes = {'mrjob_imports.py': {'import_runners', 'cache_conf_reads',
                                  'prefer_stdlib_distutils'},
             'mrjob_compat.py': {'CompatJob'},
             'mrjob_local.py': {'local_runner_class', '_TaskProcesses', '_TaskServer'},
             'mrjob_hadoop.py': {'hadoop_runner_class', 'yarn_application_ids'},
             'mrjob_archives.py': {'create_dir_archive', '_tar_gz', '_dir_signature',
                                   'localize_dir_archive'}}
    assert set(homes) == set(mrjob_compat.MODULES)
    defined = {}
    for name in homes:
        tree = ast.parse((ROOT / 'jobs' / name).read_text())
        defined[name] = {n.name for n in tree.body
                         if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    for name, own in homes.items():
        assert own <= defined[name], (name, own - defined[name])
        for other, theirs in homes.items():
            if other != name:
                assert not (theirs & defined[name]), (name, theirs & defined[name])
