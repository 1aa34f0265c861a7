"""Data boundary: read user sequences into one right-padded batch and back."""

import numpy as np
from sklearn.utils.validation import validate_data

from ._masks import length_mask
from ._readers import (
    LAYOUT_HINT,
    NAN_FIX,
    as_array,
    as_numeric,
    float_dtype,
    nan_or_inf,
    overflow_error,
    raise_if_nan_padded,
    raise_if_nonfinite,
    read_layout,
)
from ._targets import to_padded_targets

# length_mask and to_padded_targets (from _masks and _targets) are re-exported:
# the estimators import the whole data boundary from here.
__all__ = [
    "KINDS",
    "as_model_dtype",
    "check_finite_output",
    "length_mask",
    "restore_kind",
    "to_padded",
    "to_padded_targets",
    "unpad",
    "validate_sequence_data",
]

#: Layout tags returned by :func:`to_padded` and understood by :func:`restore_kind`.
#: "table": 2-D (n_samples, n_timesteps), each row one univariate series.
#: "array": 3-D (n_samples, n_timesteps, n_features).
#: "list": list of 2-D sequences (n_timesteps_i, n_features).
#: "list1d": list of 1-D univariate sequences (n_timesteps_i,).
KINDS = ("table", "array", "list", "list1d")


def to_padded(X, *, name="X", dtype=None):
    """Read sequences into a right-padded batch.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_timesteps) or \
            (n_samples, n_timesteps, n_features), or list of sequences
        A 2-D table (or DataFrame) whose rows are univariate series, a 3-D array,
        or a list/tuple of sequences each of shape (n_timesteps_i, n_features)
        or (n_timesteps_i,) (univariate). Nested Python lists of numbers that
        form a rectangular array are read as that array, as in scikit-learn.
    name : str, default="X"
        Name used in error messages.
    dtype : dtype, default=None
        Output dtype. By default float32 input stays float32 and everything else
        becomes float64.

    Returns
    -------
    X3 : ndarray of shape (n_samples, max_len, n_features)
        Fresh array (never a view of `X`), zero after each sequence's end.
    lengths : ndarray of shape (n_samples,), dtype int64
        Valid steps per sequence, ``1 <= lengths[i] <= max_len``.
    kind : {"table", "array", "list", "list1d"}
        Input layout, for :func:`restore_kind`.

    Examples
    --------
    >>> import numpy as np
    >>> X3, lengths, kind = to_padded([np.array([1.0, 2.0]), np.array([3.0])])
    >>> X3[:, :, 0]
    array([[1., 2.],
           [3., 0.]])
    >>> lengths, kind
    (array([2, 1]), 'list1d')
    """
    if dtype is not None and np.dtype(dtype).kind not in "biuf":
        raise TypeError(
            f"dtype must be a real numeric dtype such as float32; got {dtype!r}."
        )
    kind, data = read_layout(X, name)
    return _to_padded(kind, data, name, dtype)


def _to_padded(kind, data, name, dtype):
    if kind == "list":
        return _list_to_padded(data, name, dtype)
    arr = data
    n_samples, n_timesteps = arr.shape[:2]
    n_features = arr.shape[2] if arr.ndim == 3 else 1
    if n_samples == 0:
        raise ValueError(
            f"{name} has 0 samples (shape {arr.shape}); pass at least one sequence."
        )
    if n_timesteps == 0:
        raise ValueError(
            f"{name} has 0 time steps (shape {arr.shape}); every sequence needs at "
            "least one time step."
        )
    if n_features == 0:
        raise ValueError(
            f"{name} has 0 features per time step (shape {arr.shape}); pass at "
            "least one feature."
        )
    arr = as_numeric(arr, name)
    out_dtype = np.dtype(dtype) if dtype is not None else float_dtype([arr.dtype])
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise_if_nan_padded(arr, name)
        raise ValueError(f"{name} contains {nan_or_inf(arr)}; {NAN_FIX}.")
    X3 = np.array(arr, dtype=out_dtype, order="C", copy=True)
    if dtype is not None and out_dtype.kind == "f" and not np.isfinite(X3).all():
        raise overflow_error(name, out_dtype)
    if kind == "table":
        X3 = X3.reshape(n_samples, n_timesteps, 1)
    lengths = np.full(n_samples, n_timesteps, dtype=np.int64)
    return X3, lengths, kind


