"""Compiled scan of the Elman cell (tanh or relu): forward and backward loops."""

import numpy as np
from numba import njit

# Conventions shared by the kernels of skrnn._fast: every array is C-contiguous
# and spans the whole batch; a kernel works on the rows [r0, r1) (one shard).
# ``valid`` (T, B) is False on padded steps; ``mask`` is the (B, V) recurrent
# dropout mask, or of shape (0, V) for none; ``dY`` is (T, B, V), or of shape
# (0, B, V) for none. Constants are made in the arrays' dtype so that float32
# stays float32.


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
def forward(h, w_hh_t, valid, mask, relu, r0, r1):
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
            for j in range(V):
                v = h[t + 1, row, j] + hg[b, j]
                if relu:
                    h[t + 1, row, j] = zero if v < zero else v
                else:
                    h[t + 1, row, j] = np.tanh(v)


@njit(cache=True, nogil=True, error_model="numpy")
def backward(h, dg, s0, s1, w_hh, dY, dh_rec, valid, mask, relu, r0, r1):
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
    has_mask = mask.shape[0] > 0
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
        np.dot(d, w_hh, dh_rec)
        for b in range(n):
            row = r0 + b
            dg[t - s0, row] = d[b]
            if not valid[t, row]:
                dh_rec[b] = dh[b]
            elif has_mask:
                for j in range(V):
                    dh_rec[b, j] *= mask[row, j]
