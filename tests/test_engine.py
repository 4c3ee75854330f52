"""The engine contract (distreg/engine.py): one table, one constructor, close() everywhere."""

import inspect
import subprocess
import sys
import tomllib

from helpers import ROOT
from distreg.engine import ENGINES, Engine, engine_class, make_engine


def test_every_engine_is_an_engine_built_the_same_way(tmp_path):
    for name in ENGINES:
        cls = engine_class(name)
        assert issubclass(cls, Engine), name
        params = list(inspect.signature(cls).parameters.values())
        assert [p.name for p in params[:3]] == ['path', 'name', 'master'], name
        assert all(p.kind == p.KEYWORD_ONLY for p in params[3:]), name
        engine = make_engine(name, str(tmp_path / 'd.csv'))
        assert engine.name == name
        engine.close()  # nothing started: a no-op, and always there


def test_every_extra_named_is_declared():
    extras = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project'][
        'optional-dependencies']
    for name, (_, _, extra) in ENGINES.items():
        assert extra is None or extra in extras, name
    assert set(extras) >= {'mrjob', 'spark', 'all'}


def test_a_missing_library_names_the_extra_to_install():
    # a fresh interpreter in which `import pyspark` fails, as where it is not installed
    code = ("import sys; sys.modules['pyspark'] = None\n"
            "from distreg.engine import engine_class\n"
            "try:\n    engine_class('spark-rdd')\nexcept Exception as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.startswith('engine spark-rdd is not available: ')
    assert "pip install 'distreg[spark]'" in out
