"""Tests of skrnn._network and skrnn._losses: shapes, gradients, padding, chunks."""

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from skrnn._bptt import TrainData, batch_loss_grad
from skrnn._cells import CELLS
from skrnn._losses import LOSSES, OUTPUT_ACTIVATIONS
from skrnn._network import (
    Architecture,
    backward,
    draw_masks,
    forward,
    init_params,
    valid_mask,
    weight_names,
)
from skrnn._pooling import POOLINGS

# The gradient and parity checks run on both implementations of the scan.
pytestmark = pytest.mark.usefixtures("both_scan_paths")

CELL_NAMES = sorted(CELLS)
#: What a network can stack: every cell, and the dilated convolutions.
STACK_NAMES = [*CELL_NAMES, "wavenet"]
LOSS_NAMES = sorted(LOSSES)
# Entrywise finite differences cost two forwards per number: fewer, costlier examples.
FD_EXAMPLES = max(5, settings.default.max_examples // 2)


# ----------------------------------------------------------------------- helpers


def _map(fn, tree):
    """Apply ``fn`` to every array of a nested list/tuple/dict (None stays None)."""
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {key: _map(fn, value) for key, value in tree.items()}
    if isinstance(tree, list | tuple):
        return [_map(fn, value) for value in tree]
    return fn(tree)


def _leaves(tree):
    """Arrays of a nested list/dict in a fixed order."""
    if tree is None:
        return []
    if isinstance(tree, dict):
        return [leaf for value in tree.values() for leaf in _leaves(value)]
    if isinstance(tree, list | tuple):
        return [leaf for value in tree for leaf in _leaves(value)]
    return [tree]


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


def _assert_matches_numerical(f, named, analytic):
    """Every entry of ``analytic[i]`` equals the central difference for ``named[i]``.

    The tolerance is 1e-5 relative to the largest numerical entry of the array
    (floored at 1e-3 of the largest entry overall, plus 1e-8 absolute for noise).
    """
    numeric = [(name, _central_difference(f, arr)) for name, arr in named]
    top = max(float(np.abs(num).max(initial=0)) for _, num in numeric)
    for (name, num), ana in zip(numeric, analytic, strict=True):
        assert ana.shape == num.shape, name
        scale = max(float(np.abs(num).max(initial=0)), 1e-3 * top)
        assert_allclose(ana, num, rtol=0, atol=1e-5 * scale + 1e-8, err_msg=name)


def _objective(raw, stateT, R, S):
    """A random projection of every output and final state (gradient: R and S)."""
    value = float(np.sum(raw * R))
    for a, s in zip(_leaves(stateT), _leaves(S), strict=True):
        value += float(np.sum(a * s))
    return value


def _steps_valid(lengths, t0, t1):
    return np.arange(t0, t1)[:, None] < lengths[None, :]


@dataclass
class Case:
    arch: Architecture
    params: dict
    X: np.ndarray  # (B, T, F), random values on padded steps too
    lengths: np.ndarray
    state0: list  # random initial state, same structure as forward's stateT
    masks: dict | None  # fixed dropout masks (or None)
    rng: np.random.RandomState

    def run(self, **kwargs):
        kwargs.setdefault("state0", self.state0)
        kwargs.setdefault("masks", self.masks)
        return forward(self.arch, self.params, self.X, self.lengths, **kwargs)

    def random_like(self, tree):
        return _map(lambda a: self.rng.standard_normal(a.shape).astype(a.dtype), tree)


@st.composite
def cases(draw, cell, *, bidirectional=None, dtype=np.float64, pooling="last"):
    """A tiny random network, a ragged batch, a random state and dropout masks.

    ``pooling=None`` draws the many-to-one readout too. The ``"wavenet"`` stack
    gets equal widths, one direction and no recurrent dropout (all it supports).
    """
    wavenet = cell == "wavenet"
    depth = draw(st.integers(1, 3))
    if wavenet:
        hidden = [draw(st.integers(1, 3))] * depth
    else:
        hidden = draw(st.lists(st.integers(1, 3), min_size=depth, max_size=depth))
    T, B = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    if bidirectional is None:
        bidirectional = not wavenet and draw(st.booleans())
    arch = Architecture(
        cell=cell,
        hidden_sizes=tuple(hidden),
        n_inputs=draw(st.integers(1, 3)),
        n_outputs=draw(st.integers(1, 2)),
        bidirectional=bidirectional,
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])),
        return_sequences=draw(st.booleans()),
        dropout=draw(st.sampled_from([0.0, 0.4])),
        recurrent_dropout=0.0 if wavenet else draw(st.sampled_from([0.0, 0.4])),
        input_dropout=draw(st.sampled_from([0.0, 0.3])),
        n_states=draw(st.integers(1, 2)),
        pooling=draw(st.sampled_from(list(POOLINGS))) if pooling is None else pooling,
    )
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    # Perturb every parameter (biases too) so no gradient is trivially zero.
    params = {
        name: (p + 0.3 * rng.standard_normal(p.shape)).astype(dtype)
        for name, p in init_params(arch, rng).items()
    }
    X = rng.standard_normal((B, T, arch.n_inputs)).astype(dtype)
    lengths = np.array(lengths)
    _, probe, _ = forward(arch, params, X, lengths)
    state0 = _map(lambda a: (0.5 * rng.standard_normal(a.shape)).astype(dtype), probe)
    masks = draw_masks(arch, rng, B, dtype)
    return Case(arch, params, X, lengths, state0, masks, rng)


