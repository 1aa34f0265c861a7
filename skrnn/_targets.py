"""Per-step targets read into a right-padded batch aligned with the inputs."""

import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_array

from ._masks import length_mask
from ._readers import NAN_FIX, as_array, float_dtype, nan_or_inf

__all__ = [
    "per_step_regression_targets",
    "regression_targets",
    "score_steps",
    "score_weights",
    "to_padded_targets",
]


def score_steps(metric, Y, pred, mask, weights=None):
    """``metric`` over the valid steps (``mask``, ``(n_samples, n_timesteps)``)
    of per-step targets ``Y`` and predictions ``pred``.

    ``weights`` (checked by the caller): None, one per sequence, on every one
    of its steps, or one per step, shaped as ``mask``."""
    sw = None
    if weights is not None:
        w = np.asarray(weights)
        sw = (w if w.ndim == 2 else np.broadcast_to(w[:, None], mask.shape))[mask]
    return metric(Y[mask], pred[mask], sample_weight=sw)


def score_weights(estimator, sample_weight, X3, lengths):
    """``sample_weight`` of a ``score`` call, checked as its ``fit`` checks it:
    None, one weight per sequence, or (per-step outputs) one per step."""
    if sample_weight is None:
        return None
    rows, steps = estimator._sample_weight(sample_weight, X3, lengths)
    return rows if steps is None else steps


