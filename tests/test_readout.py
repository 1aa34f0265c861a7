"""Readout over time (pooling), dropout placement, per-step weights, wavenet depth."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from skrnn import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from skrnn._bptt import TrainData, batch_loss_grad
from skrnn._cells import CELLS
from skrnn._network import Architecture, draw_masks, forward
from skrnn._optim import AdamOptimizer
from skrnn._wavenet import receptive_field, wavenet_depth

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _case(cell, pooling, return_sequences, seed=0, **dropouts):
    """A tiny float64 network with perturbed weights and a ragged batch."""
    rng = np.random.RandomState(seed)
    arch = Architecture(
        cell,
        (3, 3),
        2,
        2,
        pooling=pooling,
        return_sequences=return_sequences,
        **dropouts,
    )
    # zero biases put ReLU kinks of the wavenet stack exactly at 0 on zeroed
    # (dropped) inputs, where a central difference is meaningless: perturb them
    params = {
        k: v + 0.1 * rng.normal(size=v.shape) for k, v in arch.init_params(rng).items()
    }
    lengths = np.array([7, 3, 5, 2])
    X = rng.normal(size=(4, 7, 2))
    Y = rng.normal(size=(4, 7, 2) if return_sequences else (4, 2))
    mask = np.arange(7)[None] < lengths[:, None] if return_sequences else None
    data = TrainData(X, lengths, Y, np.ones(4), None if mask is None else mask * 1.0)
    masks = draw_masks(arch, np.random.RandomState(1), 4, np.float64)
    return arch, params, data, masks


def _max_gradient_error(arch, params, data, masks, bptt_steps=None):
    def loss(p):
        return batch_loss_grad(
            arch, "squared_error", p, data, 0.0, bptt_steps=bptt_steps, masks=masks
        )

    _, grads = loss(params)
    worst, eps = 0.0, 1e-6
    for name, value in params.items():
        for i in range(min(value.size, 4)):
            shifted = {k: v.copy() for k, v in params.items()}
            shifted[name].reshape(-1)[i] += eps
            up, _ = loss(shifted)
            shifted[name].reshape(-1)[i] -= 2 * eps
            down, _ = loss(shifted)
            numeric = (up - down) / (2 * eps)
            worst = max(worst, abs(numeric - grads[name].reshape(-1)[i]))
    return worst


@given(
    cell=st.sampled_from(["rnn", "lstm", "gru", "statal", "wavenet"]),
    pooling=st.sampled_from(["last", "mean", "max", "concat", "last_max_mean"]),
    return_sequences=st.booleans(),
    dropout=st.sampled_from([0.0, 0.3]),
    input_dropout=st.sampled_from([0.0, 0.4]),
)
def test_gradients_match_central_differences(
    cell, pooling, return_sequences, dropout, input_dropout
):
    rec = 0.0 if cell == "wavenet" else 0.2
    arch, params, data, masks = _case(
        cell,
        pooling,
        return_sequences,
        dropout=dropout,
        input_dropout=input_dropout,
        recurrent_dropout=rec,
    )
    assert _max_gradient_error(arch, params, data, masks) < 1e-7


@pytest.mark.parametrize("pooling", ["mean", "max", "concat", "last_max_mean"])
def test_truncated_bptt_gradient_of_a_pooled_readout(pooling):
    # the running mean and maximum cross window boundaries as state, without
    # gradient, so the truncated objective's value is the full one and its
    # gradient is exact for the last window's dependence
    arch, params, data, _ = _case("gru", pooling, False)
    full, _ = batch_loss_grad(arch, "squared_error", params, data, 0.0)
    cut, _ = batch_loss_grad(arch, "squared_error", params, data, 0.0, bptt_steps=3)
    assert_allclose(cut, full, rtol=1e-12)
    assert _max_gradient_error(arch, params, data, None, bptt_steps=7) < 1e-7


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "concat", "last_max_mean"])
def test_mean_readout_is_over_valid_steps_only(pooling):
    arch, params, data, _ = _case("lstm", pooling, False)
    raw, _, _ = forward(arch, params, data.X, data.lengths)
    for i, n in enumerate(data.lengths):
        alone, _, _ = forward(
            arch, params, data.X[i : i + 1, :n], data.lengths[i : i + 1]
        )
        assert_allclose(raw[i], alone[0], rtol=1e-12)
    if pooling != "last":
        noisy = data.X.copy()
        noisy[0, 3:] = 0.0  # changing a valid step changes the mean readout
        changed, _, _ = forward(arch, params, noisy, data.lengths)
        assert not np.allclose(changed[0], raw[0])


@pytest.mark.parametrize("pooling", ["mean", "max", "concat", "last_max_mean"])
def test_stream_of_a_pooled_model_equals_one_call(pooling):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 12, 2))
    reg = RNNRegressor(
        "gru", (4,), bidirectional=False, pooling=pooling, max_iter=3, random_state=0
    ).fit(X, X.mean(axis=(1, 2)))
    stream = reg.stream()
    stream.predict(X[:3, :5])
    assert_allclose(stream.predict(X[:3, 5:]), reg.predict(X[:3]), rtol=1e-6)


def test_dropout_masks_sit_where_the_parameters_say():
    arch = Architecture(
        "gru", (4, 5), 3, 2, dropout=0.5, input_dropout=0.0, recurrent_dropout=0.0
    )
    masks = draw_masks(arch, np.random.RandomState(0), 6, np.float64)
    assert masks["input"][0] is None  # input_dropout=0: the inputs pass untouched
    assert masks["input"][1].shape == (6, 4)  # between the stacked layers
    assert masks["head"].shape == (6, 5)  # before the head
    only_input = Architecture("gru", (4,), 3, 2, input_dropout=0.5)
    masks = draw_masks(only_input, np.random.RandomState(0), 6, np.float64)
    assert masks["input"][0].shape == (6, 3) and masks["head"] is None
    assert set(np.unique(masks["input"][0])) <= {0.0, 2.0}


def test_input_dropout_changes_training_and_is_grid_searchable():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6, 3))
    y = X[:, :, 0].sum(axis=1)
    # one fit of the network alone (the folds could keep the ridge start,
    # which no dropout reaches)
    kw = dict(max_iter=3, random_state=0, early_stopping=False, linear_skip=0)
    plain = RNNRegressor("gru", (4,), **kw).fit(X, y)
    dropped = RNNRegressor("gru", (4,), input_dropout=0.5, **kw).fit(X, y)
    assert not np.allclose(plain.predict(X), dropped.predict(X))
    assert dropped.get_params()["input_dropout"] == 0.5


def test_per_step_sample_weight_ignores_zero_weight_steps():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 8, 2))
    Y = X[:, :, 0].cumsum(axis=1)
    W = np.ones((30, 8))
    W[:, :4] = 0.0
    Y_other = Y.copy()
    Y_other[:, :4] = 100.0  # only zero-weight steps differ
    kw = dict(return_sequences=True, max_iter=3, random_state=0)
    a = RNNRegressor("gru", (4,), **kw).fit(X, Y, sample_weight=W)
    b = RNNRegressor("gru", (4,), **kw).fit(X, Y_other, sample_weight=W)
    c = RNNRegressor("gru", (4,), **kw).fit(X, Y_other)
    assert_array_equal(a.predict(X), b.predict(X))
    assert not np.allclose(a.predict(X), c.predict(X))


def test_per_step_sample_weight_as_a_list_for_ragged_input():
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(n, 2)) for n in (3, 5, 4, 6) * 5]
    y = [np.arange(len(x)) % 2 for x in X]
    w = [np.linspace(0, 1, len(x)) for x in X]
    clf = RNNClassifier("gru", (4,), return_sequences=True, max_iter=2, random_state=0)
    clf.fit(X, y, sample_weight=w)
    doubled = RNNClassifier(
        "gru", (4,), return_sequences=True, max_iter=2, random_state=0
    ).fit(X, y, sample_weight=[2 * v for v in w])
    # the loss is the weighted mean: scaling every weight changes nothing
    assert_allclose(clf.loss_curve_, doubled.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize(
    "weight, match",
    [
        (-np.ones((10, 5)), "non-negative"),
        (np.ones((10, 4)), "sample_weight"),
        (np.zeros((10, 5)), "zero on every valid step"),
    ],
)
def test_bad_per_step_sample_weight_is_refused(weight, match):
    X = np.random.RandomState(0).normal(size=(10, 5, 1))
    reg = RNNRegressor("gru", (2,), return_sequences=True, max_iter=1)
    with pytest.raises(ValueError, match=match):
        reg.fit(X, X[:, :, 0], sample_weight=weight)


@pytest.mark.parametrize("T", [5, 24, 100, 251])
def test_auto_wavenet_depth_covers_the_training_sequences(T):
    X = np.random.RandomState(0).normal(size=(8, T, 1))
    reg = RNNRegressor("wavenet", max_iter=1, random_state=0).fit(X, X[:, -1, 0])
    n_steps = -(-T // reg.patch_size_)  # the stack reads patches
    assert reg.hidden_layer_sizes_ == (32,) * wavenet_depth(n_steps)
    assert reg.receptive_field_ >= T
    # and no fewer layers would do
    assert (
        len(reg.hidden_layer_sizes_) == 1
        or receptive_field(len(reg.hidden_layer_sizes_) - 1) < n_steps
    )


def test_short_explicit_wavenet_warns_and_auto_does_not():
    X = np.random.RandomState(0).normal(size=(8, 64, 1))
    with pytest.warns(UserWarning, match="sees only the last 2 steps"):
        RNNRegressor("wavenet", (8,), patch_size=1, max_iter=1).fit(X, X[:, -1, 0])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RNNRegressor("wavenet", max_iter=1).fit(X, X[:, -1, 0])
    assert not [w for w in caught if "sees only" in str(w.message)]


def test_auto_width_of_recurrent_cells():
    X = np.random.RandomState(0).normal(size=(8, 4, 1))
    reg = RNNRegressor("lstm", max_iter=1).fit(X, X[:, -1, 0])
    assert reg.hidden_layer_sizes_ == (32,)
    assert reg.state_dict_["weight_hh_l0"].shape == (128, 32)


def test_adaptive_adam_lowers_its_rate_twice_then_stops():
    w = np.zeros(2)
    opt = AdamOptimizer([w], learning_rate_init=0.01, lr_schedule="adaptive")
    assert opt.trigger_stopping("plateau.", False) is False
    assert opt.base_rate == pytest.approx(0.002)
    assert opt.trigger_stopping("plateau.", False) is False
    assert opt.base_rate == pytest.approx(0.0004)
    assert opt.trigger_stopping("plateau.", False) is True
    opt.update_params([w], [np.ones(2)])
    # the first bias-corrected Adam step moves each weight by the base rate
    assert_allclose(w, -0.0004, rtol=1e-6)
    constant = AdamOptimizer([np.zeros(1)], learning_rate_init=0.01)
    assert constant.trigger_stopping("plateau.", False) is True


def _patched_by_hand(X, k):
    n, T, F = X.shape
    P = np.zeros((n, -(-T // k) * k, F))
    P[:, :T] = X
    return P.reshape(n, -1, k * F)


def test_patches_equal_a_step_by_step_model_on_patched_input():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 21, 2))
    y = X[:, :, 0].sum(axis=1)
    kw = dict(cell="gru", hidden_layer_sizes=(4,), max_iter=3, random_state=0)
    patched = RNNRegressor(patch_size=4, **kw).fit(X, y)
    by_hand = RNNRegressor(patch_size=1, **kw).fit(_patched_by_hand(X, 4), y)
    assert patched.patch_size_ == 4
    assert_array_equal(patched.predict(X), by_hand.predict(_patched_by_hand(X, 4)))


def test_auto_patch_size_keeps_at_most_32_steps():
    rng = np.random.RandomState(0)
    for T, expected in [(10, 1), (32, 1), (33, 2), (150, 5), (251, 8)]:
        X = rng.normal(size=(6, T, 1))
        reg = RNNRegressor("gru", (2,), max_iter=1).fit(X, X[:, -1, 0])
        assert reg.patch_size_ == expected
    seq = RNNRegressor("gru", (2,), return_sequences=True, max_iter=1)
    assert seq.fit(X, X[:, :, 0]).patch_size_ == 1
    # a cell that reads step by step says so in its registry entry
    statal = RNNRegressor("statal", (2,), max_iter=1).fit(X, X[:, -1, 0])
    assert statal.patch_size_ == 1 and not CELLS["statal"].auto_patches
    assert all(CELLS[name].auto_patches for name in ("rnn", "lstm", "gru"))


def test_auto_direction_reads_both_ways_only_where_nothing_must_be_causal():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(8, 6, 2))
    y, Y = X[:, -1, 0], X[:, :, 0]
    cases = [
        (RNNRegressor("gru", (2,)), y, True),  # many-to-one
        (RNNClassifier("lstm", (2,)), y > 0, True),
        (Seq2SeqTransformer(2, "rnn", (2,)), None, True),  # the encoder
        (RNNRegressor("gru", (2,), return_sequences=True), Y, False),
        (RNNRegressor("gru", (2,), bptt_steps=3), y, False),
        (RNNRegressor("wavenet", (2,)), y, False),
        (RNNRegressor("gru", (2,), bidirectional=False), y, False),
    ]
    for est, target, both in cases:
        est.set_params(max_iter=1, random_state=0)
        est.fit(X) if target is None else est.fit(X, target)
        assert est.bidirectional_ is both, est
        reverse = [k for k in est.state_dict_ if k.endswith("_reverse")]
        assert bool(reverse) is both, est


def test_patches_of_ragged_sequences_end_with_each_sequence():
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(n, 2)) for n in (40, 37, 45, 50) * 4]
    y = np.array([x[:, 0].sum() for x in X])
    reg = RNNRegressor("gru", (4,), patch_size=8, max_iter=2, random_state=0).fit(X, y)
    alone = np.array([reg.predict([x])[0] for x in X[:4]])
    assert_allclose(reg.predict(X[:4]), alone, rtol=1e-10)


def test_patched_model_streams_in_multiples_and_refuses_the_rest():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 40, 1))
    reg = RNNRegressor("gru", (4,), bidirectional=False, max_iter=2, random_state=0)
    reg.fit(X, X[:, -1, 0])
    assert reg.patch_size_ == 2
    stream = reg.stream()
    stream.predict(X[:2, :16])
    assert_allclose(stream.predict(X[:2, 16:]), reg.predict(X[:2]), rtol=1e-10)
    with pytest.raises(ValueError, match="multiple of 2"):
        reg.stream().predict(X[:2, :5])
    with pytest.raises(ValueError, match="window=None"):
        reg.forecast(X[:2], n_steps=2, window=None)
    with pytest.raises(ValueError, match="return_sequences=True"):
        RNNRegressor(patch_size=3, return_sequences=True).fit(X, X[:, :, 0])
