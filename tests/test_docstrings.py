"""Every docstring example in skrnn runs, and every public object has one."""

import doctest
import importlib
import inspect
import pkgutil
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

import skrnn
import skrnn.datasets
import skrnn.persistence
import skrnn.preprocessing

MODULES = ["skrnn"] + [
    info.name for info in pkgutil.walk_packages(skrnn.__path__, prefix="skrnn.")
]
PUBLIC = [
    (package.__name__, name)
    for package in (skrnn, skrnn.preprocessing, skrnn.datasets, skrnn.persistence)
    for name in package.__all__
    if inspect.isclass(getattr(package, name))
    or inspect.isfunction(getattr(package, name))
]


@pytest.mark.parametrize("module_name", MODULES)
def test_doctests_pass(module_name):
    if module_name.startswith("skrnn.onnx"):
        pytest.importorskip("skl2onnx", reason="skrnn.onnx needs the onnx extra")
    module = importlib.import_module(module_name)
    with warnings.catch_warnings():
        # the examples cap max_iter to stay fast
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"


@pytest.mark.parametrize("package, name", PUBLIC)
def test_public_object_has_a_doctest_example(package, name):
    obj = getattr(importlib.import_module(package), name)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name)
    assert any(test.examples for test in tests), (
        f"{package}.{name} has no doctest example in its docstring; add an "
        "'Examples' section."
    )


def test_every_module_is_collected():
    assert {"skrnn._regressor", "skrnn.datasets._real", "skrnn.persistence"} <= set(
        MODULES
    )
    assert len(PUBLIC) >= 15
