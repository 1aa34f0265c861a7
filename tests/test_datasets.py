"""Tests for skrnn.datasets: generator properties, validation and shipped data."""

import socket
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skrnn.datasets import (
    load_airline,
    load_japanese_vowels,
    load_macrodata,
    mackey_glass,
    make_adding_problem,
    make_copy_task,
    make_mackey_glass,
    make_marker_task,
    make_memory_task,
    make_noisy_sine,
)

FAST = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2**32 - 1)

# (generator, keyword arguments, expected shapes of X and y)
GENERATOR_CASES = [
    (make_adding_problem, {"n_samples": 7, "n_timesteps": 9}, [(7, 9, 2), (7,)]),
    (
        make_copy_task,
        {"n_samples": 4, "n_symbols": 3, "sequence_length": 2, "lag": 5},
        [(4, 9, 5), (4, 9)],
    ),
    (
        make_memory_task,
        {"n_samples": 5, "n_timesteps": 12, "lag": 3, "n_features": 2},
        [(5, 12, 2), (5,)],
    ),
    (make_noisy_sine, {"n_samples": 6, "n_timesteps": 11}, [(6, 11, 1), (6,)]),
    (
        make_noisy_sine,
        {"n_samples": 6, "n_timesteps": 11, "horizon": 4},
        [(6, 11, 1), (6, 4)],
    ),
    (
        make_mackey_glass,
        {"n_samples": 8, "n_timesteps": 10, "horizon": 3},
        [(8, 10, 1), (8, 3)],
    ),
    (
        make_marker_task,
        {"n_samples": 6, "n_timesteps": 15, "n_features": 3},
        [(6, 15, 3), (6,)],
    ),
]
GENERATOR_IDS = [f"{case[0].__name__}-{i}" for i, case in enumerate(GENERATOR_CASES)]
INTEGER_TARGETS = {make_copy_task, make_marker_task}


@pytest.mark.parametrize(
    ("make", "kwargs", "shapes"), GENERATOR_CASES, ids=GENERATOR_IDS
)
def test_generator_shapes_and_dtypes(make, kwargs, shapes):
    X, y = make(**kwargs, random_state=0)
    assert [X.shape, y.shape] == shapes
    assert X.dtype == np.float64
    assert y.dtype == (np.int64 if make in INTEGER_TARGETS else np.float64)
    assert np.isfinite(X).all() and np.isfinite(y).all()


@pytest.mark.parametrize(
    ("make", "kwargs", "shapes"), GENERATOR_CASES, ids=GENERATOR_IDS
)
def test_generator_seed_reproducible_and_global_state_untouched(make, kwargs, shapes):
    # Reading the legacy global state is the point: it must not move.
    global_state = np.random.get_state()  # noqa: NPY002
    X1, y1 = make(**kwargs, random_state=3)
    X2, y2 = make(**kwargs, random_state=np.random.RandomState(3))
    X3, _ = make(**kwargs, random_state=4)
    after = np.random.get_state()  # noqa: NPY002
    assert global_state[0] == after[0] and np.array_equal(global_state[1], after[1])
    assert global_state[2:] == after[2:]
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_mackey_glass_seed_reproducible():
    a = mackey_glass(n_points=200, random_state=1)
    np.testing.assert_array_equal(a, mackey_glass(n_points=200, random_state=1))
    assert not np.allclose(a, mackey_glass(n_points=200, random_state=2))


# ---------------------------------------------------------------- adding problem
@FAST
@given(n_samples=st.integers(1, 5), n_timesteps=st.integers(2, 30), seed=seeds)
def test_adding_problem_markers_and_target(n_samples, n_timesteps, seed):
    X, y = make_adding_problem(n_samples, n_timesteps, random_state=seed)
    values, markers = X[:, :, 0], X[:, :, 1]
    half = n_timesteps // 2
    assert set(np.unique(markers)) <= {0.0, 1.0}
    np.testing.assert_array_equal(markers[:, :half].sum(axis=1), 1.0)
    np.testing.assert_array_equal(markers[:, half:].sum(axis=1), 1.0)
    assert ((values >= 0) & (values < 1)).all()
    first = markers[:, :half].argmax(axis=1)
    second = half + markers[:, half:].argmax(axis=1)
    rows = np.arange(n_samples)
    np.testing.assert_allclose(y, values[rows, first] + values[rows, second])


