"""What a model file may set on an estimator: an allow-list, every entry checked."""

from math import prod

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from ._cells import CELLS
from ._classifier import RNNClassifier
from ._encoder_decoder import EncoderDecoder
from ._inference_params import inference_params
from ._network import param_shapes
from ._persistence_format import Invalid, short
from ._persistence_training import decode_training, encode_training, training_entries
from ._persistence_values import (
    boolean,
    decode_param,
    encode_param,
    integer,
    integers,
    json_value,
    one_of,
    optional,
    real,
    reals,
)
from ._regressor import RNNRegressor
from ._seq2seq import Seq2SeqTransformer

__all__ = [
    "ARRAYS",
    "DERIVED",
    "ESTIMATORS",
    "SCALARS",
    "SECTIONS",
    "check_consistent",
    "decode_estimator",
    "decode_params",
    "encode_estimator",
    "smoke_test",
]

ESTIMATORS = {c.__name__: c for c in (RNNRegressor, RNNClassifier, Seq2SeqTransformer)}
_COMMON = {
    "n_features_in_": integer(1),
    "_n_step_features": integer(1),
    "_fitted_layout": one_of("table", "sequences"),
    "_fit_n_timesteps": optional(integer(1)),
    "patch_size_": integer(1),
    "hidden_layer_sizes_": integers(1),
    "n_outputs_": integer(1),
    "n_iter_": integer(0),
    "t_": integer(0),
    "best_loss_": optional(real(finite=False)),
    "best_validation_score_": optional(real(finite=False)),
}
#: Fitted attributes stored as JSON values, each with the reader that checks it.
_LEVEL = {
    "local_level_": optional(one_of("last", "mean")),
    "level_features_": optional(integers(0)),
}
SCALARS = {
    "RNNRegressor": {
        **_COMMON,
        **_LEVEL,
        "level_gain_": optional(reals()),
        "_y_ndim": one_of(1, 2),
    },
    "RNNClassifier": _COMMON,
    "Seq2SeqTransformer": {
        **_COMMON,
        **_LEVEL,
        "_autoencoder": boolean,
        "_target_kind": one_of("table", "array", "list", "list1d"),
        "n_timesteps_out_": integer(1, 2**31),
    },
}
_CURVES = ("loss_curve_", "grad_norm_curve_", "validation_scores_")
_TARGETS = ("target_mean_", "target_scale_")
#: Fitted attributes stored as ``.npy`` entries ``fitted/<name>.npy``.
ARRAYS = {
    "RNNRegressor": (*_CURVES, *_TARGETS),
    "RNNClassifier": (*_CURVES, "classes_"),
    "Seq2SeqTransformer": (*_CURVES, *_TARGETS),
}
#: Set on load from the stored attributes (``save`` checks that they agree).
DERIVED = (
    "_inference_params",
    "loss_",
    "receptive_field_",
    "_loss_name",
    "bidirectional_",
    "linear_skip_",
)
#: Stored in sections of their own: the weights, the column names, the label
#: encoder (its type; its classes are ``classes_``) and the training state.
SECTIONS = (
    "state_dict_",
    "feature_names_in_",
    "_label_binarizer",
    "_train_state",
    "_random_state",
)
_LABEL_TYPES = ("binary", "multiclass", "multilabel-indicator")
_FLOATS = frozenset({"<f4", "<f8"})


def _entry(attr):
    return f"fitted/{attr}.npy"


def weight_shapes(arch):
    """Expected weight names and shapes, by arithmetic on the architecture."""
    if isinstance(arch, EncoderDecoder):
        return {
            f"{part}.{name}": shape
            for part in ("encoder", "decoder")
            for name, shape in param_shapes(getattr(arch, part)).items()
        }
    return param_shapes(arch)


def _reads_backwards(names):
    """Whether weight names (or ``weights/<name>.npy`` entries) hold a reverse
    direction: the network was bidirectional."""
    return any(n.removesuffix(".npy").endswith("_reverse") for n in names)


