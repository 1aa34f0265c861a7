"""Tests for the statal cell (skrnn._cells.StatalCell) through the scan and network."""

from dataclasses import replace

import numpy as np
import pytest
from _estimator_cases import assert_training_gradient
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from skrnn._cells import CELLS, StatalCell
from skrnn._network import (
    Architecture,
    backward,
    draw_masks,
    forward,
    init_params,
)
from skrnn._recurrent import init_direction, layer_forward, make_cell
from skrnn._scan import scan_forward

# The gradient and property checks run on both implementations of the scan.
pytestmark = pytest.mark.usefixtures("both_scan_paths")

seeds = st.integers(0, 2**31 - 1)


def _arch(n_states=1, hidden_sizes=(2,), n_inputs=2, n_outputs=2, **kwargs):
    return Architecture(
        "statal", hidden_sizes, n_inputs, n_outputs, n_states=n_states, **kwargs
    )


def _params(arch, seed, dtype=np.float64):
    """Initial weights plus random biases, so every gradient is exercised."""
    rng = np.random.RandomState(seed)
    params = init_params(arch, rng, dtype)
    for name, value in params.items():
        if "bias" in name:
            params[name] = (value + rng.uniform(-1, 1, value.shape)).astype(dtype)
    return params


def _state0(arch, rng, batch):
    """A random initial state in [0, 1] per layer and direction."""
    width = arch.make_cell().output_size
    return [
        [{"h": rng.uniform(0, 1, (batch, width(H)))} for _ in range(arch.n_directions)]
        for H in arch.hidden_sizes
    ]


def _central_difference(f, arr, eps=1e-6):
    """Gradient of the scalar ``f()`` with respect to ``arr``, perturbed in place."""
    grad = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        orig = arr[idx]
        arr[idx] = orig + eps
        up = f()
        arr[idx] = orig - eps
        down = f()
        arr[idx] = orig
        grad[idx] = (up - down) / (2 * eps)
    return grad


def _direction(seed, F, H, n_states, scale):
    """Parameters of one direction, recurrent and input weights scaled."""
    rng = np.random.RandomState(seed)
    cell = make_cell("statal", n_states=n_states)
    w_ih, w_hh, b_ih, b_hh = init_direction(rng, cell, F, H, np.float64)
    b_ih += rng.uniform(-1, 1, b_ih.shape)
    return cell, [scale * w_ih, scale * w_hh, b_ih, b_hh]


# ------------------------------------------------------------------ gradients

CONFIGS = {
    "plain": ({}, [4, 4, 4]),
    "ragged": ({"return_sequences": True}, [4, 2, 1]),
    "bidirectional": ({"bidirectional": True}, [4, 3, 1]),
    "bidirectional-seq": ({"bidirectional": True, "return_sequences": True}, None),
    "stacked": ({"hidden_sizes": (2, 3), "return_sequences": True}, [4, 1, 3]),
    "stacked-bidirectional": ({"hidden_sizes": (2, 2), "bidirectional": True}, None),
    "dropout": ({"dropout": 0.3, "recurrent_dropout": 0.4}, [4, 2, 3]),
}


