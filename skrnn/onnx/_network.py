"""The network in ONNX: patches of steps, sequence-layer stack, readout and head.

Each estimator parameter that shapes predictions is handled by one function
here (or, for the output side, in ``_estimators``) and listed in
:data:`NETWORK_PARAMS` with the values it exports. A parameter added to the
estimators later is refused by :func:`~skrnn.onnx._common.check_exportable`
unless it keeps its default, until its function and its entry are added.
"""

import numpy as np

from .._pooling import PARTS
from .._stacks import STACKS as SEQUENCE_STACKS
from ._common import as_dtype
from ._recurrent import CELL_EXPORTS, recurrent_stack, step_mask
from ._wavenet import last_step, wavenet_stack

__all__ = [
    "NETWORK_PARAMS",
    "pooled",
    "SUPPORTED",
    "TRAINING_PARAMS",
    "network_raw",
    "patches",
]

#: Parameters that only shape training: a fitted model predicts the same
#: function whatever their values (dropout is off in predict).
TRAINING_PARAMS = dict.fromkeys(
    "input_dropout dropout recurrent_dropout solver alpha batch_size learning_rate "
    "learning_rate_init power_t momentum nesterovs_momentum beta_1 beta_2 epsilon "
    "max_iter max_fun tol n_iter_no_change early_stopping validation_fraction "
    "shuffle random_state verbose warm_start clip_norm clip_value bptt_steps "
    "class_weight".split()
)


# --------------------------------------------------------------------- patches
def patches(b, X, lengths, k, n_features):
    """The batch as the network reads it: patches of ``k`` steps as one step.

    As :func:`skrnn._data.to_patches`: the padded steps are zeroed, the time
    axis is padded at the end to a multiple of ``k`` (``Pad``) and each run of
    ``k`` steps is put side by side on the feature axis (``Reshape``).

    Parameters
    ----------
    b : GraphBuilder
    X : str
        Batch-major input ``(N, T, F)`` with a static ``F``.
    lengths : str or None
        int64 ``(N,)`` valid steps of each sequence.
    k : int
        Steps per patch (the fitted ``patch_size_``); 1 returns the inputs.
    n_features : int
        ``F``, the features of one step.

    Returns
    -------
    P : str
        ``(N, ceil(T / k), k * F)``.
    patch_lengths : str or None
        ``ceil(lengths / k)``, int64 ``(N,)``.
    """
    if k == 1:
        return X, lengths
    if lengths is not None:
        X = b.op("Where", step_mask(b, X, lengths, time_axis=1), X, b.const(0.0))
        k1 = b.const(k - 1)
        lengths = b.op("Div", b.op("Add", lengths, k1), b.const(k))
    T = b.dim(X, 1)
    tail = b.op("Mod", b.op("Sub", b.ints(k), b.op("Mod", T, b.ints(k))), b.ints(k))
    zero = b.ints(0)
    pads = b.op("Concat", zero, zero, zero, zero, tail, zero, axis=0)
    X = b.op("Pad", X, pads)
    return b.op("Reshape", X, b.ints(0, -1, k * n_features)), lengths


# --------------------------------------------------------------------- stacks
def _wavenet(b, arch, params, Xt, lengths):
    Y = wavenet_stack(b, params, Xt, len(arch.hidden_sizes))
    return Y, None if arch.return_sequences else last_step(b, Y, lengths)


#: Sequence-layer stacks by ``Architecture.kind``: ``(Y (T, N, D), last (N, D))``.
STACKS = {"recurrent": recurrent_stack, "wavenet": _wavenet}


# -------------------------------------------------------------------- poolings
def _pool_mean(b, Y, lengths):
    """Mean of the time-major ``Y (T, N, D)`` over each sequence's valid steps."""
    if lengths is None:
        total = b.op("ReduceSum", Y, b.ints(0), keepdims=0)
        count = b.cast(b.dim(Y, 0), b.dtype)
    else:
        Y = b.op("Where", step_mask(b, Y, lengths), Y, b.const(0.0))
        total = b.op("ReduceSum", Y, b.ints(0), keepdims=0)
        count = b.unsqueeze(b.cast(lengths, b.dtype), 1)
    inv = b.op("Reciprocal", b.op("Max", count, b.const(1.0)))
    return b.op("Mul", total, inv)


def _pool_max(b, Y, lengths):
    """Maximum of the time-major ``Y (T, N, D)`` over each sequence's valid steps."""
    if lengths is not None:
        Y = b.op("Where", step_mask(b, Y, lengths), Y, b.const(-np.inf))
    # ArgMax and GatherElements keep their form across opsets (ReduceMax's
    # axes moved from an attribute to an input in opset 18)
    at = b.op("ArgMax", Y, axis=0, keepdims=1)
    return b.squeeze(b.op("GatherElements", Y, at, axis=0), 0)


