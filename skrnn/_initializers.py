"""Weight initialisers shared by the sequence layers and the network head."""

import math

import numpy as np

__all__ = ["glorot_uniform"]


def glorot_uniform(rng, shape, dtype):
    """Glorot-uniform weights of shape ``(fan_out, fan_in, *kernel)``.

    Parameters
    ----------
    rng : numpy.random.RandomState
        Source of the one draw, ``rng.uniform(-limit, limit, shape)``.
    shape : tuple of int
        ``(out, in)`` for a dense layer (PyTorch's ``Linear`` layout), ``(out,
        in, kernel_size)`` for a convolution (PyTorch's ``Conv1d`` layout).
    dtype : numpy dtype

    Returns
    -------
    weights : ndarray of shape ``shape``
        Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / (fan_in +
        fan_out))``, where both fans count the kernel size
        (``fan_in = in * kernel_size``, ``fan_out = out * kernel_size``).

    Examples
    --------
    >>> import numpy as np
    >>> w = glorot_uniform(np.random.RandomState(0), (3, 5), np.float32)
    >>> w.shape, w.dtype, bool(np.abs(w).max() <= np.sqrt(6 / 8))
    ((3, 5), dtype('float32'), True)
    """
    receptive = math.prod(shape[2:])
    limit = np.sqrt(6.0 / ((shape[0] + shape[1]) * receptive))
    return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)
