"""local_level: each window read, and its targets predicted, from its own level."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.linear_model import LinearRegression

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn.datasets import load_airline
from skrnn.preprocessing import make_windows

SMALL = {"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0}


def _series(n=80, seed=0):
    rng = np.random.RandomState(seed)
    t = np.arange(n)
    return np.column_stack(
        [0.05 * t + np.sin(0.4 * t), np.cos(0.3 * t) + rng.normal(0, 0.1, n)]
    )


def _windows(F=1, horizon=1, window=8, target=0):
    return make_windows(_series()[:, :F], window=window, horizon=horizon, target=target)


@pytest.mark.parametrize("how", ["mean", "last"])
@pytest.mark.parametrize("gain", ["auto", 1.0])
def test_regressor_predictions_follow_a_shift_of_the_level(how, gain):
    X, y = _windows()
    reg = RNNRegressor(local_level=how, level_gain=gain, **SMALL).fit(X, y)
    # a window shifted by c is read as the same window: its prediction moves
    # by the gain times c (exactly c with level_gain=1)
    (g,) = reg.level_gain_
    assert g == 1.0 if gain == 1.0 else g != 1.0
    assert_allclose(reg.predict(X + 100.0), reg.predict(X) + 100.0 * g, atol=1e-9)
    no_level = RNNRegressor(**SMALL).fit(X, y)
    assert not np.allclose(no_level.predict(X + 100.0), no_level.predict(X) + 100.0)


@pytest.mark.parametrize("how", ["mean", "last"])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_fit_equals_a_plain_fit_on_windows_minus_their_level(how, gain):
    X, y = _windows(F=2)
    level = X[:, -1, :] if how == "last" else X.mean(axis=1)
    reg = RNNRegressor(local_level=how, level_features=0, level_gain=gain, **SMALL).fit(
        X, y
    )
    carried = gain * level[:, 0]
    plain = RNNRegressor(**SMALL).fit(X - level[:, None, :], y - carried)
    for k, v in plain.state_dict_.items():
        assert_allclose(reg.state_dict_[k], v, rtol=1e-12, atol=1e-12)
    assert_allclose(reg.predict(X), plain.predict(X - level[:, None]) + carried)
    assert reg.local_level_ == how and reg.level_features_ == (0,)
    assert reg.level_gain_ == (gain,)


def _ar1(n, phi=0.6, mean=2.0, seed=0):
    rng = np.random.RandomState(seed)
    noise, series = rng.normal(size=n), np.zeros(n)
    for t in range(1, n):
        series[t] = phi * series[t - 1] + noise[t]
    return series + mean


def test_auto_gain_is_the_level_coefficient_of_the_autoregression():
    # a stationary AR(1) returns to its mean: it carries only part of a
    # window's level on. The gain is 1 + the level's coefficient in the
    # regression of y - level on the leveled lags and the level (least
    # squares here; the estimator's ridge penalty is small at 1000 windows).
    X, y = make_windows(_ar1(1000), window=4)
    level = X[:, :, 0].mean(axis=1)
    columns = np.column_stack([X[:, :, 0] - level[:, None], level])
    expected = 1.0 + LinearRegression().fit(columns, y - level).coef_[-1]
    reg = RNNRegressor(local_level="mean", **SMALL).fit(X, y)
    assert expected < 0.7  # far from plain instance normalisation's 1
    assert_allclose(reg.level_gain_, [expected], atol=0.01)
    # a random walk carries its level on whole: the gain is 1
    walk = np.cumsum(np.random.RandomState(1).normal(size=1000))
    reg.fit(*make_windows(walk, window=4))
    assert_allclose(reg.level_gain_, [1.0], atol=0.02)


def test_auto_gain_beats_the_plain_level_on_a_series_that_returns_to_its_mean():
    series = _ar1(1200)
    X, y = make_windows(series[:1000], window=4)
    X_test, y_test = make_windows(series[1000:], window=4)
    errors = {}
    for gain in ("auto", 1.0):
        reg = RNNRegressor(
            hidden_layer_sizes=(8,),
            max_iter=30,
            local_level="mean",
            level_gain=gain,
            linear_skip=0,
            random_state=0,
        ).fit(X, y)
        errors[gain] = np.sqrt(np.mean((reg.predict(X_test) - y_test) ** 2))
    # the noise's standard deviation (1.0) is the best any forecast can do
    assert errors["auto"] < 0.96 < 0.99 < errors[1.0], errors


def test_ragged_windows_use_the_level_of_their_valid_steps():
    X, y = _windows()
    reg = RNNRegressor(local_level="mean", **SMALL).fit(X, y)
    short = [X[0, 3:], X[1]]
    padded = np.zeros_like(X[:2])
    padded[0, :5], padded[1] = X[0, 3:], X[1]
    expected = [reg.predict(X[:1, 3:])[0], reg.predict(X[1:2])[0]]
    assert_allclose(reg.predict(short), expected, rtol=1e-12)


def test_multistep_multivariate_targets_follow_their_own_features():
    X, y = _windows(F=2, horizon=3, target=None)  # y: (n, 3 steps, 2 features)
    reg = RNNRegressor(local_level="last", **SMALL).fit(X, y.reshape(len(y), -1))
    assert reg.level_features_ == (0, 1, 0, 1, 0, 1)
    shift = np.array([10.0, -5.0])
    moved = reg.predict(X + shift)
    gain = np.asarray(reg.level_gain_)
    assert len(set(reg.level_gain_)) == 6  # one per target column
    assert_allclose(moved, reg.predict(X) + gain * np.tile(shift, 3), atol=1e-9)
    assert reg.forecast(X[:2], 4).shape == (2, 4, 2)


def test_seq2seq_predictions_follow_a_shift_of_the_level():
    X, y = _windows(horizon=5)
    s2s = Seq2SeqTransformer(local_level="mean", **SMALL).fit(X, y[:, :, None])
    assert_allclose(s2s.predict(X + 7.0), s2s.predict(X) + 7.0, atol=1e-9)
    assert_allclose(s2s.transform(X + 7.0), s2s.transform(X), atol=1e-9)
    assert s2s.score(X, y[:, :, None]) == pytest.approx(
        s2s.score(X + 7.0, y[:, :, None] + 7.0), abs=1e-9
    )


def test_seq2seq_autoencoder_levels_each_feature():
    X, _ = _windows(F=2)
    ae = Seq2SeqTransformer(local_level="mean", **SMALL).fit(X)
    assert ae.level_features_ == (0, 1)
    assert_allclose(ae.predict(X + [3.0, -2.0]), ae.predict(X) + [3.0, -2.0], atol=1e-9)


@pytest.mark.slow  # three 200-epoch fits on real data (CI runs the slow ones)
def test_follows_a_trend_beyond_the_training_range_on_real_data():
    # Airline passengers, one month ahead over the last 24 months, which lie
    # above every training month: for the network alone, reading each window
    # from its level beats the naive forecast by far, and reading absolute
    # levels does not even reach it; the default's linear skip (a ridge on the
    # lags, which extrapolates the trend) does.
    raw = load_airline().series.ravel()
    mean, std = raw[:-24].mean(), raw[:-24].std()
    z = (raw - mean) / std
    X, y = make_windows(z[:-24], window=12)
    X_test, y_test = make_windows(z[-36:], window=12)
    naive = np.sqrt(np.mean((X_test[:, -1, 0] - y_test) ** 2)) * std  # 51.8
    errors = {}
    for how in (None, "mean"):
        reg = RNNRegressor(
            local_level=how, early_stopping=False, linear_skip=0, random_state=0
        ).fit(X, y)
        errors[how] = np.sqrt(np.mean((reg.predict(X_test) - y_test) ** 2)) * std
    assert errors["mean"] < 0.75 * naive < naive < errors[None], (errors, naive)
    default = RNNRegressor(random_state=0).fit(X, y)
    error = np.sqrt(np.mean((default.predict(X_test) - y_test) ** 2)) * std
    assert error < 0.8 * naive, (error, naive)


@pytest.mark.parametrize(
    ("params", "fit_y", "match"),
    [
        ({"level_features": 0}, None, "only read with local_level"),
        ({"level_gain": 0.5}, None, "level_gain is only read"),
        ({"local_level": "mean", "return_sequences": True}, "steps", "per-step"),
        ({"local_level": "mean", "level_features": 2}, None, r"\[0, 2\)"),
        ({"local_level": "mean", "level_features": [0, 1]}, None, "1 ints"),
        ({"local_level": "mean", "level_features": [0.5]}, None, "ints"),
        ({"local_level": "mean"}, None, "level_features=k"),
    ],
)
def test_bad_settings_are_refused_before_any_work(params, fit_y, match):
    X, y = _windows(F=2)
    if fit_y == "steps":
        y = X[:, :, 0]
    reg = RNNRegressor(**SMALL, **params)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)
    assert not hasattr(reg, "state_dict_")


def test_bad_level_features_leave_a_fitted_model_unchanged():
    X, y = _windows(F=2)
    reg = RNNRegressor(local_level="mean", level_features=0, **SMALL).fit(X, y)
    before = reg.predict(X)
    with pytest.raises(ValueError, match="level_features"):
        reg.set_params(level_features=5).fit(X, y)
    assert_allclose(reg.predict(X), before, rtol=0, atol=0)
    assert reg.level_features_ == (0,)


def test_stream_and_stateful_forecast_are_refused():
    X, y = _windows()
    reg = RNNRegressor(local_level="mean", bidirectional=False, **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="stream only"):
        reg.stream()
    with pytest.raises(ValueError, match="Pass a window"):
        reg.forecast(X[:1], 3, window=None)


def test_classifier_has_no_local_level():
    assert "local_level" not in RNNClassifier().get_params()


def test_load_state_dict_fixes_the_levels():
    X, y = _windows()
    reg = RNNRegressor(local_level="last", **SMALL).fit(X, y)
    fresh = RNNRegressor(local_level="last", hidden_layer_sizes=(4,))
    fresh.load_state_dict(reg.state_dict_)
    # loaded weights carry no fitted gain: the level is added back whole
    assert fresh.level_features_ == (0,) and fresh.level_gain_ == (1.0,)
    level = reg.level_gain_[0] * X[:, -1, 0]
    raw_std = reg.target_scale_, reg.target_mean_
    expected = (reg.predict(X) - level - raw_std[1]) / raw_std[0] + X[:, -1, 0]
    assert_allclose(fresh.predict(X), expected, rtol=1e-10, atol=1e-10)


def test_a_saved_model_keeps_its_levels(tmp_path):
    from skrnn import persistence

    X, y = _windows(F=2, target=1)
    reg = RNNRegressor(local_level="last", level_features=1, **SMALL).fit(X, y)
    path = tmp_path / "model.skrnn"
    persistence.save(reg, path)
    loaded = persistence.load(path)
    assert loaded.local_level_ == "last" and loaded.level_features_ == (1,)
    assert loaded.level_gain_ == reg.level_gain_ != (1.0,)
    assert_allclose(loaded.predict(X + 1.0), reg.predict(X + 1.0), rtol=0, atol=0)
