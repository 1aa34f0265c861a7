"""ONNX export: skl2onnx converters for the skrnn estimators and transformers.

Importing this module registers, with :func:`skl2onnx.update_registered_converter`,
a parser, a shape calculator and a converter for :class:`~skrnn.RNNRegressor`,
:class:`~skrnn.RNNClassifier`, :class:`~skrnn.Seq2SeqTransformer` and the
:mod:`skrnn.preprocessing` transformers, so that ``skl2onnx.to_onnx`` converts
them, alone or inside a :class:`~sklearn.pipeline.Pipeline`. Needs the ``onnx``
extra: ``pip install skrnn[onnx]``.
"""

try:
    import onnx  # noqa: F401
    import skl2onnx
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skrnn.onnx needs skl2onnx and onnx; install them with "
        "`pip install skrnn[onnx]` (which also brings onnxruntime)."
    ) from exc

from ._api import padded, to_onnx
from ._estimators import estimator_converters, no_shape_change
from ._preprocessing import transformer_converters

__all__ = ["padded", "register", "to_onnx"]


def register():
    """Register the skrnn converters with skl2onnx (done once, on import)."""
    for cls, alias, parser, converter, options in [
        *estimator_converters(),
        *transformer_converters(),
    ]:
        skl2onnx.update_registered_converter(
            cls,
            alias,
            no_shape_change,
            converter,
            overwrite=True,
            parser=parser,
            options=options,
        )


register()
