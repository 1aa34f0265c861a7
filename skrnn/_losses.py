"""Output activations and losses, keyed by the strings the estimators use."""

import numpy as np
from scipy.special import log_softmax

from ._cells import sigmoid_

__all__ = ["LOSSES", "OUTPUT_ACTIVATIONS"]


def _identity(raw):
    return raw


def _softmax(raw):
    return np.exp(log_softmax(raw, axis=-1))


def _logistic(raw):
    return sigmoid_(raw.copy())


#: Map raw network outputs to predictions.
OUTPUT_ACTIVATIONS = {
    "squared_error": _identity,
    "log_loss": _softmax,
    "binary_log_loss": _logistic,
}


def squared_error(raw, Y, w):
    """Half mean squared error, weighted over rows; mean over outputs (as sklearn)."""
    diff = np.subtract(raw, Y, dtype=raw.dtype)
    per_row = np.einsum("ij,ij->i", diff, diff) / raw.shape[1]
    loss = 0.5 * float(np.dot(w, per_row))
    diff *= (w / raw.shape[1])[:, None]
    return loss, diff


def log_loss(raw, Y, w):
    """Softmax cross-entropy; ``Y`` one-hot (or soft) of shape (n_rows, n_classes)."""
    logp = log_softmax(raw, axis=1)
    loss = -float(np.dot(w, np.einsum("ij,ij->i", Y, logp)))
    draw = np.exp(logp)
    draw -= Y
    draw *= w[:, None]
    return loss, draw


def binary_log_loss(raw, Y, w):
    """Sigmoid cross-entropy summed over outputs (binary and multilabel)."""
    # log(1 + exp(x)) - y x, stable for large |x|
    per = np.logaddexp(0, raw) - Y * raw
    loss = float(np.dot(w, per.sum(axis=1)))
    draw = sigmoid_(raw.copy())
    draw -= Y
    draw *= w[:, None]
    return loss, draw


#: ``loss(raw, Y, w) -> (loss, d loss / d raw)`` on 2-D ``(n_rows, n_outputs)``
#: arrays with nonnegative row weights ``w``; the loss is ``sum_i w_i loss_i``, so
#: weights that sum to one give the weighted mean over rows.
LOSSES = {
    "squared_error": squared_error,
    "log_loss": log_loss,
    "binary_log_loss": binary_log_loss,
}
