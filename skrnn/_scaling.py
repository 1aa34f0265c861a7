"""SequenceScaler: per-feature scaling with statistics over valid time steps only."""

import numbers

import numpy as np
from sklearn.base import (
    BaseEstimator,
    OneToOneFeatureMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._set_output import _wrap_data_with_container
from sklearn.utils.validation import check_is_fitted

from ._data import length_mask, restore_kind, validate_sequence_data

__all__ = [
    "SequenceScaler",
    "checked_target_scaling",
    "standardize_targets",
    "target_scaling",
]


def target_scaling(values, weights, dtype):
    """Weighted mean and standard deviation of regression targets.

    Parameters
    ----------
    values : ndarray of shape (n_rows, n_outputs)
        The targets of every sample (or every valid step).
    weights : ndarray of shape (n_rows,)
        Their weights, so that integer weights equal repeated rows.
    dtype : numpy dtype
        The dtype of the returned scale.

    Returns
    -------
    mean : ndarray of shape (n_outputs,)
    scale : ndarray of shape (n_outputs,)
        The standard deviation, 1 where the target is constant.
    """
    mean = np.average(values, axis=0, weights=weights)
    scale = np.sqrt(np.average((values - mean) ** 2, axis=0, weights=weights))
    return mean, np.where(scale > 0, scale, 1.0).astype(dtype)


def checked_target_scaling(values, weights, dtype):
    """:func:`target_scaling` of an estimator's ``y``, refused if it overflows.

    Targets near the float64 limit give an infinite mean or standard deviation,
    after which every prediction would be NaN: raise instead, before training.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # checked here
        mean, scale = target_scaling(values, weights, dtype)
    if not (np.isfinite(mean).all() and np.isfinite(scale).all()):
        raise ValueError(
            "y is too large: its mean or standard deviation overflows float64. "
            "Scale the targets first (for example divide them by a power of ten, "
            "or use sklearn.compose.TransformedTargetRegressor)."
        )
    return mean, scale


def standardize_targets(Y, mean, scale, dtype):
    """``(Y - mean) / scale`` in ``dtype``: the units the network's head learns."""
    return (Y - mean.astype(dtype)) / scale.astype(dtype)


def _valid_steps(X3, lengths):
    """Rows of all valid time steps, shape (n_valid_steps, n_features)."""
    if (lengths == X3.shape[1]).all():
        return X3.reshape(-1, X3.shape[2])
    return X3[length_mask(lengths, X3.shape[1])]


def _check_table_output(estimator, kind):
    """Refuse DataFrame output asked of this step for input that is not a table.

    ``set_output`` on the step (or on its pipeline) asks for DataFrames, which
    cannot hold 3-D or ragged sequences: refused. The global
    ``sklearn.set_config(transform_output=...)`` is a default for every
    transformer: sequences then keep their layout, and tables become DataFrames.
    """
    own = getattr(estimator, "_sklearn_output_config", {}).get("transform")
    if kind != "table" and own not in (None, "default"):
        raise ValueError(
            f"{type(estimator).__name__}.set_output(transform={own!r}) only applies "
            f"to 2-D tables, but this input is a {kind!r} batch of sequences, "
            "which a DataFrame cannot hold; call set_output(transform='default') "
            "on this step (or its pipeline) to transform sequences."
        )


class _SequenceOutput:
    """``transform`` and ``fit_transform`` that wrap only 2-D tables in DataFrames.

    scikit-learn wraps the output of the ``transform`` a class defines itself in
    the configured container, which fails for 3-D sequences. Defined here, on a
    base outside scikit-learn's output mixin, these are left unwrapped, and wrap
    table output themselves (``set_output`` stays available).
    """

    def transform(self, X):
        """Scale X with the fitted statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or \
                (n_samples, n_timesteps, n_features), or list of sequences
            Sequences with as many features per step as in `fit`.

        Returns
        -------
        X_scaled : ndarray, DataFrame or list of ndarray
            Same layout, shapes and float dtype as `X` (a list in gives a list
            out); never shares memory with `X`. A 2-D table comes out in the
            container chosen with ``set_output`` or ``sklearn.set_config``;
            sequences keep their layout under the global setting.
        """
        out, kind = self._apply(X, inverse=False)
        if kind != "table":
            return out
        return _wrap_data_with_container("transform", out, X, self)

    def fit_transform(self, X, y=None, **fit_params):
        """Fit to X, then transform it (see :meth:`transform`).

        Parameters
        ----------
        X : array-like or list of sequences
        y : None
            Ignored.
        **fit_params : dict
            Passed to ``fit``.

        Returns
        -------
        X_scaled : ndarray, DataFrame or list of ndarray
        """
        return self.fit(X, y, **fit_params).transform(X)


class SequenceScaler(
    _SequenceOutput, OneToOneFeatureMixin, TransformerMixin, BaseEstimator
):
    """Scale each per-step feature with statistics over valid time steps only.

    Statistics are pooled over every valid step of every training sequence, so
    the padding of variable-length sequences never shifts them. A 2-D table is a
    batch of univariate series: all its columns are time steps of one feature,
    so it gets one mean and one scale.

    Parameters
    ----------
    method : {"standard", "minmax"}, default="standard"
        "standard" subtracts the mean and divides by the standard deviation;
        "minmax" maps the training range onto `feature_range`.
    feature_range : tuple of (float, float), default=(0, 1)
        Target range for ``method="minmax"``; needs ``min < max``.
    with_mean : bool, default=True
        Center the data (``method="standard"`` only).
    with_std : bool, default=True
        Divide by the standard deviation (``method="standard"`` only).

    Attributes
    ----------
    mean_ : ndarray of shape (n_step_features,)
        Mean of each feature over the valid steps (``n_step_features`` is 1 for a
        table, else the number of features per time step).
    var_ : ndarray of shape (n_step_features,)
        Variance over the valid steps (``method="standard"`` only).
    data_min_ : ndarray of shape (n_step_features,)
        Minimum over the valid steps (``method="minmax"`` only).
    data_max_ : ndarray of shape (n_step_features,)
        Maximum over the valid steps (``method="minmax"`` only).
    center_ : ndarray of shape (n_step_features,)
        Value subtracted by `transform`.
    scale_ : ndarray of shape (n_step_features,)
        Divisor used by `transform`, so ``transform(X) = (X - center_) / scale_``.
        Constant features get 1 (standard) or their range is taken as 1
        (minmax), so nothing is divided by zero.
    n_features_in_ : int
        Number of columns for a table, features per time step otherwise.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when fitted on a DataFrame table.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for tabular data.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.preprocessing import SequenceScaler
    >>> X = [np.array([[1.0], [3.0]]), np.array([[5.0]])]
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_
    array([3.])
    >>> [s.ravel().round(3).tolist() for s in scaler.transform(X)]
    [[-1.225, 0.0], [1.225]]
    """

    _parameter_constraints: dict = {
        "method": [StrOptions({"standard", "minmax"})],
        "feature_range": [tuple],
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
    }

    def __init__(
        self, method="standard", feature_range=(0, 1), with_mean=True, with_std=True
    ):
        self.method = method
        self.feature_range = feature_range
        self.with_mean = with_mean
        self.with_std = with_std

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the per-feature statistics over the valid steps of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or \
                (n_samples, n_timesteps, n_features), or list of sequences
            Training sequences (see :func:`skrnn._data.to_padded`).
        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
            Fitted scaler.
        """
        if self.method == "minmax":
            low, high = self._feature_range()
        X3, lengths, _ = validate_sequence_data(self, X, reset=True)
        values = _valid_steps(X3, lengths)
        self.mean_ = values.mean(axis=0, dtype=np.float64)
        data_min = values.min(axis=0).astype(np.float64)
        data_max = values.max(axis=0).astype(np.float64)
        constant = data_max == data_min
        if self.method == "standard":
            self.var_ = values.var(axis=0, dtype=np.float64)
            std = np.where(constant, 1.0, np.sqrt(self.var_))
            self.scale_ = std if self.with_std else np.ones_like(std)
            self.center_ = self.mean_ if self.with_mean else np.zeros_like(std)
        else:
            self.data_min_, self.data_max_ = data_min, data_max
            data_range = np.where(constant, 1.0, data_max - data_min)
            self.scale_ = data_range / (high - low)
            self.center_ = data_min - low * self.scale_
        return self

    def _feature_range(self):
        bounds = self.feature_range
        if not (
            len(bounds) == 2
            and all(isinstance(b, numbers.Real) for b in bounds)
            and bounds[0] < bounds[1]
        ):
            raise ValueError(
                "feature_range must be a pair of numbers (min, max) with min < max; "
                f"got {bounds!r}. Pass e.g. feature_range=(0, 1)."
            )
        return float(bounds[0]), float(bounds[1])

    def _apply(self, X, inverse):
        check_is_fitted(self)
        X3, lengths, kind = validate_sequence_data(self, X, reset=False)
        _check_table_output(self, kind)
        center = self.center_.astype(X3.dtype)
        scale = self.scale_.astype(X3.dtype)
        if inverse:
            X3 *= scale
            X3 += center
        else:
            X3 -= center
            X3 /= scale
        return restore_kind(X3, lengths, kind), kind

    def inverse_transform(self, X):
        """Undo `transform`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or \
                (n_samples, n_timesteps, n_features), or list of sequences
            Scaled sequences.

        Returns
        -------
        X_original : ndarray or list of ndarray
            Same layout as `X`, in the original units.
        """
        return self._apply(X, inverse=True)[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
