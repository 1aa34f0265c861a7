"""The linear skip: the head also reads the last input steps, untouched.

Beside the recurrent (or convolutional) stack, the output gets a linear map of
the last ``k`` input steps of each sequence: ``raw += lags(X) @ W_skip.T``,
where ``lags`` stacks the steps oldest first (zeros before the start of a
sequence). For a many-to-one network the lags end at each sequence's last valid
step; for per-step outputs they end at every step (a causal linear filter).
This is LSTNet's "highway" (Lai et al. 2018). Here the linear part is the
ridge regression of the targets on the lags, solved once before training
(``skrnn._linear_skip``) and then held fixed, so the network learns only what a
linear autoregression leaves: the linear part carries the scale and trend that
saturating units do not extrapolate.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["FIXED", "skip_backward_dX", "skip_lags"]

#: Parameters set in closed form before training and not trained after
#: (their gradient is dropped and they carry no penalty): the skip starts at
#: its ridge solution and stays there, the network learns the residual.
FIXED = ("skip.weight",)


def _last_steps(lengths, k):
    """``(index, inside)`` of the last ``k`` steps of each sequence, oldest first."""
    idx = lengths[:, None] - k + np.arange(k)
    return np.maximum(idx, 0), idx >= 0


def skip_lags(X, lengths, k, per_step):
    """The inputs the skip reads.

    Parameters
    ----------
    X : ndarray of shape (batch, n_steps, n_inputs)
        Right-padded network input.
    lengths : ndarray of int of shape (batch,)
    k : int
        Steps read, at least 1.
    per_step : bool
        Lags ending at every step, else at each sequence's last valid step.

    Returns
    -------
    lags : ndarray of shape (batch, k * n_inputs) or (batch, n_steps, k * n_inputs)
    """
    B, T, F = X.shape
    if per_step:
        padded = np.concatenate([np.zeros((B, k - 1, F), X.dtype), X], axis=1)
        windows = sliding_window_view(padded, k, axis=1)  # (B, T, F, k)
        return np.ascontiguousarray(windows.transpose(0, 1, 3, 2)).reshape(B, T, -1)
    idx, inside = _last_steps(lengths, k)
    lags = X[np.arange(B)[:, None], idx] * inside[:, :, None].astype(X.dtype)
    return lags.reshape(B, k * F)


def skip_backward_dX(dlags, lengths, shape, per_step):
    """Gradient of the lags with respect to the input ``X`` of ``shape``."""
    B, T, F = shape
    dX = np.zeros(shape, dlags.dtype)
    if per_step:
        k = dlags.shape[2] // F
        d = dlags.reshape(B, T, k, F)
        for j in range(k):  # lag j of step t is step t - (k - 1 - j)
            shift = k - 1 - j
            dX[:, : T - shift] += d[:, shift:, j]
        return dX
    k = dlags.shape[1] // F
    idx, inside = _last_steps(lengths, k)
    d = dlags.reshape(B, k, F) * inside[:, :, None].astype(dlags.dtype)
    np.add.at(dX, (np.arange(B)[:, None], idx), d)
    return dX
