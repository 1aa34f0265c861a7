"""Recurrent layers in ONNX: the RNN/LSTM/GRU operators, or a Scan of basic ops."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from onnx import numpy_helper

from .._cell_contract import fold_bias
from .._stacks import layer_keys
from ._graph import BodyBuilder

__all__ = ["CELL_EXPORTS", "CellExport", "recurrent_stack", "step_mask"]


def step_mask(b, X, lengths, time_axis=0):
    """``(T, N, 1)`` bool tensor, True on valid steps of a time-major batch.

    With ``time_axis=1``: ``(N, T, 1)`` for a batch-major ``X``.
    """
    T = b.squeeze(b.dim(X, time_axis), 0)
    steps = b.op("Range", b.const(0, np.int64), T, b.const(1, np.int64))
    steps = b.unsqueeze(steps, 1 - time_axis)
    valid = b.op("Less", steps, b.unsqueeze(lengths, time_axis))
    return b.unsqueeze(valid, 2)


def _reorder(w, order, H):
    blocks = [w[k * H : (k + 1) * H] for k in range(len(order))]
    return np.concatenate([blocks[k] for k in order], axis=0)


def _operator_layer(b, arch, cell, dirs, X, lengths32):
    """One layer as an ONNX RNN/LSTM/GRU node; returns ``(Y, last)``."""
    D, H = len(dirs), dirs[0][1].shape[1]
    export = CELL_EXPORTS[arch.cell]
    order = export.gate_order
    W = np.stack([_reorder(w_ih, order, H) for w_ih, _, _, _ in dirs])
    R = np.stack([_reorder(w_hh, order, H) for _, w_hh, _, _ in dirs])
    B = np.stack(
        [np.concatenate([_reorder(bi, order, H), _reorder(bh, order, H)])
         for _, _, bi, bh in dirs]
    )  # fmt: skip
    attrs = {
        "hidden_size": H,
        "direction": "bidirectional" if D == 2 else "forward",
        **export.attributes(arch, D),
    }
    inputs = [X, b.const(W), b.const(R), b.const(B)]
    if lengths32 is not None:
        inputs.append(lengths32)
    # Y, Y_h and the last value of each hidden carry (the LSTM's Y_c)
    n_out = 2 + len(cell.hidden_carries)
    outs = b.op(export.operator, *inputs, n_out=n_out, **attrs)
    Y, Y_h = outs[0], outs[1]
    Y = b.op("Reshape", b.transpose(Y, 0, 2, 1, 3), b.ints(0, 0, D * H))
    last = b.op("Reshape", b.transpose(Y_h, 1, 0, 2), b.ints(0, D * H))
    return Y, last


# ------------------------------------------------------------------ Scan bodies
def _rnn_step(bb, cell, g, prev, w_hh, H, b_hidden):
    z = bb.op("Add", g, bb.matmul_t(prev["h"], w_hh))
    return {"h": bb.op(cell.nonlinearity.capitalize(), z)}  # Tanh or Relu


def _lstm_step(bb, cell, g, prev, w_hh, H, b_hidden):
    z = bb.op("Add", g, bb.matmul_t(prev["h"], w_hh))
    i, f, o = (bb.sigmoid(bb.cols(z, k * H, (k + 1) * H)) for k in (0, 1, 3))
    gg = bb.op("Tanh", bb.cols(z, 2 * H, 3 * H))
    c_new = bb.op("Add", bb.op("Mul", f, prev["c"]), bb.op("Mul", i, gg))
    return {"h": bb.op("Mul", o, bb.op("Tanh", c_new)), "c": c_new}


def _gru_step(bb, cell, g, prev, w_hh, H, b_hidden):
    h = prev["h"]
    hg = bb.matmul_t(h, w_hh)
    rz = bb.sigmoid(bb.op("Add", bb.cols(g, 0, 2 * H), bb.cols(hg, 0, 2 * H)))
    r, z = bb.cols(rz, 0, H), bb.cols(rz, H, 2 * H)
    hn = bb.op("Add", bb.cols(hg, 2 * H, 3 * H), bb.const(b_hidden))
    n = bb.op("Tanh", bb.op("Add", bb.cols(g, 2 * H, 3 * H), bb.op("Mul", r, hn)))
    # h = n + z * (h_prev - n)
    return {"h": bb.op("Add", n, bb.op("Mul", z, bb.op("Sub", h, n)))}


def _statal_step(bb, cell, g, prev, w_hh, H, b_hidden):
    # skrnn._statal.StatalCell: h = [a, s^1, ..., s^K] in feature-major blocks
    K, h = cell.n_states, prev["h"]
    a = bb.sigmoid(bb.op("Add", g, bb.matmul_t(h, w_hh)))
    s_prev = bb.op("Reshape", bb.cols(h, H, (1 + K) * H), bb.ints(0, K, H))
    r = bb.op("Mul", s_prev, bb.const(cell.rho[:, None]))
    # s = r + a (1 - r), as the NumPy cell computes it
    s = bb.op(
        "Add", r, bb.op("Mul", bb.op("Sub", bb.const(1.0), r), bb.unsqueeze(a, 1))
    )
    s = bb.op("Reshape", s, bb.ints(0, K * H))
    return {"h": bb.op("Concat", a, s, axis=1)}


def _no_attributes(arch, n_directions):
    return {}


def _rnn_attributes(arch, n_directions):
    return {"activations": [arch.nonlinearity.capitalize()] * n_directions}


def _gru_attributes(arch, n_directions):
    return {"linear_before_reset": 1}  # the reset gate after the hidden matmul


@dataclass(frozen=True)
class CellExport:
    """How the converter writes one recurrent cell.

    What the cell declares is read from the cell object, not repeated here:
    its carries (``"h"`` and ``hidden_carries``, the Scan's states and the
    operator's final-state outputs) and which biases fold into the input
    projection (all but the ``hidden_gates`` blocks', by
    ``skrnn._cell_contract.fold_bias``, as the scan folds them).

    Attributes
    ----------
    step : callable
        The Scan body of one step, ``step(bb, cell, g, prev, w_hh, H,
        b_hidden) -> carries``: ``g`` is the step's input projection with the
        folded biases, ``prev`` the previous carries by name, ``b_hidden`` the
        bias of the ``hidden_gates`` blocks (None without); it returns the new
        carries by the same names.
    operator : str or None
        The ONNX operator that computes the cell exactly as skrnn does, or None.
    gate_order : tuple of int
        The operator's gate blocks as indices of PyTorch's.
    attributes : callable
        ``(arch, n_directions) -> dict``: the operator's attributes besides the
        hidden size and the direction.
    """

    step: Callable
    operator: str | None = None
    gate_order: tuple = ()
    attributes: Callable = _no_attributes


#: How each recurrent cell is exported, keyed by the ``cell`` parameter. The
#: gate orders map PyTorch's LSTM (i, f, g, o) to ONNX's (i, o, f, c) and its
#: GRU (r, z, n) to (z, r, h).
CELL_EXPORTS = {
    "rnn": CellExport(_rnn_step, "RNN", (0,), _rnn_attributes),
    "lstm": CellExport(_lstm_step, "LSTM", (0, 3, 1, 2)),
    "gru": CellExport(_gru_step, "GRU", (1, 0, 2), _gru_attributes),
    "statal": CellExport(_statal_step),
}


def _scan_body(b, arch, cell, w_hh, b_hidden, masked):
    """The Scan body of one direction: states (``"h"`` and each hidden
    carry), inputs (g[, valid])."""
    dt = b.dtype
    H = w_hh.shape[0] // cell.n_gates
    bb = BodyBuilder(dt, "scan")
    carries = ("h", *cell.hidden_carries)
    prev = {name: bb.input(name) for name in carries}
    g, m = bb.input("g"), bb.input("m") if masked else None
    new = CELL_EXPORTS[arch.cell].step(bb, cell, g, prev, w_hh, H, b_hidden)
    if masked:  # padded steps carry the state unchanged
        new = {name: bb.op("Where", m, new[name], prev[name]) for name in carries}
    states_out = [(bb.op("Identity", new[name]), dt, 2) for name in carries]
    y = bb.op("Identity", new["h"])
    states_in = [(prev[name], dt, 2) for name in carries]
    inputs = states_in + [(g, dt, 2)] + ([(m, np.bool_, 2)] if masked else [])
    return bb.graph(inputs, [*states_out, (y, dt, 2)])


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
    bias, b_hidden = fold_bias(cell, b_ih, b_hh, H)
    G = b.linear(X, w_ih, bias)
    states = [_zeros(b, X, w_hh.shape[1])]
    states += [_zeros(b, X, H) for _ in cell.hidden_carries]
    scans = [G] + ([mask] if mask is not None else [])
    attrs = {}
    if reverse and lengths is None:
        attrs = {
            "scan_input_directions": [1] * len(scans),
            "scan_output_directions": [1],
        }
    body = _scan_body(b, arch, cell, w_hh, b_hidden, mask is not None)
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
    operator = CELL_EXPORTS[arch.cell].operator
    return operator is not None and np.dtype(dtype) == np.float32


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
            h, last = _operator_layer(b, arch, cell, dirs, h, lengths32)
        else:
            h, last = _scan_layer(b, arch, cell, dirs, h, lengths, mask)
    return h, last
