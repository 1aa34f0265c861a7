"""Every weight in one vector and back (for L-BFGS)."""

import math

import numpy as np

__all__ = ["pack", "unpack", "unpack_into"]


def pack(arrays, out=None):
    """Concatenate the ravelled arrays into one 1-D vector (for L-BFGS).

    Parameters
    ----------
    arrays : list of ndarray
        At least one array, any shapes.
    out : ndarray of shape (n_total,), optional
        Vector to write into, where ``n_total = sum(a.size for a in arrays)``;
        values are cast to its dtype.

    Returns
    -------
    vector : ndarray of shape (n_total,)
        ``out`` if given, else a new array with the dtype of ``arrays[0]``.

    Examples
    --------
    >>> import numpy as np
    >>> pack([np.array([[1.0, 2.0]]), np.array([3.0])])
    array([1., 2., 3.])
    """
    if out is None:
        out = np.empty(sum(a.size for a in arrays), dtype=arrays[0].dtype)
    start = 0
    for a in arrays:
        out[start : start + a.size].reshape(a.shape)[...] = a
        start += a.size
    return out


def _pieces(like):
    """``(offset, shape)`` of each template's values in the packed vector."""
    starts = np.cumsum([0] + [a.size for a in like[:-1]]).tolist()
    return [(s, a.shape) for s, a in zip(starts, like, strict=True)]


def unpack(vector, like):
    """Split a packed vector into arrays shaped like the templates.

    Parameters
    ----------
    vector : ndarray of shape (n_total,)
        Output of :func:`pack`, ``n_total = sum(a.size for a in like)``.
    like : list of ndarray
        Templates; only their shapes are used.

    Returns
    -------
    arrays : list of ndarray
        One array per template, with its shape and the dtype of ``vector``.
        They are views into ``vector`` (when it is contiguous), so writing to
        them writes to ``vector``; copy them to keep them independent.

    Examples
    --------
    >>> import numpy as np
    >>> unpack(np.arange(5.0), [np.zeros((2, 2)), np.zeros(1)])
    [array([[0., 1.],
           [2., 3.]]), array([4.])]
    """
    vector = np.asarray(vector)
    return [
        vector[s : s + math.prod(shape)].reshape(shape) for s, shape in _pieces(like)
    ]


def unpack_into(vector, arrays):
    """Write the values of a packed vector into existing arrays, in place.

    Parameters
    ----------
    vector : ndarray of shape (n_total,)
        Output of :func:`pack`, ``n_total = sum(a.size for a in arrays)``; its
        values are cast to each array's dtype (e.g. float64 from SciPy into
        float32 weights).
    arrays : list of ndarray
        Writeable arrays that receive the values, keeping shape and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> w, b = np.zeros((1, 2), dtype=np.float32), np.zeros(1, dtype=np.float32)
    >>> unpack_into(np.array([1.0, 2.0, 3.0]), [w, b])
    >>> w, b
    (array([[1., 2.]], dtype=float32), array([3.], dtype=float32))
    """
    for a, (s, shape) in zip(arrays, _pieces(arrays), strict=True):
        np.copyto(a, vector[s : s + a.size].reshape(shape), casting="same_kind")
