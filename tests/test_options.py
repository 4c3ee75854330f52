"""distreg/options.py: one spec from which argparse, FitOptions and the jobs' options come."""

import argparse
import dataclasses

from distreg import fit, options
from distreg.cli import fit_options
from distreg.options import JOB_OPTIONS, OPTIONS
from jobs.normal import MRNormalEquations


def test_method_names_are_the_method_table():
    assert tuple(fit.METHODS) == options.METHOD_NAMES


def test_fit_options_has_one_field_per_option_with_its_default():
    fields = dataclasses.fields(fit.FitOptions)
    assert [f.name for f in fields] == [o.name for o in OPTIONS]
    assert [f.default for f in fields] == [o.default for o in OPTIONS]


def test_the_command_line_gives_the_spec_defaults():
    p = argparse.ArgumentParser()
    options.add_arguments(p)
    assert fit.FitOptions(**options.values(p.parse_args([]))) == fit.FitOptions()
    args = p.parse_args(['--no-intercept', '--ridge', '0.1', '--label-col', 'y',
                         '--method', 'qr', '--max-iter', '3'])
    got = fit_options(args)
    assert (got.intercept, got.ridge, got.label_col, got.method, got.max_iter) == (
        False, 0.1, 'y', 'qr', 3)


def test_jobs_get_the_same_options_as_switches_or_as_one_json_argument():
    want = fit.FitOptions(model='logistic', intercept=False, ridge=0.1 + 0.2, poly_degree=2,
                          label_col='y', format='csv', bad_rows='skip')
    by_json = MRNormalEquations(['--fit-options', options.to_json(want)]).job_fit_options()
    by_switches = MRNormalEquations(
        ['--model', 'logistic', '--no-intercept', '--ridge', repr(0.1 + 0.2), '--poly-degree',
         '2', '--label-col', 'y', '--format', 'csv', '--bad-rows', 'skip']).job_fit_options()
    for o in JOB_OPTIONS:
        assert getattr(by_json, o.name) == getattr(by_switches, o.name) == getattr(want, o.name)
