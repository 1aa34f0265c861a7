"""Local level: every sequence read, and its targets predicted, from its own level.

With ``local_level="mean"`` (or ``"last"``) the network sees each input sequence
minus its per-feature mean over the valid steps (or its last valid step), and
learns the targets minus the level of the input feature each target continues;
predictions add that level back. This is the reversible instance normalisation
of Kim et al. (2022, ICLR) without the rescaling: a forecaster trained on the
levels of the past then follows a series whose level leaves the training range
(a trend, a shift), which a network reading absolute levels cannot.
"""

import numbers

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = [
    "LEVELS",
    "LEVEL_CONSTRAINTS",
    "LocalLevelMixin",
    "check_level_features",
    "sequence_levels",
    "subtract_level",
]

#: The values of ``local_level`` (None switches it off).
LEVELS = ("last", "mean")
#: The estimators' parameter constraints for ``local_level`` and ``level_features``.
LEVEL_CONSTRAINTS = {
    "local_level": [None, StrOptions(set(LEVELS))],
    "level_features": [
        None,
        Interval(numbers.Integral, 0, None, closed="left"),
        "array-like",
    ],
}


def sequence_levels(X3, lengths, how):
    """The level of each sequence, per feature.

    Parameters
    ----------
    X3 : ndarray of shape (n_samples, n_timesteps, n_features)
        Right-padded batch.
    lengths : ndarray of int of shape (n_samples,)
        Valid steps of each sequence (at least 1).
    how : {"last", "mean"}
        The last valid step, or the mean over the valid steps.

    Returns
    -------
    levels : ndarray of shape (n_samples, n_features), dtype of ``X3``
    """
    if how == "last":
        return X3[np.arange(len(X3)), lengths - 1]
    valid = np.arange(X3.shape[1])[None, :] < lengths[:, None]
    total = np.einsum("nt,ntf->nf", valid.astype(X3.dtype), X3)
    return (total / lengths[:, None]).astype(X3.dtype, copy=False)


def subtract_level(X3, lengths, levels):
    """A new batch: ``X3`` minus each sequence's level on its valid steps.

    Padded steps keep their value, so the result pads as ``X3`` does.
    """
    valid = np.arange(X3.shape[1])[None, :, None] < lengths[:, None, None]
    return np.where(valid, X3 - levels[:, None, :], X3)


def check_level_features(level_features, n_targets, n_features):
    """The input feature each target column is measured from, checked.

    Parameters
    ----------
    level_features : None, int or sequence of int
        The estimator's parameter. None: targets in the forecasting layout of
        :func:`skrnn.preprocessing.make_windows` (column ``j`` continues input
        feature ``j % n_features``). An int: every target continues that
        feature. A sequence: one feature per target column.
    n_targets : int
        Target columns (outputs per sequence, or features per output step).
    n_features : int
        Input features per step.

    Returns
    -------
    features : ndarray of int of shape (n_targets,)
    """
    if level_features is None:
        if n_targets % n_features:
            raise ValueError(
                f"local_level measures each target from the level of the input "
                f"feature it continues, but {n_targets} target column(s) do not "
                f"follow the {n_features} input features in make_windows' layout "
                "(steps x features). Pass level_features: the index of the input "
                "feature the targets continue (an int), or one index per target "
                "column (for make_windows(..., target=k), level_features=k)."
            )
        return np.arange(n_targets) % n_features
    if isinstance(level_features, numbers.Integral) and not isinstance(
        level_features, bool
    ):
        level_features = [int(level_features)] * n_targets
    try:
        features = np.asarray(level_features)
    except (TypeError, ValueError):
        features = np.asarray([None])
    if (
        features.ndim != 1
        or features.dtype.kind not in "iu"
        or len(features) != n_targets
        or features.min(initial=0) < 0
        or features.max(initial=0) >= n_features
    ):
        raise ValueError(
            f"level_features must be an int or {n_targets} ints (one per target "
            f"column), each an input feature index in [0, {n_features}); got "
            f"{level_features!r}."
        )
    return features.astype(np.intp)


class LocalLevelMixin:
    """The ``local_level`` machinery of the estimators that have it.

    Fitted attributes: ``local_level_`` (the setting training used) and
    ``level_features_`` (the input feature each target column is measured
    from; None without a local level). Estimators without the parameter
    (the classifier) never subtract anything.
    """

    def _check_local_level(self):
        how = getattr(self, "local_level", None)
        if how is None and getattr(self, "level_features", None) is not None:
            raise ValueError(
                "level_features is only read with local_level='last' or 'mean'; "
                "set local_level, or leave level_features=None."
            )
        if how is None and getattr(self, "level_gain", "auto") != "auto":
            raise ValueError(
                "level_gain is only read with local_level='last' or 'mean'; set "
                "local_level, or leave level_gain='auto'."
            )
        if how is not None and getattr(self, "return_sequences", False):
            raise ValueError(
                f"local_level={how!r} measures a sequence from its own level, "
                "which for per-step outputs would let every step see the level of "
                "steps still to come. Use it with many-to-one windows "
                "(return_sequences=False), or set local_level=None."
            )

    def _fix_levels(self, n_targets, n_features):
        """Set ``local_level_`` and ``level_features_`` from the parameters."""
        how = getattr(self, "local_level", None)
        features = None
        if how is not None:
            found = check_level_features(self.level_features, n_targets, n_features)
            features = tuple(found.tolist())
        self.local_level_, self.level_features_ = how, features

    def _gained(self, levels):
        """``levels`` in the target columns times ``level_gain_`` (if any)."""
        gain = getattr(self, "level_gain_", None)
        if gain is None:
            return levels
        return levels * np.asarray(gain, dtype=levels.dtype)

    def _target_levels(self, X3, lengths, n_targets, reset):
        """Each sequence's level in the target columns, ``(n_samples, n_targets)``
        (before any ``level_gain``).

        None without a local level. On ``reset`` this fixes ``local_level_``
        and ``level_features_`` for the model being fitted.
        """
        if reset:
            self._fix_levels(n_targets, X3.shape[2])
        how = getattr(self, "local_level_", None)
        if how is None:
            return None
        return sequence_levels(X3, lengths, how)[:, list(self.level_features_)]

    def _leveled_input(self, X3, lengths):
        """``(X3 minus its levels, what predictions add back or None)``: the
        levels in the target columns, times ``level_gain_`` where there is one."""
        how = getattr(self, "local_level_", None)
        if how is None:
            return X3, None
        levels = sequence_levels(X3, lengths, how)
        return (
            subtract_level(X3, lengths, levels),
            self._gained(levels[:, list(self.level_features_)]),
        )
