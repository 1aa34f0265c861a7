"""The dilated convolution stack's compiled path behind ``skrnn._wavenet``."""

import numpy as np

from .._config import get_config
from .._parallel import run_shards
from . import DTYPES, fast_shards, kernels_for, numba_available

__all__ = ["wavenet_backward", "wavenet_forward", "wavenet_kernels"]


def wavenet_kernels(dtype):
    """``skrnn._fast._wavenet_kernels``, or None for the NumPy path.

    The rule of :func:`skrnn._fast.kernels_for`: ``fast_path=False`` gives
    None, ``"auto"`` the kernels when numba is installed, ``True`` raises
    ``ImportError`` without numba; dtypes other than float32 and float64 give None.
    """
    kernels_for(None, dtype)  # raises ImportError for fast_path=True without numba
    if get_config()["fast_path"] is False or not numba_available():
        return None
    if np.dtype(dtype) not in DTYPES:
        return None
    from . import _cache  # imports numba

    return _cache.import_kernels("skrnn._fast._wavenet_kernels")


def _call(kernel, *args):
    """``kernel(*args)``, its first call per dtype compiled under the lock of
    :mod:`skrnn._fast._cache` (shared by worker processes)."""
    from . import _cache  # imports numba

    return _cache.call(kernel, *args)


def _weights(params, n_layers):
    """The layers' weights stacked as the kernels read them (biases folded)."""
    wcs, wcts, wrss, wrsts = [], [], [], []
    for k in range(n_layers):
        p = f"layers.{k}."
        w = params[p + "conv.weight"]
        wc = np.concatenate([w[:, :, 0], w[:, :, 1]], axis=1)  # (2C, 2C): [W0, W1]
        wcs.append(np.concatenate([wc, params[p + "conv.bias"][:, None]], axis=1))
        wcts.append(wc.T)
        wrs = np.concatenate([params[p + "res.weight"], params[p + "skip.weight"]])
        brs = np.concatenate([params[p + "res.bias"], params[p + "skip.bias"]])
        wrss.append(np.concatenate([wrs[:, :, 0], brs[:, None]], axis=1))
        wrsts.append(wrs[:, :, 0].T)
    return [np.ascontiguousarray(np.stack(ws)) for ws in (wcs, wcts, wrss, wrsts)]


def _shards(params, T, B, n_layers):
    """Fixed split of the batch (:func:`skrnn._fast.fast_shards`): each shard
    runs the whole stack on its own thread."""
    C = params["input.weight"].shape[0]
    return fast_shards(B, T * B * n_layers * 6 * C * C)


def wavenet_forward(fast, params, X, lengths, valid, state, dilations, last_steps):
    """:func:`skrnn._wavenet.wavenet_forward` on the kernels ``fast``.

    ``X`` is zero on padded steps, ``valid`` its (T, B) mask or None;
    ``last_steps(x, prev, lengths, d)`` gives a layer's ``state_out`` from its
    input ``x`` (C, T, B). Every layer's input is kept (the kernels read back
    ``d`` steps in each), for prediction too.
    """
    T, B, _ = X.shape
    shards = _shards(params, T, B, len(dilations))
    weights = _weights(params, len(dilations))

    def run(rows):
        sub = None if state is None else [prev[:, rows] for prev in state]
        ok = None if valid is None else valid[:, rows]
        part = _forward_rows(fast, params, weights, X[:, rows], ok, sub, dilations)
        sub_lengths = None if lengths is None else lengths[rows]
        xs, T_B = part["xs"], (T, rows.stop - rows.start)
        part["state"] = [
            last_steps(
                xs[k].reshape(-1, *T_B), None if sub is None else sub[k], sub_lengths, d
            )
            for k, d in enumerate(dilations)
        ]
        return part

    parts = run_shards(run, shards, (1, 1, 1, None))
    if len(parts) == 1:
        Y, state_out = parts[0]["Y"], parts[0]["state"]
    else:
        Y = np.concatenate([part["Y"] for part in parts], axis=1)
        state_out = [
            np.concatenate([part["state"][k] for part in parts], axis=1)
            for k in range(len(dilations))
        ]
    cache = {"fast": fast, "shards": shards, "parts": parts, "d": dilations}
    return Y, state_out, cache


