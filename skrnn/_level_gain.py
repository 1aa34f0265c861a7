"""``level_gain``: how much of a window's level its targets carry on.

``local_level`` reads a window from its level ``m`` and predicts the target
from ``gain * m``: the network learns ``y - gain * m``. A gain of 1 is pure
reversible instance normalisation, right for a random walk, where the next
value starts from the current level. Other series carry their level on by more
(a growing trend: Airline) or less (a stationary series that returns to its
mean: quarterly growth rates) than that. ``"auto"`` estimates the gain before
training as ``1 + c``, where ``c`` is the level's coefficient in the ridge
regression of ``y - m`` on the last input steps minus their level and on the
level itself (penalty :data:`GAIN_ALPHA`): the autoregression on the raw lags,
written in the network's units, so the local level loses nothing a linear
autoregression knows.
"""

from numbers import Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._level import sequence_levels, subtract_level
from ._linear_skip import auto_skip_steps
from ._ridge import weighted_ridge
from ._skip import skip_lags

__all__ = ["GAIN_CONSTRAINTS", "LevelGainMixin", "fit_level_gain"]

GAIN_CONSTRAINTS = {
    "level_gain": [StrOptions({"auto"}), Interval(Real, None, None, closed="neither")]
}


#: The gain's ridge penalty, on standardised columns: fixed (not chosen by
#: generalised cross-validation) so that integer sample weights give the gain
#: of repeated windows, as scikit-learn's estimator checks ask; mild next to
#: the sums of squares of the 30 or more windows a forecaster learns from.
GAIN_ALPHA = 1.0


def fit_level_gain(X3, lengths, Y, weights, how, features):
    """The gain of each target column, by ridge regression (the module's docs).

    Parameters
    ----------
    X3 : ndarray of shape (n_samples, n_timesteps, n_features)
        Right-padded input windows (not yet leveled).
    lengths : ndarray of int of shape (n_samples,)
    Y : ndarray of shape (n_samples, n_targets)
        The targets.
    weights : ndarray of shape (n_samples,)
    how : {"mean", "last"}
        The ``local_level``.
    features : tuple of int
        The input feature each target column continues (``level_features_``).

    Returns
    -------
    gain : tuple of float, one per target column
    """
    levels = sequence_levels(X3, lengths, how)
    k = min(X3.shape[1], auto_skip_steps(X3.shape[2]))
    lags = skip_lags(subtract_level(X3, lengths, levels), lengths, k, False)
    carried = sorted(set(features))
    columns = np.hstack([lags, levels[:, carried]])
    residual = Y - levels[:, list(features)]
    what = "level gain's ridge regression"
    coef, _ = weighted_ridge(
        columns, residual, weights, what, "set level_gain=1.0", alpha=GAIN_ALPHA
    )
    at = {f: lags.shape[1] + i for i, f in enumerate(carried)}
    return tuple(1.0 + float(coef[j, at[f]]) for j, f in enumerate(features))


class LevelGainMixin:
    """``level_gain`` for an estimator with ``local_level`` (the regressor)."""

    def _fix_levels(self, n_targets, n_features):
        """Also set ``level_gain_`` before (or without) a fit from data: the
        set value, or 1 for ``"auto"``; None without a local level."""
        super()._fix_levels(n_targets, n_features)
        gain = 1.0 if self.level_gain == "auto" else float(self.level_gain)
        self.level_gain_ = None if self.local_level_ is None else (gain,) * n_targets

    def _leveled_targets(self, Y, X3, lengths, sw, reset):
        """``Y`` minus each window's level times the gain (fitted on ``reset``)."""
        levels = self._target_levels(X3, lengths, Y.shape[-1], reset)
        if levels is None:
            return Y
        if reset and self.level_gain == "auto":
            self.level_gain_ = fit_level_gain(
                X3, lengths, Y, sw, self.local_level_, self.level_features_
            )
        return Y - self._gained(levels)