def _list_to_padded(seqs, name, dtype):
    arrays = []
    for i, seq in enumerate(seqs):
        try:
            a = as_array(seq)
        except ValueError as exc:
            raise ValueError(
                f"sequence {i} of {name} could not be read as an array ({exc}); "
                "each sequence must be (n_timesteps,) or (n_timesteps, n_features)."
            ) from exc
        if a.ndim == 0:
            raise ValueError(
                f"sequence {i} of {name} is a scalar; {name} looks like one series. "
                f"Wrap it as [{name}] for one sequence, or {LAYOUT_HINT}."
            )
        if a.ndim > 2:
            raise ValueError(
                f"sequence {i} of {name} has {a.ndim} dimensions (shape {a.shape}); "
                "each sequence must be (n_timesteps,) or (n_timesteps, n_features)."
            )
        if a.shape[0] == 0:
            raise ValueError(
                f"sequence {i} of {name} is empty (0 time steps); remove it or give "
                "it at least one time step."
            )
        if a.ndim == 2 and a.shape[1] == 0:
            raise ValueError(
                f"sequence {i} of {name} has 0 features per time step (shape "
                f"{a.shape}); pass at least one feature."
            )
        if arrays and a.ndim != arrays[0].ndim:
            raise ValueError(
                f"sequence {i} of {name} is {a.ndim}-D but sequence 0 is "
                f"{arrays[0].ndim}-D; make all sequences 1-D (univariate) or all "
                "2-D (n_timesteps, n_features)."
            )
        if a.ndim == 2 and arrays and a.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"sequence {i} of {name} has {a.shape[1]} features but sequence 0 "
                f"has {arrays[0].shape[1]}; all sequences need the same number of "
                "features per time step."
            )
        arrays.append(a)
    arrays = [as_numeric(a, f"sequence {i} of {name}") for i, a in enumerate(arrays)]
    out_dtype = (
        np.dtype(dtype) if dtype is not None else float_dtype([a.dtype for a in arrays])
    )
    lengths = np.fromiter((a.shape[0] for a in arrays), np.int64, len(arrays))
    n_features = arrays[0].shape[1] if arrays[0].ndim == 2 else 1
    if out_dtype.kind != "f":  # casting would hide NaN: check each source first
        raise_if_nonfinite(arrays, name, range(len(arrays)))
    X3 = np.zeros((len(arrays), lengths.max(), n_features), dtype=out_dtype)
    for i, a in enumerate(arrays):
        X3[i, : a.shape[0]] = a.reshape(a.shape[0], n_features)
    if out_dtype.kind == "f" and not np.isfinite(X3).all():
        bad = np.flatnonzero(~np.isfinite(X3).all(axis=(1, 2)))
        raise_if_nonfinite(arrays, name, bad)
        raise overflow_error(name, out_dtype)
    return X3, lengths, "list1d" if arrays[0].ndim == 1 else "list"


def as_model_dtype(X3, dtype, name="X"):
    """``X3`` in the model's computation dtype, refusing values that overflow it.

    A float32 model casts float64 input down; a value beyond float32's range
    would become infinity and every prediction NaN, so it is refused instead.

    Parameters
    ----------
    X3 : ndarray of shape (n_samples, n_timesteps, n_features)
    dtype : numpy dtype
        The dtype of the model's weights.
    name : str, default="X"

    Returns
    -------
    X3 : ndarray of shape (n_samples, n_timesteps, n_features), of ``dtype``
    """
    if X3.dtype == dtype:
        return X3
    with np.errstate(over="ignore"):
        out = X3.astype(dtype)
    if not np.isfinite(out).all():
        big = float(np.abs(X3[~np.isfinite(out)]).max())
        raise ValueError(
            f"{name} has values (up to {big:.3g}) beyond the range of {dtype}, the "
            f"dtype this model computes in, so its predictions would be NaN. Scale "
            f"{name} (for example with skrnn.preprocessing.SequenceScaler), or fit "
            "the model on float64 data."
        )
    return out


def check_finite_output(raw, name="X"):
    """Raise instead of returning NaN or infinite network outputs."""
    if not np.isfinite(raw).all():
        raise ValueError(
            f"the network's output is not finite for some sequences of {name}: "
            "their values are too large for the model's dtype. Scale the inputs as "
            "in training (for example with skrnn.preprocessing.SequenceScaler)."
        )
    return raw


def unpad(Y3, lengths):
    """Split a padded batch into its valid parts.

    Parameters
    ----------
    Y3 : ndarray of shape (n_samples, max_len, ...)
        Padded batch.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.

    Returns
    -------
    sequences : list of ndarray
        ``Y3[i, :lengths[i]]`` for each i, each a copy.

    Examples
    --------
    >>> import numpy as np
    >>> [s.tolist() for s in unpad(np.arange(6).reshape(2, 3), np.array([3, 1]))]
    [[0, 1, 2], [3]]
    """
    return [Y3[i, :n].copy() for i, n in enumerate(np.asarray(lengths))]


