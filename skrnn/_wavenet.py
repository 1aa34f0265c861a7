"""WaveNet-style stack of dilated causal convolutions as a vectorized sequence layer.

Parameters (PyTorch ``Conv1d`` layout ``(out_channels, in_channels, kernel_size)``),
with ``F`` input features, ``C`` channels and ``k = 0, ..., n_layers - 1``, in this
order::

    "input.weight"          (C, F, 1)    1x1 input projection
    "input.bias"            (C,)
    "layers.k.conv.weight"  (2C, C, 2)   rows :C filter, rows C: gate;
                                         [..., 0] taps x[t - d], [..., 1] taps x[t]
    "layers.k.conv.bias"    (2C,)
    "layers.k.res.weight"   (C, C, 1)    1x1 residual projection
    "layers.k.res.bias"     (C,)
    "layers.k.skip.weight"  (C, C, 1)    1x1 skip projection
    "layers.k.skip.bias"    (C,)

Layer ``k`` has dilation ``d = 2 ** (k % 10)``, so deep stacks repeat the cycle
1, 2, 4, ..., 512. With ``x`` the layer input (``x_0 = W_in X + b_in``)::

    [f; g] = W0 x[t - d] + W1 x[t] + b      (x[t - d] = state or 0 before the start)
    z      = tanh(f) * sigmoid(g)
    x_next = x + W_res z + b_res,   skip += W_skip z + b_skip
    Y      = relu(skip)                      (T, B, C); 0 on padded steps

The last layer's residual output feeds nothing, so its ``res`` gradients are zero
(the weights are kept so every layer has the same keys). All time steps of a layer
are a handful of vectorized operations on channel-major ``(channels, T * B)``
buffers (contiguous halves and rows; each causal conv is one GEMM over the stacked
``[x[t - d]; x[t]]``); the only Python loop is over layers. The forward cache holds
about ``4 * n_layers * T * B * C`` floats (a prediction keeps none).

With the fast path on (``skrnn.get_config()["fast_path"]``, the rule of the
recurrent scan), float32 and float64 stacks run the compiled kernels of
``skrnn._fast._wavenet_kernels`` instead: every layer over one tile of steps
at a time, the batch split in two shards, the same numbers to float rounding.
"""

import numpy as np

from ._fast import _wavenet as _compiled
from ._initializers import glorot_uniform
from ._masks import valid_mask

__all__ = [
    "param_shapes",
    "receptive_field",
    "wavenet_backward",
    "wavenet_forward",
    "wavenet_init",
]

_DILATION_CYCLE = 10  # dilations 1, 2, ..., 2 ** 9 = 512, then again from 1


def _dilation(k):
    return 2 ** (k % _DILATION_CYCLE)


#: Most layers :func:`wavenet_depth` picks: dilations 1 to 512, 1024 steps seen.
MAX_AUTO_LAYERS = 10


def wavenet_depth(n_timesteps):
    """Fewest layers whose receptive field covers ``n_timesteps`` (at most 10).

    >>> wavenet_depth(24), wavenet_depth(251), wavenet_depth(5000)
    (5, 8, 10)
    """
    n_layers = 1
    while receptive_field(n_layers) < n_timesteps and n_layers < MAX_AUTO_LAYERS:
        n_layers += 1
    return n_layers


def receptive_field(n_layers):
    """Number of input steps that one output step can depend on.

    Parameters
    ----------
    n_layers : int
        Number of dilated layers (dilation ``2 ** (k % 10)`` for layer ``k``).

    Returns
    -------
    int
        ``1 + sum of the dilations``: output ``t`` depends only on inputs at steps
        ``t - receptive_field(n_layers) + 1, ..., t``.

    Examples
    --------
    >>> from skrnn._wavenet import receptive_field
    >>> receptive_field(1), receptive_field(4), receptive_field(11)
    (2, 16, 1025)
    """
    return 1 + sum(_dilation(k) for k in range(n_layers))


def param_shapes(input_size, n_channels, n_layers):
    """Parameter names and shapes, in order."""
    C = n_channels
    shapes = {"input.weight": (C, input_size, 1), "input.bias": (C,)}
    for k in range(n_layers):
        p = f"layers.{k}."
        shapes[p + "conv.weight"] = (2 * C, C, 2)
        shapes[p + "conv.bias"] = (2 * C,)
        for name in ("res", "skip"):
            shapes[p + name + ".weight"] = (C, C, 1)
            shapes[p + name + ".bias"] = (C,)
    return shapes


