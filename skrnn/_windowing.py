"""Sliding windows: forecasting pairs from long series, and windowed features."""

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from ._data import restore_kind, validate_sequence_data
from ._readers import NAN_FIX, as_array, as_numeric, float_dtype, nan_or_inf

__all__ = ["SlidingWindowTransformer", "make_windows"]


def _read_series(series):
    """Return the series as a list of 2-D (n_timesteps, n_features) arrays."""
    if isinstance(series, (list, tuple)) and not all(
        isinstance(s, numbers.Number) for s in series
    ):
        many = list(series)
    elif (
        isinstance(series, np.ndarray)
        and series.dtype == object
        and any(np.ndim(s) > 0 for s in series)
    ):
        many = list(series)
    else:
        many = [series]
    arrays, ndims = [], []
    for i, s in enumerate(many):
        what = "series" if len(many) == 1 else f"series {i}"
        a = as_array(s)
        ndims.append(a.ndim)
        if a.ndim not in (1, 2):
            raise ValueError(
                f"{what} has shape {a.shape}; a series must be (n_timesteps,) or "
                "(n_timesteps, n_features). Pass several series as a list."
            )
        if a.ndim != ndims[0]:
            raise ValueError(
                f"{what} is {a.ndim}-D but series 0 is {ndims[0]}-D; make all "
                "series 1-D or all 2-D (n_timesteps, n_features)."
            )
        if a.shape[0] == 0:
            raise ValueError(f"{what} is empty (0 time steps); pass a longer series.")
        a = as_numeric(a, what).reshape(a.shape[0], -1)
        if arrays and a.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"{what} has {a.shape[1]} features but series 0 has "
                f"{arrays[0].shape[1]}; all series need the same features."
            )
        if a.shape[1] == 0:
            raise ValueError(f"{what} has 0 features; pass at least one feature.")
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(f"{what} contains {nan_or_inf(a)}; {NAN_FIX}.")
        arrays.append(a)
    return arrays


def _target_index(target, n_features):
    """Normalise `target` to (indices, squeeze) with indices in [0, n_features)."""
    if target is None:
        return np.arange(n_features), n_features == 1
    squeeze = isinstance(target, numbers.Integral)
    idx = np.atleast_1d(np.asarray(target))
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"target must be None, an int or a non-empty list of ints; got {target!r}."
        )
    if ((idx < -n_features) | (idx >= n_features)).any():
        raise ValueError(
            f"target {target!r} is out of range for series with {n_features} "
            f"features; use indices in [0, {n_features})."
        )
    return idx % n_features, squeeze


@validate_params(
    {
        "series": ["array-like"],
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "horizon": [Interval(numbers.Integral, 1, None, closed="left")],
        "stride": [Interval(numbers.Integral, 1, None, closed="left")],
        "target": [None, numbers.Integral, "array-like"],
    },
    prefer_skip_nested_validation=True,
)
def make_windows(series, window, horizon=1, *, stride=1, target=None):
    """Cut long series into (window, next values) forecasting pairs.

    Window ``k`` of a series ``s`` starts at ``t = k * stride``: its input is
    ``s[t : t + window]`` and its target ``s[t + window : t + window + horizon]``.
    Windows come out in chronological order, series after series, so a
    :class:`~sklearn.model_selection.TimeSeriesSplit` on the result never trains
    on the future of one series.

    Parameters
    ----------
    series : array-like of shape (n_timesteps,) or (n_timesteps, n_features), \
            or list of such
        One series (a 1-D array or list of numbers is univariate, a 2-D array is
        one multivariate series) or a list of series with the same features.
    window : int
        Time steps per input window (>= 1).
    horizon : int, default=1
        Future steps to predict after each window (>= 1).
    stride : int, default=1
        Steps between the starts of consecutive windows.
    target : int or list of int, default=None
        Feature index (or indices) to predict; None predicts every feature. An
        int gives univariate targets; a list keeps a target axis.

    Returns
    -------
    X : ndarray of shape (n_windows, window, n_features)
        Input windows; float32 stays float32, everything else becomes float64.
    y : ndarray of shape (n_windows,), (n_windows, horizon), \
            (n_windows, n_targets) or (n_windows, horizon, n_targets)
        Targets: the horizon axis is dropped when ``horizon == 1`` and the target
        axis when the target is univariate (int `target`, or None with one
        feature). A many-to-one :class:`~skrnn.RNNRegressor` takes 1-D or 2-D
        targets: flatten a 3-D ``y`` with ``y.reshape(len(y), -1)`` (steps in
        time order, the layout :meth:`~skrnn.RNNRegressor.forecast` reads).

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.preprocessing import make_windows
    >>> X, y = make_windows(np.arange(6.0), window=3)
    >>> X[:, :, 0]
    array([[0., 1., 2.],
           [1., 2., 3.],
           [2., 3., 4.]])
    >>> y
    array([3., 4., 5.])
    """
    arrays = _read_series(series)
    n_features = arrays[0].shape[1]
    idx, squeeze = _target_index(target, n_features)
    for i, a in enumerate(arrays):
        if a.shape[0] < window + horizon:
            what = "series" if len(arrays) == 1 else f"series {i}"
            raise ValueError(
                f"{what} has {a.shape[0]} time steps, too short for window={window} "
                f"plus horizon={horizon} (needs at least {window + horizon}); use a "
                "smaller window or horizon, or drop the short series."
            )
    dtype = float_dtype([a.dtype for a in arrays])
    Xs, ys = [], []
    for a in arrays:
        a = a.astype(dtype, copy=False)
        starts = np.arange(0, a.shape[0] - window - horizon + 1, stride)
        windows = sliding_window_view(a, window, axis=0)[starts]
        Xs.append(windows.transpose(0, 2, 1))
        ahead = starts[:, None] + window + np.arange(horizon)
        ys.append(a[ahead][:, :, idx])
    X = np.ascontiguousarray(np.concatenate(Xs))
    y = np.concatenate(ys)
    if squeeze:
        y = y[:, :, 0]
    if horizon == 1:
        y = y[:, 0]
    return X, np.ascontiguousarray(y)