@pytest.mark.parametrize("n_states", [1, 3])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_backward_matches_central_differences(config, n_states):
    """Every parameter, the input, the initial and the final state (chaining)."""
    kwargs, lengths = CONFIGS[config]
    T, B, F = 4, 3, 2
    arch = _arch(n_states=n_states, n_inputs=F, **kwargs)
    params = _params(arch, seed=n_states)
    rng = np.random.RandomState(7)
    X = rng.randn(B, T, F)
    lengths = np.array(lengths or [T] * B)
    state0 = _state0(arch, rng, B)
    masks = draw_masks(arch, rng, B, np.float64)
    raw, stateT, cache = forward(arch, params, X, lengths, state0=state0, masks=masks)
    R = rng.randn(*raw.shape)
    S = [[rng.randn(*d["h"].shape) for d in layer] for layer in stateT]

    def objective():
        raw, stateT, _ = forward(arch, params, X, lengths, state0=state0, masks=masks)
        value = np.sum(R * raw)
        for layer, s_layer in zip(stateT, S, strict=True):
            for d, s in zip(layer, s_layer, strict=True):
                value += np.sum(s * d["h"])
        return value

    dstateT = [[{"h": s} for s in layer] for layer in S]
    grads, dstate0, dX = backward(arch, params, cache, R, dstateT, need_dX=True)
    assert list(grads) == list(params)
    for name, p in params.items():
        assert grads[name].shape == p.shape
        expected = _central_difference(objective, p)
        assert_allclose(grads[name], expected, rtol=1e-6, atol=1e-8, err_msg=name)
    assert_allclose(dX, _central_difference(objective, X), rtol=1e-6, atol=1e-8)
    for layer, d_layer in zip(state0, dstate0, strict=True):
        for d, dd in zip(layer, d_layer, strict=True):
            expected = _central_difference(objective, d["h"])
            assert_allclose(dd["h"], expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("loss", ["squared_error", "log_loss"])
def test_training_loss_gradient_matches_central_differences(loss):
    """``batch_loss_grad`` as training calls it: stacked, bidirectional, ragged,
    per-step weights, L2 penalty and fixed dropout masks."""
    arch = _arch(
        n_states=2,
        hidden_sizes=(2, 2),
        bidirectional=True,
        return_sequences=True,
        dropout=0.3,
        recurrent_dropout=0.3,
    )
    params = _params(arch, seed=3)
    assert_training_gradient(arch, params, loss, np.random.RandomState(4))


# ------------------------------------------------------------ the semantics


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(1, 8),
    B=st.integers(1, 3),
    H=st.integers(1, 3),
    scale=st.floats(0.1, 4.0),
    seed=seeds,
    data=st.data(),
)
def test_ever_seen_state_is_one_minus_product_of_absences(T, B, H, scale, seed, data):
    """K = 1: ``s_t = 1 - prod_{tau <= t} (1 - a_tau)``, both directions, ragged."""
    lengths = np.array(data.draw(st.lists(st.integers(1, T), min_size=B, max_size=B)))
    valid = np.arange(T)[:, None] < lengths[None, :]
    cell, fwd = _direction(seed, 2, H, 1, scale)
    _, bwd = _direction(seed + 1, 2, H, 1, scale)
    X = np.random.RandomState(seed + 2).randn(T, B, 2)
    Y, _, _, _ = layer_forward(cell, [fwd, bwd], X, lengths, valid)
    assert Y.shape == (T, B, 4 * H)
    for b, L in enumerate(lengths):
        a_f, s_f = Y[:L, b, :H], Y[:L, b, H : 2 * H]
        a_r, s_r = Y[:L, b, 2 * H : 3 * H], Y[:L, b, 3 * H :]
        assert_allclose(s_f, 1 - np.cumprod(1 - a_f, axis=0), rtol=0, atol=1e-12)
        # the reverse direction has seen the steps from t to the end
        expected = 1 - np.cumprod((1 - a_r)[::-1], axis=0)[::-1]
        assert_allclose(s_r, expected, rtol=0, atol=1e-12)
        # padded steps carry each direction's final state
        assert_array_equal(
            Y[L:, b, : 2 * H], np.broadcast_to(Y[L - 1, b, : 2 * H], (T - L, 2 * H))
        )
        assert_array_equal(
            Y[L:, b, 2 * H :], np.broadcast_to(Y[0, b, 2 * H :], (T - L, 2 * H))
        )


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(1, 10),
    H=st.integers(1, 3),
    n_states=st.integers(1, 4),
    scale=st.floats(0.1, 20.0),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=seeds,
)
def test_states_stay_in_unit_interval_and_ever_seen_never_decreases(
    T, H, n_states, scale, dtype, seed
):
    K = n_states
    cell, params = _direction(seed, 3, H, K, scale)
    params = [p.astype(dtype) for p in params]
    rng = np.random.RandomState(seed + 1)
    X = rng.randn(T, 4, 3).astype(dtype)
    h0 = rng.uniform(0, 1, (4, H * (1 + K))).astype(dtype)
    h = scan_forward(cell, params, X, {"h": h0})["h"]
    assert h.dtype == dtype
    assert np.all(h >= 0) and np.all(h <= 1)
    s1 = h[:, :, H : 2 * H]
    assert np.all(np.diff(s1, axis=0) >= 0)
    # a leaky state never exceeds the one that never forgets (from equal starts),
    # up to rounding
    h0_equal = np.tile(h0[:, H : 2 * H], (1, 1 + K))
    h = scan_forward(cell, params, X, {"h": h0_equal})["h"]
    ulp = np.finfo(dtype).eps
    for k in range(2, K + 1):
        assert np.all(h[:, :, k * H : (k + 1) * H] <= h[:, :, H : 2 * H] + 2 * ulp)


@pytest.mark.parametrize("n_states", [2, 4])
def test_leaky_states_decay_by_rho_after_the_feature_fires(n_states):
    """A unit that fires once, at a different step per sample, then stays silent."""
    K, T = n_states, 12
    cell = make_cell("statal", n_states=K)
    # a = sigmoid(+-100) is exactly 1 or 0 in float64
    params = [np.array([[100.0]]), np.zeros((1, 1 + K)), np.zeros(1), np.zeros(1)]
    fire = [1, 6]
    X = -np.ones((T, 2, 1))
    for b, t0 in enumerate(fire):
        X[t0, b] = 1.0
    h = scan_forward(cell, params, X)["h"][1:]  # (T, 2, 1 + K)
    rho = np.array([1.0] + [1 - 10.0 ** -(k - 1) for k in range(2, K + 1)])
    for b, t0 in enumerate(fire):
        assert_array_equal(h[:t0, b], 0)
        assert_array_equal(h[t0:, b, 0], (np.arange(T) == 0)[: T - t0])
        n = np.arange(T - t0)[:, None]
        assert_allclose(h[t0:, b, 1:], rho[None, :] ** n, rtol=1e-12)
    # "ever seen" cannot tell the two apart at the end, the leaky states can
    assert h[-1, 0, 1] == h[-1, 1, 1] == 1.0
    assert np.all(h[-1, 0, 2:] < h[-1, 1, 2:])


