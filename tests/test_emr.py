"""EMR is checked by configuration, not by a run: there is no AWS here.

The tests build mrjob's real EMR runner from configs/mrjob.conf, exactly as
`distreg fit --engine mrjob-emr` does, and check the cluster it would create and
the streaming step it would submit. Nothing is sent anywhere.
"""

import re
import shlex

import pytest

from helpers import ROOT
from distreg.loader import sniff_schema
from jobs.engine import runner_args
from jobs.normal import MRNormalEquations

INPUT = 's3://distreg-example/data.csv'


@pytest.fixture
def emr_runner():
    schema = sniff_schema('y,x1,x2').to_json()
    job = MRNormalEquations(
        ['-r', 'emr', '--conf-path', str(ROOT / 'configs' / 'mrjob.conf')]
        + runner_args('mrjob-emr', {'AWS_DEFAULT_REGION': 'eu-west-1',
                                    'DISTREG_S3_TMP': 's3://distreg-example/tmp/'})
        + ['--schema', schema, INPUT])
    runner = job.make_runner()
    # what EMRJobRunner._launch does before it talks to AWS: write the wrapper and
    # bootstrap scripts and name every file's S3 destination (no upload happens)
    runner._create_setup_wrapper_scripts()
    runner._add_bootstrap_files_for_upload()
    runner._add_job_files_for_upload()
    yield runner
    runner.cleanup()


def test_cluster_is_what_the_config_says(emr_runner):
    cluster = emr_runner._cluster_kwargs()
    assert emr_runner._opts['region'] == 'eu-west-1'
    assert cluster['ReleaseLabel'] == 'emr-7.5.0'
    groups = {g['InstanceRole']: g for g in cluster['Instances']['InstanceGroups']}
    assert groups['MASTER']['InstanceType'] == 'm5.xlarge'
    assert (groups['CORE']['InstanceType'], groups['CORE']['InstanceCount']) == ('m5.xlarge', 2)
    assert (cluster['JobFlowRole'], cluster['ServiceRole']) == ('EMR_EC2_DefaultRole',
                                                                'EMR_DefaultRole')
    assert cluster['LogUri'].startswith('s3://distreg-example/tmp/')
    (action,) = cluster['BootstrapActions']
    assert action['ScriptBootstrapAction']['Path'].startswith('s3://distreg-example/tmp/')


def test_bootstrap_installs_the_pinned_requirements(emr_runner):
    with open(emr_runner._master_bootstrap_script_path) as f:
        script = f.read()
    pins = dict(re.findall(r'^([A-Za-z0-9_.-]+)==(\S+)', (ROOT / 'requirements.txt').read_text(),
                           re.M))
    install = next(l for l in script.splitlines() if 'pip install' in l)
    wanted = dict(item.split('==') for item in shlex.split(install) if '==' in item)
    assert {'numpy', 'pyarrow', 'mrjob'} <= set(wanted)
    for name, version in wanted.items():
        assert pins[name] == version, '%s: bootstrap %s, requirements %s' % (
            name, version, pins[name])
    assert 'python3.11' in script


def test_streaming_step_ships_the_core_and_runs_python311(emr_runner):
    # the cluster's description is the one thing that needs AWS: give the runner
    # what EMR reports for release 7.5.0 (Hadoop 3.4.0) so it can build its step
    emr_runner._cluster_id = 'j-EXAMPLE'
    emr_runner._cluster_to_cache['j-EXAMPLE'] = dict(
        image_version='7.5.0', app_versions={'hadoop': '3.4.0'},
        collection_type='INSTANCE_GROUP')
    step = emr_runner._build_step(0)['HadoopJarStep']
    args = step['Args']
    assert step['Jar'] == 'command-runner.jar' and args[0] == 'hadoop-streaming'
    opt = {args[i]: args[i + 1] for i in range(1, len(args) - 1) if args[i].startswith('-')}
    assert opt['-input'] == INPUT
    assert '#distreg' in opt['-archives'] and '#jobs' in opt['-archives']
    assert opt['-mapper'].startswith('python3.11 normal.py --step-num=0 --mapper')
    assert '--schema' in opt['-mapper'] and '--engine-label mrjob-emr' in opt['-mapper']
    assert opt['-reducer'].startswith('python3.11 normal.py --step-num=0 --reducer')
    assert 'mapreduce.job.reduces=1' in args


