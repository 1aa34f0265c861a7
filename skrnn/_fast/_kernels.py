"""Compiled (numba) loops over time of the rnn, lstm and gru cells, with their tanh."""

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

# numba's on-disk cache (cache=True) is keyed by the source file of each
# function and ignores changes in other modules, so a kernel and everything it
# calls share one file: this one, or (the statal cell's) a file that records
# this one's digest (_kernels_statal.KERNELS_SHA256).
#
# Conventions: every array is C-contiguous and spans the whole batch; a kernel
# works on the rows [r0, r1) (one shard). ``valid`` (T, B) is False on padded
# steps; ``mask`` is the (B, V) recurrent dropout mask, or of shape (0, V) for
# none; ``dY`` is (T, B, V), or of shape (0, B, V) for none. Constants are made
# in the arrays' dtype so that float32 stays float32.

JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: tanh(x) = x P(x^2) / Q(x^2) on [-TANH32_CLAMP, TANH32_CLAMP] (float32 only),
#: coefficients fitted here (weighted least squares on the relative error,
#: reweighted towards minimax). Evaluated in float32 on every 3rd float32 in
#: [2^-20, 9.5]: at most 3.4e-7 absolute, 5.7 ulp; |tanh| <= 1 (clipped).
#: tanh(9) rounds to 1 in float32.
TANH32_P = (
    1.0,
    0.13381065428256989,
    0.0034956338349729776,
    2.060976294160355e-05,
    1.3355475836362984e-08,
)
TANH32_Q = (
    1.0,
    0.46714380383491516,
    0.02587716095149517,
    0.0003285706334281713,
    7.776918096169538e-07,
)
TANH32_CLAMP = 9.0


def _tanh32(x):
    """The rational float32 tanh: arithmetic only, so LLVM vectorises its loops
    (and branch-free, for numba to inline it)."""
    c = np.float32(TANH32_CLAMP)
    x = max(min(x, c), -c)  # NaN stays NaN
    s = x * x
    p = np.float32(TANH32_P[4]) * s + np.float32(TANH32_P[3])
    p = p * s + np.float32(TANH32_P[2])
    p = p * s + np.float32(TANH32_P[1])
    p = p * s + np.float32(TANH32_P[0])
    q = np.float32(TANH32_Q[4]) * s + np.float32(TANH32_Q[3])
    q = q * s + np.float32(TANH32_Q[2])
    q = q * s + np.float32(TANH32_Q[1])
    q = q * s + np.float32(TANH32_Q[0])
    one = np.float32(1.0)
    return max(min(x * p / q, one), -one)  # rounding near the clamp: |tanh| <= 1


#: float64: tanh(a) = a + a^3 T(a^2) (its Taylor series to a^17) for a < 0.125,
#: else e / (e + 2) with e = expm1(2a) = 2^k (expm1(r) + 1) - 1, r = 2a - k ln 2
#: in [0, ln 2) (no cancellation), expm1(r) by its Taylor series to r^17.
#: Arithmetic only, so vectorised; on every 97th float32 in [2^-30, 25] (and
#: neighbours): at most 2.6 ulp from the exact tanh (libm's: 1; NumPy's: 1.2).
TANH64_T = (
    -0.3333333333333333,
    0.13333333333333333,
    -0.05396825396825397,
    0.021869488536155203,
    -0.008863235529902197,
    0.003592128036572481,
    -0.0014558343870513183,
    0.000590027440945586,
)
EXPM1_C = (
    1.0,
    0.5,
    0.16666666666666666,
    0.041666666666666664,
    0.008333333333333333,
    0.001388888888888889,
    0.0001984126984126984,
    2.48015873015873e-05,
    2.7557319223985893e-06,
    2.755731922398589e-07,
    2.505210838544172e-08,
    2.08767569878681e-09,
    1.6059043836821613e-10,
    1.1470745597729725e-11,
    7.647163731819816e-13,
    4.779477332387385e-14,
    2.8114572543455206e-15,
)
LN2_HI = float.fromhex("0x1.62e42fee00000p-1")  # k * LN2_HI is exact for k < 2^20
LN2_LO = 1.9082149292705877e-10  # ln 2 - LN2_HI (computed in 40 digits)
TANH64_CLAMP = 22.0  # tanh(22) rounds to 1 in float64