def _forward_rows(fast, params, weights, X, valid, state, dilations):
    """The stack on one shard's rows ``X`` (T, B, F): its outputs and cache."""
    X = np.ascontiguousarray(X)
    T, B, F = X.shape
    M, C, dt, L = T * B, params["input.weight"].shape[0], X.dtype, len(dilations)
    xs = np.empty((L, C, M), dt)
    np.matmul(params["input.weight"][:, :, 0], X.reshape(M, F).T, out=xs[0])
    xs[0] += params["input.bias"][:, None]
    d = np.asarray(dilations, dtype=np.int64)
    widths = np.minimum(d * B, M)
    offsets = np.concatenate([[0], np.cumsum(widths)])
    if state is None:
        prevs = np.zeros((C, offsets[-1]), dt)
    else:
        prevs = np.concatenate(
            [np.reshape(p, (-1, C))[:w].T for p, w in zip(state, widths, strict=True)],
            axis=1,
        )
        prevs = np.ascontiguousarray(prevs, dtype=dt)
    S = np.empty((C, M), dt)
    wcs, _, wrss, _ = weights
    _call(fast.stack_forward, xs, prevs, offsets, d, B, wcs, wrss, S)
    if valid is not None:
        S.reshape(C, T, B)[:, ~valid] = 0
    Y = np.empty((T, B, C), dt)
    np.maximum(S.T, 0, out=Y.reshape(M, C))
    return {
        "X": X,
        "xs": xs,
        "prevs": prevs,
        "offsets": offsets,
        "d": d,
        "S": S,
        "Y": Y,
    }


def wavenet_backward(params, dY, cache, need_dX):
    """:func:`skrnn._wavenet.wavenet_backward` of a compiled forward ``cache``."""
    fast, shards, parts = cache["fast"], cache["shards"], cache["parts"]
    L, C = len(cache["d"]), params["input.weight"].shape[0]
    weights = _weights(params, L)

    def run(item):
        rows, part = item
        return _backward_rows(fast, params, weights, part, dY[:, rows], need_dX)

    outs = run_shards(run, list(zip(shards, parts, strict=True)), (1, 1, 1, None))
    # the shards' sums, added in shard order
    total, dW_in, db_in = (
        sum((out[i] for out in outs[1:]), outs[0][i]) for i in range(3)
    )
    grads = {"input.weight": dW_in[:, :, None], "input.bias": db_in}
    for k in range(L):
        p, dWc, dW = f"layers.{k}.", total[k, :, : 2 * C + 1], total[k, :, 2 * C + 1 :]
        grads[p + "conv.weight"] = np.stack([dWc[:, :C], dWc[:, C : 2 * C]], axis=2)
        grads[p + "conv.bias"] = dWc[:, 2 * C].copy()
        grads[p + "res.weight"] = dW[:C, :C, None].copy()
        grads[p + "res.bias"] = dW[:C, C].copy()
        grads[p + "skip.weight"] = dW[C:, :C, None].copy()
        grads[p + "skip.bias"] = dW[C:, C].copy()
    dX = None
    if need_dX:
        dX = np.concatenate([out[3] for out in outs], axis=1)
    return dX, {key: grads[key] for key in params}


def _backward_rows(fast, params, weights, part, dY, need_dX):
    """Backward of one shard: the weight sums (L, 2C, 3C + 2) as
    :func:`stack_backward` lays them out, the input projection's gradients and
    the gradient of the shard's ``X`` (or None)."""
    S, xs, X = part["S"], part["xs"], part["X"]
    L, C, M = xs.shape
    dS = np.zeros((C, M), S.dtype)
    np.copyto(dS, dY.reshape(M, C).T, casting="same_kind", where=S > 0)
    gx = np.zeros(xs.shape, S.dtype)
    sums = np.zeros((L, 2 * C, 3 * C + 2), S.dtype)
    wcs, wcts, _, wrsts = weights
    args = (xs, part["prevs"], part["offsets"], part["d"], X.shape[1])
    _call(fast.stack_backward, *args, wcs, wcts, wrsts, dS, gx, sums)
    dx = gx[0]
    dX = None
    if need_dX:
        dX = np.matmul(dx.T, params["input.weight"][:, :, 0]).reshape(X.shape)
    return sums, np.matmul(dx, X.reshape(M, -1)), dx.sum(axis=1), dX