def pooled(b, pooling, Y, last, lengths):
    """The many-to-one readout ``pooling`` (:data:`skrnn._pooling.PARTS`): the
    head's input ``(N, D')``, its summaries side by side."""
    summaries = {
        "last": lambda: last,
        "mean": lambda: _pool_mean(b, Y, lengths),
        "max": lambda: _pool_max(b, Y, lengths),
    }
    parts = [summaries[p]() for p in PARTS[pooling]]
    return parts[0] if len(parts) == 1 else b.op("Concat", *parts, axis=1)


#: Parameters of the network the converter writes: None means every value is
#: exported, a set lists the values the converter implements.
NETWORK_PARAMS = {
    "cell": {*CELL_EXPORTS, *SEQUENCE_STACKS["wavenet"].cells},
    "nonlinearity": {"tanh", "relu"},
    "hidden_layer_sizes": None,  # the fitted hidden_layer_sizes_ are exported
    "bidirectional": None,
    "n_states": None,
    "return_sequences": None,
    "n_components": None,
    "pooling": set(PARTS),
    "patch_size": None,  # the fitted patch_size_ is exported (see patches)
    "local_level": {None},
    "level_features": None,  # read only with a local_level, which is refused
    "level_gain": None,  # likewise
    "linear_skip": None,  # the fitted skip.weight is exported (see _skip)
}
SUPPORTED = {**TRAINING_PARAMS, **NETWORK_PARAMS}


def _readout(b, arch, Y, last, lengths):
    """What the head reads: every step ``(N, T, D)`` or a pooling ``(N, D')``."""
    if arch.return_sequences:
        return b.transpose(Y, 1, 0, 2)
    return pooled(b, arch.pooling, Y, last, lengths)


def network_raw(b, arch, params, Xt, lengths):
    """Head output before the output activation.

    Parameters
    ----------
    b : GraphBuilder
    arch : skrnn._network.Architecture
    params : dict of ndarray
        ``state_dict_`` layout.
    Xt : str
        Time-major input ``(T, N, F)`` (already in patches, see :func:`patches`).
    lengths : str or None
        int64 ``(N,)`` valid steps of each sequence.

    Returns
    -------
    raw : str
        ``(N, n_outputs)`` (many-to-one: the head reads the ``arch.pooling``
        readout of each sequence's valid steps) or ``(N, T, n_outputs)`` with
        ``arch.return_sequences``.
    """
    params = as_dtype(params, b.dtype)
    Y, last = STACKS[arch.kind](b, arch, params, Xt, lengths)
    features = _readout(b, arch, Y, last, lengths)
    raw = b.linear(features, params["head.weight"], params["head.bias"])
    if arch.skip_steps:
        raw = b.op("Add", raw, _skip(b, arch, params["skip.weight"], Xt, lengths))
    return raw


def _skip(b, arch, weight, Xt, lengths):
    """The linear skip (``skrnn._skip``) on the last ``k`` steps of ``Xt``.

    Many-to-one: the ``k`` steps ending at each sequence's last valid step,
    gathered from the input padded with ``k`` zero steps in front (``Pad``,
    ``GatherElements``), side by side, times the skip weight: ``(N, O)``.
    Per step: the sum over lags ``j`` of the input shifted ``k - 1 - j`` steps
    later times that lag's block of the weight: ``(N, T, O)``.
    """
    k, F = arch.skip_steps, arch.n_inputs
    if arch.return_sequences:
        padded = b.op("Pad", Xt, b.ints(k - 1, 0, 0, 0, 0, 0))
        T, total = b.dim(Xt, 0), None
        for j in range(k):
            start = b.ints(j)
            shifted = b.op("Slice", padded, start, b.op("Add", start, T), b.ints(0))
            part = b.matmul_t(shifted, weight[:, j * F : (j + 1) * F])
            total = part if total is None else b.op("Add", total, part)
        return b.transpose(total, 1, 0, 2)
    padded = b.transpose(b.op("Pad", Xt, b.ints(k, 0, 0, 0, 0, 0)), 1, 0, 2)
    ends = b.dim(Xt, 0) if lengths is None else lengths  # (1,) or (N,)
    idx = b.op("Add", b.unsqueeze(ends, 1), b.const(np.arange(k)[None]))
    shape = b.op("Concat", b.dim(padded, 0), b.ints(k, F), axis=0)
    idx = b.op("Expand", b.unsqueeze(idx, 2), shape)  # (N, k, F)
    lags = b.op("GatherElements", padded, idx, axis=1)
    lags = b.op("Reshape", lags, b.ints(0, k * F))
    return b.matmul_t(lags, weight)
