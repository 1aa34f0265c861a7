"""The NumPy loops over time of one shard of rows: the scan's steps, cell by cell.

The reference implementation of what the compiled kernels do (``skrnn._fast``):
``forward_rows`` and ``backward_rows`` run one shard's loop over time, hand the
cell the arrays of one step (previous carries, gate row, outputs, saved values,
scratch) and keep every buffer to themselves (see ``skrnn._cell_contract``).
"""

import numpy as np

__all__ = ["backward_rows", "forward_rows", "gate_chunks"]


def gate_chunks(cache, project, GH):
    """``(t0, t1, gates)`` per chunk of steps: the rows of the gate buffer, or
    (``project`` given as ``(X, w_ih_t, bias, chunk_bytes)``) a few steps
    projected at a time into one buffer of about ``chunk_bytes``."""
    T, B = cache["h"].shape[0] - 1, cache["h"].shape[1]
    if project is None:
        yield 0, T, cache["gates"]
        return
    X, w_ih_t, bias, chunk_bytes = project
    dtype = cache["h"].dtype
    chunk = max(1, min(T, chunk_bytes // (B * GH * dtype.itemsize)))
    buffer = np.empty((chunk, B, GH), dtype)
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        # a true GEMM (B >= 2 whenever threads are raised; an inner dimension
        # of 1 has no sum to split), so exact under gemm_threads
        gates = buffer[: t1 - t0]
        x = X[t0:t1].reshape((t1 - t0) * B, X.shape[2])
        np.dot(x, w_ih_t, out=gates.reshape((t1 - t0) * B, GH))
        gates += bias
        yield t0, t1, gates


def forward_rows(cell, cache, project, w_hh_t, b_hidden, pad, rec_mask):
    """The loop over time for one shard of rows (``cache`` holds its views).

    ``project`` is None when ``cache["gates"]`` holds every step's input
    projection, else ``(X, w_ih_t, bias, chunk_bytes)`` to project a chunk of
    steps at a time.
    ``b_hidden`` (or None) is the bias of the cell's ``hidden_gates`` blocks.
    """
    B, GH = cache["h"].shape[1], w_hh_t.shape[1]
    dtype = cache["h"].dtype
    carries = ("h", *cell.hidden_carries)
    scratch = cache["scratch"]
    hg = np.empty((B, GH), dtype)
    hg_hidden = None if b_hidden is None else hg[:, GH - b_hidden.shape[0] :]
    h_in = np.empty((B, w_hh_t.shape[0]), dtype) if rec_mask is not None else None
    # the step's arrays, in dicts reused step after step (this step's outputs
    # are the next one's previous carries)
    prev = {name: cache[name][0] for name in carries}
    out, saved = {}, {}
    carry_rows = [(name, cache[name]) for name in carries]
    saved_rows = [(name, cache[name]) for name in cell.saved]
    forward = cell.forward
    for t0, t1, gates in gate_chunks(cache, project, GH):
        for t in range(t0, t1):
            for name, rows in carry_rows:
                out[name] = rows[t + 1]
            for name, rows in saved_rows:
                saved[name] = rows[t]
            h_prev = prev["h"]
            if rec_mask is not None:
                h_prev = np.multiply(h_prev, rec_mask, out=h_in)
            np.dot(h_prev, w_hh_t, out=hg)
            if hg_hidden is not None:
                np.add(hg_hidden, b_hidden, out=hg_hidden)
            forward(gates[t - t0], hg, prev, out, saved, scratch)
            if pad is not None and pad[t] is not None:
                for name in carries:
                    np.copyto(out[name], prev[name], where=pad[t])
            prev, out = out, prev


def backward_rows(
    cell, cache, steps, w_hh, dgates, hh_only, dY, dh_rec, dcarry, pad, rec_mask
):
    """The reverse loop over ``steps`` for one shard of rows.

    Updates ``dh_rec`` and ``dcarry`` (the gradients flowing into the state
    before the current step) in place. ``dgates`` holds one row per step of
    ``steps``; ``hh_only`` (or None) receives, step by step, the last columns of
    the hidden-side gate gradient, where it differs from ``dgates``.
    """
    hidden = cell.hidden_carries
    gates = None if cell.gates_in_output else cache["gates"]
    dh = np.empty_like(dh_rec)
    dhg = None if hh_only is None else np.empty(dgates.shape[1:], dgates.dtype)
    split = None if hh_only is None else dgates.shape[2] - hh_only.shape[2]
    dhg_hidden = None if hh_only is None else dhg[:, split:]
    # the step's arrays, in dicts reused step after step (this step's previous
    # carries are the outputs of the one before it, next in the loop)
    dout = {"h": dh, **dcarry}
    carry_rows = [(name, cache[name]) for name in ("h", *hidden)]
    saved_rows = [(name, cache[name]) for name in cell.saved]
    out = {name: rows[steps.stop] for name, rows in carry_rows}
    prev, saved = {}, {}
    backward, scratch = cell.backward, cache["scratch"]
    for t in reversed(steps):
        if dY is None:
            dh[...] = dh_rec
        else:
            np.add(dh_rec, dY[t], out=dh)
        p = None if pad is None else pad[t]
        if p is not None:
            keep = {name: dout[name] * p for name in dout}
            for name in dout:
                np.copyto(dout[name], 0, where=p)
        for name, rows in carry_rows:
            prev[name] = rows[t]
        for name, rows in saved_rows:
            saved[name] = rows[t]
        d = dgates[t - steps.start]
        g = None if gates is None else gates[t]
        grads = backward(dout, g, prev, out, saved, d, dhg_hidden, scratch)
        for name in hidden:
            if grads[name] is not dcarry[name]:
                np.copyto(dcarry[name], grads[name])
        if dhg is None:
            np.dot(d, w_hh, out=dh_rec)
        else:
            dhg[:, :split] = d[:, :split]
            np.dot(dhg, w_hh, out=dh_rec)
            hh_only[t] = dhg_hidden
        if rec_mask is not None:
            dh_rec *= rec_mask
        direct = grads.get("h")
        if direct is not None:
            dh_rec += direct
        if p is not None:
            dh_rec += keep["h"]
            for name in hidden:
                dcarry[name] += keep[name]
        prev, out = out, prev
