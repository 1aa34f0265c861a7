"""Recurrent cells: elementwise gate math for one time step, one registry entry each."""

import numbers

import numpy as np

__all__ = ["CELLS", "sigmoid_"]


def sigmoid_(x):
    """Logistic sigmoid in place as ``0.5 * tanh(0.5 x) + 0.5`` (cheaper than expit)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


class _Cell:
    """Contract shared by every recurrent cell.

    A layer of ``H`` units keeps a *visible state* ``h`` of width ``output_size(H)``
    (what it emits and what the recurrent projection reads) and, for some cells, a
    hidden carry (the LSTM cell state ``c``). Parameters follow PyTorch's layout:
    ``weight_ih`` of shape ``(n_gates * H, n_inputs)``, ``weight_hh`` of shape
    ``(n_gates * H, output_size(H))`` and two biases of shape ``(n_gates * H,)``.

    The scan (``skrnn._recurrent``) owns the loop over time. Before it, the input
    projection of every step is written into ``cache["gates"]`` of shape
    ``(T, B, n_gates * H)`` together with :meth:`folded_bias` (for a prediction,
    a few steps at a time into a smaller buffer). At step ``t`` it stores
    ``h_{t-1} @ weight_hh.T`` in ``hg`` and calls :meth:`forward` with the row
    ``g`` of that step's input projection, which the cell may overwrite; it must
    write the new carries at index ``t + 1`` of the ``(T + 1, B, .)`` carry
    buffers, and its step buffers at index ``t`` (for a prediction, one row
    reused by every step).
    :meth:`backward` receives the total gradient of ``h_t`` (and of the hidden
    carries) and writes the gradient of the gate pre-activations at ``t`` into the
    ``(B, n_gates * H)`` row ``d``, which is ``cache["gates"][t]`` itself: the
    backward pass overwrites each step's gate values (read for the last time at
    that step) with their gradient, so BPTT keeps no second ``(T, B, n_gates * H)``
    buffer. A cell must therefore read everything it needs from
    ``cache["gates"][t]`` before (or while) writing ``d``.

    Two variations keep that memory bound for cells that need them:

    - A cell whose hidden projection enters its gates differently from the input
      projection (GRU: the reset gate multiplies it) sets
      :attr:`separate_hh_gates` and also writes the gradient of ``h_{t-1} @
      weight_hh.T`` for step ``t`` into the ``(B, n_gates * H)`` row ``dhg``; the
      scan then keeps the differing columns in the step buffer
      :attr:`hh_grad_buffer`, whose step ``t`` the cell no longer needs.
    - A cell that computes its output in place from its gate pre-activations,
      and whose backward reads only the outputs (the Elman cell), sets
      :attr:`gates_in_output`: the scan then projects the inputs straight into
      ``cache["h"][1:]`` (``cache["gates"]`` is that view), so the forward pass
      keeps one sequence buffer, not two. The outputs are still needed after
      ``backward(t)`` (as the previous state of step ``t + 1``), so ``d`` is then
      a row of a separate buffer of a few steps, and the scan takes the weight
      gradients one such chunk of steps at a time.
    """

    n_gates = 1
    hidden_carries = ()  # names of carries besides the visible state "h"
    # (T, B, H) buffers of per-step values the backward pass reads, allocated by
    # the scan for the whole batch (each shard works on its rows)
    step_buffers = ()
    # trailing gate blocks where d(h @ W_hh.T) differs from d(gates), and the
    # step buffer the scan overwrites with those columns of it, step by step, once
    # backward(t) has read step t (for the weight gradient after the loop)
    separate_hh_gates = 0
    hh_grad_buffer = None
    # the gate buffer is the output buffer h[1:] (requires n_gates * H == V)
    gates_in_output = False

    def forward_weights(self, w_ih, w_hh, bias, hidden_size):
        """``(w_ih, w_hh, bias)`` the forward projections use (default: as given)."""
        return w_ih, w_hh, bias

    def __init__(self, nonlinearity="tanh", n_states=1):
        self.nonlinearity = nonlinearity
        self.n_states = n_states

    @staticmethod
    def output_size(hidden_size):
        return hidden_size

    @staticmethod
    def init_biases(b_ih, b_hh, hidden_size):
        """Adjust freshly zeroed biases in place (default: leave at zero)."""

    def folded_bias(self, b_ih, b_hh, hidden_size):
        """Bias added to the input projection before the loop (one add, not T)."""
        return b_ih + b_hh

    def alloc(self, batch, hidden_size, dtype):
        """Extra forward buffers the cell keeps for its backward pass."""
        return {}


class RNNCell(_Cell):
    r"""Elman cell: :math:`h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`.

    :math:`\phi` is ``tanh`` or ``relu`` (``nonlinearity``), as ``torch.nn.RNN``.
    Its backward pass reads only :math:`h_t`, so its gate pre-activations are
    computed in the output buffer (:attr:`gates_in_output`).
    """

    gates_in_output = True

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


class LSTMCell(_Cell):
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


class GRUCell(_Cell):
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


class StatalCell(_Cell):
    r"""Statal cell: units that remember whether (and when) they saw their feature.

    Each of the ``H`` units has an activation :math:`a_t \in [0, 1]`, the
    probability that its feature is present at step ``t``, and ``K = n_states``
    states :math:`s^k_t \in [0, 1]`, the probability that the feature has been
    present at least once so far (``k = 1``) or recently (``k >= 2``):

    .. math::
        a_t = \sigma(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}) \\
        s^k_t = \rho_k s^k_{t-1} + a_t (1 - \rho_k s^k_{t-1}),
            \quad k = 1, \dots, K \\
        h_t = [a_t, s^1_t, \dots, s^K_t]

    with persistences :math:`\rho_1 = 1` and :math:`\rho_k = 1 - 10^{-(k-1)}`
    for ``k >= 2`` (time constants of 10, 100, ... steps). With :math:`\rho_1 = 1`
    the first state never forgets: :math:`s^1_t = s^1_{t-1} + a_t (1 - s^1_{t-1})`,
    so from :math:`s^1_0 = 0`, :math:`s^1_t = 1 - \prod_{\tau \le t} (1 -
    a_\tau)`, the probability of "seen at least once" when the per-step presences
    are independent. It never decreases and stays in ``[0, 1]``. The other states
    leak: after the feature fires and stays absent they decay like
    :math:`\rho_k^n`, so a feature seen long ago keeps :math:`s^1` near 1 while
    :math:`s^2, s^3, \dots` fade; together they say *when* it was seen.

    The states are a second output of each unit. The visible state ``h_t`` has
    ``H (1 + K)`` values in feature-major blocks: all ``H`` activations first, then
    the ``H`` first states, and so on. The next step's recurrent projection reads
    all of it, so ``weight_hh`` has shape ``(H, H (1 + K))`` (``n_gates = 1``). The
    whole state lives in ``h`` (no hidden carry); it starts at zero ("never seen")
    unless an initial state is given. The sigmoid is computed as
    :math:`\sigma(x) = 0.5 \tanh(0.5 x) + 0.5`.

    ``bias_ih`` starts at :attr:`initial_bias` (``-6``, ``bias_hh`` at 0) so a
    fresh unit reads "absent" (:math:`\sigma(-6) \approx 0.0025`) on a neutral
    input. The state accumulates the background activation, so it must be small
    against the sequence length: at ``-2`` (0.12 per step) :math:`s^1` filled up
    within a few dozen steps whatever the input, which left no gradient and no
    signal (the 500-step marker task stayed at chance; at ``-6`` it reached 100%).

    Parameters
    ----------
    nonlinearity : str, default="tanh"
        Ignored (the activation is always the logistic sigmoid).
    n_states : int, default=1
        States per unit, ``K >= 1``.

    Attributes
    ----------
    rho : ndarray of shape (n_states,)
        Persistence :math:`\rho_k` of each state, in float64. In float32,
        :math:`\rho_k` rounds to 1 from ``k = 9`` on (time constant beyond
        :math:`10^7` steps), so such states never forget.

    Examples
    --------
    One unit that fires only at the second step, with two states:

    >>> import numpy as np
    >>> from skrnn._cells import StatalCell
    >>> from skrnn._recurrent import scan_forward
    >>> cell = StatalCell(n_states=2)
    >>> cell.output_size(1)
    3
    >>> params = [np.array([[100.0]]), np.zeros((1, 3)), np.zeros(1), np.zeros(1)]
    >>> X = np.array([-1.0, 1.0, -1.0, -1.0]).reshape(4, 1, 1)  # (T, B, F)
    >>> cache = scan_forward(cell, params, X)
    >>> cache["h"][1:, 0]  # columns a, s^1 (ever seen), s^2 (rho = 0.9)
    array([[0.  , 0.  , 0.  ],
           [1.  , 1.  , 1.  ],
           [0.  , 1.  , 0.9 ],
           [0.  , 1.  , 0.81]])
    """

    #: Starting value of ``bias_ih``: a fresh unit is "off" on a neutral input.
    initial_bias = -6.0

    def __init__(self, nonlinearity="tanh", n_states=1):
        if isinstance(n_states, bool) or not isinstance(n_states, numbers.Integral):
            raise TypeError(
                f"n_states must be an int, got {n_states!r} of type "
                f"{type(n_states).__name__}; pass a whole number such as n_states=1."
            )
        if n_states < 1:
            raise ValueError(
                f"n_states must be >= 1, got {n_states}; pass n_states=1 for one "
                "'ever seen' state per unit, or more to also record when."
            )
        super().__init__(nonlinearity, int(n_states))
        k = np.arange(self.n_states)
        self.rho = np.where(k == 0, 1.0, 1.0 - 10.0 ** (-k.astype(float)))

    def output_size(self, hidden_size):
        return hidden_size * (1 + self.n_states)

    @staticmethod
    def init_biases(b_ih, b_hh, hidden_size):
        b_ih[:] = StatalCell.initial_bias

    def alloc(self, batch, hidden_size, dtype):
        K, H = self.n_states, hidden_size
        return {
            "rho": self.rho.astype(dtype)[:, None],
            "one_minus_a": np.empty((batch, H), dtype),
            "a_one_minus_a": np.empty((batch, H), dtype),
            "tmp": np.empty((batch, K, H), dtype),
            # gradient into h_{t-1}, reused every step (the scan adds it into its
            # own buffer at once); the a-block stays zero
            "direct": np.zeros((batch, (1 + K) * H), dtype),
        }

    def forward(self, t, g, hg, cache, b_hh):
        B, H = hg.shape
        K = self.n_states
        a = g  # the gate row becomes the activation
        a += hg
        sigmoid_(a)
        h = cache["h"][t + 1].reshape(B, 1 + K, H)
        s_prev = cache["h"][t].reshape(B, 1 + K, H)[:, 1:]
        h[:, 0] = a
        # s = r + a (1 - r) with r = rho * s_prev: adding a nonnegative term to
        # r keeps s^1 exactly non-decreasing and every state <= 1 in floating point.
        s, tmp = h[:, 1:], cache["tmp"]
        if K > 1:
            r = np.multiply(s_prev, cache["rho"], out=s)
        else:
            r = s_prev
        np.subtract(1, r, out=tmp)
        tmp *= a[:, None]
        np.add(r, tmp, out=s)

    def backward(self, t, dh, dcarry, cache, d, dhg, b_hh):
        K = self.n_states
        B, H = d.shape
        a = cache["gates"][t]
        s_prev = cache["h"][t].reshape(B, 1 + K, H)[:, 1:]
        dh = dh.reshape(B, 1 + K, H)
        ds = dh[:, 1:]
        rho = cache["rho"]
        # da = dh_a + sum_k ds_k * (1 - rho_k s_prev_k)
        tmp = cache["tmp"]
        if K > 1:
            np.multiply(s_prev, rho, out=tmp)
            np.subtract(1, tmp, out=tmp)
        else:
            np.subtract(1, s_prev, out=tmp)
        tmp *= ds
        # d aliases a (the gate buffer becomes its gradient): read a first
        oma, aoma = cache["one_minus_a"], cache["a_one_minus_a"]
        np.subtract(1, a, out=oma)
        np.multiply(a, oma, out=aoma)
        np.sum(tmp, axis=1, out=d)
        d += dh[:, 0]
        d *= aoma
        # direct path to h_{t-1}: ds_k * rho_k * (1 - a) on the state blocks
        direct = cache["direct"]
        ds_prev = direct.reshape(B, 1 + K, H)[:, 1:]
        np.multiply(ds, oma[:, None], out=ds_prev)
        if K > 1:
            ds_prev *= rho
        return direct, {}


#: Registry of cell factories keyed by the ``cell`` parameter's strings.
CELLS = {
    "rnn": RNNCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "statal": StatalCell,
}
