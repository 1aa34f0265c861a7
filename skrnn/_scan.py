"""The one loop over time: one direction of a recurrent layer, forward and BPTT."""

from dataclasses import dataclass
from functools import partial

import numpy as np

from ._cell_contract import fold_bias
from ._fast import backward_arrays, forward_shards, kernels_for
from ._parallel import batch_shards, gemm_threads, run_shards
from ._scan_numpy import backward_rows, forward_rows

__all__ = ["grad_chunk", "scan_backward", "scan_forward"]


def _pad_steps(valid):
    """Per step, the boolean column of padded samples (or None if none is padded)."""
    if valid is None:
        return None
    pad = ~valid
    return [pad[t][:, None] if pad[t].any() else None for t in range(pad.shape[0])]


def _cols(a, rows):
    """``a[:, rows]`` (the rows of a time-major array), or None for None."""
    return None if a is None else a[:, rows]


#: Without a backward pass to come, the scan projects the inputs of a few steps
#: at a time into a gate buffer of about this many bytes per shard, which stays in
#: cache, instead of writing (and page-faulting in) the whole sequence's gates.
PROJECT_CHUNK_BYTES = 2**20


def _alloc_cache(cell, T, B, H, V, dtype, for_backward):
    """The carry buffers ``(T + 1, B, .)`` and the cell's saved step buffers."""
    cache = {"h": np.empty((T + 1, B, V), dtype)}
    for name in cell.hidden_carries:
        cache[name] = np.empty((T + 1, B, H), dtype)
    for name in cell.saved:
        if for_backward:
            cache[name] = np.empty((T, B, H), dtype)
        else:  # every step writes (and reads back) the same row
            row = np.empty((B, H), dtype)
            cache[name] = np.lib.stride_tricks.as_strided(
                row, (T, B, H), (0, *row.strides)
            )
    return cache


def _project_inputs(cell, cache, X, w_ih, bias, for_backward, fast):
    """Write every step's input projection into ``cache["gates"]``.

    Returns None then, or ``(w_ih^T, bias)`` when the loop is to project a few
    steps at a time instead (a prediction, whose gates need not outlive a step).
    For the NumPy backward pass, the gate buffer has one spare row:
    ``cache["grad_rows"]`` (the buffer shifted by one step) is where the
    gradient of step ``t`` goes, over the gates of step ``t + 1``, which the
    reverse loop has consumed by then; so the cell reads its gates and writes
    their gradient in distinct rows, and BPTT keeps no second gate buffer.
    """
    if not (cell.gates_in_output or for_backward):
        return w_ih.T, bias
    T, B, F = X.shape
    GH = w_ih.shape[0]
    if cell.gates_in_output:
        gates = cache["h"][1:]
    elif fast is None:
        rows = np.empty((T + 1, B, GH), X.dtype)
        gates, cache["grad_rows"] = rows[:T], rows[1:]
    else:  # the kernels turn each row into its gradient in place
        gates = np.empty((T, B, GH), X.dtype)
    with gemm_threads(T * B, F, GH, X.dtype):
        np.dot(X.reshape(T * B, F), w_ih.T, out=gates.reshape(T * B, GH))
    gates += bias
    cache["gates"] = gates
    return None


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
    T, B, _ = X.shape
    GH, V = w_hh.shape
    H = GH // cell.n_gates
    cache = _alloc_cache(cell, T, B, H, V, X.dtype, for_backward)
    bias, b_hidden = fold_bias(cell, b_ih, b_hh, H)
    w_ih, w_hh_fwd, bias = cell.forward_weights(w_ih, w_hh, bias, H)
    fast = kernels_for(cell, X.dtype)
    project = _project_inputs(cell, cache, X, w_ih, bias, for_backward, fast)
    _initial_carries(cell, cache, carry0)
    names = tuple(cache)
    # h @ W^T is ~25% faster with W^T laid out contiguously than as a view.
    w_hh_t = np.ascontiguousarray(w_hh_fwd.T)
    cache.update(fast=fast, valid=valid, rec_mask=rec_mask, for_backward=for_backward)
    if fast is None:
        cache["shards"] = _numpy_shards(
            cell, cache, names, X, project, w_hh_t, b_hidden
        )
        return cache
    if project is not None:
        project = (X, *project, PROJECT_CHUNK_BYTES)
    cache["shards"] = forward_shards(
        fast, cell, cache, project, w_hh_t, b_hh, valid, rec_mask
    )
    return cache


