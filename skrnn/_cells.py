"""The standard recurrent cells (Elman, LSTM, GRU) and the registry of every cell."""

import numpy as np

from ._cell_contract import Cell, sigmoid_
from ._statal import StatalCell

__all__ = ["CELLS", "Cell", "StatalCell", "sigmoid_"]


class RNNCell(Cell):
    r"""Elman cell: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`.

    :math:`\phi` is ``tanh`` or ``relu`` (``nonlinearity``), as ``torch.nn.RNN``.
    Its backward pass reads only :math:`h_t`, so its gate pre-activations are
    computed in the output buffer (:attr:`gates_in_output`).
    """

    gates_in_output = True
    options = ("nonlinearity",)

    def __init__(self, nonlinearity="tanh"):
        self.nonlinearity = nonlinearity

    def forward(self, t, g, hg, cache, b_hh):
        h = cache["h"][t + 1]
        np.add(g, hg, out=h)
        if self.nonlinearity == "tanh":
            np.tanh(h, out=h)
        else:
            np.maximum(h, 0, out=h)

    def backward(self, t, dh, dcarry, cache, d, dhg, b_hh):
        h = cache["h"][t + 1]
        if self.nonlinearity == "tanh":
            np.multiply(h, h, out=d)
            np.subtract(1, d, out=d)
            d *= dh
        else:
            np.multiply(dh, h > 0, out=d)
        return None, {}


class LSTMCell(Cell):
    r"""Long short-term memory cell, PyTorch's equations and gate order (i, f, g, o).

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t = o_t \odot \tanh(c_t)

    The forget-gate bias ``b_if`` starts at 1 (``b_hf`` at 0).
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
            # tanh(c_t): one step's, recomputed in backward (one tanh a step
            # instead of a (T, B, H) buffer)
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

    def forward(self, t, g, hg, cache, b_hh):
        H = hg.shape[1] // 4
        g += hg
        np.tanh(g, out=g)
        for sl in (g[:, : 2 * H], g[:, 3 * H :]):  # sigmoid gates from tanh(x / 2)
            sl *= 0.5
            sl += 0.5
        i, f, gg, o = g[:, :H], g[:, H : 2 * H], g[:, 2 * H : 3 * H], g[:, 3 * H :]
        c = cache["c"][t + 1]
        np.multiply(f, cache["c"][t], out=c)
        tmp = cache["tmp"]
        np.multiply(i, gg, out=tmp)
        c += tmp
        tc = cache["tanh_c"]
        np.tanh(c, out=tc)
        np.multiply(o, tc, out=cache["h"][t + 1])

    def backward(self, t, dh, dcarry, cache, d, dhg, b_hh):
        # d is cache["gates"][t]: each gate slot is read for the last time as its
        # gradient is written into it.
        H = dh.shape[1]
        i, f, gg, o = d[:, :H], d[:, H : 2 * H], d[:, 2 * H : 3 * H], d[:, 3 * H :]
        tc = np.tanh(cache["c"][t + 1], out=cache["tanh_c"])
        tmp, tmp2 = cache["tmp"], cache["tmp2"]
        dc = dcarry["c"]
        # dc += dh * o * (1 - tanh(c)^2)
        np.multiply(tc, tc, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        dc += tmp
        # do = dh * tanh(c) * o * (1 - o), in the o slot
        np.subtract(1, o, out=tmp)
        o *= tmp
        o *= tc
        o *= dh
        # dg = dc * i * (1 - g^2) into tmp; di = dc * g * i * (1 - i) in the i slot
        np.multiply(gg, gg, out=tmp)
        np.subtract(1, tmp, out=tmp)
        tmp *= i
        tmp *= dc
        np.subtract(1, i, out=tmp2)
        i *= tmp2
        i *= gg
        i *= dc
        gg[...] = tmp
        # dc_prev = dc * f; df = dc_prev * (1 - f) * c_prev in the f slot
        np.subtract(1, f, out=tmp2)
        dc *= f
        np.multiply(dc, tmp2, out=f)
        f *= cache["c"][t]
        return None, {"c": dc}


class GRUCell(Cell):
    r"""Gated recurrent unit, PyTorch's equations and gate order (r, z, n).

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    The reset gate multiplies the hidden projection *after* the matmul, as in
    PyTorch and cuDNN (not the original paper's ``W_{hn} (r_t \odot h_{t-1})``).
    """

    n_gates = 3
    step_buffers = ("hn",)
    separate_hh_gates = 1  # the candidate n: r * d(n_pre)
    hh_grad_buffer = "hn"

    def folded_bias(self, b_ih, b_hh, hidden_size):
        bias = b_ih.copy()
        bias[: 2 * hidden_size] += b_hh[: 2 * hidden_size]
        return bias

    def alloc(self, batch, hidden_size, dtype):
        return {
            "tmp": np.empty((batch, hidden_size), dtype),
            "tmp2": np.empty((batch, hidden_size), dtype),
        }

    def forward(self, t, g, hg, cache, b_hh):
        H = hg.shape[1] // 3
        rz, n = g[:, : 2 * H], g[:, 2 * H :]
        rz += hg[:, : 2 * H]
        sigmoid_(rz)
        r, z = rz[:, :H], rz[:, H:]
        hn = cache["hn"][t]
        np.add(hg[:, 2 * H :], b_hh[2 * H :], out=hn)
        tmp = cache["tmp"]
        np.multiply(r, hn, out=tmp)
        n += tmp
        np.tanh(n, out=n)
        h_prev, h = cache["h"][t], cache["h"][t + 1]
        # h = n + z * (h_prev - n)
        np.subtract(h_prev, n, out=h)
        h *= z
        h += n

    def backward(self, t, dh, dcarry, cache, d, dhg, b_hh):
        # d is cache["gates"][t]: each gate slot is read for the last time as its
        # gradient is written into it.
        H = dh.shape[1]
        r, z, n = d[:, :H], d[:, H : 2 * H], d[:, 2 * H :]
        tmp, tmp2 = cache["tmp"], cache["tmp2"]
        # dz_pre = dh * (h_prev - n) * z * (1 - z), into tmp2
        np.subtract(1, z, out=tmp)
        np.subtract(cache["h"][t], n, out=tmp2)
        tmp2 *= dh
        tmp2 *= z
        tmp2 *= tmp
        # direct path to h_{t-1}: dh * z
        direct = np.multiply(dh, z)
        z[...] = tmp2
        # dn_pre = dh * (1 - z) * (1 - n^2), in the n slot
        np.multiply(n, n, out=n)
        np.subtract(1, n, out=n)
        n *= tmp
        n *= dh
        # hidden-side gradient of the candidate: dn_pre * r
        np.multiply(n, r, out=dhg[:, 2 * H :])
        # dr_pre = dn_pre * hn * r * (1 - r), in the r slot
        np.subtract(1, r, out=tmp)
        r *= tmp
        r *= cache["hn"][t]
        r *= n
        dhg[:, : 2 * H] = d[:, : 2 * H]
        return direct, {}


#: Registry of cell factories keyed by the ``cell`` parameter's strings.
CELLS = {
    "rnn": RNNCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "statal": StatalCell,
}
