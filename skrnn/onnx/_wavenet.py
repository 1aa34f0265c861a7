"""The dilated causal convolution stack (``cell="wavenet"``) in ONNX operators."""

from .._wavenet import _dilation

__all__ = ["last_step", "wavenet_stack"]


def _shift(b, x, d):
    """``x[t - d]`` of a time-major ``(T, N, C)`` tensor, zeros before the start."""
    padded = b.op("Pad", x, b.ints(d, 0, 0, 0, 0, 0))
    return b.slice(padded, 0, -d, 0)


def wavenet_stack(b, params, X, n_layers):
    """``relu`` of the summed skips, ``(T, N, C)``, for a time-major ``(T, N, F)``.

    Each causal convolution of kernel 2 and dilation ``d`` is two matmuls, one on
    the input shifted by ``d`` steps and one on the input itself, as in
    :func:`skrnn._wavenet.wavenet_forward` (matmuls rather than ``Conv``, whose
    onnxruntime kernel has no float64 version).
    """
    x = b.linear(X, params["input.weight"][:, :, 0], params["input.bias"])
    C = params["input.bias"].shape[0]
    skips = None
    skip_bias = sum(params[f"layers.{k}.skip.bias"] for k in range(n_layers))
    for k in range(n_layers):
        p, d = f"layers.{k}.", _dilation(k)
        w = params[p + "conv.weight"]
        a = b.op(
            "Add",
            b.matmul_t(_shift(b, x, d), w[:, :, 0]),
            b.linear(x, w[:, :, 1], params[p + "conv.bias"]),
        )
        z = b.op("Mul", b.op("Tanh", b.cols(a, 0, C)), b.sigmoid(b.cols(a, C, 2 * C)))
        skip = b.matmul_t(z, params[p + "skip.weight"][:, :, 0])
        skips = skip if skips is None else b.op("Add", skips, skip)
        if k + 1 < n_layers:
            res = b.linear(z, params[p + "res.weight"][:, :, 0], params[p + "res.bias"])
            x = b.op("Add", x, res)
    return b.op("Relu", b.op("Add", skips, b.const(skip_bias)))


def last_step(b, Y, lengths):
    """``Y[lengths - 1, arange(N)]`` of a time-major ``(T, N, C)`` tensor."""
    if lengths is None:
        return b.squeeze(b.op("Gather", Y, b.ints(-1), axis=0), 0)
    idx = b.unsqueeze(b.op("Sub", lengths, b.const(1)), 1)
    return b.op("GatherND", b.transpose(Y, 1, 0, 2), idx, batch_dims=1)
