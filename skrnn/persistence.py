"""Save and load fitted skrnn estimators as NumPy arrays plus JSON, never unpickling."""

import inspect
import json
import os
import re
import tempfile
import warnings
import zipfile
from numbers import Integral

import numpy as np
import sklearn
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.validation import check_is_fitted

from . import __version__, preprocessing
from ._classifier import RNNClassifier
from ._optim import AdamOptimizer, SGDOptimizer
from ._regressor import RNNRegressor
from ._seq2seq import Seq2SeqTransformer
from ._training import TrainState

__all__ = ["FORMAT_VERSION", "load", "save", "skops_trusted_types"]

#: Version of the file layout written by :func:`save`; :func:`load` reads it and
#: every older version.
FORMAT_VERSION = 1

_FORMAT = "skrnn-model"
_META = "skrnn.json"
_ESTIMATORS = {c.__name__: c for c in (RNNRegressor, RNNClassifier, Seq2SeqTransformer)}
# Plain-data helper objects an estimator holds; restored field by field, as
# unpickling would, but only for these classes and only from JSON / arrays.
_OBJECTS = {
    c.__name__: c for c in (LabelBinarizer, TrainState, AdamOptimizer, SGDOptimizer)
}
# TrainState fields that alias or copy the weights: not stored twice.
_TRAIN_STATE_LINKED = ("params", "best_params")
_ARRAY_KINDS = "biufcUS"  # no object, void or datetime arrays
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TAGS = (
    "__tuple__",
    "__float__",
    "__scalar__",
    "__ndarray__",
    "__objarray__",
    "__pairs__",
    "__random_state__",
    "__object__",
)
_FIX = "Save the model again with skrnn.persistence.save."


def _bad_file(path, what):
    return ValueError(f"{path!s} is not a valid skrnn model file: {what}. {_FIX}")