def test_adding_problem_constant_baseline_mse_is_one_sixth():
    _, y = make_adding_problem(n_samples=20000, n_timesteps=10, random_state=0)
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01


# ---------------------------------------------------------------- copy task
@FAST
@given(
    n_symbols=st.integers(1, 6),
    length=st.integers(1, 5),
    lag=st.integers(1, 8),
    seed=seeds,
)
def test_copy_task_target_reproduces_symbols(n_symbols, length, lag, seed):
    X, Y = make_copy_task(3, n_symbols, length, lag, random_state=seed)
    n_timesteps = 2 * length + lag
    blank, delimiter = n_symbols, n_symbols + 1
    assert X.shape == (3, n_timesteps, n_symbols + 2)
    np.testing.assert_array_equal(X.sum(axis=2), 1.0)  # one-hot
    inputs = X.argmax(axis=2)
    assert (inputs[:, :length] < n_symbols).all()
    np.testing.assert_array_equal(inputs[:, length + lag - 1], delimiter)
    others = np.delete(inputs, np.r_[:length, length + lag - 1], axis=1)
    np.testing.assert_array_equal(others, blank)
    np.testing.assert_array_equal(Y[:, -length:], inputs[:, :length])
    np.testing.assert_array_equal(Y[:, :-length], blank)


# ---------------------------------------------------------------- memory task
@FAST
@given(
    n_timesteps=st.integers(1, 20),
    data=st.data(),
    n_features=st.integers(1, 3),
    seed=seeds,
)
def test_memory_task_target_is_lagged_input(n_timesteps, data, n_features, seed):
    lag = data.draw(st.integers(0, n_timesteps - 1))
    X, y = make_memory_task(
        4, n_timesteps, lag, n_features=n_features, random_state=seed
    )
    np.testing.assert_array_equal(y, X[:, n_timesteps - 1 - lag, 0])
    assert ((X >= -1) & (X < 1)).all()


def test_memory_task_noise_has_requested_std():
    X, y = make_memory_task(20000, 10, 4, noise=0.3, random_state=0)
    residual = y - X[:, 10 - 1 - 4, 0]
    assert abs(residual.std() - 0.3) < 0.01


# ---------------------------------------------------------------- noisy sine
@FAST
@given(
    low=st.floats(0.1, 4.9),
    width=st.floats(0.0, 1.0),
    horizon=st.integers(1, 4),
    seed=seeds,
)
def test_noisy_sine_is_a_sine_in_frequency_range(low, width, horizon, seed):
    high = min(low + width, 4.9)
    X, y = make_noisy_sine(
        5,
        12,
        noise=0.0,
        frequency_range=(low, high),
        horizon=horizon,
        random_state=seed,
    )
    s = np.concatenate([X[:, :, 0], y.reshape(5, horizon)], axis=1)
    # A sampled sine obeys s[k+1] + s[k-1] = 2 cos(2 pi f dt) s[k] for all k.
    middle, outer = s[:, 1:-1], s[:, 2:] + s[:, :-2]
    ratio = (middle * outer).sum(axis=1) / (middle**2).sum(axis=1)
    np.testing.assert_allclose(outer, ratio[:, None] * middle, atol=1e-9)
    frequency = np.arccos(ratio / 2) / (2 * np.pi * 0.1)
    assert ((frequency >= low - 1e-6) & (frequency <= high + 1e-6)).all()
    assert np.abs(s).max() <= 1.0


def test_noisy_sine_noise_only_touches_inputs():
    X0, y0 = make_noisy_sine(3000, 20, noise=0.0, random_state=0)
    X1, y1 = make_noisy_sine(3000, 20, noise=0.5, random_state=0)
    np.testing.assert_array_equal(y0, y1)
    assert abs((X1 - X0).std() - 0.5) < 0.01