def _targets(case, raw, loss="squared_error", per_step=False, dtype=np.float64):
    """A training batch as the estimators build it, with random targets.

    Targets in the raw-output layout: Gaussian for ``"squared_error"``, one-hot
    rows for ``"log_loss"``, 0/1 entries for ``"binary_log_loss"``. Random
    positive sample weights; with ``return_sequences`` a step mask that is zero
    on padded steps, and with ``per_step`` random weights per valid step instead
    of per sample (the sample weights are then ones, as the estimators pass them).
    """
    rng, shape = case.rng, raw.shape
    if loss == "log_loss":
        Y = np.eye(shape[-1])[rng.randint(shape[-1], size=shape[:-1])]
    elif loss == "binary_log_loss":
        Y = rng.randint(2, size=shape) * 1.0
    else:
        Y = rng.standard_normal(shape)
    B = len(case.lengths)
    sample_weight = rng.uniform(0.5, 2.0, B)
    step_mask = None
    if case.arch.return_sequences:
        step_mask = _steps_valid(case.lengths, 0, shape[1]).T * 1.0
        if per_step:
            step_mask *= rng.uniform(0.5, 2.0, step_mask.shape)
            sample_weight = np.ones(B)
    return TrainData(
        case.X,
        case.lengths,
        Y.astype(dtype),
        sample_weight.astype(dtype),
        None if step_mask is None else step_mask.astype(dtype),
    )


def _train_loss(case, batch, alpha, loss="squared_error"):
    """``(value, grads)`` of the function every training step calls."""
    return batch_loss_grad(case.arch, loss, case.params, batch, alpha, masks=case.masks)


# ------------------------------------------------------------- shapes and dtypes


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_forward_backward_shapes_and_dtypes(cell, data):
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    case = data.draw(cases(cell, dtype=dtype))
    arch, X = case.arch, case.X
    B, T, _ = X.shape
    c = arch.make_cell()
    raw, stateT, cache = case.run()
    if arch.return_sequences:
        assert raw.shape == (B, T, arch.n_outputs)
    else:
        assert raw.shape == (B, arch.n_outputs)
    assert raw.dtype == X.dtype
    assert np.isfinite(raw).all()
    assert len(stateT) == len(arch.hidden_sizes)
    for H, layer in zip(arch.hidden_sizes, stateT, strict=True):
        assert len(layer) == arch.n_directions
        for state in layer:
            assert list(state) == ["h", *c.hidden_carries]
            assert state["h"].shape == (B, c.output_size(H))
            for name in c.hidden_carries:
                assert state[name].shape == (B, H)
    for s, s0 in zip(_leaves(stateT), _leaves(case.state0), strict=True):
        assert s.shape == s0.shape and s.dtype == X.dtype
    R, S = case.random_like(raw), case.random_like(stateT)
    grads, dstate0, dX = backward(arch, case.params, cache, R, S, need_dX=True)
    assert list(grads) == list(case.params)
    for name, g in grads.items():
        assert g.shape == case.params[name].shape and g.dtype == X.dtype, name
    assert dX.shape == X.shape and dX.dtype == X.dtype
    for d, s0 in zip(_leaves(dstate0), _leaves(case.state0), strict=True):
        assert d.shape == s0.shape and d.dtype == X.dtype
    assert backward(arch, case.params, cache, R)[2] is None  # need_dX=False


