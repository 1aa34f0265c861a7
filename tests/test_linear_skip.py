"""``linear_skip``: a fixed ridge part on the last input steps beside the network."""

import numpy as np
import pytest
from _estimator_cases import numeric_gradient
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import RidgeCV

from skrnn import RNNRegressor, persistence
from skrnn._network import Architecture, penalty
from skrnn._skip import skip_lags
from skrnn.datasets import load_airline
from skrnn.preprocessing import make_windows

SMALL = {"hidden_layer_sizes": (4,), "max_iter": 5, "random_state": 0}


def _hand_lags(X, lengths, k, per_step):
    """The lags by explicit loops: steps ``end - k + 1 .. end``, zeros before 0."""
    B, T, F = X.shape
    ends = [list(range(T)) if per_step else [lengths[b] - 1] for b in range(B)]
    out = np.zeros((B, T if per_step else 1, k * F))
    for b in range(B):
        for i, end in enumerate(ends[b]):
            for j in range(k):
                step = end - k + 1 + j
                if step >= 0:
                    out[b, i, j * F : (j + 1) * F] = X[b, step]
    return out if per_step else out[:, 0]


@pytest.mark.parametrize("per_step", [False, True])
def test_lags_are_the_last_steps_oldest_first(per_step):
    rng = np.random.RandomState(0)
    X, lengths = rng.normal(size=(4, 6, 2)), np.array([6, 3, 1, 5])
    assert_array_equal(
        skip_lags(X, lengths, 4, per_step), _hand_lags(X, lengths, 4, per_step)
    )


@pytest.mark.parametrize("per_step", [False, True])
def test_gradients_match_finite_differences(per_step):
    rng = np.random.RandomState(1)
    arch = Architecture(
        cell="gru",
        hidden_sizes=(3,),
        n_inputs=2,
        n_outputs=2,
        return_sequences=per_step,
        skip_steps=3,
    )
    params = arch.init_params(rng)
    params["skip.weight"] = rng.normal(size=params["skip.weight"].shape)
    X, lengths = rng.normal(size=(3, 5, 2)), np.array([5, 2, 4])
    raw, _, cache = arch.forward(params, X, lengths)
    draw = rng.normal(size=raw.shape)
    grads, _, dX = arch.backward(params, cache, draw, need_dX=True)

    def objective():  # reads params and X as numeric_gradient perturbs them
        return np.sum(arch.forward(params, X, lengths)[0] * draw)

    names = ("skip.weight", "head.weight", "weight_ih_l0")
    numeric = numeric_gradient(objective, {**{n: params[n] for n in names}, "X": X})
    for name in names:
        assert_allclose(grads[name], numeric[name], rtol=1e-6, atol=1e-8)
    assert_allclose(dX, numeric["X"], rtol=1e-6, atol=1e-8)


def test_the_skip_is_fixed_and_unpenalised():
    rng = np.random.RandomState(0)
    params = {"skip.weight": rng.normal(size=(1, 4)), "head.weight": np.ones((1, 2))}
    grads = {k: np.ones_like(v) for k, v in params.items()}
    value = penalty(params, 2.0, 4.0, grads)
    assert value == pytest.approx(0.5 * 2.0 / 4.0 * 2.0)  # the head's only
    assert_array_equal(grads["skip.weight"], 0)
    assert_array_equal(grads["head.weight"], 1 + 2.0 / 4.0)


def _windows(n=120, window=8, seed=0):
    rng = np.random.RandomState(seed)
    s = np.cumsum(rng.normal(size=n)) + np.sin(np.arange(n) / 3)
    return make_windows(s[:, None], window=window)


def test_the_skip_is_the_ridge_of_the_targets_on_the_lags_and_stays_so():
    X, y = _windows()
    reg = RNNRegressor(cell="gru", linear_skip=5, max_iter=20, random_state=0)
    reg.fit(X, y)
    z = (y - reg.target_mean_[0]) / reg.target_scale_[0]
    L = _hand_lags(X, np.full(len(X), X.shape[1]), 5, False)
    mean, scale = L.mean(axis=0), L.std(axis=0)
    ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit((L - mean) / scale, z)
    assert reg.linear_skip_ == 5
    assert_allclose(reg.state_dict_["skip.weight"][0], ridge.coef_ / scale, rtol=1e-8)
    start = reg.state_dict_["skip.weight"].copy()
    reg.partial_fit(X, y)
    assert_array_equal(reg.state_dict_["skip.weight"], start)


def test_linear_skip_is_capped_at_the_training_length_in_whole_patches():
    X, y = _windows(window=8)
    assert RNNRegressor(linear_skip=50, **SMALL).fit(X, y).linear_skip_ == 8
    reg = RNNRegressor(linear_skip=5, patch_size=2, **SMALL).fit(X, y)
    assert reg.linear_skip_ == 6
    assert reg.state_dict_["skip.weight"].shape == (1, 6)


