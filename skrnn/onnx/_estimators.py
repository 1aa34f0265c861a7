"""skl2onnx parsers, shape calculators and converters of the skrnn estimators."""

import numpy as np
from onnx import TensorProto
from skl2onnx.common.data_types import Int64TensorType, StringTensorType

from .. import RNNClassifier, RNNRegressor, Seq2SeqTransformer
from ._common import (
    check_exportable,
    check_sequence_inputs,
    declare_output,
    model_dtype,
    read_inputs,
    tensor_type,
)
from ._graph import GraphBuilder
from ._network import SUPPORTED, network_raw, patches
from ._recurrent import step_mask

__all__ = ["estimator_converters", "no_shape_change"]


def _zero_padded(b, out, lengths):
    """A batch-major ``out`` with 0 on the padded steps."""
    if lengths is None:
        return out
    valid = step_mask(b, out, lengths, time_axis=1)
    return b.op("Where", valid, out, b.const(0.0))


def _fitted_network(model):
    """``(arch, params)`` of the model's fitted network, as predict uses it."""
    net = model._network()
    return net.arch, net.params


def _unscale(b, model, raw):
    scale = b.const(model.target_scale_)
    return b.op("Add", b.op("Mul", raw, scale), b.const(model.target_mean_))


def _start(scope, operator, container):
    """``(model, builder, time-major network input, its lengths)``.

    The network input is in patches of ``patch_size_`` steps and ``lengths``
    counts patches (``patch_size_`` is 1 with ``return_sequences=True``).
    """
    model = operator.raw_operator
    dtype = model_dtype(model.state_dict_)
    b = GraphBuilder(scope, container, dtype)
    X, lengths = read_inputs(b, operator, dtype)
    k = getattr(model, "patch_size_", 1)
    X, lengths = patches(b, X, lengths, k, model._n_step_features)
    return model, b, b.transpose(X, 1, 0, 2), lengths


def _sequence_shape(model, n_out, table_out):
    if not model.return_sequences:
        return [None] if getattr(model, "_y_ndim", 2) == 1 else [None, n_out]
    return [None, None] if table_out else [None, None, n_out]


# ------------------------------------------------------------------- regressor
def parse_regressor(scope, model, inputs, custom_parsers=None):
    check_exportable(model, SUPPORTED, scope)
    check_sequence_inputs(model, inputs, model._n_step_features)
    op = scope.declare_local_operator("SkrnnRNNRegressor", model)
    op.inputs = list(inputs)
    shape = _sequence_shape(model, model.n_outputs_, model.n_outputs_ == 1)
    declare_output(scope, op, "variable", tensor_type(_dtype(model), shape))
    return op.outputs


def convert_regressor(scope, operator, container):
    model, b, Xt, lengths = _start(scope, operator, container)
    out = _unscale(b, model, network_raw(b, *_fitted_network(model), Xt, lengths))
    if model.return_sequences:
        out = _zero_padded(b, out, lengths)
        if model.n_outputs_ == 1:
            out = b.squeeze(out, 2)
    elif model._y_ndim == 1:
        out = b.op("Reshape", out, b.ints(-1))
    b.identity(out, operator.outputs[0].full_name)


# ------------------------------------------------------------------ classifier
def _label_type(model, shape):
    kind = np.asarray(model.classes_).dtype.kind
    if model._label_binarizer.y_type_ == "multilabel-indicator" or kind in "iub":
        return Int64TensorType(shape), "int"
    if kind == "f":
        return tensor_type(np.float64, shape), "float"
    if kind in "USO" and all(isinstance(c, str) for c in model.classes_):
        return StringTensorType(shape), "str"
    raise ValueError(
        f"cannot export RNNClassifier to ONNX: its classes_ {model.classes_!r} are "
        "neither numbers nor strings; fit on integer or string labels."
    )


def parse_classifier(scope, model, inputs, custom_parsers=None):
    check_exportable(model, SUPPORTED, scope)
    check_sequence_inputs(model, inputs, model._n_step_features)
    op = scope.declare_local_operator("SkrnnRNNClassifier", model)
    op.inputs = list(inputs)
    multilabel = model._label_binarizer.y_type_ == "multilabel-indicator"
    n_proba = max(2, model.n_outputs_)
    steps = [None] if model.return_sequences else []
    label_shape = [None, *steps] + ([model.n_outputs_] if multilabel else [])
    declare_output(scope, op, "label", _label_type(model, label_shape)[0])
    proba_type = tensor_type(_dtype(model), [None, *steps, n_proba])
    declare_output(scope, op, "probabilities", proba_type)
    return op.outputs