def to_padded_targets(y, lengths, *, name="y", labels=False):
    """Read per-step targets aligned with a padded input batch.

    Parameters
    ----------
    y : array-like of shape (n_samples, n_timesteps) or \
            (n_samples, n_timesteps, n_outputs), or list of per-sequence targets
        For arrays, ``n_timesteps`` must equal ``max(lengths)`` and only the valid
        steps are read. A list holds one target sequence per input sequence,
        each of shape (lengths[i],) or (lengths[i], n_outputs).
    lengths : ndarray of shape (n_samples,)
        Valid steps per input sequence, from :func:`to_padded`.
    name : str, default="y"
        Name used in error messages.
    labels : bool, default=False
        Class labels rather than regression targets: integer and boolean
        labels keep their dtype instead of becoming floats.

    Returns
    -------
    Y3 : ndarray of shape (n_samples, max_len, n_outputs)
        float32 stays float32, other numbers become float64 (integers and
        booleans stay as they are with ``labels=True``) and padding is 0.
        String or object labels keep dtype object (padding is None) so that a
        classifier can encode them from ``Y3[mask]``.
    mask : ndarray of shape (n_samples, max_len), dtype bool
        True on valid steps.

    Examples
    --------
    >>> import numpy as np
    >>> Y3, mask = to_padded_targets([[1, 2], ["a"]], np.array([2, 1]))
    >>> Y3[:, :, 0]
    array([[1, 2],
           ['a', None]], dtype=object)
    >>> mask
    array([[ True,  True],
           [ True, False]])
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    n_samples, max_len = lengths.shape[0], int(lengths.max())
    mask = length_mask(lengths, max_len)
    if y is None:
        raise TypeError(
            f"{name} is None; per-step targets need an array (n_samples, "
            "n_timesteps[, n_outputs]) or a list with one target sequence per input."
        )
    if sparse.issparse(y):
        raise TypeError(
            f"{name} is a sparse matrix, which is not supported; densify it first "
            f"with {name}.toarray()."
        )
    if isinstance(y, (list, tuple)) or (
        isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype == object
    ):
        Y3 = _list_targets(list(y), lengths, name, labels)
    else:
        Y3 = _array_targets(as_array(y), n_samples, max_len, name, labels)
    if Y3.dtype == object:
        Y3[~mask] = None
    else:
        if not np.isfinite(Y3[mask]).all():
            raise ValueError(f"{name} contains {nan_or_inf(Y3[mask])}; {NAN_FIX}.")
        Y3[~mask] = 0
    return Y3, mask


def _target_dtype(arrays, name, labels):
    kinds = {a.dtype.kind for a in arrays}
    if "c" in kinds:
        raise ValueError(
            f"Complex data not supported: {name} has complex values. Pass real "
            "targets, e.g. the real and imaginary parts as separate outputs."
        )
    if kinds & set("OUS"):
        return np.dtype(object)
    if not kinds <= set("biuf"):
        raise TypeError(
            f"{name} has non-numeric dtype {arrays[0].dtype}; pass numbers or "
            "string labels."
        )
    if labels and kinds <= set("biu"):
        return np.result_type(*arrays)
    return float_dtype([a.dtype for a in arrays])


def _array_targets(arr, n_samples, max_len, name, labels):
    if arr.ndim < 2 or arr.ndim > 3:
        raise ValueError(
            f"{name} has shape {arr.shape}; per-step targets need shape (n_samples, "
            "n_timesteps) or (n_samples, n_timesteps, n_outputs), or a list with "
            "one target sequence per input sequence. (One target per sequence is "
            "a different task: use a sequence-level estimator.)"
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} samples but X has {n_samples}; pass one "
            "target sequence per input sequence."
        )
    if arr.shape[1] != max_len:
        raise ValueError(
            f"{name} has {arr.shape[1]} time steps but the longest sequence in X has "
            f"{max_len}; pad {name} to {max_len} steps or pass a list of "
            "per-sequence targets."
        )
    if arr.ndim == 3 and arr.shape[2] == 0:
        raise ValueError(
            f"{name} has 0 outputs (shape {arr.shape}); pass at least one."
        )
    dtype = _target_dtype([arr], name, labels)
    return np.array(arr, dtype=dtype, order="C", copy=True).reshape(
        n_samples, max_len, -1
    )


def _list_targets(seqs, lengths, name, labels):
    if len(seqs) != lengths.shape[0]:
        raise ValueError(
            f"{name} has {len(seqs)} target sequences but X has {lengths.shape[0]} "
            "sequences; pass one target sequence per input sequence."
        )
    arrays = [as_array(s) for s in seqs]
    for i, a in enumerate(arrays):
        if a.ndim not in (1, 2):
            raise ValueError(
                f"{name}[{i}] has shape {a.shape}; each target sequence must be "
                "(n_timesteps,) or (n_timesteps, n_outputs)."
            )
        if a.ndim != arrays[0].ndim:
            raise ValueError(
                f"{name}[{i}] is {a.ndim}-D but {name}[0] is {arrays[0].ndim}-D; "
                "make all target sequences 1-D or all 2-D."
            )
        if a.ndim == 2 and a.shape[1] != arrays[0].shape[1]:
            raise ValueError(
                f"{name}[{i}] has {a.shape[1]} outputs but {name}[0] has "
                f"{arrays[0].shape[1]}; all target sequences need the same outputs."
            )
        if a.shape[0] != lengths[i]:
            raise ValueError(
                f"{name}[{i}] has {a.shape[0]} time steps but X sequence {i} has "
                f"{lengths[i]}; each target sequence must be as long as its input."
            )
    n_outputs = arrays[0].shape[1] if arrays[0].ndim == 2 else 1
    if n_outputs == 0:
        raise ValueError(f"{name} has 0 outputs; pass at least one.")
    dtype = _target_dtype(arrays, name, labels)
    Y3 = np.zeros((len(arrays), lengths.max(), n_outputs), dtype=dtype)
    for i, a in enumerate(arrays):
        Y3[i, : a.shape[0]] = a.reshape(a.shape[0], n_outputs)
    return Y3


def per_step_regression_targets(y, lengths, dtype, sw):
    """``(Y, mask, valid, sw)``: numeric per-step targets, their valid steps
    (and the weights of those steps, for the target scaling)."""
    Y, mask = to_padded_targets(y, lengths)
    if Y.dtype == object:
        raise ValueError(
            "RNNRegressor needs numeric per-step targets; got labels. Use "
            "RNNClassifier for labels."
        )
    Y = Y.astype(dtype, copy=False)
    if sw is not None:
        sw = np.broadcast_to(sw if sw.ndim == 2 else sw[:, None], mask.shape)[mask]
    return Y, mask, Y[mask], sw


def regression_targets(y, n_samples, dtype):
    """Numeric many-to-one targets as ``(n_samples, n_outputs)``, and the
    number of dimensions ``y`` had (1 or 2)."""
    if np.asarray(y).dtype.kind in "OUS":
        try:
            np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "RNNRegressor needs numeric targets; got labels that are not "
                "numbers. Use RNNClassifier for labels."
            ) from exc
    shape = getattr(y, "shape", None)
    if shape is None:  # a list: read it (a ragged one fails in check_array)
        try:
            shape = np.asarray(y).shape
        except ValueError:
            shape = ()
    if len(shape) > 2:
        raise ValueError(
            f"y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs) for "
            f"many-to-one regression; got shape {shape}. For several steps ahead "
            "of several features (make_windows with horizon > 1), flatten it: "
            "y.reshape(len(y), -1) keeps the steps in time order, as forecast "
            "expects. For one target per input step set return_sequences=True."
        )
    y = check_array(
        y, ensure_2d=False, dtype=dtype, input_name="y", ensure_all_finite=True
    )
    if len(y) != n_samples:
        raise ValueError(
            f"X has {n_samples} samples but y has {len(y)}; pass one target per "
            "sequence."
        )
    return y.reshape(len(y), -1), y.ndim