# ---------------------------------------------------------------- Mackey-Glass
@pytest.mark.parametrize("tau", [17, 17.3, 30])
def test_mackey_glass_solves_the_delay_equation(tau):
    dt = 0.05
    x = mackey_glass(2000, tau=tau, dt=dt, discard=0, random_state=0)
    # Residual of the equation with a central difference, t > tau only (the
    # history is only piecewise linear). The delayed value is interpolated.
    k = np.arange(int(np.ceil(tau / dt)) + 1, len(x) - 1)
    delayed = np.interp((k * dt) - tau, np.arange(len(x)) * dt, x)
    slope = (x[k + 1] - x[k - 1]) / (2 * dt)
    rhs = 0.2 * delayed / (1 + delayed**10) - 0.1 * x[k]
    assert np.abs(slope - rhs).max() < 1e-4


def test_mackey_glass_time_axis_semantics():
    coarse = mackey_glass(100, dt=1.0, discard=20, random_state=5)
    fine = mackey_glass(200, dt=0.5, discard=40, random_state=5)
    np.testing.assert_allclose(fine[::2], coarse, rtol=0, atol=1e-12)
    shifted = mackey_glass(80, dt=1.0, discard=40, random_state=5)
    np.testing.assert_array_equal(shifted, coarse[20:])


def test_mackey_glass_stays_on_the_known_attractor():
    x = mackey_glass(3000, random_state=0)
    assert 0.2 < x.min() < 0.5 and 1.2 < x.max() < 1.4
    assert x.std() > 0.15  # chaotic oscillation, not a fixed point


def test_make_mackey_glass_windows_follow_the_series():
    X, y = make_mackey_glass(30, 10, horizon=3, tau=20, random_state=2)
    series = mackey_glass(30 + 10 + 3 - 1, tau=20, random_state=2)
    for i in range(30):
        np.testing.assert_array_equal(X[i, :, 0], series[i : i + 10])
        np.testing.assert_array_equal(y[i], series[i + 10 : i + 13])


# ---------------------------------------------------------------- marker task
@FAST
@given(
    n_samples=st.integers(1, 12),
    n_timesteps=st.integers(1, 40),
    n_features=st.integers(2, 5),
    marker_prob=st.floats(0.0, 1.0),
    n_distractors=st.integers(0, 6),
    noise=st.floats(0.0, 0.49),
    seed=seeds,
)
def test_marker_task_label_is_channel_zero_spike(
    n_samples, n_timesteps, n_features, marker_prob, n_distractors, noise, seed
):
    X, y = make_marker_task(
        n_samples,
        n_timesteps,
        n_features=n_features,
        marker_prob=marker_prob,
        n_distractors=n_distractors,
        noise=noise,
        random_state=seed,
    )
    spikes = X > 0.5
    np.testing.assert_array_equal(spikes[:, :, 0].sum(axis=1), y)  # one or none
    np.testing.assert_array_equal(X[spikes], 1.0)
    assert (np.abs(X[~spikes]) <= noise).all()
    assert y.sum() == round(marker_prob * n_samples)
    distractors = spikes[:, :, 1:].sum(axis=(1, 2))
    assert (distractors <= n_distractors).all()
    assert ((distractors >= 1) == (n_distractors > 0)).all()


def test_marker_task_default_classes_are_balanced():
    _, y = make_marker_task(n_samples=100, n_timesteps=20, random_state=0)
    np.testing.assert_array_equal(np.bincount(y), [50, 50])