def _class_constant(b, model, kind):
    classes = np.asarray(model.classes_)
    if kind == "str":
        name = b.scope.get_unique_variable_name("classes")
        values = [str(c).encode("utf-8") for c in classes]
        b.container.add_initializer(name, TensorProto.STRING, [len(values)], values)
        return name
    return b.const(classes, np.float64 if kind == "float" else np.int64)


def convert_classifier(scope, operator, container):
    model, b, Xt, lengths = _start(scope, operator, container)
    raw = network_raw(b, *_fitted_network(model), Xt, lengths)
    eps = np.finfo(b.dtype).eps
    multilabel = model._label_binarizer.y_type_ == "multilabel-indicator"
    _, kind = _label_type(model, None)
    if model._loss_name == "log_loss":  # multiclass: softmax, argmax
        proba = b.op("Softmax", raw, axis=-1)
        index = b.op("ArgMax", proba, axis=-1, keepdims=0)
    else:
        proba = b.sigmoid(raw)
        index = b.cast(b.op("Greater", proba, b.const(0.5)), np.int64)
        if not multilabel:
            index = b.squeeze(index, -1)
    proba = b.op("Clip", proba, b.const(eps), b.const(1 - eps))
    if model._loss_name != "log_loss" and not multilabel:
        proba = b.op("Concat", b.op("Sub", b.const(1.0), proba), proba, axis=-1)
    label = (
        index if multilabel else b.op("Gather", _class_constant(b, model, kind), index)
    )
    b.identity(label, operator.outputs[0].full_name)
    b.identity(proba, operator.outputs[1].full_name)


# ------------------------------------------------------------------- seq2seq
_SEQ2SEQ_METHODS = ("transform", "predict")


def _seq2seq_method(scope, model):
    method = scope.get_options(model, {"method": "transform"})["method"]
    if method not in _SEQ2SEQ_METHODS:
        raise ValueError(
            f"cannot export Seq2SeqTransformer to ONNX with method={method!r}; pass "
            "options={id(model): {'method': 'transform'}} (the codes) or "
            "'predict' (the decoded sequences)."
        )
    return method


def _seq2seq_table_out(model, X_rank):
    kind = "table" if X_rank == 2 else "array"
    kind = kind if model._autoencoder else model._target_kind
    return model.n_outputs_ == 1 and kind in ("table", "list1d")


def parse_seq2seq(scope, model, inputs, custom_parsers=None):
    check_exportable(model, SUPPORTED, scope)
    method = _seq2seq_method(scope, model)
    check_sequence_inputs(model, inputs, model._n_step_features)
    op = scope.declare_local_operator("SkrnnSeq2SeqTransformer", model)
    op.inputs = list(inputs)
    if method == "transform":
        shape = [None, model.n_components]
    elif _seq2seq_table_out(model, len(inputs[0].type.shape)):
        shape = [None, None]
    else:
        shape = [None, None, model.n_outputs_]
    declare_output(scope, op, "variable", tensor_type(_dtype(model), shape))
    return op.outputs


def convert_seq2seq(scope, operator, container):
    model, b, Xt, lengths = _start(scope, operator, container)
    encoder, decoder = model._network().halves()
    Z = network_raw(b, encoder.arch, encoder.params, Xt, lengths)
    if _seq2seq_method(scope, model) == "transform":
        b.identity(Z, operator.outputs[0].full_name)
        return
    if model._autoencoder:
        T, out_lengths = b.dim(Xt, 0), lengths
    else:
        T, out_lengths = b.ints(model.n_timesteps_out_), None
    shape = b.op("Concat", T, b.dim(Xt, 1), b.ints(model.n_components), axis=0)
    Xd = b.op("Expand", b.unsqueeze(Z, 0), shape)
    raw = network_raw(b, decoder.arch, decoder.params, Xd, out_lengths)
    out = _unscale(b, model, raw)
    out = _zero_padded(b, out, out_lengths)
    if _seq2seq_table_out(model, len(operator.inputs[0].type.shape)):
        out = b.squeeze(out, 2)
    b.identity(out, operator.outputs[0].full_name)


def _dtype(model):
    return model_dtype(model.state_dict_)


def no_shape_change(operator):
    """Shape calculator: the parser already declared every output's type."""


def estimator_converters():
    """``(class, alias, parser, converter, options)`` of each skrnn estimator."""
    return [
        (RNNRegressor, "SkrnnRNNRegressor", parse_regressor, convert_regressor, None),
        (
            RNNClassifier,
            "SkrnnRNNClassifier",
            parse_classifier,
            convert_classifier,
            {"zipmap": [False]},
        ),
        (
            Seq2SeqTransformer,
            "SkrnnSeq2SeqTransformer",
            parse_seq2seq,
            convert_seq2seq,
            {"method": list(_SEQ2SEQ_METHODS)},
        ),
    ]
