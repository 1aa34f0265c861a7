"""Tests of skrnn._optim, _clipping and _packing: optimizers, clipping, packing."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from numpy.testing import assert_allclose, assert_array_equal
from scipy.optimize import minimize

from skrnn._clipping import clip_grad_norm, clip_grad_value, global_norm
from skrnn._optim import OPTIMIZERS, AdamOptimizer, SGDOptimizer, make_optimizer
from skrnn._packing import pack, unpack, unpack_into

DTYPES = [np.float32, np.float64]


def _run(opt, params, grad_seq):
    for grads in grad_seq:
        opt.update_params(
            params,
            [np.asarray(g, dtype=p.dtype) for g, p in zip(grads, params, strict=True)],
        )


# --------------------------------------------------------------------------- SGD
# All values below are dyadic fractions, so every step is exact in float32 too.


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_plain_three_steps(dtype, nesterov):
    p = np.array([1.0, -2.0], dtype=dtype)
    opt = SGDOptimizer([p], learning_rate_init=0.5, momentum=0.0, nesterov=nesterov)
    grads = [[[1.0, 2.0]], [[-1.0, 0.5]], [[0.25, 0.0]]]
    expected = [[0.5, -3.0], [1.0, -3.25], [0.875, -3.25]]
    for g, want in zip(grads, expected, strict=True):
        _run(opt, [p], [g])
        assert_array_equal(p, np.array(want, dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_momentum_three_steps(dtype):
    # v <- 0.5 v - 0.5 g ; p <- p + v
    p0 = np.array([1.0], dtype=dtype)
    p1 = np.array([[2.0, 0.0]], dtype=dtype)
    opt = SGDOptimizer([p0, p1], learning_rate_init=0.5, momentum=0.5, nesterov=False)
    steps = [
        ([1.0], [[1.0, -2.0]]),
        ([1.0], [[0.0, 2.0]]),
        ([1.0], [[-1.0, 0.0]]),
    ]
    expected = [
        ([0.5], [[1.5, 1.0]]),
        ([-0.25], [[1.25, 0.5]]),
        ([-1.125], [[1.625, 0.25]]),
    ]
    for grads, (want0, want1) in zip(steps, expected, strict=True):
        _run(opt, [p0, p1], [grads])
        assert_array_equal(p0, np.array(want0, dtype=dtype))
        assert_array_equal(p1, np.array(want1, dtype=dtype))
    assert_array_equal(opt.velocities[0], np.array([-0.875], dtype=dtype))
    assert_array_equal(opt.velocities[1], np.array([[0.375, -0.25]], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd_nesterov_three_steps(dtype):
    # v <- 0.5 v - 0.5 g ; p <- p + 0.5 v - 0.5 g, with g = 1 every step
    p = np.array([1.0], dtype=dtype)
    opt = SGDOptimizer([p], learning_rate_init=0.5, momentum=0.5, nesterov=True)
    for want in [0.25, -0.625, -1.5625]:
        _run(opt, [p], [[[1.0]]])
        assert_array_equal(p, np.array([want], dtype=dtype))
    assert_array_equal(opt.velocities[0], np.array([-0.875], dtype=dtype))


def test_sgd_does_not_write_into_grads():
    p = np.array([1.0, 2.0])
    g = np.array([0.5, -0.5])
    opt = SGDOptimizer([p], momentum=0.9)
    opt.update_params([p], [g])
    opt.update_params([p], [g])
    assert_array_equal(g, [0.5, -0.5])


# ---------------------------------------------------------------------- schedules


@pytest.mark.parametrize(
    "lr_init, power_t, time_step, expected",
    [
        (1.0, 0.5, 0, 1.0),
        (1.0, 0.5, 3, 0.5),
        (1.0, 0.5, 15, 0.25),
        (0.3, 1.0, 2, 0.1),
        (0.2, 2.0, 4, 0.008),
        (0.7, 0.0, 99, 0.7),
    ],
)
def test_invscaling_values(lr_init, power_t, time_step, expected):
    p = np.zeros(1)
    opt = SGDOptimizer(
        [p], learning_rate_init=lr_init, lr_schedule="invscaling", power_t=power_t
    )
    opt.iteration_ends(time_step)
    assert opt.learning_rate == pytest.approx(expected, rel=1e-12)


def test_invscaling_rate_is_used_by_next_step():
    p = np.array([1.0])
    opt = SGDOptimizer(
        [p], lr_schedule="invscaling", learning_rate_init=1.0, momentum=0.0
    )
    opt.iteration_ends(15)  # lr = 1 / 16 ** 0.5 = 0.25
    opt.update_params([p], [np.array([2.0])])
    assert_array_equal(p, [0.5])


@pytest.mark.parametrize("schedule", ["constant", "adaptive"])
def test_iteration_ends_keeps_rate_for_constant_and_adaptive(schedule):
    opt = SGDOptimizer([np.zeros(2)], learning_rate_init=0.3, lr_schedule=schedule)
    for time_step in [1, 10, 1000]:
        opt.iteration_ends(time_step)
        assert opt.learning_rate == 0.3


def test_adaptive_trigger_stopping_sequence(capsys):
    opt = SGDOptimizer([np.zeros(1)], learning_rate_init=1e-3, lr_schedule="adaptive")
    rates = []
    while not opt.trigger_stopping("No improvement.", verbose=True):
        rates.append(opt.learning_rate)
        assert len(rates) < 20, "adaptive schedule never stopped"
    assert rates == pytest.approx([2e-4, 4e-5, 8e-6, 1.6e-6, 3.2e-7], rel=1e-12)
    # Once too small it keeps stopping and stops lowering the rate.
    assert opt.trigger_stopping("Again.", verbose=False) is True
    assert opt.learning_rate == pytest.approx(3.2e-7, rel=1e-12)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "No improvement. Setting learning rate to 0.000200"
    assert len(lines) == 6
    assert lines[-1] == "No improvement. Learning rate too small. Stopping."


@pytest.mark.parametrize("schedule", ["constant", "invscaling"])
def test_non_adaptive_sgd_stops_at_once(schedule, capsys):
    opt = SGDOptimizer([np.zeros(1)], learning_rate_init=0.1, lr_schedule=schedule)
    assert opt.trigger_stopping("Plateau.", verbose=True) is True
    assert opt.learning_rate == 0.1
    assert capsys.readouterr().out == "Plateau. Stopping.\n"


def test_trigger_stopping_silent_when_not_verbose(capsys):
    opt = SGDOptimizer([np.zeros(1)], lr_schedule="adaptive")
    assert opt.trigger_stopping("Plateau.", verbose=False) is False
    assert AdamOptimizer([np.zeros(1)]).trigger_stopping("x", verbose=False) is True
    assert capsys.readouterr().out == ""


# -------------------------------------------------------------------------- Adam


def _adam_reference(p0, grads_seq, lr, b1, b2, eps):
    """Kingma & Ba (2014), Algorithm 1 with the 'efficient' bias correction,
    written element by element in plain Python floats."""
    p = [float(x) for x in p0]
    m = [0.0] * len(p)
    v = [0.0] * len(p)
    for t, grads in enumerate(grads_seq, start=1):
        alpha_t = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
        for j, g in enumerate(grads):
            m[j] = b1 * m[j] + (1 - b1) * g
            v[j] = b2 * v[j] + (1 - b2) * g * g
            p[j] = p[j] - alpha_t * m[j] / (math.sqrt(v[j]) + eps)
    return np.array(p)


@pytest.mark.parametrize(
    "lr, b1, b2, eps", [(0.001, 0.9, 0.999, 1e-8), (0.1, 0.5, 0.75, 1e-3)]
)
def test_adam_matches_reference(lr, b1, b2, eps):
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal(7)
    grads_seq = rng.standard_normal((3, 7))
    w = p0.reshape(7, 1).copy()
    opt = AdamOptimizer([w], learning_rate_init=lr, beta_1=b1, beta_2=b2, epsilon=eps)
    for t, g in enumerate(grads_seq, start=1):
        opt.update_params([w], [g.reshape(7, 1)])
        assert opt.t == t
        assert opt.learning_rate == pytest.approx(
            lr * math.sqrt(1 - b2**t) / (1 - b1**t), rel=1e-14
        )
        want = _adam_reference(p0, grads_seq[:t], lr, b1, b2, eps)
        assert_allclose(w.ravel(), want, rtol=1e-12, atol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    # With tiny epsilon the bias-corrected first step is -lr * sign(grad).
    w = np.array([1.0, 1.0, 1.0])
    opt = AdamOptimizer([w], learning_rate_init=0.01, epsilon=1e-12)
    assert opt.t == 0 and opt.learning_rate == 0.01
    opt.update_params([w], [np.array([3.0, -0.2, 1e-3])])
    assert_allclose(w, [0.99, 1.01, 0.99], rtol=1e-8)


def test_adam_float32_close_to_float64_reference():
    rng = np.random.default_rng(1)
    p0 = rng.standard_normal(5)
    grads_seq = rng.standard_normal((3, 5))
    w = p0.astype(np.float32)
    opt = AdamOptimizer([w], learning_rate_init=0.05)
    for g in grads_seq:
        opt.update_params([w], [g.astype(np.float32)])
        assert w.dtype == np.float32
    want = _adam_reference(p0, grads_seq, 0.05, 0.9, 0.999, 1e-8)
    assert_allclose(w, want, rtol=1e-5, atol=1e-6)
    assert opt.ms[0].dtype == opt.vs[0].dtype == np.float32


def test_adam_iteration_ends_is_noop():
    opt = AdamOptimizer([np.zeros(1)], learning_rate_init=0.02)
    opt.iteration_ends(100)
    assert opt.learning_rate == 0.02 and opt.t == 0


def test_adam_trigger_stopping_prints(capsys):
    opt = AdamOptimizer([np.zeros(1)])
    assert opt.trigger_stopping("Plateau.", verbose=True) is True
    assert capsys.readouterr().out == "Plateau. Stopping.\n"


# ------------------------------------------------------------ in place and dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_update_is_in_place_and_keeps_dtype(solver, dtype):
    # The network holds one buffer; the params are views into it.
    buffer = np.ones(6, dtype=dtype)
    params = [buffer[:2], buffer[2:].reshape(2, 2)]
    ids = [id(p) for p in params]
    opt = make_optimizer(solver, params, learning_rate_init=0.5)
    grads = [np.ones(2), np.ones((2, 2))]  # float64 grads do not upcast params
    opt.update_params(params, grads)
    assert [id(p) for p in params] == ids
    assert all(p.dtype == dtype for p in params)
    assert buffer.dtype == dtype
    assert np.all(buffer < 1.0), "update did not reach the network's buffer"


def test_buffers_allocated_once_with_param_dtype():
    params = [np.zeros((2, 3), np.float32), np.zeros(4, np.float64)]
    sgd = SGDOptimizer(params)
    adam = AdamOptimizer(params)
    buffers = sgd.velocities + adam.ms + adam.vs
    assert [b.dtype for b in buffers] == [np.float32, np.float64] * 3
    before = [id(b) for b in buffers]
    for _ in range(2):
        sgd.update_params(params, [np.ones_like(p) for p in params])
        adam.update_params(params, [np.ones_like(p) for p in params])
    assert [id(b) for b in sgd.velocities + adam.ms + adam.vs] == before


# ------------------------------------------------------------------------ clipping


def test_global_norm_values():
    assert global_norm([np.array([3.0, 0.0]), np.array([[4.0]])]) == 5.0
    assert global_norm([np.array([1.0, 2.0]), np.array([-2.0])]) == 3.0
    assert global_norm([]) == 0.0
    assert isinstance(global_norm([np.ones(3, np.float32)]), float)


def test_global_norm_float32_does_not_overflow():
    # Squares of 1e20 overflow float32 (max ~3.4e38); float64 accumulation does not.
    grads = [np.full(4, 1e20, dtype=np.float32)]
    assert global_norm(grads) == pytest.approx(2e20, rel=1e-6)


@pytest.mark.parametrize("size", [1, 8191, 8192, 8193, 20000])
def test_global_norm_float32_chunks_match_float64(size):
    rng = np.random.default_rng(size)
    g32 = rng.standard_normal(size).astype(np.float32)
    grads = [g32, rng.standard_normal((3, 2)), g32[::2]]  # strided view too
    exact = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
    assert global_norm(grads) == pytest.approx(exact, rel=1e-12)


def test_clip_grad_norm_clips_to_max_norm():
    g0, g1 = np.array([3.0, 0.0]), np.array([[4.0]])
    grads = [g0, g1]
    total = clip_grad_norm(grads, max_norm=1.0)
    assert total == 5.0
    assert grads[0] is g0 and grads[1] is g1
    assert global_norm(grads) == pytest.approx(1.0, rel=1e-6)
    assert_allclose(g0, [0.6, 0.0], rtol=1e-6)
    assert_allclose(g1, [[0.8]], rtol=1e-6)


def test_clip_grad_norm_below_max_is_untouched():
    g = np.array([3.0, 4.0])
    assert clip_grad_norm([g], max_norm=10.0) == 5.0
    assert_array_equal(g, [3.0, 4.0])
    # coefficient max_norm / (norm + 1e-6) exactly 1: no scaling either
    assert clip_grad_norm([g], max_norm=5.0 + 1e-6) == 5.0
    assert_array_equal(g, [3.0, 4.0])


def test_clip_grad_norm_uses_pytorch_epsilon():
    # norm 5e-6, max 2e-6: PyTorch's coefficient is 2e-6 / (5e-6 + 1e-6) = 1/3,
    # a plain max/norm rule would give 0.4.
    g = np.array([3e-6, 4e-6])
    assert clip_grad_norm([g], max_norm=2e-6) == pytest.approx(5e-6, rel=1e-12)
    assert_allclose(g, [1e-6, 4e-6 / 3], rtol=1e-12)
    # Even at norm == max_norm PyTorch scales by norm / (norm + 1e-6).
    h = np.array([0.0, 2.0])
    clip_grad_norm([h], max_norm=2.0)
    assert_allclose(h, [0.0, 2.0 * 2.0 / (2.0 + 1e-6)], rtol=1e-15)
    assert h[1] < 2.0


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_clip_grad_norm_non_finite_leaves_grads(bad):
    g = np.array([bad, 1.0])
    other = np.array([100.0])
    total = clip_grad_norm([g, other], max_norm=1.0)
    assert not math.isfinite(total)
    assert (math.isnan(total)) == (math.isnan(bad))
    assert_array_equal(g, [bad, 1.0])
    assert_array_equal(other, [100.0])


def test_clip_grad_norm_float32_stays_float32():
    g = np.array([30.0, 40.0], dtype=np.float32)
    total = clip_grad_norm([g], max_norm=5.0)
    assert total == 50.0
    assert g.dtype == np.float32
    assert_allclose(g, [3.0, 4.0], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clip_grad_value(dtype):
    g0 = np.array([-3.0, 0.5, 2.0, -0.25], dtype=dtype)
    g1 = np.array([[0.75]], dtype=dtype)
    assert clip_grad_value([g0, g1], 1.0) is None
    assert_array_equal(g0, np.array([-1.0, 0.5, 1.0, -0.25], dtype=dtype))
    assert_array_equal(g1, np.array([[0.75]], dtype=dtype))
    assert g0.dtype == g1.dtype == dtype


# ------------------------------------------------------------------------ packing


def _float_arrays(dtype):
    # float32-representable values, so a float32/float64 round trip is exact
    return arrays(
        dtype,
        array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
        elements=st.floats(-1e6, 1e6, width=32),
    )


array_lists = st.lists(
    st.sampled_from(DTYPES).flatmap(_float_arrays), min_size=1, max_size=4
)


@settings(max_examples=60, deadline=None)
@given(array_lists)
def test_pack_unpack_round_trip(arrs):
    originals = [a.copy() for a in arrs]
    vector = pack(arrs)
    assert vector.shape == (sum(a.size for a in arrs),)
    assert vector.dtype == arrs[0].dtype
    pieces = unpack(vector, arrs)
    assert len(pieces) == len(arrs)
    for piece, a in zip(pieces, arrs, strict=True):
        assert piece.shape == a.shape
        assert piece.dtype == vector.dtype
        assert_array_equal(piece, a)
        if a.size:
            assert np.shares_memory(piece, vector)
    assert_array_equal(pack(pieces), vector)
    for a, orig in zip(arrs, originals, strict=True):
        assert_array_equal(a, orig)  # pack never writes into its inputs


@settings(max_examples=60, deadline=None)
@given(array_lists)
def test_pack_out_and_unpack_into_round_trip(arrs):
    total = sum(a.size for a in arrs)
    out = np.full(total, np.nan)
    assert pack(arrs, out=out) is out
    targets = [np.full(a.shape, -7.0, dtype=a.dtype) for a in arrs]
    ids = [id(t) for t in targets]
    assert unpack_into(out, targets) is None
    assert [id(t) for t in targets] == ids
    for t, a in zip(targets, arrs, strict=True):
        assert t.dtype == a.dtype
        assert_array_equal(t, a)


def test_pack_uses_c_order_of_non_contiguous_input():
    a = np.arange(6.0).reshape(2, 3).T
    assert_array_equal(pack([a, np.array([9.0])]), [0, 3, 1, 4, 2, 5, 9])


def test_unpack_returns_writable_views():
    vector = np.arange(5.0)
    w, b = unpack(vector, [np.empty((2, 2)), np.empty(1)])
    w[0, 0] = 100.0
    assert vector[0] == 100.0


def test_packing_drives_scipy_lbfgs_on_float32_weights():
    rng = np.random.default_rng(2)
    target = [rng.standard_normal((2, 3)), rng.standard_normal(3)]
    weights = [np.zeros((2, 3), np.float32), np.zeros(3, np.float32)]

    def loss_and_grad(vector):
        unpack_into(vector, weights)
        diffs = [w - t for w, t in zip(weights, target, strict=True)]
        loss = sum(float(np.sum(d**2)) for d in diffs)
        return loss, pack([2 * d for d in diffs]).astype(np.float64)

    x0 = pack(weights).astype(np.float64)
    res = minimize(loss_and_grad, x0, jac=True, method="L-BFGS-B")
    unpack_into(res.x, weights)
    assert res.success
    assert weights[0].dtype == np.float32
    for w, t in zip(weights, target, strict=True):
        assert_allclose(w, t, atol=1e-4)


# ------------------------------------------------------------------------ factory


def test_make_optimizer_table():
    assert OPTIMIZERS == {"sgd": SGDOptimizer, "adam": AdamOptimizer}
    p = [np.zeros(2)]
    sgd = make_optimizer(
        "sgd",
        p,
        learning_rate_init=0.5,
        momentum=0.0,
        nesterov=False,
        lr_schedule="adaptive",
        power_t=1.0,
    )
    assert isinstance(sgd, SGDOptimizer)
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.5, 0.0, False)
    assert sgd.lr_schedule == "adaptive" and sgd.power_t == 1.0
    adam = make_optimizer("adam", p, beta_1=0.5, beta_2=0.6, epsilon=1e-4)
    assert isinstance(adam, AdamOptimizer)
    assert (adam.beta_1, adam.beta_2, adam.epsilon) == (0.5, 0.6, 1e-4)
    assert adam.learning_rate == 0.001
