"""The training loop: truncated BPTT semantics, divergence, L-BFGS bookkeeping."""

import warnings

import numpy as np
import pytest

from skrnn import DivergenceError, RNNRegressor
from skrnn._network import Architecture, init_params, loss_and_grad
from skrnn._training import TrainData, batch_loss_grad


def _batch(return_sequences, lengths, T=9, seed=0):
    rng = np.random.RandomState(seed)
    B = len(lengths)
    X = rng.normal(size=(B, T, 2))
    valid = np.arange(T)[None, :] < np.asarray(lengths)[:, None]
    X[~valid] = 0
    if return_sequences:
        Y, mask = rng.normal(size=(B, T, 1)), valid.astype(float)
    else:
        Y, mask = rng.normal(size=(B, 1)), None
    return TrainData(X, np.asarray(lengths), Y, np.ones(B), mask)


@pytest.mark.parametrize("return_sequences", [False, True])
def test_window_longer_than_sequence_is_full_bptt(return_sequences):
    arch = Architecture("gru", (3,), 2, 1, return_sequences=return_sequences)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(return_sequences, [9, 6, 2])
    full = batch_loss_grad(arch, "squared_error", params, batch, 0.0, None)
    long = batch_loss_grad(arch, "squared_error", params, batch, 0.0, 50)
    assert full[0] == pytest.approx(long[0])
    for name in params:
        np.testing.assert_allclose(full[1][name], long[1][name], atol=1e-12)


def test_many_to_one_truncation_cuts_the_gradient_at_the_last_window():
    # Equal lengths: the truncated gradient is the gradient of the last k steps
    # run from the (constant) state that the earlier steps carried in.
    arch = Architecture("lstm", (3,), 2, 1)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(False, [9, 9, 9])
    k = 4
    value, grads = batch_loss_grad(arch, "squared_error", params, batch, 0.0, k)
    _, state, _ = arch.forward(params, batch.X[:, : 9 - k], batch.lengths - k)
    w = np.ones(3)
    ref_value, ref_grads, _ = loss_and_grad(
        arch,
        "squared_error",
        params,
        batch.X[:, 9 - k :],
        np.full(3, k),
        batch.Y,
        w,
        state0=state,
    )
    assert value == pytest.approx(ref_value)
    for name in params:
        np.testing.assert_allclose(grads[name], ref_grads[name], atol=1e-12)
    full = batch_loss_grad(arch, "squared_error", params, batch, 0.0, None)[1]
    assert not np.allclose(full["weight_ih_l0"], grads["weight_ih_l0"])


def test_ragged_truncation_keeps_every_sequence_in_the_last_window():
    # Sequences are left-aligned before windowing, so a short sequence still
    # ends in the last window and gets gradient.
    arch = Architecture("rnn", (3,), 2, 1)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(False, [9, 3, 1])
    alone = [batch.take(np.array([i])) for i in range(3)]
    values = [batch_loss_grad(arch, "squared_error", params, b, 0.0, 4) for b in alone]
    value, grads = batch_loss_grad(arch, "squared_error", params, batch, 0.0, 4)
    assert value == pytest.approx(np.mean([v for v, _ in values]))
    for name in params:
        mean = np.mean([g[name] for _, g in values], axis=0)
        np.testing.assert_allclose(grads[name], mean, atol=1e-12)
    assert np.abs(values[2][1]["weight_ih_l0"]).sum() > 0  # the length-1 sequence


def test_many_to_many_truncation_sums_windows_with_one_normaliser():
    arch = Architecture("gru", (3,), 2, 1, return_sequences=True)
    params = init_params(arch, np.random.RandomState(0))
    batch = _batch(True, [9, 7, 4])
    full_value, _ = batch_loss_grad(arch, "squared_error", params, batch, 0.0, None)
    value, _ = batch_loss_grad(arch, "squared_error", params, batch, 0.0, 3)
    assert value == pytest.approx(full_value)  # the forward pass is not truncated


@pytest.mark.parametrize("solver, scale", [("sgd", 100), ("lbfgs", 1e200)])
def test_divergence_is_detected_and_raised(solver, scale):
    # SGD blows up in a few epochs; L-BFGS steps back from a non-finite loss, so
    # it fails only when even the starting point overflows
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 10, 1)) * scale
    y = rng.normal(size=40) * 1e6
    reg = RNNRegressor(
        cell="rnn",
        nonlinearity="relu",
        solver=solver,
        learning_rate_init=10.0,
        momentum=0.0,
        clip_norm=None,
        max_iter=50,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy overflow noise
        with pytest.raises(DivergenceError, match="diverged") as err:
            reg.fit(X, y)
    assert err.value.epoch >= 1
    assert np.isfinite(err.value.loss_curve).all()
    assert hasattr(reg, "state_dict_") == err.value.model_kept
    if err.value.model_kept:  # the last finite weights
        assert all(np.isfinite(w).all() for w in reg.state_dict_.values())
