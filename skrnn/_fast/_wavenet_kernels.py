"""Compiled (numba) loops over tiles of steps of the dilated causal convolutions."""

import numpy as np
from numba import njit

from ._kernels import JIT, tanh

# numba's on-disk cache checks the source of this file only, while the kernels
# below inline the tanh of _kernels.py. This digest of that file keys them to
# it: tests/test_fast_wavenet.py fails on any change there until the digest is
# updated, and updating it changes this file, so no cached kernel outlives the
# code it was compiled from.
KERNELS_SHA256 = "47d6e10df8357fe4a4e9ba3b26d101b45d2fefb90c877017bbbac9c9eff89d98"
#
# Conventions (those of skrnn._wavenet): every array is channel-major, column
# ``m = t * B + b`` of a (channels, T * B) array, so the step ``t - d`` of
# column ``m`` is column ``m - s`` with ``s = d * B``; columns ``m < s`` read
# ``prev`` (C, s), the carried state or zeros. A kernel runs one layer over
# one shard of the batch (its own arrays) in tiles of at most ``TILE``
# columns, each tile a few small GEMMs (biases folded in as a row of ones) and
# elementwise loops over contiguous rows; nothing in a column depends on the
# tiles and weight gradients are summed tile by tile, so the numbers depend on
# the shapes only.
# ``wc`` is the conv as ``[W0, W1, b]`` (2C, 2C + 1), ``wrs`` the residual and
# skip projections as ``[[W_res; W_skip], [b_res; b_skip]]`` (2C, C + 1).

#: Columns per tile: its buffers stay in the core's cache.
TILE = 1024


@njit(**JIT)
def _stacked(x, prev, s, m0, m1):
    """``[x[t - d]; x[t]; 1]`` of columns [m0, m1): (2C + 1, m1 - m0)."""
    C, n = x.shape[0], m1 - m0
    H = np.empty((2 * C + 1, n), x.dtype)
    k = min(max(s - m0, 0), n)  # the first k columns come from prev
    for i in range(C):
        H[i, :k] = prev[i, m0 : m0 + k]
        H[i, k:] = x[i, m0 + k - s : m1 - s]
        H[C + i] = x[i, m0:m1]
    H[2 * C] = 1
    return H


@njit(**JIT)
def _gates(P):
    """``(A, Z)``: ``A = [tanh(f); sigmoid(g)]`` of the conv output ``P = [f; g]``
    (sigmoid as 0.5 tanh(g / 2) + 0.5) and ``Z = [tanh(f) sigmoid(g); 1]``."""
    C, n = P.shape[0] // 2, P.shape[1]
    A, Z = np.empty_like(P), np.empty((C + 1, n), P.dtype)
    half = P.dtype.type(0.5)
    for j in range(C):
        f, g, tf, sg, z = P[j], P[C + j], A[j], A[C + j], Z[j]
        for c in range(n):
            tf[c] = tanh(f[c])
            sg[c] = half * tanh(half * g[c]) + half
            z[c] = tf[c] * sg[c]
    Z[C] = 1
    return A, Z


@njit(**JIT)
def stack_forward(xs, prevs, offsets, dilations, B, wcs, wrss, S):
    """Every layer, tile after tile: ``xs[k + 1] = xs[k] + W_res z + b_res`` and
    ``S = sum_k W_skip z + b_skip``, from ``xs[0]`` (L, C, M).

    Causal: layer ``k`` of a tile reads columns of ``xs[k]`` up to the tile's
    end only, written by this tile's layer ``k - 1`` or by earlier tiles.
    ``prevs[:, offsets[k]:offsets[k + 1]]`` is layer ``k``'s carried state.
    """
    L, C, M = xs.shape
    for m0 in range(0, M, TILE):
        m1 = min(m0 + TILE, M)
        n = m1 - m0
        St = np.zeros((C, n), xs.dtype)
        for k in range(L):
            x, s = xs[k], dilations[k] * B
            prev = prevs[:, offsets[k] : offsets[k + 1]]
            _, Z = _gates(np.dot(wcs[k], _stacked(x, prev, s, m0, m1)))
            RS = np.dot(wrss[k], Z)
            for j in range(C):
                r, sk, st = RS[j], RS[C + j], St[j]
                for c in range(n):
                    st[c] += sk[c]
                if k + 1 < L:
                    xj, nj = x[j], xs[k + 1, j]
                    for c in range(n):
                        nj[m0 + c] = xj[m0 + c] + r[c]
        S[:, m0:m1] = St


@njit(**JIT)
def stack_backward(xs, prevs, offsets, dilations, B, wcs, wcts, wrsts, dS, gx, sums):
    """Gradients of :func:`stack_forward`, tile after tile from the end.

    ``dS`` (C, M) is the gradient of ``S``; on exit ``gx[k]`` (L, C, M, zeros
    on entry) holds the gradient of ``xs[k]`` and ``sums[k]`` (L, 2C, 3C + 2)
    those of ``wcs[k]`` (first 2C + 1 columns) and of ``wrss[k]`` (the rest).
    Anti-causal: ``gx[k + 1]`` of a tile is complete once layer ``k + 1`` has
    run on this tile and on every later one. ``wcts[k]`` is ``wcs[k]``'s
    ``[W0, W1]^T`` (2C, 2C), ``wrsts[k]`` the projections' transpose without
    their biases (C, 2C).
    """
    L, C, M = xs.shape
    dt = xs.dtype
    one = dt.type(1)
    for m0 in range(((M - 1) // TILE) * TILE, -1, -TILE):
        m1 = min(m0 + TILE, M)
        n = m1 - m0
        for k in range(L - 1, -1, -1):
            G = np.zeros((2 * C, n), dt)  # [d x_next; d skip]
            for j in range(C):
                if k + 1 < L:
                    G[j] = gx[k + 1, j, m0:m1]
                G[C + j] = dS[j, m0:m1]
            if not G.any():  # e.g. far from the read steps: adds nothing
                continue
            x, s = xs[k], dilations[k] * B
            prev = prevs[:, offsets[k] : offsets[k + 1]]
            H = _stacked(x, prev, s, m0, m1)
            A, Z = _gates(np.dot(wcs[k], H))
            dz = np.dot(wrsts[k], G)
            D = np.empty((2 * C, n), dt)  # [d f; d g]
            for j in range(C):
                tf, sg, d, df, dg = A[j], A[C + j], dz[j], D[j], D[C + j]
                for c in range(n):
                    u = d[c] * sg[c]
                    df[c] = u * (one - tf[c] * tf[c])
                    dg[c] = u * tf[c] * (one - sg[c])
            dH = np.dot(wcts[k], D)
            lo = max(m0, s)  # x[t - d] fed step t; the carried state's is dropped
            for j in range(C):
                gj, hd, hx, g = gx[k, j], dH[j], dH[C + j], G[j]
                for c in range(n):
                    gj[m0 + c] += g[c] + hx[c]
                for m in range(lo, m1):
                    gj[m - s] += hd[m - m0]
            sums[k, :, : 2 * C + 1] += np.dot(D, H.T)
            sums[k, :, 2 * C + 1 :] += np.dot(G, Z.T)
