"""``linear_skip``: the regressor's fixed ridge part beside the network."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._epoch_cv import folds_planned
from ._ridge import weighted_ridge
from ._skip import skip_lags

__all__ = ["SKIP_CONSTRAINTS", "LinearSkipMixin", "ridge_start"]

SKIP_CONSTRAINTS = {
    "linear_skip": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")]
}

#: ``linear_skip="auto"`` reads the last steps of at most this many input values
#: (steps times features): the whole window of a univariate series up to 256
#: steps, fewer steps of a wide input, so the ridge stays cheap.
AUTO_SKIP_INPUTS = 256


def requested_skip(estimator, n_features, n_samples=None):
    """The input steps ``linear_skip`` asks for, before capping and patches.

    ``"auto"`` is 0 where a skip cannot apply (truncated BPTT) or where no
    folds will test it against the network alone (``early_stopping``'s; for a
    fit of ``n_samples`` sequences), else as many of the last steps as
    :data:`AUTO_SKIP_INPUTS` input values allow.
    """
    k = getattr(estimator, "linear_skip", 0)
    if k != "auto":
        return int(k)
    if estimator.bptt_steps is not None:
        return 0
    if n_samples is not None and not folds_planned(estimator, n_samples):
        return 0
    return auto_skip_steps(n_features)


def auto_skip_steps(n_features):
    """The last steps ``linear_skip="auto"`` reads: :data:`AUTO_SKIP_INPUTS`
    input values of ``n_features`` each (at least one step)."""
    return max(1, AUTO_SKIP_INPUTS // max(1, n_features))


def ridge_start(X, lengths, Y, weights, k, per_step):
    """``(skip weight, bias)``: the ridge regression of ``Y`` on the lags.

    The penalty is chosen by generalised cross-validation on standardised
    lags (:func:`skrnn._ridge.weighted_ridge`). ``weights`` are per-row
    (many-to-one) or per-step (0 on padded steps).
    """
    lags = skip_lags(X, lengths, k, per_step)
    L = lags.reshape(-1, lags.shape[-1])
    T = Y.reshape(len(L), -1)
    w = np.reshape(weights, -1)
    what = "linear skip's ridge regression"
    coef, bias = weighted_ridge(L, T, w, what, "set linear_skip=0")
    return coef.astype(X.dtype), bias.astype(X.dtype)


class LinearSkipMixin:
    """The start of a regressor with ``linear_skip`` (not for direct use)."""

    def _start_skip(self, data, params=None):
        """Start from the linear skip's ridge solution, with a silent network.

        The skip weight and the head's bias take the ridge regression of the
        standardised targets on the lags; the head's weight starts at zero, so
        the first model is that ridge and training adds the network's part.
        ``params`` defaults to the estimator's ``state_dict_``.
        """
        arch = self._arch()
        weights = data.sample_weight if data.step_mask is None else data.step_mask
        params = self.state_dict_ if params is None else params
        params["skip.weight"], params["head.bias"] = ridge_start(
            data.X,
            data.lengths,
            data.Y,
            weights,
            arch.skip_steps,
            arch.return_sequences,
        )
        params["head.weight"][...] = 0
