"""The standard recurrent cells (Elman, LSTM, GRU) and the registry of every cell."""

import numpy as np

from ._cell_contract import Cell, gate_blocks, sigmoid_
from ._statal import StatalCell

__all__ = ["CELLS", "Cell", "StatalCell", "sigmoid_"]


class RNNCell(Cell):
    r"""Elman cell: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`.

    :math:`\phi` is ``tanh`` or ``relu`` (``nonlinearity``), as ``torch.nn.RNN``.
    Its backward pass reads only :math:`h_t` (:math:`\tanh' = 1 - h_t^2`,
    :math:`\mathrm{relu}' = [h_t > 0]`), so it computes in its output row
    (:attr:`gates_in_output`).
    """

    gates_in_output = True
    options = ("nonlinearity",)

    def __init__(self, nonlinearity="tanh"):
        self.nonlinearity = nonlinearity

    def forward(self, gates, hg, prev, out, saved, scratch):
        h = out["h"]  # also ``gates`` (gates_in_output)
        np.add(gates, hg, out=h)
        if self.nonlinearity == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)

    def backward(self, dout, gates, prev, out, saved, dgates, dhg, scratch):
        h, dh = out["h"], dout["h"]
        if self.nonlinearity == "tanh":
            np.multiply(h, h, out=dgates)
            np.subtract(1, dgates, out=dgates)
            dgates *= dh
        else:
            np.multiply(dh, h > 0, out=dgates)
        return {}


