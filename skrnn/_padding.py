"""Fixed-width sequences: pad/truncate (Keras-style arguments), wide-table reshaping."""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from ._data import restore_kind, to_padded, validate_sequence_data

__all__ = ["PadTruncate", "WideToSequence", "pad_sequences"]


def _pad_truncate(X3, lengths, maxlen, padding, truncating, value):
    """Gather a (n_samples, maxlen, n_features) batch; see `pad_sequences`."""
    kept = np.minimum(lengths, maxlen)
    src_start = lengths - kept if truncating == "pre" else np.zeros_like(kept)
    dst_start = maxlen - kept if padding == "pre" else np.zeros_like(kept)
    rel = np.arange(maxlen) - dst_start[:, None]  # position inside the kept part
    valid = (rel >= 0) & (rel < kept[:, None])
    src = np.clip(rel + src_start[:, None], 0, X3.shape[1] - 1)
    out = np.take_along_axis(X3, src[:, :, None], axis=1)
    out[~valid] = value
    return out


_PAD_PARAMS = {
    "maxlen": [None, Interval(numbers.Integral, 1, None, closed="left")],
    "padding": [StrOptions({"pre", "post"})],
    "truncating": [StrOptions({"pre", "post"})],
    "value": [numbers.Real],
}


@validate_params(
    {"sequences": ["array-like"], **_PAD_PARAMS, "dtype": "no_validation"},
    prefer_skip_nested_validation=True,
)
def pad_sequences(
    sequences, maxlen=None, *, padding="post", truncating="post", value=0.0, dtype=None
):
    """Pad and truncate sequences to one length (Keras' arguments, 3-D output).

    The arguments are those of Keras' ``pad_sequences``, but ``padding`` and
    ``truncating`` default to ``"post"`` where Keras defaults to ``"pre"``:
    pass ``padding="pre", truncating="pre"`` for Keras' output. (skrnn's
    estimators take ragged lists directly and skip the padding themselves.)

    Parameters
    ----------
    sequences : list of array-like of shape (n_timesteps_i,) or \
            (n_timesteps_i, n_features), or array-like
        Sequences to align; anything :func:`skrnn._data.to_padded` accepts.
    maxlen : int, default=None
        Output length; None uses the longest sequence.
    padding : {"pre", "post"}, default="post"
        Add `value` before ("pre") or after ("post") shorter sequences.
    truncating : {"pre", "post"}, default="post"
        Drop steps from the start ("pre") or the end ("post") of longer ones.
    value : float, default=0.0
        Fill value for padded steps.
    dtype : dtype, default=None
        Output dtype; by default float32 stays float32, the rest becomes float64.

    Returns
    -------
    X : ndarray of shape (n_samples, maxlen, n_features)
        Univariate (1-D) sequences get ``n_features == 1``.

    Examples
    --------
    >>> from skrnn.preprocessing import pad_sequences
    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2, padding="pre")[:, :, 0]
    array([[1., 2.],
           [0., 4.]])
    """
    X3, lengths, _ = to_padded(sequences, name="sequences", dtype=dtype)
    maxlen = int(lengths.max()) if maxlen is None else maxlen
    return _pad_truncate(X3, lengths, maxlen, padding, truncating, value)


