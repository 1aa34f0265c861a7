"""Compiled scan of the GRU cell: forward (training, prediction) and backward loops."""

import numpy as np
from numba import njit

# Conventions: see skrnn/_fast/_rnn.py. The gate order is PyTorch's (r, z, n);
# the folded bias holds b_ih + b_hh for r and z and b_ih alone for n, whose
# b_hn enters inside the reset product: n = tanh(x_n + r (h W_hn^T + b_hn)).


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
def _step(g, g0, hg, b_hn, hn, n0, h, t, valid, r0, n):
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
            g[gr, k] = np.tanh((g[gr, k] + hg[b, k]) * half) * half + half
        for j in range(H):
            p = hg[b, 2 * H + j] + b_hn[j]
            hn[nr, j] = p
            v = np.tanh(g[gr, 2 * H + j] + g[gr, j] * p)
            g[gr, 2 * H + j] = v
            h[t + 1, row, j] = (h[t, row, j] - v) * g[gr, H + j] + v


@njit(cache=True, nogil=True, error_model="numpy")
def forward(gates, hn, h, w_hh_t, b_hn, valid, mask, r0, r1):
    """Run the loop over time in place, keeping what :func:`backward` reads.

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
        _step(gates[t], r0, hg, b_hn, hn[t], r0, h, t, valid, r0, n)


@njit(cache=True, nogil=True, error_model="numpy")
def predict(X, w_ih_t, bias, chunk, h, w_hh_t, b_hn, valid, mask, r0, r1):
    """The forward loop without a gate history (prediction).

    Projects the inputs ``X`` (T, B, F) of ``chunk`` steps at a time with
    ``w_ih_t`` (F, 3H) and ``bias`` (3H,) into a small buffer.
    """
    T, F, H = X.shape[0], X.shape[2], h.shape[2]
    n, GH = r1 - r0, w_hh_t.shape[1]
    prev = np.empty((n, H), h.dtype)
    hg = np.empty((n, GH), h.dtype)
    hn = np.empty((n, H), h.dtype)
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
            _step(buf, s * n, hg, b_hn, hn, 0, h, t, valid, r0, n)


@njit(cache=True, nogil=True, error_model="numpy")
def backward(gates, hn, h, s0, s1, w_hh, dY, dh_rec, valid, mask, r0, r1):
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
