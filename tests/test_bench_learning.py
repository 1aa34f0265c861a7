"""The windows and baselines of benchmarks/bench_learning.py line up with time."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

import _baselines  # noqa: E402
import _panel  # noqa: E402


def _task(kind, n_points=60, n_test=12, window=5, m=4, n_features=1):
    """A series task on 0, 1, 2, ... so every window's content names its time."""
    t = np.arange(n_points, dtype=np.float64)
    series = np.column_stack([t + 1000 * f for f in range(n_features)])
    return _panel._series_task("t", kind, "test", series, n_test, window, m, "test")


def test_one_step_windows_end_right_before_each_test_point():
    task = _task("one_step")
    X, y = _panel.one_step_test_windows(task)
    assert len(y) == 12
    np.testing.assert_allclose(_panel.unscale(task, y), np.arange(48, 60), atol=1e-4)
    np.testing.assert_allclose(
        _panel.unscale(task, X[:, -1, 0]), np.arange(47, 59), atol=1e-4
    )
    Xtr, ytr = _panel.train_windows(task)
    # no training target reaches into the test part
    assert _panel.unscale(task, ytr).max() == pytest.approx(47, abs=1e-4)


def test_per_step_targets_are_the_next_value_of_every_step():
    task = _task("per_step", n_features=2)
    Xtr, Ytr, Xte, Yte = _panel.per_step_windows(task)
    now_tr, now_te = (_panel.unscale(task, X[:, :, 0]) for X in (Xtr, Xte))
    np.testing.assert_allclose(_panel.unscale(task, Ytr), now_tr + 1, atol=1e-4)
    np.testing.assert_allclose(_panel.unscale(task, Yte), now_te + 1, atol=1e-4)
    # the last training target is the last training point; tests start after it
    assert _panel.unscale(task, Ytr).max() == pytest.approx(47, abs=1e-4)
    assert now_te.min() == pytest.approx(48, abs=1e-4)


def test_per_step_persistence_is_off_by_exactly_one():
    task = _task("per_step")
    out = _baselines.per_step_baselines(task, seed=0)
    assert out["persistence"] == pytest.approx(1.0)
    # a straight line: ridge on lags predicts t + 1 almost exactly
    assert out["ridge lags"] < 0.05


def test_multi_step_baselines_on_a_seasonal_series():
    t = np.arange(72, dtype=np.float64)
    season = np.tile([0.0, 5.0, -3.0, 1.0], 18)
    task = _panel._series_task("s", "forecast", "test", season, 12, 8, 4, "test")
    out = _baselines.multi_step_baselines(task, seed=0)
    assert out["seasonal naive"] == pytest.approx(0.0, abs=1e-5)
    assert out["AR ridge"] < 0.05
    trend = _panel._series_task("s", "one_step", "test", t, 12, 8, 4, "test")
    out = _baselines.one_step_baselines(trend, seed=0)
    assert out["naive"] == pytest.approx(1.0)
    assert out["seasonal naive"] == pytest.approx(4.0)


def test_floor_is_the_training_mean():
    task = _task("one_step")
    truth = np.arange(48, 60)
    expected = np.sqrt(np.mean((truth - np.arange(48).mean()) ** 2))
    assert _baselines.floor(task) == pytest.approx(expected)


def test_flatten_resamples_variable_length_sequences():
    seqs = [np.array([[0.0], [2.0]]), np.array([[0.0], [1.0], [2.0]])]
    out = _baselines.flatten(seqs, length=3)
    np.testing.assert_allclose(out, [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]], atol=1e-4)
    S = _baselines.summaries(seqs)
    np.testing.assert_allclose(S[0], [1.0, 1.0, 0.0, 2.0], atol=1e-4)