# ---------------------------------------------------------------------- gradients


@settings(max_examples=FD_EXAMPLES)
@pytest.mark.parametrize("cell", STACK_NAMES)
@given(
    data=st.data(),
    alpha=st.sampled_from([0.0, 0.3]),
    loss=st.sampled_from(LOSS_NAMES),
    per_step=st.booleans(),
)
def test_training_loss_gradient_matches_finite_differences(
    cell, data, alpha, loss, per_step
):
    """``batch_loss_grad`` (what every training step calls), full BPTT: the loss
    with its output activation, the L2 penalty with training's normaliser, sample
    or per-step weights, fixed dropout masks, pooled readouts, ragged lengths."""
    case = data.draw(cases(cell, pooling=None))
    batch = _targets(case, case.run()[0], loss, per_step)

    def f():
        return _train_loss(case, batch, alpha, loss)[0]

    _, grads = _train_loss(case, batch, alpha, loss)
    assert list(grads) == list(case.params)
    _assert_matches_numerical(f, list(case.params.items()), list(grads.values()))


@settings(max_examples=FD_EXAMPLES)
@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_backward_matches_finite_differences(cell, data):
    """Parameters, inputs and initial state, with a random ``draw`` and ``dstateT``."""
    case = data.draw(cases(cell))
    raw, stateT, cache = case.run()
    R, S = case.random_like(raw), case.random_like(stateT)

    def f():
        return _objective(*case.run()[:2], R, S)

    grads, dstate0, dX = backward(case.arch, case.params, cache, R, S, need_dX=True)
    named = [*case.params.items(), ("X", case.X)]
    named += [(f"state0[{i}]", a) for i, a in enumerate(_leaves(case.state0))]
    _assert_matches_numerical(f, named, [*grads.values(), dX, *_leaves(dstate0)])


# ------------------------------------------------------ padding, steps and chunks


