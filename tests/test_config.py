"""Tests of skrnn._config: set_config, get_config, config_context and its checks."""

import importlib.util

import pytest

import skrnn
from skrnn import _config, _fast
from skrnn._cells import CELLS


def test_config_context_sets_and_restores_even_on_error():
    before = skrnn.get_config()
    with skrnn.config_context(fast_path=False):
        assert skrnn.get_config()["fast_path"] is False
        with pytest.raises(RuntimeError):
            with skrnn.config_context(fast_path="auto"):
                assert skrnn.get_config()["fast_path"] == "auto"
                raise RuntimeError("inside")
        assert skrnn.get_config()["fast_path"] is False
    assert skrnn.get_config() == before


def test_set_config_changes_the_value_and_none_keeps_it():
    before = skrnn.get_config()["fast_path"]
    try:
        skrnn.set_config(fast_path=False)
        skrnn.set_config()
        assert skrnn.get_config() == {"fast_path": False}
        skrnn.set_config(fast_path="auto")
        # get_config returns a copy
        skrnn.get_config()["fast_path"] = False
        assert skrnn.get_config()["fast_path"] == "auto"
    finally:
        skrnn.set_config(fast_path=before)


@pytest.mark.parametrize("bad", ["yes", 1, 0, "AUTO", [True]])
def test_fast_path_rejects_other_values_before_changing_anything(bad):
    before = skrnn.get_config()
    with pytest.raises(ValueError, match="fast_path must be 'auto', True or False"):
        skrnn.set_config(fast_path=bad)
    assert skrnn.get_config() == before


def test_fast_path_true_without_numba_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "numba" else real(name, *a),
    )
    before = skrnn.get_config()
    with pytest.raises(ImportError, match=r"pip install skrnn\[fast\]"):
        skrnn.set_config(fast_path=True)
    assert skrnn.get_config() == before
    # set before numba went missing: the scan raises the same when it runs
    monkeypatch.setattr(_fast, "_NUMBA", False)
    monkeypatch.setitem(_config._CONFIG, "fast_path", True)
    with pytest.raises(ImportError, match=r"pip install skrnn\[fast\]"):
        _fast.kernels_for(CELLS["lstm"](), "float64")
    # "auto" without numba: the NumPy scan
    monkeypatch.setitem(_config._CONFIG, "fast_path", "auto")
    assert _fast.kernels_for(CELLS["lstm"](), "float64") is None


@pytest.mark.parametrize(
    "raw, value", [("auto", "auto"), ("1", True), ("TRUE", True), (" 0 ", False)]
)
def test_environment_variable_gives_the_starting_value(monkeypatch, raw, value):
    monkeypatch.setenv("SKRNN_FAST_PATH", raw)
    assert _config._from_env() == value


def test_environment_variable_with_another_value_says_what_to_set(monkeypatch):
    monkeypatch.setenv("SKRNN_FAST_PATH", "fast")
    with pytest.raises(ValueError, match="set it to 'auto', '1'"):
        _config._from_env()
