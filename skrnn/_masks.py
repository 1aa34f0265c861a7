"""Valid-step masks of right-padded batches, batch-major and time-major."""

import numpy as np

__all__ = ["length_mask", "valid_mask"]


def length_mask(lengths, max_len):
    """Boolean mask of the valid (non-padding) steps.

    Parameters
    ----------
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.
    max_len : int
        Padded length.

    Returns
    -------
    mask : ndarray of shape (n_samples, max_len), dtype bool
        ``mask[i, t]`` is True iff ``t < lengths[i]``.

    Examples
    --------
    >>> import numpy as np
    >>> length_mask(np.array([2, 1]), 3)
    array([[ True,  True, False],
           [ True, False, False]])
    """
    return np.arange(max_len) < np.asarray(lengths)[:, None]


def valid_mask(lengths, n_steps):
    """Time-major mask of the valid steps, or None if no step is padded.

    Parameters
    ----------
    lengths : ndarray of int of shape (batch,)
        Valid steps per sequence, at most ``n_steps``.
    n_steps : int
        Padded length.

    Returns
    -------
    mask : ndarray of bool of shape (n_steps, batch) or None
        ``mask[t, i]`` is True iff ``t < lengths[i]``; None when every sequence
        fills all ``n_steps`` (the recurrent scan then skips its padding work).

    Examples
    --------
    >>> import numpy as np
    >>> valid_mask(np.array([1, 2]), 2)
    array([[ True,  True],
           [False,  True]])
    >>> valid_mask(np.array([2, 2]), 2) is None
    True
    """
    if lengths.min() >= n_steps:
        return None
    return np.arange(n_steps)[:, None] < lengths[None, :]
