"""Compiled scan of the LSTM cell: forward (training, prediction) and backward loops."""

import numpy as np
from numba import njit

# Conventions: see skrnn/_fast/_rnn.py. The gate order is PyTorch's (i, f, g, o);
# the rows of the sigmoid gates (i, f, o) of the forward weights and bias are
# halved (``LSTMCell.forward_weights``), so sigmoid(x) = 0.5 tanh(x / 2) + 0.5
# is one tanh of the pre-activation row.


@njit(cache=True, nogil=True, error_model="numpy")
def _masked_prev(h, t, mask, r0, r1, out):
    """``out = h[t, r0:r1] * mask[r0:r1]`` (or a plain copy without a mask)."""
    if mask.shape[0] == 0:
        out[:, :] = h[t, r0:r1]
        return
    for b in range(r1 - r0):
        for j in range(out.shape[1]):
            out[b, j] = h[t, r0 + b, j] * mask[r0 + b, j]


@njit(cache=True, nogil=True, error_model="numpy")
def _step(g, g0, hg, h, c, t, valid, r0, n):
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
        for k in range(4 * H):
            v = np.tanh(g[gr, k] + hg[b, k])
            if k < 2 * H or k >= 3 * H:
                v = v * half + half
            g[gr, k] = v
        for j in range(H):
            cc = g[gr, H + j] * c[t, row, j] + g[gr, j] * g[gr, 2 * H + j]
            c[t + 1, row, j] = cc
            h[t + 1, row, j] = g[gr, 3 * H + j] * np.tanh(cc)


@njit(cache=True, nogil=True, error_model="numpy")
def forward(gates, h, c, w_hh_t, valid, mask, r0, r1):
    """Run the loop over time in place, keeping what :func:`backward` reads.

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
        _step(gates[t], r0, hg, h, c, t, valid, r0, n)


@njit(cache=True, nogil=True, error_model="numpy")
def predict(X, w_ih_t, bias, chunk, h, c, w_hh_t, valid, mask, r0, r1):
    """The forward loop without a gate history (prediction).

    Projects the inputs ``X`` (T, B, F) of ``chunk`` steps at a time with
    ``w_ih_t`` (F, 4H) and ``bias`` (4H,) into a small buffer.
    """
    T, F = X.shape[0], X.shape[2]
    n, GH = r1 - r0, w_hh_t.shape[1]
    prev = np.empty((n, h.shape[2]), h.dtype)
    hg = np.empty((n, GH), h.dtype)
    for t0 in range(0, T, chunk):
        m = min(chunk, T - t0)
        xs = np.empty((m * n, F), h.dtype)
        for s in range(m):
            xs[s * n : (s + 1) * n] = X[t0 + s, r0:r1]
        buf = np.dot(xs, w_ih_t)
        for r in range(m * n):
            for k in range(GH):
                buf[r, k] += bias[k]
        for s in range(m):
            t = t0 + s
            _masked_prev(h, t, mask, r0, r1, prev)
            np.dot(prev, w_hh_t, hg)
            _step(buf, s * n, hg, h, c, t, valid, r0, n)


@njit(cache=True, nogil=True, error_model="numpy")
def backward(gates, c, s0, s1, w_hh, dY, dh_rec, dc, valid, mask, r0, r1):
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
    has_mask = mask.shape[0] > 0
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
                tc = np.tanh(c[t + 1, row, j])
                dcv = dc[b, j] + ((one - tc * tc) * o) * dh
                d[b, 3 * H + j] = ((o * (one - o)) * tc) * dh
                d[b, 2 * H + j] = ((one - gg * gg) * i) * dcv
                d[b, j] = ((i * (one - i)) * gg) * dcv
                dcp = dcv * f
                d[b, H + j] = (dcp * (one - f)) * c[t, row, j]
                dc[b, j] = dcp
        np.dot(d, w_hh, dh_rec)
        for b in range(n):
            row = r0 + b
            gates[t, row] = d[b]
            if not valid[t, row]:
                dh_rec[b] = keep[b]
            elif has_mask:
                for j in range(H):
                    dh_rec[b, j] *= mask[row, j]