def test_distreg_engine_takes_region_and_tmp_dir_from_the_environment(monkeypatch):
    monkeypatch.setenv('AWS_DEFAULT_REGION', 'ap-south-1')
    monkeypatch.setenv('DISTREG_S3_TMP', 's3://bucket/tmp/')
    assert runner_args('mrjob-emr') == ['--region', 'ap-south-1', '--cloud-tmp-dir',
                                        's3://bucket/tmp/']
    assert runner_args('mrjob-local') == []


def _emr_step(runner):
    runner._create_setup_wrapper_scripts()
    runner._add_bootstrap_files_for_upload()
    runner._add_job_files_for_upload()
    runner._add_input_files_for_upload()
    runner._cluster_id = 'j-EXAMPLE'
    runner._cluster_to_cache['j-EXAMPLE'] = dict(
        image_version='7.5.0', app_versions={'hadoop': '3.4.0'},
        collection_type='INSTANCE_GROUP')
    args = runner._build_step(0)['HadoopJarStep']['Args']
    return {args[i]: args[i + 1] for i in range(1, len(args) - 1) if args[i].startswith('-')}


def test_parquet_by_uri_is_listed_through_pyarrow_fs_and_its_manifest_is_the_step_input(
        tmp_path, monkeypatch):
    """mrjob-emr on a Parquet URI: the listing, the footers and the tasks' row groups go
    through pyarrow.fs. Without AWS its S3FileSystem cannot be reached: the same code runs
    here on a ``file://`` URI (pyarrow's LocalFileSystem), a partitioned directory; the EMR
    step is built (not submitted) and the tasks' code reads the manifest's row groups."""
    import json
    import numpy as np
    from distreg import blocks, parquet
    from distreg.fit import FitOptions
    from jobs.engine import MRJobEngine
    monkeypatch.setenv('AWS_DEFAULT_REGION', 'eu-west-1')
    monkeypatch.setenv('DISTREG_S3_TMP', 's3://distreg-example/tmp/')
    rng = np.random.default_rng(4)
    rows = {}
    for k in (1, 2):
        (tmp_path / 'd' / ('k=%d' % k)).mkdir(parents=True)
        X = rng.standard_normal((300, 2))
        y = 1 + X @ [2.0, -1.0] + 0.5 * k + rng.standard_normal(300) * 0.1
        parquet.write_table(str(tmp_path / 'd' / ('k=%d' % k) / 'part-0.parquet'),
                            {'y': y, 'x1': X[:, 0], 'x2': X[:, 1]}, row_group_rows=100)
        rows[k] = (y, X)
    (tmp_path / 'd' / '_SUCCESS').write_text('')
    uri = 'file://' + str(tmp_path / 'd')
    engine = MRJobEngine(uri, 'mrjob-emr', conf_path=str(ROOT / 'configs' / 'mrjob.conf'))
    try:
        schema = engine.prepare(FitOptions(method='normal', format='parquet'))
        assert schema.format == 'parquet' and schema.names == ('y', 'x1', 'x2', 'k')
        with open(engine.job_input) as f:
            entries = [json.loads(line) for line in f]
        assert [(e['file'].split('/d/')[1], e['row_group'], e['part']) for e in entries] == [
            ('k=%d/part-0.parquet' % k, g, {'k': str(k)}) for k in (1, 2) for g in range(3)]
        assert all(e['fs'] == 'file' and e['region'] == 'eu-west-1' for e in entries)
        # the tasks' reading: every row group through pyarrow.fs, the rows of the files
        got = [parquet.read_row_group(e, schema) for e in entries]
        X = np.vstack([p.X for p in got])
        want = np.vstack([np.column_stack([rows[k][1], np.full(300, k)]) for k in (1, 2)])
        assert np.array_equal(X, want)
        assert np.array_equal(np.concatenate([p.y for p in got]),
                              np.concatenate([rows[k][0] for k in (1, 2)]))
        # the EMR step that would run: its input is the manifest, uploaded to the S3 tmp dir
        job = MRNormalEquations(engine.args)
        with job.make_runner() as runner:
            opt = _emr_step(runner)
        assert opt['-input'].startswith('s3://distreg-example/tmp/')
        assert opt['-input'].endswith('row-groups.jsonl')
        assert 'parquet' in opt['-mapper']
        # and the job's own tasks on that manifest (mrjob's inline runner here): all 600 rows
        a = engine.args
        inline = ['-r', 'inline', '--emit', 'partial', '--no-conf',
                  '--fit-options', a[a.index('--fit-options') + 1],
                  '--schema', a[a.index('--schema') + 1], engine.job_input]
        job = MRNormalEquations(inline)
        with job.make_runner() as runner:
            runner.run()
            (value,) = [v for _, v in job.parse_output(runner.cat_output())]
            assert runner.counters()[0]['distreg']['row groups read'] == 6
        assert blocks.decode(value['partial'])['n'] == 600
    finally:
        engine.close()