def _decode_bidirectional(est, manifest):
    """``bidirectional_`` from the stored weights, checked against the parameter."""
    both = _reads_backwards(e for e in manifest if e.startswith("weights/"))
    if isinstance(est.bidirectional, bool) and est.bidirectional != both:
        raise Invalid(
            f"bidirectional={est.bidirectional} but the weights "
            f"{'hold' if both else 'lack'} a reverse direction"
        )
    est.bidirectional_ = both


def _linear_skip_of(width, est):
    """``linear_skip_`` from the width of ``skip.weight`` (None: no skip)."""
    return 0 if width is None else width // est._n_step_features


def _decode_skip(est, manifest):
    """``linear_skip_`` of a regressor from its stored ``skip.weight``."""
    if not isinstance(est, RNNRegressor):
        return
    shape = manifest.get("weights/skip.weight.npy", (None, None))[1]
    width = None if shape is None or len(shape) != 2 else int(shape[1])
    if width is not None and width % (est._n_step_features * est.patch_size_):
        raise Invalid("skip.weight does not read whole patches of input steps")
    if est.linear_skip != "auto" and bool(est.linear_skip) != (width is not None):
        raise Invalid(
            f"linear_skip={est.linear_skip} but the weights "
            f"{'hold' if width is not None else 'lack'} a skip.weight"
        )
    est.linear_skip_ = _linear_skip_of(width, est)


def derived(est):
    """The attributes ``load`` computes from the stored ones."""
    out = {
        "_inference_params": inference_params(est),
        "loss_": est.loss_curve_[-1] if est.loss_curve_ else np.nan,
        "bidirectional_": _reads_backwards(est.state_dict_),
    }
    field = est._receptive_field()
    if field is not None:
        out["receptive_field_"] = field
    if isinstance(est, RNNRegressor):
        skip = est.state_dict_.get("skip.weight")
        width = None if skip is None else skip.shape[1]
        out["linear_skip_"] = _linear_skip_of(width, est)
    if isinstance(est, RNNClassifier):
        multiclass = est._label_binarizer.y_type_ == "multiclass"
        out["_loss_name"] = "log_loss" if multiclass else "binary_log_loss"
    return out


# ------------------------------------------------------------------ encoding
def _encode_array(est, attr, arrays):
    value = getattr(est, attr)
    if attr == "validation_scores_" and value is None:
        return None
    if attr in _CURVES:
        value = np.asarray(value, dtype=np.float64)
    if not isinstance(value, np.ndarray):
        raise Invalid(f"{attr} is a {type(value).__name__}, not an array")
    if value.dtype == object:  # labels of any Python type: kept in the JSON
        labels = [json_value(v, attr) for v in value.tolist()]
        if any(v is None or isinstance(v, dict) for v in labels):
            raise Invalid(f"{attr} holds labels that are not str, int or float")
        return {"object": labels}
    arrays[_entry(attr)] = value
    return _entry(attr)


def check_consistent(est):
    """What ``load`` rebuilds rather than reads must be what the model holds."""
    for name, value in derived(est).items():
        held = getattr(est, name, None)
        same = held is value or held == value or (held != held and value != value)
        if not same:
            raise Invalid(f"{name} is {short(held)}, but the model implies {value!r}")
    if est._receptive_field() is None and hasattr(est, "receptive_field_"):
        raise Invalid("it has a receptive_field_ but cell is not 'wavenet'")
    if isinstance(est, RNNClassifier):
        lb = est._label_binarizer
        if not (
            type(lb) is LabelBinarizer
            and (lb.neg_label, lb.pos_label, lb.sparse_output) == (0, 1, False)
            and lb.sparse_input_ is False
            and lb.classes_.dtype == est.classes_.dtype
            and np.array_equal(lb.classes_, est.classes_)
        ):
            raise Invalid("its label encoder does not match classes_")


