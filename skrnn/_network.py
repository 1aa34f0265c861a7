"""A network: stacked sequence layers, a linear head and a loss; forward, backward."""

from dataclasses import dataclass

import numpy as np

from ._initializers import glorot_uniform
from ._masks import valid_mask
from ._pooling import POOLINGS
from ._recurrent import make_cell
from ._skip import FIXED, skip_backward_dX, skip_lags
from ._stacks import STACKS, stack_kind

__all__ = [
    "Architecture",
    "draw_masks",
    "forward",
    "backward",
    "init_params",
    "param_shapes",
    "penalty",
    "weight_names",
]


@dataclass(frozen=True)
class Architecture:
    """Everything that fixes the shapes and the computation of a network.

    Parameters
    ----------
    cell : str
        Key of ``skrnn._cells.CELLS``.
    hidden_sizes : tuple of int
        Units of each stacked layer, bottom first.
    n_inputs : int
        Features per time step.
    n_outputs : int
        Width of the linear head.
    bidirectional : bool
    nonlinearity : {"tanh", "relu"}
        For the ``"rnn"`` cell.
    return_sequences : bool
        Head on every step (many-to-many) or on the last state (many-to-one).
    dropout : float
        Variational dropout on the output of every sequence layer (between
        stacked layers and before the head; one mask per sequence).
    input_dropout : float
        Variational dropout on the network's input features.
    recurrent_dropout : float
        Variational dropout on the recurrent input ``h_{t-1}``.
    n_states : int
        States per unit of the ``"statal"`` cell.
    pooling : {"last", "mean", "max", "concat", "last_max_mean"}
        Many-to-one readout over time: the last state (PyTorch's ``h_n``), the
        mean or the maximum of the outputs over the valid steps, or several
        side by side (``skrnn._pooling.PARTS``).
    skip_steps : int
        Input steps the linear skip reads (``skrnn._skip``); 0 for none.
    """

    cell: str
    hidden_sizes: tuple
    n_inputs: int
    n_outputs: int
    bidirectional: bool = False
    nonlinearity: str = "tanh"
    return_sequences: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    n_states: int = 1
    pooling: str = "last"
    input_dropout: float = 0.0
    skip_steps: int = 0

    @property
    def n_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def kind(self):
        """Key of ``skrnn._stacks.STACKS``: the stack kind of this ``cell``."""
        return stack_kind(self.cell)

    @property
    def stack(self):
        """The registry entry of the sequence layers (``skrnn._stacks``)."""
        return STACKS[self.kind]

    def make_cell(self):
        return make_cell(self.cell, self.nonlinearity, self.n_states)

    # The interface the training loop and the estimators use, shared with
    # ``skrnn._encoder_decoder.EncoderDecoder``.
    def forward(self, params, X, lengths, **kwargs):
        return forward(self, params, X, lengths, **kwargs)

    def backward(self, params, cache, draw, **kwargs):
        return backward(self, params, cache, draw, **kwargs)

    def draw_masks(self, rng, batch, dtype):
        return draw_masks(self, rng, batch, dtype)

    def init_params(self, rng, dtype=np.float64):
        return init_params(self, rng, dtype)

    def weight_names(self):
        return weight_names(self)

    def param_shapes(self):
        return param_shapes(self)

    def layer_sizes(self):
        """``(n_inputs, output width)`` of each layer."""
        return self.stack.layer_sizes(self)


def weight_names(arch):
    """Names of the parameters, in PyTorch ``state_dict()`` order."""
    return list(param_shapes(arch))


def param_shapes(arch):
    """Names and shapes of the parameters, in PyTorch ``state_dict()`` order.

    Pure arithmetic on the architecture: no array is built or initialised, so a
    claimed architecture can be checked against stored weights at no cost.
    """
    shapes = arch.stack.param_shapes(arch)
    shapes["head.weight"] = (arch.n_outputs, _head_width(arch))
    shapes["head.bias"] = (arch.n_outputs,)
    if arch.skip_steps:
        shapes["skip.weight"] = (arch.n_outputs, arch.skip_steps * arch.n_inputs)
    return shapes


