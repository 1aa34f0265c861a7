"""The statal cell: units that remember whether, and when, they saw their feature."""

import numbers

import numpy as np

from ._cell_contract import Cell, sigmoid_

__all__ = ["StatalCell"]


class StatalCell(Cell):
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
    >>> from skrnn._statal import StatalCell
    >>> from skrnn._scan import scan_forward
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
    # patches would blur which feature fired, and when
    auto_patches = False
    # it detects whether features were present; it does not fit dense values
    poor_regression_score = True

    options = ("n_states",)

    def __init__(self, n_states=1):
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
        self.n_states = int(n_states)
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
            # gradient into h_{t-1} besides through hg (the a-block stays zero)
            "direct": np.zeros((batch, (1 + K) * H), dtype),
        }

    def forward(self, gates, hg, prev, out, saved, scratch):
        B, H = hg.shape
        K = self.n_states
        a = gates  # the gate row becomes the activation
        a += hg
        sigmoid_(a)
        h = out["h"].reshape(B, 1 + K, H)
        s_prev = prev["h"].reshape(B, 1 + K, H)[:, 1:]
        h[:, 0] = a
        # s = r + a (1 - r) with r = rho * s_prev: adding a nonnegative term to
        # r keeps s^1 exactly non-decreasing and every state <= 1 in floating point.
        s, tmp = h[:, 1:], scratch["tmp"]
        if K > 1:
            r = np.multiply(s_prev, scratch["rho"], out=s)
        else:
            r = s_prev
        np.subtract(1, r, out=tmp)
        tmp *= a[:, None]
        np.add(r, tmp, out=s)

    def backward(self, dout, gates, prev, out, saved, dgates, dhg, scratch):
        K = self.n_states
        B, H = dgates.shape
        a = gates
        s_prev = prev["h"].reshape(B, 1 + K, H)[:, 1:]
        dh = dout["h"].reshape(B, 1 + K, H)
        ds = dh[:, 1:]
        rho = scratch["rho"]
        # da = dh_a + sum_k ds_k * (1 - rho_k s_prev_k)
        tmp = scratch["tmp"]
        if K > 1:
            np.multiply(s_prev, rho, out=tmp)
            np.subtract(1, tmp, out=tmp)
        else:
            np.subtract(1, s_prev, out=tmp)
        tmp *= ds
        oma, aoma = scratch["one_minus_a"], scratch["a_one_minus_a"]
        np.subtract(1, a, out=oma)
        np.multiply(a, oma, out=aoma)
        np.sum(tmp, axis=1, out=dgates)
        dgates += dh[:, 0]
        dgates *= aoma
        # direct path to h_{t-1}: ds_k * rho_k * (1 - a) on the state blocks
        direct = scratch["direct"]
        ds_prev = direct.reshape(B, 1 + K, H)[:, 1:]
        np.multiply(ds, oma[:, None], out=ds_prev)
        if K > 1:
            ds_prev *= rho
        return {"h": direct}