class SlidingWindowTransformer(TransformerMixin, BaseEstimator):
    """Turn each sequence into the sequence of its sliding windows.

    Output step ``j`` of a sequence ``s`` is the window
    ``s[j * stride : j * stride + window]`` flattened time-major (``t0f0, t0f1,
    ..., t1f0, ...``), so every step carries ``window * n_features`` features and
    a sequence of length ``L`` becomes ``(L - window) // stride + 1`` steps. Use
    it in a pipeline to feed a recurrent model frames instead of single steps.

    Parameters
    ----------
    window : int
        Time steps per window (>= 1); every sequence needs at least that many.
    stride : int, default=1
        Steps between the starts of consecutive windows.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns for a table, features per time step otherwise.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when fitted on a DataFrame table.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.preprocessing import SlidingWindowTransformer
    >>> X = np.arange(5.0).reshape(1, 5)  # one univariate series
    >>> SlidingWindowTransformer(window=2, stride=2).fit_transform(X)
    array([[[0., 1.],
            [2., 3.]]])
    """

    _parameter_constraints: dict = {
        "window": [Interval(numbers.Integral, 1, None, closed="left")],
        "stride": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(self, window, stride=1):
        self.window = window
        self.stride = stride

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check that every sequence of X is at least `window` steps long.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or \
                (n_samples, n_timesteps, n_features), or list of sequences
            Training sequences.
        y : None
            Ignored.

        Returns
        -------
        self : SlidingWindowTransformer
            Fitted transformer.
        """
        _, lengths, _ = validate_sequence_data(self, X, reset=True)
        self._check_long_enough(lengths)
        return self

    def _check_long_enough(self, lengths):
        short = np.flatnonzero(lengths < self.window)
        if short.size:
            i = short[0]
            raise ValueError(
                f"sequence {i} of X has {lengths[i]} time steps, fewer than "
                f"window={self.window}; use a smaller window or drop short sequences."
            )

    def transform(self, X):
        """Replace every step by the window that starts there.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or \
                (n_samples, n_timesteps, n_features), or list of sequences
            Sequences with as many features per step as in `fit`.

        Returns
        -------
        X_windows : ndarray of shape (n_samples, n_windows, window * n_features) \
                or list of ndarray of shape (n_windows_i, window * n_features)
            A list for list input, a 3-D array otherwise (a table's rows become
            sequences of `window`-wide steps, so tables give 3-D output too).
        """
        check_is_fitted(self)
        X3, lengths, kind = validate_sequence_data(self, X, reset=False)
        self._check_long_enough(lengths)
        n_samples, _, n_features = X3.shape
        windows = sliding_window_view(X3, self.window, axis=1)[:, :: self.stride]
        n_windows = windows.shape[1]
        out = np.empty((n_samples, n_windows, self.window, n_features), X3.dtype)
        np.copyto(out, windows.transpose(0, 1, 3, 2))
        out = out.reshape(n_samples, n_windows, self.window * n_features)
        out_lengths = (lengths - self.window) // self.stride + 1
        return restore_kind(out, out_lengths, "list" if "list" in kind else "array")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