def init_params(arch, rng, dtype=np.float64):
    """Initial parameters, a dict in PyTorch ``state_dict()`` layout and order.

    Recurrent input weights Glorot-uniform, recurrent weights orthogonal, biases
    zero (LSTM forget gate 1); head Glorot-uniform with zero bias. Every draw comes
    from ``rng`` in a fixed order.
    """
    params = arch.stack.init_params(arch, rng, dtype)
    return _add_head(arch, params, rng, dtype)


def _head_width(arch):
    """Width of the head's input: the top layer's output, three times for concat."""
    n_top = arch.layer_sizes()[-1][1]
    if arch.return_sequences:
        return n_top
    return POOLINGS[arch.pooling][2] * n_top


def _add_head(arch, params, rng, dtype):
    shape = (arch.n_outputs, _head_width(arch))
    params["head.weight"] = glorot_uniform(rng, shape, dtype)
    params["head.bias"] = np.zeros(arch.n_outputs, dtype)
    if arch.skip_steps:  # zeros: training starts from the network alone
        width = arch.skip_steps * arch.n_inputs
        params["skip.weight"] = np.zeros((arch.n_outputs, width), dtype)
    return params


def draw_masks(arch, rng, batch, dtype):
    """Dropout masks for one batch (or None when no dropout is set).

    One mask per sequence, reused at every step, scaled by ``1 / (1 - p)``:
    ``"input"`` holds a ``(batch, n_inputs)`` mask per layer (``input_dropout``
    for the first, ``dropout`` above it), ``"recurrent"`` a list (per direction)
    of ``(batch, O)`` masks per layer, and ``"head"`` the ``dropout`` mask of the
    head's input.
    """
    if not (arch.dropout or arch.recurrent_dropout or arch.input_dropout):
        return None

    def mask(p, width):
        if p == 0:
            return None
        keep = rng.random_sample((batch, width)) >= p
        return (keep / (1.0 - p)).astype(dtype)

    inputs, recurrent = arch.stack.draw_masks(arch, mask)
    masks = {"input": inputs, "recurrent": recurrent}
    masks["head"] = mask(arch.dropout, _head_width(arch))
    return masks


def _pools(arch):
    """Whether the readout carries a running summary between chunks."""
    return not arch.return_sequences and arch.pooling != "last"


def _head(arch, params, h, last, valid, prior, head_mask):
    """``(raw, Z, pool)``: the linear head on every step or on the readout."""
    W, b = params["head.weight"], params["head.bias"]
    if arch.return_sequences:
        T, B, D = h.shape
        if head_mask is not None:
            h = h * head_mask
        Z = h.reshape(T * B, D)
        return (Z @ W.T + b).reshape(T, B, -1).transpose(1, 0, 2), Z, None
    Z, pool = POOLINGS[arch.pooling][0](h, last, valid, prior)
    if head_mask is not None:
        Z = Z * head_mask
    return Z @ W.T + b, Z, pool


def forward(
    arch, params, X, lengths, *, valid=None, state0=None, masks=None, for_backward=True
):
    """Run the network on a batch.

    Runs on every batch and trusts its inputs, which the estimators validate once
    at their boundary: ``params`` as :func:`init_params` builds them, all arrays
    in one float dtype (float32 or float64).

    Parameters
    ----------
    arch : Architecture
    params : dict of ndarray
    X : ndarray of shape (batch, n_steps, n_inputs)
        Right-padded input in the computation dtype.
    lengths : ndarray of int of shape (batch,)
        Valid steps per sequence, in ``[1, n_steps]``.
    valid : ndarray of bool of shape (n_steps, batch), default=None
        Explicit valid-step mask (overrides ``lengths``; used by truncated BPTT on
        left-aligned windows). Recurrent stacks only: the wavenet stack reads
        right-padded batches, whose mask is that of ``lengths``.
    state0 : list, default=None
        Initial state (as returned in ``stateT``); None means zeros.
    masks : dict, default=None
        Dropout masks from :func:`draw_masks` (training only).
    for_backward : bool, default=True
        Keep what :func:`backward` needs. Pass ``False`` to predict: the
        recurrent layers then hold less and run faster on large batches.

    Returns
    -------
    raw : ndarray of shape (batch, n_outputs) or (batch, n_steps, n_outputs)
        Head output before any output activation.
    stateT : list
        Final state, to continue on a next chunk (streaming, truncated BPTT):
        one entry per layer, plus the running ``(sum, count)`` of the outputs
        when a many-to-one readout pools over time.
    cache : dict
    """
    h = np.ascontiguousarray(X.transpose(1, 0, 2))
    if valid is None:
        valid = valid_mask(lengths, h.shape[0])
    prior = None
    if _pools(arch) and state0 is not None:
        state0, prior = state0[:-1], state0[-1]
    h, last, stateT, stack_cache = arch.stack.forward(
        arch, params, h, lengths, valid, state0, masks, for_backward
    )
    head_mask = None if masks is None else masks["head"]
    raw, Z, pool = _head(arch, params, h, last, valid, prior, head_mask)
    if pool is not None:
        stateT = [*stateT, pool["carry"]]
    lags = None
    if arch.skip_steps:
        lags = skip_lags(X, lengths, arch.skip_steps, arch.return_sequences)
        raw += lags @ params["skip.weight"].T
    cache = {
        "stack": stack_cache,
        "Z": Z,
        "shape": h.shape,
        "pool": pool,
        "head_mask": head_mask,
        "lags": lags,
        "lengths": lengths,
    }
    return raw, stateT, cache