# ---------------------------------------------------------------- validation
BAD_ARGUMENTS = [
    (make_adding_problem, {"n_timesteps": 1}, ValueError, "n_timesteps must be >= 2"),
    (make_adding_problem, {"n_samples": 0}, ValueError, "n_samples must be >= 1"),
    (make_adding_problem, {"n_samples": 2.0}, TypeError, "n_samples must be an int"),
    (make_adding_problem, {"n_samples": True}, TypeError, "n_samples must be an int"),
    (make_copy_task, {"lag": 0}, ValueError, "lag must be >= 1"),
    (make_copy_task, {"n_symbols": 0}, ValueError, "n_symbols must be >= 1"),
    (make_memory_task, {"n_timesteps": 5, "lag": 5}, ValueError, "lag must be at"),
    (make_memory_task, {"noise": -0.1}, ValueError, "noise must be a finite"),
    (make_memory_task, {"noise": "high"}, TypeError, "noise must be a real"),
    (make_noisy_sine, {"frequency_range": (2.0, 1.0)}, ValueError, "0 < low <= high"),
    (make_noisy_sine, {"frequency_range": (0.5, 5.0)}, ValueError, "Nyquist"),
    (make_noisy_sine, {"frequency_range": 1.0}, TypeError, "pair"),
    (make_noisy_sine, {"frequency_range": (0.5, "2")}, TypeError, "real numbers"),
    (make_noisy_sine, {"horizon": 0}, ValueError, "horizon must be >= 1"),
    (mackey_glass, {"tau": 0.0}, ValueError, "tau must be a finite number"),
    (mackey_glass, {"dt": 0.0}, ValueError, r"dt must be .* in \(0.0"),
    (mackey_glass, {"gamma": float("nan")}, ValueError, "gamma must be a finite"),
    (mackey_glass, {"discard": -1}, ValueError, "discard must be >= 0"),
    (make_mackey_glass, {"tau": -1}, ValueError, "tau must be"),
    (make_marker_task, {"n_features": 1}, ValueError, "needs n_features >= 2"),
    (make_marker_task, {"noise": 0.5}, ValueError, "noise must be"),
    (make_marker_task, {"marker_prob": 1.5}, ValueError, "marker_prob must be"),
]


