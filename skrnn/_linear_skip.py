"""``linear_skip``: the regressor's fixed ridge part beside the network."""

from numbers import Integral

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.utils._param_validation import Interval

from ._scaling import target_scaling
from ._skip import skip_lags

__all__ = ["SKIP_CONSTRAINTS", "LinearSkipMixin", "ridge_start"]

SKIP_CONSTRAINTS = {"linear_skip": [Interval(Integral, 0, None, closed="left")]}


#: Ridge penalties tried when the skip starts from its ridge solution.
RIDGE_ALPHAS = np.logspace(-3, 3, 13)


def ridge_start(X, lengths, Y, weights, k, per_step):
    """``(skip weight, bias)``: the ridge regression of ``Y`` on the lags.

    The penalty is chosen by generalised cross-validation over
    :data:`RIDGE_ALPHAS` on standardised lags (scikit-learn's ``RidgeCV``).
    ``weights`` are per-row (many-to-one) or per-step (0 on padded steps).
    """
    lags = skip_lags(X, lengths, k, per_step)
    L = lags.reshape(-1, lags.shape[-1]).astype(np.float64)
    T = Y.reshape(len(L), -1).astype(np.float64)
    w = np.asarray(weights, np.float64).reshape(-1)
    keep = w > 0
    L, T, w = L[keep], T[keep], w[keep]
    mean, scale = target_scaling(L, w, np.float64)  # weighted, 1 if constant
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit((L - mean) / scale, T, sample_weight=w)
    coef = np.atleast_2d(ridge.coef_) / scale
    bias = np.atleast_1d(ridge.intercept_) - coef @ mean
    return coef.astype(X.dtype), bias.astype(X.dtype)


class LinearSkipMixin:
    """The start of a regressor with ``linear_skip`` (not for direct use)."""

    def _start_skip(self, data):
        """Start from the linear skip's ridge solution, with a silent network.

        The skip weight and the head's bias take the ridge regression of the
        standardised targets on the lags; the head's weight starts at zero, so
        the first model is that ridge and training adds the network's part.
        """
        arch = self._arch()
        weights = data.sample_weight if data.step_mask is None else data.step_mask
        params = self.state_dict_
        params["skip.weight"], params["head.bias"] = ridge_start(
            data.X,
            data.lengths,
            data.Y,
            weights,
            arch.skip_steps,
            arch.return_sequences,
        )
        params["head.weight"][...] = 0