def wavenet_init(rng, input_size, *, n_channels, n_layers, dtype=np.float64):
    """Glorot-uniform weights and zero biases for a WaveNet stack.

    The arguments are trusted, not checked: the estimators validate
    ``hidden_layer_sizes`` (the channels and the layers) before any work.

    Parameters
    ----------
    rng : numpy.random.RandomState
        Source of every random draw; weights are drawn in key order.
    input_size : int
        Number of input features ``F``, >= 1.
    n_channels : int
        Number of channels ``C`` (residual, skip and output width), >= 1.
    n_layers : int
        Number of dilated layers, >= 1.
    dtype : {np.float32, np.float64}, default=np.float64

    Returns
    -------
    params : dict of str to ndarray
        Keys and shapes as listed in the module docstring, in that order. Glorot
        uses ``fan_in = in_channels * kernel_size`` and ``fan_out = out_channels *
        kernel_size`` of each whole weight tensor.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn._wavenet import wavenet_init
    >>> params = wavenet_init(np.random.RandomState(0), 3, n_channels=4, n_layers=2)
    >>> list(params)[:4]
    ['input.weight', 'input.bias', 'layers.0.conv.weight', 'layers.0.conv.bias']
    >>> params["layers.1.conv.weight"].shape
    (8, 4, 2)
    """
    dtype = np.dtype(dtype)
    params = {}
    for key, shape in param_shapes(input_size, n_channels, n_layers).items():
        if key.endswith(".bias"):
            params[key] = np.zeros(shape, dtype)
        else:
            params[key] = glorot_uniform(rng, shape, dtype)
    return params


def _padded_input(X, lengths):
    """``(X, lengths or None, valid or None)``: contiguous, zero on padded steps."""
    valid = None if lengths is None else valid_mask(lengths, X.shape[0])
    if valid is None:
        return np.ascontiguousarray(X), None, None
    return np.where(valid[:, :, None], X, X.dtype.type(0)), lengths, valid


def _conv_matrix(weight):
    """``(2C_out, C_in, 2)`` conv weight as ``(2C_out, 2C_in)``: ``[W0, W1]``."""
    return np.concatenate([weight[:, :, 0], weight[:, :, 1]], axis=1)


def _last_steps(x, prev, lengths, d):
    """Last ``d`` steps of ``[prev; x]`` before each sample's length, (d, B, C).

    ``x`` is channel-major, shape (C, T, B); ``prev`` is (d, B, C) or None (zeros).
    """
    C, T, B = x.shape
    if lengths is None:
        if T >= d:
            return x[:, T - d :].transpose(1, 2, 0).copy()
        head = prev[T:] if prev is not None else np.zeros((d - T, B, C), x.dtype)
        return np.concatenate([head, x.transpose(1, 2, 0)], axis=0)
    idx = lengths[None, :] - d + np.arange(d)[:, None]  # (d, B), -d <= idx < T
    cols = np.arange(B)[None, :]
    out = x[:, np.clip(idx, 0, T - 1), cols].transpose(1, 2, 0)
    before = (idx < 0)[:, :, None]  # these steps come from the previous chunk
    fill = x.dtype.type(0) if prev is None else prev[np.clip(idx + d, 0, d - 1), cols]
    return np.ascontiguousarray(np.where(before, fill, out))


def _delay_rows(H, prev, n, B):
    """Fill ``H[:C]`` with ``x[t - d]`` from ``H[C:] = x[t]`` (C, T * B): its
    first ``n = min(d, T)`` steps come from the carried ``prev`` (or zeros)."""
    C, M, s = H.shape[0] // 2, H.shape[1], n * B
    if prev is None:
        H[:C, :s] = 0
    else:
        H[:C, :s] = prev[:n].reshape(s, C).T
    H[:C, s:] = H[C:, : M - s]


#: Columns a layer works through at a time when there are more than twice as
#: many: the buffers of a block stay in the cache (measured at 4000 steps,
#: batch 64, 8 channels: a layer's forward 18 -> 11 ms).
BLOCK_COLUMNS = 2**15


def _block_width(M):
    return M if M <= 2 * BLOCK_COLUMNS else BLOCK_COLUMNS


