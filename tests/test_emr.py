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