def test_per_step_outputs_and_ragged_sequences():
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(n, 2)) for n in (7, 4, 9, 5)] * 5
    y = [2.0 * x[:, 0] - np.roll(x[:, 1], 1) for x in X]
    reg = RNNRegressor(linear_skip=2, return_sequences=True, **SMALL).fit(X, y)
    pred = reg.predict(X)
    assert [len(p) for p in pred] == [len(x) for x in X]
    assert reg.state_dict_["skip.weight"].shape == (1, 4)
    plain = RNNRegressor(return_sequences=True, linear_skip=0, **SMALL).fit(X, y)
    error = [
        np.mean((np.concatenate(m.predict(X)) - np.concatenate(y)) ** 2)
        for m in (reg, plain)
    ]
    assert error[0] < 0.1 * error[1]  # the ridge part is (nearly) the answer


@pytest.mark.slow  # two 200-epoch fits; test_local_level checks the default
def test_it_learns_the_trend_a_plain_network_cannot_follow():
    # the shipped airline data, one month ahead over the last two years
    raw = load_airline().series.ravel()
    mean, std = raw[:-24].mean(), raw[:-24].std()
    z = (raw - mean) / std
    X, y = make_windows(z[:-24], window=12)
    X_test, y_test = make_windows(z[-36:], window=12)
    errors = {}
    for skip in (0, 12):
        # every epoch, so that the skip alone makes the difference; the head on
        # the last state, as a forecaster's: with 200 epochs, no held-out choice
        # and no local level, the default "last_max_mean" readout scored 60.6
        # with the skip against 62.9 without (the default fit, early_stopping
        # "auto", improves with it: tests/test_local_level.py, the panel)
        reg = RNNRegressor(
            linear_skip=skip, early_stopping=False, pooling="last", random_state=0
        )
        reg.fit(X, y)
        errors[skip] = np.sqrt(np.mean((reg.predict(X_test) - y_test) ** 2)) * std
    assert errors[12] < 0.75 * errors[0], errors  # measured 41.5 against 80.4


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"linear_skip": 3, "bptt_steps": 4}, "truncated BPTT"),
        ({"linear_skip": -1}, "linear_skip"),
        ({"linear_skip": 2.5}, "linear_skip"),
    ],
)
def test_bad_settings_are_refused_before_any_work(params, match):
    X, y = _windows()
    reg = RNNRegressor(**{**SMALL, **params})
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y)
    assert not hasattr(reg, "state_dict_")