def _layer_forward(params, p, H, A, H_next, S, scratch):
    """Layer ``p`` on ``H = [x[t - d]; x[t]]`` (2C, M), block by block:
    ``A = [tanh(f); sigmoid(g)]`` (2C, M; or None: not kept), ``S += W_skip z +
    b_skip``, ``H_next[C:] = x + W_res z + b_res`` (None for the last layer).
    ``scratch`` is ``(a, z, rs)``, of shapes (2C, n), (C, n), (2C, n) with
    ``n = _block_width(M)``."""
    C, M = H.shape[0] // 2, H.shape[1]
    # sigmoid(g) = 0.5 * tanh(0.5 * g) + 0.5: halve the gate rows, one tanh
    Wc = _conv_matrix(params[p + "conv.weight"])
    bc = params[p + "conv.bias"][:, None].copy()
    Wc[C:] *= 0.5
    bc[C:] *= 0.5
    W = np.concatenate([params[p + "res.weight"], params[p + "skip.weight"]])[:, :, 0]
    b = np.concatenate([params[p + "res.bias"], params[p + "skip.bias"]])[:, None]
    if H_next is None:  # the last layer's residual output feeds nothing
        W, b = W[C:], b[C:]
    n, (a, z, rs) = _block_width(M), scratch
    rs = rs[: len(W)]
    for m0 in range(0, M, n):
        cols, w = slice(m0, min(m0 + n, M)), min(n, M - m0)
        if A is not None:
            a = A[:, cols]
        np.matmul(Wc, H[:, cols], out=a[:, :w])
        a += bc
        np.tanh(a, out=a)
        a[C:] *= 0.5
        a[C:] += 0.5  # a = [tanh(f); sigmoid(g)]
        np.multiply(a[:C, :w], a[C:, :w], out=z[:, :w])
        np.matmul(W, z[:, :w], out=rs[:, :w])
        rs[:, :w] += b
        S[:, cols] += rs[-C:, :w]
        if H_next is not None:
            np.add(H[C:, cols], rs[:C, :w], out=H_next[C:, cols])