def restore_kind(X3, lengths, kind):
    """Put a padded batch back into the layout named by `kind`.

    Parameters
    ----------
    X3 : ndarray of shape (n_samples, max_len, n_features)
        Padded batch.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.
    kind : {"table", "array", "list", "list1d"}
        Layout from :func:`to_padded`. "table" gives a 2-D array
        (n_samples, max_len) and needs ``n_features == 1``; "array" gives `X3`
        itself; "list" gives a list of (lengths[i], n_features) copies; "list1d"
        gives a list of (lengths[i],) copies and needs ``n_features == 1``.
        "table" and "array" need every sequence to be full length.

    Returns
    -------
    X : ndarray or list of ndarray
        "table" and "array" results share memory with `X3`.

    Examples
    --------
    >>> import numpy as np
    >>> X3, lengths, kind = to_padded([np.array([1.0, 2.0]), np.array([3.0])])
    >>> restore_kind(X3, lengths, kind)
    [array([1., 2.]), array([3.])]
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    if kind in ("table", "list1d") and X3.shape[2] != 1:
        raise ValueError(
            f"kind {kind!r} holds univariate series but X3 has {X3.shape[2]} "
            "features; use kind 'array' or 'list'."
        )
    if kind == "list":
        return unpad(X3, lengths)
    if kind == "list1d":
        return unpad(X3[:, :, 0], lengths)
    if (np.asarray(lengths) != X3.shape[1]).any():
        raise ValueError(
            f"kind {kind!r} needs every sequence to span all {X3.shape[1]} steps; "
            "use kind 'list' for sequences of different lengths."
        )
    return X3[:, :, 0] if kind == "table" else X3


def validate_sequence_data(estimator, X, *, reset):
    """Validate X for a sequence estimator and read it into a padded batch.

    A 2-D table goes through :func:`sklearn.utils.validation.validate_data`, so
    ``n_features_in_`` (number of columns) and ``feature_names_in_`` behave as in
    scikit-learn; 3-D arrays and lists set ``n_features_in_`` to the number of
    features per time step. Once fitted, any layout is accepted as long as the
    number of features per time step matches (a table counts as one feature),
    and tables are checked column by column when the fit was on a table.

    Parameters
    ----------
    estimator : estimator instance
        Receives ``n_features_in_``, ``feature_names_in_`` (tables) and the
        private ``_fitted_layout`` and ``_n_step_features`` when `reset`.
    X : array-like or list of sequences
        Anything :func:`to_padded` accepts.
    reset : bool
        True in ``fit``, False afterwards.

    Returns
    -------
    X3 : ndarray of shape (n_samples, max_len, n_features)
    lengths : ndarray of shape (n_samples,)
    kind : {"table", "array", "list", "list1d"}

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> est = BaseEstimator()
    >>> X3, lengths, kind = validate_sequence_data(est, np.ones((4, 6)), reset=True)
    >>> X3.shape, est.n_features_in_, kind
    ((4, 6, 1), 6, 'table')
    """
    kind, data = read_layout(X, "X")
    if kind == "table" and (
        reset or getattr(estimator, "_fitted_layout", None) == "table"
    ):
        if np.asarray(data).dtype.kind in "OUS":
            as_numeric(np.asarray(data), "X")  # a clear error if not numbers
        raise_if_nan_padded(np.asarray(data), "X")
        data = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32])
        X3, lengths, kind = _to_padded("table", data, "X", None)
    else:
        X3, lengths, kind = _to_padded(kind, data, "X", None)
        if reset:
            estimator.n_features_in_ = X3.shape[2]
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
    if reset:
        estimator._fitted_layout = "table" if kind == "table" else "sequences"
        estimator._n_step_features = X3.shape[2]
    elif X3.shape[2] != estimator._n_step_features:
        raise ValueError(
            f"X has {X3.shape[2]} features per time step, but "
            f"{type(estimator).__name__} is expecting {estimator._n_step_features} "
            "features per time step as input; pass data with the layout used in fit."
        )
    return X3, lengths, kind


def to_patches(X3, lengths, patch_size):
    """Non-overlapping patches of ``patch_size`` steps, read as one step each.

    Parameters
    ----------
    X3 : ndarray of shape (n_samples, n_timesteps, n_features)
        Right-padded batch.
    lengths : ndarray of shape (n_samples,)
        Valid steps per sequence.
    patch_size : int
        Steps per patch; 1 returns the inputs unchanged.

    Returns
    -------
    P : ndarray of shape (n_samples, ceil(n_timesteps / patch_size), \
            patch_size * n_features)
        Patch ``j`` holds steps ``j * patch_size`` to ``(j + 1) * patch_size - 1``
        in time order, each step's features together; a sequence's last patch
        is completed with zeros.
    patch_lengths : ndarray of shape (n_samples,)
        ``ceil(lengths / patch_size)``.

    Examples
    --------
    >>> import numpy as np
    >>> P, L = to_patches(np.arange(5.0).reshape(1, 5, 1), np.array([5]), 2)
    >>> P[0].tolist(), L.tolist()
    ([[0.0, 1.0], [2.0, 3.0], [4.0, 0.0]], [3])
    """
    if patch_size == 1:
        return X3, lengths
    n, T, F = X3.shape
    n_patches = -(-T // patch_size)
    P = np.zeros((n, n_patches * patch_size, F), X3.dtype)
    P[:, :T] = X3 * length_mask(lengths, T)[:, :, None]
    return P.reshape(n, n_patches, patch_size * F), -(-lengths // patch_size)
