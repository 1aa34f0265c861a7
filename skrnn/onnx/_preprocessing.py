"""skl2onnx parsers and converters of the ``skrnn.preprocessing`` transformers."""

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..preprocessing import (
    PadTruncate,
    SequenceScaler,
    SlidingWindowTransformer,
    WideToSequence,
)
from ._common import (
    check_exportable,
    check_sequence_inputs,
    declare_output,
    input_dtype,
    lengths_type,
    read_inputs,
    tensor_type,
)
from ._graph import GraphBuilder

__all__ = ["transformer_converters"]

#: The parameters each converter implements (None: every value), as for the
#: estimators: a parameter added later must keep its default to be exported.
_SCALER_PARAMS = {
    "method": {"standard", "minmax"},
    "feature_range": None,
    "with_mean": None,
    "with_std": None,
}
_PAD_PARAMS = {
    "maxlen": None,
    "padding": {"pre", "post"},
    "truncating": {"pre", "post"},
    "value": None,
}
_WIDE_PARAMS = {"n_timesteps": None, "n_features": None, "order": {"time", "feature"}}
_WINDOWS_PARAMS = {"window": None, "stride": None}


def _declare(scope, model, alias, inputs, shape, dtype, lengths_out):
    op = scope.declare_local_operator(alias, model)
    op.inputs = list(inputs)
    declare_output(scope, op, "variable", tensor_type(dtype, shape))
    if lengths_out:
        declare_output(scope, op, "lengths", lengths_type())
    return op.outputs


def _builder(scope, operator, container):
    dtype = input_dtype(operator.inputs[0])
    b = GraphBuilder(scope, container, dtype)
    X, lengths = read_inputs(b, operator, dtype)
    return operator.raw_operator, b, X, lengths


def _batch_lengths(b, X, lengths):
    """The lengths input, or every sequence full length when there is none."""
    if lengths is not None:
        return lengths
    return b.op("Expand", b.dim(X, 1), b.dim(X, 0))


# -------------------------------------------------------------- SequenceScaler
def parse_scaler(scope, model, inputs, custom_parsers=None):
    check_exportable(model, _SCALER_PARAMS)
    check_sequence_inputs(model, inputs, model._n_step_features)
    shape = list(inputs[0].type.shape)
    return _declare(
        scope, model, "SkrnnSequenceScaler", inputs, shape,
        input_dtype(inputs[0]), len(inputs) == 2,
    )  # fmt: skip


def convert_scaler(scope, operator, container):
    model, b, X, lengths = _builder(scope, operator, container)
    out = b.op("Div", b.op("Sub", X, b.const(model.center_)), b.const(model.scale_))
    if len(operator.inputs[0].type.shape) == 2:
        out = b.squeeze(out, 2)
    b.identity(out, operator.outputs[0].full_name)
    if lengths is not None:
        b.identity(lengths, operator.outputs[1].full_name)


# ----------------------------------------------------------------- PadTruncate
def parse_pad(scope, model, inputs, custom_parsers=None):
    check_exportable(model, _PAD_PARAMS)
    check_sequence_inputs(model, inputs, model._n_step_features)
    rank = len(inputs[0].type.shape)
    shape = [None, model.maxlen_] + ([model._n_step_features] if rank == 3 else [])
    # every output sequence is maxlen_ steps long: no lengths output
    return _declare(
        scope, model, "SkrnnPadTruncate", inputs, shape, input_dtype(inputs[0]), False
    )


def convert_pad(scope, operator, container):
    model, b, X, lengths = _builder(scope, operator, container)
    maxlen, F = model.maxlen_, model._n_step_features
    L = _batch_lengths(b, X, lengths)
    kept = b.op("Min", L, b.ints(maxlen))
    zero = b.ints(0)
    src_start = b.op("Sub", L, kept) if model.truncating == "pre" else zero
    dst_start = b.op("Sub", b.ints(maxlen), kept) if model.padding == "pre" else zero
    rel = b.op("Sub", b.const(np.arange(maxlen)[None, :]), b.unsqueeze(dst_start, 1))
    valid = b.op(
        "And",
        b.op("GreaterOrEqual", rel, zero),
        b.op("Less", rel, b.unsqueeze(kept, 1)),
    )
    src = b.op("Add", rel, b.unsqueeze(src_start, 1))
    last = b.op("Sub", b.dim(X, 1), b.ints(1))
    src = b.op("Max", b.op("Min", src, last), zero)
    shape = b.op("Concat", b.dim(X, 0), b.ints(maxlen, F), axis=0)
    index = b.op("Expand", b.unsqueeze(src, 2), shape)
    out = b.op("GatherElements", X, index, axis=1)
    out = b.op("Where", b.unsqueeze(valid, 2), out, b.const(float(model.value)))
    if len(operator.inputs[0].type.shape) == 2:
        out = b.squeeze(out, 2)
    b.identity(out, operator.outputs[0].full_name)