def wavenet_forward(
    params, X, lengths=None, *, n_layers, state=None, for_backward=True
):
    """Run the dilated causal convolution stack over all time steps at once.

    Runs on every batch and trusts its inputs (the estimators validate the data
    once, at their boundary): ``X`` a 3-D float32 or float64 ndarray with the
    features ``params`` was built for, every entry of ``params`` of ``X``'s dtype
    and of the shape :func:`param_shapes` gives, ``lengths`` integers in
    ``[1, n_steps]`` and ``state`` the ``state_out`` of the previous chunk of
    the same batch.

    Parameters
    ----------
    params : dict of str to ndarray
        From :func:`wavenet_init`, same dtype as ``X``.
    X : ndarray of shape (n_steps, n_samples, n_features)
        Time-major float32 or float64 batch; computation stays in this dtype.
        Padded contents are ignored (they may even be NaN).
    lengths : ndarray of shape (n_samples,) of int, default=None
        Valid steps per sample (right padding); None means all steps are valid.
    n_layers : int
        Number of dilated layers in ``params``.
    state : list of ndarray or None, default=None
        For streaming a long series chunk by chunk: entry ``k`` has shape
        ``(2 ** (k % 10), n_samples, n_channels)`` and holds the last inputs of
        layer ``k`` from the previous chunk. None means zeros (start of series).
    for_backward : bool, default=True
        Whether to keep the activations for :func:`wavenet_backward` (else the
        layers share their buffers and ``cache`` holds nothing to backpropagate).

    Returns
    -------
    Y : ndarray of shape (n_steps, n_samples, n_channels)
        ``relu`` of the summed skips; 0 on padded steps. ``Y[t]`` depends only on
        ``X[t - receptive_field(n_layers) + 1 : t + 1]`` (and ``state``).
    state_out : list of ndarray
        Same structure as ``state``, taken at each sample's last valid steps, so
        the next chunk continues each sample where its valid part ended.
    cache : dict
        Activations for :func:`wavenet_backward` (holds a reference to ``X``).

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn._wavenet import wavenet_init, wavenet_forward
    >>> params = wavenet_init(np.random.RandomState(0), 3, n_channels=4, n_layers=2)
    >>> X = np.random.RandomState(1).randn(10, 5, 3)
    >>> Y, state, cache = wavenet_forward(params, X, n_layers=2)
    >>> Y.shape, [s.shape for s in state]
    ((10, 5, 4), [(1, 5, 4), (2, 5, 4)])
    >>> Y1, state1, _ = wavenet_forward(params, X[:6], n_layers=2)
    >>> Y2, _, _ = wavenet_forward(params, X[6:], n_layers=2, state=state1)
    >>> bool(np.allclose(np.concatenate([Y1, Y2]), Y))
    True
    """
    fast = _compiled.wavenet_kernels(X.dtype)
    X, lengths, valid = _padded_input(X, lengths)
    if fast is not None:
        dilations = [_dilation(k) for k in range(n_layers)]
        return _compiled.wavenet_forward(
            fast,
            params,
            X,
            lengths,
            valid,
            state,
            dilations,
            _last_steps,
        )
    T, B, F = X.shape
    M, C, dt = T * B, params["input.weight"].shape[0], X.dtype
    # Channel-major (channels, T * B) buffers keep every half and row contiguous.
    # training keeps every layer's H and A (one block: fewer page faults);
    # prediction reuses two H
    kept = np.empty((n_layers, 4 * C, M), dt) if for_backward else None
    Hs, As, state_out, spare = [], [], [], None
    S = np.zeros((C, M), dt)  # sum of skips
    n = _block_width(M)
    scratch = (np.empty((2 * C, n), dt), np.empty((C, n), dt), np.empty((2 * C, n), dt))
    # [x[t - d]; x[t]] of the current layer
    H = np.empty((2 * C, M), dt) if kept is None else kept[0, : 2 * C]
    np.matmul(params["input.weight"][:, :, 0], X.reshape(M, F).T, out=H[C:])
    H[C:] += params["input.bias"][:, None]
    for k in range(n_layers):
        p, d = f"layers.{k}.", _dilation(k)
        prev = None if state is None else state[k]
        _delay_rows(H, prev, min(d, T), B)
        state_out.append(_last_steps(H[C:].reshape(C, T, B), prev, lengths, d))
        A, H_next = None, None
        if kept is not None:
            A = kept[k, 2 * C :]
            Hs.append(H)
            As.append(A)
        if k + 1 < n_layers:
            if kept is not None:
                H_next = kept[k + 1, : 2 * C]
            else:
                H_next = np.empty((2 * C, M), dt) if spare is None else spare
        _layer_forward(params, p, H, A, H_next, S, scratch)
        spare, H = (None if kept is not None else H), H_next
    if valid is not None:
        S.reshape(C, T, B)[:, ~valid] = 0
    Y = np.empty((T, B, C), dt)
    np.maximum(S.T, 0, out=Y.reshape(M, C))
    cache = {"X": X, "H": Hs, "A": As, "S": S, "n_layers": n_layers}
    return Y, state_out, cache


def _layer_backward(params, p, G, H, A, last, dH, scratch, grads):
    """Gradients of layer ``p``'s weights into ``grads``, block by block, and
    ``dH = Wc^T [d f; d g]`` (2C, M), the gradient of its ``H``.

    ``G`` (2C, M) holds ``[d x_next; d skip]``; the ``last`` layer's residual
    output feeds nothing, so its gradients are zero. ``scratch`` is ``(z, dz, u,
    v, dpre)`` of widths ``_block_width(M)``, (C, n) each and (2C, n).
    """
    C, M = A.shape[0] // 2, A.shape[1]
    W = np.concatenate([params[p + "res.weight"], params[p + "skip.weight"]])[:, :, 0]
    Gr, W = (G[C:], W[C:]) if last else (G, W)
    Wc_t = _conv_matrix(params[p + "conv.weight"]).T
    n, (z, dz, u, v, dpre) = _block_width(M), scratch
    dW, dWc, dbc = np.zeros((len(W), C), A.dtype), np.zeros((2 * C, 2 * C), A.dtype), 0
    for m0 in range(0, M, n):
        cols, w = slice(m0, min(m0 + n, M)), min(n, M - m0)
        g, a = Gr[:, cols], A[:, cols]
        np.multiply(a[:C], a[C:], out=z[:, :w])  # the gated activation, again
        np.matmul(W.T, g, out=dz[:, :w])
        dW += np.matmul(g, z[:, :w].T)
        _gate_grads(dz[:, :w], a, u[:, :w], v[:, :w], dpre[:, :w])
        dWc += np.matmul(dpre[:, :w], H[:, cols].T)
        dbc = dbc + dpre[:, :w].sum(axis=1)
        np.matmul(Wc_t, dpre[:, :w], out=dH[:, cols])
    grads[p + "conv.weight"] = np.stack([dWc[:, :C], dWc[:, C:]], axis=2)
    grads[p + "conv.bias"] = dbc
    grads[p + "skip.weight"] = dW[-C:, :, None]
    if last:
        grads[p + "res.weight"] = np.zeros((C, C, 1), A.dtype)
        grads[p + "res.bias"] = np.zeros(C, A.dtype)
    else:
        grads[p + "res.weight"] = dW[:C, :, None]
        grads[p + "res.bias"] = G[:C].sum(axis=1)


