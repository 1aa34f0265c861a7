"""Save and load fitted skrnn estimators as NumPy arrays plus JSON, never unpickling."""

import json
import os
import warnings
import zipfile

import numpy as np
import sklearn
from sklearn.utils.validation import check_is_fitted

from . import __version__, preprocessing
from ._optim import AdamOptimizer, SGDOptimizer
from ._persistence_format import (
    DAMAGE,
    MAX_META_BYTES,
    ArchiveReader,
    Invalid,
    MemoryReader,
    manifest_of,
    short,
    write_archive,
)
from ._persistence_schema import (
    ESTIMATORS,
    check_consistent,
    decode_estimator,
    decode_params,
    encode_estimator,
    smoke_test,
)
from ._training import TrainState

__all__ = ["FORMAT_VERSION", "load", "save", "skops_trusted_types"]

#: Version of the file layout written by :func:`save` and read by :func:`load`.
#: Version 1 was the layout of skrnn's development builds before 0.1.
FORMAT_VERSION = 2

_FORMAT = "skrnn-model"
_HEADER = (
    "format",
    "format_version",
    "skrnn_version",
    "sklearn_version",
    "numpy_version",
    "class",
)
_SECTIONS = ("params", "fitted", "training", "arrays")
_FIX = "Save the model again with skrnn.persistence.save."


def _bad_file(path, what):
    return ValueError(f"{path!s} is not a valid skrnn model file: {what}. {_FIX}")


def _check_header(meta):
    """The estimator class named by a file whose layout this skrnn reads."""
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise Invalid("skrnn.json does not describe an skrnn model")
    version = meta.get("format_version")
    if version == 1:
        raise Invalid(
            "file format version 1, the layout of skrnn's development builds, is "
            "no longer read; load it with the skrnn that wrote it and save it "
            "again, or refit the model"
        )
    if version != FORMAT_VERSION:
        raise Invalid(
            f"file format version {short(version)}, this skrnn reads version "
            f"{FORMAT_VERSION} (upgrade skrnn to read newer files)"
        )
    if set(meta) != {*_HEADER, *_SECTIONS}:
        extra = sorted(set(meta) - {*_HEADER, *_SECTIONS})
        raise Invalid(f"skrnn.json has unknown keys {extra[:5]} or lacks some")
    if not all(isinstance(meta[k], str) for k in _HEADER if k != "format_version"):
        raise Invalid("the version fields of skrnn.json must be strings")
    cls = ESTIMATORS.get(meta["class"])
    if cls is None:
        raise Invalid(
            f"unknown estimator class {short(meta['class'])}; expected one of "
            f"{sorted(ESTIMATORS)}"
        )
    return cls


def _rebuild(meta, reader):
    """The estimator a file describes, every check made before it is returned."""
    cls = _check_header(meta)
    est = decode_params(cls, meta["params"])
    reader.set_manifest(meta["arrays"])
    decode_estimator(est, meta, reader)
    smoke_test(est)
    return est


def save(estimator, path, *, compress=True):
    """Save a fitted estimator to one file, without pickle.

    The file is a zip archive (readable by :func:`numpy.load`) holding the
    weights and the other arrays as ``.npy`` entries, and ``skrnn.json``: the
    class name, the hyperparameters (``get_params``), the fitted attributes and
    the training state (optimizer moments, random generator), so that a loaded
    model predicts identically and continues training (``warm_start``,
    ``partial_fit``) exactly as the saved one would have. Nothing else is
    stored: attributes you set on the estimator yourself are not.

    The model is checked as :func:`load` checks a file before anything is
    written, so ``save`` never writes a file that ``load`` refuses.

    Parameters
    ----------
    estimator : fitted RNNRegressor, RNNClassifier or Seq2SeqTransformer
        The model to save (not a ``Pipeline``; save each step or use joblib).
    path : str or os.PathLike
        Destination file, conventionally ending in ``.npz``. Written to a
        temporary file first and then moved into place, so a failed save never
        leaves a truncated model behind. A new file gets the permissions the
        process umask allows, as with :func:`numpy.save`.
    compress : bool, default=True
        Deflate the archive entries. A model whose arrays compress more than
        :func:`load` accepts (weights that are mostly zeros) is stored
        uncompressed instead.

    Returns
    -------
    path : str or os.PathLike
        `path`, unchanged.

    Raises
    ------
    TypeError
        If `estimator` is not one of skrnn's estimators or `path` not a path.
    ValueError
        If the model is inconsistent, for example after ``set_params`` changed
        its architecture without a refit; the message names what disagrees.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skrnn import RNNRegressor
    >>> from skrnn.persistence import load, save
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(40, 6, 2)), rng.normal(size=40)
    >>> reg = RNNRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    >>> reg = reg.fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> _ = save(reg, path)
    >>> np.array_equal(load(path).predict(X), reg.predict(X))
    True
    """
    cls = type(estimator)
    if ESTIMATORS.get(cls.__name__) is not cls:
        raise TypeError(
            f"save() stores RNNRegressor, RNNClassifier and Seq2SeqTransformer; got "
            f"{cls.__name__}. For a Pipeline or another estimator use joblib.dump "
            "(or skops.io with skops_trusted_types())."
        )
    check_is_fitted(estimator)
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or os.PathLike; got {type(path).__name__}."
        )
    try:
        sections, arrays = encode_estimator(estimator)
        arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
        meta = {
            "format": _FORMAT,
            "format_version": FORMAT_VERSION,
            "skrnn_version": __version__,
            "sklearn_version": sklearn.__version__,
            "numpy_version": np.__version__,
            "class": cls.__name__,
            **sections,
            "arrays": manifest_of(arrays),
        }
        _rebuild(meta, MemoryReader(arrays))  # what load will check
        check_consistent(estimator)  # and what load derives rather than reads
        text = json.dumps(meta, allow_nan=False)
        if len(text) > MAX_META_BYTES:
            raise Invalid(f"its skrnn.json would exceed {MAX_META_BYTES} bytes")
    except (Invalid, AttributeError) as exc:
        raise ValueError(
            f"cannot save this {cls.__name__}: {exc}. Its parameters or fitted "
            "attributes disagree (were they changed after fitting?); refit it."
        ) from exc
    write_archive(path, text, arrays, compress)
    return path