def _row(tree, b):
    return _map(lambda a: a[b : b + 1], tree)


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_padded_batch_equals_sequences_one_by_one(cell, data):
    case = data.draw(cases(cell))
    arch, params = case.arch, case.params
    raw, stateT, cache = case.run()
    R, S = case.random_like(raw), case.random_like(stateT)
    if arch.return_sequences:  # what a loss sends: nothing on padded steps
        R *= _steps_valid(case.lengths, 0, raw.shape[1]).T[:, :, None]
    grads, dstate0, dX = backward(arch, params, cache, R, S, need_dX=True)
    total = {name: np.zeros_like(g) for name, g in grads.items()}
    for b, L in enumerate(case.lengths):
        X_b = case.X[b : b + 1, :L]
        raw_b, stateT_b, cache_b = forward(
            arch,
            params,
            X_b,
            case.lengths[b : b + 1],
            state0=_row(case.state0, b),
            masks=_row(case.masks, b),
        )
        if arch.return_sequences:
            assert_allclose(raw_b[0], raw[b, :L], rtol=1e-10, atol=1e-12)
            R_b = R[b : b + 1, :L]
        else:
            assert_allclose(raw_b[0], raw[b], rtol=1e-10, atol=1e-12)
            R_b = R[b : b + 1]
        for s_b, s in zip(_leaves(stateT_b), _leaves(stateT), strict=True):
            assert_allclose(s_b[0], s[b], rtol=1e-10, atol=1e-12)
        g_b, d0_b, dX_b = backward(arch, params, cache_b, R_b, _row(S, b), need_dX=True)
        for name, g in g_b.items():
            total[name] += g
        assert_allclose(dX_b[0], dX[b, :L], rtol=1e-10, atol=1e-12)
        assert_array_equal(dX[b, L:], 0)
        for d_b, d in zip(_leaves(d0_b), _leaves(dstate0), strict=True):
            assert_allclose(d_b[0], d[b], rtol=1e-10, atol=1e-12)
    for name, g in grads.items():
        assert_allclose(total[name], g, rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_step_by_step_equals_whole_sequence(cell, data):
    case = data.draw(cases(cell, bidirectional=False))
    raw, stateT, _ = case.run()
    state = case.state0
    for t in range(case.X.shape[1]):
        raw_t, state, _ = forward(
            case.arch,
            case.params,
            case.X[:, t : t + 1],
            case.lengths,
            valid=_steps_valid(case.lengths, t, t + 1),
            state0=state,
            masks=case.masks,
        )
        if case.arch.return_sequences:
            assert_allclose(raw_t[:, 0], raw[:, t], rtol=1e-12, atol=1e-12)
    if not case.arch.return_sequences:
        assert_allclose(raw_t, raw, rtol=1e-12, atol=1e-12)
    for s_t, s in zip(_leaves(state), _leaves(stateT), strict=True):
        assert_allclose(s_t, s, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data(), window=st.integers(1, 4))
def test_chunks_chain_forward_and_backward(cell, data, window):
    """Truncated-BPTT windows with carried state and carried state gradient."""
    case = data.draw(cases(cell, bidirectional=False))
    arch, params = case.arch, case.params
    T = case.X.shape[1]
    raw, stateT, cache = case.run()
    R, S = case.random_like(raw), case.random_like(stateT)
    grads, dstate0, dX = backward(arch, params, cache, R, S, need_dX=True)

    bounds = [(t0, min(t0 + window, T)) for t0 in range(0, T, window)]
    state, caches = case.state0, []
    for t0, t1 in bounds:
        raw_c, state, c = forward(
            arch,
            params,
            case.X[:, t0:t1],
            case.lengths,
            valid=_steps_valid(case.lengths, t0, t1),
            state0=state,
            masks=case.masks,
        )
        caches.append(c)
        if arch.return_sequences:
            assert_allclose(raw_c, raw[:, t0:t1], rtol=1e-12, atol=1e-12)
    if not arch.return_sequences:
        assert_allclose(raw_c, raw, rtol=1e-12, atol=1e-12)
    for s_c, s in zip(_leaves(state), _leaves(stateT), strict=True):
        assert_allclose(s_c, s, rtol=1e-12, atol=1e-12)

    dstate, total, dX_chunks = S, None, []
    for (t0, t1), c in reversed(list(zip(bounds, caches, strict=True))):
        if arch.return_sequences:
            R_c = R[:, t0:t1]
        else:  # the head reads the last chunk only
            R_c = R if t1 == T else np.zeros_like(R)
        g, dstate, dX_c = backward(arch, params, c, R_c, dstate, need_dX=True)
        total = g if total is None else {k: total[k] + g[k] for k in g}
        dX_chunks.insert(0, dX_c)
    assert_allclose(np.concatenate(dX_chunks, axis=1), dX, rtol=1e-10, atol=1e-12)
    for d_c, d in zip(_leaves(dstate), _leaves(dstate0), strict=True):
        assert_allclose(d_c, d, rtol=1e-10, atol=1e-12)
    for name, g in grads.items():
        assert_allclose(total[name], g, rtol=1e-10, atol=1e-12, err_msg=name)


# --------------------------------------------------------- dtypes and side effects


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_float32_stays_float32_and_agrees_with_float64(cell, data):
    case = data.draw(cases(cell, dtype=np.float32))
    arch = case.arch
    raw, stateT, cache = case.run()
    R, S = case.random_like(raw), case.random_like(stateT)
    grads, dstate0, dX = backward(arch, case.params, cache, R, S, need_dX=True)
    batch = _targets(case, raw, dtype=np.float32)
    _, lgrads = _train_loss(case, batch, 0.1)
    out32 = [raw, *_leaves(stateT), *grads.values(), dX, *_leaves(dstate0)]
    for a in [*out32, *lgrads.values()]:
        assert a.dtype == np.float32

    up = lambda a: a.astype(np.float64)  # noqa: E731
    params64 = _map(up, case.params)
    raw64, stateT64, cache64 = forward(
        arch,
        params64,
        up(case.X),
        case.lengths,
        state0=_map(up, case.state0),
        masks=_map(up, case.masks),
    )
    g64, d064, dX64 = backward(arch, params64, cache64, up(R), _map(up, S), True)
    out64 = [raw64, *_leaves(stateT64), *g64.values(), dX64, *_leaves(d064)]
    for a32, a64 in zip(out32, out64, strict=True):
        assert_allclose(a32, a64, rtol=0, atol=1e-4 * max(1.0, np.abs(a64).max()))


@pytest.mark.parametrize("cell", CELL_NAMES)
@given(data=st.data())
def test_caller_arrays_are_not_modified(cell, data):
    case = data.draw(cases(cell))
    originals = [
        a.copy() for a in _leaves([case.params, case.X, case.state0, case.masks])
    ]
    raw, stateT, cache = case.run()
    R, S = case.random_like(raw), case.random_like(stateT)
    R_copy, S_copy = R.copy(), _map(np.copy, S)
    backward(case.arch, case.params, cache, R, S, need_dX=True)
    batch = _targets(case, raw, per_step=True)
    given_batch = [batch.Y, batch.sample_weight, batch.step_mask]
    batch_copy = _map(np.copy, given_batch)
    _train_loss(case, batch, 0.1)
    after = _leaves([case.params, case.X, case.state0, case.masks])
    for a, b in zip(after, originals, strict=True):
        assert_array_equal(a, b)
    for a, b in zip(
        [R, *_leaves(S), *_leaves(given_batch)],
        [R_copy, *_leaves(S_copy), *_leaves(batch_copy)],
        strict=True,
    ):
        assert_array_equal(a, b)


# ------------------------------------------------------------------ initialisation


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_init_params_names_shapes_and_order(cell, bidirectional):
    arch = Architecture(cell, (3, 2), 4, 2, bidirectional=bidirectional, n_states=2)
    params = init_params(arch, np.random.RandomState(0))
    suffixes = ["", "_reverse"] if bidirectional else [""]
    expected = [
        f"{kind}_l{k}{sfx}"
        for k in range(2)
        for sfx in suffixes
        for kind in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    ]
    assert weight_names(arch) == list(params) == [*expected, "head.weight", "head.bias"]
    c, n_in = arch.make_cell(), 4
    for k, H in enumerate((3, 2)):
        G, V = c.n_gates, c.output_size(H)
        for sfx in suffixes:
            assert params[f"weight_ih_l{k}{sfx}"].shape == (G * H, n_in)
            assert params[f"weight_hh_l{k}{sfx}"].shape == (G * H, V)
            assert params[f"bias_ih_l{k}{sfx}"].shape == (G * H,)
            assert params[f"bias_hh_l{k}{sfx}"].shape == (G * H,)
        n_in = len(suffixes) * V
    assert params["head.weight"].shape == (2, n_in)
    limit = math.sqrt(6.0 / (n_in + 2))  # Glorot-uniform head, zero bias
    assert np.abs(params["head.weight"]).max() <= limit
    assert np.abs(params["head.weight"]).max() > 0.3 * limit
    assert_array_equal(params["head.bias"], 0)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_params_is_deterministic_and_leaves_global_state_alone(cell, dtype):
    arch = Architecture(cell, (2, 3), 3, 1, bidirectional=True, n_states=2)
    before = np.random.get_state()  # noqa: NPY002 (checking it is left alone)
    first = init_params(arch, np.random.RandomState(7), dtype)
    again = init_params(arch, np.random.RandomState(7), dtype)
    other = init_params(arch, np.random.RandomState(8), dtype)
    after = np.random.get_state()  # noqa: NPY002
    assert_array_equal(before[1], after[1])
    assert before[2] == after[2]
    for name, p in first.items():
        assert p.dtype == dtype, name
        assert_array_equal(p, again[name])
    assert not np.array_equal(
        first["weight_hh_l1_reverse"], other["weight_hh_l1_reverse"]
    )


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize(
    "p_in, p_rec", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.25), (0.5, 0.25)]
)
def test_draw_masks(cell, p_in, p_rec):
    # input_dropout masks the first layer's input, dropout the inputs above it
    # and the head's input: here both are p_in
    arch = Architecture(
        cell,
        (3, 2),
        4,
        1,
        bidirectional=True,
        dropout=p_in,
        input_dropout=p_in,
        recurrent_dropout=p_rec,
    )
    masks = draw_masks(arch, np.random.RandomState(0), 200, np.float32)
    if p_in == p_rec == 0:
        assert masks is None
        return
    again = draw_masks(arch, np.random.RandomState(0), 200, np.float32)
    for a, b in zip(_leaves(masks), _leaves(again), strict=True):
        assert_array_equal(a, b)
    c = arch.make_cell()
    for k, (H, (n_in, _)) in enumerate(zip((3, 2), arch.layer_sizes(), strict=True)):
        rec = masks["recurrent"][k]
        expected = [(masks["input"][k], p_in, n_in)]
        if k == 1:  # the head reads the top layer's two directions
            expected.append((masks["head"], p_in, 2 * c.output_size(H)))
        expected += [(m, p_rec, c.output_size(H)) for m in rec or [None, None]]
        assert (rec is None) == (p_rec == 0)  # one mask per direction, or none
        assert rec is None or len(rec) == 2
        for m, p, width in expected:
            if p == 0:
                assert m is None
                continue
            assert m.shape == (200, width) and m.dtype == np.float32
            assert set(np.unique(m)) == {0.0, np.float32(1 / (1 - p))}
            assert abs((m == 0).mean() - p) < 0.1


