"""Tests of skrnn._recurrent and skrnn._scan: reversal, layers, gradients, init."""

import math
import tracemalloc
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import skrnn._scan as scan
from skrnn._cells import CELLS
from skrnn._recurrent import (
    init_direction,
    layer_backward,
    layer_forward,
    make_cell,
    reverse_index,
)
from skrnn._scan import grad_chunk, scan_backward, scan_forward

# The gradient and parity checks run on both implementations of the scan.
pytestmark = pytest.mark.usefixtures("both_scan_paths")

CELL_NAMES = sorted(CELLS)
FD_EXAMPLES = max(5, settings.default.max_examples // 2)


def _central_difference(f, arr, eps=1e-6):
    """Gradient of the scalar ``f()`` with respect to ``arr``, perturbed in place."""
    grad = np.zeros(arr.shape)
    for idx in np.ndindex(arr.shape):
        orig = arr[idx]
        arr[idx] = orig + eps
        up = f()
        arr[idx] = orig - eps
        down = f()
        arr[idx] = orig
        grad[idx] = (up - down) / (2 * eps)
    return grad


def _random_direction(rng, cell, n_inputs, H):
    """Initial weights plus noise on everything (biases too)."""
    return [
        p + 0.3 * rng.standard_normal(p.shape)
        for p in init_direction(rng, cell, n_inputs, H, np.float64)
    ]


def _carry(rng, cell, B, H):
    carry = {"h": rng.standard_normal((B, cell.output_size(H)))}
    carry.update({name: rng.standard_normal((B, H)) for name in cell.hidden_carries})
    return carry


def _grad_chunks(n_chunks):
    """Backward passes cut into ``n_chunks`` chunks of steps, however small."""
    return mock.patch.multiple(scan, GRAD_CHUNKS=n_chunks, MIN_CHUNK_ROWS=1)


def _peak_bytes(fn):
    """Peak bytes traced by tracemalloc while ``fn()`` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _lengths_and_valid(lengths, T):
    lengths = np.asarray(lengths)
    valid = np.arange(T)[:, None] < lengths[None, :]
    return lengths, None if valid.all() else valid


@st.composite
def layers(draw, cell_name):
    """A tiny (maybe bidirectional) layer, a ragged batch, random state and masks."""
    cell = make_cell(
        cell_name,
        draw(st.sampled_from(["tanh", "relu"])),
        draw(st.integers(1, 2)),
    )
    n_dir, F, H = (
        draw(st.integers(1, 2)),
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
    )
    T, B = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    with_masks = draw(st.booleans())
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    dir_params = [_random_direction(rng, cell, F, H) for _ in range(n_dir)]
    X = rng.standard_normal((T, B, F))
    state0 = [_carry(rng, cell, B, H) for _ in range(n_dir)]
    V = cell.output_size(H)
    masks = None
    if with_masks:
        masks = [(rng.uniform(size=(B, V)) > 0.3) / 0.7 for _ in range(n_dir)]
    return cell, dir_params, X, lengths, state0, masks, rng


# ------------------------------------------------------------------ reverse_index


def test_reverse_index_on_a_ragged_batch():
    idx = reverse_index(np.array([3, 1, 4]), 4)
    # column b reverses 0..lengths[b]-1 and leaves padded steps where they are
    expected = [
        [2, 0, 3],
        [1, 1, 2],
        [0, 2, 1],
        [3, 3, 0],
    ]
    assert_array_equal(idx, expected)


@given(
    lengths=st.lists(st.integers(1, 7), min_size=1, max_size=5), extra=st.integers(0, 3)
)
def test_reverse_index_is_an_involution_that_fixes_padding(lengths, extra):
    lengths = np.array(lengths)
    T = int(lengths.max()) + extra
    idx = reverse_index(lengths, T)
    cols = np.arange(len(lengths))
    assert_array_equal(
        idx[idx, cols], np.broadcast_to(np.arange(T)[:, None], idx.shape)
    )
    for b, L in enumerate(lengths):
        assert_array_equal(idx[:L, b], np.arange(L)[::-1])
        assert_array_equal(idx[L:, b], np.arange(L, T))


# ----------------------------------------------------------- bidirectional layers


@pytest.mark.parametrize("cell_name", CELL_NAMES)
@given(data=st.data())
def test_bidirectional_layer_reverses_only_the_valid_part(cell_name, data):
    """Each half equals one sequence run alone: forward, or reversed valid part."""
    cell, dir_params, X, lengths, state0, masks, _ = data.draw(layers(cell_name))
    if len(dir_params) == 1:
        dir_params = dir_params * 2
        state0 = state0 * 2
    lengths, valid = _lengths_and_valid(lengths, X.shape[0])
    Y, last, stateT, _ = layer_forward(cell, dir_params, X, lengths, valid, state0)
    V = dir_params[0][1].shape[1]
    carries = ("h", *cell.hidden_carries)
    for b, L in enumerate(lengths):
        for d, x_b in enumerate([X[:L, b : b + 1], X[:L, b : b + 1][::-1].copy()]):
            carry0 = {name: state0[d][name][b : b + 1] for name in carries}
            c = scan_forward(cell, dir_params[d], x_b, carry0)
            out = c["h"][1:, 0] if d == 0 else c["h"][1:, 0][::-1]
            assert_allclose(Y[:L, b, d * V : (d + 1) * V], out, rtol=1e-12, atol=1e-14)
            assert_allclose(last[b, d * V : (d + 1) * V], c["h"][-1, 0], rtol=1e-12)
            for name in carries:
                assert_allclose(stateT[d][name][b], c[name][-1, 0], rtol=1e-12)
    # PyTorch's h_n: the reverse direction's final state is its output at step 0
    assert_allclose(last[:, V:], Y[0, :, V:], rtol=1e-12)


# ------------------------------------------------------------------ layer gradients


@settings(max_examples=FD_EXAMPLES)
@pytest.mark.parametrize("cell_name", CELL_NAMES)
@given(data=st.data())
def test_layer_backward_matches_finite_differences(cell_name, data):
    """Outputs, last state and final carries projected at random; masks held fixed.

    The backward pass may take the weight gradients in chunks of steps (the
    Elman cell): any number of chunks gives the same gradients.
    """
    cell, dir_params, X, lengths, state0, masks, rng = data.draw(layers(cell_name))
    lengths, valid = _lengths_and_valid(lengths, X.shape[0])
    n_chunks = data.draw(st.integers(1, X.shape[0]), label="n_chunks")

    def run():
        return layer_forward(cell, dir_params, X, lengths, valid, state0, masks)

    Y, last, stateT, cache = run()
    dY, dlast = rng.standard_normal(Y.shape), rng.standard_normal(last.shape)
    dT = [{k: rng.standard_normal(v.shape) for k, v in s.items()} for s in stateT]

    def f():
        Y, last, stateT, _ = run()
        value = np.sum(Y * dY) + np.sum(last * dlast)
        for s, ds in zip(stateT, dT, strict=True):
            value += sum(np.sum(s[k] * ds[k]) for k in s)
        return float(value)

    with _grad_chunks(n_chunks):
        dX, dstate0, grads = layer_backward(cell, dir_params, cache, dY, dlast, dT)
    checks = [(X, dX)]
    for d in range(len(dir_params)):
        checks += list(zip(dir_params[d], grads[d], strict=True))
        checks += [(state0[d][k], dstate0[d][k]) for k in state0[d]]
    numeric = [_central_difference(f, arr) for arr, _ in checks]
    top = max(np.abs(num).max() for num in numeric)
    for i, ((_, ana), num) in enumerate(zip(checks, numeric, strict=True)):
        scale = max(np.abs(num).max(), 1e-3 * top)
        assert_allclose(ana, num, rtol=0, atol=1e-5 * scale + 1e-8, err_msg=str(i))


@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_scan_defaults_equal_explicit_neutral_values(cell_name):
    """carry0=None is zeros, valid=None is all valid, rec_mask=None is all ones."""
    rng = np.random.RandomState(0)
    cell = make_cell(cell_name, n_states=2)
    params = _random_direction(rng, cell, 2, 3)
    X = rng.standard_normal((4, 2, 2))
    zeros = {k: np.zeros_like(v) for k, v in _carry(rng, cell, 2, 3).items()}
    ones = np.ones((2, cell.output_size(3)))
    default = scan_forward(cell, params, X)
    explicit = scan_forward(cell, params, X, zeros, np.ones((4, 2), bool), ones)
    for name in ("h", *cell.hidden_carries):
        assert_allclose(default[name], explicit[name], rtol=1e-14, atol=1e-15)
    dY = rng.standard_normal(default["h"][1:].shape)
    for a, b in zip(
        scan_backward(cell, params, X, default, dY)[2],
        scan_backward(cell, params, X, explicit, dY)[2],
        strict=True,
    ):
        assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_scan_leaves_caller_arrays_alone(cell_name):
    rng = np.random.RandomState(3)
    cell = make_cell(cell_name, n_states=2)
    params = _random_direction(rng, cell, 2, 2)
    X, carry0 = rng.standard_normal((3, 2, 2)), _carry(rng, cell, 2, 2)
    valid = np.array([[True, True], [True, False], [True, False]])
    mask = np.full((2, cell.output_size(2)), 2.0)
    dY = rng.standard_normal((3, 2, cell.output_size(2)))
    dT = {k: rng.standard_normal(v.shape) for k, v in carry0.items()}
    inputs = [*params, X, *carry0.values(), valid, mask, dY, *dT.values()]
    copies = [a.copy() for a in inputs]
    cache = scan_forward(cell, params, X, carry0, valid, mask)
    scan_backward(cell, params, X, cache, dY, dT)
    for a, b in zip(inputs, copies, strict=True):
        assert_array_equal(a, b)


#: Values per step and sample that BPTT must keep from the forward pass of a
#: layer of H units: the gate values and the states the backward pass reads.
BPTT_KEEPS = {
    "rnn": lambda H, K: H,  # h (the backward pass reads tanh' from h)
    "lstm": lambda H, K: 6 * H,  # i, f, g, o, c, h
    "gru": lambda H, K: 5 * H,  # r, z, n, h and the candidate's hidden projection
    "statal": lambda H, K: H + (1 + K) * H,  # the gate and the visible state
}


@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_forward_keeps_what_bptt_needs(cell_name):
    # One step more of each carry (the initial state) and per-step scratch rows
    # are all the forward pass may add. (Before the gate buffer moved into the
    # output buffer, the Elman cell kept twice what it needs; before tanh(c) was
    # recomputed in the backward pass, the LSTM cell kept 7/6 of it.)
    T, B, F, H, K = 200, 16, 3, 24, 2
    rng = np.random.RandomState(0)
    cell = make_cell(cell_name, n_states=K)
    params = _random_direction(rng, cell, F, H)
    X = rng.standard_normal((T, B, F))
    peak = _peak_bytes(lambda: scan_forward(cell, params, X))
    keeps = T * B * BPTT_KEEPS[cell_name](H, K) * X.itemsize
    ufunc_buffer = 8192 * X.itemsize  # NumPy's, while adding the bias
    assert peak < 1.02 * keeps + ufunc_buffer, peak / keeps


@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_backward_keeps_no_second_sequence_buffer(cell_name):
    # The backward pass turns the gate buffer (and, for the GRU, its candidate's
    # hidden projection) into gradients in place; the Elman cell, whose gate
    # buffer is its output, holds the gradients of a chunk of steps at a time.
    T, B, F, H = 200, 16, 3, 24
    rng = np.random.RandomState(0)
    cell = make_cell(cell_name)
    params = _random_direction(rng, cell, F, H)
    X = rng.standard_normal((T, B, F))
    dY = rng.standard_normal((T, B, cell.output_size(H)))
    cache = scan_forward(cell, params, X)
    peak = _peak_bytes(lambda: scan_backward(cell, params, X, cache, dY, need_dX=False))
    assert peak < 0.25 * T * B * H * X.itemsize, peak


def test_grad_chunk_bounds_the_gradient_buffer():
    rnn, lstm = make_cell("rnn"), make_cell("lstm")
    assert grad_chunk(lstm, 1000, 64) == 1000  # gates become gradients in place
    for T, B in [(1, 1), (7, 1), (100, 64), (200, 128), (5000, 8), (3, 4096)]:
        chunk = grad_chunk(rnn, T, B)
        assert 1 <= chunk <= T
        # a small fraction of the steps, unless that is too few rows for a GEMM
        assert chunk <= math.ceil(T / scan.GRAD_CHUNKS) or (
            (chunk - 1) * B < scan.MIN_CHUNK_ROWS
        )
        assert chunk == T or chunk * B >= scan.MIN_CHUNK_ROWS


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_chunked_weight_gradients_equal_one_chunk(nonlinearity):
    # Ragged batch, recurrent dropout, gradients on every output and on the final
    # state; 7 chunks of 7 or 6 steps, against the whole sequence at once.
    T, B, F, H = 45, 5, 3, 4
    rng = np.random.RandomState(1)
    cell = make_cell("rnn", nonlinearity)
    params = _random_direction(rng, cell, F, H)
    X = rng.standard_normal((T, B, F))
    _, valid = _lengths_and_valid([45, 30, 1, 44, 12], T)
    mask = (rng.uniform(size=(B, H)) > 0.3) / 0.7
    carry0 = _carry(rng, cell, B, H)
    dY = rng.standard_normal((T, B, H)) * valid[:, :, None]
    dT = {"h": rng.standard_normal((B, H))}
    results = []
    for n_chunks in (1, 7):
        cache = scan_forward(cell, params, X, carry0, valid, mask)
        with _grad_chunks(n_chunks):
            assert grad_chunk(cell, T, B) == math.ceil(T / n_chunks)
            results.append(scan_backward(cell, params, X, cache, dY, dT))
    (dX1, d01, g1), (dX7, d07, g7) = results
    assert_allclose(dX7, dX1, rtol=1e-12, atol=1e-14)
    assert_allclose(d07["h"], d01["h"], rtol=1e-12, atol=1e-14)
    for a, b in zip(g7, g1, strict=True):
        assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell_name", CELL_NAMES)
@pytest.mark.parametrize("sharded", [False, True])
def test_prediction_scan_equals_the_training_scan(
    monkeypatch, shard_every_batch, cell_name, sharded
):
    # for_backward=False projects the inputs 2 steps at a time (the last chunk
    # shorter) and reuses one row for step buffers: the same states come out.
    T, B, F, H = 7, 6, 3, 4
    rng = np.random.RandomState(4)
    cell = make_cell(cell_name, n_states=2)
    params = _random_direction(rng, cell, F, H)
    X = rng.standard_normal((T, B, F))
    _, valid = _lengths_and_valid([7, 3, 5, 1, 7, 6], T)
    mask = (rng.uniform(size=(B, cell.output_size(H))) > 0.3) / 0.7
    carry0 = _carry(rng, cell, B, H)
    monkeypatch.setattr(scan, "PROJECT_CHUNK_BYTES", 2 * B * cell.n_gates * H * 8)
    if sharded:
        shard_every_batch()
    train = scan_forward(cell, params, X, carry0, valid, mask)
    pred = scan_forward(cell, params, X, carry0, valid, mask, for_backward=False)
    assert len(pred["shards"]) == (2 if sharded else 1)
    for name in ("h", *cell.hidden_carries):
        assert_allclose(pred[name], train[name], rtol=1e-13, atol=1e-14)
    with pytest.raises(ValueError, match="for_backward=True"):
        scan_backward(cell, params, X, pred)


@pytest.mark.parametrize("cell_name", CELL_NAMES)
def test_prediction_scan_keeps_only_the_carries(monkeypatch, cell_name):
    # Besides the carries: 8 steps of input projection, NumPy's ufunc buffer
    # (8192 values), a few per-step rows and the weights as the scan lays them out.
    T, B, F, H, K = 200, 16, 3, 24, 2
    rng = np.random.RandomState(0)
    cell = make_cell(cell_name, n_states=K)
    params = _random_direction(rng, cell, F, H)
    X = rng.standard_normal((T, B, F))
    gate_row = B * cell.n_gates * H * X.itemsize
    monkeypatch.setattr(scan, "PROJECT_CHUNK_BYTES", 8 * gate_row)
    peak = _peak_bytes(lambda: scan_forward(cell, params, X, for_backward=False))
    per_step = cell.output_size(H) + H * len(cell.hidden_carries)
    carries = (T + 1) * B * per_step * X.itemsize
    extra = 8 * gate_row + (8192 + 10 * B * per_step) * X.itemsize
    extra += 2 * sum(p.nbytes for p in params)
    assert peak < carries + extra, peak / carries


def test_make_cell_builds_the_registered_class_with_its_own_options():
    given = {"nonlinearity": "relu", "n_states": 2}
    for name in CELL_NAMES:
        cell = make_cell(name, "relu", 2)
        assert type(cell) is CELLS[name]
        for option in given:  # a cell holds the options it declares, no other
            assert hasattr(cell, option) == (option in cell.options)
            if option in cell.options:
                assert getattr(cell, option) == given[option]
    assert make_cell("rnn", "relu", 2).options == ("nonlinearity",)
    assert make_cell("statal", "relu", 2).options == ("n_states",)
    with pytest.raises(KeyError):
        make_cell("no such cell")


# ------------------------------------------------------------------ initialisation


@pytest.mark.parametrize("cell_name", CELL_NAMES)
@pytest.mark.parametrize("n_inputs, H", [(1, 1), (3, 5), (7, 2)])
def test_init_direction_orthogonal_glorot_and_deterministic(cell_name, n_inputs, H):
    cell = make_cell(cell_name, n_states=2)
    G, V = cell.n_gates, cell.output_size(H)
    w_ih, w_hh, b_ih, b_hh = init_direction(
        np.random.RandomState(0), cell, n_inputs, H, np.float64
    )
    assert w_ih.shape == (G * H, n_inputs) and w_hh.shape == (G * H, V)
    assert b_ih.shape == b_hh.shape == (G * H,)
    limit = math.sqrt(6.0 / (n_inputs + H))  # Glorot-uniform per gate block
    assert np.abs(w_ih).max() <= limit
    if w_ih.size >= 6:
        assert np.abs(w_ih).max() > 0.3 * limit
    for g in range(G):
        block = w_hh[g * H : (g + 1) * H]  # (H, V): orthonormal columns or rows
        gram = block.T @ block if H >= V else block @ block.T
        assert_allclose(gram, np.eye(min(H, V)), atol=1e-12)
    again = init_direction(np.random.RandomState(0), cell, n_inputs, H, np.float32)
    for a, b in zip([w_ih, w_hh, b_ih, b_hh], again, strict=True):
        assert b.dtype == np.float32
        assert_allclose(b, a, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("cell_name", ["rnn", "gru", "lstm"])
def test_init_direction_biases(cell_name):
    """Zero biases, except the LSTM forget gate ``bias_ih`` block 1, which is one."""
    H = 3
    cell = make_cell(cell_name)
    _, _, b_ih, b_hh = init_direction(np.random.RandomState(0), cell, 2, H, np.float64)
    expected = np.zeros(cell.n_gates * H)
    if cell_name == "lstm":
        expected[H : 2 * H] = 1.0
    assert_array_equal(b_ih, expected)
    assert_array_equal(b_hh, 0)


def test_init_direction_blocks_are_independent_draws():
    cell = make_cell("lstm")
    w_ih, w_hh, _, _ = init_direction(np.random.RandomState(0), cell, 3, 3, np.float64)
    for a, b in [(0, 1), (1, 2), (2, 3)]:
        assert not np.allclose(w_ih[a * 3 : (a + 1) * 3], w_ih[b * 3 : (b + 1) * 3])
        assert not np.allclose(w_hh[a * 3 : (a + 1) * 3], w_hh[b * 3 : (b + 1) * 3])
