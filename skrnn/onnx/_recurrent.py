"""Recurrent layers in ONNX: the RNN/LSTM/GRU operators, or a Scan of basic ops."""

import numpy as np
from onnx import numpy_helper

from .._stacks import layer_keys
from ._graph import BodyBuilder

__all__ = ["CELL_STEPS", "OPERATOR_CELLS", "recurrent_stack", "step_mask"]

#: ONNX gate order of each operator cell as indices of PyTorch's gate blocks:
#: LSTM (i, f, g, o) -> (i, o, f, c); GRU (r, z, n) -> (z, r, h).
_GATE_ORDER = {"rnn": [0], "lstm": [0, 3, 1, 2], "gru": [1, 0, 2]}
#: Cells an ONNX recurrent operator computes exactly as skrnn does.
OPERATOR_CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def step_mask(b, X, lengths, time_axis=0):
    """``(T, N, 1)`` bool tensor, True on valid steps of a time-major batch.

    With ``time_axis=1``: ``(N, T, 1)`` for a batch-major ``X``.
    """
    T = b.squeeze(b.dim(X, time_axis), 0)
    steps = b.op("Range", b.const(0, np.int64), T, b.const(1, np.int64))
    steps = b.unsqueeze(steps, 1 - time_axis)
    valid = b.op("Less", steps, b.unsqueeze(lengths, time_axis))
    return b.unsqueeze(valid, 2)


def _reorder(w, cell, H):
    blocks = [w[k * H : (k + 1) * H] for k in range(len(_GATE_ORDER[cell]))]
    return np.concatenate([blocks[k] for k in _GATE_ORDER[cell]], axis=0)


def _operator_layer(b, arch, dirs, X, lengths32):
    """One layer as an ONNX RNN/LSTM/GRU node; returns ``(Y, last)``."""
    D, H = len(dirs), dirs[0][1].shape[1]
    cell = arch.cell
    W = np.stack([_reorder(w_ih, cell, H) for w_ih, _, _, _ in dirs])
    R = np.stack([_reorder(w_hh, cell, H) for _, w_hh, _, _ in dirs])
    B = np.stack(
        [np.concatenate([_reorder(bi, cell, H), _reorder(bh, cell, H)])
         for _, _, bi, bh in dirs]
    )  # fmt: skip
    attrs = {
        "hidden_size": H,
        "direction": "bidirectional" if D == 2 else "forward",
    }
    if cell == "gru":
        attrs["linear_before_reset"] = 1
    if cell == "rnn":
        attrs["activations"] = [arch.nonlinearity.capitalize()] * D
    inputs = [X, b.const(W), b.const(R), b.const(B)]
    if lengths32 is not None:
        inputs.append(lengths32)
    n_out = 3 if cell == "lstm" else 2
    outs = b.op(OPERATOR_CELLS[cell], *inputs, n_out=n_out, **attrs)
    Y, Y_h = outs[0], outs[1]
    Y = b.op("Reshape", b.transpose(Y, 0, 2, 1, 3), b.ints(0, 0, D * H))
    last = b.op("Reshape", b.transpose(Y_h, 1, 0, 2), b.ints(0, D * H))
    return Y, last


# ------------------------------------------------------------------ Scan bodies
def _rnn_step(bb, cell, g, h, c, w_hh, H, b_hh):
    z = bb.op("Add", g, bb.matmul_t(h, w_hh))
    return bb.op("Tanh" if cell.nonlinearity == "tanh" else "Relu", z), None


def _lstm_step(bb, cell, g, h, c, w_hh, H, b_hh):
    z = bb.op("Add", g, bb.matmul_t(h, w_hh))
    i, f, o = (bb.sigmoid(bb.cols(z, k * H, (k + 1) * H)) for k in (0, 1, 3))
    gg = bb.op("Tanh", bb.cols(z, 2 * H, 3 * H))
    c_new = bb.op("Add", bb.op("Mul", f, c), bb.op("Mul", i, gg))
    return bb.op("Mul", o, bb.op("Tanh", c_new)), c_new


def _gru_step(bb, cell, g, h, c, w_hh, H, b_hh):
    hg = bb.matmul_t(h, w_hh)
    rz = bb.sigmoid(bb.op("Add", bb.cols(g, 0, 2 * H), bb.cols(hg, 0, 2 * H)))
    r, z = bb.cols(rz, 0, H), bb.cols(rz, H, 2 * H)
    hn = bb.op("Add", bb.cols(hg, 2 * H, 3 * H), bb.const(b_hh[2 * H :]))
    n = bb.op("Tanh", bb.op("Add", bb.cols(g, 2 * H, 3 * H), bb.op("Mul", r, hn)))
    # h = n + z * (h_prev - n)
    return bb.op("Add", n, bb.op("Mul", z, bb.op("Sub", h, n))), None


def _statal_step(bb, cell, g, h, c, w_hh, H, b_hh):
    # skrnn._statal.StatalCell: h = [a, s^1, ..., s^K] in feature-major blocks
    K = cell.n_states
    a = bb.sigmoid(bb.op("Add", g, bb.matmul_t(h, w_hh)))
    s_prev = bb.op("Reshape", bb.cols(h, H, (1 + K) * H), bb.ints(0, K, H))
    r = bb.op("Mul", s_prev, bb.const(cell.rho[:, None]))
    # s = r + a (1 - r), as the NumPy cell computes it
    s = bb.op(
        "Add", r, bb.op("Mul", bb.op("Sub", bb.const(1.0), r), bb.unsqueeze(a, 1))
    )
    s = bb.op("Reshape", s, bb.ints(0, K * H))
    return bb.op("Concat", a, s, axis=1), None