@pytest.mark.parametrize("per_step", [False, True])
def test_a_stream_in_ragged_chunks_equals_predict(per_step):
    """The stream carries the last input steps, so lags reach into earlier
    chunks: any cut of the series gives what predict gives on the prefix."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3, 12, 2))
    y = rng.normal(size=(3, 12)) if per_step else rng.normal(size=3)
    reg = RNNRegressor(
        linear_skip=5, bidirectional=False, return_sequences=per_step, **SMALL
    ).fit(X, y)
    stream, done, outs = reg.stream(), 0, []
    for cut in (1, 4, 9, 12):  # chunks of 1, 3, 5 and 3 steps
        outs.append(stream.predict(X[:, done:cut]))
        if not per_step:
            assert_allclose(outs[-1], reg.predict(X[:, :cut]), atol=1e-12)
        done = cut
    if per_step:
        assert_allclose(np.concatenate(outs, axis=1), reg.predict(X), atol=1e-12)


def test_a_stateful_forecast_reads_the_skip():
    X, y = _windows()
    reg = RNNRegressor(linear_skip=3, bidirectional=False, **SMALL).fit(X, y)
    one = reg.forecast(X[:2], 1, window=None)
    assert_allclose(one[:, 0], reg.predict(X[:2]), atol=1e-12)
    assert reg.forecast(X[:2], 4, window=None).shape == (2, 4)


def test_load_state_dict_needs_linear_skip_off():
    X, y = _windows()
    plain = RNNRegressor(linear_skip=0, **SMALL).fit(X, y)
    weights = {k: v.copy() for k, v in plain.state_dict_.items()}
    with pytest.raises(ValueError, match="no counterpart in a PyTorch"):
        RNNRegressor(linear_skip=3, hidden_layer_sizes=(4,)).load_state_dict(weights)
    loaded = RNNRegressor(hidden_layer_sizes=(4,)).load_state_dict(weights)
    assert loaded.linear_skip_ == 0
    fitted = RNNRegressor(linear_skip=3, **SMALL).fit(X, y)
    with pytest.raises(ValueError, match="skip.weight is the weight of linear_skip"):
        fitted.load_state_dict(weights)
    # "auto" follows the weights: a skip.weight of 3 steps loads as linear_skip_=3
    auto = RNNRegressor(hidden_layer_sizes=(4,)).load_state_dict(fitted.state_dict_)
    assert auto.linear_skip_ == 3
    assert_allclose(
        auto.predict(X),
        (fitted.predict(X) - fitted.target_mean_) / fitted.target_scale_,
        rtol=1e-10,
        atol=1e-10,
    )


def test_a_saved_model_keeps_its_skip(tmp_path):
    X, y = _windows()
    reg = RNNRegressor(linear_skip=4, **SMALL).fit(X, y)
    persistence.save(reg, tmp_path / "m.skrnn")
    back = persistence.load(tmp_path / "m.skrnn")
    assert back.linear_skip_ == 4
    assert_array_equal(back.predict(X), reg.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("params", "ragged"),
    [
        ({}, False),
        ({}, True),
        ({"patch_size": 2, "cell": "gru"}, True),
        ({"return_sequences": True}, True),
        ({"return_sequences": True, "cell": "wavenet"}, False),
    ],
)
def test_onnx_export_matches_predict(dtype, params, ragged):
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    from skrnn.onnx import to_onnx

    rng = np.random.RandomState(3)
    lengths = rng.randint(1, 9, 14) if ragged else np.full(14, 8)
    X = [rng.normal(size=(n, 2)).astype(dtype) for n in lengths]
    per_step = params.get("return_sequences", False)
    y = [x[:, 0] * 2 for x in X] if per_step else [x[-1, 0] for x in X]
    est = RNNRegressor(linear_skip=5, **{**SMALL, **params}).fit(X, y)
    assert est.linear_skip_ > 0
    T = max(lengths)
    X_pad = np.full((len(X), T, 2), 100.0, dtype)  # what the padding holds
    for i, x in enumerate(X):
        X_pad[i, : len(x)] = x
    onx = to_onnx(est, X_pad if not ragged else X)
    sess = ort.InferenceSession(onx.SerializeToString())
    names = [i.name for i in sess.get_inputs()]
    feeds = [X_pad, lengths.astype(np.int64)][: len(names)]
    out = sess.run(None, dict(zip(names, feeds, strict=True)))[0]
    ref = est.predict(X)
    tol = 1e-5 if dtype == np.float32 else 1e-10
    if per_step:
        for i, r in enumerate(ref):
            assert_allclose(out[i, : len(r)], r, rtol=tol, atol=tol)
    else:
        assert_allclose(out, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize(
    ("first", "second", "continues"),
    [
        (3, 3, True),
        (10, 20, True),
        (0, 0, True),
        (3, 0, False),
        (0, 3, False),
        (3, 4, False),
        (3, 2, False),
    ],
)
def test_warm_start_continues_only_with_the_same_skip(first, second, continues):
    X, y = _windows()  # windows of 8 steps: 10 and 20 both read all 8
    reg = RNNRegressor(
        linear_skip=first, warm_start=True, early_stopping=False, **SMALL
    ).fit(X, y)
    n_iter = reg.n_iter_
    reg.set_params(linear_skip=second).fit(X, y)
    assert (reg.n_iter_ > n_iter) == continues
    assert reg.linear_skip_ == min(second, 8)


@pytest.mark.parametrize("cell", ["wavenet", "statal", "lstm"])
def test_every_cell_takes_the_skip(cell):
    X, y = _windows()
    reg = RNNRegressor(cell=cell, linear_skip=4, **SMALL).fit(X, y)
    W = reg.state_dict_["skip.weight"]
    assert W.shape == (1, 4) and np.abs(W).max() > 0
    # the prediction is the network's plus the skip's lags @ W, in target units
    lags = _hand_lags(X, np.full(len(X), X.shape[1]), 4, False)
    pred = reg.predict(X)
    reg.state_dict_["skip.weight"] = np.zeros_like(W)
    alone = reg.predict(X)
    assert_allclose(pred - alone, (lags @ W.T)[:, 0] * reg.target_scale_[0])


def test_early_stopping_can_keep_the_ridge_start():
    # an epoch at a wild learning rate only hurts: early stopping returns the
    # start, which is the ridge part alone (the head's weight still zero)
    X, y = _windows()
    reg = RNNRegressor(
        linear_skip=8,
        early_stopping=True,
        learning_rate_init=5.0,
        clip_norm=None,
        max_iter=3,
        hidden_layer_sizes=(4,),
        random_state=0,
    ).fit(X, y)
    assert_array_equal(reg.state_dict_["head.weight"], 0)
    assert reg.best_validation_score_ > max(reg.validation_scores_)
    assert reg.best_validation_score_ > 0.5  # the ridge of a random walk's next step