def test_valid_mask():
    assert valid_mask(np.array([3, 3]), 3) is None
    expected = [[True, True, True], [False, True, True], [False, False, True]]
    assert_array_equal(valid_mask(np.array([1, 2, 3]), 3), expected)


# ----------------------------------------------------- weights and L2 in the loss


def _batch_of(X, lengths, Y, sample_weight, return_sequences):
    """A training batch with a step mask (zero on padded steps) for sequences."""
    mask = _steps_valid(lengths, 0, X.shape[1]).T * 1.0 if return_sequences else None
    return TrainData(X, lengths, Y, sample_weight, mask)


@pytest.mark.parametrize("cell", STACK_NAMES)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_weights_are_a_weighted_mean_over_sequences(cell, return_sequences):
    """A sequence twice with weight 1 == once with weight 2; scaling changes nothing."""
    arch = Architecture(cell, (2,), 2, 2, return_sequences=return_sequences)
    rng = np.random.RandomState(0)
    params = init_params(arch, rng)
    X, lengths = rng.standard_normal((2, 4, 2)), np.array([4, 3])
    Y = rng.standard_normal((2, 4, 2) if return_sequences else (2, 2))

    def run(X, lengths, Y, sw, alpha=0.1):
        batch = _batch_of(X, lengths, Y, sw, return_sequences)
        return batch_loss_grad(arch, "squared_error", params, batch, alpha)

    twice = run(X[[0, 1, 1]], lengths[[0, 1, 1]], Y[[0, 1, 1]], np.ones(3))
    once = run(X, lengths, Y, np.array([1.0, 2.0]))
    scaled = run(X, lengths, Y, np.full(2, 3.5), alpha=0.0)
    plain = run(X, lengths, Y, np.ones(2), alpha=0.0)
    assert twice[0] == pytest.approx(once[0], rel=1e-12)
    assert scaled[0] == pytest.approx(plain[0], rel=1e-12)
    for name in params:
        assert_allclose(twice[1][name], once[1][name], rtol=1e-10, atol=1e-14)
        assert_allclose(scaled[1][name], plain[1][name], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cell", STACK_NAMES)
@pytest.mark.parametrize("per_step", [False, True])
def test_l2_penalty_on_weight_matrices_only(cell, per_step):
    """``0.5 * alpha * sum(W ** 2) / sum(sample weights)``, biases excluded.

    Per-step weights leave the normaliser alone: the sample weights are then ones
    (as the estimators pass them), so it is the number of sequences.
    """
    wavenet = cell == "wavenet"
    arch = Architecture(
        cell, (2, 2), 2, 1, bidirectional=not wavenet, return_sequences=per_step
    )
    rng = np.random.RandomState(1)
    params = init_params(arch, rng)
    X, lengths = rng.standard_normal((3, 2, 2)), np.array([2, 2, 1])
    Y = np.ones((3, 2, 1) if per_step else (3, 1))
    sw = np.ones(3) if per_step else np.array([0.5, 1.0, 2.5])
    batch = _batch_of(X, lengths, Y, sw, per_step)
    if per_step:
        batch.step_mask *= np.array([[0.5, 3.0], [1.0, 2.0], [4.0, 0.0]])
    n_eff, alpha = 3.0 if per_step else 4.0, 0.7
    v0, g0 = batch_loss_grad(arch, "squared_error", params, batch, 0.0)
    v1, g1 = batch_loss_grad(arch, "squared_error", params, batch, alpha)
    sq = sum(float((p**2).sum()) for name, p in params.items() if "weight" in name)
    assert v1 - v0 == pytest.approx(0.5 * alpha * sq / n_eff, rel=1e-10)
    for name, p in params.items():
        expected = alpha / n_eff * p if "weight" in name else 0 * p
        assert_allclose(g1[name] - g0[name], expected, rtol=1e-9, atol=1e-14)


# -------------------------------------------------------------------------- losses


def _loss_inputs(name, rng, n, k, dtype=np.float64):
    raw = 2.0 * rng.standard_normal((n, k))
    if name == "log_loss":  # soft targets: rows on the simplex
        Y = rng.dirichlet(np.ones(k), size=n)
    elif name == "binary_log_loss":
        Y = rng.uniform(0, 1, (n, k))
    else:
        Y = rng.standard_normal((n, k))
    return raw.astype(dtype), Y.astype(dtype), rng.uniform(0.1, 2.0, n).astype(dtype)


@pytest.mark.parametrize("name", LOSS_NAMES)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), k=st.integers(1, 3))
def test_loss_gradient_matches_finite_differences(name, seed, n, k):
    raw, Y, w = _loss_inputs(name, np.random.RandomState(seed), n, k)
    w[0] = 0.0  # a padded row
    _, draw = LOSSES[name](raw, Y, w)
    assert_array_equal(draw[0], 0)
    _assert_matches_numerical(
        lambda: LOSSES[name](raw, Y, w)[0], [("raw", raw)], [draw]
    )


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_weights_duplicate_rows_and_normalise_to_a_mean(name):
    rng = np.random.RandomState(0)
    raw, Y, w = _loss_inputs(name, rng, 4, 3)
    loss = LOSSES[name]
    dup_value, dup_draw = loss(raw[[0, 1, 2, 3, 2]], Y[[0, 1, 2, 3, 2]], np.ones(5))
    w2 = np.array([1.0, 1.0, 2.0, 1.0])
    value, draw = loss(raw, Y, w2)
    assert value == pytest.approx(dup_value, rel=1e-12)
    assert_allclose(draw[[0, 1, 3]], dup_draw[[0, 1, 3]], rtol=1e-12)
    assert_allclose(draw[2], dup_draw[2] + dup_draw[4], rtol=1e-12)
    # weights summing to one: the weighted mean of the one-row losses
    rows = [loss(raw[i : i + 1], Y[i : i + 1], np.ones(1))[0] for i in range(4)]
    assert loss(raw, Y, w / w.sum())[0] == pytest.approx(np.dot(w, rows) / w.sum())


