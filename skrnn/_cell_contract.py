"""The contract every recurrent cell meets: what the scan gives it, what it returns."""

from functools import lru_cache

import numpy as np

__all__ = ["Cell", "fold_bias", "gate_blocks", "sigmoid_"]


def sigmoid_(x):
    """Logistic sigmoid in place as ``0.5 * tanh(0.5 x) + 0.5`` (cheaper than expit)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


@lru_cache(maxsize=256)
def gate_blocks(n_gates, hidden_size):
    """Indices of the gate blocks of a ``(B, n_gates * H)`` row: ``row[blocks[k]]``
    is block ``k`` (built once: a step then indexes without building slices,
    which costs about half as much in Python)."""
    H = hidden_size
    return tuple((slice(None), slice(k * H, (k + 1) * H)) for k in range(n_gates))


def fold_bias(cell, b_ih, b_hh, H):
    """``(bias added to the input projection, bias added to hg or None)``.

    ``bias_hh`` folds into the input projection (one add before the loop, not
    one a step) except on the cell's ``hidden_gates`` blocks, where it stays
    with the hidden projection (the scan and the ONNX converter both fold so).
    """
    if not cell.hidden_gates:
        return b_ih + b_hh, None
    split = (cell.n_gates - cell.hidden_gates) * H
    bias = b_ih.copy()
    bias[:split] += b_hh[:split]
    return bias, b_hh[split:]


class Cell:
    """Contract shared by every recurrent cell: one step forward, one step back.

    A layer of ``H`` units keeps a *visible state* ``h`` of width ``output_size(H)``
    (what it emits and what the recurrent projection reads) and, for some cells,
    hidden carries of width ``H`` (the LSTM cell state ``c``), named in
    :attr:`hidden_carries`. Parameters follow PyTorch's layout: ``weight_ih`` of
    shape ``(n_gates * H, n_inputs)``, ``weight_hh`` of shape ``(n_gates * H,
    output_size(H))`` and two biases of shape ``(n_gates * H,)``.

    The scan (``skrnn._scan``) owns the loop over time, the input projection of
    every step (one matrix product before the loop), the recurrent product, the
    padding of ragged batches, recurrent dropout and every buffer. A cell sees one
    step of ``B`` rows at a time, as explicit arrays, and never the time index:

    ``forward(gates, hg, prev, out, saved, scratch)``
        ``gates`` (B, n_gates * H): this step's input projection plus the biases
        (``bias_ih + bias_hh``, except ``bias_hh`` of the :attr:`hidden_gates`
        blocks). The cell may overwrite it; what it leaves there (typically its
        gate activations) is what :meth:`backward` receives as ``gates``.
        ``hg`` (B, n_gates * H): ``h_{t-1} @ weight_hh.T``, plus ``bias_hh`` on
        the :attr:`hidden_gates` blocks; read only. ``prev``: the carries of the
        previous step, ``{"h": (B, V), name: (B, H) for each hidden carry}``;
        read only. ``out``: the same keys, where the cell writes this step's
        carries. ``saved``: ``{name: (B, H)}`` for each name in :attr:`saved`,
        values of this step the backward step needs, written by the cell.
        ``scratch``: what :meth:`alloc` returned (reused by every step).

    ``backward(dout, gates, prev, out, saved, dgates, dhg, scratch)``
        ``dout``: the total gradient of this step's carries (same keys as
        ``out``), which the cell may overwrite. ``gates``, ``prev``, ``out`` and
        ``saved`` hold what they held after this step's forward; read only.
        The cell writes the gradient of its gate pre-activations into
        ``dgates`` (B, n_gates * H) and, if :attr:`hidden_gates` is set, the
        gradient of the last ``hidden_gates * H`` columns of ``hg`` into ``dhg``
        (elsewhere it equals ``dgates``; ``dhg`` is None otherwise). It returns
        the gradient of the previous carries other than through ``hg`` (the
        scan adds that path): a dict with every hidden carry, and ``"h"`` only
        where the state reaches the next step directly (the GRU's ``z h``);
        each value may be an array of ``dout`` or ``scratch``.

    Every array is distinct from every other (no argument aliases another),
    except where :attr:`gates_in_output` says otherwise. The scan keeps its memory
    tricks to itself: BPTT keeps no second ``(T, B, n_gates * H)`` buffer (each
    step's gradient row takes the place of gates already consumed), the
    hidden-side gradient of the :attr:`hidden_gates` columns goes into a saved
    buffer the cell has finished with, and a prediction keeps one row per step
    buffer.
    """

    n_gates = 1
    #: Names of the carries besides the visible state "h", each of width H.
    hidden_carries = ()
    #: Names of the (B, H) values of each step that ``forward`` saves for
    #: ``backward`` (besides its gate row and its carries).
    saved = ()
    #: Trailing gate blocks whose hidden projection enters the gates otherwise
    #: than added to the input projection (the GRU's candidate, ``r * (W_hn h +
    #: b_hn)``): their ``bias_hh`` is added to ``hg``, not folded into ``gates``,
    #: and ``backward`` writes their hidden-side gradient into ``dhg``.
    hidden_gates = 0
    #: The output ``h`` is an elementwise function of ``gates + hg`` and the
    #: backward step reads only ``out`` (the Elman cell): the scan then gives
    #: ``forward`` the output row ``out["h"]`` as its ``gates`` (the same array;
    #: requires ``n_gates * H == output_size(H)`` and no hidden carries), so a
    #: sequence keeps one buffer, and ``backward`` gets ``gates=None``.
    gates_in_output = False
    #: patch_size="auto" may read this cell's input in patches of several steps
    #: (False for a cell whose state is a per-feature memory of what it saw).
    auto_patches = True
    #: scikit-learn's regression checks fit dense random targets: a cell built to
    #: detect events rather than fit values sets this (the poor_score tag).
    poor_regression_score = False

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

    def forward_weights(self, w_ih, w_hh, bias, hidden_size):
        """``(w_ih, w_hh, bias)`` the forward projections use (default: as given).

        ``bias`` is the one added to the input projection; the hidden-gate bias
        added to ``hg`` is not rescaled.
        """
        return w_ih, w_hh, bias

    def alloc(self, batch, hidden_size, dtype):
        """Scratch arrays of one shard of ``batch`` rows, reused by every step."""
        return {}

    def forward(self, gates, hg, prev, out, saved, scratch):
        """One step forward (see the class docstring)."""
        raise NotImplementedError

    def backward(self, dout, gates, prev, out, saved, dgates, dhg, scratch):
        """One step back (see the class docstring); returns the previous carries'
        gradients other than through ``hg``."""
        raise NotImplementedError