def encode_estimator(est):
    """``(sections, arrays)``: the JSON sections of the file and its ``.npy`` arrays."""
    name = type(est).__name__
    params = est.get_params(deep=False)
    arrays = {f"weights/{k}.npy": v for k, v in est.state_dict_.items()}
    fitted = {k: json_value(getattr(est, k), k) for k in SCALARS[name]}
    for attr in ARRAYS[name]:
        fitted[attr] = _encode_array(est, attr, arrays)
    if hasattr(est, "feature_names_in_"):
        fitted["feature_names_in_"] = list(est.feature_names_in_)
    if isinstance(est, RNNClassifier):
        fitted["_label_binarizer"] = {"y_type_": est._label_binarizer.y_type_}
    sections = {
        "params": {k: encode_param(v, k) for k, v in params.items()},
        "fitted": fitted,
        "training": encode_training(est, arrays),
    }
    return sections, arrays


# ------------------------------------------------------------------ decoding
def decode_params(cls, node):
    """A fresh estimator with the file's hyperparameters, validated by the class."""
    if not isinstance(node, dict):
        raise Invalid("the params section is missing")
    est = cls()
    unknown = set(node) - set(est.get_params(deep=False))
    if unknown:
        raise Invalid(f"unknown parameters {sorted(unknown)[:5]} for {cls.__name__}")
    est.set_params(**{k: decode_param(v, f"params[{k!r}]") for k, v in node.items()})
    try:
        est._validate_params()
        est._hidden_sizes()
        est._check_combination()
    except (TypeError, ValueError) as exc:
        raise Invalid(f"invalid parameters ({exc})") from exc
    return est


def _decode_scalars(est, fitted):
    name = type(est).__name__
    allowed = {*SCALARS[name], *ARRAYS[name], "feature_names_in_"}
    if isinstance(est, RNNClassifier):
        allowed.add("_label_binarizer")
    unknown = set(fitted) - allowed
    if unknown:
        raise Invalid(f"attributes {sorted(unknown)[:5]} are not ones skrnn stores")
    missing = allowed - set(fitted) - {"feature_names_in_"}
    if missing:
        raise Invalid(f"attributes {sorted(missing)[:5]} are missing")
    for attr, read in SCALARS[name].items():
        setattr(est, attr, read(fitted[attr], attr))
    names = fitted.get("feature_names_in_")
    if names is not None:
        if est._fitted_layout != "table" or not isinstance(names, list):
            raise Invalid("feature_names_in_ belongs to a model fitted on a table")
        if len(names) != est.n_features_in_ or not all(
            isinstance(n, str) for n in names
        ):
            raise Invalid("feature_names_in_ must be n_features_in_ strings")
        est.feature_names_in_ = np.asarray(names, dtype=object)
    if isinstance(est, RNNClassifier):
        lb = fitted["_label_binarizer"]
        if not isinstance(lb, dict) or set(lb) != {"y_type_"}:
            raise Invalid("_label_binarizer must hold exactly its y_type_")
        est._label_binarizer = LabelBinarizer()
        est._label_binarizer.y_type_ = one_of(*_LABEL_TYPES)(lb["y_type_"], "y_type_")
        est._label_binarizer.sparse_input_ = False


