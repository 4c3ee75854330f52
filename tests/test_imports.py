"""The packages' import graph: no cycle, and the core never imports an engine's library."""

import ast
import os

from tests.helpers import ROOT

PACKAGES = ('distreg', 'jobs', 'spark_jobs', 'hdfs_utils')


def _module_imports():
    """{module: set of project modules it imports (anywhere in the file)}."""
    raw = {}
    for package in PACKAGES:
        for name in os.listdir(ROOT / package):
            if not name.endswith('.py'):
                continue
            module = package if name == '__init__.py' else '%s.%s' % (package, name[:-3])
            tree = ast.parse((ROOT / package / name).read_text())
            found = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    found.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    # `from pkg import mod` imports pkg.mod; `from mod import name` imports mod
                    found.update('%s.%s' % (node.module, a.name) for a in node.names)
                    found.add(node.module)
            raw[module] = found
    graph = {}
    for m, found in raw.items():
        # a package named only because a submodule of it is imported is not an edge
        edges = {i for i in found if i in raw and i != m}
        graph[m] = {i for i in edges
                    if not (i in PACKAGES and any(e.startswith(i + '.') for e in edges))}
    return graph


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state = {}

    def visit(m, path):
        state[m] = 'open'
        for n in sorted(graph[m]):
            if state.get(n) == 'open':
                return path[path.index(n):] + [n]
            if n not in state:
                found = visit(n, path + [n])
                if found:
                    return found
        state[m] = 'done'
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m, [m])
            if found:
                return found
    return None


def test_import_graph_has_no_cycle():
    graph = _module_imports()
    assert 'distreg.fit' in graph and 'distreg.optim' in graph['distreg.fit']
    assert _cycle(graph) is None, ' -> '.join(_cycle(graph))


def test_the_cycle_finder_finds_one():
    assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert _cycle({'a': {'b'}, 'b': set()}) is None


def test_core_imports_no_engine_library():
    for package in ('distreg',):
        for name in os.listdir(ROOT / package):
            if name.endswith('.py'):
                tree = ast.parse((ROOT / package / name).read_text())
                for node in ast.walk(tree):
                    names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                             else [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
                    for n in names:
                        assert n.split('.')[0] not in ('pyspark', 'mrjob'), (name, n)
