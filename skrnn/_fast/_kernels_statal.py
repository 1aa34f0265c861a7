"""Compiled (numba) loops over time of the statal cell."""

import numpy as np
from numba import njit

from ._kernels import (
    JIT,
    previous_state_grad,
    project_steps_into,
    state_product,
    tanh,
)

# numba's on-disk cache checks the source of this file only, while the kernels
# below inline the tanh and the helpers of _kernels.py. This digest of that file
# keys them to it: tests/test_fast_path.py fails on any change there until the
# digest is updated, and updating it changes this file, so no cached statal
# kernel outlives the code it was compiled from.
KERNELS_SHA256 = "47d6e10df8357fe4a4e9ba3b26d101b45d2fefb90c877017bbbac9c9eff89d98"

# Conventions as in _kernels.py. The visible state h (T + 1, B, V) holds, per
# row, the activations a (H values) and then the K states, one block of H each
# (V = (1 + K) H); the gate buffer (T, B, H) holds the pre-activations of a.
# ``rho`` (K,) holds the persistences, in the arrays' dtype.


@njit(**JIT)
def _statal_step(g, h, rho, t, valid, r0):
    """One step for rows [r0, r0 + len(g)): the pre-activation rows ``g``
    (n, H) become the activations a, and ``h[t + 1]`` the new state."""
    H = g.shape[1]
    half = np.full(1, 0.5, h.dtype)[0]
    one = half + half
    for b in range(g.shape[0]):
        row = r0 + b
        if not valid[t, row]:
            h[t + 1, row] = h[t, row]
            continue
        a, new = g[b], h[t + 1, row]
        for j in range(H):
            v = tanh(a[j] * half) * half + half
            a[j] = v
            new[j] = v
        for k in range(rho.shape[0]):
            # s = r + (1 - r) a with r = rho s_prev: s^1 never decreases
            rk = rho[k]
            prev = h[t, row, (1 + k) * H : (2 + k) * H]
            s = new[(1 + k) * H : (2 + k) * H]
            for j in range(H):
                r = prev[j] * rk
                s[j] = r + (one - r) * a[j]


@njit(**JIT)
def statal_forward(gates, h, w_hh_t, rho, valid, mask, r0, r1):
    """Run the loop over time in place, keeping what :func:`statal_backward` reads.

    On entry ``gates`` (T, B, H) holds the input projections plus the folded
    bias and ``h[0]`` the initial state; on exit ``gates`` holds the activations
    and ``h`` every step's state. ``w_hh_t`` (V, H) is ``weight_hh.T``, contiguous.
    """
    one = np.ones(1, h.dtype)
    prev = np.empty((r1 - r0, h.shape[2]), h.dtype)
    for t in range(gates.shape[0]):
        g = gates[t, r0:r1]
        state_product(h, t, mask, r0, r1, prev, w_hh_t, g, one)
        _statal_step(g, h, rho, t, valid, r0)


@njit(**JIT)
def statal_predict(X, w_ih_t, bias, chunk, h, w_hh_t, rho, valid, mask, r0, r1):
    """The forward loop without a gate history (prediction).

    Projects the inputs ``X`` (T, B, F) of ``chunk`` steps at a time with
    ``w_ih_t`` (F, H) and ``bias`` (H,) into a small buffer.
    """
    T, F = X.shape[0], X.shape[2]
    n, H = r1 - r0, w_hh_t.shape[1]
    one = np.ones(1, h.dtype)
    prev = np.empty((n, h.shape[2]), h.dtype)
    xs = np.empty((chunk * n, F), h.dtype)
    buf = np.empty((chunk * n, H), h.dtype)
    for t0 in range(0, T, chunk):
        m = min(chunk, T - t0)
        project_steps_into(X, t0, m, r0, r1, w_ih_t, bias, xs, buf, one)
        for s in range(m):
            g = buf[s * n : (s + 1) * n]
            state_product(h, t0 + s, mask, r0, r1, prev, w_hh_t, g, one)
            _statal_step(g, h, rho, t0 + s, valid, r0)


@njit(**JIT)
def _statal_grads(a, s_prev, dh, rho, d, direct):
    """One valid row of one reverse step: ``d`` (H,) the gradient of the
    pre-activations of ``a`` (H,), ``direct`` (V,) the state blocks' direct
    path ``ds_k rho_k (1 - a)`` into the previous state (``dh`` (V,) the total
    gradient of this step's state, ``s_prev`` (V,) the previous state)."""
    H = a.shape[0]
    one = np.ones(1, a.dtype)[0]
    d[:] = one - one
    for k in range(rho.shape[0]):
        rk = rho[k]
        sp = s_prev[(1 + k) * H : (2 + k) * H]
        ds = dh[(1 + k) * H : (2 + k) * H]
        for j in range(H):
            d[j] += (one - rk * sp[j]) * ds[j]
    for j in range(H):
        oma = one - a[j]
        d[j] = (d[j] + dh[j]) * (a[j] * oma)
    for k in range(rho.shape[0]):
        rk = rho[k]
        ds = dh[(1 + k) * H : (2 + k) * H]
        out = direct[(1 + k) * H : (2 + k) * H]
        for j in range(H):
            out[j] = ds[j] * (one - a[j]) * rk


@njit(**JIT)
def statal_backward(gates, h, s0, s1, w_hh, rho, dY, dh_rec, valid, mask, r0, r1):
    """Backpropagate through steps ``s1 - 1`` down to ``s0``.

    Overwrites ``gates[t]`` (the activations) with the gradient of their
    pre-activations, and updates ``dh_rec`` (r1 - r0, V), the gradient flowing
    into the state before the current step, in place. ``w_hh`` (H, V) is
    ``weight_hh`` as given.
    """
    H, V = gates.shape[2], h.shape[2]
    n = r1 - r0
    one = np.ones(1, h.dtype)
    zeros = one - one
    zero = zeros[0]
    has_dy = dY.shape[0] > 0
    d = np.empty((n, H), h.dtype)
    dh = np.empty((n, V), h.dtype)
    direct = np.empty((n, V), h.dtype)
    for t in range(s1 - 1, s0 - 1, -1):
        for b in range(n):
            row = r0 + b
            for j in range(V):
                g = dh_rec[b, j]
                dh[b, j] = g + dY[t, row, j] if has_dy else g
            if valid[t, row]:
                _statal_grads(gates[t, row], h[t, row], dh[b], rho, d[b], direct[b])
            else:
                d[b] = zero
        gates[t, r0:r1] = d
        previous_state_grad(d, w_hh, dh_rec, zeros, dh, t, valid, mask, r0, one)
        for b in range(n):
            if valid[t, r0 + b]:
                for j in range(H, V):
                    dh_rec[b, j] += direct[b, j]