@pytest.mark.parametrize(("func", "kwargs", "error", "match"), BAD_ARGUMENTS)
def test_bad_arguments_raise_clear_errors(func, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        func(**kwargs)
    assert "Pass" in str(info.value)  # every message says what to do instead


def test_marker_task_single_feature_without_distractors_is_valid():
    X, y = make_marker_task(4, 10, n_features=1, n_distractors=0, random_state=0)
    np.testing.assert_array_equal((X[:, :, 0] > 0.5).any(axis=1), y)


# ---------------------------------------------------------------- shipped data
def _data_dir():
    return resources.files("skrnn.datasets").joinpath("data")


def test_data_files_are_package_resources_and_documented():
    names = {entry.name for entry in _data_dir().iterdir()}
    shipped = {"airline.csv", "macrodata.csv", "japanese_vowels.npz"}
    assert shipped <= names
    readme = _data_dir().joinpath("README.md").read_text(encoding="utf-8")
    for name in shipped:
        assert f"`{name}`" in readme


@pytest.mark.parametrize("load", [load_airline, load_macrodata, load_japanese_vowels])
def test_loaders_work_offline_and_describe_licence(load, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a loader tried to open a network connection")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    bunch = load()
    assert "**Licence**" in bunch.DESCR and "**Source**" in bunch.DESCR
    X, y = load(return_X_y=True)
    assert len(X) == len(y) == len(bunch.data)


def _check_windows(bunch, n_timesteps, horizon):
    series = np.asarray(bunch.series, dtype=float).reshape(len(bunch.time), -1)
    n_windows = len(series) - n_timesteps - horizon + 1
    assert bunch.data.shape == (n_windows, n_timesteps, series.shape[1])
    assert bunch.data.dtype == np.float64 and bunch.target.dtype == np.float64
    for i in (0, n_windows // 2, n_windows - 1):
        np.testing.assert_array_equal(bunch.data[i], series[i : i + n_timesteps])
        expected = series[i + n_timesteps : i + n_timesteps + horizon]
        np.testing.assert_array_equal(bunch.target[i], np.squeeze(expected))
        assert bunch.target_time[i] == bunch.time[i + n_timesteps]


def test_load_airline_series_and_windows():
    airline = load_airline()
    assert airline.series.shape == (144,) and airline.series.dtype == np.float64
    # Values as published in Box & Jenkins' Series G.
    assert airline.series[0] == 112 and airline.series[-1] == 432
    assert airline.series.min() == 104 and airline.series.max() == 622
    months = airline.time.astype(int)
    np.testing.assert_array_equal(np.diff(months), 1)
    assert str(airline.time[0]) == "1949-01" and str(airline.time[-1]) == "1960-12"
    assert airline.feature_names == ["passengers"]
    assert airline.frame is None
    _check_windows(airline, 12, 1)
    _check_windows(load_airline(n_timesteps=30, horizon=6), 30, 6)
    X, y = load_airline(n_timesteps=24, horizon=12, return_X_y=True)
    assert X.shape == (109, 24, 1) and y.shape == (109, 12)


def test_load_airline_as_frame():
    airline = load_airline(as_frame=True)
    assert isinstance(airline.series, pd.Series)
    assert isinstance(airline.frame.index, pd.PeriodIndex)
    assert str(airline.frame.index[0]) == "1949-01"
    np.testing.assert_array_equal(airline.series.to_numpy(), load_airline().series)


def test_load_macrodata_series_and_windows():
    macro = load_macrodata()
    assert macro.series.shape == (203, 10) and np.isfinite(macro.series).all()
    assert (macro.series[:, [0, 1, 5, 9]] > 0).all()  # GDP, consumption, CPI, pop
    quarters = macro.time.astype(int)
    np.testing.assert_array_equal(np.diff(quarters), 3)
    assert str(macro.time[0]) == "1959-01" and str(macro.time[-1]) == "2009-07"
    assert len(macro.feature_names) == 10 and macro.feature_names[0] == "realgdp"
    _check_windows(macro, 8, 1)
    _check_windows(load_macrodata(n_timesteps=4, horizon=3), 4, 3)
    assert load_macrodata(horizon=3).target.shape == (193, 3, 10)


def test_load_macrodata_as_frame():
    macro = load_macrodata(as_frame=True)
    assert isinstance(macro.series, pd.DataFrame) and macro.series.shape == (203, 10)
    assert str(macro.frame.index[0]) == "1959Q1"
    assert list(macro.frame.columns) == macro.feature_names


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_timesteps": 144}, ValueError, "at most the series length 144"),
        ({"n_timesteps": 0}, ValueError, "n_timesteps must be >= 1"),
        ({"horizon": 1.5}, TypeError, "horizon must be an integer"),
        ({"return_X_y": "yes"}, TypeError, "return_X_y must be True or False"),
        ({"as_frame": 1}, TypeError, "as_frame must be True or False"),
    ],
)
def test_load_airline_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_airline(**kwargs)


def test_load_japanese_vowels():
    vowels = load_japanese_vowels()
    assert len(vowels.data) == 640 and vowels.target.shape == (640,)
    lengths = np.array([len(seq) for seq in vowels.data])
    np.testing.assert_array_equal(lengths, vowels.lengths)
    assert lengths.min() == 7 and lengths.max() == 29 and lengths.sum() == 9961
    for seq in vowels.data:
        assert seq.ndim == 2 and seq.shape[1] == 12 and seq.dtype == np.float64
        assert np.isfinite(seq).all()
    assert vowels.target.dtype == np.int64
    train, test = vowels.train_indices, vowels.test_indices
    np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(640))
    counts_train = np.bincount(vowels.target[train], minlength=10)[1:]
    counts_test = np.bincount(vowels.target[test], minlength=10)[1:]
    np.testing.assert_array_equal(counts_train, [30] * 9)
    np.testing.assert_array_equal(counts_test, [31, 35, 88, 44, 29, 24, 40, 50, 29])
    # First frame of UCI ae.train, six decimals restored exactly.
    first = [1.860936, -0.207383, 0.261557, -0.214562, -0.171253, -0.118167]
    assert vowels.data[0][0, :6].tolist() == first
    assert len(vowels.feature_names) == 12


def test_load_japanese_vowels_return_X_y_and_fresh_arrays():
    X, y = load_japanese_vowels(return_X_y=True)
    X[0][:] = 0.0
    y[:] = 0
    again = load_japanese_vowels()
    assert again.data[0][0, 0] == 1.860936 and again.target[0] == 1
    with pytest.raises(TypeError, match="return_X_y must be True or False"):
        load_japanese_vowels(return_X_y=None)