def _initial_carries(cell, cache, carry0):
    """Write the initial state (zeros where ``carry0`` gives none) at step 0."""
    for name in ("h", *cell.hidden_carries):
        if carry0 is None or carry0.get(name) is None:
            cache[name][0] = 0
        else:
            cache[name][0] = carry0[name]


def _numpy_shards(cell, cache, names, X, project, w_hh_t, b_hidden):
    """Run the NumPy loop over time of each shard of the batch.

    Returns ``(rows, shard cache)`` per shard: the views ``names`` of ``cache``
    on those rows, and the cell's scratch arrays under ``"scratch"``.
    """
    B, GH, V = X.shape[1], w_hh_t.shape[1], w_hh_t.shape[0]
    valid, rec_mask = cache["valid"], cache["rec_mask"]

    def run(rows):
        shard = {name: cache[name][:, rows] for name in names}
        shard["scratch"] = cell.alloc(shard["h"].shape[1], GH // cell.n_gates, X.dtype)
        forward_rows(
            cell,
            shard,
            None if project is None else (X[:, rows], *project, PROJECT_CHUNK_BYTES),
            w_hh_t,
            b_hidden,
            _pad_steps(_cols(valid, rows)),
            None if rec_mask is None else rec_mask[rows],
        )
        return shard

    rows = batch_shards(B, GH, V)
    return list(zip(rows, run_shards(run, rows, (B, V, GH, X.dtype)), strict=True))


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


@dataclass
class _ReverseShard:
    """One shard of the batch in the backward pass.

    ``dh`` and ``dcarry`` are the gradients flowing into the state before the
    current step, updated in place chunk after chunk; ``cache`` (the shard's
    views of the forward cache) and ``pad`` are None on the compiled path.
    """

    rows: slice
    cache: object
    pad: object
    dh: np.ndarray
    dcarry: dict


def _reverse_shards(cell, cache, dcarryT, V, H, dtype):
    """A :class:`_ReverseShard` per forward shard, from the final-state gradient."""

    def start(rows, name, width):
        if dcarryT is not None and dcarryT.get(name) is not None:
            return np.array(dcarryT[name][rows], dtype=dtype, copy=True)
        return np.zeros((rows.stop - rows.start, width), dtype)

    fast = cache["fast"]
    return [
        _ReverseShard(
            rows,
            shard,
            None if fast else _pad_steps(_cols(cache["valid"], rows)),
            start(rows, "h", V),
            {name: start(rows, name, H) for name in cell.hidden_carries},
        )
        for rows, shard in cache["shards"]
    ]


def _reverse_step(cell, cache, w_hh, hh_only, dY):
    """``run(shard, steps, dg)``: one shard's reverse loop over ``steps``.

    ``dg`` holds the whole batch's gate-gradient rows of those steps.
    """
    fast = cache["fast"]
    if fast is not None:
        w, dy, ok, mask = backward_arrays(cache, w_hh, dY)

        def run(s, steps, dg):
            fast.backward_rows(
                cell, cache, s.rows, steps, w, dg, dy, s.dh, s.dcarry, ok, mask
            )

        return run
    rec_mask = cache["rec_mask"]

    def run(s, steps, dg):
        backward_rows(
            cell,
            s.cache,
            steps,
            w_hh,
            dg[:, s.rows],
            _cols(hh_only, s.rows),
            _cols(dY, s.rows),
            s.dh,
            s.dcarry,
            s.pad,
            None if rec_mask is None else rec_mask[s.rows],
        )

    return run


def scan_backward(cell, params, X, cache, dY=None, dcarryT=None, need_dX=True):
    """Backpropagate through one direction of a recurrent layer.

    The backward pass consumes ``cache``: its gate buffer is overwritten with
    the gradient of the gate pre-activations (BPTT keeps one such buffer, not
    two; see :func:`_gradient_rows`). Run :func:`scan_forward` again to
    backpropagate twice. The weight gradients are summed one chunk of
    :func:`grad_chunk` steps at a time.

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
    w_ih, w_hh = params[:2]
    T, B, F = X.shape
    GH, V = w_hh.shape
    H = GH // cell.n_gates
    chunk = grad_chunk(cell, T, B)
    dgates = _gradient_rows(cell, cache, chunk)
    hh_only = _hidden_gradient_rows(cell, cache, H)
    run = _reverse_step(cell, cache, w_hh, hh_only, dY)
    shards = _reverse_shards(cell, cache, dcarryT, V, H, X.dtype)
    grads = None
    dX = np.empty((T, B, F), X.dtype) if need_dX else None
    for t1 in range(T, 0, -chunk):
        steps = range(max(t1 - chunk, 0), t1)
        dg = dgates[: len(steps)] if cell.gates_in_output else dgates[steps.start : t1]
        run_shards(partial(run, steps=steps, dg=dg), shards, (B, GH, V, X.dtype))
        part = _weight_grads(dg, hh_only, cache, X, steps)
        if grads is None:
            grads = part
        else:
            for g, p in zip(grads, part, strict=True):
                g += p
        if need_dX:
            n = len(steps) * B
            with gemm_threads(n, GH, F, X.dtype):
                np.dot(dg.reshape(n, GH), w_ih, out=dX[steps.start : t1].reshape(n, F))
    return dX, _initial_state_grads(cell, shards), grads


def _gradient_rows(cell, cache, chunk):
    """Where the reverse loop writes the gate gradients (no second gate buffer).

    The NumPy loop writes step ``t``'s over the consumed gates of step ``t + 1``
    (``cache["grad_rows"]``), the kernels over step ``t``'s own; where the gate
    buffer is the output buffer (``gates_in_output``), the outputs are still
    needed, so a buffer of ``chunk`` steps holds them.
    """
    if cell.gates_in_output:
        _, B, GH = cache["gates"].shape
        return np.empty((chunk, B, GH), cache["h"].dtype)
    if cache["fast"] is None:
        return cache["grad_rows"]
    return cache["gates"]


def _hidden_gradient_rows(cell, cache, H):
    """``(T, B, hidden_gates * H)`` for the hidden-side gradient of the cell's
    ``hidden_gates`` columns (where it differs from the gate gradient), or None.

    One gate block's worth goes into the cell's first saved buffer, whose step
    ``t`` the cell has read for the last time once its backward step returns.
    """
    if not cell.hidden_gates:
        return None
    if cell.hidden_gates == 1 and cell.saved:
        return cache[cell.saved[0]]
    T, B, _ = cache["gates"].shape
    return np.empty((T, B, cell.hidden_gates * H), cache["h"].dtype)


def _initial_state_grads(cell, shards):
    """The gradient of the initial carry, the shards' rows joined."""
    if len(shards) == 1:
        return {"h": shards[0].dh, **shards[0].dcarry}
    dcarry = {
        name: np.concatenate([s.dcarry[name] for s in shards])
        for name in cell.hidden_carries
    }
    return {"h": np.concatenate([s.dh for s in shards]), **dcarry}


def _weight_grads(dg, hh_only, cache, X, steps):
    """Gradients of ``[weight_ih, weight_hh, bias_ih, bias_hh]`` over ``steps``.

    ``dg`` (len(steps), B, GH) holds the gate gradients of those steps and
    ``hh_only`` (T, B, .) (or None) the last columns of the hidden-side gate
    gradient where it differs; ``cache`` gives the states the hidden projection
    read (through the recurrent dropout mask) and ``X`` (T, B, F) the inputs.
    """
    h_prev = cache["h"][steps.start : steps.stop]
    if cache["rec_mask"] is not None:
        h_prev = h_prev * cache["rec_mask"]
    if hh_only is not None:
        hh_only = hh_only[steps.start : steps.stop]
    X = X[steps.start : steps.stop]
    n, GH = dg.shape[0] * dg.shape[1], dg.shape[2]
    dg = dg.reshape(n, GH)
    h_prev = h_prev.reshape(n, -1)
    V = h_prev.shape[1]
    with gemm_threads(GH, n, X.shape[2], dg.dtype):
        grad_ih = dg.T @ X.reshape(n, -1)
    grad_bih = dg.sum(axis=0)
    grad_bhh = grad_bih.copy()
    if hh_only is None:
        with gemm_threads(GH, n, V, dg.dtype):
            grad_hh = dg.T @ h_prev
        return [grad_ih, grad_hh, grad_bih, grad_bhh]
    split = GH - hh_only.shape[2]
    hh = hh_only.reshape(n, GH - split)
    grad_hh = np.empty((GH, V), dg.dtype)
    for cols, d in ((slice(0, split), dg[:, :split]), (slice(split, GH), hh)):
        with gemm_threads(d.shape[1], n, V, dg.dtype):
            # matmul reads the strided slice in place (np.dot would copy it)
            np.matmul(d.T, h_prev, out=grad_hh[cols])
    grad_bhh[split:] = hh.sum(axis=0)
    return [grad_ih, grad_hh, grad_bih, grad_bhh]