def _gate_grads(dz, A, u, v, dpre):
    """``dpre = [d f; d g]`` from ``dz`` and ``A = [tanh(f); sigmoid(g)]``
    (``u``, ``v`` are (C, M) scratch)."""
    C = dz.shape[0]
    tf, sg = A[:C], A[C:]
    np.multiply(dz, sg, out=u)
    np.multiply(tf, tf, out=v)
    np.subtract(1, v, out=v)
    np.multiply(u, v, out=dpre[:C])  # d f = dz * sg * (1 - tf^2)
    np.subtract(1, sg, out=v)
    v *= tf
    np.multiply(u, v, out=dpre[C:])  # d g = dz * tf * sg * (1 - sg)


def wavenet_backward(params, dY, cache, need_dX=True):
    """Gradients of a WaveNet stack by reverse-mode over all time steps at once.

    Parameters
    ----------
    params : dict of str to ndarray
        The parameters used in the forward call.
    dY : ndarray of shape (n_steps, n_samples, n_channels)
        Gradient of the loss with respect to ``Y`` (trusted to have its shape);
        values on padded steps are ignored. Cast to the dtype of the forward pass.
    cache : dict
        From :func:`wavenet_forward`.
    need_dX : bool, default=True
        Whether to compute the gradient of the input.

    Returns
    -------
    dX : ndarray of shape (n_steps, n_samples, n_features) or None
        Gradient with respect to ``X`` (0 on padded steps). No gradient flows into
        the streaming ``state``: chunks are truncated for backpropagation.
    grads : dict of str to ndarray
        Same keys, order and shapes as ``params``.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn._wavenet import wavenet_init, wavenet_forward, wavenet_backward
    >>> params = wavenet_init(np.random.RandomState(0), 3, n_channels=4, n_layers=2)
    >>> X = np.random.RandomState(1).randn(10, 5, 3)
    >>> Y, _, cache = wavenet_forward(params, X, np.array([10, 9, 4, 1, 7]), n_layers=2)
    >>> dX, grads = wavenet_backward(params, np.ones_like(Y), cache)
    >>> dX.shape, grads["layers.0.conv.weight"].shape, float(abs(dX[4:, 2]).max())
    ((10, 5, 3), (8, 4, 2), 0.0)
    """
    if "fast" in cache:
        return _compiled.wavenet_backward(params, dY, cache, need_dX)
    X, S, n_layers = cache["X"], cache["S"], cache["n_layers"]
    T, B, F = X.shape
    C, M, dt = S.shape[0], T * B, X.dtype
    G = np.zeros((2 * C, M), dt)  # [d x_next; d skip] of the current layer
    np.copyto(G[C:], dY.reshape(M, C).T, casting="same_kind", where=S > 0)
    db_skip = G[C:].sum(axis=1)
    dH = np.empty((2 * C, M), dt)
    n = _block_width(M)
    scratch = (*(np.empty((C, n), dt) for _ in range(4)), np.empty((2 * C, n), dt))
    grads = {}
    for k in reversed(range(n_layers)):
        p, s = f"layers.{k}.", min(_dilation(k), T) * B
        H, A = cache["H"][k], cache["A"][k]
        grads[p + "skip.bias"] = db_skip.copy()
        _layer_backward(params, p, G, H, A, k + 1 == n_layers, dH, scratch, grads)
        if k + 1 == n_layers:
            G[:C] = dH[C:]
        else:
            G[:C] += dH[C:]
        # x[t - d] fed step t; what went into the carried state is dropped
        G[:C, : M - s] += dH[:C, s:]
    dx = G[:C]
    grads["input.weight"] = np.matmul(dx, X.reshape(M, F))[:, :, None]
    grads["input.bias"] = dx.sum(axis=1)
    dX = None
    if need_dX:
        dX = np.matmul(dx.T, params["input.weight"][:, :, 0]).reshape(T, B, F)
    return dX, {key: grads[key] for key in params}
