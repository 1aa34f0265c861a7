"""Compiled (numba) loops over time of the rnn, lstm and gru cells."""

import numpy as np
from numba import njit

from ._primitives import (
    JIT,
    gemm_blocks,
    previous_state_grad,
    project_steps_into,
    state_product,
    tanh,
)

__all__ = ["JIT", "previous_state_grad", "project_steps_into", "state_product", "tanh"]

# numba's on-disk cache (cache=True) is keyed by the source file of each
# function and ignores changes in other modules: the kernels below inline the
# tanh and the products of _primitives.py, whose digest this records (tests
# fail on any change there until it is updated, and updating it changes this
# file, so no cached kernel outlives the code it was compiled from). The
# kernels of _kernels_statal.py and _wavenet_kernels.py record this file's.
PRIMITIVES_SHA256 = "a957a1e2529c0b9f4ef6d5ea424b349a29756066c4489c2c5798fc517fb250cc"

# Conventions: every array is C-contiguous and spans the whole batch; a kernel
# works on the rows [r0, r1) (one shard). ``valid`` (T, B) is False on padded
# steps; ``mask`` is the (B, V) recurrent dropout mask, or of shape (0, V) for
# none; ``dY`` is (T, B, V), or of shape (0, B, V) for none. Constants are made
# in the arrays' dtype so that float32 stays float32. The recurrent product of
# a step accumulates (BLAS beta = 1) into the rows of the buffer that already
# hold the input projection, so a step allocates and copies nothing.


# ---------------------------------------------------------------- Elman (rnn)


@njit(**JIT)
def rnn_forward(h, w_hh_t, valid, mask, relu, r0, r1):
    """Run the loop over time in place.

    On entry ``h[1:]`` of shape (T, B, V) holds the input projections plus both
    biases and ``h[0]`` the initial state; on exit ``h[t + 1]`` is the output of
    step ``t``. ``w_hh_t`` is ``weight_hh.T``, contiguous, of shape (V, V).
    """
    T, V = h.shape[0] - 1, h.shape[2]
    zero = np.zeros(1, h.dtype)[0]
    one = np.ones(1, h.dtype)
    prev = np.empty((r1 - r0, V), h.dtype)
    for t in range(T):
        state_product(h, t, mask, r0, r1, prev, w_hh_t, h[t + 1, r0:r1], one)
        for row in range(r0, r1):
            out = h[t + 1, row]
            if not valid[t, row]:
                out[:] = h[t, row]
            elif relu:
                for j in range(V):
                    v = out[j]
                    out[j] = zero if v < zero else v
            else:
                for j in range(V):
                    out[j] = tanh(out[j])


@njit(**JIT)
def rnn_backward(h, dg, s0, s1, w_hh, dY, dh_rec, valid, mask, relu, r0, r1):
    """Backpropagate through steps ``s1 - 1`` down to ``s0``.

    Writes the gradient of the pre-activations of step ``t`` into ``dg[t - s0]``
    (``dg`` of shape (>= s1 - s0, B, V)) and updates ``dh_rec`` (r1 - r0, V), the
    gradient flowing into the state before the current step, in place.
    """
    V = h.shape[2]
    n = r1 - r0
    one = np.ones(1, h.dtype)
    zeros = one - one
    zero = zeros[0]
    has_dy = dY.shape[0] > 0
    dh = np.empty((n, V), h.dtype)
    for t in range(s1 - 1, s0 - 1, -1):
        d = dg[t - s0, r0:r1]
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
                    d[b, j] = (one[0] - y * y) * g
        previous_state_grad(d, w_hh, dh_rec, zeros, dh, t, valid, mask, r0, one)


# ---------------------------------------------------------------- LSTM
# Gate order (i, f, g, o); the rows of the sigmoid gates (i, f, o) of the
# forward weights and bias are halved (``LSTMCell.forward_weights``), so
# sigmoid(x) = 0.5 tanh(x / 2) + 0.5 is one tanh of the pre-activation.


@njit(**JIT)
def _lstm_scales(H, dtype_of):
    """Per gate column, ``(scale, shift)`` of its activation ``tanh(x) scale +
    shift``: 0.5 and 0.5 (sigmoid) for i, f, o, 1 and 0 (tanh) for g. One loop
    over the row with these runs 3.5x faster than one loop per gate block."""
    scale = np.full(4 * H, 0.5, dtype_of.dtype)
    shift = scale.copy()
    scale[2 * H : 3 * H] = 1
    shift[2 * H : 3 * H] = 0
    return scale, shift


