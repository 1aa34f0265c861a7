"""The dilated convolution stack's compiled path behind ``skrnn._wavenet``."""

import importlib

import numpy as np

from .._config import get_config
from .._parallel import run_shards
from . import DTYPES, kernels_for, numba_available

__all__ = ["wavenet_backward", "wavenet_forward", "wavenet_kernels"]

#: Fewest rows (steps x batch) worth two shards, each on its own thread.
MIN_SHARD_ROWS = 4096


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
    return importlib.import_module("skrnn._fast._wavenet_kernels")


def _shards(M):
    """Fixed split of the rows: two halves from :data:`MIN_SHARD_ROWS` rows."""
    if M < MIN_SHARD_ROWS:
        return [slice(0, M)]
    half = (M + 1) // 2
    return [slice(0, half), slice(half, M)]


def _on_rows(fn, M):
    """``fn(shard index, r0, r1)`` on every shard of ``M`` rows, in parallel."""
    shards = list(enumerate(_shards(M)))
    run_shards(lambda item: fn(item[0], item[1].start, item[1].stop), shards, (1,) * 3)
    return len(shards)


def _weights(params, p):
    """Layer ``p``'s weights as the kernels read them (contiguous copies)."""
    w = params[p + "conv.weight"]
    return {
        "w0": np.ascontiguousarray(w[:, :, 0]),
        "w1": np.ascontiguousarray(w[:, :, 1]),
        "w0_t": np.ascontiguousarray(w[:, :, 0].T),
        "w1_t": np.ascontiguousarray(w[:, :, 1].T),
        "bc": params[p + "conv.bias"],
        "wr": np.ascontiguousarray(params[p + "res.weight"][:, :, 0]),
        "ws": np.ascontiguousarray(params[p + "skip.weight"][:, :, 0]),
    }


def wavenet_forward(fast, params, X, valid, state, dilations, keep, last_steps):
    """:func:`skrnn._wavenet.wavenet_forward` on the kernels ``fast``.

    ``X`` is contiguous and zero on padded steps, ``valid`` its (T, B) mask or
    None; ``keep`` keeps every layer's input for the backward pass;
    ``last_steps(x, prev, d)`` gives a layer's ``state_out`` from its input
    ``x`` of shape (C, T, B).
    """
    T, B, F = X.shape
    M, C, dt, L = T * B, params["input.weight"].shape[0], X.dtype, len(dilations)
    n_buf = L if keep else min(L, 2)  # prediction alternates two buffers
    xs = np.empty((n_buf, M, C), dt)
    np.matmul(X.reshape(M, F), params["input.weight"][:, :, 0].T, out=xs[0])
    xs[0] += params["input.bias"]
    S = np.empty((M, C), dt)
    S[...] = sum(params[f"layers.{k}.skip.bias"] for k in range(L))
    prevs, state_out, empty = [], [], np.empty((0, C), dt)
    for k, d in enumerate(dilations):
        p, s = f"layers.{k}.", d * B
        x = xs[k % n_buf]
        prev = None if state is None else state[k]
        state_out.append(last_steps(x.reshape(T, B, C).transpose(2, 0, 1), prev, d))
        prev = np.zeros((min(s, M), C), dt) if prev is None else prev.reshape(s, C)
        prevs.append(prev)
        x_next = empty if k + 1 == L else xs[(k + 1) % n_buf]
        w = _weights(params, p)
        args = (x, prev, s, w["w0_t"], w["w1_t"], w["bc"], w["wr"].T.copy())
        args += (w["ws"].T.copy(), params[p + "res.bias"], x_next, S)
        _on_rows(lambda i, r0, r1, args=args: fast.layer_forward(*args, r0, r1), M)
    if valid is not None:
        S.reshape(T, B, C)[~valid] = 0
    Y = np.maximum(S, 0).reshape(T, B, C)
    cache = {"fast": fast, "X": X, "xs": xs, "prev": prevs, "S": S, "d": dilations}
    return Y, state_out, cache


def wavenet_backward(params, dY, cache, need_dX):
    """:func:`skrnn._wavenet.wavenet_backward` of a compiled forward ``cache``."""
    fast, X, xs, S = cache["fast"], cache["X"], cache["xs"], cache["S"]
    T, B, F = X.shape
    M, C, dt, L = T * B, S.shape[1], X.dtype, len(cache["d"])
    dS = np.zeros((M, C), dt)
    np.copyto(dS, dY.reshape(M, C), casting="same_kind", where=S > 0)
    db_skip = dS.sum(axis=0)
    gx = np.zeros((M, C), dt)  # gradient of the current layer's output
    dpre = np.empty((M, 2 * C), dt)
    grads = {}
    for k in reversed(range(L)):
        p, s = f"layers.{k}.", cache["d"][k] * B
        w = _weights(params, p)
        parts = np.zeros((len(_shards(M)), 3 * C + 2, 2 * C), dt)
        args = (xs[k], cache["prev"][k], s, w["w0_t"], w["w1_t"], w["bc"], w["wr"])
        args += (w["ws"], gx[: 0 if k + 1 == L else M], dS, dpre)
        _on_rows(
            lambda i, r0, r1, a=args, o=parts: fast.layer_backward(*a, o[i], r0, r1), M
        )
        total = parts.sum(axis=0)
        grads[p + "conv.weight"] = np.stack([total[:C].T, total[C : 2 * C].T], axis=2)
        grads[p + "conv.bias"] = total[2 * C]
        grads[p + "res.weight"] = total[2 * C + 2 :, :C].T[:, :, None].copy()
        grads[p + "res.bias"] = total[2 * C + 1, :C].copy()
        grads[p + "skip.weight"] = total[2 * C + 2 :, C:].T[:, :, None].copy()
        grads[p + "skip.bias"] = db_skip.copy()
        args = (gx, s, w["w0"], w["w1"], dpre)
        _on_rows(lambda i, r0, r1, a=args: fast.input_grad(*a, r0, r1), M)
    grads["input.weight"] = np.matmul(gx.T, X.reshape(M, F))[:, :, None]
    grads["input.bias"] = gx.sum(axis=0)
    dX = None
    if need_dX:
        dX = np.matmul(gx, params["input.weight"][:, :, 0]).reshape(T, B, F)
    return dX, {key: grads[key] for key in params}
