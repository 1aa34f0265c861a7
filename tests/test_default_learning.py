"""The defaults learn: one small task per problem shape, every setting at its default.

Each task is generated so its answer is known and a simple rule solves it; the
thresholds sit well above what the defaults of the first release reached
(full-batch updates below 200 samples, a stop after 10 flat epochs, the head on
the last state only), which scored near chance or near the mean here.
"""

import numpy as np
import pytest

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn.datasets import make_marker_task
from skrnn.preprocessing import make_windows

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _bumps(n, seed, lengths=(200, 200)):
    """Noisy series with one bump early on: near 10% (class 0) or 30% (class 1)
    of the series, so a model that reads the last state must carry it ~150 steps.
    Returns the series (a list when their lengths vary), labels and positions."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    T = rng.randint(lengths[0], lengths[1] + 1, n)
    where = np.where(y == 0, 0.1, 0.3) + rng.uniform(-0.04, 0.04, n)
    X = []
    for length, w in zip(T, where, strict=True):
        t = np.arange(length)
        bump = np.exp(-0.5 * ((t - w * length) / (length / 40)) ** 2)
        X.append((bump + 0.3 * rng.normal(size=length))[:, None])
    if lengths[0] == lengths[1]:
        X = np.stack(X)
    return X, y, where


def test_long_series_classification_on_small_data():
    X, y, _ = _bumps(60, seed=0)
    X_test, y_test, _ = _bumps(200, seed=1)
    clf = RNNClassifier(cell="gru", random_state=0).fit(X, y)
    # the first release's defaults: 0.505
    assert clf.score(X_test, y_test) > 0.9


def test_variable_length_classification():
    X, y, _ = _bumps(60, seed=0, lengths=(120, 240))
    X_test, y_test, _ = _bumps(200, seed=1, lengths=(120, 240))
    clf = RNNClassifier(cell="lstm", random_state=0).fit(X, y)
    assert clf.score(X_test, y_test) > 0.9


def test_sequence_regression_of_where_an_event_happened():
    X, _, where = _bumps(80, seed=0)
    X_test, _, where_test = _bumps(200, seed=1)
    reg = RNNRegressor(cell="gru", random_state=0).fit(X, where)
    assert reg.score(X_test, where_test) > 0.8


def test_one_step_forecast_then_forecast():
    t = np.arange(220)
    series = np.sin(2 * np.pi * t / 25) + 0.5 * np.sin(2 * np.pi * t / 9)
    X, y = make_windows(series[:200], window=24)
    reg = RNNRegressor(cell="gru", random_state=0).fit(X, y)
    future = reg.forecast(series[None, 176:200], n_steps=20)[0]
    rmse = np.sqrt(np.mean((future - series[200:220]) ** 2))
    # predicting the series mean gives ~0.79
    assert rmse < 0.2


def test_per_step_outputs():
    rng = np.random.RandomState(0)

    def draw(n):
        X = rng.uniform(-1, 1, size=(n, 30, 1))
        Y = np.zeros((n, 30))
        Y[:, 6:] = X[:, :-6, 0]  # the input six steps back
        return X, Y

    X, Y = draw(40)
    X_test, Y_test = draw(100)
    reg = RNNRegressor(cell="gru", return_sequences=True, random_state=0).fit(X, Y)
    assert reg.score(X_test, Y_test) > 0.9


def test_sequence_to_sequence_forecast():
    # read 20 steps of a sine, produce its next 10
    rng = np.random.RandomState(0)

    def draw(n):
        f, p = rng.uniform(0.2, 0.5, n), rng.uniform(0, 2 * np.pi, n)
        t = np.arange(30)
        S = np.sin(f[:, None] * t[None, :] + p[:, None])
        return S[:, :20, None], list(S[:, 20:, None])

    X, Y = draw(40)
    X_test, Y_test = draw(100)
    s2s = Seq2SeqTransformer(cell="gru", random_state=0).fit(X, Y)
    pred = np.stack(s2s.predict(X_test))
    assert np.sqrt(np.mean((pred - np.stack(Y_test)) ** 2)) < 0.25


@pytest.mark.slow
def test_statal_cell_finds_the_marker_at_its_defaults():
    # a single spike on channel 0 among same-sized distractor spikes on the
    # other channels, anywhere in 300 steps: chance is 0.5
    X, y = make_marker_task(200, 300, random_state=0)
    X_test, y_test = make_marker_task(200, 300, random_state=1)
    clf = RNNClassifier(cell="statal", random_state=0).fit(X, y)
    assert clf.score(X_test, y_test) > 0.95