@njit(**JIT)
def _lstm_step(g, scale, shift, h, c, t, valid, r0):
    """One step for rows [r0, r0 + len(g)): activate the pre-activation rows
    ``g`` (n, 4H) in place and write ``c[t + 1]`` and ``h[t + 1]``."""
    H = c.shape[2]
    for b in range(g.shape[0]):
        row = r0 + b
        if not valid[t, row]:
            h[t + 1, row] = h[t, row]
            c[t + 1, row] = c[t, row]
            continue
        gi = g[b]
        for k in range(4 * H):
            gi[k] = tanh(gi[k]) * scale[k] + shift[k]
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
    one = np.ones(1, h.dtype)
    scale, shift = _lstm_scales(h.shape[2], one)
    prev = np.empty((r1 - r0, h.shape[2]), h.dtype)
    for t in range(gates.shape[0]):
        g = gates[t, r0:r1]
        state_product(h, t, mask, r0, r1, prev, w_hh_t, g, one)
        _lstm_step(g, scale, shift, h, c, t, valid, r0)


@njit(**JIT)
def lstm_predict(X, w_ih_t, bias, chunk, h, c, w_hh_t, valid, mask, r0, r1):
    """The forward loop without a gate history (prediction).

    Projects the inputs ``X`` (T, B, F) of ``chunk`` steps at a time with
    ``w_ih_t`` (F, 4H) and ``bias`` (4H,) into a small buffer.
    """
    T, F = X.shape[0], X.shape[2]
    n, GH = r1 - r0, w_hh_t.shape[1]
    one = np.ones(1, h.dtype)
    scale, shift = _lstm_scales(h.shape[2], one)
    prev = np.empty((n, h.shape[2]), h.dtype)
    xs = np.empty((chunk * n, F), h.dtype)
    buf = np.empty((chunk * n, GH), h.dtype)
    for t0 in range(0, T, chunk):
        m = min(chunk, T - t0)
        project_steps_into(X, t0, m, r0, r1, w_ih_t, bias, xs, buf, one)
        for s in range(m):
            g = buf[s * n : (s + 1) * n]
            state_product(h, t0 + s, mask, r0, r1, prev, w_hh_t, g, one)
            _lstm_step(g, scale, shift, h, c, t0 + s, valid, r0)


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
    ones = np.ones(1, c.dtype)
    zeros = ones - ones
    one, zero = ones[0], zeros[0]
    has_dy = dY.shape[0] > 0
    keep = np.empty((n, H), c.dtype)
    for t in range(s1 - 1, s0 - 1, -1):
        for b in range(n):
            row = r0 + b
            d = gates[t, row]  # each j reads its four gates, then overwrites them
            if not valid[t, row]:
                for j in range(H):
                    g = dh_rec[b, j]
                    keep[b, j] = g + dY[t, row, j] if has_dy else g
                d[:] = zero
                continue
            for j in range(H):
                dh = dh_rec[b, j]
                if has_dy:
                    dh = dh + dY[t, row, j]
                i, f, gg, o = d[j], d[H + j], d[2 * H + j], d[3 * H + j]
                tc = tanh(c[t + 1, row, j])
                dcv = dc[b, j] + ((one - tc * tc) * o) * dh
                d[3 * H + j] = ((o * (one - o)) * tc) * dh
                d[2 * H + j] = ((one - gg * gg) * i) * dcv
                d[j] = ((i * (one - i)) * gg) * dcv
                dcp = dcv * f
                d[H + j] = (dcp * (one - f)) * c[t, row, j]
                dc[b, j] = dcp
        d = gates[t, r0:r1]
        previous_state_grad(d, w_hh, dh_rec, zeros, keep, t, valid, mask, r0, ones)


# ---------------------------------------------------------------- GRU
# Gate order (r, z, n); the folded bias holds b_ih + b_hh for r and z and b_ih
# alone for n, whose b_hn enters inside the reset product.


@njit(**JIT)
def _gru_step(g, p, h, t, valid, r0):
    """One step for rows [r0, r0 + len(g)): the pre-activation rows ``g``
    (n, 3H) become the activated (r, z, n), given ``p`` (n, H), the hidden
    candidate projection (with ``b_hn``); writes ``h[t + 1]``."""
    H = h.shape[2]
    half = np.full(1, 0.5, h.dtype)[0]
    for b in range(g.shape[0]):
        row = r0 + b
        if not valid[t, row]:
            h[t + 1, row] = h[t, row]
            continue
        gb, pb, h_prev, h_new = g[b], p[b], h[t, row], h[t + 1, row]
        for k in range(2 * H):
            gb[k] = tanh(gb[k] * half) * half + half
        # one view per gate: indexing one row at offsets kept this loop scalar
        # (24x slower)
        r, z, v = gb[:H], gb[H : 2 * H], gb[2 * H :]
        for j in range(H):
            n = tanh(v[j] + r[j] * pb[j])
            v[j] = n
            h_new[j] = (h_prev[j] - n) * z[j] + n