def backward(arch, params, cache, draw, dstateT=None, need_dX=False):
    """Gradients of a scalar loss given its gradient ``draw`` w.r.t. ``raw``.

    Returns
    -------
    grads : dict of ndarray
        Same keys and shapes as ``params``.
    dstate0 : list or None
        Gradient with respect to the initial state of every recurrent layer
        (None for the wavenet stack, whose streaming state takes no gradient).
    dX : ndarray of shape (batch, n_steps, n_inputs) or None
        Only when ``need_dX``.
    """
    W = params["head.weight"]
    Z = cache["Z"]
    if arch.return_sequences:
        T, B, _ = cache["shape"]
        d_flat = np.ascontiguousarray(draw.transpose(1, 0, 2)).reshape(T * B, -1)
    else:
        d_flat = draw
    dZ = d_flat @ W
    head_mask = cache["head_mask"]
    if arch.return_sequences:
        dY, dlast = dZ.reshape(cache["shape"]), None
        if head_mask is not None:
            dY *= head_mask
    else:
        if head_mask is not None:
            dZ *= head_mask
        dY, dlast = POOLINGS[arch.pooling][1](dZ, cache)
    if _pools(arch) and dstateT is not None:
        dstateT = dstateT[:-1]  # the running mean takes no gradient
    dX, dstate0, grads = arch.stack.backward(
        arch, params, cache["stack"], dY, dlast, dstateT, need_dX
    )
    grads["head.weight"] = d_flat.T @ Z
    grads["head.bias"] = d_flat.sum(axis=0)
    dX = dX.transpose(1, 0, 2) if need_dX else None
    lags = cache["lags"]
    if lags is not None:
        Ws = params["skip.weight"]
        width = lags.shape[-1]
        grads["skip.weight"] = draw.reshape(-1, Ws.shape[0]).T @ lags.reshape(-1, width)
        if need_dX:
            dX = dX + skip_backward_dX(
                draw @ Ws, cache["lengths"], dX.shape, arch.return_sequences
            )
    grads = {name: grads[name] for name in params}
    return grads, dstate0, dX


def penalty(params, alpha, n_eff, grads=None):
    """L2 penalty ``0.5 * alpha * sum(W ** 2) / n_eff`` on trained weight matrices.

    ``n_eff`` is the batch's total sample weight (its size when unweighted), as in
    scikit-learn's MLP. With ``grads``, adds the penalty's gradient into them
    and zeroes the gradient of the parameters set in closed form
    (``skrnn._skip.FIXED``), which carry no penalty and which training does
    not move: this is the objective's gradient in the trained parameters.
    """
    fixed = [name for name in FIXED if name in params]
    if grads is not None:
        for name in fixed:
            grads[name][...] = 0
    if not alpha:
        return 0.0
    scale = alpha / n_eff
    value = 0.0
    for name, p in params.items():
        if "weight" in name and name not in fixed:
            value += 0.5 * scale * float(np.dot(p.ravel(), p.ravel()))
            if grads is not None:
                grads[name] += scale * p
    return value
