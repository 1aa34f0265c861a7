"""Compiled (numba) row loops of the dilated causal convolution stack."""

import numpy as np
from numba import njit

from ._kernels import JIT, tanh

# numba's on-disk cache is keyed by this file alone: a change to ``tanh`` in
# ``_kernels.py`` is not seen by the cached kernels here until this file changes
# too (or the cache is cleared).
#
# Conventions: rows are time-major, row ``m = t * B + b`` of a (T * B, C)
# array, so the step ``t - d`` of row ``m`` is row ``m - s`` with ``s = d * B``;
# rows ``m < s`` read ``prev`` (the carried state, (s, C), or zeros). A kernel
# works on the rows [r0, r1) (one shard); nothing in a row depends on the
# shards, and sums over rows run in tiles of ``TILE`` rows, so the numbers
# depend on the shapes only. ``W0``/``W1`` are the conv taps of x[t - d] and
# x[t], ``(2C, C)``; ``*_t`` names their contiguous transposes.

#: Rows summed into a weight gradient before it is added to the shard's total.
TILE = 256


@njit(**JIT)
def _preactivation(x, prev, s, m, w0_t, w1_t, bc, pre):
    """``pre = W0 x[t - d] + W1 x[t] + b`` of row ``m``; returns ``x[t - d]``."""
    C = x.shape[1]
    xd = x[m - s] if m >= s else prev[m]
    pre[:] = bc
    for i in range(C):
        a, b = xd[i], x[m, i]
        for j in range(2 * C):
            pre[j] += a * w0_t[i, j] + b * w1_t[i, j]
    return xd


@njit(**JIT)
def _gates(pre, tf, sg, z):
    """``tf = tanh(f)``, ``sg = sigmoid(g)`` (as 0.5 tanh(g / 2) + 0.5), ``z``."""
    C = z.shape[0]
    half = pre.dtype.type(0.5)
    for j in range(C):
        tf[j] = tanh(pre[j])
        sg[j] = half * tanh(half * pre[C + j]) + half
        z[j] = tf[j] * sg[j]


@njit(**JIT)
def layer_forward(x, prev, s, w0_t, w1_t, bc, wr_t, ws_t, br, x_next, S, r0, r1):
    """One layer on rows [r0, r1): ``S += W_skip z``; ``x_next = x + W_res z +
    b_res`` unless ``x_next`` has no rows (the last layer)."""
    C = x.shape[1]
    dt = x.dtype
    pre, tf, sg, z = (
        np.empty(2 * C, dt),
        np.empty(C, dt),
        np.empty(C, dt),
        np.empty(C, dt),
    )
    residual = x_next.shape[0] > 0
    for m in range(r0, r1):
        _preactivation(x, prev, s, m, w0_t, w1_t, bc, pre)
        _gates(pre, tf, sg, z)
        for i in range(C):
            zi = z[i]
            for j in range(C):
                S[m, j] += zi * ws_t[i, j]
        if residual:
            for j in range(C):
                x_next[m, j] = x[m, j] + br[j]
            for i in range(C):
                zi = z[i]
                for j in range(C):
                    x_next[m, j] += zi * wr_t[i, j]


@njit(**JIT)
def _flush(acc, total):
    """``total += acc``; ``acc = 0``."""
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            total[i, j] += acc[i, j]
            acc[i, j] = 0


@njit(**JIT)
def layer_backward(
    x, prev, s, w0_t, w1_t, bc, wr, ws, gx, dS, dpre, grads, r0, r1
):  # fmt: skip
    """Gate gradients of one layer on rows [r0, r1), into ``dpre`` (M, 2C).

    ``gx`` is the gradient of the layer's output ``x_next`` (no rows for the
    last layer), ``dS`` that of the skip sum. ``grads`` (3C + 2, 2C) receives
    this shard's sums: rows ``:C`` ``dW0^T``, rows ``C:2C`` ``dW1^T``, row
    ``2C`` the conv bias, row ``2C + 1`` the residual bias (first ``C``
    columns) and rows ``2C + 2:`` ``[dW_res^T, dW_skip^T]``.
    """
    C = x.shape[1]
    dt = x.dtype
    pre, tf, sg, z = (
        np.empty(2 * C, dt),
        np.empty(C, dt),
        np.empty(C, dt),
        np.empty(C, dt),
    )
    dz = np.empty(C, dt)
    acc = np.zeros(grads.shape, dt)
    residual = gx.shape[0] > 0
    one = dt.type(1)
    for m in range(r0, r1):
        xd = _preactivation(x, prev, s, m, w0_t, w1_t, bc, pre)
        _gates(pre, tf, sg, z)
        dz[:] = 0
        for j in range(C):
            d = dS[m, j]
            for i in range(C):
                dz[i] += d * ws[j, i]
        if residual:
            for j in range(C):
                d = gx[m, j]
                for i in range(C):
                    dz[i] += d * wr[j, i]
        dp = dpre[m]
        for j in range(C):
            u = dz[j] * sg[j]
            dp[j] = u * (one - tf[j] * tf[j])
            dp[C + j] = u * tf[j] * (one - sg[j])
        for i in range(C):
            a, b = xd[i], x[m, i]
            for j in range(2 * C):
                acc[i, j] += a * dp[j]
                acc[C + i, j] += b * dp[j]
        for j in range(2 * C):
            acc[2 * C, j] += dp[j]
        for i in range(C):
            zi = z[i]
            row = acc[2 * C + 2 + i]
            for j in range(C):
                row[C + j] += zi * dS[m, j]
            if residual:
                for j in range(C):
                    row[j] += zi * gx[m, j]
        if residual:
            for j in range(C):
                acc[2 * C + 1, j] += gx[m, j]
        if (m - r0) % TILE == TILE - 1:
            _flush(acc, grads)
    _flush(acc, grads)


@njit(**JIT)
def input_grad(gx, s, w0, w1, dpre, r0, r1):
    """``gx[m] += W1^T dpre[m] + W0^T dpre[m + s]`` on rows [r0, r1): the
    gradient of the layer's input (what went into the carried state is dropped)."""
    M, C = gx.shape
    for m in range(r0, r1):
        g = gx[m]
        dp = dpre[m]
        for j in range(2 * C):
            d = dp[j]
            for i in range(C):
                g[i] += d * w1[j, i]
        if m + s < M:
            dp = dpre[m + s]
            for j in range(2 * C):
                d = dp[j]
                for i in range(C):
                    g[i] += d * w0[j, i]
