"""Small ONNX graph builders: the converter's graph and the bodies of Scan loops."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

__all__ = ["BodyBuilder", "GraphBuilder", "OPSET", "onnx_dtype"]

#: Operator-set version the nodes are written against (RNN/LSTM/GRU 14 and the
#: input-form ``axes`` of Unsqueeze/Squeeze/ReduceSum from 13).
OPSET = 14

_ONNX_DTYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.bool_): TensorProto.BOOL,
}


def onnx_dtype(dtype):
    """The ``TensorProto`` element type of a NumPy dtype."""
    return _ONNX_DTYPES[np.dtype(dtype)]


class _Builder:
    """Shared node helpers; subclasses say how nodes and constants are stored.

    Every helper returns the name of the new value, so a graph reads like the
    NumPy it mirrors: ``b.op("Add", b.op("MatMul", x, w), bias)``. Floating
    constants are written in :attr:`dtype`, the dtype the graph computes in.
    """

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def op(self, op_type, *inputs, n_out=1, **attrs):
        outs = [self._name(op_type.lower()) for _ in range(n_out)]
        self._add(op_type, list(inputs), outs, attrs)
        return outs[0] if n_out == 1 else outs

    def const(self, value, dtype=None):
        """A constant; floats in the graph's dtype unless ``dtype`` is given."""
        value = np.asarray(value)
        if dtype is None:
            dtype = self.dtype if value.dtype.kind == "f" else np.int64
        return self._const(np.ascontiguousarray(value, dtype=dtype))

    def ints(self, *values):
        return self.const(np.array(values, np.int64))

    # ---------------------------------------------------------------- shortcuts
    def matmul_t(self, x, weight):
        """``x @ weight.T`` for a constant ``weight`` of shape (out, in)."""
        return self.op("MatMul", x, self.const(np.asarray(weight).T))

    def linear(self, x, weight, bias):
        return self.op("Add", self.matmul_t(x, weight), self.const(bias))

    def slice(self, x, start, end, axis, step=1):
        return self.op(
            "Slice", x, self.ints(start), self.ints(end), self.ints(axis),
            self.ints(step),
        )  # fmt: skip

    def cols(self, x, start, end):
        """``x[..., start:end]``."""
        return self.slice(x, start, end, -1)

    def sigmoid(self, x):
        return self.op("Sigmoid", x)

    def unsqueeze(self, x, *axes):
        return self.op("Unsqueeze", x, self.ints(*axes))

    def squeeze(self, x, *axes):
        return self.op("Squeeze", x, self.ints(*axes))

    def transpose(self, x, *perm):
        return self.op("Transpose", x, perm=list(perm))

    def cast(self, x, dtype):
        return self.op("Cast", x, to=onnx_dtype(dtype))

    def dim(self, x, axis):
        """``x.shape[axis]`` as a 1-element int64 tensor."""
        return self.op("Gather", self.op("Shape", x), self.ints(axis), axis=0)


class GraphBuilder(_Builder):
    """Writes into a skl2onnx ``scope`` / ``container`` (the converter's graph)."""

    def __init__(self, scope, container, dtype):
        super().__init__(dtype)
        self.scope, self.container = scope, container

    def _name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def _add(self, op_type, inputs, outputs, attrs):
        self.container.add_node(
            op_type,
            inputs,
            outputs,
            op_version=OPSET,
            name=self.scope.get_unique_operator_name(op_type),
            **attrs,
        )

    def _const(self, value):
        name = self._name("c")
        self.container.add_initializer(
            name, onnx_dtype(value.dtype), list(value.shape), value.ravel().tolist()
        )
        return name

    def identity(self, x, out):
        """Copy ``x`` into the declared output ``out``."""
        self._add("Identity", [x], [out], {})


class BodyBuilder(_Builder):
    """Collects the nodes of a subgraph (a Scan body); constants are nodes too."""

    _count = 0

    def __init__(self, dtype, prefix):
        super().__init__(dtype)
        BodyBuilder._count += 1
        self.prefix = f"{prefix}{BodyBuilder._count}_"
        self.nodes, self.n = [], 0

    def _name(self, hint):
        self.n += 1
        return f"{self.prefix}{hint}{self.n}"

    def _add(self, op_type, inputs, outputs, attrs):
        self.nodes.append(helper.make_node(op_type, inputs, outputs, **attrs))

    def _const(self, value):
        name = self._name("c")
        tensor = numpy_helper.from_array(value, name)
        self.nodes.append(helper.make_node("Constant", [], [name], value=tensor))
        return name

    def input(self, hint):
        return self._name(hint)

    def graph(self, inputs, outputs):
        """The body as a ``GraphProto``; ``inputs``/``outputs``: (name, dtype, rank)."""

        def info(name, dtype, rank):
            return helper.make_tensor_value_info(name, onnx_dtype(dtype), [None] * rank)

        return helper.make_graph(
            self.nodes,
            self.prefix + "body",
            [info(*v) for v in inputs],
            [info(*v) for v in outputs],
        )