def test_chunks_chain_through_the_visible_state():
    """Step-by-step equals whole-sequence: the whole state is in ``h``."""
    arch = _arch(n_states=3, hidden_sizes=(3, 2), return_sequences=True)
    params = _params(arch, seed=5)
    X = np.random.RandomState(6).randn(2, 7, 2)
    lengths = np.array([7, 7])
    whole, stateT, _ = forward(arch, params, X, lengths)
    state, parts = None, []
    for chunk in (X[:, :3], X[:, 3:4], X[:, 4:]):
        raw, state, _ = forward(
            arch, params, chunk, np.full(2, chunk.shape[1]), state0=state
        )
        parts.append(raw)
    assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-12, atol=1e-14)
    for layer, layer_whole in zip(state, stateT, strict=True):
        assert_allclose(layer[0]["h"], layer_whole[0]["h"], rtol=1e-12)


# ----------------------------------------------------- shapes, dtype, setup


@pytest.mark.parametrize("n_states", [1, 3])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_output_width_is_hidden_size_times_one_plus_n_states(n_states, bidirectional):
    arch = _arch(
        n_states=n_states, hidden_sizes=(3, 2), n_inputs=4, bidirectional=bidirectional
    )
    nd, w = arch.n_directions, 1 + n_states
    assert arch.layer_sizes() == [(4, nd * 3 * w), (nd * 3 * w, nd * 2 * w)]
    params = init_params(arch, np.random.RandomState(0))
    assert params["weight_ih_l0"].shape == (3, 4)
    assert params["weight_hh_l0"].shape == (3, 3 * w)
    assert params["weight_ih_l1"].shape == (2, nd * 3 * w)
    assert params["weight_hh_l1"].shape == (2, 2 * w)
    assert params["head.weight"].shape == (2, nd * 2 * w)
    _, stateT, cache = forward(arch, params, np.ones((5, 6, 4)), np.full(5, 6))
    assert stateT[1][0]["h"].shape == (5, 2 * w)
    assert cache["Z"].shape == (5, nd * 2 * w)


def test_float32_stays_float32():
    arch = _arch(n_states=2, bidirectional=True, return_sequences=True)
    params = _params(arch, seed=0, dtype=np.float32)
    X = np.random.RandomState(1).randn(3, 4, 2).astype(np.float32)
    lengths = np.array([4, 2, 3])
    masks = draw_masks(
        replace(arch, recurrent_dropout=0.2),
        np.random.RandomState(2),
        3,
        np.float32,
    )
    raw, stateT, cache = forward(arch, params, X, lengths, masks=masks)
    assert raw.dtype == np.float32
    assert stateT[0][1]["h"].dtype == np.float32
    grads, dstate0, dX = backward(arch, params, cache, np.ones_like(raw), need_dX=True)
    assert dX.dtype == np.float32
    assert dstate0[0][0]["h"].dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    params64 = {k: v.astype(np.float64) for k, v in params.items()}
    raw64 = forward(arch, params64, X.astype(np.float64), lengths, masks=masks)[0]
    assert_allclose(raw, raw64, rtol=1e-4, atol=1e-5)


def test_fresh_unit_is_off_on_a_neutral_input():
    arch = _arch(n_states=2, hidden_sizes=(4,))
    params = init_params(arch, np.random.RandomState(0))
    assert np.all(params["bias_ih_l0"] < 0)
    cell = arch.make_cell()
    dir_params = [
        params[f"{k}_l0"] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]
    h = scan_forward(cell, dir_params, np.zeros((1, 1, 2)))["h"][1, 0]
    assert np.all(h[:4] < 0.5)
    assert_array_equal(h[4:8], h[:4])  # from "never seen", s_1 = a_1


def test_inputs_are_not_written():
    arch = _arch(n_states=3, bidirectional=True, recurrent_dropout=0.3)
    params = _params(arch, seed=1)
    rng = np.random.RandomState(2)
    X = rng.randn(2, 5, 2)
    lengths = np.array([5, 3])
    state0 = _state0(arch, rng, 2)
    masks = draw_masks(arch, rng, 2, np.float64)
    before = [X.copy(), {k: v.copy() for k, v in params.items()}]
    h0 = [d["h"].copy() for d in state0[0]]
    raw, _, cache = forward(arch, params, X, lengths, state0=state0, masks=masks)
    backward(arch, params, cache, np.ones_like(raw), need_dX=True)
    assert_array_equal(X, before[0])
    for k, v in params.items():
        assert_array_equal(v, before[1][k])
    for d, h in zip(state0[0], h0, strict=True):
        assert_array_equal(d["h"], h)


def test_registered_and_validates_n_states():
    assert CELLS["statal"] is StatalCell
    assert_array_equal(StatalCell(n_states=3).rho, [1.0, 0.9, 0.99])
    with pytest.raises(ValueError, match="n_states must be >= 1.*n_states=1"):
        make_cell("statal", n_states=0)
    for bad in (1.5, "2", True):
        with pytest.raises(TypeError, match="n_states must be an int"):
            StatalCell(n_states=bad)