# ----------------------------------------------------------------- encoding
class _Encoder:
    """Turns attribute values into JSON-able nodes; arrays go to ``self.arrays``."""

    def __init__(self):
        self.arrays = {}
        self._states = {}

    def __call__(self, value, where):
        if isinstance(value, np.generic):  # before float: np.float64 is a float
            return self._scalar(value, where)
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, Integral):
            return int(value)
        if isinstance(value, float):
            return value if np.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, tuple):
            return {
                "__tuple__": [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
            }
        if isinstance(value, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return self._dict(value, where)
        if isinstance(value, np.random.RandomState):
            return self._random_state(value)
        if _OBJECTS.get(type(value).__name__) is type(value):
            return self._object(value, where)
        raise TypeError(
            f"cannot save {where} of type {type(value).__name__} safely; this is a "
            "bug in skrnn, please report it. pickle or joblib can store the model "
            "meanwhile."
        )

    def _scalar(self, value, where):
        if value.dtype.kind not in "biuf":
            raise TypeError(
                f"cannot save {where}: NumPy scalar of dtype {value.dtype}."
            )
        item = value.item()
        if isinstance(item, float) and not np.isfinite(item):
            item = repr(item)
        return {"__scalar__": value.dtype.str, "value": item}

    def _array(self, value, where):
        if value.dtype == object:
            items = [self(v, where) for v in value.ravel()]
            if any(isinstance(v, (dict, list)) for v in items):
                raise TypeError(
                    f"cannot save {where}: object array holding containers; only "
                    "str, numbers, bool and None are supported."
                )
            return {"__objarray__": {"shape": list(value.shape), "items": items}}
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"cannot save {where}: array of dtype {value.dtype}.")
        key = f"arrays/{len(self.arrays)}.npy"
        self.arrays[key] = value
        return {"__ndarray__": key}

    def _dict(self, value, where):
        plain = all(isinstance(k, str) and k not in _TAGS for k in value)
        if plain:
            return {k: self(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {
            "__pairs__": [
                [self(k, f"{where} key"), self(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
        }

    def _random_state(self, rs):
        ref = self._states.get(id(rs))
        if ref is not None:  # one generator shared by two attributes stays shared
            return {"__random_state__": {"ref": ref}}
        ref = self._states[id(rs)] = len(self._states)
        name, keys, pos, has_gauss, gauss = rs.get_state(legacy=True)
        state = {"keys": self._array(keys, "random state"), "pos": int(pos)}
        state.update(has_gauss=int(has_gauss), gauss=float(gauss), id=ref)
        return {"__random_state__": state}

    def _object(self, obj, where):
        name = type(obj).__name__
        fields = {
            k: v
            for k, v in vars(obj).items()
            if not (name == "TrainState" and k in _TRAIN_STATE_LINKED)
        }
        state = {k: self(v, f"{where}.{k}") for k, v in fields.items()}
        return {"__object__": {"type": name, "state": state}}


# ----------------------------------------------------------------- decoding
class _Decoder:
    """Rebuilds values from JSON nodes, reading arrays from the open archive."""

    def __init__(self, archive, path):
        self.archive = archive
        self.path = path
        self._states = {}

    def fail(self, what):
        return _bad_file(self.path, what)

    def __call__(self, node, where):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self(v, f"{where}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict):
            raise self.fail(f"{where} has an unreadable value")
        if any(k in _TAGS for k in node):
            tag = next(iter(node))
            if tag not in _TAGS:
                raise self.fail(f"{where} has an unreadable value")
            return getattr(self, "_" + tag.strip("_"))(node, node[tag], where)
        return {k: self(v, f"{where}[{k!r}]") for k, v in node.items()}

    def _tuple(self, node, value, where):
        if not isinstance(value, list):
            raise self.fail(f"{where} is a malformed tuple")
        return tuple(self(v, f"{where}[{i}]") for i, v in enumerate(value))

    def _float(self, node, value, where):
        if value not in ("nan", "inf", "-inf"):
            raise self.fail(f"{where} is a malformed float")
        return float(value)

    def _scalar(self, node, dtype, where):
        try:
            dtype = np.dtype(dtype)
            if dtype.kind not in "biuf":
                raise TypeError(dtype)
            return dtype.type(node["value"])
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise self.fail(f"{where} is a malformed NumPy scalar") from exc

    def _ndarray(self, node, key, where):
        if not isinstance(key, str) or key not in self.archive.namelist():
            raise self.fail(f"array {key!r} for {where} is missing")
        try:
            with self.archive.open(key) as f:
                array = np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise self.fail(
                f"array {key!r} for {where} cannot be read ({exc})"
            ) from exc
        if array.dtype.kind not in _ARRAY_KINDS:
            raise self.fail(f"array {key!r} for {where} has dtype {array.dtype}")
        return array

    def _objarray(self, node, value, where):
        try:
            shape, items = tuple(value["shape"]), value["items"]
            out = np.empty(len(items), dtype=object)
            for i, item in enumerate(items):
                item = self(item, where)
                if isinstance(item, (list, dict, tuple, np.ndarray)):
                    raise TypeError(type(item))
                out[i] = item
            return out.reshape(shape)
        except (TypeError, ValueError, KeyError) as exc:
            raise self.fail(f"{where} is a malformed object array") from exc

    def _pairs(self, node, value, where):
        try:
            return {
                self(k, f"{where} key"): self(v, f"{where} value") for k, v in value
            }
        except (TypeError, ValueError) as exc:
            raise self.fail(f"{where} is a malformed mapping") from exc

    def _random_state(self, node, value, where):
        if isinstance(value, dict) and set(value) == {"ref"}:
            if value["ref"] not in self._states:
                raise self.fail(f"{where} refers to an unknown random state")
            return self._states[value["ref"]]
        try:
            keys = self(value["keys"], where)
            rs = np.random.RandomState()
            state = ("MT19937", keys, value["pos"], value["has_gauss"], value["gauss"])
            rs.set_state(state)
        except (TypeError, ValueError, KeyError) as exc:
            raise self.fail(f"{where} is a malformed random state") from exc
        self._states[value.get("id")] = rs
        return rs

    def _object(self, node, value, where):
        cls = _OBJECTS.get(value.get("type") if isinstance(value, dict) else None)
        state = value.get("state") if cls is not None else None
        if cls is None or not isinstance(state, dict):
            raise self.fail(f"{where} has an unknown object type")
        obj = cls.__new__(cls)
        for name, item in state.items():
            _check_name(name, cls, self)
            setattr(obj, name, self(item, f"{where}.{name}"))
        if cls is TrainState:
            missing = set(TrainState.__dataclass_fields__) - set(vars(obj))
            if missing - set(_TRAIN_STATE_LINKED):
                raise self.fail(f"{where} lacks {sorted(missing)}")
        return obj


def _check_name(name, cls, decoder):
    """Attribute names from a file: identifiers that shadow no method or property."""
    static = inspect.getattr_static(cls, name, None) if isinstance(name, str) else None
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or name.startswith("__")
        or callable(static)
        or hasattr(static, "__get__")
    ):
        raise decoder.fail(f"attribute name {name!r} is not allowed")


# ---------------------------------------------------------------- public API
def save(estimator, path, *, compress=True):
    """Save a fitted estimator to one file, without pickle.

    The file is a zip archive (readable by :func:`numpy.load`) holding the
    weights and every other array as ``.npy`` entries, and ``skrnn.json``: the
    class name, the hyperparameters (``get_params``), the fitted attributes and
    the training state (optimizer moments, random generator), so that a loaded
    model predicts identically and continues training (``warm_start``,
    ``partial_fit``) exactly as the saved one would have.

    Parameters
    ----------
    estimator : fitted RNNRegressor, RNNClassifier or Seq2SeqTransformer
        The model to save (not a ``Pipeline``; save each step or use joblib).
    path : str or os.PathLike
        Destination file, conventionally ending in ``.npz``. Written to a
        temporary file first and then moved into place, so a failed save never
        leaves a truncated model behind.
    compress : bool, default=True
        Deflate the archive entries.

    Returns
    -------
    path : str or os.PathLike
        `path`, unchanged.

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
    if _ESTIMATORS.get(cls.__name__) is not cls:
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
    encode = _Encoder()
    params = estimator.get_params(deep=False)
    meta = {
        "format": _FORMAT,
        "format_version": FORMAT_VERSION,
        "skrnn_version": __version__,
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "class": cls.__name__,
        "params": {k: encode(v, k) for k, v in params.items()},
        "attributes": {
            k: encode(v, k) for k, v in vars(estimator).items() if k not in params
        },
    }
    text = json.dumps(meta, allow_nan=False, indent=1)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", method) as zf:
            zf.writestr(_META, text)
            for key, array in encode.arrays.items():
                with zf.open(key, "w", force_zip64=True) as f:
                    np.lib.format.write_array(f, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def load(path):
    """Load an estimator written by :func:`save`, without unpickling anything.

    Only JSON and plain ``.npy`` arrays are read (``allow_pickle=False``); the
    class must be one of skrnn's estimators, its hyperparameters are validated
    as in ``fit`` and the weights are checked against the architecture they
    describe before the model is returned.

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
        If the file is not an skrnn model, is damaged or was tampered with, or
        was written by a newer file format.

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
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise _bad_file(path, f"not a zip archive ({exc})") from exc
    with archive:
        try:
            meta = json.loads(archive.read(_META).decode("utf-8"))
        except KeyError as exc:
            raise _bad_file(path, f"no {_META} entry") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad_file(path, f"{_META} is not valid JSON ({exc})") from exc
        return _rebuild(meta, _Decoder(archive, path))


def _rebuild(meta, decode):
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
        raise decode.fail(f"{_META} does not describe an skrnn model")
    version = meta.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise decode.fail(
            f"file format version {version!r}, this skrnn reads up to "
            f"{FORMAT_VERSION} (upgrade skrnn to read newer files)"
        )
    cls = _ESTIMATORS.get(meta.get("class"))
    if cls is None:
        raise decode.fail(
            f"unknown estimator class {meta.get('class')!r}; expected one of "
            f"{sorted(_ESTIMATORS)}"
        )
    params, attributes = meta.get("params"), meta.get("attributes")
    if not isinstance(params, dict) or not isinstance(attributes, dict):
        raise decode.fail("params or attributes are missing")
    estimator = cls()
    unknown = set(params) - set(estimator.get_params(deep=False))
    if unknown:
        raise decode.fail(f"unknown parameters {sorted(unknown)} for {cls.__name__}")
    estimator.set_params(**{k: decode(v, k) for k, v in params.items()})
    try:
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise decode.fail(f"invalid parameters ({exc})") from exc
    for name, node in attributes.items():
        _check_name(name, cls, decode)
        if name in params:
            raise decode.fail(f"attribute {name!r} repeats a parameter")
        setattr(estimator, name, decode(node, name))
    if isinstance(getattr(estimator, "_train_state", None), TrainState):
        estimator._train_state.params = getattr(estimator, "state_dict_", None)
        estimator._train_state.best_params = None
    _check_weights(estimator, decode)
    if meta.get("skrnn_version") != __version__:
        warnings.warn(
            f"this model was saved with skrnn {meta.get('skrnn_version')} and is "
            f"loaded with skrnn {__version__}; check its predictions, or refit it.",
            UserWarning,
            stacklevel=3,
        )
    return estimator


def _check_weights(estimator, decode):
    """Weights must be exactly those of the architecture the attributes describe."""
    weights = getattr(estimator, "state_dict_", None)
    if not isinstance(weights, dict) or not weights:
        raise decode.fail("the weights (state_dict_) are missing")
    dtypes = {getattr(w, "dtype", None) for w in weights.values()}
    if len(dtypes) != 1 or dtypes.pop() not in (np.float32, np.float64):
        raise decode.fail("the weights must all be float32 or all float64 arrays")
    dtype = next(iter(weights.values())).dtype
    try:
        expected = estimator._arch().init_params(np.random.RandomState(0), dtype)
    except Exception as exc:  # any inconsistency in the fitted attributes
        raise decode.fail(f"the fitted attributes are inconsistent ({exc})") from exc
    shapes = {k: v.shape for k, v in weights.items()}
    if shapes != {k: v.shape for k, v in expected.items()}:
        raise decode.fail("the weights do not match the model's architecture")
    if not all(np.isfinite(w).all() for w in weights.values()):
        raise decode.fail("the weights contain NaN or infinity")
    try:  # one tiny prediction exercises every remaining fitted attribute
        estimator.predict(np.zeros((1, 2, estimator._n_step_features), dtype))
    except Exception as exc:
        raise decode.fail(f"the fitted attributes are inconsistent ({exc})") from exc


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
        *_ESTIMATORS.values(),
        *transformers,
        TrainState,
        AdamOptimizer,
        SGDOptimizer,
    ]
    return [f"{c.__module__}.{c.__qualname__}" for c in classes]