def test_parquet_by_uri_reads_weights_clusters_offsets_and_categories(tmp_path, monkeypatch):
    """The URI (EMR) schema takes the options a local or HDFS Parquet input takes (it used to
    take only the label and features: a weight, a cluster or an offset column was not read,
    and --categorical on a numeric column was not applied)."""
    import numpy as np
    from distreg import parquet
    from distreg.fit import FitOptions
    from jobs.engine import MRJobEngine
    monkeypatch.setenv('AWS_DEFAULT_REGION', 'eu-west-1')
    monkeypatch.setenv('DISTREG_S3_TMP', 's3://distreg-example/tmp/')
    rng = np.random.default_rng(5)
    (tmp_path / 'd').mkdir()
    parquet.write_table(str(tmp_path / 'd' / 'part-0.parquet'),
                        {'y': rng.poisson(2.0, 200).astype(float), 'x1': rng.normal(size=200),
                         'grade': rng.integers(1, 4, 200).astype(float),
                         'w': rng.integers(1, 3, 200).astype(float),
                         'firm': rng.integers(0, 9, 200).astype(float),
                         'lexp': rng.normal(size=200) * 0.1})
    uri = 'file://' + str(tmp_path / 'd')
    for options, check in (
            (dict(weight_col='w', cov='cluster:firm'),
             lambda s: s.names[s.weight] == 'w' and s.names[s.cluster] == 'firm'),
            (dict(model='poisson', method='newton', offset_col='lexp', categorical='grade'),
             lambda s: s.names[s.offset] == 'lexp'
             and [s.names[j] for j in s.categorical] == ['grade'])):
        engine = MRJobEngine(uri, 'mrjob-emr', conf_path=str(ROOT / 'configs' / 'mrjob.conf'))
        try:
            options.setdefault('method', 'normal')
            schema = engine.prepare(FitOptions(format='parquet', **options).validate())
            assert check(schema), (options, schema)
        finally:
            engine.close()


def test_a_local_parquet_file_is_refused_with_what_to_do(tmp_path):
    from distreg import parquet
    from distreg.errors import DistregError
    from distreg.fit import FitOptions
    from jobs.engine import MRJobEngine
    import numpy as np
    path = str(tmp_path / 'a.parquet')
    parquet.write_table(path, {'y': np.arange(5.0), 'x': np.arange(5.0) ** 2})
    engine = MRJobEngine(path, 'mrjob-emr', conf_path=str(ROOT / 'configs' / 'mrjob.conf'))
    with pytest.raises(DistregError, match='reads Parquet from s3://.*copy .* to S3'):
        engine.prepare(FitOptions(method='normal'))
