"""Tests for the WaveNet stack of dilated causal convolutions (skrnn._wavenet)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skrnn import _wavenet as wavenet
from skrnn._wavenet import (
    receptive_field,
    wavenet_backward,
    wavenet_forward,
    wavenet_init,
)

# every test on the NumPy path, and (slow selection) on the compiled kernels
pytestmark = pytest.mark.usefixtures("both_scan_paths")

seeds = st.integers(0, 2**31 - 1)


def _net(seed, F, C, n_layers, dtype=np.float64):
    """Glorot weights plus non-zero biases, so every gradient is exercised."""
    rng = np.random.RandomState(seed)
    params = wavenet_init(rng, F, n_channels=C, n_layers=n_layers, dtype=dtype)
    for key, value in params.items():
        if key.endswith(".bias"):
            params[key] = rng.uniform(-0.5, 0.5, value.shape).astype(dtype)
    return params


def _data(seed, T, B, F, dtype=np.float64):
    return np.random.RandomState(seed + 1).randn(T, B, F).astype(dtype)


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


@settings(max_examples=20, deadline=None)
@given(
    T=st.integers(1, 9),
    B=st.integers(1, 3),
    F=st.integers(1, 3),
    C=st.integers(1, 3),
    n_layers=st.integers(1, 4),
    seed=seeds,
    data=st.data(),
)
def test_gradients_match_central_differences(T, B, F, C, n_layers, seed, data):
    lengths = np.array(data.draw(st.lists(st.integers(0, T), min_size=B, max_size=B)))
    params = _net(seed, F, C, n_layers)
    X = _data(seed, T, B, F)
    R = np.random.RandomState(seed + 2).randn(T, B, C)

    def loss():
        return np.sum(R * wavenet_forward(params, X, lengths, n_layers=n_layers)[0])

    Y, _, cache = wavenet_forward(params, X, lengths, n_layers=n_layers)
    dX, grads = wavenet_backward(params, R, cache)
    assert list(grads) == list(params)
    for key in params:
        assert grads[key].shape == params[key].shape
        expected = _central_difference(loss, params[key])
        np.testing.assert_allclose(grads[key], expected, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(dX, _central_difference(loss, X), rtol=1e-5, atol=1e-8)
    padded = np.arange(T)[:, None] >= lengths[None, :]
    assert np.all(Y[padded] == 0)
    assert np.all(dX[padded] == 0)


@settings(max_examples=20, deadline=None)
@given(
    T=st.integers(2, 12),
    n_layers=st.integers(1, 4),
    seed=seeds,
    data=st.data(),
)
def test_causal_perturbing_a_step_leaves_earlier_outputs_unchanged(
    T, n_layers, seed, data
):
    t = data.draw(st.integers(0, T - 1))
    params = _net(seed, 2, 3, n_layers)
    params[f"layers.{n_layers - 1}.skip.bias"] += 10.0  # relu active: Y = skips
    X = _data(seed, T, 2, 2)
    X2 = X.copy()
    X2[t:] += np.random.RandomState(seed + 3).randn(T - t, 2, 2)
    Y = wavenet_forward(params, X, n_layers=n_layers)[0]
    Y2 = wavenet_forward(params, X2, n_layers=n_layers)[0]
    np.testing.assert_array_equal(Y2[:t], Y[:t])
    assert np.all(Y2[t] != Y[t])


@pytest.mark.parametrize("n_layers", [1, 2, 4, 11])
def test_receptive_field_is_exactly_the_dependence_window(n_layers):
    rf = receptive_field(n_layers)
    T, t = rf + 3, rf + 1  # inputs exist on both sides of the window
    # zero biases keep the summed skips centred, so relu leaves Y[t] alive
    params = wavenet_init(np.random.RandomState(0), 2, n_channels=8, n_layers=n_layers)
    X = _data(0, T, 2, 2)
    Y, _, cache = wavenet_forward(params, X, n_layers=n_layers)
    assert Y[t].max() > 0
    dY = np.zeros_like(Y)
    dY[t] = 1.0
    dX = wavenet_backward(params, dY, cache)[0]
    first = t - rf + 1
    assert np.all(dX[:first] == 0)
    assert np.all(dX[t + 1 :] == 0)
    assert np.abs(dX[first]).max() > 1e-12
    for step, depends in [(first - 1, False), (first, True)]:
        X2 = X.copy()
        X2[step] += 1.0
        Y2 = wavenet_forward(params, X2, n_layers=n_layers)[0]
        assert np.array_equal(Y2[t], Y[t]) != depends


def test_receptive_field_counts_the_repeating_dilation_cycle():
    # dilations 1, 2, ..., 512 then 1, 2, ... again
    assert receptive_field(1) == 2
    assert receptive_field(10) == 1024
    assert receptive_field(12) == 1024 + 1 + 2


@settings(max_examples=20, deadline=None)
@given(
    B=st.integers(1, 4),
    n_layers=st.integers(1, 4),
    seed=seeds,
    data=st.data(),
)
def test_padded_batch_matches_each_sequence_alone(B, n_layers, seed, data):
    lengths = np.array(data.draw(st.lists(st.integers(1, 9), min_size=B, max_size=B)))
    T, F, C = int(lengths.max()) + data.draw(st.integers(0, 2)), 2, 3
    params = _net(seed, F, C, n_layers)
    X = _data(seed, T, B, F)
    X[np.arange(T)[:, None] >= lengths[None, :]] = np.nan  # padding is ignored
    dY = np.random.RandomState(seed + 4).randn(T, B, C)
    Y, _, cache = wavenet_forward(params, X, lengths, n_layers=n_layers)
    dX, grads = wavenet_backward(params, dY, cache)
    total = {key: np.zeros_like(value) for key, value in params.items()}
    for b, L in enumerate(lengths):
        Yb, _, cache_b = wavenet_forward(params, X[:L, b : b + 1], n_layers=n_layers)
        dXb, grads_b = wavenet_backward(params, dY[:L, b : b + 1], cache_b)
        np.testing.assert_allclose(Y[:L, b], Yb[:, 0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dX[:L, b], dXb[:, 0], rtol=1e-10, atol=1e-12)
        assert np.all(Y[L:, b] == 0) and np.all(dX[L:, b] == 0)
        for key in total:
            total[key] += grads_b[key]
    for key in params:
        np.testing.assert_allclose(grads[key], total[key], rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(
    chunks=st.lists(st.integers(1, 7), min_size=1, max_size=5),
    n_layers=st.integers(1, 5),
    seed=seeds,
)
def test_streaming_chunks_equals_one_call_on_the_whole_series(chunks, n_layers, seed):
    params = _net(seed, 2, 3, n_layers)
    X = _data(seed, sum(chunks), 2, 2)
    Y, state_whole, _ = wavenet_forward(params, X, n_layers=n_layers)
    state, start, parts = None, 0, []
    for size in chunks:
        Yc, state, _ = wavenet_forward(
            params, X[start : start + size], n_layers=n_layers, state=state
        )
        parts.append(Yc)
        start += size
    np.testing.assert_allclose(np.concatenate(parts), Y, rtol=1e-10, atol=1e-12)
    for got, expected in zip(state, state_whole, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(n_layers=st.integers(1, 5), seed=seeds, data=st.data())
def test_streaming_ragged_chunks_continue_each_sequence(n_layers, seed, data):
    B, F, C = 3, 2, 3
    total = np.array(data.draw(st.lists(st.integers(1, 10), min_size=B, max_size=B)))
    split = np.array([data.draw(st.integers(0, L)) for L in total])
    params = _net(seed, F, C, n_layers)
    series = [_data(seed + b, L, 1, F)[:, 0] for b, L in enumerate(total)]
    rest = total - split
    X1 = np.full((max(split.max(), 1), B, F), np.nan)
    X2 = np.full((max(rest.max(), 1), B, F), np.nan)
    for b in range(B):
        X1[: split[b], b] = series[b][: split[b]]
        X2[: rest[b], b] = series[b][split[b] :]
    Y1, state, _ = wavenet_forward(params, X1, split, n_layers=n_layers)
    Y2, state, _ = wavenet_forward(params, X2, rest, n_layers=n_layers, state=state)
    assert all(a.flags.c_contiguous for a in [Y1, Y2, *state])
    for b in range(B):
        alone, state_b, _ = wavenet_forward(
            params, series[b][:, None], n_layers=n_layers
        )
        got = np.concatenate([Y1[: split[b], b], Y2[: rest[b], b]])
        np.testing.assert_allclose(got, alone[:, 0], rtol=1e-10, atol=1e-12)
        for s, s_b in zip(state, state_b, strict=True):
            np.testing.assert_allclose(s[:, b], s_b[:, 0], rtol=1e-10, atol=1e-12)


def test_float32_stays_float32_and_agrees_with_float64():
    lengths = np.array([6, 3, 1])
    p64 = _net(0, 2, 4, 3)
    p32 = {key: value.astype(np.float32) for key, value in p64.items()}
    X = _data(0, 6, 3, 2)
    dY = np.random.RandomState(5).randn(6, 3, 4)
    Y64, _, c64 = wavenet_forward(p64, X, lengths, n_layers=3)
    Y32, state32, c32 = wavenet_forward(p32, X.astype(np.float32), lengths, n_layers=3)
    dX64, g64 = wavenet_backward(p64, dY, c64)
    dX32, g32 = wavenet_backward(p32, dY.astype(np.float32), c32)
    dX32_from64 = wavenet_backward(p32, dY, c32)[0]  # dY is cast, never upcasting
    assert dX32_from64.dtype == np.float32
    np.testing.assert_array_equal(dX32_from64, dX32)
    outputs = [Y32, dX32, *state32, *g32.values()]
    assert all(a.dtype == np.float32 for a in outputs)
    np.testing.assert_allclose(Y32, Y64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dX32, dX64, rtol=1e-4, atol=1e-5)
    for key in g64:
        np.testing.assert_allclose(g32[key], g64[key], rtol=1e-4, atol=1e-4)


def test_init_is_deterministic_and_uses_only_the_given_rng():
    global_state = np.random.get_state()[1].copy()  # noqa: NPY002
    a = wavenet_init(np.random.RandomState(7), 3, n_channels=4, n_layers=3)
    b = wavenet_init(np.random.RandomState(7), 3, n_channels=4, n_layers=3)
    c = wavenet_init(np.random.RandomState(8), 3, n_channels=4, n_layers=3)
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)  # noqa: NPY002
    assert list(a) == list(b) == list(c)
    assert all(np.array_equal(a[key], b[key]) for key in a)
    assert not np.array_equal(a["input.weight"], c["input.weight"])


def test_init_layout_glorot_bounds_and_dtype():
    F, C, n_layers = 3, 16, 2
    params = wavenet_init(
        np.random.RandomState(0), F, n_channels=C, n_layers=n_layers, dtype=np.float32
    )
    expected = ["input.weight", "input.bias"]
    for k in range(n_layers):
        for name in ("conv", "res", "skip"):
            expected += [f"layers.{k}.{name}.weight", f"layers.{k}.{name}.bias"]
    assert list(params) == expected
    assert params["input.weight"].shape == (C, F, 1)
    assert params["layers.1.conv.weight"].shape == (2 * C, C, 2)
    assert params["layers.1.skip.weight"].shape == (C, C, 1)
    for key, value in params.items():
        assert value.dtype == np.float32
        if key.endswith(".bias"):
            assert np.all(value == 0)
        else:
            out_ch, in_ch, width = value.shape
            limit = np.sqrt(6.0 / ((in_ch + out_ch) * width))
            assert np.abs(value).max() <= limit
            assert np.abs(value).max() > 0.5 * limit


@pytest.mark.parametrize("lengths", [np.array([5, 2]), None])
def test_caller_arrays_are_never_written(lengths):
    params = _net(0, 2, 3, 3)
    X = _data(0, 5, 2, 2)
    state = wavenet_forward(params, X, n_layers=3)[1]
    dY = np.ones((5, 2, 3))
    inputs = [X, dY, *state] + ([] if lengths is None else [lengths])
    copies = [arr.copy() for arr in inputs]
    param_copies = {key: value.copy() for key, value in params.items()}
    _, state_out, cache = wavenet_forward(params, X, lengths, n_layers=3, state=state)
    _, _, cache_ref = wavenet_forward(params, X, lengths, n_layers=3, state=state)
    for s in state_out:
        s[...] = 99.0  # the returned state must alias neither inputs nor cache
    dX, grads = wavenet_backward(params, dY, cache)
    dX_ref, grads_ref = wavenet_backward(params, dY, cache_ref)
    np.testing.assert_array_equal(dX, dX_ref)
    for key in grads:
        np.testing.assert_array_equal(grads[key], grads_ref[key])
    for arr, copy in zip(inputs, copies, strict=True):
        np.testing.assert_array_equal(arr, copy)
    for key in params:
        np.testing.assert_array_equal(params[key], param_copies[key])


@pytest.mark.usefixtures("numpy_scan")
@pytest.mark.parametrize("for_backward", [True, False])
def test_blocks_of_columns_give_the_same_stack(monkeypatch, for_backward):
    params, X = _net(0, 2, 3, 4), _data(0, 9, 5, 2)  # 45 columns
    lengths = np.array([9, 3, 7, 1, 9])
    run = {"n_layers": 4, "for_backward": for_backward}
    whole = wavenet_forward(params, X, lengths, **run)
    monkeypatch.setattr(wavenet, "BLOCK_COLUMNS", 4)  # blocks of 4, the last of 1
    blocks = wavenet_forward(params, X, lengths, **run)
    for a, b in zip([whole[0], *whole[1]], [blocks[0], *blocks[1]], strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    if for_backward:
        dY = _data(1, 9, 5, 3)
        for a, b in zip(
            wavenet_backward(params, dY, whole[2])[1].values(),
            wavenet_backward(params, dY, blocks[2])[1].values(),
            strict=True,
        ):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
