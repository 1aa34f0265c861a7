"""What every skrnn converter shares: export checks, inputs, dtypes, parsers."""

import numpy as np
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    guess_numpy_type,
)
from sklearn.utils.validation import check_is_fitted

from ._graph import OPSET

__all__ = [
    "check_exportable",
    "check_sequence_inputs",
    "input_dtype",
    "read_inputs",
    "tensor_type",
]

_FLOAT_TYPES = {
    np.dtype(np.float32): FloatTensorType,
    np.dtype(np.float64): DoubleTensorType,
}


def tensor_type(dtype, shape=None):
    """The skl2onnx tensor type of a float dtype."""
    return _FLOAT_TYPES[np.dtype(dtype)](shape)


def input_dtype(variable):
    return np.dtype(guess_numpy_type(variable.type))


def _fail(model, what, fix):
    raise ValueError(f"cannot export {type(model).__name__} to ONNX: {what}; {fix}.")


def check_exportable(model, supported, scope=None):
    """Refuse what the converter does not know, before any graph is built.

    ``supported`` maps each constructor parameter the converter understands to
    None (every value is exported) or a set of the values it exports. A
    parameter it does not know (one added to the estimator later) is refused
    whatever its value, even its default: a new option is never exported as if
    it were absent, and its default may be a behaviour the graph lacks (as
    ``pooling="concat"`` was when it became the default).
    """
    check_is_fitted(model)
    for name, value in model.get_params(deep=False).items():
        if name not in supported:
            _fail(
                model,
                f"the parameter {name}={value!r} is not known to the ONNX converter",
                "predict in Python, or teach the converter this parameter (an "
                "entry in skrnn.onnx._network.NETWORK_PARAMS or TRAINING_PARAMS)",
            )
        allowed = supported[name]
        if allowed is not None and value not in allowed:
            _fail(
                model,
                f"{name}={value!r} is not supported",
                f"the ONNX export supports {name} in {sorted(allowed)}",
            )
    if scope is not None and scope.target_opset is not None:
        if scope.target_opset < OPSET:
            _fail(
                model,
                f"target_opset={scope.target_opset} is too old",
                f"pass target_opset >= {OPSET}",
            )


def check_sequence_inputs(model, inputs, n_features):
    """Check the ``(X[, lengths])`` inputs of a sequence model; relax the time axis.

    ``X`` is ``(N, T, F)`` (any ``T``: the time axis is made dynamic) or a 2-D
    table ``(N, T)`` of univariate series; ``lengths`` an int64 ``(N,)``.
    """
    if not 1 <= len(inputs) <= 2:
        _fail(
            model,
            f"it takes 1 or 2 inputs (X and optionally lengths), got {len(inputs)}",
            "pass initial_types with X and, for padded batches, lengths",
        )
    X = inputs[0]
    if not isinstance(X.type, tuple(_FLOAT_TYPES.values())):
        _fail(
            model,
            f"X must be a float32 or float64 tensor, got {X.type}",
            "pass a FloatTensorType or DoubleTensorType input",
        )
    shape = list(X.type.shape)
    if len(shape) not in (2, 3):
        _fail(
            model,
            f"X must be 3-D (n_samples, n_timesteps, n_features) or a 2-D table, "
            f"got shape {shape}",
            "pass a sample of the data predict takes",
        )
    n_in = 1 if len(shape) == 2 else shape[2]
    if n_in is not None and n_in != n_features:
        _fail(
            model,
            f"X has {n_in} features per time step but the model was fitted with "
            f"{n_features}",
            "pass data with the layout used in fit",
        )
    table_fit = getattr(model, "_fitted_layout", None) == "table"
    if len(shape) == 2 and table_fit and shape[1] not in (None, model.n_features_in_):
        _fail(
            model,
            f"X has {shape[1]} columns but the model was fitted on a table of "
            f"{model.n_features_in_}",
            "pass a table with the columns seen in fit",
        )
    if len(shape) == 3 and shape[1] is not None:
        X.type = type(X.type)([shape[0], None, shape[2]])  # any sequence length
    if len(inputs) == 2 and not isinstance(inputs[1].type, Int64TensorType):
        _fail(
            model,
            f"the second input (lengths) must be int64, got {inputs[1].type}",
            "declare it as Int64TensorType([None])",
        )


def read_inputs(b, operator, dtype):
    """``(X as (N, T, F) in dtype, lengths or None)`` from a converter's inputs."""
    X = operator.inputs[0].full_name
    if input_dtype(operator.inputs[0]) != dtype:
        X = b.cast(X, dtype)
    if len(operator.inputs[0].type.shape) == 2:
        X = b.unsqueeze(X, 2)
    lengths = operator.inputs[1].full_name if len(operator.inputs) > 1 else None
    return X, lengths


def declare_output(scope, operator, name, var_type):
    var = scope.declare_local_variable(name, var_type)
    operator.outputs.append(var)
    return var


def lengths_type():
    return Int64TensorType([None])


def model_dtype(params):
    return next(iter(params.values())).dtype


def as_dtype(params, dtype):
    return {k: np.asarray(v, dtype=dtype) for k, v in params.items()}