def load(path):
    """Load an estimator written by :func:`save`, without unpickling anything.

    Only JSON and plain ``.npy`` arrays are read, and nothing is read before it
    is known to be worth reading: the manifest in ``skrnn.json`` declares the
    dtype and shape of every array, the declared sizes must be those of the
    architecture the hyperparameters describe (computed, never built) and fit
    a memory budget of 50 times the file's size, and each entry is read only
    up to the bytes its declaration allows. Every fitted attribute the file may
    set is on an allow-list with its type, shape and range, checked against the
    others (``classes_`` against the output width, ``n_features_in_`` against
    the weights, ...); nothing else is set, and the hyperparameters are
    validated by the class. A prediction of one sample of two steps must then
    be finite.

    Parameters
    ----------
    path : str or os.PathLike
        File written by :func:`save`.

    Returns
    -------
    estimator : RNNRegressor, RNNClassifier or Seq2SeqTransformer
        The fitted model.

    Raises
    ------
    ValueError
        For every file that is not a valid skrnn model: not a zip archive,
        damaged (truncated, flipped bytes, bad compressed data, an unsupported
        or encrypted entry, invalid JSON), tampered with (arrays of another
        dtype or shape than the architecture needs, NaN or infinite values,
        attributes that contradict each other, unknown keys, parameters the
        class refuses), too large for its size (a zip bomb), or written by
        another file format version. The message names the problem.
    OSError
        If `path` cannot be opened (``FileNotFoundError``, ``PermissionError``,
        ``IsADirectoryError``).
    TypeError
        If `path` is not a str or os.PathLike.

    Warns
    -----
    UserWarning
        If the file was written by another skrnn version.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skrnn import RNNClassifier
    >>> from skrnn.persistence import load, save
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(30, 5, 1))
    >>> y = np.where(X.sum(axis=(1, 2)) > 0, "up", "down")
    >>> clf = RNNClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "clf.npz")
    >>> _ = save(clf.fit(X, y), path)
    >>> load(path).classes_
    array(['down', 'up'], dtype='<U4')
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a str or os.PathLike; got {type(path).__name__}."
        )
    with open(path, "rb") as f:
        try:
            with zipfile.ZipFile(f) as archive:
                meta, est = _read(archive, os.fstat(f.fileno()).st_size)
        except Invalid as exc:
            raise _bad_file(path, str(exc)) from exc
        except zipfile.BadZipFile as exc:
            raise _bad_file(path, f"not a zip archive or damaged ({exc})") from exc
        except (*DAMAGE, OSError) as exc:
            what = f"damaged content ({type(exc).__name__}: {short(str(exc), 120)})"
            raise _bad_file(path, what) from exc
    if meta["skrnn_version"] != __version__:
        warnings.warn(
            f"this model was saved with skrnn {meta['skrnn_version'][:40]} and "
            f"is loaded with skrnn {__version__}; check its predictions, or refit "
            "it.",
            UserWarning,
            stacklevel=2,
        )
    return est


def _read(archive, file_size):
    reader = ArchiveReader(archive, file_size)
    meta = reader.meta()
    return meta, _rebuild(meta, reader)


def skops_trusted_types():
    """Names of skrnn's types to pass as ``trusted`` to ``skops.io.load``.

    ``skops.io`` refuses types it does not know; these are skrnn's estimators and
    transformers (so a whole ``Pipeline`` of them loads) and the helper classes a
    fitted estimator holds besides NumPy and scikit-learn objects.

    Returns
    -------
    names : list of str
        Fully qualified class names.

    Examples
    --------
    >>> from skrnn.persistence import skops_trusted_types
    >>> "skrnn._regressor.RNNRegressor" in skops_trusted_types()
    True
    """
    transformers = [getattr(preprocessing, name) for name in preprocessing.__all__]
    transformers = [c for c in transformers if isinstance(c, type)]
    classes = [
        *ESTIMATORS.values(),
        *transformers,
        TrainState,
        AdamOptimizer,
        SGDOptimizer,
    ]
    return [f"{c.__module__}.{c.__qualname__}" for c in classes]
