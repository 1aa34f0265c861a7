"""Gradient clipping and the global gradient norm, as in PyTorch."""

import math

import numpy as np

__all__ = ["clip_grad_norm", "clip_grad_value", "global_norm"]

# These functions run on every batch and trust their inputs: lists of float32 /
# float64 ndarrays and thresholds in range (the estimators check ``clip_norm``
# and ``clip_value`` once, at fit).

# Elements per float64 chunk when a non-float64 gradient is squared and summed:
# small enough to stay in cache, large enough that Python overhead is negligible.
_NORM_CHUNK = 8192


def global_norm(grads):
    """L2 norm of all gradients taken together, accumulated in float64.

    Squares are summed per array with ``np.dot`` (float32 arrays are cast to
    float64 in small chunks, so large float32 values do not overflow), never by
    concatenating the arrays.

    Parameters
    ----------
    grads : list of ndarray
        Float arrays of any shape (trusted, not checked).

    Returns
    -------
    norm : float
        ``sqrt(sum(sum(g ** 2) for g in grads))``; ``0.0`` for an empty list,
        ``inf`` or ``nan`` if a gradient is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> global_norm([np.array([3.0, 0.0]), np.array([[4.0]])])
    5.0
    """
    with np.errstate(over="ignore", invalid="ignore"):  # inf / nan is the answer
        return math.sqrt(_sum_of_squares(grads))


def _sum_of_squares(grads):
    """Sum of squared entries, accumulated in float64 (float32 in chunks)."""
    total, buf = 0.0, None
    for g in grads:
        flat = g.ravel()
        if flat.dtype == np.float64:
            total += float(np.dot(flat, flat))
            continue
        if buf is None:
            buf = np.empty(min(_NORM_CHUNK, flat.size), dtype=np.float64)
        for start in range(0, flat.size, _NORM_CHUNK):
            piece = flat[start : start + _NORM_CHUNK]
            if piece.size > buf.size:
                buf = np.empty(piece.size, dtype=np.float64)
            chunk = buf[: piece.size]
            chunk[...] = piece
            total += float(np.dot(chunk, chunk))
    return total


def clip_grad_norm(grads, max_norm):
    """Rescale gradients in place so their global L2 norm is at most ``max_norm``.

    Same rule as PyTorch's ``torch.nn.utils.clip_grad_norm_``: every gradient is
    multiplied by ``max_norm / (total_norm + 1e-6)`` when that coefficient is
    below 1, and left untouched otherwise.

    Parameters
    ----------
    grads : list of ndarray
        Writeable floating-point gradients, modified in place (dtype is kept).
    max_norm : float
        Largest allowed global norm, > 0 (the estimators check ``clip_norm``).

    Returns
    -------
    total_norm : float
        Global norm before clipping. If it is not finite the gradients are left
        unchanged, so the caller can detect divergence.

    Examples
    --------
    >>> import numpy as np
    >>> grads = [np.array([3.0, 4.0])]
    >>> clip_grad_norm(grads, max_norm=1.0)
    5.0
    >>> np.round(grads[0], 6)
    array([0.6, 0.8])
    """
    total_norm = global_norm(grads)
    if not math.isfinite(total_norm):
        return total_norm
    coef = max_norm / (total_norm + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return total_norm


def clip_grad_value(grads, clip_value):
    """Clamp every gradient entry in place to ``[-clip_value, clip_value]``.

    Same rule as PyTorch's ``torch.nn.utils.clip_grad_value_``.

    Parameters
    ----------
    grads : list of ndarray
        Writeable floating-point gradients, modified in place (dtype is kept).
    clip_value : float
        Largest allowed absolute value, > 0 (the estimators check ``clip_value``).

    Examples
    --------
    >>> import numpy as np
    >>> grads = [np.array([-3.0, 0.5, 2.0])]
    >>> clip_grad_value(grads, 1.0)
    >>> grads[0]
    array([-1. ,  0.5,  1. ])
    """
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