def _tanh64(x):
    """Accurate float64 tanh from arithmetic only (see :data:`TANH64_T`)."""
    a = min(abs(x), TANH64_CLAMP)  # NaN stays NaN
    y = a + a
    k = np.floor(y * 1.4426950408889634)
    r = (y - k * LN2_HI) - k * LN2_LO
    c = EXPM1_C  # Horner, unrolled (a loop would index the tuple at run time)
    p = c[16] * r + c[15]
    p = ((((p * r + c[14]) * r + c[13]) * r + c[12]) * r + c[11]) * r + c[10]
    p = ((((p * r + c[9]) * r + c[8]) * r + c[7]) * r + c[6]) * r + c[5]
    p = ((((p * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0]
    p = p * r
    scale = np.int64((np.int64(k) + 1023) << 52).view(np.float64)  # 2^k
    e = scale * p + (scale - 1.0)
    t = e / (e + 2.0)
    s = a * a
    c = TANH64_T
    q = (((c[7] * s + c[6]) * s + c[5]) * s + c[4]) * s + c[3]
    q = ((q * s + c[2]) * s + c[1]) * s + c[0]
    q = a + a * (s * q)
    small = np.float64(a < 0.125)  # blend, not a branch: numba inlines it
    return math.copysign(small * q + (1.0 - small) * t, x)


def tanh(x):
    """tanh in the kernels: vectorisable arithmetic, rational for float32."""
    return np.tanh(x)


@overload(tanh, inline="always", jit_options={"cache": True})
def _tanh_overload(x):
    # the implementations are plain functions, compiled (and inlined) here
    return _tanh32 if x == types.float32 else _tanh64


@njit(**JIT)
def _masked_prev(h, t, mask, r0, r1, out):
    """``out = h[t, r0:r1] * mask[r0:r1]`` (or a plain copy without a mask)."""
    if mask.shape[0] == 0:
        out[:, :] = h[t, r0:r1]
        return
    for b in range(r1 - r0):
        for j in range(out.shape[1]):
            out[b, j] = h[t, r0 + b, j] * mask[r0 + b, j]


# ---------------------------------------------------------------- Elman (rnn)


@njit(**JIT)
def rnn_forward(h, w_hh_t, valid, mask, relu, r0, r1):
    """Run the loop over time in place.

    On entry ``h[1:]`` of shape (T, B, V) holds the input projections plus both
    biases and ``h[0]`` the initial state; on exit ``h[t + 1]`` is the output of
    step ``t``. ``w_hh_t`` is ``weight_hh.T``, contiguous, of shape (V, V).
    """
    T, V = h.shape[0] - 1, h.shape[2]
    n = r1 - r0
    zero = np.zeros(1, h.dtype)[0]
    prev = np.empty((n, V), h.dtype)
    hg = np.empty((n, V), h.dtype)
    for t in range(T):
        _masked_prev(h, t, mask, r0, r1, prev)
        np.dot(prev, w_hh_t, hg)
        for b in range(n):
            row = r0 + b
            if not valid[t, row]:
                h[t + 1, row] = h[t, row]
                continue
            out, hgb = h[t + 1, row], hg[b]
            if relu:
                for j in range(V):
                    v = out[j] + hgb[j]
                    out[j] = zero if v < zero else v
            else:
                for j in range(V):
                    out[j] = tanh(out[j] + hgb[j])


@njit(**JIT)
def _project_steps(X, t0, m, r0, r1, w_ih_t, bias):
    """Input projections of steps [t0, t0 + m) for rows [r0, r1), bias added:
    ``(m * (r1 - r0), G)``, step after step."""
    n, F = r1 - r0, X.shape[2]
    xs = np.empty((m * n, F), X.dtype)
    for s in range(m):
        xs[s * n : (s + 1) * n] = X[t0 + s, r0:r1]
    buf = np.dot(xs, w_ih_t)
    for r in range(m * n):
        for k in range(buf.shape[1]):
            buf[r, k] += bias[k]
    return buf


@njit(**JIT)
def _into_previous_state(d, w_hh, dh_rec, dst, i, t, carried, valid, mask, r0):
    """The end of one reverse step for rows [r0, r0 + len(d)): store the gate
    gradient rows ``d`` at ``dst[i]`` and send them through ``w_hh`` into
    ``dh_rec``, the gradient of the previous state; a padded step passes
    ``carried`` through unchanged, and the recurrent dropout ``mask`` scales
    the rest."""
    np.dot(d, w_hh, dh_rec)
    for b in range(d.shape[0]):
        row = r0 + b
        dst[i, row] = d[b]
        if not valid[t, row]:
            dh_rec[b] = carried[b]
        elif mask.shape[0] > 0:
            for j in range(dh_rec.shape[1]):
                dh_rec[b, j] *= mask[row, j]


@njit(**JIT)
def rnn_backward(h, dg, s0, s1, w_hh, dY, dh_rec, valid, mask, relu, r0, r1):
    """Backpropagate through steps ``s1 - 1`` down to ``s0``.

    Writes the gradient of the pre-activations of step ``t`` into ``dg[t - s0]``
    (``dg`` of shape (>= s1 - s0, B, V)) and updates ``dh_rec`` (r1 - r0, V), the
    gradient flowing into the state before the current step, in place.
    """
    V = h.shape[2]
    n = r1 - r0
    one = np.ones(1, h.dtype)[0]
    zero = one - one
    has_dy = dY.shape[0] > 0
    d = np.empty((n, V), h.dtype)
    dh = np.empty((n, V), h.dtype)
    for t in range(s1 - 1, s0 - 1, -1):
        for b in range(n):
            row = r0 + b
            for j in range(V):
                g = dh_rec[b, j]
                if has_dy:
                    g = g + dY[t, row, j]
                dh[b, j] = g
                if not valid[t, row]:
                    d[b, j] = zero
                elif relu:
                    d[b, j] = g if h[t + 1, row, j] > zero else zero
                else:
                    y = h[t + 1, row, j]
                    d[b, j] = (one - y * y) * g
        _into_previous_state(d, w_hh, dh_rec, dg, t - s0, t, dh, valid, mask, r0)


# ---------------------------------------------------------------- LSTM
# Gate order (i, f, g, o); the rows of the sigmoid gates (i, f, o) of the
# forward weights and bias are halved (``LSTMCell.forward_weights``), so
# sigmoid(x) = 0.5 tanh(x / 2) + 0.5 is one tanh of the pre-activation.


@njit(**JIT)
def _lstm_step(g, g0, hg, h, c, t, valid, r0, n):
    """One step for rows [r0, r0 + n): activate the gate rows ``g[g0 + b]`` in
    place (with ``hg`` added) and write ``c[t + 1]`` and ``h[t + 1]``."""
    H = c.shape[2]
    half = np.full(1, 0.5, h.dtype)[0]
    for b in range(n):
        row, gr = r0 + b, g0 + b
        if not valid[t, row]:
            h[t + 1, row] = h[t, row]
            c[t + 1, row] = c[t, row]
            continue
        # fixed blocks of one row, each a loop LLVM can vectorise
        gi, hgi = g[gr], hg[b]
        for k in range(2 * H):  # i, f
            gi[k] = tanh(gi[k] + hgi[k]) * half + half
        for k in range(2 * H, 3 * H):  # g
            gi[k] = tanh(gi[k] + hgi[k])
        for k in range(3 * H, 4 * H):  # o
            gi[k] = tanh(gi[k] + hgi[k]) * half + half
        c_prev, c_new, h_new = c[t, row], c[t + 1, row], h[t + 1, row]
        for j in range(H):
            cc = gi[H + j] * c_prev[j] + gi[j] * gi[2 * H + j]
            c_new[j] = cc
            h_new[j] = gi[3 * H + j] * tanh(cc)


@njit(**JIT)
def lstm_forward(gates, h, c, w_hh_t, valid, mask, r0, r1):
    """Run the loop over time in place, keeping what :func:`lstm_backward` reads.

    On entry ``gates`` (T, B, 4H) holds the input projections plus the folded
    bias, ``h[0]`` and ``c[0]`` the initial state; on exit ``gates`` holds the
    activated gates and ``h``, ``c`` (T + 1, B, H) every step's state.
    ``w_hh_t`` (H, 4H) is the (halved) ``weight_hh.T``, contiguous.
    """
    n, GH = r1 - r0, gates.shape[2]
    prev = np.empty((n, h.shape[2]), h.dtype)
    hg = np.empty((n, GH), h.dtype)
    for t in range(gates.shape[0]):
        _masked_prev(h, t, mask, r0, r1, prev)
        np.dot(prev, w_hh_t, hg)
        _lstm_step(gates[t], r0, hg, h, c, t, valid, r0, n)


@njit(**JIT)
def lstm_predict(X, w_ih_t, bias, chunk, h, c, w_hh_t, valid, mask, r0, r1):
    """The forward loop without a gate history (prediction).

    Projects the inputs ``X`` (T, B, F) of ``chunk`` steps at a time with
    ``w_ih_t`` (F, 4H) and ``bias`` (4H,) into a small buffer.
    """
    T = X.shape[0]
    n, GH = r1 - r0, w_hh_t.shape[1]
    prev = np.empty((n, h.shape[2]), h.dtype)
    hg = np.empty((n, GH), h.dtype)
    for t0 in range(0, T, chunk):
        m = min(chunk, T - t0)
        buf = _project_steps(X, t0, m, r0, r1, w_ih_t, bias)
        for s in range(m):
            t = t0 + s
            _masked_prev(h, t, mask, r0, r1, prev)
            np.dot(prev, w_hh_t, hg)
            _lstm_step(buf, s * n, hg, h, c, t, valid, r0, n)


@njit(**JIT)
def lstm_backward(gates, c, s0, s1, w_hh, dY, dh_rec, dc, valid, mask, r0, r1):
    """Backpropagate through steps ``s1 - 1`` down to ``s0``.

    Overwrites ``gates[t]`` (the activated gates) with the gradient of the gate
    pre-activations, and updates ``dh_rec`` and ``dc`` (r1 - r0, H), the
    gradients flowing into the state before the current step, in place.
    ``w_hh`` (4H, H) is ``weight_hh`` as given.
    """
    H = c.shape[2]
    n = r1 - r0
    one = np.ones(1, c.dtype)[0]
    zero = one - one
    has_dy = dY.shape[0] > 0
    d = np.empty((n, 4 * H), c.dtype)
    keep = np.empty((n, H), c.dtype)
    for t in range(s1 - 1, s0 - 1, -1):
        for b in range(n):
            row = r0 + b
            if not valid[t, row]:
                for j in range(H):
                    g = dh_rec[b, j]
                    keep[b, j] = g + dY[t, row, j] if has_dy else g
                d[b] = zero
                continue
            for j in range(H):
                dh = dh_rec[b, j]
                if has_dy:
                    dh = dh + dY[t, row, j]
                i = gates[t, row, j]
                f = gates[t, row, H + j]
                gg = gates[t, row, 2 * H + j]
                o = gates[t, row, 3 * H + j]
                tc = tanh(c[t + 1, row, j])
                dcv = dc[b, j] + ((one - tc * tc) * o) * dh
                d[b, 3 * H + j] = ((o * (one - o)) * tc) * dh
                d[b, 2 * H + j] = ((one - gg * gg) * i) * dcv
                d[b, j] = ((i * (one - i)) * gg) * dcv
                dcp = dcv * f
                d[b, H + j] = (dcp * (one - f)) * c[t, row, j]
                dc[b, j] = dcp
        _into_previous_state(d, w_hh, dh_rec, gates, t, t, keep, valid, mask, r0)


# ---------------------------------------------------------------- GRU
# Gate order (r, z, n); the folded bias holds b_ih + b_hh for r and z and b_ih
# alone for n, whose b_hn enters inside the reset product.


@njit(**JIT)
def _gru_step(g, g0, hg, b_hn, hn, n0, h, t, valid, r0, n):
    """One step for rows [r0, r0 + n): the gate rows ``g[g0 + b]`` become the
    activated (r, z, n), ``hn[n0 + b]`` the hidden candidate projection (with
    ``b_hn``), and ``h[t + 1]`` the new state."""
    H = h.shape[2]
    half = np.full(1, 0.5, h.dtype)[0]
    for b in range(n):
        row, gr, nr = r0 + b, g0 + b, n0 + b
        if not valid[t, row]:
            h[t + 1, row] = h[t, row]
            continue
        for k in range(2 * H):
            g[gr, k] = tanh((g[gr, k] + hg[b, k]) * half) * half + half
        for j in range(H):
            p = hg[b, 2 * H + j] + b_hn[j]
            hn[nr, j] = p
            v = tanh(g[gr, 2 * H + j] + g[gr, j] * p)
            g[gr, 2 * H + j] = v
            h[t + 1, row, j] = (h[t, row, j] - v) * g[gr, H + j] + v


@njit(**JIT)
def gru_forward(gates, hn, h, w_hh_t, b_hn, valid, mask, r0, r1):
    """Run the loop over time in place, keeping what :func:`gru_backward` reads.

    On entry ``gates`` (T, B, 3H) holds the input projections plus the folded
    bias and ``h[0]`` the initial state; on exit ``gates`` holds the activated
    gates, ``hn`` (T, B, H) the hidden candidate projections and ``h`` (T + 1,
    B, H) every step's state. ``w_hh_t`` (H, 3H) is ``weight_hh.T``, contiguous.
    """
    n, GH = r1 - r0, gates.shape[2]
    prev = np.empty((n, h.shape[2]), h.dtype)
    hg = np.empty((n, GH), h.dtype)
    for t in range(gates.shape[0]):
        _masked_prev(h, t, mask, r0, r1, prev)
        np.dot(prev, w_hh_t, hg)
        _gru_step(gates[t], r0, hg, b_hn, hn[t], r0, h, t, valid, r0, n)


@njit(**JIT)
def gru_predict(X, w_ih_t, bias, chunk, h, w_hh_t, b_hn, valid, mask, r0, r1):
    """The forward loop without a gate history (prediction).

    Projects the inputs ``X`` (T, B, F) of ``chunk`` steps at a time with
    ``w_ih_t`` (F, 3H) and ``bias`` (3H,) into a small buffer.
    """
    T, H = X.shape[0], h.shape[2]
    n, GH = r1 - r0, w_hh_t.shape[1]
    prev = np.empty((n, H), h.dtype)
    hg = np.empty((n, GH), h.dtype)
    hn = np.empty((n, H), h.dtype)
    for t0 in range(0, T, chunk):
        m = min(chunk, T - t0)
        buf = _project_steps(X, t0, m, r0, r1, w_ih_t, bias)
        for s in range(m):
            t = t0 + s
            _masked_prev(h, t, mask, r0, r1, prev)
            np.dot(prev, w_hh_t, hg)
            _gru_step(buf, s * n, hg, b_hn, hn, 0, h, t, valid, r0, n)


@njit(**JIT)
def gru_backward(gates, hn, h, s0, s1, w_hh, dY, dh_rec, valid, mask, r0, r1):
    """Backpropagate through steps ``s1 - 1`` down to ``s0``.

    Overwrites ``gates[t]`` (the activated gates) with the gradient of the gate
    pre-activations and ``hn[t]`` with the gradient of the hidden candidate
    projection (``r * dn``), and updates ``dh_rec`` (r1 - r0, H), the gradient
    flowing into the state before the current step, in place. ``w_hh`` (3H, H)
    is ``weight_hh`` as given.
    """
    H = h.shape[2]
    n = r1 - r0
    one = np.ones(1, h.dtype)[0]
    zero = one - one
    has_dy = dY.shape[0] > 0
    has_mask = mask.shape[0] > 0
    dhg = np.empty((n, 3 * H), h.dtype)
    dh = np.empty((n, H), h.dtype)
    direct = np.empty((n, H), h.dtype)
    for t in range(s1 - 1, s0 - 1, -1):
        for b in range(n):
            row = r0 + b
            for j in range(H):
                g = dh_rec[b, j]
                dh[b, j] = g + dY[t, row, j] if has_dy else g
            if not valid[t, row]:
                dhg[b] = zero
                continue
            for j in range(H):
                r = gates[t, row, j]
                z = gates[t, row, H + j]
                v = gates[t, row, 2 * H + j]
                g = dh[b, j]
                omz = one - z
                dn = ((one - v * v) * omz) * g
                dhg[b, H + j] = (((h[t, row, j] - v) * g) * z) * omz
                dhg[b, 2 * H + j] = dn * r
                dhg[b, j] = ((r * (one - r)) * hn[t, row, j]) * dn
                direct[b, j] = g * z
                gates[t, row, 2 * H + j] = dn
        np.dot(dhg, w_hh, dh_rec)
        for b in range(n):
            row = r0 + b
            if not valid[t, row]:
                gates[t, row] = zero
                hn[t, row] = zero
                dh_rec[b] = dh[b]
                continue
            gates[t, row, : 2 * H] = dhg[b, : 2 * H]
            hn[t, row] = dhg[b, 2 * H :]
            for j in range(H):
                if has_mask:
                    dh_rec[b, j] *= mask[row, j]
                dh_rec[b, j] += direct[b, j]