#: Scan-body step of each recurrent cell, keyed by the ``cell`` parameter.
CELL_STEPS = {
    "rnn": _rnn_step,
    "lstm": _lstm_step,
    "gru": _gru_step,
    "statal": _statal_step,
}


def _scan_body(b, arch, cell, w_hh, b_hh, masked):
    """The Scan body of one direction: states (h[, c]), inputs (g[, valid])."""
    dt = b.dtype
    H = w_hh.shape[0] // cell.n_gates
    bb = BodyBuilder(dt, "scan")
    has_c = arch.cell == "lstm"
    h, c = bb.input("h"), bb.input("c") if has_c else None
    g, m = bb.input("g"), bb.input("m") if masked else None
    h_new, c_new = CELL_STEPS[arch.cell](bb, cell, g, h, c, w_hh, H, b_hh)
    if masked:  # padded steps carry the state unchanged
        h_new = bb.op("Where", m, h_new, h)
        c_new = bb.op("Where", m, c_new, c) if has_c else None
    h_out, y = bb.op("Identity", h_new), bb.op("Identity", h_new)
    states_in = [(h, dt, 2)] + ([(c, dt, 2)] if has_c else [])
    states_out = [(h_out, dt, 2)] + (
        [(bb.op("Identity", c_new), dt, 2)] if has_c else []
    )
    inputs = states_in + [(g, dt, 2)] + ([(m, np.bool_, 2)] if masked else [])
    return bb.graph(inputs, [*states_out, (y, dt, 2)])


def _folded_bias(arch, b_ih, b_hh, H):
    if arch.cell == "gru":
        bias = b_ih.copy()
        bias[: 2 * H] += b_hh[: 2 * H]
        return bias
    return b_ih + b_hh


def _zeros(b, X, width):
    """``(N, width)`` zeros, N the batch size of the time-major ``X``."""
    shape = b.op("Concat", b.dim(X, 1), b.ints(width), axis=0)
    zero = numpy_helper.from_array(np.zeros(1, b.dtype))
    return b.op("ConstantOfShape", shape, value=zero)


def _scan_direction(b, arch, cell, params, X, lengths, mask, reverse):
    w_ih, w_hh, b_ih, b_hh = params
    H = w_hh.shape[0] // cell.n_gates
    if reverse and lengths is not None:
        X = b.op("ReverseSequence", X, lengths, batch_axis=1, time_axis=0)
    G = b.linear(X, w_ih, _folded_bias(arch, b_ih, b_hh, H))
    states = [_zeros(b, X, w_hh.shape[1])]
    if arch.cell == "lstm":
        states.append(_zeros(b, X, H))
    scans = [G] + ([mask] if mask is not None else [])
    attrs = {}
    if reverse and lengths is None:
        attrs = {
            "scan_input_directions": [1] * len(scans),
            "scan_output_directions": [1],
        }
    body = _scan_body(b, arch, cell, w_hh, b_hh, mask is not None)
    outs = b.op(
        "Scan", *states, *scans, n_out=len(states) + 1, body=body,
        num_scan_inputs=len(scans), **attrs,
    )  # fmt: skip
    Y, last = outs[-1], outs[0]
    if reverse and lengths is not None:
        Y = b.op("ReverseSequence", Y, lengths, batch_axis=1, time_axis=0)
    return Y, last


def _scan_layer(b, arch, cell, dirs, X, lengths, mask):
    outs = [
        _scan_direction(b, arch, cell, p, X, lengths, mask, reverse=d == 1)
        for d, p in enumerate(dirs)
    ]
    if len(outs) == 1:
        return outs[0]
    return (
        b.op("Concat", outs[0][0], outs[1][0], axis=2),
        b.op("Concat", outs[0][1], outs[1][1], axis=1),
    )


def use_operators(arch, dtype):
    """Whether the layers are ONNX RNN operators (float32, not statal) or Scans.

    onnxruntime implements its RNN, LSTM and GRU kernels for float32 only, so
    float64 models (and the statal cell, which no operator expresses) run as a
    Scan of basic operators, which every dtype supports.
    """
    return arch.cell in OPERATOR_CELLS and np.dtype(dtype) == np.float32


def recurrent_stack(b, arch, params, X, lengths):
    """The recurrent layers of a network.

    Parameters
    ----------
    b : GraphBuilder
    arch : skrnn._network.Architecture
    params : dict of ndarray
        ``state_dict_`` layout, in the graph's dtype.
    X : str
        Time-major input ``(T, N, F)``.
    lengths : str or None
        int64 ``(N,)`` valid steps per sequence (right padding), or None.

    Returns
    -------
    Y : str
        ``(T, N, D * V)`` outputs of the top layer.
    last : str
        ``(N, D * V)`` final state of each direction (the forward one at each
        sequence's last valid step).
    """
    operators = use_operators(arch, b.dtype)
    cell = arch.make_cell()
    lengths32 = mask = None
    if lengths is not None:
        if operators:
            lengths32 = b.cast(lengths, np.int32)
        else:
            mask = step_mask(b, X, lengths)
    h, last = X, None
    for k in range(len(arch.hidden_sizes)):
        dirs = [[params[n] for n in keys] for keys in layer_keys(arch, k)]
        if operators:
            h, last = _operator_layer(b, arch, dirs, h, lengths32)
        else:
            h, last = _scan_layer(b, arch, cell, dirs, h, lengths, mask)
    return h, last
