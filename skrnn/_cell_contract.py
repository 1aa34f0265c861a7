"""The contract every recurrent cell meets: what the scan gives it, what it returns."""

import numpy as np

__all__ = ["Cell", "sigmoid_"]


def sigmoid_(x):
    """Logistic sigmoid in place as ``0.5 * tanh(0.5 x) + 0.5`` (cheaper than expit)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


class Cell:
    """Contract shared by every recurrent cell.

    A layer of ``H`` units keeps a *visible state* ``h`` of width ``output_size(H)``
    (what it emits and what the recurrent projection reads) and, for some cells, a
    hidden carry (the LSTM cell state ``c``). Parameters follow PyTorch's layout:
    ``weight_ih`` of shape ``(n_gates * H, n_inputs)``, ``weight_hh`` of shape
    ``(n_gates * H, output_size(H))`` and two biases of shape ``(n_gates * H,)``.

    The scan (``skrnn._scan``) owns the loop over time. Before it, the input
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
    # patch_size="auto" may read this cell's input in patches of several steps
    # (False for a cell whose state is a per-feature memory of what it saw)
    auto_patches = True
    # scikit-learn's regression checks fit dense random targets: a cell built to
    # detect events rather than fit values sets this (the poor_score tag)
    poor_regression_score = False

    def forward_weights(self, w_ih, w_hh, bias, hidden_size):
        """``(w_ih, w_hh, bias)`` the forward projections use (default: as given)."""
        return w_ih, w_hh, bias

    #: The network options (``Architecture`` fields, the estimators' parameters
    #: of the same names) this cell reads, passed to its constructor by keyword.
    #: A cell is built with its own options only (see ``make_cell``).
    options = ()

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
