"""Recurrent neural networks as first-class scikit-learn estimators, in NumPy."""

from ._classifier import RNNClassifier
from ._config import config_context, get_config, set_config
from ._divergence import DivergenceError
from ._regressor import RNNRegressor
from ._seq2seq import Seq2SeqTransformer
from ._streaming import SequenceStream

__version__ = "0.1.0.dev0"

__all__ = [
    "DivergenceError",
    "RNNClassifier",
    "RNNRegressor",
    "SequenceStream",
    "Seq2SeqTransformer",
    "__version__",
    "config_context",
    "get_config",
    "set_config",
]