@njit(**JIT)
def _gru_products(h, t, mask, r0, r1, prev, w_hh_t, b_hn, g, p, one):
    """The recurrent products of one step: ``g[:, :2H] += h w_rz`` and
    ``p = h w_n + b_hn`` (``h`` the state of step ``t``, through ``mask``)."""
    H = p.shape[1]
    for b in range(p.shape[0]):
        p[b] = b_hn
    state_product(h, t, mask, r0, r1, prev, w_hh_t[:, : 2 * H], g[:, : 2 * H], one)
    if mask.shape[0] == 0:
        gemm_blocks(h[t, r0:r1], w_hh_t[:, 2 * H :], p, one, one)
    else:  # state_product left the masked state in prev
        gemm_blocks(prev, w_hh_t[:, 2 * H :], p, one, one)


@njit(**JIT)
def gru_forward(gates, hn, h, w_hh_t, b_hn, valid, mask, r0, r1):
    """Run the loop over time in place, keeping what :func:`gru_backward` reads.

    On entry ``gates`` (T, B, 3H) holds the input projections plus the folded
    bias and ``h[0]`` the initial state; on exit ``gates`` holds the activated
    gates, ``hn`` (T, B, H) the hidden candidate projections and ``h`` (T + 1,
    B, H) every step's state. ``w_hh_t`` (H, 3H) is ``weight_hh.T``, contiguous.
    """
    one = np.ones(1, h.dtype)
    prev = np.empty((r1 - r0, h.shape[2]), h.dtype)
    for t in range(gates.shape[0]):
        g, p = gates[t, r0:r1], hn[t, r0:r1]
        _gru_products(h, t, mask, r0, r1, prev, w_hh_t, b_hn, g, p, one)
        _gru_step(g, p, h, t, valid, r0)


@njit(**JIT)
def gru_predict(X, w_ih_t, bias, chunk, h, w_hh_t, b_hn, valid, mask, r0, r1):
    """The forward loop without a gate history (prediction).

    Projects the inputs ``X`` (T, B, F) of ``chunk`` steps at a time with
    ``w_ih_t`` (F, 3H) and ``bias`` (3H,) into a small buffer.
    """
    T, F, H = X.shape[0], X.shape[2], h.shape[2]
    n, GH = r1 - r0, w_hh_t.shape[1]
    one = np.ones(1, h.dtype)
    prev = np.empty((n, H), h.dtype)
    p = np.empty((n, H), h.dtype)
    xs = np.empty((chunk * n, F), h.dtype)
    buf = np.empty((chunk * n, GH), h.dtype)
    for t0 in range(0, T, chunk):
        m = min(chunk, T - t0)
        project_steps_into(X, t0, m, r0, r1, w_ih_t, bias, xs, buf, one)
        for s in range(m):
            g = buf[s * n : (s + 1) * n]
            _gru_products(h, t0 + s, mask, r0, r1, prev, w_hh_t, b_hn, g, p, one)
            _gru_step(g, p, h, t0 + s, valid, r0)


@njit(**JIT)
def _gru_grads(gb, pb, h_prev, dh, direct):
    """One valid row of one reverse step: the activated gates ``gb`` (3H,)
    become the gradients of (r, z) pre-activations and of the candidate ``dn``,
    the projection ``pb`` (H,) becomes ``r dn``; ``direct`` (H,) gets ``dh z``."""
    H = pb.shape[0]
    one = np.ones(1, gb.dtype)[0]
    r, z, v = gb[:H], gb[H : 2 * H], gb[2 * H :]
    for j in range(H):
        rj, zj, vj = r[j], z[j], v[j]
        g = dh[j]
        omz = one - zj
        dn = ((one - vj * vj) * omz) * g
        z[j] = (((h_prev[j] - vj) * g) * zj) * omz
        r[j] = ((rj * (one - rj)) * pb[j]) * dn
        v[j] = dn
        pb[j] = dn * rj
        direct[j] = g * zj


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
    one = np.ones(1, h.dtype)
    zero = one[0] - one[0]
    has_dy = dY.shape[0] > 0
    dh = np.empty((n, H), h.dtype)
    direct = np.empty((n, H), h.dtype)
    for t in range(s1 - 1, s0 - 1, -1):
        for b in range(n):
            row = r0 + b
            for j in range(H):
                g = dh_rec[b, j]
                dh[b, j] = g + dY[t, row, j] if has_dy else g
            if valid[t, row]:
                _gru_grads(gates[t, row], hn[t, row], h[t, row], dh[b], direct[b])
            else:
                gates[t, row] = zero
                hn[t, row] = zero
                direct[b] = zero
        # dh_rec = [dr, dz, r dn] @ w_hh: the gate rows, then the candidate's
        gemm_blocks(hn[t, r0:r1], w_hh[2 * H :], dh_rec, one, one - one)
        d = gates[t, r0:r1, : 2 * H]
        previous_state_grad(d, w_hh[: 2 * H], dh_rec, one, dh, t, valid, mask, r0, one)
        for b in range(n):
            if valid[t, r0 + b]:
                dh_rec[b] += direct[b]