def _check_scalars(est):
    """Relations between the fitted scalars that every fitted model satisfies."""
    table = est._fitted_layout == "table"
    if (
        (est._n_step_features != 1)
        if table
        else (est.n_features_in_ != est._n_step_features)
    ):
        raise Invalid(
            f"n_features_in_={est.n_features_in_} does not fit _n_step_features="
            f"{est._n_step_features} for a model fitted on "
            f"{'a table' if table else 'sequences'}"
        )
    if table and est._fit_n_timesteps not in (None, est.n_features_in_):
        raise Invalid("a model fitted on a table read n_features_in_ steps")
    if not est._stack().recurrent and len(set(est.hidden_layer_sizes_)) != 1:
        raise Invalid("a wavenet stack has layers of equal width")
    patches = "patch_size" in est.get_params(deep=False)
    if est.patch_size_ != 1 and (not patches or est.return_sequences):
        raise Invalid("patch_size_ > 1 needs a many-to-one model with patch_size")
    if isinstance(est, RNNRegressor) and est._y_ndim == 1:
        if est.n_outputs_ != 1 or est.return_sequences:
            raise Invalid("_y_ndim=1 (1-D targets) needs one output per sequence")
    if hasattr(est, "local_level_"):
        _check_levels(est)
    if isinstance(est, RNNClassifier):
        binary = est._label_binarizer.y_type_ == "binary"
        if binary and est.n_outputs_ != 1:
            raise Invalid(f"a binary classifier has 1 output, not {est.n_outputs_}")
        if est._label_binarizer.y_type_ == "multiclass" and est.n_outputs_ < 3:
            raise Invalid("a multiclass classifier has one output per class, 3 or more")
    if isinstance(est, Seq2SeqTransformer) and est._autoencoder:
        if est.n_outputs_ != est._n_step_features:
            raise Invalid("an autoencoder outputs as many features as it reads")
        if (est._target_kind == "table") != table:
            raise Invalid("an autoencoder's output layout is its input layout")


def _check_levels(est):
    features = est.level_features_
    if (est.local_level_ is None) != (features is None):
        raise Invalid("local_level_ and level_features_ are set together")
    gain = getattr(est, "level_gain_", features)
    if (gain is None) != (features is None) or (
        gain is not None and len(gain) != len(features)
    ):
        raise Invalid(
            "level_gain_ holds one gain per level feature, with a local level"
        )
    if features is not None and (
        len(features) != est.n_outputs_ or max(features) >= est._n_step_features
    ):
        raise Invalid(
            "level_features_ needs one input feature index per output, each below "
            "the number of input features"
        )


def _claimed_sizes(est, manifest):
    """The sizes the params claim cannot exceed what the stored weights hold."""
    weights = [s for e, (_, s) in manifest.items() if e.startswith("weights/")]
    n_weights = sum(prod(s) for s in weights)
    hidden = est.hidden_layer_sizes_
    sizes = [*hidden, est.n_outputs_, est._n_step_features * est.patch_size_]
    # each option of the cell that sizes the network (the statal cell's n_states)
    options = getattr(CELLS.get(est.cell), "options", ())
    sizes += [est.n_states] if "n_states" in options else []
    sizes += [getattr(est, "n_components", 1)]
    if len(hidden) > len(weights) or max(sizes) > n_weights:
        raise Invalid(
            f"its hidden_layer_sizes_={short(est.hidden_layer_sizes_)} and parameters "
            f"describe a network larger than the {n_weights} weights it holds"
        )


def _classes_count(est):
    return 2 if est._label_binarizer.y_type_ == "binary" else est.n_outputs_


def _expected(est, fitted, training, manifest):
    """Every entry the file must hold, with its allowed dtypes and shape."""
    _claimed_sizes(est, manifest)
    shapes = weight_shapes(est._arch())
    first = manifest.get(f"weights/{next(iter(shapes))}.npy")
    wdtype = first[0].str if first is not None else "<f8"
    if wdtype not in _FLOATS:
        raise Invalid("the weights must all be float32 or all float64 arrays")
    expected = {f"weights/{k}.npy": ({wdtype}, s) for k, s in shapes.items()}
    slots = training_entries(training, list(shapes))
    for entry in slots[1:]:
        expected[entry] = ({wdtype}, shapes[entry.split("/", 2)[2][:-4]])
    expected[slots[0]] = ({"<f8"}, None)
    for attr in ARRAYS[type(est).__name__]:
        node = fitted[attr]
        if attr == "validation_scores_" and node is None:
            continue
        if attr == "classes_" and isinstance(node, dict):
            continue
        if node != _entry(attr):
            raise Invalid(f"{attr} must name its fixed entry {_entry(attr)}")
        if attr in _CURVES:
            expected[node] = ({"<f8"}, None)
        elif attr in _TARGETS:
            expected[node] = (_FLOATS, (est.n_outputs_,))
        else:
            expected[node] = (None, (_classes_count(est),))
    return expected


