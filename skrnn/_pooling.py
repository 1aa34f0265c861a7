"""Many-to-one readouts over time: what the head of a sequence classifier reads.

A readout other than ``"last"`` summarises the top layer's outputs ``h``
(T, B, D) over each sequence's valid steps. Chunks of one sequence (streaming,
truncated BPTT) chain through a running carry ``(total, count, top)``: the sum
and number of the steps read so far and their running maximum (-inf before any
valid step). The carry takes no gradient, as the state between windows of
truncated BPTT does not.
"""

import numpy as np

__all__ = ["PARTS", "POOLINGS"]


def _step_weights(h, valid):
    T, B, _ = h.shape
    return np.ones((T, B), h.dtype) if valid is None else valid.astype(h.dtype)


def _mean(h, valid, prior):
    """``(mean, total, count, step weights)`` over the valid steps and ``prior``."""
    w = _step_weights(h, valid)
    total = np.einsum("tbd,tb->bd", h, w)
    count = w.sum(axis=0)
    if prior is not None:
        total += prior[0]
        count = count + prior[1]
    inv = (1.0 / np.maximum(count, 1)).astype(h.dtype)
    return total * inv[:, None], total, count, w * inv


def _max(h, valid, prior):
    """``(readout, top, arg)``: the running maximum ``top`` of every output over
    the valid steps and ``prior``; ``arg`` is the step of this chunk it comes
    from, -1 where an earlier chunk's maximum is larger (or no step is valid
    yet). The readout is ``top``, or 0 before any valid step."""
    masked = h if valid is None else np.where(valid[:, :, None], h, -np.inf)
    arg = masked.argmax(axis=0)
    top = np.take_along_axis(masked, arg[None], axis=0)[0]
    arg = np.where(np.isneginf(top), -1, arg)
    if prior is not None:
        earlier = prior[2] > top
        top = np.where(earlier, prior[2], top)
        arg = np.where(earlier, -1, arg)
    return np.where(np.isneginf(top), 0, top).astype(h.dtype), top, arg


def _add_max_grad(dY, arg, dtop):
    """``dY[arg[b, d], b, d] += dtop[b, d]`` where ``arg >= 0``."""
    kept = arg >= 0
    idx = np.where(kept, arg, 0)[None]
    at = np.take_along_axis(dY, idx, axis=0)[0]
    np.put_along_axis(dY, idx, (at + np.where(kept, dtop, 0))[None], axis=0)


#: The readouts by the estimators' ``pooling`` strings: the summaries the head
#: reads, side by side in this order (fastai's concat pooling is
#: ``"last_max_mean"``).
PARTS = {
    "last": ("last",),
    "mean": ("mean",),
    "max": ("max",),
    "concat": ("last", "mean"),
    "last_max_mean": ("last", "max", "mean"),
}


def _forward(parts):
    def forward(h, last, valid, prior):
        if parts == ("last",):
            return last, None
        out, pool = {"last": last}, {"T": h.shape[0]}
        total = count = top = None
        if "mean" in parts:
            out["mean"], total, count, pool["w"] = _mean(h, valid, prior)
        if "max" in parts:
            out["max"], top, pool["arg"] = _max(h, valid, prior)
        pool["carry"] = (total, count, top)
        Z = np.concatenate([out[p] for p in parts], axis=1)
        return Z, pool

    return forward


def _backward(parts):
    def backward(dZ, cache):
        if parts == ("last",):
            return None, dZ
        pool, D = cache["pool"], dZ.shape[1] // len(parts)
        block = {p: dZ[:, i * D : (i + 1) * D] for i, p in enumerate(parts)}
        if "mean" in parts:
            dY = pool["w"][:, :, None] * block["mean"][None]
        else:
            dY = np.zeros((pool["T"], dZ.shape[0], D), dZ.dtype)
        if "max" in parts:
            _add_max_grad(dY, pool["arg"], block["max"])
        dlast = np.ascontiguousarray(block["last"]) if "last" in parts else None
        return dY, dlast

    return backward


#: Many-to-one readouts over time, keyed by the estimators' ``pooling`` strings:
#: ``(forward, backward, width)``. A forward returns the head's input and what
#: the backward needs (with the running ``carry``), or None; ``width`` is the
#: head's input width in top-layer outputs.
POOLINGS = {
    name: (_forward(parts), _backward(parts), len(parts))
    for name, parts in PARTS.items()
}