class LSTMCell(Cell):
    r"""Long short-term memory cell, PyTorch's equations and gate order (i, f, g, o).

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)

    The forget-gate bias ``b_if`` starts at 1 (``b_hf`` at 0). The forward step
    leaves the activations ``i, f, g, o`` in its gate row for the backward step,
    which recomputes :math:`\tanh(c_t)` (one ``tanh`` a step instead of a
    saved ``(T, B, H)`` buffer).
    """

    n_gates = 4
    hidden_carries = ("c",)

    @staticmethod
    def init_biases(b_ih, b_hh, hidden_size):
        b_ih[hidden_size : 2 * hidden_size] = 1.0

    def alloc(self, batch, hidden_size, dtype):
        return {
            "tmp": np.empty((batch, hidden_size), dtype),
            "tmp2": np.empty((batch, hidden_size), dtype),
            "tanh_c": np.empty((batch, hidden_size), dtype),
        }

    def forward_weights(self, w_ih, w_hh, bias, hidden_size):
        """Halve the rows of the sigmoid gates (i, f, o), exactly (a power of 2).

        Then one ``tanh`` over all four gates gives ``tanh(x / 2)`` for i, f, o,
        and ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5`` needs no extra scaling pass.
        """
        H = hidden_size
        scale = np.full((4 * H, 1), 0.5, w_ih.dtype)
        scale[2 * H : 3 * H] = 1.0
        return w_ih * scale, w_hh * scale, bias * scale[:, 0]

    def forward(self, gates, hg, prev, out, saved, scratch):
        H = hg.shape[1] // 4
        g = gates
        g += hg
        np.tanh(g, out=g)
        for sl in (g[:, : 2 * H], g[:, 3 * H :]):  # sigmoid gates from tanh(x / 2)
            sl *= 0.5
            sl += 0.5
        i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        c = out["c"]
        np.multiply(f, prev["c"], out=c)
        tmp = scratch["tmp"]
        np.multiply(i, gg, out=tmp)
        c += tmp
        tc = scratch["tanh_c"]
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=out["h"])

    def backward(self, dout, gates, prev, out, saved, dgates, dhg, scratch):
        dh, dc = dout["h"], dout["c"]
        H = dh.shape[1]
        bi, bf, bg, bo = gate_blocks(4, H)
        i, f, gg, o = gates[bi], gates[bf], gates[bg], gates[bo]
        di, df, dg, do = dgates[bi], dgates[bf], dgates[bg], dgates[bo]
        tc = np.tanh(out["c"], out=scratch["tanh_c"])
        tmp, tmp2 = scratch["tmp"], scratch["tmp2"]
        # dc += dh * o * (1 - tanh(c)^2)
        np.multiply(tc, tc, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        dc += tmp
        # do = dh * tanh(c) * o * (1 - o)
        np.subtract(1, o, out=tmp)
        np.multiply(o, tmp, out=do)
        do *= tc
        do *= dh
        # dg = dc * i * (1 - g^2), in contiguous tmp (faster than in the strided
        # slot, then one copy); di = dc * g * i * (1 - i)
        np.multiply(gg, gg, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= i
        tmp *= dc
        dg[...] = tmp
        np.subtract(1, i, out=tmp2)
        np.multiply(i, tmp2, out=di)
        di *= gg
        di *= dc
        # dc_prev = dc * f; df = dc_prev * (1 - f) * c_prev
        np.subtract(1, f, out=tmp2)
        dc *= f
        np.multiply(dc, tmp2, out=df)
        df *= prev["c"]
        return {"c": dc}


class GRUCell(Cell):
    r"""Gated recurrent unit, PyTorch's equations and gate order (r, z, n).

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    The reset gate multiplies the hidden projection *after* the matmul, as in
    PyTorch and cuDNN (not the original paper's ``W_{hn} (r_t \odot h_{t-1})``):
    the candidate is a :attr:`hidden_gates` block, whose ``hg`` includes
    ``b_{hn}`` and is saved as ``hn`` for the backward step.
    """

    n_gates = 3
    saved = ("hn",)
    hidden_gates = 1  # the candidate n: d(W_hn h + b_hn) = r * d(n_pre)

    def alloc(self, batch, hidden_size, dtype):
        return {
            "tmp": np.empty((batch, hidden_size), dtype),
            "tmp2": np.empty((batch, hidden_size), dtype),
            "direct": np.empty((batch, hidden_size), dtype),
        }

    def forward(self, gates, hg, prev, out, saved, scratch):
        H = hg.shape[1] // 3
        rz, n = gates[:, : 2 * H], gates[:, 2 * H :]
        rz += hg[:, : 2 * H]
        sigmoid_(rz)
        r, z = rz[:, :H], rz[:, H:]
        hn = saved["hn"]
        np.copyto(hn, hg[:, 2 * H :])
        tmp = scratch["tmp"]
        np.multiply(r, hn, out=tmp)
        n += tmp
        np.tanh(n, out=n)
        h = out["h"]
        # h = n + z * (h_prev - n)
        np.subtract(prev["h"], n, out=h)
        h *= z
        h += n

    def backward(self, dout, gates, prev, out, saved, dgates, dhg, scratch):
        dh = dout["h"]
        H = dh.shape[1]
        br, bz, bn = gate_blocks(3, H)
        r, z, n = gates[br], gates[bz], gates[bn]
        dr, dz, dn = dgates[br], dgates[bz], dgates[bn]
        tmp, tmp2 = scratch["tmp"], scratch["tmp2"]
        # dz_pre = dh * (h_prev - n) * z * (1 - z), in contiguous tmp2 (faster
        # than in the strided slot, then one copy)
        np.subtract(1, z, out=tmp)
        np.subtract(prev["h"], n, out=tmp2)
        tmp2 *= dh
        tmp2 *= z
        tmp2 *= tmp
        dz[...] = tmp2
        # direct path to h_{t-1}: dh * z
        direct = np.multiply(dh, z, out=scratch["direct"])
        # dn_pre = dh * (1 - z) * (1 - n^2)
        np.multiply(n, n, out=dn)
        np.subtract(1, dn, out=dn)
        dn *= tmp
        dn *= dh
        # hidden-side gradient of the candidate: dn_pre * r
        np.multiply(dn, r, out=dhg)
        # dr_pre = dn_pre * hn * r * (1 - r)
        np.subtract(1, r, out=tmp)
        np.multiply(r, tmp, out=dr)
        dr *= saved["hn"]
        dr *= dn
        return {"h": direct}


#: Registry of cell factories keyed by the ``cell`` parameter's strings.
CELLS = {
    "rnn": RNNCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "statal": StatalCell,
}