# -------------------------------------------------------------- WideToSequence
def parse_wide(scope, model, inputs, custom_parsers=None):
    check_exportable(model, _WIDE_PARAMS)
    check_is_fitted(model)
    shape = list(inputs[0].type.shape)
    if (
        len(inputs) != 1
        or len(shape) != 2
        or shape[1] not in (None, model.n_features_in_)
    ):
        raise ValueError(
            "cannot export WideToSequence to ONNX: it takes one 2-D input of "
            f"{model.n_features_in_} columns, got {[v.type for v in inputs]}; pass "
            "a sample of the wide table seen in fit."
        )
    t, f = model.n_timesteps_, model.n_features_
    return _declare(
        scope, model, "SkrnnWideToSequence", inputs, [None, t, f],
        input_dtype(inputs[0]), False,
    )  # fmt: skip


def convert_wide(scope, operator, container):
    model = operator.raw_operator
    b = GraphBuilder(scope, container, input_dtype(operator.inputs[0]))
    X, t, f = operator.inputs[0].full_name, model.n_timesteps_, model.n_features_
    if model.order == "time":
        out = b.op("Reshape", X, b.ints(0, t, f))
    else:
        out = b.transpose(b.op("Reshape", X, b.ints(0, f, t)), 0, 2, 1)
    b.identity(out, operator.outputs[0].full_name)


# ---------------------------------------------------- SlidingWindowTransformer
def parse_windows(scope, model, inputs, custom_parsers=None):
    check_exportable(model, _WINDOWS_PARAMS)
    check_sequence_inputs(model, inputs, model._n_step_features)
    T = inputs[0].type.shape[1]
    if T is not None and T < model.window:
        raise ValueError(
            f"cannot export SlidingWindowTransformer to ONNX: X has {T} time steps, "
            f"fewer than window={model.window}; pass longer sequences."
        )
    shape = [None, None, model.window * model._n_step_features]
    return _declare(
        scope, model, "SkrnnSlidingWindowTransformer", inputs, shape,
        input_dtype(inputs[0]), len(inputs) == 2,
    )  # fmt: skip


def _n_windows(b, model, L):
    """``(L - window) // stride + 1`` for int64 ``L`` (>= window)."""
    span = b.op("Sub", L, b.ints(model.window))
    return b.op("Add", b.op("Div", span, b.ints(model.stride)), b.ints(1))


def convert_windows(scope, operator, container):
    model, b, X, lengths = _builder(scope, operator, container)
    w, s = model.window, model.stride
    n = _n_windows(b, model, b.dim(X, 1))
    # window k's steps: X[:, k : k + (n - 1) * s + 1 : s]
    span = b.op("Add", b.op("Mul", b.op("Sub", n, b.ints(1)), b.ints(s)), b.ints(1))
    parts = [
        b.op("Slice", X, b.ints(k), b.op("Add", span, b.ints(k)), b.ints(1), b.ints(s))
        for k in range(w)
    ]
    out = parts[0] if w == 1 else b.op("Concat", *parts, axis=2)
    b.identity(out, operator.outputs[0].full_name)
    if lengths is not None:
        b.identity(_n_windows(b, model, lengths), operator.outputs[1].full_name)


def transformer_converters():
    """``(class, alias, parser, converter, options)`` of each transformer."""
    return [
        (SequenceScaler, "SkrnnSequenceScaler", parse_scaler, convert_scaler, None),
        (PadTruncate, "SkrnnPadTruncate", parse_pad, convert_pad, None),
        (WideToSequence, "SkrnnWideToSequence", parse_wide, convert_wide, None),
        (
            SlidingWindowTransformer,
            "SkrnnSlidingWindowTransformer",
            parse_windows,
            convert_windows,
            None,
        ),
    ]
