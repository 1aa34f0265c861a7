"""Many-to-one readouts over time: what the head of a sequence classifier reads."""

import numpy as np

__all__ = ["POOLINGS"]


def _pool_last(h, last, valid, prior):
    return last, None


def _pool_last_back(dZ, cache):
    return None, dZ


def _pool_mean(h, last, valid, prior):
    """Mean of the outputs over the valid steps (and the steps of ``prior``).

    ``prior`` is the ``(sum, count)`` carried from earlier chunks of the same
    sequences (streaming, truncated BPTT) or None; it takes no gradient.
    """
    T, B, _ = h.shape
    w = np.ones((T, B), h.dtype) if valid is None else valid.astype(h.dtype)
    total = np.einsum("tbd,tb->bd", h, w)
    count = w.sum(axis=0)
    if prior is not None:
        total += prior[0]
        count = count + prior[1]
    inv = (1.0 / np.maximum(count, 1)).astype(h.dtype)
    return total * inv[:, None], (total, count, w * inv)


def _pool_mean_back(dZ, cache):
    return cache["pool"][2][:, :, None] * dZ[None], None


def _pool_concat(h, last, valid, prior):
    mean, carry = _pool_mean(h, last, valid, prior)
    return np.concatenate([last, mean], axis=1), carry


def _pool_concat_back(dZ, cache):
    D = dZ.shape[1] // 2
    dY, _ = _pool_mean_back(dZ[:, D:], cache)
    return dY, np.ascontiguousarray(dZ[:, :D])


#: Many-to-one readouts over time, keyed by the estimators' ``pooling`` strings:
#: ``(forward, backward)``. A forward returns the head's input and what the
#: backward needs (the running ``(sum, count, step weights)``, or None).
POOLINGS = {
    "last": (_pool_last, _pool_last_back),
    "mean": (_pool_mean, _pool_mean_back),
    "concat": (_pool_concat, _pool_concat_back),
}
