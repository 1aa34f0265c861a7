"""Low-level readers behind skrnn._data: layout detection, dtypes, messages."""

import numbers

import numpy as np
from scipy import sparse

LAYOUT_HINT = (
    "pass a 2-D array (n_samples, n_timesteps), a 3-D array "
    "(n_samples, n_timesteps, n_features) or a list of sequences"
)
NAN_FIX = (
    "impute missing values first (for example with sklearn.impute.SimpleImputer "
    "or a forward fill) or drop the affected time steps"
)


def is_pandas(obj):
    """Duck-typed pandas DataFrame/Series check (pandas is never imported)."""
    return hasattr(obj, "iloc") and hasattr(obj, "to_numpy")


def _is_plain_nested(X):
    """True if X is a list/tuple built only from lists, tuples and scalars."""
    return all(
        isinstance(x, (list, tuple, numbers.Number, str, bytes)) or x is None for x in X
    )


def as_array(obj):
    """np.asarray, reading pandas objects with NA as NaN when they are numeric."""
    if is_pandas(obj):
        arr = obj.to_numpy()
        if arr.dtype == object:
            try:
                arr = obj.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                pass
        return arr
    return np.asarray(obj)


def read_layout(X, name):
    """Classify X without heavy work: return (kind, array_or_list)."""
    if X is None:
        raise TypeError(f"{name} is None; {LAYOUT_HINT}.")
    if sparse.issparse(X):
        raise TypeError(
            f"{name} is a sparse matrix, which is not supported: recurrent networks "
            f"need dense sequences. Densify it first with {name}.toarray()."
        )
    if isinstance(X, numbers.Number):
        return _check_ndim(np.asarray(X), name)
    if isinstance(X, (str, bytes, dict, set)):
        raise TypeError(f"{name} has type {type(X).__name__}; {LAYOUT_HINT}.")
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} has 0 samples; pass at least one sequence.")
        if _is_plain_nested(X):
            # Nested Python lists that form a rectangular 2-D/3-D array are read as
            # that array, exactly like scikit-learn reads them.
            try:
                arr = np.asarray(X)
            except ValueError:  # ragged: a list of sequences
                return "list", list(X)
            if arr.dtype != object and arr.ndim in (2, 3):
                return ("table" if arr.ndim == 2 else "array"), arr
            if arr.ndim <= 1 and arr.dtype != object:
                return _check_ndim(arr, name)
        return "list", list(X)
    if not (hasattr(X, "__array__") or hasattr(X, "shape") or is_pandas(X)):
        raise TypeError(f"{name} has type {type(X).__name__}; {LAYOUT_HINT}.")
    arr = as_array(X)
    if arr.ndim == 1 and arr.dtype == object and len(arr) > 0:
        if all(np.ndim(x) > 0 or is_pandas(x) for x in arr):
            return "list", list(arr)
    return _check_ndim(arr, name)


def _check_ndim(arr, name):
    """Reject scalars, 1-D and 4-D+ arrays; classify 2-D/3-D ones."""
    if arr.ndim == 0:
        raise ValueError(f"{name} is a scalar ({arr!r}); {LAYOUT_HINT}.")
    if arr.ndim == 1:
        raise ValueError(
            f"{name} is 1-D with shape {arr.shape}, but a batch of sequences needs "
            f"2 or 3 dimensions. Reshape your data: {name}.reshape(1, -1) if it is "
            "one univariate "
            f"series, or {name}.reshape(-1, 1) if it holds one single-step value "
            "per sample."
        )
    if arr.ndim > 3:
        raise ValueError(
            f"{name} has {arr.ndim} dimensions (shape {arr.shape}); expected 2-D "
            "(n_samples, n_timesteps) or 3-D (n_samples, n_timesteps, n_features). "
            f"Reshape it, e.g. {name}.reshape(n_samples, n_timesteps, -1)."
        )
    return ("table" if arr.ndim == 2 else "array"), arr


def as_numeric(arr, what):
    """Return arr with a real numeric dtype, or raise naming `what`."""
    kind = arr.dtype.kind
    if kind in "biuf":
        return arr
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: {what} has complex dtype {arr.dtype}. "
            "Pass real values, e.g. stack the real and imaginary parts as "
            "separate features."
        )
    if kind in "OUS":
        try:
            return arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"{what} has values that cannot be converted to numbers ({exc}); "
                "encode them as numbers first (e.g. with "
                "sklearn.preprocessing.OrdinalEncoder)."
            ) from exc
    raise TypeError(
        f"{what} has non-numeric dtype {arr.dtype}; convert it to numbers first "
        "(e.g. datetimes to elapsed seconds)."
    )


def float_dtype(dtypes):
    """float32 if every input is float32, float64 otherwise."""
    return (
        np.dtype(np.float32)
        if all(d == np.float32 for d in dtypes)
        else np.dtype(np.float64)
    )


def nan_or_inf(values):
    """Name the kind of non-finite value present in `values`."""
    return "NaN" if np.isnan(values).any() else "infinity"


def raise_if_nonfinite(arrays, name, indices):
    """Raise naming the first sequence in `indices` that holds NaN or infinity."""
    for i in indices:
        a = arrays[i]
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ValueError(
                f"sequence {i} of {name} contains {nan_or_inf(a)}; {NAN_FIX}."
            )


def raise_if_nan_padded(arr, name):
    """Refuse NaN in a 2-D/3-D array, naming NaN-padded rows as what they are.

    Shorter series padded with NaN up to the longest (what a DataFrame of
    series of different lengths holds) are sequences of different lengths:
    skrnn takes those as a list, so the advice is that, not imputation.
    """
    if arr.dtype.kind != "f":
        return
    missing = np.isnan(arr)
    if not missing.any():
        return
    steps = missing if arr.ndim == 2 else missing.all(axis=2)
    partial = arr.ndim == 3 and (missing.any(axis=2) & ~steps).any()
    trailing = (np.diff(steps.astype(np.int8), axis=1) >= 0).all()
    longer = (~steps[:, -1]).any()  # some row runs to the end: lengths differ
    if trailing and longer and not partial and not steps[:, 0].any():
        raise ValueError(
            f"{name} has NaN at the end of some rows: sequences of different "
            "lengths padded with NaN. Pass a list of sequences, or its rows "
            f"without the padding: [row[~np.isnan(row)] for row in "
            f"np.asarray({name})] for a table. (Missing values inside a series "
            f"are another matter: {NAN_FIX}.)"
        )
    raise ValueError(f"{name} contains NaN; {NAN_FIX}.")


def overflow_error(name, dtype):
    """Error for finite input that overflows a requested narrower dtype."""
    return ValueError(
        f"{name} does not fit in dtype {dtype} (values overflow to infinity); "
        "pass a wider dtype such as float64."
    )
