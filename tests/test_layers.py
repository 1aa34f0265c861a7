"""The layer cake of doc/architecture.rst: imports point down, and never in a cycle."""

import ast
import sys
from pathlib import Path

import pytest

import skrnn

PACKAGE = Path(skrnn.__file__).parent

#: What the network layer and everything below it may import besides the
#: standard library: NumPy, SciPy, threadpoolctl (BLAS threads) and numba (the
#: compiled kernels), never scikit-learn or an estimator.
NETWORK_LAYER = ("skrnn._network", "skrnn._encoder_decoder")
ALLOWED_BELOW = {"numpy", "scipy", "threadpoolctl", "numba"}
#: Modules of the layers above the network (estimators, data boundary, training).
ABOVE = ("_base", "_regressor", "_classifier", "_seq2seq", "_data", "_training")


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, modules):
    """Names of the modules ``path`` imports (skrnn's resolved, others top-level)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return found


def _graph():
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, paths) for name, path in paths.items()}


GRAPH = _graph()


def _below(name, seen=None):
    """``name`` and every skrnn module it imports, directly or not."""
    seen = set() if seen is None else seen
    seen.add(name)
    for dep in GRAPH[name]:
        if dep in GRAPH and dep not in seen:
            _below(dep, seen)
    return seen


@pytest.mark.parametrize("top", NETWORK_LAYER)
def test_the_network_layer_and_below_import_no_scikit_learn(top):
    below = _below(top)
    outside = {
        dep.split(".")[0]
        for name in below
        for dep in GRAPH[name]
        if not dep.startswith("skrnn")
    }
    foreign = outside - ALLOWED_BELOW - set(sys.stdlib_module_names)
    assert not foreign, f"{top} and the modules below it import {sorted(foreign)}"
    upward = sorted(m for m in below if m.rsplit(".", 1)[-1] in ABOVE)
    assert not upward, f"{top} reaches up into {upward}"


def test_no_import_cycles():
    done, path = set(), []

    def visit(name):
        path.append(name)
        for dep in sorted(GRAPH[name]):
            if dep in path:
                cycle = path[path.index(dep) :] + [dep]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if dep in GRAPH and dep not in done:
                visit(dep)
        path.pop()
        done.add(name)

    for name in sorted(GRAPH):
        if name not in done:
            visit(name)
    assert "skrnn._wavenet" in done and len(done) > 40
