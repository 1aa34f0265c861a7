"""A recurrent layer: its weights, its cell, and both directions of the scan."""

import numpy as np

from ._cells import CELLS
from ._initializers import glorot_uniform
from ._scan import scan_backward, scan_forward

__all__ = [
    "init_direction",
    "layer_backward",
    "layer_forward",
    "make_cell",
    "reverse_index",
]


def _orthogonal_blocks(rng, n_blocks, hidden_size, n_inputs, dtype):
    """Stack ``n_blocks`` (semi-)orthogonal ``(hidden_size, n_inputs)`` matrices."""
    blocks = []
    for _ in range(n_blocks):
        big, small = max(hidden_size, n_inputs), min(hidden_size, n_inputs)
        a = rng.standard_normal((big, small))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # unique decomposition, uniform (Haar) distribution
        blocks.append(q if hidden_size >= n_inputs else q.T)
    return np.concatenate(blocks, axis=0).astype(dtype, copy=False)


def init_direction(rng, cell, input_size, hidden_size, dtype):
    """Initial weights of one direction of a recurrent layer, PyTorch layout.

    Input weights are Glorot-uniform, recurrent weights orthogonal per gate block,
    biases zero except where the cell says otherwise (LSTM forget gate: 1).

    Parameters
    ----------
    rng : numpy.random.RandomState
        Source of every random draw.
    cell : cell object from ``CELLS``
    input_size, hidden_size : int
    dtype : numpy dtype

    Returns
    -------
    list of ndarray
        ``[weight_ih (G*H, input_size), weight_hh (G*H, V), bias_ih (G*H,),
        bias_hh (G*H,)]`` with ``G = cell.n_gates`` and ``V = cell.output_size(H)``.
    """
    G, H = cell.n_gates, hidden_size
    V = cell.output_size(H)
    w_ih = np.concatenate(
        [glorot_uniform(rng, (H, input_size), dtype) for _ in range(G)], axis=0
    )
    w_hh = _orthogonal_blocks(rng, G, H, V, dtype)
    b_ih = np.zeros(G * H, dtype)
    b_hh = np.zeros(G * H, dtype)
    cell.init_biases(b_ih, b_hh, H)
    return [w_ih, w_hh, b_ih, b_hh]


def reverse_index(lengths, n_steps):
    """Time indices that reverse the valid part of each right-padded sequence.

    Returns ``idx`` of shape ``(n_steps, n_samples)`` with ``idx[t, b] =
    lengths[b] - 1 - t`` for ``t < lengths[b]`` and ``t`` on padded steps. The
    permutation is its own inverse, so the same index re-flips the outputs.
    """
    t = np.arange(n_steps)[:, None]
    return np.where(t < lengths[None, :], lengths[None, :] - 1 - t, t)


def make_cell(name, nonlinearity="tanh", n_states=1):
    """Instantiate the registered cell ``name`` with the options it declares.

    The network holds every cell's options; each cell receives only those in
    its ``options`` (the Elman cell its nonlinearity, the statal cell its
    number of states), so no cell sees another's.
    """
    cls = CELLS[name]
    given = {"nonlinearity": nonlinearity, "n_states": n_states}
    return cls(**{option: given[option] for option in cls.options})


def direction_inputs(X, lengths, ragged):
    """The input of the reverse direction: each sequence's valid part reversed."""
    if not ragged:
        return np.ascontiguousarray(X[::-1]), None
    idx = reverse_index(lengths, X.shape[0])
    return X[idx, np.arange(X.shape[1])], idx


def _reflip(Y, idx):
    if idx is None:
        return Y[::-1]
    return Y[idx, np.arange(Y.shape[1])]


def layer_forward(
    cell,
    dir_params,
    X,
    lengths,
    valid,
    state0=None,
    rec_masks=None,
    for_backward=True,
):
    """Forward pass of a (possibly bidirectional) recurrent layer.

    Parameters
    ----------
    cell : cell object
    dir_params : list of list of ndarray
        One ``[weight_ih, weight_hh, bias_ih, bias_hh]`` per direction (forward
        first).
    X : ndarray of shape (n_steps, batch, n_inputs)
    lengths : ndarray of shape (batch,)
        Valid steps per sequence (right padding). Used to reverse each sequence's
        valid part for the reverse direction.
    valid : ndarray of bool of shape (n_steps, batch) or None
    state0 : list of dict or None
        Initial carry per direction.
    rec_masks : list of ndarray or None
        Recurrent dropout mask per direction.
    for_backward : bool, default=True
        Keep what :func:`layer_backward` needs (see :func:`scan_forward`).

    Returns
    -------
    Y : ndarray of shape (n_steps, batch, n_directions * V)
        Outputs in time order (the reverse direction re-flipped).
    last : ndarray of shape (batch, n_directions * V)
        Each direction's final state: the forward state at the last valid step,
        the reverse state at the first step (PyTorch's ``h_n``).
    stateT : list of dict
        Final carry per direction.
    cache : dict
    """
    n_dir = len(dir_params)
    caches, outs, lasts, states = [], [], [], []
    idx = None
    for d in range(n_dir):
        Xd = X
        if d == 1:
            Xd, idx = direction_inputs(X, lengths, valid is not None)
        c = scan_forward(
            cell,
            dir_params[d],
            Xd,
            None if state0 is None else state0[d],
            valid,
            None if rec_masks is None else rec_masks[d],
            for_backward,
        )
        caches.append((Xd, c))
        outs.append(c["h"][1:] if d == 0 else _reflip(c["h"][1:], idx))
        carries = ("h", *cell.hidden_carries)
        states.append({name: c[name][-1].copy() for name in carries})
        lasts.append(c["h"][-1])
    if n_dir == 1:
        Y, last = outs[0], lasts[0]
    else:
        Y, last = np.concatenate(outs, axis=2), np.concatenate(lasts, axis=1)
    return Y, last, states, {"dirs": caches, "idx": idx}


def layer_backward(
    cell, dir_params, cache, dY=None, dlast=None, dstateT=None, need_dX=True
):
    """Backward pass of :func:`layer_forward`.

    ``dY`` (n_steps, batch, n_directions * V) and ``dlast`` (batch, n_directions *
    V) may be None. ``dstateT`` is a list of per-direction carry gradients or None.
    ``need_dX=False`` skips the gradient of the input (the first layer's).

    Returns
    -------
    dX : ndarray of shape (n_steps, batch, n_inputs) or None
    dstate0 : list of dict
    grads : list of list of ndarray, one per direction
    """
    dX, dstate0, grads = None, [], []
    for d, (Xd, c) in enumerate(cache["dirs"]):
        V = dir_params[d][1].shape[1]
        dYd = None if dY is None else dY[:, :, d * V : (d + 1) * V]
        if dYd is not None and d == 1:
            dYd = _reflip(dYd, cache["idx"])
        dT = {} if dstateT is None else dict(dstateT[d])
        if dlast is not None:
            g = dlast[:, d * V : (d + 1) * V]
            dT["h"] = g if dT.get("h") is None else dT["h"] + g
        dXd, d0, g = scan_backward(cell, dir_params[d], Xd, c, dYd, dT, need_dX)
        if need_dX:
            if d == 1:
                dXd = _reflip(dXd, cache["idx"])
            dX = dXd if dX is None else dX + dXd
        dstate0.append(d0)
        grads.append(g)
    return dX, dstate0, grads