class PadTruncate(TransformerMixin, BaseEstimator):
    """Pad and truncate every sequence to one fixed length.

    Works like :func:`pad_sequences` but learns the length in `fit` (when
    `maxlen` is None) so `transform` always gives the training width, and keeps
    the input layout: a list in gives a list of equal-length sequences out, a
    3-D array gives a 3-D array, a 2-D table gives a 2-D table. As for every
    scikit-learn transformer, a 2-D table must keep its number of columns after
    `fit`; pass a list to transform sequences of any length.

    Parameters
    ----------
    maxlen : int, default=None
        Output length; None learns the longest training sequence.
    padding : {"pre", "post"}, default="post"
        Add `value` before ("pre") or after ("post") shorter sequences.
    truncating : {"pre", "post"}, default="post"
        Drop steps from the start ("pre") or the end ("post") of longer ones.
    value : float, default=0.0
        Fill value for padded steps.

    Attributes
    ----------
    maxlen_ : int
        Output length used by `transform`.
    n_features_in_ : int
        Number of columns for a table, features per time step otherwise.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when fitted on a DataFrame table.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.preprocessing import PadTruncate
    >>> X = [np.array([1.0, 2.0, 3.0]), np.array([4.0])]
    >>> PadTruncate(maxlen=2, truncating="pre").fit_transform(X)
    [array([2., 3.]), array([4., 0.])]
    """

    _parameter_constraints: dict = dict(_PAD_PARAMS)

    def __init__(self, maxlen=None, padding="post", truncating="post", value=0.0):
        self.maxlen = maxlen
        self.padding = padding
        self.truncating = truncating
        self.value = value

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the output length.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or \
                (n_samples, n_timesteps, n_features), or list of sequences
            Training sequences.
        y : None
            Ignored.

        Returns
        -------
        self : PadTruncate
            Fitted transformer.
        """
        _, lengths, _ = validate_sequence_data(self, X, reset=True)
        self.maxlen_ = int(lengths.max()) if self.maxlen is None else self.maxlen
        return self

    def transform(self, X):
        """Pad and truncate X to `maxlen_` steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps) or \
                (n_samples, n_timesteps, n_features), or list of sequences
            Sequences with as many features per step as in `fit`.

        Returns
        -------
        X_fixed : ndarray or list of ndarray
            Same layout as `X`, every sequence exactly `maxlen_` steps long.
        """
        check_is_fitted(self)
        X3, lengths, kind = validate_sequence_data(self, X, reset=False)
        out = _pad_truncate(
            X3, lengths, self.maxlen_, self.padding, self.truncating, self.value
        )
        return restore_kind(out, np.full_like(lengths, self.maxlen_), kind)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class WideToSequence(TransformerMixin, BaseEstimator):
    """Reshape a wide table (one column per time step and feature) to 3-D.

    Parameters
    ----------
    n_timesteps : int, default=None
        Time steps per row. Give exactly one of `n_timesteps` and `n_features`;
        the other is inferred from the number of columns.
    n_features : int, default=None
        Features per time step.
    order : {"time", "feature"}, default="time"
        Column order of the wide table: "time" groups columns by time step
        (``t0f0, t0f1, ..., t1f0, ...``), "feature" groups them by feature
        (``f0t0, f0t1, ..., f1t0, ...``).

    Attributes
    ----------
    n_timesteps_ : int
        Time steps per sequence.
    n_features_ : int
        Features per time step.
    n_features_in_ : int
        Number of columns of the wide table.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when fitted on a DataFrame.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn.preprocessing import WideToSequence
    >>> wide = np.array([[0.0, 10.0, 1.0, 11.0]])  # t0f0, t0f1, t1f0, t1f1
    >>> WideToSequence(n_features=2).fit_transform(wide)
    array([[[ 0., 10.],
            [ 1., 11.]]])
    """

    _parameter_constraints: dict = {
        "n_timesteps": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "n_features": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "order": [StrOptions({"time", "feature"})],
    }

    def __init__(self, n_timesteps=None, n_features=None, order="time"):
        self.n_timesteps = n_timesteps
        self.n_features = n_features
        self.order = order

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Infer the missing dimension from the number of columns of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps * n_features)
            Wide table (array or DataFrame).
        y : None
            Ignored.

        Returns
        -------
        self : WideToSequence
            Fitted transformer.
        """
        if (self.n_timesteps is None) == (self.n_features is None):
            raise ValueError(
                "WideToSequence needs exactly one of n_timesteps and n_features "
                f"(got n_timesteps={self.n_timesteps}, n_features={self.n_features}); "
                "pass one, e.g. WideToSequence(n_features=1), and the other is "
                "inferred from the number of columns."
            )
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        given, other = (
            ("n_timesteps", "n_features")
            if self.n_timesteps is not None
            else ("n_features", "n_timesteps")
        )
        size = getattr(self, given)
        if X.shape[1] % size:
            raise ValueError(
                f"X has {X.shape[1]} columns, which is not a multiple of "
                f"{given}={size}; choose a {given} that divides the number of columns "
                f"or set {other} instead."
            )
        if given == "n_timesteps":
            self.n_timesteps_, self.n_features_ = size, X.shape[1] // size
        else:
            self.n_timesteps_, self.n_features_ = X.shape[1] // size, size
        return self

    def transform(self, X):
        """Reshape the wide table to sequences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps * n_features)
            Wide table with the columns seen in `fit`.

        Returns
        -------
        X3 : ndarray of shape (n_samples, `n_timesteps_`, `n_features_`)
            A new array (float32 stays float32, the rest becomes float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        n, t, f = X.shape[0], self.n_timesteps_, self.n_features_
        X3 = X.reshape(n, t, f) if self.order == "time" else X.reshape(n, f, t)
        X3 = X3 if self.order == "time" else X3.transpose(0, 2, 1)
        return np.array(X3, order="C", copy=True)

    def inverse_transform(self, X):
        """Flatten sequences back to the wide table.

        Parameters
        ----------
        X : array-like of shape (n_samples, `n_timesteps_`, `n_features_`), or list
            Sequences of exactly `n_timesteps_` steps and `n_features_` features.

        Returns
        -------
        X_wide : ndarray of shape (n_samples, `n_timesteps_` * `n_features_`)
            Columns in the order given by `order`.
        """
        check_is_fitted(self)
        X3, lengths, _ = to_padded(X)
        if (lengths != self.n_timesteps_).any() or X3.shape[2] != self.n_features_:
            raise ValueError(
                f"X must hold sequences of {self.n_timesteps_} time steps and "
                f"{self.n_features_} features (got lengths {np.unique(lengths)} and "
                f"{X3.shape[2]} features); pass the output of transform."
            )
        if self.order == "feature":
            X3 = X3.transpose(0, 2, 1)
        return np.ascontiguousarray(X3).reshape(X3.shape[0], -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