def test_loss_values_by_hand():
    one = np.ones(1)
    value, _ = LOSSES["squared_error"](np.array([[1.0, 3.0]]), np.zeros((1, 2)), one)
    assert value == pytest.approx(0.5 * (1 + 9) / 2)  # half mean over outputs
    raw = np.array([[math.log(3.0), 0.0]])
    value, _ = LOSSES["log_loss"](raw, np.array([[0.0, 1.0]]), one)
    assert value == pytest.approx(math.log(4.0))  # -log(1 / (3 + 1))
    value, _ = LOSSES["binary_log_loss"](np.zeros((1, 2)), np.array([[1.0, 0.0]]), one)
    assert value == pytest.approx(2 * math.log(2.0))  # summed over outputs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["log_loss", "binary_log_loss"])
def test_log_losses_are_stable_at_large_raw(name, dtype):
    raw = np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype)
    Y = np.array([[1.0, 0.0], [1.0, 0.0]], dtype=dtype)
    value, draw = LOSSES[name](raw, Y, np.array([0.5, 0.5], dtype=dtype))
    # row 0 is right with certainty (loss 0), row 1 wrong by a margin of 2e4 (softmax)
    # or by 1e4 on each of two outputs (sigmoids): 0.5 * 2e4 either way
    assert value == pytest.approx(1e4, rel=1e-6)
    assert np.isfinite(draw).all() and np.abs(draw).max() <= 1.0
    for activation in [OUTPUT_ACTIVATIONS[name]]:
        out = activation(raw)
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
        assert_array_equal(raw, np.array([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype))


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_gradient_keeps_the_raw_dtype(name):
    """float32 outputs stay float32 even when the row weights come in float64."""
    raw, Y, _ = _loss_inputs(name, np.random.RandomState(0), 3, 2, np.float32)
    _, draw = LOSSES[name](raw, Y, np.full(3, 1 / 3))
    assert draw.dtype == np.float32
