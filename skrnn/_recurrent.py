"""The one loop over time: a recurrent layer as a scan of a cell, forward, backward."""

import numpy as np

from ._cells import CELLS
from ._fast import backward_arrays, forward_shards, kernels_for
from ._initializers import glorot_uniform
from ._parallel import batch_shards, gemm_threads, run_shards

__all__ = [
    "init_direction",
    "make_cell",
    "reverse_index",
    "scan_backward",
    "scan_forward",
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


def _pad_steps(valid):
    """Per step, the boolean column of padded samples (or None if none is padded)."""
    if valid is None:
        return None
    pad = ~valid
    return [pad[t][:, None] if pad[t].any() else None for t in range(pad.shape[0])]


#: Without a backward pass to come, the scan projects the inputs of a few steps
#: at a time into a gate buffer of about this many bytes per shard, which stays in
#: cache, instead of writing (and page-faulting in) the whole sequence's gates.
PROJECT_CHUNK_BYTES = 2**20


def scan_forward(
    cell, params, X, carry0=None, valid=None, rec_mask=None, for_backward=True
):
    """Run one direction of a recurrent layer over a time-major batch.

    Parameters
    ----------
    cell : cell object from ``CELLS``
    params : list of ndarray
        ``[weight_ih, weight_hh, bias_ih, bias_hh]`` in PyTorch layout.
    X : ndarray of shape (n_steps, batch, n_inputs)
        C-contiguous input, in the dtype the computation runs in.
    carry0 : dict of ndarray, default=None
        Initial state: ``"h"`` of shape (batch, V) and any hidden carries of shape
        (batch, H). ``None`` means zeros.
    valid : ndarray of bool of shape (n_steps, batch), default=None
        False on padded steps, where the state is carried unchanged. ``None``: all
        steps are valid.
    rec_mask : ndarray of shape (batch, V), default=None
        Variational (same for every step) dropout mask on the recurrent input.
    for_backward : bool, default=True
        Keep what :func:`scan_backward` needs. ``False`` (prediction) keeps only
        the carries: the inputs are projected :data:`PROJECT_CHUNK_BYTES` at a
        time and the cell's step buffers are one reused row.

    Returns
    -------
    cache : dict
        ``cache["h"]`` of shape (n_steps + 1, batch, V) holds the initial state at
        index 0 and the output of step ``t`` at ``t + 1``; the final state is at
        ``n_steps``. The rest is what :func:`scan_backward` needs.
    """
    w_ih, w_hh, b_ih, b_hh = params
    T, B, F = X.shape
    GH, V = w_hh.shape
    H = GH // cell.n_gates
    dtype = X.dtype
    cache = {"h": np.empty((T + 1, B, V), dtype)}
    for name in cell.hidden_carries:
        cache[name] = np.empty((T + 1, B, H), dtype)
    for name in cell.step_buffers:
        if for_backward:
            cache[name] = np.empty((T, B, H), dtype)
        else:  # every step writes (and reads back) the same row
            row = np.empty((B, H), dtype)
            cache[name] = np.lib.stride_tricks.as_strided(
                row, (T, B, H), (0, *row.strides)
            )
    w_ih, w_hh_fwd, bias = cell.forward_weights(
        w_ih, w_hh, cell.folded_bias(b_ih, b_hh, H), H
    )
    project = None  # (w_ih^T, bias) when the loop projects a few steps at a time
    if cell.gates_in_output or for_backward:
        gates = cache["h"][1:] if cell.gates_in_output else np.empty((T, B, GH), dtype)
        with gemm_threads(T * B, F, GH):
            np.dot(X.reshape(T * B, F), w_ih.T, out=gates.reshape(T * B, GH))
        gates += bias
        cache["gates"] = gates
    else:
        project = (w_ih.T, bias)
    carries = ("h", *cell.hidden_carries)
    for name in carries:
        if carry0 is None or carry0.get(name) is None:
            cache[name][0] = 0
        else:
            cache[name][0] = carry0[name]
    names = tuple(cache)
    # h @ W^T is ~25% faster with W^T laid out contiguously than as a view.
    w_hh_t = np.ascontiguousarray(w_hh_fwd.T)

    fast = kernels_for(cell, dtype)
    cache["fast"] = fast
    cache["valid"] = valid
    cache["rec_mask"] = rec_mask
    cache["for_backward"] = for_backward
    if fast is not None:
        if project is not None:
            project = (X, *project, PROJECT_CHUNK_BYTES)
        cache["shards"] = forward_shards(
            fast, cell, cache, project, w_hh_t, b_hh, valid, rec_mask
        )
        return cache

    def run(rows):
        shard = {name: cache[name][:, rows] for name in names}
        shard.update(cell.alloc(shard["h"].shape[1], H, dtype))
        _forward_rows(
            cell,
            shard,
            None if project is None else (X[:, rows], *project),
            w_hh_t,
            b_hh,
            _pad_steps(None if valid is None else valid[:, rows]),
            None if rec_mask is None else rec_mask[rows],
        )
        return shard

    rows = batch_shards(B, GH, V)
    cache["shards"] = list(zip(rows, run_shards(run, rows, (B, V, GH)), strict=True))
    return cache


def _forward_rows(cell, cache, project, w_hh_t, b_hh, pad, rec_mask):
    """The loop over time for one shard of rows (``cache`` holds its views).

    ``project`` is None when ``cache["gates"]`` holds every step's input
    projection, else ``(X, w_ih_t, bias)`` to project a chunk of steps at a time.
    """
    T, B, _ = cache["h"].shape
    T -= 1
    GH = w_hh_t.shape[1]
    dtype = cache["h"].dtype
    carries = ("h", *cell.hidden_carries)
    hg = np.empty((B, GH), dtype)
    h_in = np.empty((B, w_hh_t.shape[0]), dtype) if rec_mask is not None else None
    chunk = T
    if project is not None:
        X, w_ih_t, bias = project
        chunk = max(1, min(T, PROJECT_CHUNK_BYTES // (B * GH * dtype.itemsize)))
        buffer = np.empty((chunk, B, GH), dtype)
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        if project is None:
            gates = cache["gates"][t0:t1]
        else:
            # a true GEMM (B >= 2 whenever threads are raised; an inner dimension
            # of 1 has no sum to split), so exact under gemm_threads
            gates = buffer[: t1 - t0]
            x = X[t0:t1].reshape((t1 - t0) * B, X.shape[2])
            np.dot(x, w_ih_t, out=gates.reshape((t1 - t0) * B, GH))
            gates += bias
        for t in range(t0, t1):
            h_prev = cache["h"][t]
            if rec_mask is not None:
                h_prev = np.multiply(h_prev, rec_mask, out=h_in)
            np.dot(h_prev, w_hh_t, out=hg)
            cell.forward(t, gates[t - t0], hg, cache, b_hh)
            if pad is not None and pad[t] is not None:
                for name in carries:
                    np.copyto(cache[name][t + 1], cache[name][t], where=pad[t])


#: A cell whose gates live in its output buffer (``gates_in_output``) keeps the
#: gate gradients of at most ``1 / GRAD_CHUNKS`` of the steps at a time, and of
#: at least ``MIN_CHUNK_ROWS`` rows (steps x batch), so that each chunk's weight
#: gradients stay one sizeable GEMM.
GRAD_CHUNKS = 16
MIN_CHUNK_ROWS = 512


def grad_chunk(cell, n_steps, batch):
    """Steps whose gate gradients the backward pass holds at once."""
    if not cell.gates_in_output:
        return n_steps  # the gate buffer itself becomes the gradient
    per_chunk = max(-(-n_steps // GRAD_CHUNKS), -(-MIN_CHUNK_ROWS // batch))
    return min(n_steps, per_chunk)


def scan_backward(cell, params, X, cache, dY=None, dcarryT=None, need_dX=True):
    """Backpropagate through one direction of a recurrent layer.

    The backward pass consumes ``cache``: its gate buffer is overwritten, step by
    step, with the gradient of the gate pre-activations (so BPTT keeps one such
    buffer, not two). Run :func:`scan_forward` again to backpropagate twice.
    Where the gate buffer is the output buffer (``cell.gates_in_output``), the
    gradients go into a buffer of :func:`grad_chunk` steps instead, and the
    weight gradients are summed one such chunk of steps at a time.

    Parameters
    ----------
    cell, params, X
        As given to :func:`scan_forward`.
    cache : dict
        Returned by :func:`scan_forward`.
    dY : ndarray of shape (n_steps, batch, V), default=None
        Gradient of the loss with respect to the per-step outputs (zero on padded
        steps). ``None`` means zero.
    dcarryT : dict of ndarray, default=None
        Gradient with respect to the final state (same keys as the carry).
    need_dX : bool, default=True
        Whether to compute the gradient of the input.

    Returns
    -------
    dX : ndarray of shape (n_steps, batch, n_inputs) or None
    dcarry0 : dict of ndarray
        Gradient with respect to the initial state, so chunks chain.
    grads : list of ndarray
        Gradients of ``[weight_ih, weight_hh, bias_ih, bias_hh]``.
    """
    if not cache["for_backward"]:
        raise ValueError("scan_backward needs scan_forward(..., for_backward=True).")
    w_ih, w_hh, b_ih, b_hh = params
    T, B, F = X.shape
    GH, V = w_hh.shape
    dtype = X.dtype
    rec_mask, valid = cache["rec_mask"], cache["valid"]
    H = GH // cell.n_gates
    # The gate buffer becomes the gate gradient, step by step (see
    # ``skrnn._cell_contract.Cell``).
    chunk = grad_chunk(cell, T, B)
    if cell.gates_in_output:
        dgates = np.empty((chunk, B, GH), dtype)
    else:
        dgates = cache["gates"]
    # Where the hidden-side gradient differs (GRU's candidate), its history goes
    # into a step buffer the cell has done with: BPTT keeps no second buffer.
    split = GH - cell.separate_hh_gates * H
    hh_only = cache[cell.hh_grad_buffer] if split < GH else None

    def start(rows, shard, name, width):
        if dcarryT is not None and dcarryT.get(name) is not None:
            return np.array(dcarryT[name][rows], dtype=dtype, copy=True)
        return np.zeros((rows.stop - rows.start, width), dtype)

    fast = cache["fast"]
    fast_args = None if fast is None else backward_arrays(cache, w_hh, dY)

    # per shard: its rows, its cache views, its padded steps and the gradients
    # flowing into the state before the current step (updated in place, chunk
    # after chunk)
    shards = [
        (
            rows,
            shard,
            _pad_steps(None if valid is None or fast else valid[:, rows]),
            start(rows, shard, "h", V),
            {name: start(rows, shard, name, H) for name in cell.hidden_carries},
        )
        for rows, shard in cache["shards"]
    ]
    grads = None
    dX = np.empty((T, B, F), dtype) if need_dX else None
    for t1 in range(T, 0, -chunk):
        steps = range(max(t1 - chunk, 0), t1)
        if cell.gates_in_output:
            dg = dgates[: len(steps)]
        else:
            dg = dgates[steps.start : t1]

        def run(item, steps=steps, dg=dg):
            rows, shard, pad, dh_rec, dcarry = item
            if fast is not None:
                w, dy, ok, mask = fast_args
                fast.backward_rows(
                    cell, cache, rows, steps, w, dg, dy, dh_rec, dcarry, ok, mask
                )
                return
            _backward_rows(
                cell,
                shard,
                steps,
                w_hh,
                b_hh,
                dg[:, rows],
                None if hh_only is None else hh_only[:, rows],
                None if dY is None else dY[:, rows],
                dh_rec,
                dcarry,
                pad,
                None if rec_mask is None else rec_mask[rows],
            )

        run_shards(run, shards, (B, GH, V))
        h_prev = cache["h"][steps.start : t1]
        if rec_mask is not None:
            h_prev = h_prev * rec_mask
        part = _weight_grads(
            dg,
            None if hh_only is None else hh_only[steps.start : t1],
            h_prev,
            X[steps.start : t1],
        )
        if grads is None:
            grads = part
        else:
            for g, p in zip(grads, part, strict=True):
                g += p
        if need_dX:
            n = len(steps) * B
            with gemm_threads(n, GH, F):
                np.dot(dg.reshape(n, GH), w_ih, out=dX[steps.start : t1].reshape(n, F))
    if len(shards) == 1:
        dh_rec, dcarry = shards[0][3:]
    else:
        dh_rec = np.concatenate([s[3] for s in shards])
        dcarry = {
            name: np.concatenate([s[4][name] for s in shards])
            for name in cell.hidden_carries
        }
    return dX, {"h": dh_rec, **dcarry}, grads


def _weight_grads(dg, hh_only, h_prev, X):
    """Gradients of ``[weight_ih, weight_hh, bias_ih, bias_hh]`` over some steps.

    ``dg`` (steps, B, GH) holds the gate gradients, ``hh_only`` (or None) the last
    columns of the hidden-side gate gradient where it differs, ``h_prev`` (steps,
    B, V) the states the hidden projection read and ``X`` (steps, B, F) the inputs.
    """
    n, GH = dg.shape[0] * dg.shape[1], dg.shape[2]
    dg = dg.reshape(n, GH)
    h_prev = h_prev.reshape(n, -1)
    V = h_prev.shape[1]
    with gemm_threads(GH, n, X.shape[2]):
        grad_ih = dg.T @ X.reshape(n, -1)
    grad_bih = dg.sum(axis=0)
    grad_bhh = grad_bih.copy()
    if hh_only is None:
        with gemm_threads(GH, n, V):
            grad_hh = dg.T @ h_prev
        return [grad_ih, grad_hh, grad_bih, grad_bhh]
    split = GH - hh_only.shape[2]
    hh = hh_only.reshape(n, GH - split)
    grad_hh = np.empty((GH, V), dg.dtype)
    for cols, d in ((slice(0, split), dg[:, :split]), (slice(split, GH), hh)):
        with gemm_threads(d.shape[1], n, V):
            # matmul reads the strided slice in place (np.dot would copy it)
            np.matmul(d.T, h_prev, out=grad_hh[cols])
    grad_bhh[split:] = hh.sum(axis=0)
    return [grad_ih, grad_hh, grad_bih, grad_bhh]


def _backward_rows(
    cell, cache, steps, w_hh, b_hh, dgates, hh_only, dY, dh_rec, dcarry, pad, rec_mask
):
    """The reverse loop over ``steps`` for one shard of rows.

    Updates ``dh_rec`` and ``dcarry`` (the gradients flowing into the state
    before the current step) in place. ``dgates`` holds one row per step of
    ``steps``; ``hh_only`` (or None) receives, step by step, the last columns of
    the hidden-side gate gradient, where it differs from ``dgates``.
    """
    GH = dgates.shape[2]
    dh = np.empty_like(dh_rec)
    dhg = None if hh_only is None else np.empty(dgates.shape[1:], dgates.dtype)
    for t in reversed(steps):
        if dY is None:
            dh[...] = dh_rec
        else:
            np.add(dh_rec, dY[t], out=dh)
        p = None if pad is None else pad[t]
        if p is not None:
            keep_h = dh * p
            keep = {name: dcarry[name] * p for name in dcarry}
            np.copyto(dh, 0, where=p)
            for name in dcarry:
                np.copyto(dcarry[name], 0, where=p)
        d = dgates[t - steps.start]
        direct, new_carry = cell.backward(t, dh, dcarry, cache, d, dhg, b_hh)
        dcarry.update(new_carry)
        if dhg is None:
            np.dot(d, w_hh, out=dh_rec)
        else:
            np.dot(dhg, w_hh, out=dh_rec)
            hh_only[t] = dhg[:, GH - hh_only.shape[2] :]
        if rec_mask is not None:
            dh_rec *= rec_mask
        if direct is not None:
            dh_rec += direct
        if p is not None:
            dh_rec += keep_h
            for name in dcarry:
                dcarry[name] += keep[name]


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