def _check_manifest(manifest, expected):
    for entry, (dtypes, shape) in expected.items():
        if entry not in manifest:
            raise Invalid(f"the array {entry} is missing (the architecture needs it)")
        dtype, got = manifest[entry]
        if dtypes is not None and dtype.str not in dtypes:
            raise Invalid(f"{entry} has dtype {dtype}; expected {sorted(dtypes)}")
        if got != shape and (shape is not None or len(got) != 1):
            need = "a 1-D array" if shape is None else shape
            raise Invalid(
                f"{entry} has shape {got}; the model's architecture needs {need}"
            )
    extra = set(manifest) - set(expected)
    if extra:
        raise Invalid(f"unexpected arrays {sorted(extra)[:3]}")


def _read_classes(est, node, reader):
    if isinstance(node, dict):
        labels = node.get("object") if set(node) == {"object"} else None
        ok = isinstance(labels, list) and len(labels) == _classes_count(est)
        if not ok or not all(type(v) in (str, int, float, bool) for v in labels):
            raise Invalid("classes_ must list one label per class")
        classes = np.empty(len(labels), dtype=object)
        classes[:] = labels
    else:
        classes = reader.array(node)
    if est._label_binarizer.y_type_ == "multilabel-indicator":
        if classes.dtype.kind not in "iu" or not np.array_equal(
            classes, np.arange(len(classes))
        ):
            raise Invalid("a multilabel classifier's classes_ are 0, 1, ...")
    elif not np.array_equal(np.unique(classes), classes):
        raise Invalid(f"classes_ ({short(classes.tolist())}) must be sorted and unique")
    est.classes_ = est._label_binarizer.classes_ = classes


def _read_fitted(est, fitted, reader):
    for attr in ARRAYS[type(est).__name__]:
        node = fitted[attr]
        if attr == "classes_":
            _read_classes(est, node, reader)
            continue
        value = None if node is None else reader.array(node)
        if value is not None and not np.isfinite(value).all():
            raise Invalid(f"{attr} contains NaN or infinity")
        if attr == "target_scale_" and not (value > 0).all():
            raise Invalid("target_scale_ must be positive")
        setattr(est, attr, value.tolist() if attr in _CURVES and node else value)


def decode_estimator(est, sections, reader):
    """Set the fitted attributes on ``est`` (params already set) from the file."""
    fitted, training = sections["fitted"], sections["training"]
    if not isinstance(fitted, dict):
        raise Invalid("the fitted section is missing")
    _decode_scalars(est, fitted)
    _decode_bidirectional(est, reader.manifest)
    _check_scalars(est)
    _decode_skip(est, reader.manifest)
    expected = _expected(est, fitted, training, reader.manifest)
    _check_manifest(reader.manifest, expected)
    _read_fitted(est, fitted, reader)
    names = list(weight_shapes(est._arch()))
    weights = {k: reader.array(f"weights/{k}.npy") for k in names}
    if not all(np.isfinite(w).all() for w in weights.values()):
        raise Invalid("the weights contain NaN or infinity")
    est.state_dict_ = weights
    decode_training(est, training, reader)
    for attr, value in derived(est).items():
        setattr(est, attr, value)
    return est


def smoke_test(est):
    """One sample of two steps through every output: finite, or the file is bad."""
    dtype = next(iter(est.state_dict_.values())).dtype
    X = np.zeros((1, 2, est._n_step_features), dtype)
    with np.errstate(all="ignore"):
        if isinstance(est, Seq2SeqTransformer):
            outs = [est.transform(X), est.predict(X, n_timesteps=2)]
        elif isinstance(est, RNNClassifier):
            outs = [est.predict_proba(X)]
            est.predict(X)
        else:
            outs = [est.predict(X)]
    if not all(np.isfinite(np.asarray(o, dtype=np.float64)).all() for o in outs):
        raise Invalid("the model predicts NaN or infinity on a zero input")
